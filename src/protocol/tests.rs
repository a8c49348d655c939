//! Round-trip and tolerance tests for the wire types.

use chrono::{TimeZone, Utc};

use super::*;

fn channel(id: &str) -> ChannelId {
    ChannelId::new(id).unwrap()
}

fn key(text: &str) -> ItemKey {
    ItemKey::new(text).unwrap()
}

fn sample_events() -> Vec<Event> {
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 0).unwrap();
    let condition = Condition {
        code: 2,
        label: "Partly cloudy".into(),
        icon: "partly-cloudy".into(),
    };
    vec![
        Event::Item(Item {
            channel: channel("world"),
            key: key("a1"),
            title: "Line one\r\nline two\rthree\nfour".into(),
            body: Some("  spaced  \n\n".into()),
            link: Some("https://example.org/a".into()),
            source: Some("Example".into()),
            image: None,
            severity: Severity::Notice,
            published: at,
            updated: at,
            expires: Some(at),
        }),
        Event::Alert(Alert {
            channel: channel("alerts"),
            key: key("storm-1"),
            status: AlertStatus::Updated,
            severity: Severity::Critical,
            title: "Storm".into(),
            event: Some("Severe Thunderstorm Warning".into()),
            body: Some("Hail.".into()),
            instruction: Some("Stay inside.".into()),
            area: Some("Travis County".into()),
            link: None,
            source: Some("NWS".into()),
            onset: Some(at),
            published: at,
            updated: at,
            expires: None,
        }),
        Event::Weather(WeatherReport {
            channel: channel("weather"),
            cell: "52.5,13.4".into(),
            place: Some("Berlin".into()),
            observed: at,
            units: WeatherUnits::default(),
            current: CurrentWeather {
                temperature: 3.5,
                apparent_temperature: -0.2,
                condition: condition.clone(),
                wind_speed: 14.0,
                wind_direction_deg: Some(250.0),
                humidity_percent: 81.0,
                is_day: true,
            },
            daily: vec![DailyForecast {
                date: at.date_naive(),
                high: 5.0,
                low: -1.0,
                condition: condition.clone(),
                precipitation_chance_percent: Some(40.0),
            }],
            hourly: vec![
                HourlyForecast {
                    time: at,
                    temperature: 3.5,
                    precipitation_chance_percent: Some(40.0),
                    condition,
                    is_day: true,
                },
                HourlyForecast {
                    time: at + chrono::Duration::hours(1),
                    temperature: 3.1,
                    precipitation_chance_percent: None,
                    condition: Condition {
                        code: 0,
                        label: "Clear sky".into(),
                        icon: "clear-night".into(),
                    },
                    is_day: false,
                },
            ],
            utc_offset_seconds: Some(3600),
        }),
        Event::Retract(Retract {
            channel: channel("world"),
            key: key("a1"),
            kind: RetractKind::Item,
            reason: Some("expired".into()),
        }),
        Event::Channel(ChannelInfo {
            id: channel("world"),
            title: "World".into(),
            description: "Headlines".into(),
            colour: "#c0392b".into(),
            kind: ChannelKind::News,
            health: Health {
                status: HealthStatus::Degraded,
                message: Some("1 of 2 sources failing".into()),
            },
            updated: Some(at),
            removed: false,
        }),
        Event::Gap(Gap {
            requested: EventId::new(1, 0),
            oldest: Some(EventId::new(5, 2)),
            reason: "history pruned".into(),
        }),
    ]
}

#[test]
fn every_event_type_round_trips() {
    for event in sample_events() {
        let json = event.to_json();
        assert!(!json.contains('\n') && !json.contains('\r'), "{json}");
        let back = Event::decode(event.name(), &json).unwrap().unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn unknown_event_names_are_skipped() {
    assert!(Event::decode("poll", "{\"x\":1}").unwrap().is_none());
}

#[test]
fn unknown_fields_are_ignored_and_optional_fields_default() {
    let json = r#"{"channel":"world","key":"k","title":"T","published":"2026-01-01T00:00:00Z",
        "updated":"2026-01-01T00:00:00Z","future_field":{"nested":[1,2]}}"#;
    let Some(Event::Item(item)) = Event::decode("item", json).unwrap() else {
        panic!("not an item");
    };
    assert_eq!(item.severity, Severity::Info);
    assert_eq!(item.body, None);
    let info: ChannelInfo = serde_json::from_str(r#"{"id":"x","title":"X","extra":true}"#).unwrap();
    assert_eq!(info.kind, ChannelKind::News);
    assert_eq!(info.health.status, HealthStatus::Ok);
}

#[test]
fn weather_from_a_server_without_hours_decodes_and_hours_are_written_only_when_known() {
    // A report as servers sent it before the hourly forecast.
    let old = r#"{"channel":"weather","cell":"44.6,-67.2","observed":"2026-11-27T05:00:00Z",
        "current":{"temperature":7.6,"apparent_temperature":4.3,"condition":{"code":2,
        "label":"Partly cloudy","icon":"partly-cloudy"},"wind_speed":18.2,"humidity_percent":76.0},
        "daily":[]}"#;
    let Some(Event::Weather(report)) = Event::decode("weather", old).unwrap() else {
        panic!("not weather");
    };
    assert!(report.hourly.is_empty());
    assert_eq!(report.utc_offset_seconds, None);
    let json = Event::Weather(report.clone()).to_json();
    assert!(
        !json.contains("hourly") && !json.contains("utc_offset"),
        "{json}"
    );
    // An hour without `is_day` is a day hour, like `current`.
    let hour: HourlyForecast = serde_json::from_str(
        r#"{"time":"2026-11-27T06:00:00Z","temperature":7.1,"condition":{"code":61,
        "label":"Light rain","icon":"rain"}}"#,
    )
    .unwrap();
    assert!(hour.is_day);
    assert_eq!(hour.precipitation_chance_percent, None);
}

#[test]
fn cells_round_to_a_tenth_without_negative_zero() {
    assert_eq!(weather_cell(52.5200, 13.4050), "52.5,13.4");
    assert_eq!(weather_cell(-33.87, 151.21), "-33.9,151.2");
    assert_eq!(weather_cell(-0.04, 0.01), "0.0,0.0");
    assert_eq!(weather_cell(44.61, -67.22), "44.6,-67.2");
}

#[test]
fn malformed_known_event_is_an_error_naming_the_event() {
    let error = Event::decode("item", "{\"title\":1}").unwrap_err();
    assert!(error.to_string().starts_with("malformed item event"));
}

#[test]
fn frames_are_well_formed() {
    let frame = event_frame(EventId::new(12, 3), "item", "{\"a\":\"x\\r\\ny\"}");
    assert_eq!(
        &frame[..],
        b"id: 12-3\nevent: item\ndata: {\"a\":\"x\\r\\ny\"}\n\n"
    );
    // Pretty-printed JSON is flattened so the frame stays one data line.
    let frame = event_frame(EventId::new(1, 0), "gap", "{\n  \"a\": 1\r\n}");
    assert_eq!(&frame[..], b"id: 1-0\nevent: gap\ndata: {  \"a\": 1}\n\n");
    assert_eq!(&id_only_frame(EventId::new(9, 9))[..], b"id: 9-9\n\n");
    assert_eq!(&comment_frame("a\nb")[..], b": a b\n\n");
    assert_eq!(&retry_field(3000)[..], b"retry: 3000\n");
}

#[test]
fn publish_request_accepts_minimal_and_full_forms() {
    let minimal: PublishRequest = serde_json::from_str(r#"{"title":"Hi"}"#).unwrap();
    assert_eq!(minimal.title, "Hi");
    let full: PublishRequest = serde_json::from_str(
        r#"{"title":"T","body":"B","link":"https://x.org","severity":"critical","key":"k1",
            "expires":"2030-01-01T00:00:00Z","status":"cancelled","area":"A","instruction":"I"}"#,
    )
    .unwrap();
    assert_eq!(full.severity, Some(Severity::Critical));
    assert_eq!(full.status, Some(AlertStatus::Cancelled));
    let round: PublishRequest =
        serde_json::from_str(&serde_json::to_string(&full).unwrap()).unwrap();
    assert_eq!(round, full);
}

#[test]
fn enumeration_values_from_a_newer_protocol_decode_leniently() {
    let json = r#"{"channel":"a","key":"k","title":"T","severity":"apocalyptic",
        "published":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z"}"#;
    let Some(Event::Item(item)) = Event::decode("item", json).unwrap() else {
        panic!("not an item");
    };
    assert_eq!(
        item.severity,
        Severity::Warning,
        "unknown severities err towards attention"
    );
    let info: ChannelInfo = serde_json::from_str(
        r#"{"id":"x","title":"X","kind":"video","health":{"status":"melting"}}"#,
    )
    .unwrap();
    assert_eq!(
        (info.kind, info.health.status),
        (ChannelKind::News, HealthStatus::Degraded)
    );
    // Strict parsing is still there for input that must be validated.
    assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
    assert_eq!(Severity::parse("Critical"), None);
    assert_eq!(Severity::ALL, ["info", "notice", "warning", "critical"]);
}
