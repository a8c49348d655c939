//! The eframe app: owns the [`Model`], the connection to the content (an embedded server or a
//! shared one), the ticker window and the SmartScreen, and carries out the [`Effect`]s views
//! return.
//!
//! Split by concern (`logic` drains background messages with a time budget; `ui` draws and
//! collects effects; `apply` handles them). Network work runs on the one tokio runtime made in
//! `main`; results come back over channels and wake the UI with `request_repaint`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use egui::{ViewportBuilder, ViewportCommand, ViewportId};
use serde::{Deserialize, Serialize};

use super::desktop::{Desktop, DesktopEvent};
use super::model::{Effect, Model, PlaceSearch};
use super::settings::{ServerChoice, Settings, SettingsFile, TickerPosition};
use super::smartscreen::SmartScreen;
use super::theme::{self, Palette};
use super::ticker::{Ticker, TickerClick, TickerContent};
use super::{Mode, Options, view};
use crate::client::cache::Cache;
use crate::client::connection::{ConnectionState, Endpoint};
use crate::client::feed::{self, FeedConfig, FeedHandle, FeedUpdate};
use crate::client::servers::ServerList;
use crate::desktop::idle::IdleTransition;
use crate::desktop::notify::NotifierEvent;
use crate::desktop::tray::{TrayCommand, TrayStatus};
use crate::protocol::GeocodeResponse;

/// Time `logic` may spend applying background messages per frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(8);
/// Height of the ticker window and strip.
pub const TICKER_HEIGHT: f32 = 34.0;
/// Frame-rate ceiling of the ticker strip inside the main window: every step of the strip
/// repaints the whole window, which under software OpenGL costs about five times a step of the
/// slim ticker window (`docs/benchmarks.md`).
pub const STRIP_MAX_FPS: u32 = 15;

/// Messages from background tasks to the UI.
enum Inbox {
    Feed(u64, FeedUpdate),
    Places(Result<GeocodeResponse, String>),
    Lineup(Box<super::lineup::LineupReply>),
    Image(String, Result<egui::ColorImage, String>),
    Desktop(DesktopEvent),
    /// An export of the saved stories finished: what to tell the user.
    Exported(String),
}

/// Writes the saved stories as they change (`client::saved::spawn_writer`).
struct SavedWriter {
    tx: tokio::sync::watch::Sender<Option<Arc<crate::client::saved::SavedStories>>>,
    task: tokio::task::JoinHandle<()>,
    problems: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// A running embedded server.
struct Embedded {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    url: String,
    _demo: Option<crate::server::demo::DemoUpstream>,
}

/// The content connection: which servers, the one in use, and the feed following them.
struct Link {
    generation: u64,
    servers: ServerList,
    /// Index in `servers` of the server the connection is on (or trying).
    current: usize,
    feed: FeedHandle,
    task: tokio::task::JoinHandle<()>,
}

/// What is remembered between runs besides the settings: window geometry and the view.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    /// Window position and size: x, y, width, height (points).
    pub window: Option<[f32; 4]>,
    /// The selected channel.
    pub channel: Option<String>,
    /// The user was told that closing the window keeps Tidings in the tray.
    pub told_about_tray: bool,
}

impl UiState {
    fn path() -> Option<PathBuf> {
        directories::ProjectDirs::from("org", "Tidings", "tidings")
            .map(|dirs| dirs.data_dir().join("window.toml"))
    }

    /// Loads the remembered state (defaults when missing or unreadable).
    #[must_use]
    pub fn load() -> Self {
        Self::path()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| toml::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn save(&self) {
        let Some(path) = Self::path() else { return };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(text) = toml::to_string(self) {
            let temporary = path.with_extension("toml.tmp");
            if std::fs::write(&temporary, text).is_ok() {
                let _ = std::fs::rename(&temporary, &path);
            }
        }
    }
}

/// Shared with the ticker window's deferred viewport.
#[derive(Default)]
struct TickerShared {
    content: Arc<TickerContent>,
    palette: Option<Palette>,
    speed: f32,
    max_fps: u32,
    ticker: Ticker,
    clicks: Vec<TickerClick>,
    closed: bool,
}

/// The app.
pub struct TidingsApp {
    model: Model,
    mode: Mode,
    options: Options,
    runtime: tokio::runtime::Handle,
    http: reqwest::Client,
    inbox_tx: mpsc::Sender<Inbox>,
    inbox: mpsc::Receiver<Inbox>,
    ctx: egui::Context,
    link: Option<Link>,
    embedded: Option<Embedded>,
    /// The channel-management API of the built-in server, while it runs.
    admin: Option<crate::client::admin::AdminClient>,
    /// The built-in server's line-up file (what OPML import and export read and write).
    lineup_file: Option<PathBuf>,
    settings_file: Option<SettingsFile>,
    palette: Palette,
    strip: Ticker,
    ticker_shared: Arc<Mutex<TickerShared>>,
    ticker_content: Arc<TickerContent>,
    smartscreen: Option<SmartScreen>,
    ui_state: UiState,
    state_dump: Option<PathBuf>,
    dump_due: Option<Instant>,
    /// The stream's history is over: changes now are news (see [`FeedUpdate::Live`]).
    news_is_live: bool,
    /// Notifications, tray, idle time (not in `--screensaver` mode).
    desktop: Option<Desktop>,
    /// Writes the saved stories (none without a file, or in `--screensaver` mode).
    saved_writer: Option<SavedWriter>,
    /// The main window is hidden in the tray.
    hidden: bool,
    /// Quitting for real (from the tray menu), not hiding.
    quitting: bool,
    next_generation: u64,
    /// The edge reserved for the ticker window (so it is asked for once per placement).
    reserved_edge: Option<TickerPosition>,
    /// Frame statistics for the state dump (benchmarks): when the app started, frames drawn,
    /// and the longest frame's CPU time after the first seconds (which build font atlases).
    started: Instant,
    last_dump: Instant,
    frames: u64,
    frame_max: Duration,
    frame_total: Duration,
}

impl TidingsApp {
    /// Builds the app: applies the theme, starts the content connection and shows the cache.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        options: Options,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Self> {
        let settings_file = options.settings_file.clone();
        // No settings file yet: this person has never run Tidings here.
        let first_run = options.mode == Mode::Normal
            && settings_file
                .as_ref()
                .is_some_and(|file| !file.path().exists());
        let loaded = settings_file
            .as_ref()
            .map(SettingsFile::load)
            .unwrap_or_else(|| super::settings::LoadedSettings {
                settings: Settings::default(),
                warning: None,
            });
        let mut settings = loaded.settings;
        if let Some(servers) = &options.server {
            settings.server = ServerChoice::Remote {
                urls: servers.clone(),
                token: options.token.clone(),
            };
        }
        if options.demo {
            settings.server = ServerChoice::Embedded;
            if settings.locations.is_empty() {
                settings.locations = super::settings::demo_places();
            }
        }
        theme::apply(&cc.egui_ctx, settings.theme);
        let http = crate::client::connection::http_client(Duration::from_secs(10))
            .context("building the HTTP client")?;
        let (inbox_tx, inbox) = mpsc::channel();
        let ui_state = UiState::load();
        let mut model = Model::new(Arc::default(), settings.clone());
        model.notice = loaded.warning;
        if first_run {
            model.view.welcome = Some(super::welcome::Welcome::new(&settings));
        }
        let mut saved_writer = None;
        if let Some(file) = options.saved_file.clone() {
            // Small and needed for the first frame, like the offline cache.
            let loaded = file.load();
            model.saved = Arc::new(loaded.stories);
            if loaded.problem.is_some() {
                model.notice = loaded.problem;
            }
            if options.mode != Mode::ScreenSaver {
                let _entered = runtime.enter();
                let (tx, task, problems) = crate::client::saved::spawn_writer(file);
                saved_writer = Some(SavedWriter { tx, task, problems });
            }
        }
        model.view.channel = ui_state
            .channel
            .as_deref()
            .and_then(|id| crate::protocol::ChannelId::new(id).ok());
        let palette = Palette::of(settings.theme);
        let mode = options.mode;
        let state_dump = options.state_dump.clone();
        let mut app = Self {
            model,
            mode,
            options,
            runtime,
            http,
            inbox_tx,
            inbox,
            ctx: cc.egui_ctx.clone(),
            link: None,
            embedded: None,
            admin: None,
            lineup_file: None,
            settings_file,
            palette,
            strip: Ticker::default(),
            ticker_shared: Arc::new(Mutex::new(TickerShared::default())),
            ticker_content: Arc::default(),
            smartscreen: (mode == Mode::ScreenSaver).then(|| SmartScreen::new(0.0)),
            ui_state,
            state_dump,
            dump_due: None,
            news_is_live: false,
            desktop: None,
            saved_writer,
            hidden: false,
            quitting: false,
            next_generation: 0,
            reserved_edge: None,
            started: Instant::now(),
            last_dump: Instant::now(),
            frames: 0,
            frame_max: Duration::ZERO,
            frame_total: Duration::ZERO,
        };
        if mode != Mode::ScreenSaver {
            let sink: super::desktop::Sink = {
                let inbox = app.inbox_tx.clone();
                let ctx = app.ctx.clone();
                Arc::new(move |event| {
                    let _ = inbox.send(Inbox::Desktop(event));
                    ctx.request_repaint_of(ViewportId::ROOT);
                })
            };
            app.desktop = Some(Desktop::start(
                settings.attention_rules(),
                app.idle_after(&settings),
                &sink,
            ));
        }
        app.connect();
        app.refresh_ticker();
        // The first frame writes the dump: how soon cached content is on screen.
        app.dump_due = app.state_dump.as_ref().map(|_| Instant::now());
        Ok(app)
    }

    /// Starts (or restarts) the connection for the current settings.
    fn connect(&mut self) {
        let resume = self.link.is_none();
        if let Some(link) = self.link.take() {
            link.feed.close();
            drop(link.task);
        }
        let (servers, identity) = match self.model.settings.server.clone() {
            ServerChoice::Remote { urls, .. } => {
                self.stop_embedded();
                // One server keeps its URL as the cache's identity, as before lists.
                let identity = urls.to_string();
                (urls, identity)
            }
            ServerChoice::Embedded => match self.ensure_embedded() {
                Ok(servers) => (
                    servers,
                    if self.options.demo {
                        "embedded-demo"
                    } else {
                        "embedded"
                    }
                    .to_owned(),
                ),
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "embedded server failed to start");
                    self.model.notice =
                        Some(format!("The built-in server could not start: {error:#}"));
                    return;
                }
            },
        };
        let mut config = FeedConfig::new(servers.clone());
        config.cache = Cache::for_server(&identity);
        config.cache_identity = identity;
        // Another weather cell needs a snapshot, not a replay; a first start resumes.
        config.resume = resume;
        config.weather = self.model.settings.place_positions();
        let started = self
            .runtime
            .block_on(feed::start(config, self.http.clone()));
        self.next_generation += 1;
        let generation = self.next_generation;
        if resume || self.model.store.catalog().is_empty() {
            self.model.store = started.initial;
            self.model.cached_at = started.cached_at;
        }
        self.model.set_connection(ConnectionState::Connecting {
            attempt: 1,
            server: Endpoint {
                index: 0,
                count: servers.len(),
                host: servers.first().host().to_owned(),
            },
        });
        let mut updates = started.updates;
        let inbox = self.inbox_tx.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            // Always the root viewport by name: from another thread, a plain `request_repaint`
            // wakes whichever viewport the UI thread is drawing at that instant (often the
            // ticker window), and the main window would sleep on the news.
            while let Some(update) = updates.recv().await {
                if inbox.send(Inbox::Feed(generation, update)).is_err() {
                    break;
                }
                ctx.request_repaint_of(ViewportId::ROOT);
            }
        });
        self.link = Some(Link {
            generation,
            servers,
            current: 0,
            feed: started.handle,
            task: started.task,
        });
    }

    fn ensure_embedded(&mut self) -> anyhow::Result<ServerList> {
        if let Some(embedded) = &self.embedded {
            return Ok(ServerList::parse(&embedded.url)?);
        }
        let demo = self.options.demo;
        let data_dir = match &self.options.embedded_data_dir {
            Some(dir) => dir.clone(),
            None => directories::ProjectDirs::from("org", "Tidings", "tidings")
                .map(|dirs| dirs.data_dir().join("embedded-server"))
                .context("no home directory to keep the built-in server's data in")?,
        };
        // The user's line-up sits beside their settings, in their config directory.
        let lineup_file = self
            .settings_file
            .as_ref()
            .and_then(|file| file.path().parent().map(Path::to_owned))
            .unwrap_or_else(|| data_dir.clone())
            .join(crate::config::lineup::LINEUP_FILE);
        let admin_token = random_token()?;
        let token = admin_token.clone();
        let (url, shutdown, task, upstream, lineup_file) = self.runtime.block_on(async move {
            let mut config = crate::config::ServerConfig::embedded(data_dir, lineup_file, &token)?;
            let upstream = if demo {
                let upstream = crate::server::demo::start().await?;
                crate::server::demo::apply(&mut config, &upstream);
                Some(upstream)
            } else {
                None
            };
            let lineup_file = config.channels_file.clone();
            let listener = crate::server::bind(config.listen)
                .context("cannot open a loopback port for the built-in server")?;
            let address = listener.local_addr()?;
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(crate::server::serve(config, listener, async move {
                let _ = rx.await;
            }));
            anyhow::Ok((format!("http://{address}"), tx, task, upstream, lineup_file))
        })?;
        self.lineup_file = lineup_file;
        tracing::info!(%url, demo, "built-in server running");
        let servers = ServerList::parse(&url)?;
        self.admin = Some(crate::client::admin::AdminClient::new(
            self.http.clone(),
            &url,
            admin_token,
        ));
        self.model.view.lineup = super::lineup::LineupPanel::default();
        self.embedded = Some(Embedded {
            shutdown: Some(shutdown),
            task,
            url,
            _demo: upstream,
        });
        Ok(servers)
    }

    fn stop_embedded(&mut self) {
        self.admin = None;
        self.lineup_file = None;
        self.model.view.lineup = super::lineup::LineupPanel::default();
        if let Some(mut embedded) = self.embedded.take() {
            if let Some(tx) = embedded.shutdown.take() {
                let _ = tx.send(());
            }
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), embedded.task).await
            });
        }
    }

    /// Applies background messages for at most [`DRAIN_BUDGET`].
    fn drain(&mut self) {
        let started = Instant::now();
        let current = self.link.as_ref().map(|l| l.generation);
        let mut content_changed = false;
        while started.elapsed() < DRAIN_BUDGET {
            let Ok(message) = self.inbox.try_recv() else {
                break;
            };
            match message {
                Inbox::Feed(generation, _) if Some(generation) != current => {}
                Inbox::Feed(_, FeedUpdate::Connection(state)) => {
                    if state.is_live() {
                        self.model.cached_at = None;
                    }
                    if let (Some(link), Some(server)) = (&mut self.link, state.server()) {
                        link.current = server.index;
                    }
                    self.model.set_connection(state);
                    if let Some(desktop) = &mut self.desktop {
                        desktop.tray_dirty = true;
                    }
                    // A new connection starts with history again.
                    self.news_is_live = false;
                    self.schedule_dump();
                }
                Inbox::Feed(_, FeedUpdate::Live) => self.news_is_live = true,
                Inbox::Feed(_, FeedUpdate::Changes { changes, store }) => {
                    if let Some(desktop) = &mut self.desktop {
                        desktop.observe(&changes, &store, self.news_is_live);
                    }
                    self.model.store = store;
                    if self.model.refresh_saved(&changes) {
                        self.write_saved();
                    }
                    if !changes.is_empty() {
                        self.model.last_change = Some(Utc::now());
                    }
                    content_changed = true;
                }
                Inbox::Feed(_, FeedUpdate::Warning(warning)) => {
                    self.model.notice = Some(warning);
                }
                Inbox::Desktop(event) => self.desktop_event(event),
                Inbox::Image(url, image) => {
                    self.model.thumbnails.finish(&self.ctx, &url, image);
                }
                Inbox::Lineup(reply) => {
                    if let Some((id, position)) = self.model.view.lineup.received(*reply) {
                        self.place_new_channel(&id, &position);
                    }
                    self.schedule_dump();
                }
                Inbox::Exported(message) => self.model.notice = Some(message),
                Inbox::Places(result) => {
                    self.model.view.places = match result {
                        Ok(answer) => PlaceSearch::Found(answer.results),
                        Err(error) => PlaceSearch::Failed(error),
                    };
                }
            }
        }
        if let Some(writer) = &mut self.saved_writer
            && let Ok(problem) = writer.problems.try_recv()
        {
            self.model.notice = Some(format!("Saved stories not written: {problem}"));
        }
        if content_changed {
            self.refresh_ticker();
            self.schedule_dump();
        }
        if started.elapsed() >= DRAIN_BUDGET {
            // More is waiting: come back next frame instead of freezing this one.
            self.ctx.request_repaint_of(ViewportId::ROOT);
        }
    }

    /// How long the user must be idle before the SmartScreen starts (`None`: never). Tests
    /// shorten it with `TIDINGS_IDLE_SECONDS`.
    fn idle_after(&self, settings: &Settings) -> Option<Duration> {
        if self.mode != Mode::Normal || !settings.smartscreen.enabled {
            return None;
        }
        let test_seconds = std::env::var("TIDINGS_IDLE_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        Some(Duration::from_secs(test_seconds.unwrap_or(
            u64::from(settings.smartscreen.idle_minutes.max(1)) * 60,
        )))
    }

    fn desktop_event(&mut self, event: DesktopEvent) {
        match event {
            DesktopEvent::Notifier(NotifierEvent::Unavailable(reason)) => {
                if let Some(desktop) = &mut self.desktop
                    && desktop.notifications_unavailable.is_none()
                {
                    self.model.notice = Some(format!("Notifications are off: {reason}"));
                    desktop.notifications_unavailable = Some(reason);
                }
            }
            DesktopEvent::Notifier(NotifierEvent::Available) => {
                if let Some(desktop) = &mut self.desktop
                    && desktop.notifications_unavailable.take().is_some()
                    && self
                        .model
                        .notice
                        .as_deref()
                        .is_some_and(|n| n.starts_with("Notifications are off"))
                {
                    self.model.notice = None;
                }
            }
            DesktopEvent::Notifier(NotifierEvent::Shown { .. }) => {}
            DesktopEvent::Notifier(NotifierEvent::Activated { id, link, open }) => {
                if open && let Some(link) = link {
                    self.apply(vec![Effect::OpenLink(link)]);
                } else if let Some((channel, key)) = super::desktop::target_of(&id) {
                    self.show_window();
                    match key {
                        Some(key) => self.select_item(channel, key),
                        None => self.model.select_channel(channel),
                    }
                }
            }
            DesktopEvent::Tray(command) => self.tray_command(command),
            DesktopEvent::Idle(IdleTransition::WentIdle) => {
                if self.mode == Mode::Normal && self.smartscreen.is_none() {
                    if let Some(desktop) = &mut self.desktop {
                        desktop.away = Some(super::desktop::Away {
                            since: Utc::now(),
                            ..Default::default()
                        });
                    }
                    self.show_window();
                    self.apply(vec![Effect::StartSmartScreen]);
                }
            }
            DesktopEvent::Idle(IdleTransition::CameBack) => {
                if self.smartscreen.is_some() {
                    self.apply(vec![Effect::EndSmartScreen]);
                }
            }
            DesktopEvent::IdleSource(source) => {
                self.model.idle_source = Some(source.clone());
                if let Some(desktop) = &mut self.desktop {
                    desktop.idle_source = Some(source);
                }
            }
        }
        self.schedule_dump();
    }

    fn tray_command(&mut self, command: TrayCommand) {
        match command {
            TrayCommand::Open => self.show_window(),
            TrayCommand::ShowTicker(on) => {
                let mut settings = self.model.settings.clone();
                settings.ticker.enabled = on;
                if on && settings.ticker.position == TickerPosition::InWindow {
                    settings.ticker.position = TickerPosition::Bottom;
                }
                self.apply_settings(settings);
            }
            TrayCommand::SmartScreen => {
                self.show_window();
                self.apply(vec![Effect::StartSmartScreen]);
            }
            TrayCommand::PauseNotifications(on) => {
                if let Some(desktop) = &mut self.desktop {
                    desktop.pause(on);
                }
            }
            TrayCommand::MarkAllRead => {
                let channels: Vec<_> = self
                    .model
                    .store
                    .channels()
                    .map(|(id, _)| id.clone())
                    .collect();
                self.apply(channels.into_iter().map(Effect::MarkChannelRead).collect());
            }
            TrayCommand::Settings => {
                self.show_window();
                self.model.view.settings =
                    Some(super::model::SettingsDraft::new(&self.model.settings));
            }
            TrayCommand::Quit => {
                self.quitting = true;
                self.ctx
                    .send_viewport_cmd_to(ViewportId::ROOT, ViewportCommand::Close);
            }
        }
        self.schedule_dump();
    }

    /// Shows `key` of `channel` in the main window, marked read.
    fn select_item(&mut self, channel: crate::protocol::ChannelId, key: crate::protocol::ItemKey) {
        self.model.select_channel(channel.clone());
        self.model.view.item = Some(key.clone());
        self.model.view.scroll_to_selection = true;
        self.apply(vec![Effect::SetRead {
            channel,
            key,
            read: true,
        }]);
    }

    /// Brings the main window back (from the tray, or from under other windows).
    fn show_window(&mut self) {
        if self.mode != Mode::Normal {
            return;
        }
        self.hidden = false;
        for command in [
            ViewportCommand::Visible(true),
            ViewportCommand::Minimized(false),
            ViewportCommand::Focus,
        ] {
            self.ctx.send_viewport_cmd_to(ViewportId::ROOT, command);
        }
    }

    /// Closing the main window hides it in the tray when a tray host shows our icon, and
    /// quits otherwise.
    fn on_close_request(&mut self, ctx: &egui::Context) {
        if self.hidden
            || self.quitting
            || self.mode != Mode::Normal
            || !ctx.input(|i| i.viewport().close_requested())
        {
            return;
        }
        let Some(desktop) = &self.desktop else {
            return;
        };
        if !desktop.tray_shown() {
            return;
        }
        ctx.send_viewport_cmd(ViewportCommand::CancelClose);
        ctx.send_viewport_cmd(ViewportCommand::Visible(false));
        self.hidden = true;
        if !self.ui_state.told_about_tray {
            self.ui_state.told_about_tray = true;
            self.ui_state.save();
            desktop.tell(
                "tidings:tray",
                "Tidings is still running",
                "It keeps watching in the tray. Choose Quit in the tray menu to stop it.",
            );
        }
        self.schedule_dump();
    }

    fn update_desktop(&mut self, ctx: &egui::Context) {
        let Some(desktop) = &mut self.desktop else {
            return;
        };
        if let Some(wait) = desktop.poll_if_due() {
            ctx.request_repaint_after(wait.max(Duration::from_millis(20)));
        }
        if !desktop.tray_stale() {
            return;
        }
        let connected = self.model.connection.is_live();
        let (state, unread) = super::desktop::tray_state(&self.model.store, connected);
        let local = |t: chrono::DateTime<Utc>| t.with_timezone(&chrono::Local);
        let connection = super::format::status_line(
            &self.model.connection,
            self.model.retry_left(),
            self.model.cached_at.map(local),
            None,
        )
        .text;
        let ticker = &self.model.settings.ticker;
        let status = TrayStatus {
            state,
            unread,
            connection,
            ticker_shown: ticker.enabled && ticker.position != TickerPosition::InWindow,
            paused: desktop.paused(),
        };
        desktop.update_tray(&status);
    }

    fn refresh_ticker(&mut self) {
        self.ticker_content = Arc::new(TickerContent::from_model(&self.model));
        let mut shared = self
            .ticker_shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shared.content = Arc::clone(&self.ticker_content);
        shared.palette = Some(self.palette);
        shared.speed = self.model.settings.ticker.speed;
        shared.max_fps = self.model.settings.ticker.max_fps;
        drop(shared);
        self.ctx.request_repaint_of(ticker_viewport());
    }

    /// Hands the saved stories to their writer (it writes at once, off the UI thread).
    fn write_saved(&mut self) {
        if let Some(writer) = &self.saved_writer {
            writer.tx.send_replace(Some(Arc::clone(&self.model.saved)));
        }
        self.schedule_dump();
    }

    /// Writes the saved stories as `format` into the Downloads folder (or the home folder),
    /// under a name not yet taken, in the background; the status line tells where.
    fn export_saved(&mut self, format: crate::client::saved::ExportFormat) {
        let stories = Arc::clone(&self.model.saved);
        let inbox = self.inbox_tx.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn_blocking(move || {
            let message = match export_saved_file(&stories, format) {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "saved stories not exported");
                    format!("Saved stories not exported: {error:#}")
                }
            };
            let _ = inbox.send(Inbox::Exported(message));
            ctx.request_repaint_of(ViewportId::ROOT);
        });
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::SetSaved {
                    channel,
                    key,
                    saved,
                } => {
                    if self.model.set_saved(&channel, &key, saved) {
                        self.write_saved();
                    }
                }
                Effect::ExportSaved(format) => self.export_saved(format),
                Effect::SetRead { channel, key, read } => {
                    if let Some(link) = &self.link {
                        link.feed.set_read(&channel, &key, read);
                    }
                }
                Effect::MarkChannelRead(channel) => {
                    if let Some(link) = &self.link {
                        link.feed.mark_channel_read(&channel);
                    }
                }
                Effect::OpenLink(link) => {
                    if super::model::openable(&link) {
                        if let Err(error) = open::that_detached(&link) {
                            self.model.notice =
                                Some(format!("Could not open the browser: {error}"));
                        }
                    } else {
                        self.model.notice =
                            Some("Only web links (http, https) are opened.".to_owned());
                    }
                }
                Effect::ApplySettings(settings) => self.apply_settings(settings),
                Effect::SearchPlaces(query) => self.search_places(query),
                Effect::Lineup(request) => self.lineup_request(request),
                Effect::LoadImage(url) => {
                    if self.model.thumbnails.wants(&url) {
                        self.model.thumbnails.loading(&url);
                        let http = self.http.clone();
                        let inbox = self.inbox_tx.clone();
                        let ctx = self.ctx.clone();
                        self.runtime.spawn(async move {
                            let image = super::thumbnails::fetch(http, url.clone()).await;
                            let _ = inbox.send(Inbox::Image(url, image));
                            ctx.request_repaint_of(ViewportId::ROOT);
                        });
                    }
                }
                Effect::ReconnectNow => {
                    if let Some(link) = &self.link {
                        link.feed.reconnect_now();
                    }
                }
                Effect::StartSmartScreen => {
                    self.smartscreen = Some(SmartScreen::new(self.ctx.input(|i| i.time)));
                }
                Effect::EndSmartScreen => {
                    self.smartscreen = None;
                    if let Some(away) = self.desktop.as_mut().and_then(|d| d.away.as_mut()) {
                        away.returned = true;
                    }
                    if self.mode == Mode::ScreenSaver {
                        self.ctx.send_viewport_cmd(ViewportCommand::Close);
                    }
                }
            }
        }
    }

    fn apply_settings(&mut self, settings: Settings) {
        let reconnect = self.model.settings.needs_reconnect(&settings);
        if settings.theme != self.model.settings.theme {
            theme::apply(&self.ctx, settings.theme);
            self.palette = Palette::of(settings.theme);
        }
        if let Some(file) = &self.settings_file
            && let Err(error) = file.save(&settings)
        {
            tracing::warn!(%error, "settings not saved");
            self.model.notice = Some(error.to_string());
        }
        if settings.autostart != self.model.settings.autostart {
            let result = if settings.autostart {
                let extra = match &settings.server {
                    ServerChoice::Remote { urls, .. } => {
                        vec!["--server".to_owned(), urls.to_string()]
                    }
                    ServerChoice::Embedded => Vec::new(),
                };
                crate::desktop::autostart::enable(&extra).map(|_| ())
            } else {
                crate::desktop::autostart::disable()
            };
            if let Err(error) = result {
                self.model.notice = Some(format!("Autostart not changed: {error}"));
            }
        }
        let idle = self.idle_after(&settings);
        if let Some(desktop) = &mut self.desktop {
            desktop.configure(settings.attention_rules(), idle);
            desktop.tray_dirty = true;
        }
        self.model.settings = settings;
        if reconnect {
            self.connect();
        }
        self.refresh_ticker();
        self.schedule_dump();
    }

    fn search_places(&mut self, query: String) {
        let Some(link) = &self.link else {
            self.model.view.places = PlaceSearch::Failed("Not connected to a server".to_owned());
            return;
        };
        // The server the connection is on: the one known to answer.
        let server = link
            .servers
            .get(link.current)
            .unwrap_or(link.servers.first());
        let mut url = match reqwest::Url::parse(&format!("{server}/v1/geocode")) {
            Ok(url) => url,
            Err(error) => {
                self.model.view.places = PlaceSearch::Failed(error.to_string());
                return;
            }
        };
        url.query_pairs_mut().append_pair("q", &query);
        let http = self.http.clone();
        let inbox = self.inbox_tx.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            let result = async {
                let response = http
                    .get(url)
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await
                    .map_err(|e| crate::net::describe(&e))?;
                let status = response.status();
                if !status.is_success() {
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    let message = body
                        .pointer("/error/message")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("no explanation");
                    return Err(format!("The place search failed ({status}): {message}"));
                }
                response
                    .json::<GeocodeResponse>()
                    .await
                    .map_err(|e| format!("The place search sent an unreadable answer: {e}"))
            }
            .await;
            let _ = inbox.send(Inbox::Places(result));
            ctx.request_repaint_of(ViewportId::ROOT);
        });
    }

    /// Sends a channel-management request to the built-in server; the answer comes back as
    /// [`Inbox::Lineup`], with the line-up read again after a change.
    fn lineup_request(&mut self, request: super::lineup::LineupRequest) {
        let Some(admin) = self.admin.clone() else {
            let why = "Channels and feeds of a shared server are set by its admin. Switch to the built-in server (Settings, General, Server) to keep feeds of your own.";
            self.model.view.lineup.received(super::lineup::LineupReply {
                request,
                outcome: Err(why.to_owned()),
                lineup: Some(Err(why.to_owned())),
            });
            return;
        };
        self.schedule_dump();
        let inbox = self.inbox_tx.clone();
        let ctx = self.ctx.clone();
        let lineup_file = self.lineup_file.clone();
        self.runtime.spawn(async move {
            let reply = super::lineup::run(&admin, lineup_file, request).await;
            let _ = inbox.send(Inbox::Lineup(Box::new(reply)));
            ctx.request_repaint_of(ViewportId::ROOT);
        });
    }

    /// Puts a channel the user just made where they asked, in their channel order (the
    /// order applies at once and is saved, as any change here is).
    fn place_new_channel(&mut self, id: &str, position: &super::lineup::Position) {
        let known = self.model.store.catalog();
        let mut settings = self.model.settings.clone();
        super::lineup::place_channel(&mut settings, &known, id, position);
        if let Some(draft) = &mut self.model.view.settings {
            super::lineup::place_channel(&mut draft.settings, &known, id, position);
        }
        self.apply_settings(settings);
    }

    /// The channel-management panel, for the state dump.
    fn lineup_dump(&self) -> serde_json::Value {
        use super::lineup::{Manage, PreviewState};
        let panel = &self.model.view.lineup;
        let preview = match &panel.preview {
            PreviewState::Idle => serde_json::Value::Null,
            PreviewState::Loading(_) => "loading".into(),
            PreviewState::Ready(crate::protocol::Preview::Feed { title, .. }) => {
                serde_json::json!({"feed": title})
            }
            PreviewState::Ready(crate::protocol::Preview::Page { feeds, .. }) => {
                serde_json::json!({"page": feeds.len()})
            }
            PreviewState::Failed(why) => serde_json::json!({"failed": why}),
        };
        serde_json::json!({
            "settings_open": self.model.view.settings.is_some(),
            "managed": matches!(&panel.manage, Manage::Ready(l) if l.managed),
            "address": panel.address,
            "preview": preview,
            "busy": panel.busy,
            "status": panel.status.as_ref().map(|s| match s { Ok(t) | Err(t) => t.clone() }),
        })
    }

    fn schedule_dump(&mut self) {
        if self.state_dump.is_some() && self.dump_due.is_none() {
            self.dump_due = Some(Instant::now() + Duration::from_millis(100));
        }
    }

    /// Writes what the window shows as JSON (for end-to-end tests: `TIDINGS_STATE_DUMP`).
    fn dump_state(&mut self) {
        let (Some(path), Some(due)) = (&self.state_dump, self.dump_due) else {
            return;
        };
        if Instant::now() < due {
            self.ctx.request_repaint_after(due - Instant::now());
            return;
        }
        self.dump_due = None;
        self.last_dump = Instant::now();
        let local = |t: chrono::DateTime<Utc>| t.with_timezone(&chrono::Local);
        let status = super::format::status_line(
            &self.model.connection,
            self.model.retry_left(),
            self.model.cached_at.map(local),
            self.model.last_change.map(local),
        );
        let channels: Vec<serde_json::Value> = self
            .model
            .channel_rows()
            .into_iter()
            .map(|row| {
                let titles: Vec<String> = self
                    .model
                    .store
                    .channel(&row.info.id)
                    .map(|c| c.items.iter().map(|i| i.item.title.clone()).collect())
                    .unwrap_or_default();
                serde_json::json!({"id": row.info.id, "title": row.info.title, "unread": row.unread, "items": titles})
            })
            .collect();
        let dump = serde_json::json!({
            "status": status.text,
            "connection": format!("{:?}", self.model.connection),
            "channels": channels,
            "ticker": self.ticker_content.headlines.iter().map(|h| h.title.clone()).collect::<Vec<_>>(),
            "alert": self.ticker_content.alert.as_ref().map(|a| a.text.clone()),
            "frames": self.frames,
            "frame_max_ms": self.frame_max.as_secs_f64() * 1000.0,
            "frame_total_ms": self.frame_total.as_secs_f64() * 1000.0,
            "items": self.model.store.channels().map(|(_, c)| c.items.len()).sum::<usize>(),
            "unread": self.model.store.channels().map(|(_, c)| c.unread()).sum::<usize>(),
            "saved": self.model.saved.iter().map(|s| s.item.title.clone()).collect::<Vec<_>>(),
            "search": self.model.view.search.open.then(|| self.model.view.search.query.clone()),
            "ticker_enabled": self.model.settings.ticker.enabled,
            "smartscreen": self.smartscreen.is_some(),
            "hidden": self.hidden,
            "notice": self.model.notice,
            "lineup": self.lineup_dump(),
            "welcome": self.model.view.welcome.as_ref().map(|w| format!("{:?}", w.step)),
            "weather": self.model.weather().map(|w| serde_json::json!({
                "place": self.model.settings.first_place().map(|l| l.name.clone()),
                "temperature": w.current.temperature,
                "days": w.daily.len(),
            })),
            "desktop": self.desktop.as_ref().map(|d| serde_json::json!({
                "notifications": d.shown,
                "notifications_unavailable": d.notifications_unavailable,
                "paused": d.paused(),
                "tray": d.tray_shown(),
                "idle_source": d.idle_source.as_ref().map(|s| match s {
                    Ok(label) => label.clone(),
                    Err(why) => format!("none: {why}"),
                }),
                "away": d.away.as_ref().map(|a| serde_json::json!({
                    "returned": a.returned,
                    "items": a.items.iter().map(|(c, n)| (c.as_str().to_owned(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
                    "alerts": a.alerts.iter().map(|(.., title, _)| title.clone()).collect::<Vec<_>>(),
                })),
            })),
        });
        let temporary = path.with_extension("tmp");
        if std::fs::write(&temporary, dump.to_string()).is_ok() {
            let _ = std::fs::rename(&temporary, path);
        }
    }

    /// Reserves the ticker window's screen edge (X11), in the background: the window may take a
    /// moment to be mapped.
    fn reserve_edge(&mut self, position: TickerPosition) {
        if self.reserved_edge == Some(position) || std::env::var_os("DISPLAY").is_none() {
            return;
        }
        self.reserved_edge = Some(position);
        let edge = if position == TickerPosition::Top {
            crate::desktop::dock::Edge::Top
        } else {
            crate::desktop::dock::Edge::Bottom
        };
        self.runtime.spawn_blocking(move || {
            // A loaded machine with software GL can take many seconds to map a new window; keep
            // looking for a minute, and give up at once only when there is no X server at all.
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                match crate::desktop::dock::reserve_edge(
                    "Tidings ticker",
                    edge,
                    TICKER_HEIGHT as u32,
                ) {
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(error @ crate::desktop::dock::DockError::NoDisplay(_)) => {
                        tracing::debug!(%error, "cannot reserve the ticker's screen edge");
                        return;
                    }
                    Err(error) => tracing::debug!(%error, "reserving the ticker's edge, retrying"),
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            tracing::warn!("the ticker window did not appear; its screen edge is not reserved");
        });
    }

    fn show_ticker_window(&mut self, ctx: &egui::Context) {
        let settings = self.model.settings.ticker;
        if !settings.enabled
            || settings.position == TickerPosition::InWindow
            || self.mode != Mode::Normal
        {
            self.reserved_edge = None;
            return;
        }
        self.reserve_edge(settings.position);
        let monitor = ctx
            .input(|i| i.viewport().monitor_size)
            .unwrap_or(egui::vec2(1280.0, 800.0));
        let y = if settings.position == TickerPosition::Top {
            0.0
        } else {
            monitor.y - TICKER_HEIGHT
        };
        let builder = ticker_builder(egui::pos2(0.0, y), egui::vec2(monitor.x, TICKER_HEIGHT));
        let shared = Arc::clone(&self.ticker_shared);
        ctx.show_viewport_deferred(ticker_viewport(), builder, move |ui, _class| {
            let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
            if ui.ctx().input(|i| i.viewport().close_requested()) {
                shared.closed = true;
                ui.ctx().request_repaint_of(ViewportId::ROOT);
            }
            let Some(palette) = shared.palette else {
                return;
            };
            let TickerShared {
                content,
                ticker,
                speed,
                max_fps,
                clicks,
                ..
            } = &mut *shared;
            egui::CentralPanel::default()
                .frame(egui::Frame::new())
                .show(ui, |ui| {
                    if let Some(click) = ticker.ui(ui, content, &palette, *speed, *max_fps) {
                        clicks.push(click);
                        ui.ctx().request_repaint_of(ViewportId::ROOT);
                    }
                });
        });
    }

    fn ticker_clicks(&mut self) {
        let (clicks, closed) = {
            let mut shared = self
                .ticker_shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (
                std::mem::take(&mut shared.clicks),
                std::mem::take(&mut shared.closed),
            )
        };
        if closed {
            let mut settings = self.model.settings.clone();
            settings.ticker.enabled = false;
            self.apply_settings(settings);
        }
        for click in clicks {
            self.show_click(click);
        }
    }

    fn show_click(&mut self, click: TickerClick) {
        let TickerClick::Show { channel, key } = click;
        if self.mode == Mode::TickerOnly {
            let link = self
                .model
                .store
                .channel(&channel)
                .and_then(|c| c.items.iter().find(|i| i.item.key == key))
                .and_then(|i| i.item.link.clone());
            if let Some(link) = link {
                self.apply(vec![Effect::OpenLink(link)]);
            }
            return;
        }
        self.select_item(channel, key);
        self.ctx
            .send_viewport_cmd_to(ViewportId::ROOT, ViewportCommand::Minimized(false));
        self.ctx
            .send_viewport_cmd_to(ViewportId::ROOT, ViewportCommand::Focus);
    }
}

/// Writes an export of `stories` into the Downloads folder (the home folder without one) as
/// `tidings-saved-<date>.<ext>`, `-2`, `-3`, … when taken. Returns the sentence for the status
/// line.
fn export_saved_file(
    stories: &crate::client::saved::SavedStories,
    format: crate::client::saved::ExportFormat,
) -> anyhow::Result<String> {
    let dirs = directories::UserDirs::new().context("no home directory to export into")?;
    let dir = dirs
        .download_dir()
        .unwrap_or_else(|| dirs.home_dir())
        .to_path_buf();
    let export = crate::client::saved::export(stories, format, Utc::now());
    let name = format.file_name(chrono::Local::now().date_naive());
    let mut path = dir.join(&name);
    let stem = name
        .trim_end_matches(&format!(".{}", format.extension()))
        .to_owned();
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.{}", format.extension()));
        n += 1;
    }
    crate::client::atomic::write(&path, export.text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), stories = export.exported, "saved stories exported");
    let mut message = format!(
        "Exported {} to {}",
        match export.exported {
            1 => "1 story".to_owned(),
            n => format!("{n} stories"),
        },
        path.display()
    );
    if export.without_link > 0 {
        message.push_str(&format!(
            " ({} without a web link left out; the JSON export has them)",
            export.without_link
        ));
    }
    Ok(message)
}

/// The ticker window's id.
#[must_use]
pub fn ticker_viewport() -> ViewportId {
    ViewportId::from_hash_of("tidings-ticker")
}

/// A slim borderless always-on-top dock window at `position`.
#[must_use]
pub fn ticker_builder(position: egui::Pos2, size: egui::Vec2) -> ViewportBuilder {
    ViewportBuilder::default()
        .with_title("Tidings ticker")
        .with_app_id("tidings-ticker")
        .with_decorations(false)
        .with_resizable(false)
        .with_always_on_top()
        .with_taskbar(false)
        .with_window_type(egui::X11WindowType::Dock)
        .with_position(position)
        .with_inner_size(size)
}

impl eframe::App for TidingsApp {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        self.model.now = Utc::now();
        if let Some(cpu) = frame.info().cpu_usage {
            self.frames += 1;
            if self.started.elapsed() > Duration::from_secs(3) {
                self.frame_max = self.frame_max.max(Duration::from_secs_f32(cpu));
                self.frame_total += Duration::from_secs_f32(cpu);
            }
        }
        self.drain();
        // Here and in `ui`: eframe runs only `logic` while the window is occluded.
        self.on_close_request(ctx);
        self.update_desktop(ctx);
        self.ticker_clicks();
        self.dump_state();
        if let Some(rect) = ctx.input(|i| i.viewport().outer_rect)
            && self.mode == Mode::Normal
        {
            self.ui_state.window = Some([rect.min.x, rect.min.y, rect.width(), rect.height()]);
        }
        // The dump also carries frame statistics: refresh it with frames that happen anyway
        // (never asking for one, so an idle window stays idle).
        if self.state_dump.is_some()
            && self.dump_due.is_none()
            && self.last_dump.elapsed() > Duration::from_secs(1)
        {
            self.dump_due = Some(Instant::now());
        }
        // The status line counts retry seconds down.
        if self.model.retry_left() > Duration::ZERO {
            ctx.request_repaint_after(Duration::from_millis(500));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.on_close_request(&ctx);
        let palette = self.palette;
        let mut effects = Vec::new();
        match self.mode {
            Mode::TickerOnly => {
                let content = Arc::clone(&self.ticker_content);
                let settings = self.model.settings.ticker;
                if let Some(monitor) = ctx.input(|i| i.viewport().monitor_size)
                    && ctx
                        .input(|i| i.viewport().inner_rect)
                        .is_some_and(|r| (r.width() - monitor.x).abs() > 1.0)
                {
                    let y = if settings.position == TickerPosition::Top {
                        0.0
                    } else {
                        monitor.y - TICKER_HEIGHT
                    };
                    ctx.send_viewport_cmd(ViewportCommand::InnerSize(egui::vec2(
                        monitor.x,
                        TICKER_HEIGHT,
                    )));
                    ctx.send_viewport_cmd(ViewportCommand::OuterPosition(egui::pos2(0.0, y)));
                }
                let mut click = None;
                egui::CentralPanel::default()
                    .frame(egui::Frame::new())
                    .show(ui, |ui| {
                        click =
                            self.strip
                                .ui(ui, &content, &palette, settings.speed, settings.max_fps);
                    });
                if let Some(click) = click {
                    self.show_click(click);
                }
            }
            Mode::ScreenSaver => {
                let smartscreen = self
                    .smartscreen
                    .get_or_insert_with(|| SmartScreen::new(ctx.input(|i| i.time)));
                if smartscreen.ui(ui, &self.model, &palette) {
                    effects.push(Effect::EndSmartScreen);
                }
            }
            Mode::Normal => {
                let in_window = self.model.settings.ticker.enabled
                    && self.model.settings.ticker.position == TickerPosition::InWindow;
                let content = Arc::clone(&self.ticker_content);
                let settings = self.model.settings.ticker;
                let strip_ticker = &mut self.strip;
                let mut strip_clicks = Vec::new();
                let strip_fps = settings.max_fps.min(STRIP_MAX_FPS);
                let mut strip_fn = |ui: &mut egui::Ui, _model: &Model| {
                    if let Some(click) =
                        strip_ticker.ui(ui, &content, &palette, settings.speed, strip_fps)
                    {
                        strip_clicks.push(click);
                    }
                    Vec::new()
                };
                effects.extend(view::main_ui(
                    ui,
                    &mut self.model,
                    &palette,
                    if in_window { Some(&mut strip_fn) } else { None },
                ));
                for click in strip_clicks {
                    self.show_click(click);
                }
                if let Some(desktop) = &mut self.desktop
                    && let Some(away) = &desktop.away
                    && away.returned
                    && self.smartscreen.is_none()
                {
                    let dismissed =
                        away.is_empty() || super::desktop::away_ui(ui, away, &self.model, &palette);
                    if dismissed {
                        desktop.away = None;
                        self.schedule_dump();
                    }
                }
                if let Some(smartscreen) = &mut self.smartscreen {
                    let model = &self.model;
                    let ended = ctx.show_viewport_immediate(
                        ViewportId::from_hash_of("tidings-smartscreen"),
                        ViewportBuilder::default()
                            .with_title("Tidings SmartScreen")
                            .with_fullscreen(true)
                            .with_decorations(false),
                        |ui, _class| {
                            let close = ui.ctx().input(|i| i.viewport().close_requested());
                            smartscreen.ui(ui, model, &palette) || close
                        },
                    );
                    if ended {
                        effects.push(Effect::EndSmartScreen);
                    }
                }
                self.show_ticker_window(&ctx);
                let channel = self
                    .model
                    .current_channel()
                    .map(|c| c.info.id.as_str().to_owned());
                if channel != self.ui_state.channel {
                    self.ui_state.channel = channel;
                }
            }
        }
        self.apply(effects);
    }

    /// A 2048-pixel-wide font atlas instead of one as wide as the GL driver allows (8192 under
    /// Mesa): the atlas is allocated a full row at a time, in RAM and again in the (software)
    /// GL texture, so a narrow one holds the same glyphs in a fraction of the memory.
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        raw_input.max_texture_side = Some(raw_input.max_texture_side.unwrap_or(2048).min(2048));
    }

    /// The window background is the GL clear colour, and the central area paints no fill of
    /// its own: under software GL every pixel painted costs CPU, and a clear is nearly free.
    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        let colour = if self.mode == Mode::TickerOnly {
            self.palette.ticker
        } else {
            self.palette.background
        };
        colour.to_normalized_gamma_f32()
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if self.mode == Mode::Normal {
            self.ui_state.save();
        }
        if let Some(writer) = self.saved_writer.take() {
            // Dropping the sender flushes the last change; wait for it.
            drop(writer.tx);
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), writer.task).await
            });
        }
        if let Some(link) = self.link.take() {
            link.feed.close();
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(2), link.task).await });
        }
        self.stop_embedded();
    }
}

/// A secret for the built-in server's admin API: 128 random bits as hex.
fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
