//! The contract every `EventLog` backend must keep, run against each backend (SQLite, and
//! Redis Streams on a real `redis-server`): ordering, durability across reopen, upserts by key,
//! replay pages and gaps, retention, snapshots, expiry, schema versioning. Then what only the
//! shared log has: several nodes, each fed by its own tail, in one order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common {
    pub mod redis;
}

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::redis as test_redis;
use tidings::config::server::Broker;
use tidings::server::log::redis::RedisLog;

use tidings::config::RetentionPolicy;
use tidings::protocol::{ChannelId, EventId, ItemKey, RetractKind};
use tidings::server::log::sqlite::SqliteLog;
use tidings::server::log::{
    Commit, EventKind, EventLog, LogError, NewEvent, ReplayStart, Selection, StateChange,
    now_millis,
};

fn channel(id: &str) -> ChannelId {
    ChannelId::new(id).unwrap()
}

fn key(text: &str) -> ItemKey {
    ItemKey::new(text).unwrap()
}

fn item(ch: &str, k: &str, title: &str) -> NewEvent {
    NewEvent {
        channel: channel(ch),
        kind: EventKind::Item,
        data: format!("{{\"title\":\"{title}\"}}"),
        change: StateChange::Upsert {
            key: key(k),
            expires_millis: None,
        },
    }
}

fn selection(channels: &[&str]) -> Selection {
    Selection {
        channels: channels.iter().map(|c| channel(c)).collect(),
        follow_catalog: false,
        cells: Vec::new(),
    }
}

/// A backend under test: opens (or reopens) the same store.
trait Backend {
    fn open(&self) -> Pin<Box<dyn Future<Output = Arc<dyn EventLog>> + '_>>;
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    fn open(&self) -> Pin<Box<dyn Future<Output = Arc<dyn EventLog>> + '_>> {
        Box::pin(async move {
            let log: Arc<dyn EventLog> =
                Arc::new(SqliteLog::open(&self.0.path().join("events.sqlite3"), None).unwrap());
            log
        })
    }
}

/// One key prefix on the shared test Redis: every test sees a fresh, empty store.
struct Redis(Broker);

impl Redis {
    fn new() -> Self {
        Self(broker(&test_redis::unique_prefix("contract")))
    }
}

fn broker(prefix: &str) -> Broker {
    Broker::new(test_redis::shared().url(), prefix)
}

impl Backend for Redis {
    fn open(&self) -> Pin<Box<dyn Future<Output = Arc<dyn EventLog>> + '_>> {
        Box::pin(async move {
            let log: Arc<dyn EventLog> =
                Arc::new(RedisLog::open(self.0.clone(), None).await.unwrap());
            log
        })
    }
}

fn backends() -> Vec<(&'static str, Box<dyn Backend>)> {
    vec![
        ("sqlite", Box::new(Sqlite(tempfile::tempdir().unwrap()))),
        ("redis", Box::new(Redis::new())),
    ]
}

async fn events_after(
    log: &dyn EventLog,
    after: EventId,
    sel: &Selection,
) -> Vec<(EventId, String)> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        match log.replay(cursor, sel, 3).await.unwrap() {
            ReplayStart::Events { events, next_after } => {
                out.extend(events.iter().map(|e| (e.id, e.data.to_string())));
                match next_after {
                    Some(next) => cursor = next,
                    None => return out,
                }
            }
            ReplayStart::Gap { reason, .. } => panic!("unexpected gap: {reason}"),
        }
    }
}

#[tokio::test]
async fn ids_strictly_increase_within_a_batch_across_calls_and_across_reopen() {
    for (name, backend) in backends() {
        let log = backend.open().await;
        let first = log
            .append(vec![
                item("a", "1", "x"),
                item("a", "2", "y"),
                item("b", "3", "z"),
            ])
            .await
            .unwrap();
        let ids: Vec<EventId> = first.iter().map(|a| a.event.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{name}");
        let more = log.append(vec![item("a", "4", "w")]).await.unwrap();
        assert!(more[0].event.id > ids[2], "{name}");
        assert_eq!(log.head().await.unwrap(), more[0].event.id);
        drop(log);
        let log = backend.open().await;
        assert_eq!(
            log.head().await.unwrap(),
            more[0].event.id,
            "{name}: head survives reopen"
        );
        let after = log.append(vec![item("a", "5", "v")]).await.unwrap();
        assert!(after[0].event.id > more[0].event.id, "{name}");
    }
}

#[tokio::test]
async fn same_key_is_an_update_and_retract_removes() {
    for (name, backend) in backends() {
        let log = backend.open().await;
        let first = log.append(vec![item("a", "k", "v1")]).await.unwrap();
        assert!(!first[0].replaced);
        let second = log.append(vec![item("a", "k", "v2")]).await.unwrap();
        assert!(second[0].replaced, "{name}");
        let entries = log.entries(&channel("a"), 10).await.unwrap();
        assert_eq!(entries.len(), 1, "{name}: one item, not two");
        assert_eq!(&*entries[0].data, "{\"title\":\"v2\"}");
        assert_eq!(
            log.entry(&channel("a"), EventKind::Item, &key("k"))
                .await
                .unwrap()
                .unwrap()
                .id,
            second[0].event.id
        );
        let removed = log
            .append(vec![NewEvent {
                channel: channel("a"),
                kind: EventKind::Retract,
                data: "{}".into(),
                change: StateChange::Remove {
                    key: key("k"),
                    kind: RetractKind::Item,
                },
            }])
            .await
            .unwrap();
        assert!(removed[0].replaced);
        assert!(
            log.entries(&channel("a"), 10).await.unwrap().is_empty(),
            "{name}"
        );
        // History keeps all three events.
        let history = events_after(&*log, EventId::ZERO, &selection(&["a"])).await;
        assert_eq!(history.len(), 3, "{name}");
    }
}

#[tokio::test]
async fn replay_pages_through_the_selection_in_order() {
    for (name, backend) in backends() {
        let log = backend.open().await;
        let mut expected = Vec::new();
        for n in 0..10 {
            let ch = if n % 2 == 0 { "a" } else { "b" };
            let appended = log
                .append(vec![item(ch, &n.to_string(), &n.to_string())])
                .await
                .unwrap();
            if ch == "a" {
                expected.push(appended[0].event.id);
            }
        }
        let got: Vec<EventId> = events_after(&*log, EventId::ZERO, &selection(&["a"]))
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(got, expected, "{name}");
        let got: Vec<EventId> = events_after(&*log, expected[2], &selection(&["a"]))
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(got, expected[3..], "{name}");
    }
}

#[tokio::test]
async fn retention_by_count_and_age_prunes_and_turns_old_resumes_into_gaps() {
    for (name, backend) in backends() {
        let log = backend.open().await;
        let mut ids = Vec::new();
        for n in 0..10 {
            ids.push(
                log.append(vec![item("a", &n.to_string(), "x")])
                    .await
                    .unwrap()[0]
                    .event
                    .id,
            );
        }
        let other = log.append(vec![item("b", "b", "y")]).await.unwrap()[0]
            .event
            .id;
        let policy = RetentionPolicy {
            max_events: 4,
            max_age: Duration::from_secs(3600),
        };
        let stats = log
            .prune(&channel("a"), policy, now_millis())
            .await
            .unwrap();
        assert_eq!(stats.deleted, 6, "{name}");
        // Resuming inside the kept history is exact; before it is a gap.
        let kept = events_after(&*log, ids[5], &selection(&["a"])).await;
        assert_eq!(kept.len(), 4, "{name}");
        match log.replay(ids[4], &selection(&["a"]), 100).await.unwrap() {
            ReplayStart::Gap { oldest, .. } => assert_eq!(oldest, Some(ids[5]), "{name}"),
            other => panic!("{name}: expected a gap, got {other:?}"),
        }
        // Other channels are untouched, and a resume that only asks for them has no gap.
        assert_eq!(
            events_after(&*log, ids[0], &selection(&["b"])).await.len(),
            1
        );
        // Current state is kept: all ten items are still live.
        assert_eq!(
            log.entries(&channel("a"), 100).await.unwrap().len(),
            10,
            "{name}"
        );
        // Age: everything older than "now + 1 h - 1 h" goes.
        let far_future = now_millis() + 3_600_000 + 1_000;
        let stats = log.prune(&channel("a"), policy, far_future).await.unwrap();
        assert_eq!(stats.deleted, 4, "{name}");
        assert!(matches!(
            log.replay(ids[5], &selection(&["a"]), 100).await.unwrap(),
            ReplayStart::Gap { .. }
        ));
        // The head survives even with the channel's history gone.
        assert_eq!(log.head().await.unwrap(), other);
        // An id ahead of the log is a gap, never silence.
        let future = EventId::new(other.millis + 1_000_000, 0);
        assert!(
            matches!(
                log.replay(future, &selection(&["b"]), 10).await.unwrap(),
                ReplayStart::Gap { .. }
            ),
            "{name}"
        );
    }
}

/// A client that followed another log (this server's data was reset or replaced) holds an id
/// older than this log's beginning: that is a gap, so it resets instead of merging the new
/// history into stale content. All of history (`0-0`) is still a replay.
#[tokio::test]
async fn an_id_from_before_the_log_began_is_a_gap() {
    for (name, backend) in backends() {
        let before = EventId::new(tidings::server::log::now_millis() - 60_000, 7);
        let log = backend.open().await;
        log.append(vec![item("a", "1", "x")]).await.unwrap();
        match log.replay(before, &selection(&["a"]), 10).await.unwrap() {
            ReplayStart::Gap { reason, .. } => {
                assert!(
                    reason.contains("older than this server's log"),
                    "{name}: {reason}"
                );
            }
            other => panic!("{name}: expected a gap, got {other:?}"),
        }
        assert_eq!(
            events_after(&*log, EventId::ZERO, &selection(&["a"]))
                .await
                .len(),
            1,
            "{name}"
        );
        // Reopened, it is still the same log with the same beginning.
        drop(log);
        let log = backend.open().await;
        assert!(matches!(
            log.replay(before, &selection(&["a"]), 10).await.unwrap(),
            ReplayStart::Gap { .. }
        ));
    }
}

#[tokio::test]
async fn snapshot_is_newest_items_per_channel_and_live_alerts_in_id_order() {
    for (name, backend) in backends() {
        let log = backend.open().await;
        for n in 0..5 {
            log.append(vec![item("a", &format!("i{n}"), &format!("a{n}"))])
                .await
                .unwrap();
        }
        log.append(vec![NewEvent {
            channel: channel("a"),
            kind: EventKind::Alert,
            data: "{\"title\":\"alert\"}".into(),
            change: StateChange::Upsert {
                key: key("al"),
                expires_millis: None,
            },
        }])
        .await
        .unwrap();
        log.append(vec![NewEvent {
            channel: channel("a"),
            kind: EventKind::Item,
            data: "{\"title\":\"expired\"}".into(),
            change: StateChange::Upsert {
                key: key("old"),
                expires_millis: Some(1),
            },
        }])
        .await
        .unwrap();
        let head = log.append(vec![item("b", "x", "b0")]).await.unwrap()[0]
            .event
            .id;
        let snapshot = log.snapshot(&selection(&["a"]), 2).await.unwrap();
        let titles: Vec<&str> = snapshot.events.iter().map(|e| &*e.data).collect();
        assert_eq!(
            titles,
            [
                "{\"title\":\"a3\"}",
                "{\"title\":\"a4\"}",
                "{\"title\":\"alert\"}"
            ],
            "{name}"
        );
        assert_eq!(snapshot.head, head, "{name}");
        let expired = log.expired(now_millis()).await.unwrap();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].key, key("old"));
        // Weather is per cell.
        log.append(vec![NewEvent {
            channel: channel("w"),
            kind: EventKind::Weather,
            data: "{\"cell\":\"1.0,2.0\"}".into(),
            change: StateChange::Upsert {
                key: key("1.0,2.0"),
                expires_millis: None,
            },
        }])
        .await
        .unwrap();
        let mut weather = selection(&["w"]);
        assert!(
            log.snapshot(&weather, 5).await.unwrap().events.is_empty(),
            "{name}: no cell, no weather"
        );
        weather.cells.push(key("1.0,2.0"));
        assert_eq!(
            log.snapshot(&weather, 5).await.unwrap().events.len(),
            1,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    drop(SqliteLog::open(&path, None).unwrap());
    set_user_version(&path, 99);
    match SqliteLog::open(&path, None) {
        Err(LogError::NewerSchema { found: 99, .. }) => {}
        other => panic!("expected a newer-schema error, got {other:?}"),
    }
}

fn set_user_version(path: &Path, version: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
}

#[tokio::test]
async fn a_second_server_on_the_same_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let first = SqliteLog::open(&path, None).unwrap();
    match SqliteLog::open(&path, None) {
        Err(LogError::Locked(_)) => {}
        other => panic!("expected the log to be locked, got {other:?}"),
    }
    drop(first);
    SqliteLog::open(&path, None).expect("reopens once the first is gone");
}

#[tokio::test]
async fn live_items_are_bounded_per_channel_by_retention() {
    for (name, backend) in backends() {
        let log = backend.open().await;
        let limit = tidings::server::log::sqlite::MAX_LIVE_ITEMS;
        let batch: Vec<NewEvent> = (0..limit + 25)
            .map(|n| item("a", &format!("k{n}"), "x"))
            .collect();
        log.append(batch).await.unwrap();
        let policy = RetentionPolicy {
            max_events: 1_000_000,
            max_age: Duration::from_secs(3600),
        };
        let stats = log
            .prune(&channel("a"), policy, now_millis())
            .await
            .unwrap();
        assert_eq!(stats.aged_out, 25, "{name}");
        let newest = log.entries(&channel("a"), 1).await.unwrap();
        assert_eq!(
            newest[0].key.as_ref().unwrap().as_str(),
            format!("k{}", limit + 24),
            "{name}"
        );
        assert!(
            log.entry(&channel("a"), EventKind::Item, &key("k0"))
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
    }
}

/// A log made before the beginning was recorded does not know it: it must not turn resumes
/// into gaps after an upgrade.
#[tokio::test]
async fn a_log_older_than_recorded_beginnings_resumes_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let before = EventId::new(tidings::server::log::now_millis() - 60_000, 7);
    {
        let log = tidings::server::log::sqlite::SqliteLog::open(&path, None).unwrap();
        log.append(vec![item("a", "1", "x")]).await.unwrap();
    }
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM meta WHERE name = 'origin'", [])
        .unwrap();
    let log = tidings::server::log::sqlite::SqliteLog::open(&path, None).unwrap();
    assert_eq!(
        events_after(&log, before, &selection(&["a"])).await.len(),
        1
    );
}

// What only the shared log has: several nodes on one Redis.

/// A node: the log as one server process opens it, with the sink its hub would read.
async fn node(broker: &Broker) -> (RedisLog, tokio::sync::mpsc::UnboundedReceiver<Commit>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (RedisLog::open(broker.clone(), Some(tx)).await.unwrap(), rx)
}

/// Receives `count` commits, or fails after a few seconds.
async fn commits(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Commit>,
    count: usize,
) -> Vec<Commit> {
    let mut got = Vec::new();
    while got.len() < count {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(commit)) => got.push(commit),
            Ok(None) => panic!("the tail ended after {} commits", got.len()),
            Err(_) => panic!("only {} of {count} commits arrived", got.len()),
        }
    }
    got
}

fn event_ids(commits: &[Commit]) -> Vec<EventId> {
    commits
        .iter()
        .map(|commit| match commit {
            Commit::Event(event) => event.id,
            Commit::Lost(reason) => panic!("unexpected loss: {reason}"),
        })
        .collect()
}

#[tokio::test]
async fn every_node_gets_every_commit_of_every_node_in_one_order() {
    let broker = broker(&test_redis::unique_prefix("nodes"));
    let (a, mut a_rx) = node(&broker).await;
    let (b, mut b_rx) = node(&broker).await;
    let writers = [a.clone(), b.clone()].map(|log| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..50 {
                let appended = log
                    .append(vec![
                        item("a", &format!("{n}"), "x"),
                        item("b", &format!("{n}"), "y"),
                    ])
                    .await
                    .unwrap();
                ids.extend(appended.iter().map(|a| a.event.id));
            }
            ids
        })
    });
    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    written.sort();
    let seen_by_a = event_ids(&commits(&mut a_rx, 200).await);
    let seen_by_b = event_ids(&commits(&mut b_rx, 200).await);
    assert_eq!(seen_by_a, written, "node A sees all 200, in id order");
    assert_eq!(
        seen_by_b, written,
        "node B sees the same, in the same order"
    );
    // Replay from any node is that same history.
    let history: Vec<EventId> = events_after(&b, EventId::ZERO, &selection(&["a", "b"]))
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(history, written);
}

#[tokio::test]
async fn the_same_key_published_on_two_nodes_at_once_is_one_item() {
    let broker = broker(&test_redis::unique_prefix("same-key"));
    let a = RedisLog::open(broker.clone(), None).await.unwrap();
    let b = RedisLog::open(broker.clone(), None).await.unwrap();
    let (first, second) = tokio::join!(
        a.append(vec![item("a", "build-42", "from A")]),
        b.append(vec![item("a", "build-42", "from B")])
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let entries = a.entries(&channel("a"), 10).await.unwrap();
    assert_eq!(entries.len(), 1, "one item, updated");
    // Exactly one of the two created it; the later one (by id) is what stays.
    assert!(first[0].replaced != second[0].replaced);
    let later = first[0].event.id.max(second[0].event.id);
    assert_eq!(entries[0].id, later);
}

/// Redis lost acknowledged writes (a crash with `appendfsync everysec`, say): the numbering
/// the tail follows goes back, and the node must send its streams to the log.
#[tokio::test]
async fn a_tail_that_sees_the_numbering_go_back_reports_lost_events() {
    let prefix = test_redis::unique_prefix("lost");
    let broker = broker(&prefix);
    let (log, mut rx) = node(&broker).await;
    log.append(vec![item("a", "1", "x"), item("a", "2", "y")])
        .await
        .unwrap();
    assert_eq!(event_ids(&commits(&mut rx, 2).await).len(), 2);
    // As if the last two appends never reached the disk.
    test_redis::shared().cli(&["HSET", &format!("{prefix}:meta"), "count", "0"]);
    log.append(vec![item("a", "3", "z")]).await.unwrap();
    let got = commits(&mut rx, 2).await;
    assert!(matches!(&got[0], Commit::Lost(_)), "{got:?}");
    assert!(matches!(&got[1], Commit::Event(e) if &*e.data == "{\"title\":\"z\"}"));
}

#[tokio::test]
async fn a_newer_schema_in_redis_is_refused_not_rewritten() {
    let prefix = test_redis::unique_prefix("schema");
    drop(RedisLog::open(broker(&prefix), None).await.unwrap());
    test_redis::shared().cli(&["HSET", &format!("{prefix}:meta"), "schema", "99"]);
    match RedisLog::open(broker(&prefix), None).await {
        Err(LogError::NewerSchema { found: 99, .. }) => {}
        other => panic!("expected a newer-schema error, got {other:?}"),
    }
    assert_eq!(
        test_redis::shared().cli(&["HGET", &format!("{prefix}:meta"), "schema"]),
        "99"
    );
}

#[tokio::test]
async fn a_lease_is_held_by_one_node_and_fences_a_holder_that_lost_it() {
    let broker = broker(&test_redis::unique_prefix("lease"));
    let a = RedisLog::open(broker.clone(), None).await.unwrap();
    let b = RedisLog::open(broker.clone(), None).await.unwrap();
    let ttl = Duration::from_millis(300);
    let held = a
        .acquire_lease("feeds", ttl)
        .await
        .unwrap()
        .expect("free lease");
    assert!(
        b.acquire_lease("feeds", ttl).await.unwrap().is_none(),
        "held by A"
    );
    assert_eq!(a.renew_lease(&held, ttl).await.unwrap(), Some(held.clone()));
    // A stops renewing (paused, partitioned): after the ttl B takes over with a higher token.
    tokio::time::sleep(ttl * 2).await;
    let taken = b
        .acquire_lease("feeds", ttl)
        .await
        .unwrap()
        .expect("expired lease");
    assert!(taken.token > held.token);
    assert!(
        a.renew_lease(&held, ttl).await.unwrap().is_none(),
        "A learns it lost the lease"
    );
    // A's late result is refused; B's is stored.
    match a
        .append_fenced(vec![item("a", "k", "stale")], Some(&held))
        .await
    {
        Err(LogError::Fenced(_)) => {}
        other => panic!("expected the stale holder to be fenced, got {other:?}"),
    }
    b.append_fenced(vec![item("a", "k", "fresh")], Some(&taken))
        .await
        .unwrap();
    let entries = b.entries(&channel("a"), 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(&*entries[0].data, "{\"title\":\"fresh\"}");
    // Released at shutdown: free at once.
    b.release_lease(&taken).await.unwrap();
    assert!(a.acquire_lease("feeds", ttl).await.unwrap().is_some());
}

/// Redis goes away: calls fail fast as unavailable (a publisher gets a 503, never a 201 for
/// an event that was not stored); when it is back the node reconnects by itself and its tail
/// hands on exactly what was appended, nothing twice.
#[tokio::test]
async fn a_node_rides_out_a_redis_restart() {
    let mut server = test_redis::RedisServer::start_with(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]);
    let broker = Broker::new(server.url(), "restart");
    let (log, mut rx) = node(&broker).await;
    let before = log.append(vec![item("a", "1", "before")]).await.unwrap()[0]
        .event
        .id;
    assert_eq!(event_ids(&commits(&mut rx, 1).await), [before]);
    server.stop();
    let started = std::time::Instant::now();
    match log.append(vec![item("a", "2", "while down")]).await {
        Err(LogError::Unavailable(_)) => {}
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast: {:?}",
        started.elapsed()
    );
    assert!(!log.healthy());
    server.restart();
    // The connection comes back by itself (a call or two may still see the old one fail).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let after = loop {
        match log.append(vec![item("a", "3", "after")]).await {
            Ok(appended) => break appended[0].event.id,
            Err(LogError::Unavailable(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("redis did not come back: {other}"),
        }
    };
    assert_eq!(
        event_ids(&commits(&mut rx, 1).await),
        [after],
        "the tail resumes exactly"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "nothing more, nothing twice"
    );
    let history = events_after(&log, EventId::ZERO, &selection(&["a"])).await;
    let titles: Vec<&str> = history.iter().map(|(_, data)| data.as_str()).collect();
    assert_eq!(titles, ["{\"title\":\"before\"}", "{\"title\":\"after\"}"]);
    assert!(log.healthy());
}
