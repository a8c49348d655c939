//! The system tray icon: a StatusNotifierItem on the session bus (tray-icon with its ksni
//! backend), showing the app's state and offering a short menu.
//!
//! The app owns one [`Tray`], created, updated and dropped on one thread (the UI thread): the
//! tray-icon and muda handles inside are `Rc`-based and not `Send`. Nothing here needs GTK or an
//! event loop: ksni serves D-Bus from a worker thread of its own, reading the session bus address
//! from `DBUS_SESSION_BUS_ADDRESS`. Clicks arrive on that worker thread and are handed to the
//! app's `on_command` callback as [`TrayCommand`]s; the tray never acts on them itself.
//!
//! Without a StatusNotifierWatcher on the bus the tray still starts and registers itself once a
//! watcher appears; [`Tray::host_present`] tells the app whether anybody can see the icon (so it
//! can keep its window open instead of hiding to an invisible tray).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, MouseButton, TrayIcon, TrayIconBuilder, TrayIconEvent};

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrayState {
    /// Connected, nothing new.
    #[default]
    Normal,
    /// Connected, with unread items: a gold dot.
    Unread,
    /// An active alert: a red badge with an exclamation mark.
    Alert,
    /// Not connected to the server: the icon is greyed.
    Disconnected,
}

/// Everything the tray displays; the app builds one from its state and passes it to
/// [`Tray::update`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrayStatus {
    /// Which icon to show.
    pub state: TrayState,
    /// Unread items, for the tooltip.
    pub unread: usize,
    /// The connection in a few words, e.g. "Live" or "Retrying in 8 s".
    pub connection: String,
    /// Whether the ticker is showing (the check mark of "Show ticker").
    pub ticker_shown: bool,
    /// Whether notifications are paused (the check mark of "Pause notifications for 1 hour").
    pub paused: bool,
}

impl TrayStatus {
    /// The tooltip text: "Tidings — 12 unread · Live", or "Tidings — Live" with nothing unread.
    #[must_use]
    pub fn tooltip(&self) -> String {
        if self.unread == 0 {
            format!("Tidings — {}", self.connection)
        } else {
            format!("Tidings — {} unread · {}", self.unread, self.connection)
        }
    }
}

/// What the user asked for in the tray; the app decides what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayCommand {
    /// "Open Tidings", or a left click on the icon.
    Open,
    /// "Show ticker": the wanted state (the opposite of [`TrayStatus::ticker_shown`]).
    ShowTicker(bool),
    /// "Start SmartScreen".
    SmartScreen,
    /// "Pause notifications for 1 hour": the wanted state.
    PauseNotifications(bool),
    /// "Mark all read".
    MarkAllRead,
    /// "Settings…".
    Settings,
    /// "Quit".
    Quit,
}

/// Why the tray could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    /// Another [`Tray`] is alive in this process; tray-icon's event handlers are process-wide.
    #[error("a tray icon is already running in this process")]
    AlreadyRunning,
    /// The menu could not be built.
    #[error("could not build the tray menu: {0}")]
    Menu(String),
    /// The icon could not be registered on the session bus (no bus, or the bus refused).
    #[error("could not start the tray icon: {0}")]
    Start(String),
}

/// The well-known name and object of the StatusNotifierWatcher (KDE's spec, used by every host).
const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
/// How often the host check runs; hosts come and go rarely (a panel restart).
const HOST_POLL: Duration = Duration::from_secs(2);
/// A bus call that takes longer than this counts as "no host".
const HOST_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Tray and menu item ids; the event handlers route by them.
const TRAY_ID: &str = "tidings";
const OPEN_ID: &str = "tidings.open";
const TICKER_ID: &str = "tidings.ticker";
const SMARTSCREEN_ID: &str = "tidings.smartscreen";
const PAUSE_ID: &str = "tidings.pause";
const READ_ID: &str = "tidings.mark-all-read";
const SETTINGS_ID: &str = "tidings.settings";
const QUIT_ID: &str = "tidings.quit";

/// The size of the pixmap sent to the host. tray-icon 0.26 carries one pixmap per icon; hosts
/// scale it to the panel, and scaling 64 down looks better than 32 up on high-DPI panels.
const SENT_ICON_PX: u32 = 64;

/// What the event handlers (on ksni's D-Bus thread) share with the [`Tray`].
struct Route {
    on_command: Box<dyn Fn(TrayCommand) + Send + Sync>,
    /// The app's truth as of the last [`Tray::update`], to turn a check-item click into the
    /// wanted state.
    ticker_shown: AtomicBool,
    paused: AtomicBool,
    /// A check item was clicked: muda has already flipped its mark, so the next update puts the
    /// app's state back on it (the app may have refused the change).
    checks_touched: AtomicBool,
}

/// The live tray's route. tray-icon's and muda's event handlers are set once per process, so
/// one pair of handlers is installed for good and a [`Tray`] plugs its route in here.
static ROUTE: Mutex<Option<Arc<Route>>> = Mutex::new(None);
static HANDLERS: Once = Once::new();

fn current_route() -> Option<Arc<Route>> {
    ROUTE.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Installs the process-wide handlers. Must run before the first icon exists: tray-icon and muda
/// fix "no handler" for good on the first event they send without one. This module is the only
/// caller of `set_event_handler` in the app; a second caller would silently lose (the handlers
/// are `OnceCell`s), so keep it that way.
fn install_handlers() {
    HANDLERS.call_once(|| {
        MenuEvent::set_event_handler(Some(|event: MenuEvent| {
            if let Some(route) = current_route()
                && let Some(command) = menu_command(&route, event.id.0.as_str())
            {
                (route.on_command)(command);
            }
        }));
        TrayIconEvent::set_event_handler(Some(|event: TrayIconEvent| {
            // ksni reports the SNI `Activate` (a left click) as a left-button click.
            if let TrayIconEvent::Click { id, button, .. } = event
                && id.0 == TRAY_ID
                && button == MouseButton::Left
                && let Some(route) = current_route()
            {
                (route.on_command)(TrayCommand::Open);
            }
        }));
    });
}

fn menu_command(route: &Route, menu_id: &str) -> Option<TrayCommand> {
    Some(match menu_id {
        OPEN_ID => TrayCommand::Open,
        TICKER_ID => {
            route.checks_touched.store(true, Ordering::Release);
            TrayCommand::ShowTicker(!route.ticker_shown.load(Ordering::Acquire))
        }
        SMARTSCREEN_ID => TrayCommand::SmartScreen,
        PAUSE_ID => {
            route.checks_touched.store(true, Ordering::Release);
            TrayCommand::PauseNotifications(!route.paused.load(Ordering::Acquire))
        }
        READ_ID => TrayCommand::MarkAllRead,
        SETTINGS_ID => TrayCommand::Settings,
        QUIT_ID => TrayCommand::Quit,
        _ => return None,
    })
}

/// The check items the tray keeps updating.
struct Checks {
    ticker: CheckMenuItem,
    pause: CheckMenuItem,
}

/// The tray icon; see the module docs. Not `Send`: keep it on the thread that created it.
pub struct Tray {
    // Field order is drop order: the icon first, which stops ksni's D-Bus service.
    icon: TrayIcon,
    checks: std::mem::ManuallyDrop<Checks>,
    applied: TrayStatus,
    route: Arc<Route>,
    host: HostWatch,
}

impl std::fmt::Debug for Tray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tray")
            .field("applied", &self.applied)
            .field("host_present", &self.host_present())
            .finish_non_exhaustive()
    }
}

impl Tray {
    /// Puts the icon on the session bus (`DBUS_SESSION_BUS_ADDRESS`) showing `status`.
    ///
    /// `on_command` runs on ksni's D-Bus thread while ksni holds its tray lock: keep it short and
    /// non-blocking (send on a channel, request a repaint). Succeeds without a
    /// StatusNotifierWatcher on the bus (the icon registers when one appears); fails without a
    /// session bus, or when another `Tray` is alive in this process.
    pub fn start(
        status: &TrayStatus,
        on_command: impl Fn(TrayCommand) + Send + Sync + 'static,
    ) -> Result<Self, TrayError> {
        install_handlers();
        let route = Arc::new(Route {
            on_command: Box::new(on_command),
            ticker_shown: AtomicBool::new(status.ticker_shown),
            paused: AtomicBool::new(status.paused),
            checks_touched: AtomicBool::new(false),
        });
        {
            let mut current = ROUTE.lock().unwrap_or_else(PoisonError::into_inner);
            if current.is_some() {
                return Err(TrayError::AlreadyRunning);
            }
            *current = Some(Arc::clone(&route));
        }
        match Self::build(status, Arc::clone(&route)) {
            Ok(tray) => Ok(tray),
            Err(error) => {
                *ROUTE.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Err(error)
            }
        }
    }

    fn build(status: &TrayStatus, route: Arc<Route>) -> Result<Self, TrayError> {
        let menu_error = |error: tray_icon::menu::Error| TrayError::Menu(error.to_string());
        let checks = Checks {
            ticker: CheckMenuItem::with_id(
                TICKER_ID,
                "Show ticker",
                true,
                status.ticker_shown,
                None,
            ),
            pause: CheckMenuItem::with_id(
                PAUSE_ID,
                "Pause notifications for 1 hour",
                true,
                status.paused,
                None,
            ),
        };
        let menu = Menu::with_items(&[
            &MenuItem::with_id(OPEN_ID, "Open Tidings", true, None),
            &checks.ticker,
            &MenuItem::with_id(SMARTSCREEN_ID, "Start SmartScreen", true, None),
            &PredefinedMenuItem::separator(),
            &checks.pause,
            &MenuItem::with_id(READ_ID, "Mark all read", true, None),
            &PredefinedMenuItem::separator(),
            &MenuItem::with_id(SETTINGS_ID, "Settings…", true, None),
            &MenuItem::with_id(QUIT_ID, "Quit", true, None),
        ])
        .map_err(menu_error)?;
        let icon = TrayIconBuilder::new()
            .with_id(TRAY_ID)
            .with_title("Tidings")
            .with_tooltip(status.tooltip())
            .with_icon(tray_icon(status.state)?)
            .with_menu(Box::new(menu))
            .build()
            .map_err(|error| TrayError::Start(error.to_string()))?;
        Ok(Self {
            icon,
            // Never dropped, on purpose: muda's ksni snapshots clone these items' `Rc` handles
            // on the D-Bus thread and drop them there (muda 0.21 `snapshot.rs`, `UnsafeSend`
            // with the no-op platform's inline dispatch). Dropping ours here too could race
            // that reference count at shutdown; holding one count forever keeps it above
            // zero. A few hundred bytes, once per tray.
            checks: std::mem::ManuallyDrop::new(checks),
            applied: status.clone(),
            route,
            host: HostWatch::start(),
        })
    }

    /// Shows `status`: icon, tooltip and check marks. Cheap when nothing changed, so call it
    /// whenever the app's state may have moved (e.g. every logic tick). It also puts a check mark
    /// back when a click asked for a change the app did not make.
    pub fn update(&mut self, status: &TrayStatus) {
        let touched = self.route.checks_touched.swap(false, Ordering::AcqRel);
        if !touched && *status == self.applied {
            return;
        }
        self.route
            .ticker_shown
            .store(status.ticker_shown, Ordering::Release);
        self.route.paused.store(status.paused, Ordering::Release);
        if status.state != self.applied.state {
            match tray_icon(status.state) {
                Ok(icon) => {
                    if let Err(error) = self.icon.set_icon(Some(icon)) {
                        tracing::warn!(%error, "tray icon not updated");
                    }
                }
                Err(error) => tracing::warn!(%error, "tray icon not drawn"),
            }
        }
        let tooltip = status.tooltip();
        if tooltip != self.applied.tooltip()
            && let Err(error) = self.icon.set_tooltip(Some(tooltip))
        {
            tracing::warn!(%error, "tray tooltip not updated");
        }
        // A changed mark reaches the host through tray-icon's menu watcher thread.
        if touched || status.ticker_shown != self.applied.ticker_shown {
            self.checks.ticker.set_checked(status.ticker_shown);
        }
        if touched || status.paused != self.applied.paused {
            self.checks.pause.set_checked(status.paused);
        }
        self.applied = status.clone();
    }

    /// Whether a StatusNotifierHost (a panel that shows tray icons) is on the session bus: the
    /// watcher's name has an owner and its `IsStatusNotifierHostRegistered` is true. Refreshed
    /// by a background thread every two seconds; never blocks.
    #[must_use]
    pub fn host_present(&self) -> bool {
        self.host.present.load(Ordering::Acquire)
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        let mut current = ROUTE.lock().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|route| Arc::ptr_eq(route, &self.route))
        {
            *current = None;
        }
    }
}

/// The background check behind [`Tray::host_present`]: a thread ("tidings-tray-host") with a
/// small current-thread tokio runtime of its own (the tray lives outside the app's runtime, on
/// the UI thread), stopped when the watch is dropped.
struct HostWatch {
    present: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HostWatch {
    fn start() -> Self {
        let present = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&present);
        let thread = std::thread::Builder::new()
            .name("tidings-tray-host".to_owned())
            .spawn(move || watch_host(&shared, stopped));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                tracing::warn!(%error, "tray host check not started");
                None
            }
        };
        // Not waiting for the first answer: `start` runs on the UI thread at start-up, and a
        // slow bus could hold the first frame for seconds. Until it answers (within about a
        // second), there is no host, so closing the window quits.
        Self {
            present,
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for HostWatch {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch_host(present: &AtomicBool, mut stopped: tokio::sync::oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::warn!(%error, "tray host check not started");
            return;
        }
    };
    runtime.block_on(async {
        let connection = tokio::time::timeout(HOST_CALL_TIMEOUT, zbus::Connection::session()).await;
        let connection = match connection {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                tracing::warn!(%error, "no session bus to look for a tray host on");
                return;
            }
            Err(_) => {
                tracing::warn!("the session bus did not answer; not looking for a tray host");
                return;
            }
        };
        loop {
            let registered = tokio::time::timeout(HOST_CALL_TIMEOUT, host_registered(&connection))
                .await
                .unwrap_or(false);
            present.store(registered, Ordering::Release);
            tokio::select! {
                _ = &mut stopped => break,
                () = tokio::time::sleep(HOST_POLL) => {}
            }
        }
    });
}

/// Asks the bus whether the watcher exists (without starting one by activation) and whether
/// it has a host.
async fn host_registered(connection: &zbus::Connection) -> bool {
    let owned = match connection
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &(WATCHER,),
        )
        .await
    {
        Ok(reply) => reply.body().deserialize::<bool>().unwrap_or(false),
        Err(_) => false,
    };
    if !owned {
        return false;
    }
    match connection
        .call_method(
            Some(WATCHER),
            WATCHER_PATH,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(WATCHER, "IsStatusNotifierHostRegistered"),
        )
        .await
    {
        Ok(reply) => reply
            .body()
            .deserialize::<zbus::zvariant::OwnedValue>()
            .ok()
            .and_then(|value| bool::try_from(value).ok())
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn tray_icon(state: TrayState) -> Result<Icon, TrayError> {
    Icon::from_rgba(icon_rgba(state, SENT_ICON_PX), SENT_ICON_PX, SENT_ICON_PX)
        .map_err(|error| TrayError::Start(error.to_string()))
}

/// The accent of the Light theme: a mid blue that reads on dark and light panels alike.
const ACCENT: [f32; 3] = rgb(0x1f, 0x5f, 0xd1);
/// The page and its lines.
const PAPER: [f32; 3] = rgb(0xff, 0xff, 0xff);
/// The unread dot: the Classic ticker's gold.
const GOLD: [f32; 3] = rgb(0xff, 0xc8, 0x2e);
/// The alert badge.
const ALERT_RED: [f32; 3] = rgb(0xd9, 0x1e, 0x2a);
/// Disconnected: the body and lines, greyed.
const GREY: [f32; 3] = rgb(0x80, 0x86, 0x90);
const GREY_PAPER: [f32; 3] = rgb(0xd4, 0xd7, 0xdc);

const fn rgb(r: u8, g: u8, b: u8) -> [f32; 3] {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}

/// The tray icon for `state`, `size_px` square, as straight (not premultiplied) RGBA rows.
///
/// A rounded square in the accent colour with a newspaper glyph (headline, picture, three
/// lines); unread adds a gold dot at the top right, an alert a red badge with "!" at the bottom
/// right, each cut out of the square by a thin transparent ring; disconnected is all grey. Tuned
/// for 32 and 64 pixels (edges snap to whole pixels).
#[must_use]
pub fn icon_rgba(state: TrayState, size_px: u32) -> Vec<u8> {
    let mut canvas = Canvas::new(size_px);
    let (body, paper) = match state {
        TrayState::Disconnected => (GREY, GREY_PAPER),
        _ => (ACCENT, PAPER),
    };
    canvas.fill(
        &Shape::rect(canvas.snap_rect(0.06, 0.06, 0.94, 0.94), 0.2),
        body,
    );
    // The newspaper: a headline bar, a picture, three lines of text.
    canvas.fill(
        &Shape::rect(canvas.snap_rect(0.22, 0.22, 0.78, 0.35), 0.03),
        paper,
    );
    canvas.fill(
        &Shape::rect(canvas.snap_rect(0.22, 0.44, 0.46, 0.78), 0.03),
        paper,
    );
    for top in [0.44, 0.58, 0.72] {
        canvas.fill(
            &Shape::rect(canvas.snap_rect(0.54, top, 0.78, top + 0.06), 0.02),
            paper,
        );
    }
    match state {
        TrayState::Unread => {
            let (x, y) = (0.80, 0.20);
            canvas.erase(&Shape::circle(x, y, 0.25));
            canvas.fill(&Shape::circle(x, y, 0.18), GOLD);
        }
        TrayState::Alert => {
            let (x, y) = (0.75, 0.75);
            canvas.erase(&Shape::circle(x, y, 0.31));
            canvas.fill(&Shape::circle(x, y, 0.25), ALERT_RED);
            canvas.fill(
                &Shape::rect([x - 0.04, y - 0.16, x + 0.04, y + 0.04], 0.04),
                PAPER,
            );
            canvas.fill(&Shape::circle(x, y + 0.11, 0.045), PAPER);
        }
        TrayState::Normal | TrayState::Disconnected => {}
    }
    canvas.into_rgba()
}

/// A shape in unit coordinates (0..1 across the icon), as a signed distance function.
enum Shape {
    /// `[left, top, right, bottom]` and corner radius.
    Rect([f32; 4], f32),
    /// Centre and radius.
    Circle(f32, f32, f32),
}

impl Shape {
    fn rect(bounds: [f32; 4], radius: f32) -> Self {
        Self::Rect(bounds, radius)
    }

    fn circle(x: f32, y: f32, radius: f32) -> Self {
        Self::Circle(x, y, radius)
    }

    /// Distance from the edge, negative inside.
    fn distance(&self, x: f32, y: f32) -> f32 {
        match *self {
            Self::Rect([left, top, right, bottom], radius) => {
                let (cx, cy) = ((left + right) / 2.0, (top + bottom) / 2.0);
                let radius = radius.min((right - left) / 2.0).min((bottom - top) / 2.0);
                let qx = (x - cx).abs() - (right - left) / 2.0 + radius;
                let qy = (y - cy).abs() - (bottom - top) / 2.0 + radius;
                let outside = qx.max(0.0).hypot(qy.max(0.0));
                outside + qx.max(qy).min(0.0) - radius
            }
            Self::Circle(cx, cy, radius) => (x - cx).hypot(y - cy) - radius,
        }
    }
}

/// Premultiplied RGBA in floats, one entry per pixel.
struct Canvas {
    size_px: u32,
    pixels: Vec<[f32; 4]>,
}

impl Canvas {
    fn new(size_px: u32) -> Self {
        let count = usize::try_from(size_px * size_px).unwrap_or(0);
        Self {
            size_px,
            pixels: vec![[0.0; 4]; count],
        }
    }

    /// Rounds rectangle edges to whole pixels so thin lines stay crisp.
    fn snap_rect(&self, left: f32, top: f32, right: f32, bottom: f32) -> [f32; 4] {
        let size = self.size_px as f32;
        let snap = |v: f32| (v * size).round() / size;
        [snap(left), snap(top), snap(right), snap(bottom)]
    }

    /// How much of each pixel `shape` covers, 0..1, anti-aliased over one pixel.
    fn coverage<'a>(&'a self, shape: &'a Shape) -> impl Iterator<Item = f32> + 'a {
        let size = self.size_px as f32;
        (0..self.pixels.len()).map(move |index| {
            let index = index as u32;
            let x = ((index % self.size_px) as f32 + 0.5) / size;
            let y = ((index / self.size_px) as f32 + 0.5) / size;
            (0.5 - shape.distance(x, y) * size).clamp(0.0, 1.0)
        })
    }

    fn fill(&mut self, shape: &Shape, colour: [f32; 3]) {
        let coverage: Vec<f32> = self.coverage(shape).collect();
        for (pixel, alpha) in self.pixels.iter_mut().zip(coverage) {
            let [r, g, b] = colour;
            let keep = 1.0 - alpha;
            *pixel = [
                r * alpha + pixel[0] * keep,
                g * alpha + pixel[1] * keep,
                b * alpha + pixel[2] * keep,
                alpha + pixel[3] * keep,
            ];
        }
    }

    fn erase(&mut self, shape: &Shape) {
        let coverage: Vec<f32> = self.coverage(shape).collect();
        for (pixel, alpha) in self.pixels.iter_mut().zip(coverage) {
            for channel in pixel.iter_mut() {
                *channel *= 1.0 - alpha;
            }
        }
    }

    fn into_rgba(self) -> Vec<u8> {
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        self.pixels
            .into_iter()
            .flat_map(|[r, g, b, a]| {
                let straight = |c: f32| if a > 0.0 { c / a } else { 0.0 };
                [
                    byte(straight(r)),
                    byte(straight(g)),
                    byte(straight(b)),
                    byte(a),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [TrayState; 4] = [
        TrayState::Normal,
        TrayState::Unread,
        TrayState::Alert,
        TrayState::Disconnected,
    ];

    fn pixel(rgba: &[u8], size: u32, x: u32, y: u32) -> [u8; 4] {
        let at = ((y * size + x) * 4) as usize;
        [rgba[at], rgba[at + 1], rgba[at + 2], rgba[at + 3]]
    }

    #[test]
    fn icons_have_transparent_corners_an_opaque_body_and_differ_by_state() {
        for size in [32, 64] {
            let icons: Vec<Vec<u8>> = STATES.iter().map(|&s| icon_rgba(s, size)).collect();
            for icon in &icons {
                assert_eq!(icon.len(), (size * size * 4) as usize);
                assert_eq!(pixel(icon, size, 0, 0)[3], 0, "corner is transparent");
                // The left edge of the body, away from every badge and glyph.
                assert_eq!(pixel(icon, size, size * 12 / 100, size / 2)[3], 255);
            }
            for (i, a) in icons.iter().enumerate() {
                for b in icons.iter().skip(i + 1) {
                    assert_ne!(a, b, "every state looks different at {size} px");
                }
            }
        }
    }

    #[test]
    fn tooltip_names_unread_count_and_connection() {
        let mut status = TrayStatus {
            unread: 12,
            connection: "Live".to_owned(),
            ..TrayStatus::default()
        };
        assert_eq!(status.tooltip(), "Tidings — 12 unread · Live");
        status.unread = 0;
        status.connection = "Retrying in 8 s".to_owned();
        assert_eq!(status.tooltip(), "Tidings — Retrying in 8 s");
    }

    #[test]
    fn check_item_clicks_ask_for_the_opposite_of_the_app_state_and_mark_the_menu_touched() {
        let route = Route {
            on_command: Box::new(|_| {}),
            ticker_shown: AtomicBool::new(true),
            paused: AtomicBool::new(false),
            checks_touched: AtomicBool::new(false),
        };
        assert_eq!(
            menu_command(&route, TICKER_ID),
            Some(TrayCommand::ShowTicker(false))
        );
        assert!(route.checks_touched.load(Ordering::Acquire));
        assert_eq!(
            menu_command(&route, PAUSE_ID),
            Some(TrayCommand::PauseNotifications(true))
        );
        assert_eq!(
            menu_command(&route, READ_ID),
            Some(TrayCommand::MarkAllRead)
        );
        assert_eq!(menu_command(&route, "someone-else's-menu"), None);
    }

    /// Writes each icon at 4x (nearest neighbour) to `tidings-tray-*.png` in the temporary
    /// directory, for a look.
    #[test]
    #[ignore = "writes preview images; run by hand when changing the icons"]
    fn write_icon_previews() {
        for size in [32u32, 64] {
            for state in STATES {
                let rgba = icon_rgba(state, size);
                let scale = 4;
                let big = size * scale;
                let image = image::RgbaImage::from_fn(big, big, |x, y| {
                    image::Rgba(pixel(&rgba, size, x / scale, y / scale))
                });
                let path = std::env::temp_dir()
                    .join(format!("tidings-tray-{state:?}-{size}.png").to_lowercase());
                image.save(&path).unwrap();
            }
        }
    }
}
