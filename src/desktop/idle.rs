//! How long the user has been away, whether another program is showing something full screen,
//! and whether the screen is locked: what the app needs to decide when to start the SmartScreen.
//!
//! [`IdleMonitor`] asks the X server (MIT-SCREEN-SAVER) or, on Wayland desktops, the session's
//! D-Bus idle monitor (GNOME Mutter, or `org.freedesktop.ScreenSaver`). It keeps its
//! connections open and blocks on each call: the app polls it from a background thread, paced
//! by [`IdleWatch`], the pure decision part, which turns readings into [`IdleTransition`]s.
//! Nothing here starts or stops the SmartScreen, and a missing source is reported as a value
//! ([`NoIdleSource`]) for the settings dialog to show.

use std::time::Duration;

use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::screensaver::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{Atom, AtomEnum, ConnectionExt as _, Window};
use x11rb::rust_connection::RustConnection;

/// How long a D-Bus call may take before the reading counts as failed: a hung service must
/// not stall the poll thread.
const DBUS_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the idle time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleSource {
    /// The X server's MIT-SCREEN-SAVER extension.
    X11,
    /// GNOME's `org.gnome.Mutter.IdleMonitor` on the session bus (GNOME on Wayland).
    GnomeMutter,
    /// `org.freedesktop.ScreenSaver.GetSessionIdleTime` on the session bus.
    FreedesktopScreenSaver,
}

impl IdleSource {
    /// A name for people, e.g. in the settings dialog.
    pub fn label(self) -> &'static str {
        match self {
            Self::X11 => "X11 screen saver extension",
            Self::GnomeMutter => "GNOME idle monitor (D-Bus)",
            Self::FreedesktopScreenSaver => "freedesktop screen saver (D-Bus)",
        }
    }
}

/// No way to learn the idle time here; the message says why, in words for the settings dialog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct NoIdleSource {
    reason: String,
}

/// One idle reading failed.
#[derive(Debug, thiserror::Error)]
pub enum IdleError {
    /// The X server did not answer (it may have gone away).
    #[error("X11 idle query failed: {0}")]
    X11(String),
    /// The D-Bus idle monitor did not answer or answered with an error.
    #[error("D-Bus idle query failed: {0}")]
    DBus(String),
}

/// The unit `org.freedesktop.ScreenSaver.GetSessionIdleTime` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionIdleUnit {
    Seconds,
    // KDE's kscreenlocker answers with `KIdleTime::idleTime()`, which is in milliseconds.
    Millis,
}

/// How the idle time is read.
#[derive(Debug)]
enum Reader {
    X11,
    Mutter,
    ScreenSaver {
        path: &'static str,
        unit: SessionIdleUnit,
    },
}

/// An X connection and the atoms the full-screen check needs.
#[derive(Debug)]
struct X11 {
    conn: RustConnection,
    root: Window,
    screensaver: bool,
    active_window: Atom,
    wm_state: Atom,
    fullscreen: Atom,
    wm_pid: Atom,
}

impl X11 {
    fn connect(display: Option<&str>) -> Result<Self, String> {
        let (conn, screen_num) = RustConnection::connect(display).map_err(|e| e.to_string())?;
        let root = conn
            .setup()
            .roots
            .get(screen_num)
            .ok_or_else(|| "the X server has no such screen".to_owned())?
            .root;
        let screensaver = conn
            .extension_information(screensaver::X11_EXTENSION_NAME)
            .map_err(|e| e.to_string())?
            .is_some();
        let atom = |name: &str| -> Result<Atom, String> {
            Ok(conn
                .intern_atom(false, name.as_bytes())
                .map_err(|e| e.to_string())?
                .reply()
                .map_err(|e| e.to_string())?
                .atom)
        };
        let active_window = atom("_NET_ACTIVE_WINDOW")?;
        let wm_state = atom("_NET_WM_STATE")?;
        let fullscreen = atom("_NET_WM_STATE_FULLSCREEN")?;
        let wm_pid = atom("_NET_WM_PID")?;
        Ok(Self {
            conn,
            root,
            screensaver,
            active_window,
            wm_state,
            fullscreen,
            wm_pid,
        })
    }

    fn idle(&self) -> Result<Duration, IdleError> {
        let reply = self
            .conn
            .screensaver_query_info(self.root)
            .map_err(|e| IdleError::X11(e.to_string()))?
            .reply()
            .map_err(|e| IdleError::X11(e.to_string()))?;
        Ok(Duration::from_millis(u64::from(reply.ms_since_user_input)))
    }

    /// The first 32-bit values of `property` on `window`; empty when it is missing or the
    /// window is gone.
    fn values32(&self, window: Window, property: Atom, kind: AtomEnum, count: u32) -> Vec<u32> {
        self.conn
            .get_property(false, window, property, kind, 0, count)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .and_then(|reply| reply.value32().map(Iterator::collect))
            .unwrap_or_default()
    }

    fn other_fullscreen_window(&self) -> bool {
        let Some(&active) = self
            .values32(self.root, self.active_window, AtomEnum::WINDOW, 1)
            .first()
        else {
            return false; // no window manager, or it does not say
        };
        if active == x11rb::NONE {
            return false;
        }
        let states = self.values32(active, self.wm_state, AtomEnum::ATOM, 64);
        if !states.contains(&self.fullscreen) {
            return false;
        }
        // A window without _NET_WM_PID is not one of ours: winit sets it on every window.
        let owner = self
            .values32(active, self.wm_pid, AtomEnum::CARDINAL, 1)
            .first()
            .copied();
        owner != Some(std::process::id())
    }
}

/// Reads the user's idle time, and the state that should keep the SmartScreen away.
///
/// Holds its connections (X server, session bus) open for its lifetime; every call blocks, so
/// call it from a background thread.
#[derive(Debug)]
pub struct IdleMonitor {
    reader: Reader,
    x11: Option<X11>,
    bus: Option<zbus::Connection>,
}

impl IdleMonitor {
    /// Finds an idle source for this session.
    ///
    /// On X11 (`DISPLAY` set) the X server's screen-saver extension; on Wayland
    /// (`WAYLAND_DISPLAY` set) the D-Bus idle monitors come first, because Xwayland only
    /// counts input that reaches X clients. The X connection is also kept for
    /// [`other_fullscreen_window`](Self::other_fullscreen_window), and the session bus for
    /// [`screen_locked`](Self::screen_locked), whichever supplies the idle time.
    pub fn detect() -> Result<Self, NoIdleSource> {
        let display = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty());
        let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty());
        let bus = zbus::block_on(async {
            zbus::connection::Builder::session()?
                .method_timeout(DBUS_TIMEOUT)
                .build()
                .await
        })
        .ok();
        Self::open(display.as_deref(), bus, wayland)
    }

    /// Reads the idle time from the X server at `display` (e.g. `":99"`), without touching the
    /// session bus ([`screen_locked`](Self::screen_locked) is then `None`). For tests and for
    /// callers that know their display.
    pub fn x11(display: &str) -> Result<Self, NoIdleSource> {
        Self::open(Some(display), None, false)
    }

    /// Reads the idle time from a D-Bus idle monitor on `bus` only (no X server). For tests
    /// with a private bus, and for callers that already hold a session bus connection.
    pub fn dbus(bus: zbus::Connection) -> Result<Self, NoIdleSource> {
        Self::open(None, Some(bus), false)
    }

    fn open(
        display: Option<&str>,
        bus: Option<zbus::Connection>,
        prefer_dbus: bool,
    ) -> Result<Self, NoIdleSource> {
        let mut x11_problem = None;
        let x11 = match display {
            None => None,
            Some(display) => match X11::connect(Some(display)) {
                Ok(x11) => {
                    if !x11.screensaver {
                        x11_problem = Some(format!(
                            "the X server at {display} lacks the MIT-SCREEN-SAVER extension"
                        ));
                    }
                    Some(x11)
                }
                Err(error) => {
                    x11_problem = Some(format!("no X server at {display} ({error})"));
                    None
                }
            },
        };
        let x11_reads = x11.as_ref().is_some_and(|x| x.screensaver);
        let dbus_reader = || bus.as_ref().and_then(|bus| zbus::block_on(probe_dbus(bus)));
        let reader = if x11_reads && !prefer_dbus {
            Some(Reader::X11)
        } else {
            dbus_reader().or(x11_reads.then_some(Reader::X11))
        };
        let Some(reader) = reader else {
            let x11_part =
                x11_problem.unwrap_or_else(|| "no X server (DISPLAY is not set)".to_owned());
            let bus_part = if bus.is_some() {
                "no D-Bus idle monitor (GNOME Mutter or org.freedesktop.ScreenSaver)"
            } else {
                "no D-Bus session bus for an idle monitor (GNOME Mutter or org.freedesktop.ScreenSaver)"
            };
            return Err(NoIdleSource {
                reason: format!("{x11_part} and {bus_part}"),
            });
        };
        Ok(Self { reader, x11, bus })
    }

    /// Where the idle time comes from.
    pub fn source(&self) -> IdleSource {
        match self.reader {
            Reader::X11 => IdleSource::X11,
            Reader::Mutter => IdleSource::GnomeMutter,
            Reader::ScreenSaver { .. } => IdleSource::FreedesktopScreenSaver,
        }
    }

    /// How long since the user last touched the keyboard or mouse.
    pub fn idle(&self) -> Result<Duration, IdleError> {
        match (&self.reader, &self.x11, &self.bus) {
            (Reader::X11, Some(x11), _) => x11.idle(),
            (Reader::Mutter, _, Some(bus)) => {
                zbus::block_on(mutter_idle(bus)).map_err(|e| IdleError::DBus(e.to_string()))
            }
            (Reader::ScreenSaver { path, unit }, _, Some(bus)) => {
                zbus::block_on(session_idle(bus, path, *unit))
                    .map_err(|e| IdleError::DBus(e.to_string()))
            }
            // `open` only picks a reader whose connection it keeps.
            _ => Err(IdleError::DBus(
                "no connection for the idle source".to_owned(),
            )),
        }
    }

    /// Whether the active window is full screen and belongs to another program (a video, a
    /// presentation): the SmartScreen must not start over it. `false` without an X server,
    /// a window manager or an active window.
    pub fn other_fullscreen_window(&self) -> bool {
        self.x11.as_ref().is_some_and(X11::other_fullscreen_window)
    }

    /// Whether the screen is locked (`org.freedesktop.ScreenSaver` or `org.gnome.ScreenSaver`
    /// `GetActive`), or `None` when no such service answers.
    pub fn screen_locked(&self) -> Option<bool> {
        let bus = self.bus.as_ref()?;
        zbus::block_on(screen_locked(bus))
    }
}

/// Whether `name` has an owner now. Asking first keeps us from D-Bus-activating a screen saver
/// daemon just by polling it.
async fn has_owner(dbus: &zbus::fdo::DBusProxy<'_>, name: &'static str) -> bool {
    match zbus::names::BusName::try_from(name) {
        Ok(name) => dbus.name_has_owner(name).await.unwrap_or(false),
        Err(_) => false,
    }
}

async fn owner(dbus: &zbus::fdo::DBusProxy<'_>, name: &'static str) -> Option<String> {
    let name = zbus::names::BusName::try_from(name).ok()?;
    dbus.get_name_owner(name).await.ok().map(|o| o.to_string())
}

const MUTTER: &str = "org.gnome.Mutter.IdleMonitor";
const MUTTER_PATH: &str = "/org/gnome/Mutter/IdleMonitor/Core";
const SCREENSAVER: &str = "org.freedesktop.ScreenSaver";
// KDE registers both paths; others only the first.
const SCREENSAVER_PATHS: [&str; 2] = ["/org/freedesktop/ScreenSaver", "/ScreenSaver"];
const GNOME_SCREENSAVER: &str = "org.gnome.ScreenSaver";
const KDE_SCREENSAVER: &str = "org.kde.screensaver";

/// The first D-Bus idle monitor on `bus` that answers a reading.
async fn probe_dbus(bus: &zbus::Connection) -> Option<Reader> {
    let dbus = zbus::fdo::DBusProxy::new(bus).await.ok()?;
    if has_owner(&dbus, MUTTER).await && mutter_idle(bus).await.is_ok() {
        return Some(Reader::Mutter);
    }
    if !has_owner(&dbus, SCREENSAVER).await {
        return None;
    }
    let kde = owner(&dbus, KDE_SCREENSAVER).await;
    let unit = if kde.is_some() && kde == owner(&dbus, SCREENSAVER).await {
        SessionIdleUnit::Millis
    } else {
        SessionIdleUnit::Seconds
    };
    // KDE on Wayland and GNOME's proxy answer GetSessionIdleTime with an error: not a source.
    for path in SCREENSAVER_PATHS {
        if session_idle(bus, path, unit).await.is_ok() {
            return Some(Reader::ScreenSaver { path, unit });
        }
    }
    None
}

async fn mutter_idle(bus: &zbus::Connection) -> zbus::Result<Duration> {
    let reply = bus
        .call_method(Some(MUTTER), MUTTER_PATH, Some(MUTTER), "GetIdletime", &())
        .await?;
    let millis: u64 = reply.body().deserialize()?;
    Ok(Duration::from_millis(millis))
}

async fn session_idle(
    bus: &zbus::Connection,
    path: &str,
    unit: SessionIdleUnit,
) -> zbus::Result<Duration> {
    let reply = bus
        .call_method(
            Some(SCREENSAVER),
            path,
            Some(SCREENSAVER),
            "GetSessionIdleTime",
            &(),
        )
        .await?;
    let value: u32 = reply.body().deserialize()?;
    Ok(match unit {
        SessionIdleUnit::Seconds => Duration::from_secs(u64::from(value)),
        SessionIdleUnit::Millis => Duration::from_millis(u64::from(value)),
    })
}

async fn screen_locked(bus: &zbus::Connection) -> Option<bool> {
    let dbus = zbus::fdo::DBusProxy::new(bus).await.ok()?;
    for (name, path) in [
        (SCREENSAVER, SCREENSAVER_PATHS[0]),
        (GNOME_SCREENSAVER, "/org/gnome/ScreenSaver"),
    ] {
        if !has_owner(&dbus, name).await {
            continue;
        }
        let Ok(reply) = bus
            .call_method(Some(name), path, Some(name), "GetActive", &())
            .await
        else {
            continue; // e.g. GNOME's org.freedesktop.ScreenSaver proxy only does inhibition
        };
        if let Ok(active) = reply.body().deserialize::<bool>() {
            return Some(active);
        }
    }
    None
}

/// A change in the user's presence, from [`IdleWatch::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum IdleTransition {
    /// The user has been idle for the threshold and nothing blocks the SmartScreen.
    WentIdle,
    /// Input arrived after [`WentIdle`](Self::WentIdle).
    CameBack,
}

/// Turns successive idle readings into [`IdleTransition`]s, with hysteresis: one `WentIdle`
/// per absence, `CameBack` on the first sign of input after it. Pure; the app's poll thread
/// feeds it readings and sleeps for [`poll_interval`](Self::poll_interval) between them.
#[derive(Debug, Clone)]
pub struct IdleWatch {
    threshold: Duration,
    away: bool,
    last_idle: Option<Duration>,
}

impl IdleWatch {
    /// The shortest pause between readings.
    pub const MIN_POLL: Duration = Duration::from_secs(1);
    /// The longest pause between readings while the user is present.
    pub const MAX_POLL: Duration = Duration::from_secs(60);

    /// A watch that reports `WentIdle` after `threshold` without input.
    pub fn new(threshold: Duration) -> Self {
        Self {
            threshold,
            away: false,
            last_idle: None,
        }
    }

    /// The idle time after which the user counts as away.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// Changes the threshold (the user edited the setting); takes effect on the next step.
    pub fn set_threshold(&mut self, threshold: Duration) {
        self.threshold = threshold;
    }

    /// Whether the last transition was `WentIdle`.
    pub fn away(&self) -> bool {
        self.away
    }

    /// Takes one reading. `blocked` is true while the SmartScreen must not start (another
    /// program is full screen, or the screen is locked); it delays `WentIdle` until it clears
    /// but never causes `CameBack`, which only input does (the idle time went down).
    pub fn step(&mut self, idle: Duration, blocked: bool) -> Option<IdleTransition> {
        let input = self.last_idle.is_some_and(|last| idle < last);
        self.last_idle = Some(idle);
        if self.away {
            if input {
                self.away = false;
                return Some(IdleTransition::CameBack);
            }
            None
        } else if idle >= self.threshold && !blocked {
            self.away = true;
            Some(IdleTransition::WentIdle)
        } else {
            None
        }
    }

    /// How long to sleep before the next reading, given the last one: while present, until
    /// the threshold could first be reached (between [`MIN_POLL`](Self::MIN_POLL) and
    /// [`MAX_POLL`](Self::MAX_POLL)); while away, `MIN_POLL`, to notice the return quickly.
    pub fn poll_interval(&self, idle: Duration) -> Duration {
        if self.away {
            return Self::MIN_POLL;
        }
        self.threshold
            .saturating_sub(idle)
            .clamp(Self::MIN_POLL, Self::MAX_POLL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn goes_idle_once_at_the_threshold() {
        let mut watch = IdleWatch::new(secs(300));
        assert_eq!(watch.step(secs(10), false), None);
        assert_eq!(watch.step(secs(299), false), None);
        assert_eq!(watch.step(secs(300), false), Some(IdleTransition::WentIdle));
        assert!(watch.away());
        // Still idle, longer: no repeat.
        assert_eq!(watch.step(secs(301), false), None);
        assert_eq!(watch.step(secs(900), false), None);
        assert_eq!(watch.step(secs(900), false), None);
    }

    #[test]
    fn comes_back_when_the_idle_time_drops() {
        let mut watch = IdleWatch::new(secs(60));
        assert_eq!(watch.step(secs(61), false), Some(IdleTransition::WentIdle));
        assert_eq!(watch.step(secs(62), false), None);
        assert_eq!(watch.step(secs(0), false), Some(IdleTransition::CameBack));
        assert!(!watch.away());
        assert_eq!(watch.step(secs(1), false), None);
        // Away again after another full threshold.
        assert_eq!(watch.step(secs(59), false), None);
        assert_eq!(watch.step(secs(60), false), Some(IdleTransition::WentIdle));
    }

    #[test]
    fn input_while_present_is_no_transition() {
        let mut watch = IdleWatch::new(secs(60));
        assert_eq!(watch.step(secs(30), false), None);
        assert_eq!(watch.step(secs(2), false), None);
    }

    #[test]
    fn blocked_delays_going_idle_until_it_clears() {
        let mut watch = IdleWatch::new(secs(60));
        assert_eq!(watch.step(secs(60), true), None);
        assert_eq!(watch.step(secs(600), true), None);
        assert!(!watch.away());
        assert_eq!(watch.step(secs(601), false), Some(IdleTransition::WentIdle));
    }

    #[test]
    fn blocked_after_going_idle_does_not_bring_the_user_back() {
        // The screen locks while the SmartScreen runs: only input ends the absence.
        let mut watch = IdleWatch::new(secs(60));
        assert_eq!(watch.step(secs(60), false), Some(IdleTransition::WentIdle));
        assert_eq!(watch.step(secs(70), true), None);
        assert_eq!(watch.step(secs(3), true), Some(IdleTransition::CameBack));
    }

    #[test]
    fn first_reading_above_the_threshold_goes_idle() {
        // The app started while the user was already away.
        let mut watch = IdleWatch::new(secs(60));
        assert_eq!(
            watch.step(secs(3600), false),
            Some(IdleTransition::WentIdle)
        );
    }

    #[test]
    fn poll_sleeps_until_the_threshold_could_be_reached() {
        let mut watch = IdleWatch::new(secs(300));
        assert_eq!(watch.poll_interval(secs(0)), IdleWatch::MAX_POLL);
        assert_eq!(watch.poll_interval(secs(270)), secs(30));
        assert_eq!(
            watch.poll_interval(Duration::from_millis(299_500)),
            IdleWatch::MIN_POLL
        );
        assert_eq!(watch.poll_interval(secs(400)), IdleWatch::MIN_POLL);
        let _ = watch.step(secs(300), false);
        assert_eq!(watch.poll_interval(secs(300)), IdleWatch::MIN_POLL);
        assert_eq!(watch.poll_interval(secs(5000)), IdleWatch::MIN_POLL);
    }

    #[test]
    fn poll_follows_a_changed_threshold() {
        let mut watch = IdleWatch::new(secs(300));
        watch.set_threshold(secs(20));
        assert_eq!(watch.threshold(), secs(20));
        assert_eq!(watch.poll_interval(secs(5)), secs(15));
        assert_eq!(watch.step(secs(20), false), Some(IdleTransition::WentIdle));
    }

    #[test]
    fn no_source_says_why() {
        let error =
            IdleMonitor::open(Some("not a display"), None, false).expect_err("no X server there");
        let text = error.to_string();
        assert!(text.contains("no X server at"), "{text}");
        assert!(
            text.contains("GNOME Mutter or org.freedesktop.ScreenSaver"),
            "{text}"
        );
    }

    #[test]
    fn labels_are_distinct() {
        let labels = [
            IdleSource::X11.label(),
            IdleSource::GnomeMutter.label(),
            IdleSource::FreedesktopScreenSaver.label(),
        ];
        assert!(labels.iter().all(|l| !l.is_empty()));
        assert_ne!(labels[0], labels[1]);
        assert_ne!(labels[1], labels[2]);
    }
}
