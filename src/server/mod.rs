//! The content server: event log, hub, HTTP API and SSE streams.
//!
//! [`serve`] runs a whole server on a listener you bind (so tests use `127.0.0.1:0` and learn
//! the port before anything starts) until the shutdown future resolves. Everything pushed goes
//! log → hub → streams; nothing here depends on the client or GUI code.

pub mod admin;
pub mod api;
pub mod auth;
pub mod catalog;
#[cfg(feature = "redis")]
mod cluster;
pub mod demo;
pub mod error;
pub mod geocode;
pub mod hub;
pub mod ingest;
mod listener;
pub mod log;
pub mod metrics;
pub mod stream;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use self::hub::Hub;
use self::log::sqlite::SqliteLog;
use self::log::{EventKind, EventLog, NewEvent, StateChange, now_millis};
use self::metrics::Metrics;
use crate::config::{self, ServerConfig};
use crate::protocol::{ChannelKind, Event, Retract};

/// Name of the event log file inside the data directory.
pub const LOG_FILE: &str = "events.sqlite3";
/// Name of the feed pollers' own state file inside the data directory.
pub const INGEST_FILE: &str = "ingest.sqlite3";

/// How often expired items and alerts are looked for.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(600);
/// How long open connections get to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// Everything request handlers share.
pub struct ServerState {
    /// The validated configuration.
    pub config: ServerConfig,
    /// The channels offered now (`config.channels` is how they were at start).
    pub catalog: catalog::Catalog,
    /// The event log.
    pub log: Arc<dyn EventLog>,
    /// The fan-out hub.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The place search behind `/v1/geocode`.
    pub geocoder: geocode::Geocoder,
    /// Whether this node fetches feeds, weather and alerts now (always for a lone server; in
    /// a cluster, the node holding the ingest lease).
    pub ingesting: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("config", &self.config)
            .field("hub", &self.hub)
            .finish()
    }
}

/// Pending connections the kernel may queue. tokio's `TcpListener::bind` uses 128, which a
/// reconnect storm (every desktop of an office after a server restart) overflows: each dropped
/// SYN then waits a full second for its retry.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Binds a listening socket with a deep accept backlog.
pub fn bind(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // Restart without waiting for the previous process's TIME_WAIT sockets. (On Linux this
    // does not let two servers listen on one port.)
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// How often the line-up file is checked for changes made outside the server.
const LINEUP_WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Reloading the configuration while the server runs (`SIGHUP`): each message on `requests`
/// re-reads it with `load`, and the channels it lists replace the running catalog.
pub struct Reloader {
    /// One message per reload wanted.
    pub requests: mpsc::UnboundedReceiver<()>,
    /// Reads and validates the configuration again.
    pub load: Box<dyn Fn() -> anyhow::Result<ServerConfig> + Send + Sync>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

/// Runs the server on `listener` until `shutdown` resolves; then closes every stream and
/// connection within about a second and returns.
pub async fn serve(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(config, listener, shutdown, None).await
}

/// [`serve`], reloading the configuration when `reloader` asks.
pub async fn serve_with(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reloader: Option<Reloader>,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let api_runtime = ApiRuntime::start()?;
    let (commit_tx, commit_rx) = mpsc::unbounded_channel();
    let log = Backend::open(&config, commit_tx, api_runtime.handle()).await?;
    let hub = Hub::new(
        config.stream.subscriber_queue,
        config.stream.max_subscribers,
        Arc::clone(&metrics),
    );
    let heartbeat = config.stream.heartbeat;
    let fetcher = ingest::fetch::Fetcher::new(ingest::FETCH_TIMEOUT, ingest::MAX_FEED_BYTES)
        .context("building the feed fetcher")?;
    let geocoder = geocode::Geocoder::new(fetcher.clone(), config.weather.geocoding_url.clone());
    let catalog = catalog::Catalog::new(
        config.channels.clone(),
        config.lineup.clone(),
        config.channels_file.clone(),
        config.default_retention,
    );
    let catalog = if config.broker.is_some() {
        catalog.clustered()
    } else {
        catalog
    };
    catalog
        .load_retired(log.shared().as_ref())
        .await
        .context("reading the catalog from the event log")?;
    let state = Arc::new(ServerState {
        config,
        catalog,
        log: log.shared(),
        hub: Arc::clone(&hub),
        metrics,
        geocoder,
        ingesting: std::sync::atomic::AtomicBool::new(false),
    });
    seed_latest(&state).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let hub_task =
        tokio::spawn(Arc::clone(&hub).run(commit_rx, heartbeat, stopped(stop_rx.clone())));
    let ingest = Ingest {
        state: Arc::clone(&state),
        fetcher,
    };
    let ingest_task = match &log {
        Backend::Sqlite(_) => {
            let validators_path = state.config.data_dir.join(INGEST_FILE);
            let saved = match tokio::task::spawn_blocking(move || {
                ingest::state::ValidatorStore::open(&validators_path)
            })
            .await
            {
                Ok(Ok(store)) => Some(store),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "feed validators and CAP chains will not survive restarts");
                    None
                }
                Err(_) => None,
            };
            // A lone server is always the one that fetches.
            sync_channel_info(&state, state.log.as_ref()).await?;
            state
                .ingesting
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let group = ingest.start(
                Arc::clone(&state.log),
                ingest::cells::ActiveCells::Local(Arc::clone(&hub)),
                saved,
                &stop_rx,
            );
            tokio::spawn(async move {
                for task in group {
                    let _ = task.await;
                }
            })
        }
        #[cfg(feature = "redis")]
        Backend::Redis(redis) => tokio::spawn(cluster::run(ingest, redis.clone(), stop_rx.clone())),
    };
    let watch_task = tokio::spawn(watch_catalog(
        Arc::clone(&state),
        reloader,
        stopped(stop_rx.clone()),
    ));
    let router = api::router(Arc::clone(&state));
    let accept = tokio::spawn(listener::run(
        listener,
        Arc::clone(&state),
        router,
        stop_rx,
        SHUTDOWN_GRACE,
        api_runtime.handle(),
    ));

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    hub.close();
    let _ = hub_task.await;
    let _ = ingest_task.await;
    let _ = watch_task.await;
    let _ = accept.await;
    log.detach_sink();
    // Whatever is left on the API runtime was already abandoned by the accept loop's grace
    // period; dropping it shuts it down.
    drop(api_runtime);
    Ok(())
}

/// The runtime that serves requests (publish, retract, reads) and, on Redis, the log's
/// connections, away from the stream tasks: when ten thousand streams wake for one event, a
/// publish answer or a Redis reply must not queue behind them (docs/benchmarks.md measured
/// both). Shut down without waiting when dropped, also on an early error return, where
/// dropping a runtime the ordinary way would panic inside async code.
struct ApiRuntime(Option<tokio::runtime::Runtime>);

impl ApiRuntime {
    fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tidings-api")
            .enable_all()
            .build()
            .context("starting the API runtime")?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(runtime) => runtime.handle().clone(),
            None => tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for ApiRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The event log backend this server runs on.
#[derive(Clone)]
enum Backend {
    /// The embedded SQLite file in the data directory.
    Sqlite(SqliteLog),
    /// The log shared by several nodes in Redis.
    #[cfg(feature = "redis")]
    Redis(log::redis::RedisLog),
}

impl Backend {
    /// Opens the configured log. Redis connections are opened on `io` (the API runtime), so
    /// the tasks that read their replies run there and not behind the stream tasks.
    async fn open(
        config: &ServerConfig,
        sink: log::CommitSink,
        io: tokio::runtime::Handle,
    ) -> anyhow::Result<Self> {
        #[cfg(not(feature = "redis"))]
        drop(io);
        if let Some(broker) = &config.broker {
            #[cfg(feature = "redis")]
            {
                let log = io
                    .spawn(log::redis::RedisLog::open(broker.clone(), Some(sink)))
                    .await
                    .context("opening the event log in redis")?
                    .context("opening the event log in redis")?;
                tracing::info!(broker = %log.describe(), "event log open (redis, shared)");
                return Ok(Self::Redis(log));
            }
            #[cfg(not(feature = "redis"))]
            anyhow::bail!(
                "broker {} is set, but this tidings-server was built without Redis support (cargo feature \"redis\")",
                config::server::redact_password(&broker.url)
            );
        }
        let path = config.data_dir.join(LOG_FILE);
        let log = tokio::task::spawn_blocking(move || SqliteLog::open(&path, Some(sink)))
            .await
            .context("opening the event log")??;
        tracing::info!(path = %log.path().display(), "event log open");
        Ok(Self::Sqlite(log))
    }

    fn shared(&self) -> Arc<dyn EventLog> {
        match self {
            Self::Sqlite(log) => Arc::new(log.clone()),
            #[cfg(feature = "redis")]
            Self::Redis(log) => Arc::new(log.clone()),
        }
    }

    fn detach_sink(&self) {
        match self {
            Self::Sqlite(log) => log.detach_sink(),
            #[cfg(feature = "redis")]
            Self::Redis(log) => log.detach_sink(),
        }
    }
}

/// What fetches and maintains content: feed pollers, weather and alert sources, the expiry
/// sweep and retention. A lone server runs it for its whole life; in a cluster, only the node
/// holding the ingest lease does (`cluster`), so each upstream is fetched once.
pub(crate) struct Ingest {
    pub(crate) state: Arc<ServerState>,
    pub(crate) fetcher: ingest::fetch::Fetcher,
}

impl Ingest {
    /// Starts every task of the group, writing through `log`, until `stop`.
    pub(crate) fn start(
        &self,
        log: Arc<dyn EventLog>,
        cells: ingest::cells::ActiveCells,
        saved: Option<ingest::state::ValidatorStore>,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let state = &self.state;
        let mut tasks = vec![tokio::spawn(maintain(
            Arc::clone(state),
            Arc::clone(&log),
            stopped(stop.clone()),
        ))];
        if !state.config.ingest_enabled {
            return tasks;
        }
        let board = Arc::new(ingest::feeds::HealthBoard::default());
        tasks.push(tokio::spawn(ingest::feeds::supervise(
            state.catalog.subscribe(),
            self.fetcher.clone(),
            Arc::clone(&log),
            Arc::clone(&board),
            saved.clone(),
            stop.clone(),
        )));
        tasks.extend(spawn_location_sources(
            state,
            &log,
            &cells,
            &self.fetcher,
            &board,
            saved.as_ref(),
            stop,
        ));
        tasks
    }
}

/// Starts the weather and severe-weather alert sources for the first channel of each kind;
/// they fetch only for the cells that connected clients subscribed to.
fn spawn_location_sources(
    state: &Arc<ServerState>,
    log: &Arc<dyn EventLog>,
    cells: &ingest::cells::ActiveCells,
    fetcher: &ingest::fetch::Fetcher,
    board: &Arc<ingest::feeds::HealthBoard>,
    saved: Option<&ingest::state::ValidatorStore>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let first_of = |kind: ChannelKind| {
        state
            .config
            .channels
            .iter()
            .find(|channel| channel.info.kind == kind)
    };
    // The location source counts as one more source of its channel, after its feeds.
    let health = |channel: &config::ChannelConfig| ingest::feeds::HealthReport {
        board: Arc::clone(board),
        log: Arc::clone(log),
        channel: channel.info.clone(),
        index: channel.sources.len(),
        count: channel.sources.len() + 1,
    };
    let mut tasks = Vec::new();
    if let Some(channel) = first_of(ChannelKind::Weather) {
        let settings = &state.config.weather;
        let poll = ingest::weather::WeatherPoll {
            fetcher: fetcher.clone(),
            base_url: settings.forecast_url.clone(),
            channel: channel.id().clone(),
            log: Arc::clone(log),
            refresh: settings.refresh,
        };
        tasks.push(spawn_cells(
            cells,
            poll,
            settings.refresh,
            health(channel),
            stop,
        ));
    }
    if let Some(channel) = first_of(ChannelKind::Alerts) {
        let settings = &state.config.alerts;
        let poll = ingest::nws::NwsPoll::new(
            fetcher.clone(),
            settings,
            channel.id().clone(),
            Arc::clone(log),
            saved.map(ingest::state::ValidatorStore::cap_chains),
        );
        tasks.push(spawn_cells(
            cells,
            poll,
            settings.refresh,
            health(channel),
            stop,
        ));
    }
    tasks
}

/// Runs one location source over the active cells, refreshing each every `refresh`.
fn spawn_cells<P>(
    cells: &ingest::cells::ActiveCells,
    poll: P,
    refresh: Duration,
    health: ingest::feeds::HealthReport,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    P: ingest::cells::PollCell + Send + Sync + 'static,
{
    tokio::spawn(ingest::cells::run_cells(
        cells.clone(),
        ingest::cells::CellSchedule::new(refresh),
        poll,
        health,
        stop.clone(),
    ))
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Follows outside changes of the catalog until `shutdown`: the line-up file edited (by an
/// admin, or `tidings opml import`), and reload requests (`SIGHUP`).
async fn watch_catalog(
    state: Arc<ServerState>,
    reloader: Option<Reloader>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let (mut requests, load) = match reloader {
        Some(reloader) => (Some(reloader.requests), Some(Arc::new(reloader.load))),
        None => (None, None),
    };
    let mut tick = tokio::time::interval(LINEUP_WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let reload = async {
            match requests.as_mut() {
                Some(requests) => requests.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {
                match state.catalog.reload_if_changed(state.log.as_ref()).await {
                    Ok(true) => tracing::info!("line-up file changed; catalog reloaded"),
                    Ok(false) => {}
                    Err(error) => tracing::error!(%error, "line-up file changed but cannot be used; the running catalog stays"),
                }
            }
            request = reload => {
                if request.is_none() {
                    requests = None;
                    continue;
                }
                let Some(load) = load.clone() else { continue };
                reload_config(&state, load).await;
            }
        }
    }
}

async fn reload_config(
    state: &ServerState,
    load: Arc<Box<dyn Fn() -> anyhow::Result<ServerConfig> + Send + Sync>>,
) {
    let loaded = match tokio::task::spawn_blocking(move || load()).await {
        Ok(Ok(config)) => config,
        Ok(Err(error)) => {
            tracing::error!(error = %format!("{error:#}"), "configuration reload failed; the running configuration stays");
            return;
        }
        Err(_) => return,
    };
    if loaded.channels_file.as_deref() != state.catalog.file() {
        tracing::warn!("where the line-up is kept changed; that takes effect at the next restart");
    }
    let result = match (&loaded.channels_file, state.catalog.file()) {
        // The running catalog's file, re-read (it may have changed just now).
        (Some(_), Some(path)) => match config::lineup::Lineup::load_or_default(path) {
            Ok(lineup) => state.catalog.reload(state.log.as_ref(), lineup).await,
            Err(error) => Err(error.into()),
        },
        _ => {
            state
                .catalog
                .reload_channels(state.log.as_ref(), loaded.channels, loaded.lineup)
                .await
        }
    };
    match result {
        Ok(true) => tracing::info!(
            "configuration reloaded: catalog changed (other settings apply at the next restart)"
        ),
        Ok(false) => tracing::info!(
            "configuration reloaded: catalog unchanged (other settings apply at the next restart)"
        ),
        Err(error) => {
            tracing::error!(%error, "configuration reload refused; the running catalog stays")
        }
    }
}

/// Seeds the hub's per-channel "last update" from the log.
async fn seed_latest(state: &ServerState) -> anyhow::Result<()> {
    for channel in &state.catalog.current().channels {
        if let Some(newest) = state.log.latest_change(channel.id()).await? {
            state.hub.note_latest(channel.id(), newest);
        }
    }
    Ok(())
}

/// Appends a `channel` event for every configured channel whose metadata is new or changed,
/// keeping the stored health.
pub(crate) async fn sync_channel_info(
    state: &ServerState,
    log: &dyn EventLog,
) -> anyhow::Result<()> {
    let stored = log.channel_infos().await?;
    let events = catalog::info_changes(&state.catalog.current().channels, &stored);
    if !events.is_empty() {
        tracing::info!(channels = events.len(), "channel metadata updated");
        log.append(events).await?;
    }
    Ok(())
}

/// Background upkeep: retracts expired items and alerts, applies retention.
async fn maintain(
    state: Arc<ServerState>,
    log: Arc<dyn EventLog>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut expiry = tokio::time::interval(EXPIRY_INTERVAL);
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retention = tokio::time::interval(RETENTION_INTERVAL);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = expiry.tick() => {
                if let Err(error) = retract_expired(log.as_ref()).await {
                    tracing::error!(%error, "expiry sweep failed");
                }
            }
            _ = retention.tick() => {
                for channel in &state.catalog.current().channels {
                    match log.prune(channel.id(), channel.retention, now_millis()).await {
                        Ok(stats) if stats.deleted > 0 || stats.aged_out > 0 => {
                            tracing::info!(
                                channel = %channel.id(),
                                deleted = stats.deleted,
                                aged_out = stats.aged_out,
                                "retention applied"
                            );
                        }
                        Ok(_) => {}
                        Err(error) => tracing::error!(%error, channel = %channel.id(), "retention failed"),
                    }
                }
            }
        }
    }
}

async fn retract_expired(log: &dyn EventLog) -> anyhow::Result<()> {
    let expired = log.expired(now_millis()).await?;
    if expired.is_empty() {
        return Ok(());
    }
    let events = expired
        .into_iter()
        .map(|entry| {
            let retract = Event::Retract(Retract {
                channel: entry.channel.clone(),
                key: entry.key.clone(),
                kind: entry.kind,
                reason: Some("expired".to_owned()),
            });
            NewEvent {
                channel: entry.channel,
                kind: EventKind::Retract,
                data: retract.to_json(),
                change: StateChange::Remove {
                    key: entry.key,
                    kind: entry.kind,
                },
            }
        })
        .collect::<Vec<_>>();
    tracing::info!(count = events.len(), "retracting expired entries");
    log.append(events).await?;
    Ok(())
}
