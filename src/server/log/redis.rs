//! The shared event log on Redis Streams, for several server nodes behind a load balancer.
//!
//! Every operation is one call of a Redis function (`redis.lua`, loaded at open), so an event
//! and its state change are committed together and every node reads a consistent state. Ids are
//! the Redis stream ids of one stream holding every event (`<millis>-<seq>`, the same form as
//! the SQLite log's), so a `Last-Event-ID` is valid on any node. History is kept per channel
//! (one stream each, same ids) so retention can trim channels independently; replay reads and
//! merges those.
//!
//! Each node's hub is fed by one task tailing the all-events stream with `XREAD BLOCK`, in id
//! order. Events carry a running number, so the tail notices when it missed some (it fell
//! behind the stream's cap, or Redis lost writes in a crash) and tells the hub, which sends its
//! streams back to the log to replay ([`Commit::Lost`]).
//!
//! While Redis is unreachable every call fails fast with [`LogError::Unavailable`] (publishers
//! get a 503), the tail retries with backoff, and open streams stay up on heartbeats.
//!
//! Not for Redis Cluster: keys are computed inside the functions, under one prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Value};

use super::{
    Appended, BoxFuture, Commit, CommitSink, EventKind, EventLog, Expired, LogError, LoggedEvent,
    NewEvent, PruneStats, ReplayStart, Selection, Snapshot, StateChange, replay_gap, stored_event,
};
use crate::config::RetentionPolicy;
use crate::config::server::{Broker, redact_password as redacted};
use crate::protocol::{ChannelId, ChannelInfo, EventId, ItemKey, RetractKind};

/// The function library; its name carries the version.
const LIBRARY: &str = include_str!("redis.lua");
/// The schema the library writes.
pub const SCHEMA_VERSION: i64 = 1;
/// Entries the all-events stream keeps (approximately): how far a node's tail may fall behind
/// before its streams must replay from the per-channel history.
pub const TAIL_CAP: u64 = 100_000;
/// How long one Redis command may take before the store counts as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one `XREAD BLOCK` waits for new events.
const TAIL_BLOCK: Duration = Duration::from_secs(5);
/// Events per `XREAD`.
const TAIL_BATCH: usize = 1_000;
/// The tail's reconnect backoff.
const TAIL_RETRY_MIN: Duration = Duration::from_millis(100);
const TAIL_RETRY_MAX: Duration = Duration::from_secs(2);

fn function(name: &str) -> String {
    format!("tidings_v1_{name}")
}

fn classify(error: &redis::RedisError) -> LogError {
    let message = error.to_string();
    if message.contains("FENCED") {
        return LogError::Fenced(message.replace("FENCED ", ""));
    }
    let transient = error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::ReadOnly
                    | redis::ServerErrorKind::ClusterDown
            )
        );
    if transient {
        LogError::Unavailable(message)
    } else {
        LogError::Database(format!("redis: {message}"))
    }
}

fn corrupt(what: impl Into<String>) -> LogError {
    LogError::Corrupt(EventId::ZERO, what.into())
}

fn text(value: Value) -> Result<String, LogError> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| corrupt("a stored value is not UTF-8"))
        }
        Value::SimpleString(text) => Ok(text),
        Value::Int(number) => Ok(number.to_string()),
        Value::Okay => Ok("OK".to_owned()),
        other => Err(corrupt(format!("expected text from redis, got {other:?}"))),
    }
}

fn array(value: Value) -> Result<Vec<Value>, LogError> {
    match value {
        Value::Array(values) | Value::Set(values) => Ok(values),
        Value::Nil => Ok(Vec::new()),
        other => Err(corrupt(format!(
            "expected an array from redis, got {other:?}"
        ))),
    }
}

fn texts(value: Value) -> Result<Vec<String>, LogError> {
    array(value)?.into_iter().map(text).collect()
}

fn event_id(text: &str) -> Result<EventId, LogError> {
    text.parse()
        .map_err(|_| corrupt(format!("bad stream id {text:?}")))
}

fn optional_key(key: String) -> Option<String> {
    (!key.is_empty()).then_some(key)
}

/// `{channel, id, kind, key, data, ...}` rows into events.
fn channel_rows(values: Vec<String>) -> Result<Vec<LoggedEvent>, LogError> {
    let mut rows = values.into_iter();
    let mut events = Vec::new();
    while let (Some(channel), Some(id), Some(kind), Some(key), Some(data)) = (
        rows.next(),
        rows.next(),
        rows.next(),
        rows.next(),
        rows.next(),
    ) {
        events.push(stored_event(
            event_id(&id)?,
            channel,
            &kind,
            optional_key(key),
            data,
        )?);
    }
    Ok(events)
}

/// `{id, kind, key, data, ...}` rows of one channel into events.
fn entry_rows(channel: &ChannelId, values: Vec<String>) -> Result<Vec<LoggedEvent>, LogError> {
    let mut rows = values.into_iter();
    let mut events = Vec::new();
    while let (Some(id), Some(kind), Some(key), Some(data)) =
        (rows.next(), rows.next(), rows.next(), rows.next())
    {
        events.push(stored_event(
            event_id(&id)?,
            channel.as_str().to_owned(),
            &kind,
            optional_key(key),
            data,
        )?);
    }
    Ok(events)
}

fn entry_kind(kind: RetractKind) -> &'static str {
    match kind {
        RetractKind::Item => "item",
        RetractKind::Alert => "alert",
    }
}

/// A lease held by this node: its name and fencing token (see [`RedisLog::acquire_lease`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name (one per source, or one for all of ingest).
    pub lease: String,
    /// The token Redis handed out when this node took the lease; increases with every holder.
    pub token: u64,
}

struct Inner {
    target: Broker,
    conn: ConnectionManager,
    /// Whether the last call (or the tail's last read) reached Redis.
    reachable: Arc<AtomicBool>,
    tail: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(tail) = self
            .tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            tail.abort();
        }
    }
}

/// The Redis Streams event log. Cheap to clone; clones share the connection and the tail.
#[derive(Clone)]
pub struct RedisLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("target", &self.inner.target)
            .finish()
    }
}

/// What `open` learned about the log.
struct Opened {
    last: EventId,
    count: u64,
}

impl RedisLog {
    /// Connects, loads the function library, records where the log began (once) and, when
    /// `sink` is given, starts the tail that hands every committed event to it in id order.
    pub async fn open(target: Broker, sink: Option<CommitSink>) -> Result<Self, LogError> {
        let client = redis::Client::open(target.url.as_str()).map_err(|e| {
            LogError::Database(format!("bad redis URL {}: {e}", redacted(&target.url)))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT * 3,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| LogError::Unavailable(format!("no answer from {}", redacted(&target.url))))?
        .map_err(|e| {
            LogError::Unavailable(format!("cannot reach {}: {e}", redacted(&target.url)))
        })?;
        let log = Self {
            inner: Arc::new(Inner {
                target,
                conn,
                reachable: Arc::new(AtomicBool::new(true)),
                tail: std::sync::Mutex::new(None),
            }),
        };
        log.load_library().await?;
        let opened = log.open_meta().await?;
        if let Some(sink) = sink {
            let tail = tokio::spawn(run_tail(
                client,
                log.inner.target.prefix.clone(),
                sink,
                opened,
                Arc::clone(&log.inner.reachable),
            ));
            *log.inner
                .tail
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tail);
        }
        Ok(log)
    }

    /// The Redis server (password hidden) and key prefix.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{} (keys {}:*)",
            redacted(&self.inner.target.url),
            self.inner.target.prefix
        )
    }

    /// Whether Redis answered the last call and the tail is reading.
    #[must_use]
    pub fn reachable(&self) -> bool {
        self.inner.reachable.load(Ordering::Relaxed)
    }

    /// Stops handing commits to the sink (the hub is going away).
    pub fn detach_sink(&self) {
        if let Some(tail) = self
            .inner
            .tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            tail.abort();
        }
    }

    async fn load_library(&self) -> Result<(), LogError> {
        let mut conn = self.inner.conn.clone();
        let result: Result<Value, _> = tokio::time::timeout(
            COMMAND_TIMEOUT,
            redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg("REPLACE")
                .arg(LIBRARY)
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| LogError::Unavailable("redis did not answer FUNCTION LOAD".to_owned()))?;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.to_string().contains("unknown command") => Err(LogError::Database(
                "this Redis has no functions (FUNCTION LOAD); Tidings needs Redis 7 or newer"
                    .to_owned(),
            )),
            Err(error) => Err(classify(&error)),
        }
    }

    async fn open_meta(&self) -> Result<Opened, LogError> {
        let reply = match self.call("open", Vec::new()).await {
            Err(LogError::Database(message)) if message.contains("NEWER_SCHEMA") => {
                let found = message
                    .split_whitespace()
                    .find_map(|word| word.parse().ok())
                    .unwrap_or(0);
                return Err(LogError::NewerSchema {
                    path: self.describe(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            other => other?,
        };
        let values = texts(reply)?;
        let [_, _, last, count] = values.as_slice() else {
            return Err(corrupt("open: unexpected reply"));
        };
        Ok(Opened {
            last: event_id(last)?,
            count: count.parse().unwrap_or(0),
        })
    }

    /// Calls function `name` with the prefix and `args`; reloads the library once if Redis lost
    /// it (restarted without persistence).
    async fn call(&self, name: &str, args: Vec<String>) -> Result<Value, LogError> {
        let mut attempt = 0;
        loop {
            let mut conn = self.inner.conn.clone();
            let mut command = redis::cmd("FCALL");
            command
                .arg(function(name))
                .arg(0)
                .arg(&self.inner.target.prefix)
                .arg(&args);
            let result =
                tokio::time::timeout(COMMAND_TIMEOUT, command.query_async::<Value>(&mut conn))
                    .await;
            let error = match result {
                Ok(Ok(value)) => {
                    self.inner.reachable.store(true, Ordering::Relaxed);
                    return Ok(value);
                }
                Ok(Err(error)) => error,
                Err(_) => {
                    self.inner.reachable.store(false, Ordering::Relaxed);
                    return Err(LogError::Unavailable(format!(
                        "redis did not answer within {} s",
                        COMMAND_TIMEOUT.as_secs()
                    )));
                }
            };
            let classified = classify(&error);
            if matches!(classified, LogError::Unavailable(_)) {
                self.inner.reachable.store(false, Ordering::Relaxed);
            }
            if attempt == 0 && error.to_string().contains("Function not found") {
                attempt += 1;
                tracing::warn!(
                    "redis lost the tidings functions (restarted empty?); loading them again"
                );
                self.load_library().await?;
                continue;
            }
            return Err(classified);
        }
    }

    /// Takes the lease `name` for `ttl` if no node holds it; the returned fence carries a token
    /// higher than any holder's before. `None`: another node holds it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, LogError> {
        self.lease(name, None, ttl).await
    }

    /// Extends a held lease; `None` when it was lost (expired, and maybe taken by another node).
    pub async fn renew_lease(
        &self,
        fence: &Fence,
        ttl: Duration,
    ) -> Result<Option<Fence>, LogError> {
        self.lease(&fence.lease, Some(fence.token), ttl).await
    }

    async fn lease(
        &self,
        name: &str,
        token: Option<u64>,
        ttl: Duration,
    ) -> Result<Option<Fence>, LogError> {
        let reply = self
            .call(
                "lease",
                vec![
                    name.to_owned(),
                    token.map(|t| t.to_string()).unwrap_or_default(),
                    ttl.as_millis().to_string(),
                ],
            )
            .await?;
        match reply {
            Value::Nil | Value::Boolean(false) => Ok(None),
            other => Ok(text(other)?.parse().ok().map(|token| Fence {
                lease: name.to_owned(),
                token,
            })),
        }
    }

    /// Gives a held lease up (at shutdown), so another node takes over at once.
    pub async fn release_lease(&self, fence: &Fence) -> Result<(), LogError> {
        self.call(
            "release",
            vec![fence.lease.clone(), fence.token.to_string()],
        )
        .await
        .map(drop)
    }

    /// Runs a command or pipeline with the command timeout, noting whether Redis answered.
    async fn query<T: redis::FromRedisValue>(
        &self,
        run: impl FnOnce(ConnectionManager) -> redis::RedisFuture<'static, T>,
    ) -> Result<T, LogError> {
        let result = tokio::time::timeout(COMMAND_TIMEOUT, run(self.inner.conn.clone())).await;
        let outcome = match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify(&error)),
            Err(_) => Err(LogError::Unavailable(format!(
                "redis did not answer within {} s",
                COMMAND_TIMEOUT.as_secs()
            ))),
        };
        self.inner.reachable.store(
            !matches!(outcome, Err(LogError::Unavailable(_))),
            Ordering::Relaxed,
        );
        outcome
    }

    fn memory_key(&self, name: &str) -> String {
        format!("{}:ingest:{name}", self.inner.target.prefix)
    }

    /// Values of `fields` in the ingest memory hash `name` (what pollers remember about their
    /// upstreams, shared by the nodes).
    pub async fn memory_get(
        &self,
        name: &str,
        fields: Vec<String>,
    ) -> Result<Vec<Option<String>>, LogError> {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.memory_key(name);
        self.query(move |mut conn| {
            Box::pin(async move {
                let mut command = redis::cmd("HMGET");
                command.arg(key).arg(fields);
                command.query_async(&mut conn).await
            })
        })
        .await
    }

    /// Writes `(hash, field, value)` entries of the ingest memory, all or none.
    pub async fn memory_set(&self, writes: Vec<(&str, String, String)>) -> Result<(), LogError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (name, field, value) in writes {
            pipe.hset(self.memory_key(name), field, value).ignore();
        }
        self.query(move |mut conn| Box::pin(async move { pipe.query_async(&mut conn).await }))
            .await
    }

    /// Saves `(field, value)` pairs in the memory hash `name`, seen at `now_millis`, and
    /// forgets fields last saved before `forget_before`.
    pub async fn memory_remember(
        &self,
        name: &str,
        pairs: Vec<(String, String)>,
        now_millis: u64,
        forget_before: u64,
    ) -> Result<(), LogError> {
        let key = self.memory_key(name);
        let seen = format!("{key}:seen");
        let old: Vec<String> = {
            let (key, seen) = (key.clone(), seen.clone());
            self.query(move |mut conn| {
                Box::pin(async move {
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    for (field, value) in pairs {
                        pipe.hset(&key, &field, value).ignore();
                        pipe.zadd(&seen, field, now_millis).ignore();
                    }
                    pipe.cmd("ZRANGE")
                        .arg(&seen)
                        .arg("-inf")
                        .arg(format!("({forget_before}"))
                        .arg("BYSCORE");
                    let (old,): (Vec<String>,) = pipe.query_async(&mut conn).await?;
                    Ok(old)
                })
            })
            .await?
        };
        if old.is_empty() {
            return Ok(());
        }
        self.query(move |mut conn| {
            Box::pin(async move {
                let mut pipe = redis::pipe();
                pipe.atomic();
                pipe.hdel(&key, &old).ignore();
                pipe.zrem(&seen, &old).ignore();
                pipe.query_async(&mut conn).await
            })
        })
        .await
    }

    /// Announces the weather cells `node`'s subscribers asked for, valid for `ttl`, so the
    /// node that fetches weather and alerts fetches them too.
    pub async fn advertise_cells(
        &self,
        node: &str,
        cells: &[ItemKey],
        ttl: Duration,
    ) -> Result<(), LogError> {
        let key = format!("{}:cells", self.inner.target.prefix);
        let until = super::now_millis() + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let members: Vec<(u64, String)> = cells
            .iter()
            .map(|cell| (until, format!("{node}\n{cell}")))
            .collect();
        if members.is_empty() {
            return Ok(());
        }
        self.query(move |mut conn| {
            Box::pin(async move {
                let mut pipe = redis::pipe();
                pipe.zadd_multiple(&key, &members).ignore();
                pipe.query_async(&mut conn).await
            })
        })
        .await
    }

    /// The weather cells any node's subscribers asked for lately, sorted.
    pub async fn cluster_cells(&self) -> Result<Vec<ItemKey>, LogError> {
        let key = format!("{}:cells", self.inner.target.prefix);
        let now = super::now_millis();
        let members: Vec<String> = self
            .query(move |mut conn| {
                Box::pin(async move {
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    pipe.cmd("ZREMRANGEBYSCORE")
                        .arg(&key)
                        .arg("-inf")
                        .arg(now)
                        .ignore();
                    pipe.cmd("ZRANGE").arg(&key).arg(0).arg(-1);
                    let (members,): (Vec<String>,) = pipe.query_async(&mut conn).await?;
                    Ok(members)
                })
            })
            .await?;
        let mut cells: Vec<ItemKey> = members
            .iter()
            .filter_map(|member| ItemKey::new(member.split_once('\n')?.1).ok())
            .collect();
        cells.sort();
        cells.dedup();
        Ok(cells)
    }

    /// Appends like [`EventLog::append`], but only while `fence` still holds its lease: a node
    /// that lost its lease (paused, partitioned) cannot write a stale result over the new
    /// holder's ([`LogError::Fenced`]).
    pub async fn append_fenced(
        &self,
        events: Vec<NewEvent>,
        fence: Option<&Fence>,
    ) -> Result<Vec<Appended>, LogError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![
            TAIL_CAP.to_string(),
            fence.map(|f| f.lease.clone()).unwrap_or_default(),
            fence.map(|f| f.token.to_string()).unwrap_or_default(),
        ];
        for event in &events {
            let (key, change, extra) = match &event.change {
                StateChange::Upsert {
                    key,
                    expires_millis,
                } => (
                    key.as_str().to_owned(),
                    "u",
                    expires_millis.map(|ms| ms.to_string()).unwrap_or_default(),
                ),
                StateChange::Remove { key, kind } => {
                    (key.as_str().to_owned(), "r", entry_kind(*kind).to_owned())
                }
                StateChange::ChannelInfo => (String::new(), "c", String::new()),
            };
            args.extend([
                event.channel.as_str().to_owned(),
                event.kind.as_str().to_owned(),
                key,
                event.data.clone(),
                change.to_owned(),
                extra,
            ]);
        }
        let values = texts(self.call("append", args).await?)?;
        if values.len() != events.len() * 2 {
            return Err(corrupt("append: unexpected reply"));
        }
        let mut results = values.chunks_exact(2);
        events
            .into_iter()
            .map(|event| {
                let [id, replaced] = results.next().unwrap_or_default() else {
                    return Err(corrupt("append: short reply"));
                };
                let key = match event.change {
                    StateChange::Upsert { key, .. } | StateChange::Remove { key, .. } => Some(key),
                    StateChange::ChannelInfo => None,
                };
                Ok(Appended {
                    event: LoggedEvent {
                        id: event_id(id)?,
                        channel: event.channel,
                        kind: event.kind,
                        key,
                        data: Arc::from(event.data),
                    },
                    replaced: replaced == "1",
                })
            })
            .collect()
    }

    async fn replay_async(
        &self,
        after: EventId,
        selection: Selection,
        limit: usize,
    ) -> Result<ReplayStart, LogError> {
        let mut args = vec![after.to_string(), limit.max(1).to_string()];
        args.extend(selection.channels.iter().map(|c| c.as_str().to_owned()));
        let mut reply = array(self.call("replay", args).await?)?.into_iter();
        let (Some(head), Some(origin), Some(oldest), Some(rows)) =
            (reply.next(), reply.next(), reply.next(), reply.next())
        else {
            return Err(corrupt("replay: unexpected reply"));
        };
        let head = event_id(&text(head)?)?;
        let origin = event_id(&text(origin)?)?;
        let oldest = event_id(&text(oldest)?)?;
        if let Some(gap) = replay_gap(after, head, origin, oldest) {
            return Ok(gap);
        }
        // Each channel gave its first `limit` events; the first `limit` of all of them merged
        // are exactly the selection's next page.
        let mut events = channel_rows(texts(rows)?)?;
        events.sort_by_key(|event| event.id);
        let full_page = events.len() >= limit;
        events.truncate(limit);
        let next_after = if full_page {
            events.last().map(|event| event.id)
        } else {
            None
        };
        events.retain(|event| selection.wants(&event.channel, event.kind, event.key.as_ref()));
        Ok(ReplayStart::Events { events, next_after })
    }

    async fn snapshot_async(
        &self,
        selection: Selection,
        items_per_channel: usize,
    ) -> Result<Snapshot, LogError> {
        let mut args = vec![
            items_per_channel.to_string(),
            selection.channels.len().to_string(),
        ];
        args.extend(selection.channels.iter().map(|c| c.as_str().to_owned()));
        args.extend(selection.cells.iter().map(|c| c.as_str().to_owned()));
        let mut reply = array(self.call("snapshot", args).await?)?.into_iter();
        let (Some(head), Some(rows)) = (reply.next(), reply.next()) else {
            return Err(corrupt("snapshot: unexpected reply"));
        };
        let mut events = channel_rows(texts(rows)?)?;
        events.retain(|event| selection.wants(&event.channel, event.kind, event.key.as_ref()));
        events.sort_by_key(|event| event.id);
        Ok(Snapshot {
            events,
            head: event_id(&text(head)?)?,
        })
    }
}

impl EventLog for RedisLog {
    fn append(&self, events: Vec<NewEvent>) -> BoxFuture<'_, Result<Vec<Appended>, LogError>> {
        Box::pin(self.append_fenced(events, None))
    }

    fn replay(
        &self,
        after: EventId,
        selection: &Selection,
        limit: usize,
    ) -> BoxFuture<'_, Result<ReplayStart, LogError>> {
        Box::pin(self.replay_async(after, selection.clone(), limit))
    }

    fn snapshot(
        &self,
        selection: &Selection,
        items_per_channel: usize,
    ) -> BoxFuture<'_, Result<Snapshot, LogError>> {
        Box::pin(self.snapshot_async(selection.clone(), items_per_channel))
    }

    fn entries(
        &self,
        channel: &ChannelId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedEvent>, LogError>> {
        let channel = channel.clone();
        Box::pin(async move {
            let reply = self
                .call(
                    "entries",
                    vec![channel.as_str().to_owned(), limit.to_string()],
                )
                .await?;
            let mut events = entry_rows(&channel, texts(reply)?)?;
            events.sort_by_key(|event| std::cmp::Reverse(event.id));
            events.truncate(limit);
            Ok(events)
        })
    }

    fn entry(
        &self,
        channel: &ChannelId,
        kind: EventKind,
        key: &ItemKey,
    ) -> BoxFuture<'_, Result<Option<LoggedEvent>, LogError>> {
        let (channel, key) = (channel.clone(), key.clone());
        Box::pin(async move {
            let reply = self
                .call(
                    "entry",
                    vec![
                        channel.as_str().to_owned(),
                        kind.as_str().to_owned(),
                        key.as_str().to_owned(),
                    ],
                )
                .await?;
            let mut values = texts(reply)?.into_iter();
            let (Some(id), Some(data)) = (values.next(), values.next()) else {
                return Ok(None);
            };
            Ok(Some(LoggedEvent {
                id: event_id(&id)?,
                channel,
                kind,
                key: Some(key),
                data: Arc::from(data),
            }))
        })
    }

    fn latest_change(
        &self,
        channel: &ChannelId,
    ) -> BoxFuture<'_, Result<Option<EventId>, LogError>> {
        let channel = channel.as_str().to_owned();
        Box::pin(async move {
            match self.call("latest_change", vec![channel]).await? {
                Value::Nil | Value::Boolean(false) => Ok(None),
                other => Ok(Some(event_id(&text(other)?)?)),
            }
        })
    }

    fn channel_infos(&self) -> BoxFuture<'_, Result<Vec<(ChannelInfo, EventId)>, LogError>> {
        Box::pin(async move {
            let values = texts(self.call("channel_infos", Vec::new()).await?)?;
            values
                .chunks_exact(2)
                .map(|pair| {
                    let [id, data] = pair else {
                        return Err(corrupt("channel_infos: short reply"));
                    };
                    let id = event_id(id)?;
                    serde_json::from_str(data)
                        .map(|info| (info, id))
                        .map_err(|e| LogError::Corrupt(id, e.to_string()))
                })
                .collect()
        })
    }

    fn expired(&self, now_millis: u64) -> BoxFuture<'_, Result<Vec<Expired>, LogError>> {
        Box::pin(async move {
            let mut conn = self.inner.conn.clone();
            let members: Vec<String> = tokio::time::timeout(
                COMMAND_TIMEOUT,
                redis::cmd("ZRANGE")
                    .arg(format!("{}:exp", self.inner.target.prefix))
                    .arg("-inf")
                    .arg(now_millis)
                    .arg("BYSCORE")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(1000)
                    .query_async(&mut conn),
            )
            .await
            .map_err(|_| LogError::Unavailable("redis did not answer".to_owned()))?
            .map_err(|e| classify(&e))?;
            let mut expired = Vec::new();
            for member in members {
                let mut parts = member.splitn(3, '\n');
                let (Some(channel), Some(kind), Some(key)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(corrupt(format!("expiry entry {member:?}")));
                };
                let kind = match kind {
                    "item" => RetractKind::Item,
                    "alert" => RetractKind::Alert,
                    _ => continue,
                };
                expired.push(Expired {
                    channel: ChannelId::new(channel).map_err(|e| corrupt(e.to_string()))?,
                    key: ItemKey::new(key).map_err(|e| corrupt(e.to_string()))?,
                    kind,
                });
            }
            Ok(expired)
        })
    }

    fn prune(
        &self,
        channel: &ChannelId,
        policy: RetentionPolicy,
        now_millis: u64,
    ) -> BoxFuture<'_, Result<PruneStats, LogError>> {
        let channel = channel.as_str().to_owned();
        Box::pin(async move {
            let age_millis = u64::try_from(policy.max_age.as_millis()).unwrap_or(u64::MAX);
            let cutoff = now_millis.saturating_sub(age_millis);
            let values = texts(
                self.call(
                    "prune",
                    vec![
                        channel,
                        policy.max_events.to_string(),
                        cutoff.to_string(),
                        super::sqlite::MAX_LIVE_ITEMS.to_string(),
                    ],
                )
                .await?,
            )?;
            let [deleted, aged_out] = values.as_slice() else {
                return Err(corrupt("prune: unexpected reply"));
            };
            Ok(PruneStats {
                deleted: deleted.parse().unwrap_or(0),
                aged_out: aged_out.parse().unwrap_or(0),
            })
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<EventId, LogError>> {
        Box::pin(async move {
            let mut conn = self.inner.conn.clone();
            let last: Option<String> = tokio::time::timeout(
                COMMAND_TIMEOUT,
                redis::cmd("HGET")
                    .arg(format!("{}:meta", self.inner.target.prefix))
                    .arg("last")
                    .query_async(&mut conn),
            )
            .await
            .map_err(|_| {
                self.inner.reachable.store(false, Ordering::Relaxed);
                LogError::Unavailable("redis did not answer".to_owned())
            })?
            .map_err(|e| {
                let error = classify(&e);
                if matches!(error, LogError::Unavailable(_)) {
                    self.inner.reachable.store(false, Ordering::Relaxed);
                }
                error
            })?;
            self.inner.reachable.store(true, Ordering::Relaxed);
            last.map_or(Ok(EventId::ZERO), |id| event_id(&id))
        })
    }

    fn healthy(&self) -> bool {
        self.reachable()
    }
}

/// Where the tail stands: the last event handed over and its running number.
#[derive(Debug, Clone, Copy)]
struct TailCursor {
    last: EventId,
    count: u64,
}

/// Hands every event appended by any node to `sink`, in id order, until the sink closes.
async fn run_tail(
    client: redis::Client,
    prefix: String,
    sink: CommitSink,
    opened: Opened,
    reachable: Arc<AtomicBool>,
) {
    let mut cursor = TailCursor {
        last: opened.last,
        count: opened.count,
    };
    let mut delay = TAIL_RETRY_MIN;
    loop {
        match tail_once(&client, &prefix, &sink, &mut cursor, &reachable).await {
            Ok(()) => return,
            Err(error) => {
                if reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, "lost the redis event tail; retrying");
                } else {
                    tracing::debug!(%error, "redis event tail still down");
                }
            }
        }
        if sink.is_closed() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(TAIL_RETRY_MAX);
    }
}

/// One connection's worth of tailing. `Ok` when the sink closed (shutdown).
async fn tail_once(
    client: &redis::Client,
    prefix: &str,
    sink: &CommitSink,
    cursor: &mut TailCursor,
    reachable: &AtomicBool,
) -> Result<(), LogError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(TAIL_BLOCK + COMMAND_TIMEOUT));
    let mut conn: MultiplexedConnection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| classify(&e))?;
    let stream = format!("{prefix}:log");
    // Redis may have come back with less than it had (a crash that lost writes): the events
    // after what it kept are gone, and ids may be handed out again.
    let (last, count): (Option<String>, Option<u64>) = redis::cmd("HMGET")
        .arg(format!("{prefix}:meta"))
        .arg("last")
        .arg("count")
        .query_async(&mut conn)
        .await
        .map_err(|e| classify(&e))?;
    let stored_last = last
        .as_deref()
        .map(event_id)
        .transpose()?
        .unwrap_or(EventId::ZERO);
    let stored_count = count.unwrap_or(0);
    if stored_count < cursor.count || stored_last < cursor.last {
        let reason = format!(
            "redis has fewer events than this node saw (last {stored_last}, had {})",
            cursor.last
        );
        cursor.last = stored_last;
        cursor.count = stored_count;
        if sink.send(Commit::Lost(reason)).is_err() {
            return Ok(());
        }
    }
    if !reachable.swap(true, Ordering::Relaxed) {
        tracing::info!("redis event tail reading again");
    }
    loop {
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(TAIL_BATCH)
            .arg("BLOCK")
            .arg(u64::try_from(TAIL_BLOCK.as_millis()).unwrap_or(5_000))
            .arg("STREAMS")
            .arg(&stream)
            .arg(cursor.last.to_string())
            .query_async(&mut conn)
            .await
            .map_err(|e| classify(&e))?;
        if sink.is_closed() {
            return Ok(());
        }
        for commit in tail_entries(reply, cursor)? {
            if sink.send(commit).is_err() {
                return Ok(());
            }
        }
    }
}

/// Decodes one `XREAD` reply into commits, advancing the cursor; a jump in the running number
/// becomes a [`Commit::Lost`] before the event after it.
fn tail_entries(reply: Value, cursor: &mut TailCursor) -> Result<Vec<Commit>, LogError> {
    let mut commits = Vec::new();
    // RESP2: [[stream, [[id, [field, value, ...]], ...]]]; RESP3 may send a map.
    let streams = match reply {
        Value::Map(pairs) => pairs.into_iter().map(|(_, entries)| entries).collect(),
        other => array(other)?
            .into_iter()
            .filter_map(|pair| array(pair).ok()?.into_iter().nth(1))
            .collect::<Vec<_>>(),
    };
    for entries in streams {
        for entry in array(entries)? {
            let mut parts = array(entry)?.into_iter();
            let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
                return Err(corrupt("tail: bad entry"));
            };
            let id = event_id(&text(id)?)?;
            let mut fields = texts(fields)?.into_iter();
            let (mut channel, mut kind, mut key, mut data, mut number) =
                (None, None, None, None, None);
            while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
                match name.as_str() {
                    "c" => channel = Some(value),
                    "k" => kind = Some(value),
                    "y" => key = Some(value),
                    "d" => data = Some(value),
                    "n" => number = value.parse::<u64>().ok(),
                    _ => {}
                }
            }
            let (Some(channel), Some(kind), Some(data), Some(number)) =
                (channel, kind, data, number)
            else {
                return Err(LogError::Corrupt(id, "tail entry lacks a field".to_owned()));
            };
            if number != cursor.count + 1 {
                commits.push(Commit::Lost(format!(
                    "event {number} follows {} on the tail (trimmed or lost in between)",
                    cursor.count
                )));
            }
            cursor.count = number;
            cursor.last = id;
            commits.push(Commit::Event(stored_event(
                id,
                channel,
                &kind,
                key.and_then(optional_key),
                data,
            )?));
        }
    }
    Ok(commits)
}
