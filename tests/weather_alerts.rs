//! Weather, severe-weather alerts and the place search through a real server, against a local
//! stand-in for Open-Meteo and the NWS API: fetched only for subscribed cells, once per cell,
//! delivered only to that cell's streams, upstream failures, Retry-After and recovery, alerts
//! updated in place, cancelled and removed on one live stream and across server restarts, and
//! the geocoding proxy's cache, single flight and errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::hash::{Hash as _, Hasher as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use common::*;
use serde_json::{Value, json};

const FORECAST: &str = include_str!("fixtures/upstream/open-meteo-forecast.json");
const GEOCODING: &str = include_str!("fixtures/upstream/open-meteo-geocoding.json");

/// The upstream services, scripted.
#[derive(Clone, Default)]
struct Upstream {
    forecast_queries: Arc<Mutex<Vec<String>>>,
    forecast_times: Arc<Mutex<Vec<Instant>>>,
    forecast_fails: Arc<Mutex<bool>>,
    /// With `forecast_fails`: answer 429 with this `Retry-After` instead of 503.
    forecast_retry_after_secs: Arc<Mutex<Option<u64>>>,
    geocode_requests: Arc<AtomicUsize>,
    geocode_fails: Arc<Mutex<bool>>,
    geocode_delay: Arc<Mutex<Duration>>,
    alert_points: Arc<Mutex<Vec<String>>>,
    alerts: Arc<Mutex<Vec<Value>>>,
}

async fn serve_upstream(upstream: Upstream) -> String {
    let (a, b, c) = (upstream.clone(), upstream.clone(), upstream.clone());
    let router = Router::new()
        .route(
            "/v1/forecast",
            get(move |RawQuery(query): RawQuery| async move {
                a.forecast_queries
                    .lock()
                    .unwrap()
                    .push(query.unwrap_or_default());
                a.forecast_times.lock().unwrap().push(Instant::now());
                if *a.forecast_fails.lock().unwrap() {
                    if let Some(secs) = *a.forecast_retry_after_secs.lock().unwrap() {
                        return (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", secs.to_string())],
                            "slow down",
                        )
                            .into_response();
                    }
                    return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance")
                        .into_response();
                }
                ([("content-type", "application/json")], FORECAST).into_response()
            }),
        )
        .route(
            "/v1/search",
            get(move |RawQuery(query): RawQuery| async move {
                b.geocode_requests.fetch_add(1, Ordering::SeqCst);
                let delay = *b.geocode_delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                if *b.geocode_fails.lock().unwrap() {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
                }
                let query = query.unwrap_or_default();
                // Any spelling: searches differing only in case share one request.
                assert!(query.to_lowercase().contains("name=spring"), "{query}");
                ([("content-type", "application/json")], GEOCODING).into_response()
            }),
        )
        .route(
            "/alerts/active",
            get(
                move |RawQuery(query): RawQuery, headers: HeaderMap| async move {
                    c.alert_points
                        .lock()
                        .unwrap()
                        .push(query.unwrap_or_default());
                    let features = c.alerts.lock().unwrap().clone();
                    let body =
                        json!({"type": "FeatureCollection", "features": features}).to_string();
                    // Like api.weather.gov: an ETag, and 304 when the list did not change.
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    body.hash(&mut hasher);
                    let etag = format!("\"{:x}\"", hasher.finish());
                    if headers
                        .get("if-none-match")
                        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
                    {
                        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
                    }
                    (
                        [
                            ("content-type", "application/geo+json".to_owned()),
                            ("etag", etag),
                        ],
                        body,
                    )
                        .into_response()
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn config(upstream: &str) -> String {
    config_with(upstream, "", "", "")
}

/// The test line-up with extra `[weather]` and `[alerts]` settings and extra tables.
fn config_with(upstream: &str, weather: &str, alerts: &str, extra: &str) -> String {
    format!(
        "[ingest]\nenabled = true\n\n\
         [weather]\nforecast_url = \"{upstream}\"\ngeocoding_url = \"{upstream}/\"\n{weather}\n\
         [alerts]\nnws_url = \"{upstream}\"\n{alerts}\n{extra}\n\
         [[channels]]\nid = \"world\"\ntitle = \"World\"\n\n\
         [[channels]]\nid = \"weather\"\ntitle = \"Weather\"\nkind = \"weather\"\n\n\
         [[channels]]\nid = \"alerts\"\ntitle = \"Alerts\"\nkind = \"alerts\"\n"
    )
}

/// An NWS alert feature.
fn nws_alert(id: &str, kind: &str, vtec: &str, references: &[&str], headline: &str) -> Value {
    let sent = chrono::Utc::now() - chrono::Duration::minutes(5);
    let ends = chrono::Utc::now() + chrono::Duration::hours(2);
    json!({
        "id": format!("https://api.weather.gov/alerts/{id}"),
        "type": "Feature",
        "properties": {
            "id": id,
            "areaDesc": "Jackson, MO",
            "sent": sent.to_rfc3339(),
            "effective": sent.to_rfc3339(),
            "onset": sent.to_rfc3339(),
            "expires": ends.to_rfc3339(),
            "ends": ends.to_rfc3339(),
            "status": "Actual",
            "messageType": kind,
            "severity": "Severe",
            "urgency": "Immediate",
            "event": "Severe Thunderstorm Warning",
            "senderName": "NWS Kansas City/Pleasant Hill MO",
            "headline": headline,
            "description": "A severe thunderstorm was located near\nKansas City.",
            "instruction": "Move to an interior room.",
            "references": references.iter().map(|r| json!({"identifier": r, "sent": sent.to_rfc3339()})).collect::<Vec<_>>(),
            "parameters": {"VTEC": [vtec]}
        }
    })
}

/// The alert and retract events that arrive within `wait`.
async fn alerts_within(client: &mut SseClient, wait: Duration) -> Vec<SseEvent> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut found = Vec::new();
    while let Some(event) = client
        .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if event.event == "alert" || event.event == "retract" {
            found.push(event);
        }
    }
    found
}

fn weather_events(events: &[SseEvent]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event == "weather")
        .map(SseEvent::json)
        .collect()
}

#[tokio::test]
async fn weather_is_fetched_once_per_subscribed_cell_and_reaches_only_that_cell() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config(&base)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        upstream.forecast_queries.lock().unwrap().is_empty(),
        "no subscriber, no fetch"
    );

    let mut berlin = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.5200,13.4050",
        None,
    )
    .await;
    let event = berlin.until(|e| e.event == "weather").await.pop().unwrap();
    let report = event.json();
    assert_eq!(report["cell"], "52.5,13.4");
    assert_eq!(report["channel"], "weather");
    assert_eq!(report["current"]["temperature"], 3.4);
    assert_eq!(report["current"]["condition"]["label"], "Light rain");
    assert_eq!(report["current"]["condition"]["icon"], "rain");
    assert_eq!(report["units"]["temperature"], "°C");
    assert_eq!(report["daily"].as_array().unwrap().len(), 5);
    assert_eq!(report["daily"][3]["condition"]["icon"], "snow");
    assert_eq!(report["daily"][0]["precipitation_chance_percent"], 80.0);
    {
        let queries = upstream.forecast_queries.lock().unwrap();
        assert_eq!(queries.len(), 1);
        // Only the rounded cell leaves the server, never the subscriber's exact position.
        assert!(
            queries[0].starts_with("latitude=52.5&longitude=13.4&"),
            "{}",
            queries[0]
        );
    }

    // A neighbour in the same cell gets the stored report at once, with no new request.
    let mut neighbour = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.48,13.36",
        None,
    )
    .await;
    let snapshot = neighbour.until(|e| e.event == "weather").await;
    assert_eq!(weather_events(&snapshot)[0]["cell"], "52.5,13.4");
    assert_eq!(upstream.forecast_queries.lock().unwrap().len(), 1);

    // Another cell costs one more request, and its report does not reach Berlin.
    let mut paris = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=48.8566,2.3522",
        None,
    )
    .await;
    let event = paris.until(|e| e.event == "weather").await.pop().unwrap();
    assert_eq!(event.json()["cell"], "48.9,2.4");
    assert_eq!(upstream.forecast_queries.lock().unwrap().len(), 2);
    assert!(
        berlin
            .next_within(Duration::from_millis(500))
            .await
            .is_none(),
        "Paris weather leaked to a Berlin stream"
    );

    // After a restart the stored reports are still fresh: nothing is fetched again.
    let (_, dir) = server.stop().await;
    let server = TestServer::start_in(dir, &config(&base)).await;
    let mut again = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.52,13.40",
        None,
    )
    .await;
    again.until(|e| e.event == "weather").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(upstream.forecast_queries.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn one_stream_follows_several_places_with_their_weather_hours_and_alerts() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    *upstream.alerts.lock().unwrap() = vec![nws_alert(
        "urn:oid:kc.2",
        "Alert",
        "/O.NEW.KEAX.SV.W.0046.260615T2245Z-260615T2330Z/",
        &[],
        "Severe Thunderstorm Warning until 6:30PM",
    )];
    let server = TestServer::start(&config(&base)).await;
    // Berlin, Kansas City, and a Berlin suburb in the same cell (one report, not two).
    let mut desk = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather,alerts&weather=52.5200,13.4050;39.0997,-94.5786;52.48,13.36",
        None,
    )
    .await;
    let mut seen = Vec::new();
    while weather_events(&seen).len() < 2 || !seen.iter().any(|e| e.event == "alert") {
        seen.push(desk.next().await);
    }
    let reports = weather_events(&seen);
    let mut cells: Vec<&str> = reports
        .iter()
        .map(|r| r["cell"].as_str().unwrap())
        .collect();
    cells.sort_unstable();
    assert_eq!(cells, ["39.1,-94.6", "52.5,13.4"]);
    assert_eq!(upstream.forecast_queries.lock().unwrap().len(), 2);
    // Every place's cell is watched for severe weather; only the US one asks the NWS.
    assert_eq!(
        upstream.alert_points.lock().unwrap().as_slice(),
        ["point=39.1,-94.6"]
    );
    let alert = seen.iter().find(|e| e.event == "alert").unwrap().json();
    assert_eq!(alert["key"], "@39.1,-94.6:nws:KEAX.SV.W.0046");

    // The next 48 hours ride along, from the current hour, in UTC with the cell's offset.
    let report = &reports[0];
    let hourly = report["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 48);
    assert_eq!(hourly[0]["time"], "2026-11-27T08:00:00Z");
    assert_eq!(hourly[0]["temperature"], 2.2);
    assert_eq!(hourly[3]["precipitation_chance_percent"], 80.0);
    assert_eq!(hourly[0]["condition"]["icon"], "rain");
    assert_eq!(hourly[47]["time"], "2026-11-29T07:00:00Z");
    assert_eq!(report["utc_offset_seconds"], 3600);
    let query = upstream.forecast_queries.lock().unwrap()[0].clone();
    assert!(query.contains("forecast_hours=48"), "{query}");
    assert!(
        query.contains("hourly=temperature_2m,precipitation_probability,weather_code"),
        "{query}"
    );

    // Eight places at most, with a clear answer past that.
    let nine: Vec<String> = (0..9).map(|i| format!("{}.0,10.0", 40 + i)).collect();
    let response = reqwest::get(format!(
        "{}/v1/stream?weather={}",
        server.base,
        nine.join(";")
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_parameter");
    assert_eq!(
        body["error"]["message"],
        "weather names 9 places; a stream may follow at most 8"
    );
}

#[tokio::test]
async fn a_failing_weather_service_shows_in_the_channel_health() {
    let upstream = Upstream::default();
    *upstream.forecast_fails.lock().unwrap() = true;
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config(&base)).await;
    let mut client = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.52,13.40",
        None,
    )
    .await;
    let events = client
        .until(|e| e.event == "channel" && e.json()["health"]["status"] == "failing")
        .await;
    let health = &events.last().unwrap().json()["health"];
    let message = health["message"].as_str().unwrap();
    assert!(message.contains("weather for 52.5,13.4"), "{message}");
    assert!(message.contains("503"), "{message}");
    let weather = catalog_channel(&server.base, "weather").await;
    assert_eq!(weather["health"]["status"], "failing");
}

#[tokio::test]
async fn nws_alerts_live_update_cancel_and_go_and_stay_in_their_cell() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    *upstream.alerts.lock().unwrap() = vec![nws_alert(
        "urn:oid:kc.1",
        "Alert",
        "/O.NEW.KEAX.SV.W.0045.260615T2245Z-260615T2330Z/",
        &[],
        "Severe Thunderstorm Warning until 6:30PM",
    )];
    let server = TestServer::start(&config(&base)).await;
    let kansas_city = "/v1/stream?channels=alerts&weather=39.0997,-94.5786";
    let mut client = SseClient::connect(&server.base, kansas_city, None).await;
    let alert = client.until(|e| e.event == "alert").await.pop().unwrap();
    let data = alert.json();
    assert_eq!(data["key"], "@39.1,-94.6:nws:KEAX.SV.W.0045");
    assert_eq!(data["status"], "active");
    assert_eq!(data["severity"], "warning");
    assert_eq!(
        data["body"],
        "A severe thunderstorm was located near Kansas City."
    );
    assert_eq!(
        upstream.alert_points.lock().unwrap().as_slice(),
        ["point=39.1,-94.6"]
    );

    // Berlin's desk: no request to the NWS (outside its area) and no Kansas City alert.
    let mut berlin = SseClient::connect(
        &server.base,
        "/v1/stream?channels=alerts&weather=52.52,13.40",
        None,
    )
    .await;
    assert!(
        alerts_within(&mut berlin, Duration::from_millis(700))
            .await
            .is_empty()
    );
    assert_eq!(upstream.alert_points.lock().unwrap().len(), 1);
    // A stream that gave no location does not get location-scoped alerts either.
    let mut anywhere = SseClient::connect(&server.base, "/v1/stream?channels=alerts", None).await;
    assert!(
        alerts_within(&mut anywhere, Duration::from_millis(300))
            .await
            .is_empty()
    );

    // The next poll (here: after a restart) sees an update: same key, updated in place.
    let mut last_id = alert.id.clone();
    let steps: [(Vec<Value>, &str); 3] = [
        (
            vec![nws_alert(
                "urn:oid:kc.2",
                "Update",
                "/O.CON.KEAX.SV.W.0045.000000T0000Z-260615T2330Z/",
                &["urn:oid:kc.1"],
                "Warning remains in effect until 6:30PM",
            )],
            "updated",
        ),
        (
            vec![nws_alert(
                "urn:oid:kc.3",
                "Cancel",
                "/O.CAN.KEAX.SV.W.0045.000000T0000Z-260615T2330Z/",
                &["urn:oid:kc.2"],
                "The warning is cancelled",
            )],
            "cancelled",
        ),
        (Vec::new(), "retract"),
    ];
    let mut server = server;
    for (features, expected) in steps {
        *upstream.alerts.lock().unwrap() = features;
        let (_, dir) = server.stop().await;
        server = TestServer::start_in(dir, &config(&base)).await;
        let mut client = SseClient::connect(&server.base, kansas_city, Some(&last_id)).await;
        let event = client
            .until(|e| e.event == "alert" || e.event == "retract")
            .await
            .pop()
            .unwrap();
        let data = event.json();
        assert_eq!(data["key"], "@39.1,-94.6:nws:KEAX.SV.W.0045", "{expected}");
        if expected == "retract" {
            assert_eq!(event.event, "retract");
            assert_eq!(data["reason"], "no longer in effect");
        } else {
            assert_eq!(event.event, "alert");
            assert_eq!(data["status"], expected);
        }
        last_id = event.id.clone();
        assert!(
            alerts_within(&mut client, Duration::from_millis(400))
                .await
                .is_empty(),
            "one event per step"
        );
    }
    let items = get_json(&format!("{}/v1/channels/alerts/items", server.base)).await;
    assert_eq!(
        items["items"].as_array().unwrap().len(),
        0,
        "nothing stale stays"
    );
}

#[tokio::test]
async fn the_place_search_is_proxied_cached_and_checked() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config(&base)).await;
    let answer = get_json(&format!("{}/v1/geocode?q=Spring&count=3", server.base)).await;
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[1]["name"], "Springfield");
    assert_eq!(results[1]["region"], "Missouri");
    assert_eq!(results[1]["country_code"], "US");
    assert_eq!(results[1]["timezone"], "America/Chicago");
    assert_eq!(results[1]["latitude"], 37.21533);
    // Same search, other spelling and spacing: answered from the cache.
    let again = get_json(&format!(
        "{}/v1/geocode?q=%20spring%20&count=3",
        server.base
    ))
    .await;
    assert_eq!(again, answer);
    assert_eq!(upstream.geocode_requests.load(Ordering::SeqCst), 1);
    // One letter is too little to search for.
    let short = get_json(&format!("{}/v1/geocode?q=S", server.base)).await;
    assert_eq!(short, json!({"results": []}));
    assert_eq!(upstream.geocode_requests.load(Ordering::SeqCst), 1);

    let client = reqwest::Client::new();
    for (query, status, code) in [
        ("", 400, "invalid_parameter"),
        ("?q=%20", 400, "invalid_parameter"),
        ("?q=Spring&count=0", 400, "invalid_parameter"),
        ("?q=Spring&count=21", 400, "invalid_parameter"),
        ("?q=Spring&language=english", 400, "invalid_parameter"),
    ] {
        let response = client
            .get(format!("{}/v1/geocode{query}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{query}");
    }
    let long = "x".repeat(101);
    let response = client
        .get(format!("{}/v1/geocode?q={long}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    *upstream.geocode_fails.lock().unwrap() = true;
    let response = client
        .get(format!("{}/v1/geocode?q=Springs", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_failed");
    assert!(body["error"]["message"].as_str().unwrap().contains("500"));
}

/// `nws_alert` for a product without VTEC: chained only by its CAP references.
fn nws_statement(id: &str, kind: &str, references: &[&str], headline: &str) -> Value {
    let mut feature = nws_alert(id, kind, "", references, headline);
    feature["properties"]["parameters"] = json!({});
    feature["properties"]["event"] = json!("Special Weather Statement");
    feature
}

/// `/metrics` until it reports no open stream.
async fn until_no_subscribers(base: &str) {
    let deadline = Instant::now() + WAIT;
    while !metrics(base)
        .await
        .lines()
        .any(|line| line == "tidings_subscribers_connected 0")
    {
        assert!(Instant::now() < deadline, "the stream never closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn weather_retry_after_is_obeyed() {
    let upstream = Upstream::default();
    *upstream.forecast_fails.lock().unwrap() = true;
    *upstream.forecast_retry_after_secs.lock().unwrap() = Some(3);
    let base = serve_upstream(upstream.clone()).await;
    // Without Retry-After the next try would come after the 1 s refresh interval.
    let server = TestServer::start(&config_with(&base, "refresh_secs = 1\n", "", "")).await;
    let _client = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.52,13.40",
        None,
    )
    .await;
    let deadline = Instant::now() + WAIT * 2;
    while upstream.forecast_times.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "no retry at all");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let times = upstream.forecast_times.lock().unwrap().clone();
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(2_900),
        "retried after {gap:?} despite Retry-After: 3"
    );
}

#[tokio::test]
async fn a_weather_cell_recovers_from_a_failing_upstream_with_a_fresh_report() {
    let upstream = Upstream::default();
    *upstream.forecast_fails.lock().unwrap() = true;
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config_with(&base, "refresh_secs = 1\n", "", "")).await;
    let mut client = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.52,13.40",
        None,
    )
    .await;
    let seen = client
        .until(|e| e.event == "channel" && e.json()["health"]["status"] == "failing")
        .await;
    assert!(weather_events(&seen).is_empty(), "no report while failing");

    *upstream.forecast_fails.lock().unwrap() = false;
    let mut report = None;
    let mut healthy = false;
    while report.is_none() || !healthy {
        let event = client.next().await;
        match event.event.as_str() {
            "weather" => {
                assert!(report.is_none(), "one fresh report, not several");
                report = Some(event.json());
            }
            "channel" if event.json()["id"] == "weather" => {
                let status = event.json()["health"]["status"].clone();
                healthy = status == "ok";
                assert!(healthy || report.is_none(), "{status} after the report");
            }
            _ => {}
        }
    }
    let report = report.unwrap();
    assert_eq!(report["cell"], "52.5,13.4");
    assert_eq!(report["current"]["temperature"], 3.4);
    let weather = catalog_channel(&server.base, "weather").await;
    assert_eq!(weather["health"]["status"], "ok");
}

#[tokio::test]
async fn a_cell_nobody_subscribes_to_any_more_is_not_fetched() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config_with(
        &base,
        "refresh_secs = 1\n",
        "",
        "[stream]\nheartbeat_secs = 1\n",
    ))
    .await;
    let mut client = SseClient::connect(
        &server.base,
        "/v1/stream?channels=weather&weather=52.52,13.40",
        None,
    )
    .await;
    client.until(|e| e.event == "weather").await;
    // Refreshed every second while watched.
    let deadline = Instant::now() + WAIT * 2;
    while upstream.forecast_queries.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "the cell is not refreshed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(client);
    until_no_subscribers(&server.base).await;
    let fetched = upstream.forecast_queries.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = upstream.forecast_queries.lock().unwrap().len();
    // One request may have been on its way when the stream closed; not five more.
    assert!(
        later <= fetched + 1,
        "{} fetches for a cell nobody watches",
        later - fetched
    );
}

#[tokio::test]
async fn one_live_stream_sees_an_alert_appear_update_cancel_go_and_another_expire() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config_with(
        &base,
        "",
        "refresh_secs = 1\ncancelled_linger_secs = 2\n",
        "",
    ))
    .await;
    let key = "@39.1,-94.6:nws:KEAX.SV.W.0045";
    let set = |features: Vec<Value>| *upstream.alerts.lock().unwrap() = features;
    set(vec![nws_alert(
        "urn:oid:kc.1",
        "Alert",
        "/O.NEW.KEAX.SV.W.0045.260615T2245Z-260615T2330Z/",
        &[],
        "Severe Thunderstorm Warning until 6:30PM",
    )]);
    let mut client = SseClient::connect(
        &server.base,
        "/v1/stream?channels=alerts&weather=39.0997,-94.5786",
        None,
    )
    .await;
    let mut seen = Vec::new();
    let mut next_alert = async |seen: &mut Vec<SseEvent>| {
        let event = client
            .until(|e| e.event == "alert" || e.event == "retract")
            .await
            .pop()
            .unwrap();
        seen.push(event.clone());
        event
    };

    let appeared = next_alert(&mut seen).await;
    assert_eq!(
        (
            appeared.json()["key"].as_str(),
            appeared.json()["status"].as_str()
        ),
        (Some(key), Some("active"))
    );

    set(vec![nws_alert(
        "urn:oid:kc.2",
        "Update",
        "/O.CON.KEAX.SV.W.0045.000000T0000Z-260615T2330Z/",
        &["urn:oid:kc.1"],
        "Warning remains in effect until 6:30PM",
    )]);
    let updated = next_alert(&mut seen).await.json();
    assert_eq!(
        (updated["key"].as_str(), updated["status"].as_str()),
        (Some(key), Some("updated"))
    );
    assert_eq!(updated["title"], "Warning remains in effect until 6:30PM");
    assert_eq!(updated["published"], appeared.json()["published"]);

    let cancel = nws_alert(
        "urn:oid:kc.3",
        "Cancel",
        "/O.CAN.KEAX.SV.W.0045.000000T0000Z-260615T2330Z/",
        &["urn:oid:kc.2"],
        "The warning is cancelled",
    );
    set(vec![cancel.clone()]);
    let cancelled = next_alert(&mut seen).await.json();
    assert_eq!(
        (cancelled["key"].as_str(), cancelled["status"].as_str()),
        (Some(key), Some("cancelled"))
    );
    // Shown as cancelled for the linger (2 s here), then removed by the expiry sweep, although
    // the NWS still lists the cancel.
    let gone = next_alert(&mut seen).await;
    assert_eq!(gone.event, "retract");
    assert_eq!(
        (gone.json()["key"].as_str(), gone.json()["reason"].as_str()),
        (Some(key), Some("expired"))
    );

    // A second alert ending in a few seconds, while the cancel stays listed. The NWS answers
    // 304 until the list changes, so only the server's expiry sweep can remove it.
    let mut brief = nws_alert(
        "urn:oid:kc.9",
        "Alert",
        "/O.NEW.KEAX.FA.W.0002.260615T2245Z-260615T2330Z/",
        &[],
        "Flash Flood Warning for a few seconds",
    );
    let ends = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    brief["properties"]["expires"] = json!(ends);
    brief["properties"]["ends"] = json!(ends);
    set(vec![cancel, brief]);
    let brief_key = "@39.1,-94.6:nws:KEAX.FA.W.0002";
    let appeared = next_alert(&mut seen).await.json();
    assert_eq!(
        (appeared["key"].as_str(), appeared["status"].as_str()),
        (Some(brief_key), Some("active")),
        "the cancelled alert must not come back"
    );
    let expired = next_alert(&mut seen).await;
    assert_eq!(expired.event, "retract");
    assert_eq!(
        (
            expired.json()["key"].as_str(),
            expired.json()["reason"].as_str()
        ),
        (Some(brief_key), Some("expired"))
    );

    // Each step exactly once: nothing more arrives.
    assert!(
        alerts_within(&mut client, Duration::from_secs(2))
            .await
            .is_empty(),
        "after {seen:?}"
    );
    let items = get_json(&format!("{}/v1/channels/alerts/items", server.base)).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_cap_chain_without_vtec_keeps_its_key_across_a_restart() {
    let upstream = Upstream::default();
    let base = serve_upstream(upstream.clone()).await;
    *upstream.alerts.lock().unwrap() = vec![nws_statement(
        "urn:oid:sps.1",
        "Alert",
        &[],
        "Special Weather Statement",
    )];
    let cell = "/v1/stream?channels=alerts&weather=39.0997,-94.5786";
    let server = TestServer::start(&config(&base)).await;
    let mut client = SseClient::connect(&server.base, cell, None).await;
    let first = client.until(|e| e.event == "alert").await.pop().unwrap();
    let key = "@39.1,-94.6:nws:urn:oid:sps.1";
    assert_eq!(first.json()["key"], key);
    drop(client);

    // The second message (here: after one restart) updates it, the third after another.
    let mut last_id = first.id.clone();
    let mut server = server;
    for (id, previous, title) in [
        ("urn:oid:sps.2", "urn:oid:sps.1", "Statement updated"),
        ("urn:oid:sps.3", "urn:oid:sps.2", "Statement updated again"),
    ] {
        *upstream.alerts.lock().unwrap() = vec![nws_statement(id, "Update", &[previous], title)];
        let (_, dir) = server.stop().await;
        server = TestServer::start_in(dir, &config(&base)).await;
        let mut client = SseClient::connect(&server.base, cell, Some(&last_id)).await;
        let event = client
            .until(|e| e.event == "alert" || e.event == "retract")
            .await
            .pop()
            .unwrap();
        assert_eq!(event.event, "alert", "{title}: {:?}", event.json());
        let data = event.json();
        assert_eq!(
            (data["key"].as_str(), data["status"].as_str()),
            (Some(key), Some("updated")),
            "{title}"
        );
        assert_eq!(data["title"], title);
        last_id = event.id.clone();
        assert!(
            alerts_within(&mut client, Duration::from_millis(500))
                .await
                .is_empty(),
            "an update, not a retract plus a new alert"
        );
    }
    let items = get_json(&format!("{}/v1/channels/alerts/items", server.base)).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn identical_place_searches_in_flight_share_one_upstream_request() {
    let upstream = Upstream::default();
    // Slow enough that every search below arrives while the first is still upstream.
    *upstream.geocode_delay.lock().unwrap() = Duration::from_millis(800);
    let base = serve_upstream(upstream.clone()).await;
    let server = TestServer::start(&config(&base)).await;
    let searches: Vec<_> = (0..8)
        .map(|n| {
            let url = if n % 2 == 0 {
                format!("{}/v1/geocode?q=Spring&count=3", server.base)
            } else {
                format!("{}/v1/geocode?q=%20SPRING&count=3", server.base)
            };
            tokio::spawn(async move { get_json(&url).await })
        })
        .collect();
    let mut answers = Vec::new();
    for search in searches {
        answers.push(search.await.unwrap());
    }
    assert_eq!(answers[0]["results"].as_array().unwrap().len(), 3);
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(upstream.geocode_requests.load(Ordering::SeqCst), 1);

    // A failure is shared by the searches waiting for it, but not cached.
    *upstream.geocode_fails.lock().unwrap() = true;
    let client = reqwest::Client::new();
    let statuses: Vec<_> = (0..4)
        .map(|_| {
            let request = client
                .get(format!("{}/v1/geocode?q=Springs", server.base))
                .send();
            tokio::spawn(async move { request.await.unwrap().status().as_u16() })
        })
        .collect();
    for status in statuses {
        assert_eq!(status.await.unwrap(), 502);
    }
    assert_eq!(upstream.geocode_requests.load(Ordering::SeqCst), 2);
    *upstream.geocode_fails.lock().unwrap() = false;
    let answer = get_json(&format!("{}/v1/geocode?q=Springs", server.base)).await;
    assert!(answer["results"].is_array());
    assert_eq!(upstream.geocode_requests.load(Ordering::SeqCst), 3);
}
