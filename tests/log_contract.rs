//! The contract every `EventLog` backend must keep, run against each backend (SQLite today;
//! Redis Streams joins when it lands): ordering, durability across reopen, upserts by key,
//! replay pages and gaps, retention, snapshots, expiry, schema versioning.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tidings::config::RetentionPolicy;
use tidings::protocol::{ChannelId, EventId, ItemKey, RetractKind};
use tidings::server::log::sqlite::SqliteLog;
use tidings::server::log::{
    EventKind, EventLog, LogError, NewEvent, ReplayStart, Selection, StateChange, now_millis,
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
        cells: Vec::new(),
    }
}

/// A backend under test: opens (or reopens) the same store.
trait Backend {
    fn open(&self) -> Arc<dyn EventLog>;
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    fn open(&self) -> Arc<dyn EventLog> {
        Arc::new(SqliteLog::open(&self.0.path().join("events.sqlite3"), None).unwrap())
    }
}

fn backends() -> Vec<(&'static str, Box<dyn Backend>)> {
    vec![("sqlite", Box::new(Sqlite(tempfile::tempdir().unwrap())))]
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
        let log = backend.open();
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
        let log = backend.open();
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
        let log = backend.open();
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
        let log = backend.open();
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
        let log = backend.open();
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
        let log = backend.open();
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
        let log = backend.open();
        assert!(matches!(
            log.replay(before, &selection(&["a"]), 10).await.unwrap(),
            ReplayStart::Gap { .. }
        ));
    }
}

#[tokio::test]
async fn snapshot_is_newest_items_per_channel_and_live_alerts_in_id_order() {
    for (name, backend) in backends() {
        let log = backend.open();
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
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteLog::open(&dir.path().join("events.sqlite3"), None).unwrap();
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
    assert_eq!(stats.aged_out, 25);
    let newest = log.entries(&channel("a"), 1).await.unwrap();
    assert_eq!(
        newest[0].key.as_ref().unwrap().as_str(),
        format!("k{}", limit + 24)
    );
    assert!(
        log.entry(&channel("a"), EventKind::Item, &key("k0"))
            .await
            .unwrap()
            .is_none()
    );
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
