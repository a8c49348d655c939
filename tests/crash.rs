//! Durability of the real `tidings-server` process: `kill -9` while publishing, restart on the
//! same data directory, and check that every acknowledged event is still there, that ids keep
//! increasing, and that replay by Last-Event-ID is still exact.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn parse(id: &str) -> (u64, u64) {
    let (a, b) = id.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[tokio::test]
async fn kill_9_mid_publish_then_restart_keeps_every_acknowledged_event_and_exact_replay() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[stream]\nsnapshot_items = 0\n[retention]\nmax_events = 1000000\n",
    );
    let data = dir.path().join("data");
    let mut server = ChildServer::spawn(&config, &data);

    // Publish from several tasks at once; kill the process while they are running.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let mut publishers = Vec::new();
    for worker in 0..4 {
        let base = server.base.clone();
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        publishers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let title = format!("w{worker}-{n}");
                let sent = client
                    .post(format!("{base}/v1/channels/world/items"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "title": title }))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != 201 {
                    return;
                }
                let Ok(answer) = response.json::<serde_json::Value>().await else {
                    return;
                };
                acknowledged
                    .lock()
                    .unwrap()
                    .push((answer["event_id"].as_str().unwrap().to_owned(), title));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_9();
    for publisher in publishers {
        tokio::time::timeout(WAIT, publisher)
            .await
            .expect("publisher did not notice the crash")
            .unwrap();
    }
    let mut acknowledged = acknowledged.lock().unwrap().clone();
    acknowledged.sort_by_key(|(id, _)| parse(id));
    assert!(
        acknowledged.len() > 20,
        "too few events before the kill: {}",
        acknowledged.len()
    );
    let last_before = acknowledged.last().unwrap().0.clone();

    // Restart on the same data directory.
    let server = ChildServer::spawn(&config, &data);
    let health: serde_json::Value = get_json(&format!("{}/healthz", server.base)).await;
    let head = health["last_event_id"].as_str().unwrap().to_owned();
    assert!(
        parse(&head) >= parse(&last_before),
        "head {head} is behind acknowledged {last_before}"
    );

    // Every acknowledged event replays, in order, exactly once (an event the server wrote but
    // could not acknowledge before dying may appear too; nothing else may).
    let first = &acknowledged[0].0;
    let (first_ms, first_seq) = parse(first);
    let before_first = if first_seq > 0 {
        format!("{first_ms}-{}", first_seq - 1)
    } else {
        format!("{}-999999", first_ms - 1)
    };
    let mut stream = SseClient::connect(
        &server.base,
        "/v1/stream?channels=world",
        Some(&before_first),
    )
    .await;
    let mut replayed = Vec::new();
    while let Some(event) = stream.next_within(Duration::from_millis(700)).await {
        assert_ne!(
            event.event, "gap",
            "{} (asked after {before_first})",
            event.data
        );
        if event.event == "item" {
            replayed.push((
                event.id.clone(),
                event.json()["title"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let ids: Vec<_> = replayed.iter().map(|(id, _)| parse(id)).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "replay out of order or doubled"
    );
    for event in &acknowledged {
        assert!(
            replayed.contains(event),
            "acknowledged event {event:?} lost"
        );
    }
    assert!(
        replayed.len() <= acknowledged.len() + 4,
        "unexpected extra events"
    );

    // New ids are above everything before the crash, and the stream resumes live.
    let new_id = publish(&server.base, "world", "after restart").await;
    assert!(parse(&new_id) > parse(&head));
    let event = stream.next().await;
    assert_eq!(
        (event.id.as_str(), event.json()["title"].as_str()),
        (new_id.as_str(), Some("after restart"))
    );
}

#[tokio::test]
async fn ids_increase_across_clean_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    let mut previous = (0, 0);
    for round in 0..3 {
        let server = ChildServer::spawn(&config, &data);
        for n in 0..5 {
            let id = parse(&publish(&server.base, "tech", &format!("r{round} n{n}")).await);
            assert!(id > previous, "{id:?} not above {previous:?}");
            previous = id;
        }
        drop(server);
    }
}
