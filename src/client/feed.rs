//! A live feed from one Tidings server (or one cluster of them, failing over between its
//! nodes): the offline cache, the connection and the store, put together the way the desktop
//! app uses them.
//!
//! [`start`] loads the cache first (so content can be shown before any network), connects with
//! the cached last event id (so the stream resumes where it left off), applies every event to
//! its [`Store`], and reports batches of [`Change`]s with a snapshot of the store. It owns the
//! store; the app changes read state through [`FeedHandle`]. The cache is saved, debounced,
//! after every batch and flushed on close.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::cache::{Cache, CacheFile, Loaded};
use super::connection::{
    self, ConnectionConfig, ConnectionEvent, ConnectionHandle, ConnectionState,
};
use super::servers::ServerList;
use super::store::{Change, Store};
use super::{decode_message, stream_urls};
use crate::protocol::{ChannelId, Event, ItemKey};

/// Most connection events applied in one batch before reporting.
const BATCH: usize = 256;
/// How often items past their expiry are dropped locally.
const EXPIRY_SWEEP: Duration = Duration::from_secs(30);
/// Cache writes are at most this frequent.
const CACHE_DEBOUNCE: Duration = Duration::from_secs(2);

/// What to follow.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// The servers (nodes of one cluster), in the order to try them.
    pub servers: ServerList,
    /// Channels (all when empty).
    pub channels: Vec<ChannelId>,
    /// Weather places (latitude, longitude), in the user's order; sent as their cells.
    pub weather: Vec<(f64, f64)>,
    /// Where to keep the offline cache (`None`: no cache).
    pub cache: Option<Cache>,
    /// Which server the cache belongs to: the list as written by [`ServerList`]'s `Display`
    /// (for one server, its URL), or a stable name when the URL changes from run to run (the
    /// embedded server listens on a new port each time). A different list is a different
    /// identity: its event ids may mean something else.
    pub cache_identity: String,
    /// Resume after the cached last event id. Off when the subscription changed (another
    /// weather cell), so the server sends a fresh snapshot instead of a replay.
    pub resume: bool,
    /// Connection tuning; its URLs are replaced by the servers' stream URLs.
    pub connection: ConnectionConfig,
}

impl FeedConfig {
    /// Follows `servers` with default settings and their default cache file.
    #[must_use]
    pub fn new(servers: ServerList) -> Self {
        let identity = servers.to_string();
        Self {
            cache: Cache::for_server(&identity),
            cache_identity: identity,
            resume: true,
            servers,
            channels: Vec::new(),
            weather: Vec::new(),
            connection: ConnectionConfig::new(String::new()),
        }
    }
}

/// What the feed reports.
#[derive(Debug, Clone)]
pub enum FeedUpdate {
    /// The connection changed state.
    Connection(ConnectionState),
    /// Content changed.
    Changes {
        /// What changed, in order.
        changes: Vec<Change>,
        /// The store after the changes.
        store: Arc<Store>,
    },
    /// The stream's history (snapshot or replay) is over: changes reported after this, until
    /// the next connection state change, are live news.
    Live,
    /// A problem worth telling the user, without stopping (a malformed event, a cache set aside).
    Warning(String),
}

enum Command {
    SetRead {
        channel: ChannelId,
        key: ItemKey,
        read: bool,
    },
    ChannelRead(ChannelId),
    ReconnectNow,
    Close,
}

/// Controls a running feed.
#[derive(Debug, Clone)]
pub struct FeedHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl FeedHandle {
    /// Marks an item (or alert) read or unread.
    pub fn set_read(&self, channel: &ChannelId, key: &ItemKey, read: bool) {
        let _ = self.commands.send(Command::SetRead {
            channel: channel.clone(),
            key: key.clone(),
            read,
        });
    }

    /// Marks a channel's items read.
    pub fn mark_channel_read(&self, channel: &ChannelId) {
        let _ = self.commands.send(Command::ChannelRead(channel.clone()));
    }

    /// Reconnect now (network change, wake from sleep).
    pub fn reconnect_now(&self) {
        let _ = self.commands.send(Command::ReconnectNow);
    }

    /// Stop; the cache is flushed before the feed's task ends.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// A started feed: the store as loaded from the cache, the handle, the updates, and the task
/// (await it after `close` to know the cache is flushed).
pub struct Started {
    /// The cached state, to show at once.
    pub initial: Arc<Store>,
    /// When that cache was saved (`None`: nothing cached).
    pub cached_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Controls.
    pub handle: FeedHandle,
    /// Updates.
    pub updates: mpsc::Receiver<FeedUpdate>,
    /// The feed's task.
    pub task: tokio::task::JoinHandle<()>,
}

/// Loads the cache and starts following the server.
pub async fn start(config: FeedConfig, http: reqwest::Client) -> Started {
    let (updates_tx, updates) = mpsc::channel(256);
    let mut store = Arc::new(Store::default());
    let mut last_event_id = None;
    let mut cached_at = None;
    let mut warnings = Vec::new();
    if let Some(cache) = config.cache.clone() {
        let identity = config.cache_identity.clone();
        match tokio::task::spawn_blocking(move || cache.load(&identity)).await {
            Ok(Loaded::Cache(file)) => {
                store = file.store;
                cached_at = Some(file.saved);
                last_event_id = file.last_event_id.filter(|_| config.resume);
            }
            Ok(Loaded::Missing) => {}
            Ok(Loaded::SetAside { reason, moved_to }) => warnings.push(format!(
                "the offline cache was unusable ({reason}); it was moved to {}",
                moved_to.display()
            )),
            Err(error) => warnings.push(format!("the offline cache could not be read: {error}")),
        }
    }
    let mut connection_config = config.connection.clone();
    connection_config.urls = stream_urls(&config.servers, &config.channels, &config.weather);
    connection_config.last_event_id.clone_from(&last_event_id);
    let (connection, events) = connection::spawn(connection_config, http);
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let initial = Arc::clone(&store);
    let cache_writer = config
        .cache
        .clone()
        .map(|cache| super::cache::spawn_writer(cache, CACHE_DEBOUNCE));
    let runner = Runner {
        server: config.cache_identity,
        store,
        last_event_id,
        connection,
        events,
        commands,
        updates: updates_tx,
        cache_writer,
    };
    let task = tokio::spawn(runner.run(warnings));
    Started {
        initial,
        cached_at,
        handle: FeedHandle {
            commands: commands_tx,
        },
        updates,
        task,
    }
}

type CacheWriter = (
    tokio::sync::watch::Sender<Option<Arc<CacheFile>>>,
    tokio::task::JoinHandle<()>,
);

struct Runner {
    server: String,
    /// Shared with the last update sent and the cache writer; changed copy-on-write, so a
    /// batch costs a copy only while the app still holds the previous version.
    store: Arc<Store>,
    last_event_id: Option<String>,
    connection: ConnectionHandle,
    events: mpsc::Receiver<ConnectionEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    updates: mpsc::Sender<FeedUpdate>,
    cache_writer: Option<CacheWriter>,
}

impl Runner {
    async fn run(mut self, warnings: Vec<String>) {
        for warning in warnings {
            let _ = self.updates.send(FeedUpdate::Warning(warning)).await;
        }
        let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
        loop {
            tokio::select! {
                event = self.events.recv() => {
                    let Some(event) = event else { break };
                    if !self.handle_batch(event).await {
                        break;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::SetRead { channel, key, read }) => {
                        Arc::make_mut(&mut self.store).set_read(&channel, &key, read);
                        self.publish(Vec::new()).await;
                    }
                    Some(Command::ChannelRead(channel)) => {
                        Arc::make_mut(&mut self.store).mark_channel_read(&channel);
                        self.publish(Vec::new()).await;
                    }
                    Some(Command::ReconnectNow) => self.connection.reconnect_now(),
                    Some(Command::Close) | None => {
                        self.connection.close();
                        break;
                    }
                },
                _ = sweep.tick() => {
                    let now = chrono::Utc::now();
                    let expired = self.store.channels().any(|(_, c)| {
                        c.items.iter().any(|i| i.item.expires.is_some_and(|at| at <= now))
                            || c.alerts.iter().any(|a| a.alert.expires.is_some_and(|at| at <= now))
                    });
                    let changes = if expired {
                        Arc::make_mut(&mut self.store).remove_expired(now)
                    } else {
                        Vec::new()
                    };
                    if !changes.is_empty() {
                        self.publish(changes).await;
                    }
                }
            }
        }
        self.save();
        if let Some((writer, task)) = self.cache_writer.take() {
            drop(writer);
            let _ = task.await;
        }
    }

    /// Applies `first` and whatever else is already waiting; reports once.
    async fn handle_batch(&mut self, first: ConnectionEvent) -> bool {
        let mut changes = Vec::new();
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(event) = next.take() {
            handled += 1;
            match event {
                ConnectionEvent::State(state) => {
                    if !changes.is_empty() {
                        self.publish(std::mem::take(&mut changes)).await;
                    }
                    if self
                        .updates
                        .send(FeedUpdate::Connection(state))
                        .await
                        .is_err()
                    {
                        return false;
                    }
                }
                ConnectionEvent::Message(message) => {
                    if !message.last_event_id.is_empty() {
                        self.last_event_id = Some(message.last_event_id.clone());
                    }
                    match decode_message(&message) {
                        Ok(Some((_, Event::Live(_)))) => {
                            // Report what came before as history, then the switch to live.
                            if !changes.is_empty() {
                                self.publish(std::mem::take(&mut changes)).await;
                            }
                            if self.updates.send(FeedUpdate::Live).await.is_err() {
                                return false;
                            }
                        }
                        Ok(Some((event_id, event))) => {
                            changes.extend(Arc::make_mut(&mut self.store).apply(event_id, event))
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(%error, "skipped a malformed event");
                            let _ = self
                                .updates
                                .send(FeedUpdate::Warning(format!("skipped an event: {error}")))
                                .await;
                        }
                    }
                }
            }
            if handled < BATCH {
                next = self.events.try_recv().ok();
            }
        }
        if !changes.is_empty() {
            self.publish(changes).await;
        }
        true
    }

    async fn publish(&mut self, changes: Vec<Change>) {
        let store = Arc::clone(&self.store);
        let _ = self
            .updates
            .send(FeedUpdate::Changes { changes, store })
            .await;
        self.save();
    }

    fn save(&mut self) {
        if let Some((writer, _)) = &self.cache_writer {
            if self.store.has_stale_read_marks() {
                Arc::make_mut(&mut self.store).compact_read_marks();
            }
            let file = CacheFile::new(
                &self.server,
                self.last_event_id.clone(),
                Arc::clone(&self.store),
            );
            writer.send_replace(Some(Arc::new(file)));
        }
    }
}
