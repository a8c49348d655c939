//! The ordered, durable event log: every event the server pushes is appended here first, and
//! subscribers are fed only from it (through the hub), so replay by `Last-Event-ID` is always
//! possible and one node or several behave the same.
//!
//! [`EventLog`] is the storage contract; [`sqlite::SqliteLog`] is the embedded backend and
//! `redis::RedisLog` (feature `redis`) the shared one for several server nodes. Besides
//! the append-only history the log keeps the *current state* (live items and alerts per
//! channel, latest weather per cell, channel metadata) so that snapshots and the read API do not
//! have to fold the history.

#[cfg(feature = "redis")]
pub mod redis;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::RetentionPolicy;
use crate::protocol::{ChannelId, ChannelInfo, EventId, ItemKey, RetractKind};

/// A boxed future, so [`EventLog`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the log failed. Storage faults are server errors; clients see a 500 or a closed stream.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The database reported an error.
    #[error("event log database error: {0}")]
    Database(String),
    /// The data directory holds a schema this version does not understand.
    #[error(
        "the event log at {path} has schema version {found}, newer than this server's {supported}; upgrade tidings-server"
    )]
    NewerSchema {
        /// Database file.
        path: String,
        /// Version on disk.
        found: i64,
        /// Version this build writes.
        supported: i64,
    },
    /// Another server process has the log open.
    #[error(
        "the event log {0} is in use by another tidings-server; give each server its own --data-dir"
    )]
    Locked(String),
    /// A stored event could not be read back.
    #[error("event log entry {0} is corrupt: {1}")]
    Corrupt(EventId, String),
    /// The log has been closed (server shutting down).
    #[error("event log is closed")]
    Closed,
    /// The shared store cannot be reached right now (Redis down, restarting or loading): the
    /// request may succeed later. Publishers get a 503 with `Retry-After`, never a 201.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// The append was made under a lease this node no longer holds: another node took the
    /// source over, so this node's result is stale and was not stored.
    #[error("not stored: {0}")]
    Fenced(String),
}

/// The kind of a logged event, which is also its SSE `event:` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `item`
    Item,
    /// `alert`
    Alert,
    /// `weather`
    Weather,
    /// `retract`
    Retract,
    /// `channel`
    Channel,
}

impl EventKind {
    /// The SSE event name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Item => "item",
            Self::Alert => "alert",
            Self::Weather => "weather",
            Self::Retract => "retract",
            Self::Channel => "channel",
        }
    }

    /// Parses a stored kind.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "item" => Self::Item,
            "alert" => Self::Alert,
            "weather" => Self::Weather,
            "retract" => Self::Retract,
            "channel" => Self::Channel,
            _ => return None,
        })
    }
}

/// What an appended event does to the current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// Upsert the item/alert/weather entry `key` of this kind; it ends at `expires_millis`.
    Upsert {
        /// The entry's key (item key, alert key, or weather cell).
        key: ItemKey,
        /// When it expires, if ever.
        expires_millis: Option<u64>,
    },
    /// Remove entry `key`.
    Remove {
        /// The entry's key.
        key: ItemKey,
        /// Whether an item or an alert.
        kind: RetractKind,
    },
    /// Replace the channel's metadata.
    ChannelInfo,
}

/// An event to append: its channel, kind, JSON payload and effect on the state.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The channel.
    pub channel: ChannelId,
    /// The event type.
    pub kind: EventKind,
    /// The JSON `data:` payload, one line.
    pub data: String,
    /// Effect on the current state.
    pub change: StateChange,
}

/// An event as stored in the log. `data` is shared, so fan-out and replay never copy it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// Its position in the log.
    pub id: EventId,
    /// The channel.
    pub channel: ChannelId,
    /// The event type.
    pub kind: EventKind,
    /// The entry key (item/alert key, weather cell), if any.
    pub key: Option<ItemKey>,
    /// The JSON payload.
    pub data: Arc<str>,
}

/// The result of one append.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The stored event.
    pub event: LoggedEvent,
    /// Whether an existing entry with the same key was replaced (or removed).
    pub replaced: bool,
}

/// Which events a subscriber wants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Channels (what replays and snapshots read).
    pub channels: Vec<ChannelId>,
    /// Also every channel added to the catalog later (a stream that asked for no list).
    pub follow_catalog: bool,
    /// Weather cells (weather events of other cells are left out).
    pub cells: Vec<ItemKey>,
}

impl Selection {
    /// Whether an event belongs to this selection.
    #[must_use]
    pub fn wants(&self, channel: &ChannelId, kind: EventKind, key: Option<&ItemKey>) -> bool {
        if !self.follow_catalog && !self.channels.contains(channel) {
            return false;
        }
        match (kind, key) {
            (EventKind::Weather, Some(cell)) => self.cells.contains(cell),
            (EventKind::Weather, None) => false,
            (_, Some(key)) => match scoped_cell(key.as_str()) {
                Some(cell) => self.cells.iter().any(|wanted| wanted.as_str() == cell),
                None => true,
            },
            (_, None) => true,
        }
    }
}

/// The weather cell a location-scoped key is meant for: keys of the form `@<cell>:<rest>`
/// (e.g. `@39.1,-94.6:nws:urn:oid:…`) reach only streams subscribed to that cell. Severe-weather
/// alerts use them, so a desk in Berlin is not shown a tornado warning for Kansas.
#[must_use]
pub fn scoped_cell(key: &str) -> Option<&str> {
    key.strip_prefix('@')?.split_once(':').map(|(cell, _)| cell)
}

/// Where a replay starts.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayStart {
    /// History after the requested id is complete: these are the selected events of the next
    /// page (at most the page size).
    Events {
        /// The selected events, in id order.
        events: Vec<LoggedEvent>,
        /// When the page was full: ask again after this id for the rest.
        next_after: Option<EventId>,
    },
    /// History after the requested id is no longer (or was never) in the log.
    Gap {
        /// The oldest id a replay could start after, if any history is kept.
        oldest: Option<EventId>,
        /// Why, for the `gap` event.
        reason: String,
    },
}

/// The current state of some channels, consistent with the log up to `head`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Channel metadata, live entries and weather, ordered by event id.
    pub events: Vec<LoggedEvent>,
    /// The last event id in the whole log when the snapshot was taken.
    pub head: EventId,
}

/// A live entry that has passed its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The channel.
    pub channel: ChannelId,
    /// The key.
    pub key: ItemKey,
    /// Item or alert (weather entries do not expire this way).
    pub kind: RetractKind,
}

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneStats {
    /// Events deleted.
    pub deleted: u64,
    /// Live items dropped from the current state beyond the per-channel maximum.
    pub aged_out: u64,
}

/// The event log contract, implemented by every storage backend and checked by one contract
/// test suite (`tests/log_contract.rs`).
///
/// Appends are totally ordered: ids strictly increase, also across restarts and crashes. Each
/// committed event is handed, in id order, to the commit sink given at construction, which
/// feeds the hub.
pub trait EventLog: Send + Sync + 'static {
    /// Appends events atomically, in order, and returns them with their ids.
    fn append(&self, events: Vec<NewEvent>) -> BoxFuture<'_, Result<Vec<Appended>, LogError>>;

    /// The first `limit` events after `after` in `selection`, or a gap if history after `after`
    /// is not complete (pruned, or `after` is ahead of the log).
    fn replay(
        &self,
        after: EventId,
        selection: &Selection,
        limit: usize,
    ) -> BoxFuture<'_, Result<ReplayStart, LogError>>;

    /// Current state for `selection`: channel metadata, the newest `items_per_channel` items
    /// per channel, every live alert, the weather of the selected cells.
    fn snapshot(
        &self,
        selection: &Selection,
        items_per_channel: usize,
    ) -> BoxFuture<'_, Result<Snapshot, LogError>>;

    /// Live items or alerts of one channel, newest first.
    fn entries(
        &self,
        channel: &ChannelId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedEvent>, LogError>>;

    /// The live entry `key` of `kind` (item, alert or weather) in `channel`, if any.
    fn entry(
        &self,
        channel: &ChannelId,
        kind: EventKind,
        key: &ItemKey,
    ) -> BoxFuture<'_, Result<Option<LoggedEvent>, LogError>>;

    /// The id of the newest event that changed `channel`'s content (not its metadata), if the
    /// log still knows one.
    fn latest_change(
        &self,
        channel: &ChannelId,
    ) -> BoxFuture<'_, Result<Option<EventId>, LogError>>;

    /// The stored metadata of every channel that has any.
    fn channel_infos(&self) -> BoxFuture<'_, Result<Vec<(ChannelInfo, EventId)>, LogError>>;

    /// Entries whose expiry is at or before `now_millis`.
    fn expired(&self, now_millis: u64) -> BoxFuture<'_, Result<Vec<Expired>, LogError>>;

    /// Applies retention to one channel's history.
    fn prune(
        &self,
        channel: &ChannelId,
        policy: RetentionPolicy,
        now_millis: u64,
    ) -> BoxFuture<'_, Result<PruneStats, LogError>>;

    /// The id of the newest event, or [`EventId::ZERO`] for an empty log.
    fn head(&self) -> BoxFuture<'_, Result<EventId, LogError>>;

    /// Whether the store answered lately and commits reach the hub (a shared store can be
    /// unreachable for a while; an embedded one always answers or fails outright).
    fn healthy(&self) -> bool {
        true
    }
}

/// What a log hands its hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Commit {
    /// The next committed event, in id order.
    Event(LoggedEvent),
    /// Events may have been committed that this node will never hand over (its tail of a
    /// shared log fell behind what the store keeps, or the store lost writes in a crash).
    /// Every open stream must resume from the log, so the hub ends them all; clients
    /// reconnect with `Last-Event-ID` and replay exactly what they miss.
    Lost(String),
}

/// Receives committed events in id order; feeds the hub.
pub type CommitSink = tokio::sync::mpsc::UnboundedSender<Commit>;

/// Builds a logged event from its stored columns, checking each.
pub(crate) fn stored_event(
    id: EventId,
    channel: String,
    kind: &str,
    key: Option<String>,
    data: String,
) -> Result<LoggedEvent, LogError> {
    let channel = ChannelId::new(channel).map_err(|e| LogError::Corrupt(id, e.to_string()))?;
    let kind = EventKind::parse(kind)
        .ok_or_else(|| LogError::Corrupt(id, format!("unknown kind {kind:?}")))?;
    let key = key
        .map(ItemKey::new)
        .transpose()
        .map_err(|e| LogError::Corrupt(id, e.to_string()))?;
    Ok(LoggedEvent {
        id,
        channel,
        kind,
        key,
        data: Arc::from(data),
    })
}

/// Whether a resume after `after` cannot be an exact replay, and why: the same rules for every
/// backend. `head` is the newest id, `origin` where the log began (`0-0`: unknown), `oldest`
/// the newest id retention deleted in the selected channels.
pub(crate) fn replay_gap(
    after: EventId,
    head: EventId,
    origin: EventId,
    oldest: EventId,
) -> Option<ReplayStart> {
    let oldest_known = (oldest > EventId::ZERO).then_some(oldest);
    let reason = if after > head {
        format!(
            "event id {after} is newer than this server's log (last is {head}); the log may have been reset"
        )
    } else if after != EventId::ZERO && after < origin {
        // `0-0` asks for all of history, which is always from this log.
        format!(
            "event id {after} is older than this server's log (begun at {origin}); the log may have been reset"
        )
    } else if after < oldest {
        format!("history after {after} is no longer retained (kept after {oldest})")
    } else {
        return None;
    };
    Some(ReplayStart::Gap {
        oldest: oldest_known,
        reason,
    })
}

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_millis() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}
