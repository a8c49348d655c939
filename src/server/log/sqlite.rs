//! The embedded event log: one SQLite file (bundled SQLite, WAL mode) in the data directory.
//!
//! One writer connection serialises appends; a small pool of reader connections serves
//! replays and snapshots concurrently (WAL readers never block the writer). Blocking database
//! calls run on tokio's blocking pool, never on a runtime worker. The schema is versioned with
//! `PRAGMA user_version`; a newer schema than this build knows is refused, never rewritten.
//!
//! Durability: `synchronous = NORMAL` in WAL mode survives a killed process (`kill -9`); the
//! last id is stored in the same transaction as the events, so ids keep increasing after a
//! crash or restart even when retention has deleted every event.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{
    Appended, BoxFuture, Commit, CommitSink, EventKind, EventLog, Expired, LogError, LoggedEvent,
    NewEvent, PruneStats, ReplayStart, Selection, Snapshot, StateChange, now_millis, replay_gap,
    stored_event,
};
use crate::config::RetentionPolicy;
use crate::protocol::{ChannelId, ChannelInfo, EventId, ItemKey, RetractKind};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Live news items kept per channel; older ones leave the current state (not the history).
pub const MAX_LIVE_ITEMS: u64 = 500;

/// Reader connections kept open for replays and snapshots.
const READERS: usize = 4;

/// Schema migrations; entry `n` upgrades version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[r"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- The append-only history, in id order.
    CREATE TABLE events (
        ms      INTEGER NOT NULL,
        seq     INTEGER NOT NULL,
        channel TEXT NOT NULL,
        kind    TEXT NOT NULL,
        key     TEXT,
        data    TEXT NOT NULL,
        PRIMARY KEY (ms, seq)
    ) WITHOUT ROWID;
    CREATE INDEX events_by_channel ON events (channel, ms, seq);
    -- Current state: live items and alerts, latest weather per cell.
    CREATE TABLE entries (
        channel    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        key        TEXT NOT NULL,
        ms         INTEGER NOT NULL,
        seq        INTEGER NOT NULL,
        data       TEXT NOT NULL,
        expires_ms INTEGER,
        PRIMARY KEY (channel, kind, key)
    ) WITHOUT ROWID;
    CREATE INDEX entries_newest ON entries (channel, kind, ms DESC, seq DESC);
    CREATE INDEX entries_expiry ON entries (expires_ms) WHERE expires_ms IS NOT NULL;
    -- Per channel: its metadata and how far retention has deleted its history.
    CREATE TABLE channels (
        channel    TEXT PRIMARY KEY,
        info       TEXT,
        info_ms    INTEGER,
        info_seq   INTEGER,
        pruned_ms  INTEGER NOT NULL DEFAULT 0,
        pruned_seq INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
"];

fn db(error: rusqlite::Error) -> LogError {
    LogError::Database(error.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

struct Writer {
    conn: Connection,
    last: EventId,
    sink: Option<CommitSink>,
}

struct Inner {
    path: PathBuf,
    /// Held for the log's lifetime: a second server on the same file would reuse ids.
    _lock: std::fs::File,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    reader_permits: tokio::sync::Semaphore,
}

/// The SQLite event log. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct SqliteLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLog")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn open_connection(path: &Path) -> Result<Connection, LogError> {
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db)?;
    Ok(conn)
}

/// Takes an exclusive lock on `<log>.lock` (released by the OS even after `kill -9`).
fn lock_file(path: &Path) -> Result<std::fs::File, LogError> {
    let lock_path = path.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| LogError::Database(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::Locked(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(LogError::Database(format!(
            "cannot lock {}: {e}",
            lock_path.display()
        ))),
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LogError> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db)?;
    if found > SCHEMA_VERSION {
        return Err(LogError::NewerSchema {
            path: path.display().to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    for (index, script) in MIGRATIONS.iter().enumerate().skip(start) {
        let tx = conn.transaction().map_err(db)?;
        tx.execute_batch(script).map_err(db)?;
        tx.pragma_update(None, "user_version", to_sql(index as u64 + 1))
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

/// The event id stored in `meta` under `name` (`0-0` when there is none).
fn read_meta_id(conn: &Connection, name: &str) -> Result<EventId, LogError> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()
        .map_err(db)?;
    match stored {
        Some(text) => text
            .parse()
            .map_err(|_| LogError::Corrupt(EventId::ZERO, format!("meta.{name} {text:?}"))),
        None => Ok(EventId::ZERO),
    }
}

fn read_last_id(conn: &Connection) -> Result<EventId, LogError> {
    let stored = read_meta_id(conn, "last_id")?;
    let newest: Option<(i64, i64)> = conn
        .query_row(
            "SELECT ms, seq FROM events ORDER BY ms DESC, seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let newest = newest.map_or(EventId::ZERO, |(ms, seq)| {
        EventId::new(from_sql(ms), from_sql(seq))
    });
    Ok(stored.max(newest))
}

/// Records where this log began, once: a new, empty log begins now; a log that already has
/// events (made before the origin was recorded) keeps `0-0`, "unknown". An id older than the
/// origin cannot be from this log: a client holding one followed a log that was reset or
/// replaced, and gets a gap instead of a replay merged into stale content.
fn record_origin(conn: &Connection, last: EventId) -> Result<(), LogError> {
    let origin = if last == EventId::ZERO {
        EventId::new(now_millis(), 0)
    } else {
        EventId::ZERO
    };
    conn.execute(
        "INSERT INTO meta (name, value) VALUES ('origin', ?1) ON CONFLICT (name) DO NOTHING",
        params![origin.to_string()],
    )
    .map_err(db)?;
    Ok(())
}

type Row = (i64, i64, String, String, Option<String>, String);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn into_event(row: Row) -> Result<LoggedEvent, LogError> {
    let (ms, seq, channel, kind, key, data) = row;
    stored_event(
        EventId::new(from_sql(ms), from_sql(seq)),
        channel,
        &kind,
        key,
        data,
    )
}

fn entry_kind(kind: RetractKind) -> &'static str {
    match kind {
        RetractKind::Item => "item",
        RetractKind::Alert => "alert",
    }
}

impl SqliteLog {
    /// Opens (creating if needed) the log at `path`. Committed events go to `sink`, in order.
    /// Blocking: call at startup or from a blocking context.
    pub fn open(path: &Path, sink: Option<CommitSink>) -> Result<Self, LogError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                LogError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let lock = lock_file(path)?;
        let mut conn = open_connection(path)?;
        migrate(&mut conn, path)?;
        let last = read_last_id(&conn)?;
        record_origin(&conn, last)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_connection(path)?);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                _lock: lock,
                writer: Mutex::new(Writer { conn, last, sink }),
                readers: Mutex::new(readers),
                reader_permits: tokio::sync::Semaphore::new(READERS),
            }),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stops handing commits to the sink (the hub is going away).
    pub fn detach_sink(&self) {
        lock(&self.inner.writer).sink = None;
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Writer) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&mut lock(&inner.writer)))
            .await
            .map_err(|e| LogError::Database(format!("writer task failed: {e}")))?
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let _permit = self
            .inner
            .reader_permits
            .acquire()
            .await
            .map_err(|_| LogError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let taken = lock(&inner.readers).pop();
            let mut conn = match taken {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = work(&mut conn);
            lock(&inner.readers).push(conn);
            result
        })
        .await
        .map_err(|e| LogError::Database(format!("reader task failed: {e}")))?
    }
}

fn append_blocking(writer: &mut Writer, events: Vec<NewEvent>) -> Result<Vec<Appended>, LogError> {
    let now = now_millis();
    let mut last = writer.last;
    let mut appended = Vec::with_capacity(events.len());
    let tx = writer.conn.transaction().map_err(db)?;
    for event in events {
        let id = last.next_after(now);
        last = id;
        let (ms, seq) = (to_sql(id.millis), to_sql(id.seq));
        let key = match &event.change {
            StateChange::Upsert { key, .. } | StateChange::Remove { key, .. } => Some(key.clone()),
            StateChange::ChannelInfo => None,
        };
        tx.execute(
            "INSERT INTO events (ms, seq, channel, kind, key, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![ms, seq, event.channel.as_str(), event.kind.as_str(), key.as_ref().map(ItemKey::as_str), event.data],
        )
        .map_err(db)?;
        let replaced = match &event.change {
            StateChange::Upsert {
                key,
                expires_millis,
            } => {
                let kind = event.kind.as_str();
                let existed = tx
                    .query_row(
                        "SELECT 1 FROM entries WHERE channel = ?1 AND kind = ?2 AND key = ?3
                           AND (expires_ms IS NULL OR expires_ms > ?4)",
                        params![event.channel.as_str(), kind, key.as_str(), to_sql(now)],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(db)?
                    .is_some();
                tx.execute(
                    "INSERT INTO entries (channel, kind, key, ms, seq, data, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (channel, kind, key) DO UPDATE SET
                        ms = excluded.ms, seq = excluded.seq, data = excluded.data,
                        expires_ms = excluded.expires_ms",
                    params![
                        event.channel.as_str(),
                        kind,
                        key.as_str(),
                        ms,
                        seq,
                        event.data,
                        expires_millis.map(to_sql)
                    ],
                )
                .map_err(db)?;
                existed
            }
            StateChange::Remove { key, kind } => {
                tx.execute(
                    "DELETE FROM entries WHERE channel = ?1 AND kind = ?2 AND key = ?3",
                    params![event.channel.as_str(), entry_kind(*kind), key.as_str()],
                )
                .map_err(db)?
                    > 0
            }
            StateChange::ChannelInfo => {
                tx.execute(
                    "INSERT INTO channels (channel, info, info_ms, info_seq) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (channel) DO UPDATE SET
                        info = excluded.info, info_ms = excluded.info_ms, info_seq = excluded.info_seq",
                    params![event.channel.as_str(), event.data, ms, seq],
                )
                .map_err(db)?;
                true
            }
        };
        appended.push(Appended {
            event: LoggedEvent {
                id,
                channel: event.channel,
                kind: event.kind,
                key,
                data: Arc::from(event.data),
            },
            replaced,
        });
    }
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('last_id', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![last.to_string()],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    writer.last = last;
    // Still under the writer lock: the hub sees commits in exactly id order.
    if let Some(sink) = &writer.sink {
        for entry in &appended {
            if sink.send(Commit::Event(entry.event.clone())).is_err() {
                writer.sink = None;
                break;
            }
        }
    }
    Ok(appended)
}

fn pruned_through(conn: &Connection, channel: &ChannelId) -> Result<EventId, LogError> {
    let found: Option<(i64, i64)> = conn
        .query_row(
            "SELECT pruned_ms, pruned_seq FROM channels WHERE channel = ?1",
            params![channel.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    Ok(found.map_or(EventId::ZERO, |(ms, seq)| {
        EventId::new(from_sql(ms), from_sql(seq))
    }))
}

fn placeholders(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn replay_blocking(
    conn: &mut Connection,
    after: EventId,
    selection: &Selection,
    limit: usize,
) -> Result<ReplayStart, LogError> {
    let tx = conn.transaction().map_err(db)?;
    let head = read_last_id(&tx)?;
    let mut oldest = EventId::ZERO;
    for channel in &selection.channels {
        oldest = oldest.max(pruned_through(&tx, channel)?);
    }
    let origin = read_meta_id(&tx, "origin")?;
    if let Some(gap) = replay_gap(after, head, origin, oldest) {
        return Ok(gap);
    }
    if selection.channels.is_empty() {
        return Ok(ReplayStart::Events {
            events: Vec::new(),
            next_after: None,
        });
    }
    let sql = format!(
        "SELECT ms, seq, channel, kind, key, data FROM events
         WHERE (ms > ?1 OR (ms = ?1 AND seq > ?2)) AND channel IN ({})
         ORDER BY ms, seq LIMIT ?3",
        placeholders(selection.channels.len(), 4)
    );
    let mut statement = tx.prepare_cached(&sql).map_err(db)?;
    let mut values: Vec<rusqlite::types::Value> = vec![
        to_sql(after.millis).into(),
        to_sql(after.seq).into(),
        to_sql(limit as u64).into(),
    ];
    values.extend(
        selection
            .channels
            .iter()
            .map(|c| c.as_str().to_owned().into()),
    );
    let rows = statement
        .query_map(params_from_iter(values), read_row)
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let full_page = rows.len() >= limit;
    let mut events = Vec::with_capacity(rows.len());
    let mut scanned = after;
    for row in rows {
        let event = into_event(row)?;
        scanned = event.id;
        // Weather of cells the subscriber did not ask for is left out here, not in SQL.
        if selection.wants(&event.channel, event.kind, event.key.as_ref()) {
            events.push(event);
        }
    }
    Ok(ReplayStart::Events {
        events,
        next_after: full_page.then_some(scanned),
    })
}

fn snapshot_blocking(
    conn: &mut Connection,
    selection: &Selection,
    items_per_channel: usize,
) -> Result<Snapshot, LogError> {
    let tx = conn.transaction().map_err(db)?;
    let head = read_last_id(&tx)?;
    let now = to_sql(now_millis());
    let mut events = Vec::new();
    for channel in &selection.channels {
        let info: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT info_ms, info_seq, info FROM channels WHERE channel = ?1 AND info IS NOT NULL",
                params![channel.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(db)?;
        if let Some((ms, seq, data)) = info {
            events.push(stored_event(
                EventId::new(from_sql(ms), from_sql(seq)),
                channel.as_str().to_owned(),
                "channel",
                None,
                data,
            )?);
        }
        let mut newest = tx
            .prepare_cached(
                "SELECT ms, seq, channel, kind, key, data FROM entries
                 WHERE channel = ?1 AND kind = ?2 AND (expires_ms IS NULL OR expires_ms > ?3)
                 ORDER BY ms DESC, seq DESC LIMIT ?4",
            )
            .map_err(db)?;
        // Alerts are few and all matter: every live one is sent, whatever the item limit.
        for (kind, limit) in [("item", to_sql(items_per_channel as u64)), ("alert", -1)] {
            let rows = newest
                .query_map(params![channel.as_str(), kind, now, limit], read_row)
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            for row in rows {
                let event = into_event(row)?;
                // Location-scoped alerts of other cells are not this subscriber's.
                if selection.wants(&event.channel, event.kind, event.key.as_ref()) {
                    events.push(event);
                }
            }
        }
        for cell in &selection.cells {
            let row = tx
                .query_row(
                    "SELECT ms, seq, channel, kind, key, data FROM entries
                     WHERE channel = ?1 AND kind = 'weather' AND key = ?2",
                    params![channel.as_str(), cell.as_str()],
                    read_row,
                )
                .optional()
                .map_err(db)?;
            if let Some(row) = row {
                events.push(into_event(row)?);
            }
        }
    }
    events.sort_by_key(|event| event.id);
    Ok(Snapshot { events, head })
}

fn prune_blocking(
    conn: &mut Connection,
    channel: &ChannelId,
    policy: RetentionPolicy,
    now: u64,
) -> Result<PruneStats, LogError> {
    let tx = conn.transaction().map_err(db)?;
    let by_count: Option<(i64, i64)> = tx
        .query_row(
            "SELECT ms, seq FROM events WHERE channel = ?1 ORDER BY ms DESC, seq DESC LIMIT 1 OFFSET ?2",
            params![channel.as_str(), to_sql(policy.max_events)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let age_millis = u64::try_from(policy.max_age.as_millis()).unwrap_or(u64::MAX);
    let cutoff = to_sql(now.saturating_sub(age_millis));
    let by_age: Option<(i64, i64)> = tx
        .query_row(
            "SELECT ms, seq FROM events WHERE channel = ?1 AND ms < ?2 ORDER BY ms DESC, seq DESC LIMIT 1",
            params![channel.as_str(), cutoff],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    // Live news items are state, not history, but feeds roll forever: keep the newest.
    let aged_out = tx
        .execute(
            "DELETE FROM entries WHERE channel = ?1 AND kind = 'item' AND (ms, seq) <
               (SELECT ms, seq FROM entries WHERE channel = ?1 AND kind = 'item'
                ORDER BY ms DESC, seq DESC LIMIT 1 OFFSET ?2)",
            params![channel.as_str(), to_sql(MAX_LIVE_ITEMS - 1)],
        )
        .map_err(db)?;
    let through = by_count.max(by_age);
    let Some((ms, seq)) = through else {
        tx.commit().map_err(db)?;
        return Ok(PruneStats {
            deleted: 0,
            aged_out: aged_out as u64,
        });
    };
    let deleted = tx
        .execute(
            "DELETE FROM events WHERE channel = ?1 AND (ms < ?2 OR (ms = ?2 AND seq <= ?3))",
            params![channel.as_str(), ms, seq],
        )
        .map_err(db)?;
    tx.execute(
        "INSERT INTO channels (channel, pruned_ms, pruned_seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (channel) DO UPDATE SET pruned_ms = excluded.pruned_ms, pruned_seq = excluded.pruned_seq
         WHERE excluded.pruned_ms > pruned_ms OR (excluded.pruned_ms = pruned_ms AND excluded.pruned_seq > pruned_seq)",
        params![channel.as_str(), ms, seq],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(PruneStats {
        deleted: deleted as u64,
        aged_out: aged_out as u64,
    })
}

impl EventLog for SqliteLog {
    fn append(&self, events: Vec<NewEvent>) -> BoxFuture<'_, Result<Vec<Appended>, LogError>> {
        Box::pin(self.write(move |writer| append_blocking(writer, events)))
    }

    fn replay(
        &self,
        after: EventId,
        selection: &Selection,
        limit: usize,
    ) -> BoxFuture<'_, Result<ReplayStart, LogError>> {
        let selection = selection.clone();
        Box::pin(self.read(move |conn| replay_blocking(conn, after, &selection, limit)))
    }

    fn snapshot(
        &self,
        selection: &Selection,
        items_per_channel: usize,
    ) -> BoxFuture<'_, Result<Snapshot, LogError>> {
        let selection = selection.clone();
        Box::pin(self.read(move |conn| snapshot_blocking(conn, &selection, items_per_channel)))
    }

    fn entries(
        &self,
        channel: &ChannelId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedEvent>, LogError>> {
        let channel = channel.clone();
        Box::pin(self.read(move |conn| {
            let now = to_sql(now_millis());
            let mut statement = conn
                .prepare_cached(
                    "SELECT ms, seq, channel, kind, key, data FROM entries
                     WHERE channel = ?1 AND kind IN ('item', 'alert')
                       AND (expires_ms IS NULL OR expires_ms > ?2)
                     ORDER BY ms DESC, seq DESC LIMIT ?3",
                )
                .map_err(db)?;
            let rows = statement
                .query_map(
                    params![channel.as_str(), now, to_sql(limit as u64)],
                    read_row,
                )
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter().map(into_event).collect()
        }))
    }

    fn entry(
        &self,
        channel: &ChannelId,
        kind: EventKind,
        key: &ItemKey,
    ) -> BoxFuture<'_, Result<Option<LoggedEvent>, LogError>> {
        let (channel, key) = (channel.clone(), key.clone());
        Box::pin(self.read(move |conn| {
            let row = conn
                .query_row(
                    "SELECT ms, seq, channel, kind, key, data FROM entries
                     WHERE channel = ?1 AND kind = ?2 AND key = ?3
                       AND (expires_ms IS NULL OR expires_ms > ?4)",
                    params![
                        channel.as_str(),
                        kind.as_str(),
                        key.as_str(),
                        to_sql(now_millis())
                    ],
                    read_row,
                )
                .optional()
                .map_err(db)?;
            row.map(into_event).transpose()
        }))
    }

    fn latest_change(
        &self,
        channel: &ChannelId,
    ) -> BoxFuture<'_, Result<Option<EventId>, LogError>> {
        let channel = channel.clone();
        Box::pin(self.read(move |conn| {
            // History first; if retention emptied it, the newest live entry still tells.
            let mut newest = None;
            for sql in [
                "SELECT ms, seq FROM events WHERE channel = ?1 AND kind != 'channel'
                 ORDER BY ms DESC, seq DESC LIMIT 1",
                "SELECT ms, seq FROM entries WHERE channel = ?1 ORDER BY ms DESC, seq DESC LIMIT 1",
            ] {
                let found: Option<(i64, i64)> = conn
                    .query_row(sql, params![channel.as_str()], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()
                    .map_err(db)?;
                let found = found.map(|(ms, seq)| EventId::new(from_sql(ms), from_sql(seq)));
                newest = newest.max(found);
            }
            Ok(newest)
        }))
    }

    fn channel_infos(&self) -> BoxFuture<'_, Result<Vec<(ChannelInfo, EventId)>, LogError>> {
        Box::pin(self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT info_ms, info_seq, info FROM channels WHERE info IS NOT NULL",
                )
                .map_err(db)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|(ms, seq, data)| {
                    let id = EventId::new(from_sql(ms), from_sql(seq));
                    serde_json::from_str(&data)
                        .map(|info| (info, id))
                        .map_err(|e| LogError::Corrupt(id, e.to_string()))
                })
                .collect()
        }))
    }

    fn expired(&self, now_millis: u64) -> BoxFuture<'_, Result<Vec<Expired>, LogError>> {
        Box::pin(self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT channel, kind, key FROM entries
                     WHERE expires_ms IS NOT NULL AND expires_ms <= ?1 AND kind IN ('item', 'alert')
                     ORDER BY expires_ms LIMIT 1000",
                )
                .map_err(db)?;
            let rows = statement
                .query_map(params![to_sql(now_millis)], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            rows.into_iter()
                .map(|(channel, kind, key)| {
                    let corrupt = |message: String| LogError::Corrupt(EventId::ZERO, message);
                    Ok(Expired {
                        channel: ChannelId::new(channel).map_err(|e| corrupt(e.to_string()))?,
                        key: ItemKey::new(key).map_err(|e| corrupt(e.to_string()))?,
                        kind: if kind == "alert" {
                            RetractKind::Alert
                        } else {
                            RetractKind::Item
                        },
                    })
                })
                .collect()
        }))
    }

    fn prune(
        &self,
        channel: &ChannelId,
        policy: RetentionPolicy,
        now_millis: u64,
    ) -> BoxFuture<'_, Result<PruneStats, LogError>> {
        let channel = channel.clone();
        // Pruning writes: take the writer so it never races an append.
        Box::pin(
            self.write(move |writer| {
                prune_blocking(&mut writer.conn, &channel, policy, now_millis)
            }),
        )
    }

    fn head(&self) -> BoxFuture<'_, Result<EventId, LogError>> {
        Box::pin(self.write(|writer| Ok(writer.last)))
    }
}
