//! Weather, severe-weather alerts and the place search through a real server, against a local
//! stand-in for Open-Meteo and the NWS API: fetched only for subscribed cells, once per cell,
//! delivered only to that cell's streams, alerts updated in place, cancelled and removed across
//! server restarts, and the geocoding proxy's cache and errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::RawQuery;
use axum::http::StatusCode;
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
    forecast_fails: Arc<Mutex<bool>>,
    geocode_requests: Arc<AtomicUsize>,
    geocode_fails: Arc<Mutex<bool>>,
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
                if *a.forecast_fails.lock().unwrap() {
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
                if *b.geocode_fails.lock().unwrap() {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
                }
                let query = query.unwrap_or_default();
                assert!(query.contains("name=Spring"), "{query}");
                ([("content-type", "application/json")], GEOCODING).into_response()
            }),
        )
        .route(
            "/alerts/active",
            get(move |RawQuery(query): RawQuery| async move {
                c.alert_points
                    .lock()
                    .unwrap()
                    .push(query.unwrap_or_default());
                let features = c.alerts.lock().unwrap().clone();
                (
                    [("content-type", "application/geo+json")],
                    json!({"type": "FeatureCollection", "features": features}).to_string(),
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn config(upstream: &str) -> String {
    format!(
        "[ingest]\nenabled = true\n\n\
         [weather]\nforecast_url = \"{upstream}\"\ngeocoding_url = \"{upstream}/\"\n\n\
         [alerts]\nnws_url = \"{upstream}\"\n\n\
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
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    let weather = catalog["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "weather")
        .unwrap()
        .clone();
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
