//! The publish, retract and read APIs over real HTTP: every error status with its JSON body,
//! updates by key, alerts' lifecycle, expiry, health and metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn post_raw(
    base: &str,
    channel: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/v1/channels/{channel}/items"))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_publish_error_has_its_status_and_a_json_error() {
    let server = TestServer::start("[limits]\nmax_publish_bytes = 2048\n").await;
    let base = &server.base;
    let ok = json!({"title": "fine"});
    // 401: missing and wrong tokens (with WWW-Authenticate).
    let (status, body) = publish_json(base, None, "world", &ok).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = publish_json(base, Some("wrong-token-12345"), "world", &ok).await;
    assert_eq!(status, 401);
    let (status, _) = publish_json(base, Some(&TOKEN[..TOKEN.len() - 1]), "world", &ok).await;
    assert_eq!(status, 401, "a prefix of a token is not the token");
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/channels/world/items"))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"tidings\""
    );
    // 403: a token not allowed on that channel.
    let (status, body) = publish_json(base, Some(WORLD_TOKEN), "tech", &ok).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = publish_json(base, Some(WORLD_TOKEN), "world", &ok).await;
    assert_eq!(status, 201);
    // 404: unknown channel (before auth, so it does not depend on the token).
    let (status, body) = publish_json(base, Some(TOKEN), "nosuch", &ok).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_channel"))
    );
    // 413: declared and streamed oversized bodies.
    let big = json!({"title": "t", "body": "x".repeat(3000)});
    let (status, body) = publish_json(base, Some(TOKEN), "world", &big).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 400])).collect();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/channels/world/items"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413, "chunked body without a length");
    // 415, 400.
    let (status, body) = post_raw(
        base,
        "world",
        Some(TOKEN),
        "application/xml",
        b"<x/>".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, body) = post_raw(
        base,
        "world",
        Some(TOKEN),
        "application/json",
        b"{\"title\": ".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    // 422 names the field.
    for (request, field) in [
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(301)}), "title"),
        (json!({"title": "t", "link": "javascript:alert(1)"}), "link"),
        (json!({"title": "t", "severity": "apocalyptic"}), "severity"),
        (json!({"title": "t", "key": "has/slash"}), "key"),
        (
            json!({"title": "t", "expires": "2000-01-01T00:00:00Z"}),
            "expires",
        ),
        (json!({"title": "t", "body": 42}), "body"),
        (json!({"title": "bell\u{7}"}), "title"),
        (json!({"title": "t", "key": "   "}), "key"),
        (json!({"title": "t", "key": " padded"}), "key"),
    ] {
        let (status, body) = publish_json(base, Some(TOKEN), "world", &request).await;
        assert_eq!(status, 422, "{request}");
        assert_eq!(body["error"]["code"], "invalid_field");
        assert_eq!(body["error"]["field"], field, "{request}");
    }
    // Weather channels are fed by the server only.
    let (status, _) = publish_json(base, Some(TOKEN), "weather", &ok).await;
    assert_eq!(status, 403);
    let response = reqwest::Client::new()
        .delete(format!("{base}/v1/channels/weather/items/x"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // text/plain is the title.
    let (status, body) = post_raw(
        base,
        "world",
        Some(TOKEN),
        "text/plain; charset=utf-8",
        b"Deploy finished".to_vec(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["event"], "item");
    // Retract errors.
    let client = reqwest::Client::new();
    let response = client
        .delete(format!("{base}/v1/channels/world/items/nope"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client
        .delete(format!("{base}/v1/channels/world/items/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Every answer was counted by status.
    let metrics = metrics(base).await;
    for line in [
        "tidings_publish_requests_total{status=\"201\"} 2",
        "tidings_publish_requests_total{status=\"401\"} 5",
        "tidings_publish_requests_total{status=\"403\"} 3",
        "tidings_publish_requests_total{status=\"413\"} 2",
        "tidings_publish_requests_total{status=\"422\"} 11",
    ] {
        assert!(metrics.contains(line), "missing {line}\n{metrics}");
    }
}

#[tokio::test]
async fn tokens_never_appear_in_answers_or_metrics() {
    let server = TestServer::start("").await;
    let (_, body) = publish_json(&server.base, Some(TOKEN), "world", &json!({"title": "t"})).await;
    let (_, denied) = publish_json(
        &server.base,
        Some("some-wrong-token-x"),
        "world",
        &json!({"title": "t"}),
    )
    .await;
    let metrics = metrics(&server.base).await;
    for text in [body.to_string(), denied.to_string(), metrics] {
        assert!(!text.contains(TOKEN) && !text.contains("some-wrong-token-x"));
    }
}

#[tokio::test]
async fn alerts_have_a_lifecycle_and_items_expire() {
    let server = TestServer::start("").await;
    let mut stream =
        SseClient::connect(&server.base, "/v1/stream?channels=alerts,world", None).await;
    let alert = json!({"title": "Storm", "key": "storm-1", "severity": "warning", "area": "Valley", "instruction": "Stay in"});
    let (status, body) = publish_json(&server.base, Some(TOKEN), "alerts", &alert).await;
    assert_eq!((status, body["event"].as_str()), (201, Some("alert")));
    let first = stream
        .until(|e| e.event == "alert")
        .await
        .pop()
        .unwrap()
        .json();
    assert_eq!(
        (first["status"].as_str(), first["severity"].as_str()),
        (Some("active"), Some("warning"))
    );
    assert_eq!(first["area"], "Valley");
    let (_, body) = publish_json(
        &server.base,
        Some(TOKEN),
        "alerts",
        &json!({"title": "Storm worse", "key": "storm-1", "severity": "critical", "area": "Valley"}),
    )
    .await;
    assert_eq!(body["updated"], true);
    let second = stream
        .until(|e| e.event == "alert")
        .await
        .pop()
        .unwrap()
        .json();
    assert_eq!(second["status"], "updated");
    assert_eq!(
        second["published"], first["published"],
        "an update keeps the first publication time"
    );
    let (_, _) = publish_json(
        &server.base,
        Some(TOKEN),
        "alerts",
        &json!({"title": "Storm over", "key": "storm-1", "status": "cancelled"}),
    )
    .await;
    let third = stream
        .until(|e| e.event == "alert")
        .await
        .pop()
        .unwrap()
        .json();
    assert_eq!(third["status"], "cancelled");
    assert_eq!(
        third["area"], "Valley",
        "a cancel keeps what it does not restate"
    );
    assert_eq!(third["severity"], "critical");
    let cancel_unknown = json!({"title": "x", "key": "never-issued", "status": "cancelled"});
    let (status, body) = publish_json(&server.base, Some(TOKEN), "alerts", &cancel_unknown).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_item"))
    );
    assert!(
        third["expires"].is_string(),
        "a cancelled alert goes away by itself"
    );

    // An item with a near expiry is retracted by the server when it passes.
    let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let (status, _) = publish_json(
        &server.base,
        Some(TOKEN),
        "world",
        &json!({"title": "Flash sale", "key": "sale", "expires": expires}),
    )
    .await;
    assert_eq!(status, 201);
    let retract = stream
        .until(|e| e.event == "retract")
        .await
        .pop()
        .unwrap()
        .json();
    assert_eq!(
        (retract["key"].as_str(), retract["reason"].as_str()),
        (Some("sale"), Some("expired"))
    );
    let items: Value = get_json(&format!("{}/v1/channels/world/items", server.base)).await;
    assert!(items["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn published_alerts_expire_on_a_live_stream_and_leave_the_snapshot() {
    let server = TestServer::start("[alerts]\ncancelled_linger_secs = 2\n").await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=alerts", None).await;
    let publish = |alert: Value| {
        let base = server.base.clone();
        async move {
            let (status, _) = publish_json(&base, Some(TOKEN), "alerts", &alert).await;
            assert!(status == 200 || status == 201, "{status}");
        }
    };
    publish(json!({"title": "Road closed", "key": "road", "severity": "notice"})).await;
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    publish(json!({"title": "Fog", "key": "fog", "severity": "info", "expires": expires})).await;
    publish(json!({"title": "Storm", "key": "storm", "severity": "warning"})).await;
    publish(json!({"title": "Storm over", "key": "storm", "status": "cancelled"})).await;

    // The brief alert at its expiry, the cancelled one after the linger: each retracted once,
    // as an alert, by the expiry sweep.
    let mut retracted = Vec::new();
    let mut alerts = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while retracted.len() < 2 {
        let event = stream
            .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
            .expect("both alerts retracted in time");
        let data = event.json();
        match event.event.as_str() {
            "retract" => {
                assert_eq!(
                    (data["kind"].as_str(), data["reason"].as_str()),
                    (Some("alert"), Some("expired"))
                );
                retracted.push(data["key"].as_str().unwrap().to_owned());
            }
            "alert" => alerts.push((
                data["key"].as_str().unwrap().to_owned(),
                data["status"].as_str().unwrap().to_owned(),
            )),
            _ => {}
        }
    }
    retracted.sort();
    assert_eq!(retracted, ["fog", "storm"]);
    assert_eq!(
        alerts,
        [
            ("road".to_owned(), "active".to_owned()),
            ("fog".to_owned(), "active".to_owned()),
            ("storm".to_owned(), "active".to_owned()),
            ("storm".to_owned(), "cancelled".to_owned()),
        ]
    );
    assert!(
        stream
            .next_within(Duration::from_millis(1500))
            .await
            .is_none_or(|e| e.event != "retract"),
        "retracted once"
    );

    // A new client's snapshot has the remaining alert only.
    let mut fresh = SseClient::connect(&server.base, "/v1/stream?channels=alerts", None).await;
    let mut snapshot = fresh
        .until(|e| e.event == "alert" && e.json()["key"] == "road")
        .await;
    while let Some(event) = fresh.next_within(Duration::from_millis(500)).await {
        snapshot.push(event);
    }
    let keys: Vec<Value> = snapshot
        .iter()
        .filter(|e| e.event == "alert" || e.event == "retract")
        .map(|e| e.json()["key"].clone())
        .collect();
    assert_eq!(keys, [json!("road")]);
    let items = get_json(&format!("{}/v1/channels/alerts/items", server.base)).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn read_api_catalog_items_health_metrics() {
    let server = TestServer::start("").await;
    for n in 0..5 {
        publish(&server.base, "tech", &format!("tech {n}")).await;
    }
    let catalog: Value = get_json(&format!("{}/v1/channels", server.base)).await;
    let channels = catalog["channels"].as_array().unwrap();
    assert!(channels.len() >= 6);
    let tech = channels.iter().find(|c| c["id"] == "tech").unwrap();
    for field in ["title", "description", "colour", "kind", "health"] {
        assert!(!tech[field].is_null(), "catalog lacks {field}");
    }
    assert_eq!(tech["health"]["status"], "ok");
    assert!(tech["updated"].is_string());
    assert!(channels.iter().find(|c| c["id"] == "science").unwrap()["updated"].is_null());

    let items: Value = get_json(&format!("{}/v1/channels/tech/items?limit=2", server.base)).await;
    let titles: Vec<&str> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["tech 4", "tech 3"], "newest first, limited");
    for (path, status) in [
        ("/v1/channels/tech/items?limit=0", 400),
        ("/v1/channels/tech/items?limit=x", 400),
        ("/v1/channels/nope/items", 404),
        ("/v2/nothing", 404),
    ] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string());
    }
    // Every error is JSON, also a wrong method and a malformed query string.
    let client = reqwest::Client::new();
    let response = client
        .put(format!("{}/v1/channels", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    let response = reqwest::get(format!(
        "{}/v1/channels/tech/items?limit=1&limit=2",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_parameter"
    );
    // Public reads are readable from other origins, and every answer names the protocol.
    let response = reqwest::get(format!("{}/v1/channels", server.base))
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["tidings-protocol"], "1");
    let health: Value = get_json(&format!("{}/healthz", server.base)).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["protocol"], 1);

    let _stream = SseClient::connect(&server.base, "/v1/stream", None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let metrics = response.text().await.unwrap();
    for needle in [
        "tidings_subscribers_connected 1\n",
        "tidings_events_appended_total ",
        "tidings_events_replayed_total ",
        "tidings_slow_subscribers_dropped_total 0\n",
        "tidings_publish_requests_total{status=\"201\"} 5\n",
    ] {
        assert!(metrics.contains(needle), "missing {needle:?}\n{metrics}");
    }
}

#[tokio::test]
async fn the_web_page_is_served_self_contained() {
    let server = TestServer::start("").await;
    let response = reqwest::get(format!("{}/", server.base)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("EventSource"));
    for external in [
        "<script src",
        "rel=\"stylesheet\"",
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
    ] {
        assert!(
            !page.contains(external),
            "the page references an external asset: {external}"
        );
    }
}
