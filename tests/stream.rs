//! `GET /v1/stream` against a real server on 127.0.0.1:0 with a real HTTP client: snapshot,
//! live delivery, exact replay by Last-Event-ID while publishing continues, gaps, heartbeats,
//! slow subscribers, limits and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashSet;
use std::io::Read as _;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[tokio::test]
async fn publish_then_receive_live_with_retry_hint_and_headers() {
    let server = TestServer::start("").await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=world", None).await;
    assert_eq!(stream.status, 200);
    assert!(
        stream.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(stream.headers["cache-control"], "no-cache");
    // The snapshot starts with the channel's metadata.
    let first = stream.next().await;
    assert_eq!(first.event, "channel");
    assert_eq!(first.json()["id"], "world");
    assert_eq!(
        stream.decoder.retry(),
        Some(3000),
        "retry: hint on the first event"
    );

    let event_id = publish(&server.base, "world", "Hello, world").await;
    let item = stream.until(|e| e.event == "item").await.pop().unwrap();
    assert_eq!(item.id, event_id);
    assert_eq!(item.json()["title"], "Hello, world");
    assert_eq!(item.json()["channel"], "world");
    // Other channels are not delivered to this subscriber.
    publish(&server.base, "tech", "Not for you").await;
    let mine = publish(&server.base, "world", "For you").await;
    let next = stream.until(|e| e.event == "item").await.pop().unwrap();
    assert_eq!(next.id, mine);
}

#[tokio::test]
async fn payload_line_breaks_arrive_byte_exact() {
    let server = TestServer::start("").await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=world", None).await;
    let title = "CR\rCRLF\r\nLF\nend";
    let body = "line one\r\n\r\nline three\rline four\n\n trailing space \u{2028} and \u{1F600}";
    let (status, _) = publish_json(
        &server.base,
        Some(TOKEN),
        "world",
        &json!({ "title": title, "body": body }),
    )
    .await;
    assert_eq!(status, 201);
    let item = stream.until(|e| e.event == "item").await.pop().unwrap();
    let data = item.json();
    assert_eq!(data["title"], title);
    assert_eq!(data["body"], body);
}

#[tokio::test]
async fn snapshot_has_latest_items_per_channel_oldest_first_then_live() {
    let server = TestServer::start("[stream]\nsnapshot_items = 3\n").await;
    for n in 1..=5 {
        publish(&server.base, "world", &format!("world {n}")).await;
    }
    publish(&server.base, "tech", "tech 1").await;
    let head = publish(&server.base, "sports", "sports 1").await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=world,tech", None).await;
    let mut events = Vec::new();
    while let Some(event) = stream.next_within(Duration::from_millis(500)).await {
        events.push(event);
    }
    assert_eq!(titles(&events), ["world 3", "world 4", "world 5", "tech 1"]);
    // Ids never go backwards within the snapshot and the client ends at the log head.
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert!(
        ids.windows(2).all(|w| parse(w[0]) <= parse(w[1])),
        "{ids:?}"
    );
    assert_eq!(stream.decoder.last_id(), head);
    let live = publish(&server.base, "tech", "tech 2").await;
    let event = stream.next().await;
    assert_eq!(
        (event.id.as_str(), event.json()["title"].as_str()),
        (live.as_str(), Some("tech 2"))
    );
}

fn parse(id: &str) -> (u64, u64) {
    let (a, b) = id.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[tokio::test]
async fn reconnect_with_last_event_id_gets_exactly_the_missed_events_while_publishing_continues() {
    let server = TestServer::start("[stream]\nsnapshot_items = 0\n").await;
    let base = server.base.clone();
    let publisher = tokio::spawn(async move {
        let mut published = Vec::new();
        for n in 0..300 {
            let channel = if n % 3 == 0 { "tech" } else { "world" };
            let id = publish(&base, channel, &format!("{channel} {n}")).await;
            if channel == "world" {
                published.push((id, format!("{channel} {n}")));
            }
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        published
    });

    let mut received: Vec<(String, String)> = Vec::new();
    let mut last_id: Option<String> = None;
    // Connect, read a few events, drop the connection, reconnect with Last-Event-ID; repeat
    // until the publisher is done and everything is in.
    for round in 0.. {
        assert!(round < 200, "too many rounds");
        let mut stream = SseClient::connect(
            &server.base,
            "/v1/stream?channels=world",
            last_id.as_deref(),
        )
        .await;
        assert_eq!(stream.status, 200);
        for _ in 0..(7 + round % 5) {
            let Some(event) = stream.next_within(Duration::from_millis(300)).await else {
                break;
            };
            if event.event == "item" {
                received.push((
                    event.id.clone(),
                    event.json()["title"].as_str().unwrap().to_owned(),
                ));
            }
            assert_ne!(event.event, "gap", "no gap expected");
        }
        if !stream.decoder.last_id().is_empty() {
            last_id = Some(stream.decoder.last_id().to_owned());
        }
        drop(stream);
        if publisher.is_finished() && received.len() >= 200 {
            break;
        }
    }
    let published = publisher.await.unwrap();
    assert_eq!(published.len(), 200);
    assert_eq!(
        received, published,
        "every world event exactly once, in order"
    );
}

#[tokio::test]
async fn replay_by_query_parameter_and_resume_at_head_sends_nothing_old() {
    let server = TestServer::start("").await;
    let first = publish(&server.base, "world", "one").await;
    publish(&server.base, "world", "two").await;
    let head = publish(&server.base, "world", "three").await;
    let path = format!("/v1/stream?channels=world&last_event_id={first}");
    let mut stream = SseClient::connect(&server.base, &path, None).await;
    let events = stream.until(|e| e.id == head).await;
    assert_eq!(titles(&events), ["two", "three"]);
    // Resuming at the head: nothing old, only the switch to live (which moves no id), then live.
    let mut stream =
        SseClient::connect(&server.base, "/v1/stream?channels=world", Some(&head)).await;
    let live = stream.next().await;
    assert_eq!((live.event.as_str(), live.data.as_str()), ("live", "{}"));
    assert!(live.id.is_empty(), "the marker carries no id");
    assert!(
        stream
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    publish(&server.base, "world", "four").await;
    assert_eq!(stream.next().await.json()["title"], "four");
}

#[tokio::test]
async fn update_and_retract_travel_as_events_and_leave_one_item() {
    let server = TestServer::start("").await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=world", None).await;
    let (_, first) = publish_json(
        &server.base,
        Some(TOKEN),
        "world",
        &json!({"title": "v1", "key": "story"}),
    )
    .await;
    let (_, second) = publish_json(
        &server.base,
        Some(TOKEN),
        "world",
        &json!({"title": "v2", "key": "story"}),
    )
    .await;
    assert_eq!(first["updated"], false);
    assert_eq!(second["updated"], true);
    let events = stream
        .until(|e| e.event == "item" && e.json()["title"] == "v2")
        .await;
    assert_eq!(titles(&events), ["v1", "v2"]);
    let items: serde_json::Value =
        get_json(&format!("{}/v1/channels/world/items", server.base)).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
    assert_eq!(items["items"][0]["title"], "v2");

    let response = reqwest::Client::new()
        .delete(format!("{}/v1/channels/world/items/story", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let retract = stream.next().await;
    assert_eq!(retract.event, "retract");
    assert_eq!(retract.json()["key"], "story");
    assert_eq!(retract.json()["reason"], "retracted");
    // A new subscriber's snapshot no longer has it.
    let mut fresh = SseClient::connect(&server.base, "/v1/stream?channels=world", None).await;
    let mut snapshot = Vec::new();
    while let Some(event) = fresh.next_within(Duration::from_millis(300)).await {
        snapshot.push(event);
    }
    assert!(items_of(&snapshot).is_empty(), "{snapshot:?}");
}

fn items_of(events: &[SseEvent]) -> Vec<SseEvent> {
    events
        .iter()
        .filter(|e| e.event == "item")
        .cloned()
        .collect()
}

#[tokio::test]
async fn pruned_history_gives_a_gap_then_a_snapshot() {
    let server = TestServer::start("[retention]\nmax_events = 5\n").await;
    let early = publish(&server.base, "world", "early").await;
    for n in 0..10 {
        publish(&server.base, "world", &format!("later {n}")).await;
    }
    let (_, dir) = server.stop().await;
    // Retention runs at startup.
    let server = TestServer::start_in(dir, "[retention]\nmax_events = 5\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut stream =
        SseClient::connect(&server.base, "/v1/stream?channels=world", Some(&early)).await;
    let gap = stream.next().await;
    assert_eq!(gap.event, "gap");
    assert_eq!(gap.json()["requested"], early.as_str());
    let events = stream
        .until(|e| e.event == "item" && e.json()["title"] == "later 9")
        .await;
    assert!(titles(&events).contains(&"later 9".to_owned()));

    // An id from the future (a reset server) is a gap too, never silence.
    let mut stream = SseClient::connect(
        &server.base,
        "/v1/stream?channels=world",
        Some("99999999999999-0"),
    )
    .await;
    assert_eq!(stream.next().await.event, "gap");
    // So is garbage.
    let mut stream =
        SseClient::connect(&server.base, "/v1/stream?channels=world", Some("not-an-id")).await;
    assert_eq!(stream.next().await.event, "gap");
}

#[tokio::test]
async fn unknown_channel_and_bad_parameters_are_json_errors() {
    let server = TestServer::start("").await;
    for (path, status, code) in [
        ("/v1/stream?channels=world,nope", 404, "unknown_channel"),
        ("/v1/stream?channels=NOPE", 404, "unknown_channel"),
        ("/v1/stream?weather=500,1", 400, "invalid_parameter"),
    ] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}");
    }
}

#[tokio::test]
async fn heartbeat_comments_keep_a_quiet_stream_alive() {
    let server = TestServer::start("[stream]\nheartbeat_secs = 1\n").await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=tech", None).await;
    while stream
        .next_within(Duration::from_millis(200))
        .await
        .is_some()
    {}
    let heartbeats = |raw: &[u8]| {
        String::from_utf8_lossy(raw)
            .matches(": heartbeat\n\n")
            .count()
    };
    let before = heartbeats(&stream.raw);
    // Nothing is dispatched, but comments arrive.
    assert!(
        stream
            .next_within(Duration::from_millis(2600))
            .await
            .is_none()
    );
    assert!(heartbeats(&stream.raw) > before, "no heartbeat in 2.6 s");
    assert!(String::from_utf8_lossy(&stream.raw).contains(": heartbeat\n\n"));
}

#[tokio::test]
async fn subscriber_limit_answers_503() {
    let server = TestServer::start("[stream]\nmax_subscribers = 2\n").await;
    let _a = SseClient::connect(&server.base, "/v1/stream", None).await;
    let _b = SseClient::connect(&server.base, "/v1/stream", None).await;
    let response = reqwest::get(format!("{}/v1/stream", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn slow_subscriber_is_dropped_while_a_fast_one_keeps_receiving_and_resumes_exactly() {
    let server = TestServer::start("[stream]\nsubscriber_queue = 16\nsnapshot_items = 0\n").await;
    // The slow subscriber: a raw socket that stops reading. (Its receive buffer stays above a
    // few loopback MSS: a smaller one stalls the drain below in zero-window probing.)
    let mut slow = std::net::TcpStream::connect(server.addr).unwrap();
    socket2::SockRef::from(&slow)
        .set_recv_buffer_size(256 * 1024)
        .unwrap();
    use std::io::Write as _;
    slow.write_all(b"GET /v1/stream?channels=world HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut fast = SseClient::connect(&server.base, "/v1/stream?channels=world", None).await;
    while fast.next_within(Duration::from_millis(200)).await.is_some() {}

    let body = "x".repeat(7_000);
    let mut published = Vec::new();
    let started = Instant::now();
    let mut fast_seen = Vec::new();
    // Publish until the server has dropped the slow one (bounded).
    for n in 0..3_000 {
        let (status, answer) = publish_json(
            &server.base,
            Some(TOKEN),
            "world",
            &json!({"title": format!("n{n}"), "body": body}),
        )
        .await;
        assert_eq!(status, 201);
        published.push(answer["event_id"].as_str().unwrap().to_owned());
        while let Some(event) = fast.next_within(Duration::from_millis(0)).await {
            fast_seen.push(event.id);
        }
        if n % 50 == 49 {
            let metrics = metrics(&server.base).await;
            if metrics.contains("tidings_slow_subscribers_dropped_total 1") {
                break;
            }
        }
    }
    let metrics = metrics(&server.base).await;
    assert!(
        metrics.contains("tidings_slow_subscribers_dropped_total 1"),
        "slow subscriber never dropped\n{metrics}"
    );
    // The fast subscriber has everything, in order, and was never held up for long.
    eprintln!(
        "published {} fast_seen {} in {:?}",
        published.len(),
        fast_seen.len(),
        started.elapsed()
    );
    while fast_seen.len() < published.len() {
        fast_seen.push(fast.next().await.id);
    }
    assert_eq!(fast_seen, published);
    assert!(started.elapsed() < Duration::from_secs(60));

    // The slow one drains what reached it, sees the end of the stream, and resumes exactly.
    eprintln!("fast done at {:?}", started.elapsed());
    slow.set_read_timeout(Some(WAIT)).unwrap();
    let mut raw = Vec::new();
    slow.read_to_end(&mut raw)
        .expect("the server closed the slow subscriber's connection");
    eprintln!("slow drained at {:?}", started.elapsed());
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut decoder = Decoder::default();
    let mut got = Vec::new();
    decoder.feed(&raw[head_end..], &mut got);
    let got: Vec<String> = got
        .into_iter()
        .filter(|e| e.event == "item")
        .map(|e| e.id)
        .collect();
    assert!(got.len() < published.len());
    assert_eq!(got[..], published[..got.len()], "what arrived is a prefix");
    let resume = decoder.last_id().to_owned();
    eprintln!("slow got {} then resumes after {resume}", got.len());
    let mut again =
        SseClient::connect(&server.base, "/v1/stream?channels=world", Some(&resume)).await;
    let mut rest = Vec::new();
    while rest.len() + got.len() < published.len() {
        rest.push(again.next().await.id);
    }
    let all: Vec<String> = got.into_iter().chain(rest).collect();
    assert_eq!(all, published, "nothing lost, nothing doubled");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
}

#[tokio::test]
async fn shutdown_closes_open_streams_within_a_second() {
    let server = TestServer::start("").await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(SseClient::connect(&server.base, "/v1/stream", None).await);
    }
    // One stream served by hyper (a kept-alive connection's second request).
    let client = reqwest::Client::new();
    client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let kept_alive = client
        .get(format!("{}/v1/stream", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(kept_alive.status(), 200);
    for stream in &mut streams {
        stream.next().await;
    }
    let (elapsed, _) = server.stop().await;
    assert!(
        elapsed < Duration::from_secs(1),
        "shutdown took {elapsed:?}"
    );
    for stream in &mut streams {
        assert!(
            stream.ends_within(Duration::from_secs(1)).await,
            "a stream stayed open"
        );
    }
    let rest = tokio::time::timeout(Duration::from_secs(1), kept_alive.bytes()).await;
    assert!(rest.is_ok(), "the hyper-served stream stayed open");
}

#[tokio::test]
async fn history_ends_with_one_live_marker_on_fresh_start_replay_and_gap() {
    let server = TestServer::start("").await;
    let first = publish(&server.base, "world", "old news").await;
    publish(&server.base, "world", "older news updated").await;
    let path = "/v1/stream?channels=world";
    // Fresh start: the snapshot (channel + both items), then `live`, then what is new.
    let mut fresh = SseClient::connect(&server.base, path, None).await;
    let history = fresh.until(|e| e.event == "live").await;
    assert_eq!(titles(&history), ["old news", "older news updated"]);
    // Replay after the first item: the second, then `live`.
    let mut resumed = SseClient::connect(&server.base, path, Some(&first)).await;
    let history = resumed.until(|e| e.event == "live").await;
    assert_eq!(titles(&history), ["older news updated"]);
    // A malformed id: gap, snapshot, then `live`.
    let mut gapped = SseClient::connect(&server.base, path, Some("yesterday")).await;
    let history = gapped.until(|e| e.event == "live").await;
    assert_eq!(history.first().map(|e| e.event.as_str()), Some("gap"));
    assert_eq!(titles(&history), ["old news", "older news updated"]);
    // Live news comes after the marker on every stream, and no second marker.
    publish(&server.base, "world", "breaking").await;
    for stream in [&mut fresh, &mut resumed, &mut gapped] {
        let next = stream.next().await;
        assert_eq!(
            (next.event.as_str(), next.json()["title"].as_str()),
            ("item", Some("breaking"))
        );
        assert!(
            stream
                .next_within(Duration::from_millis(200))
                .await
                .is_none()
        );
    }
}
