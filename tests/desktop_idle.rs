//! The idle monitor against real servers: Xvfb's idle counter and real input (xdotool), a
//! full-screen window under a real window manager (openbox), and the D-Bus idle monitors as
//! fake services on a private session bus (the real ones need a GNOME or KDE session).

#![cfg(feature = "gui")]
// Helpers panic on failure like the tests themselves (as in tests/common).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(dead_code)]
#[path = "common/xvfb.rs"]
mod xvfb;

#[path = "common/session.rs"]
mod session;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use session::SessionBus;
use tidings::desktop::idle::{IdleMonitor, IdleSource};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, PropMode, Window,
    WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use xvfb::Xvfb;

const WAIT: Duration = Duration::from_secs(10);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Moves the pointer with xdotool; `DISPLAY` is set for xdotool only.
fn move_pointer(display: &str, x: u32, y: u32) {
    let status = Command::new("xdotool")
        .args(["mousemove", "--sync", &x.to_string(), &y.to_string()])
        .env("DISPLAY", display)
        .status()
        .expect("xdotool is needed here (apt install xdotool)");
    assert!(status.success());
}

#[test]
fn x11_idle_time_grows_and_input_resets_it() {
    let xvfb = Xvfb::start();
    let monitor = IdleMonitor::x11(&xvfb.display).expect("Xvfb has MIT-SCREEN-SAVER");
    assert_eq!(monitor.source(), IdleSource::X11);
    // No window manager and no session bus here.
    assert!(!monitor.other_fullscreen_window());
    assert_eq!(monitor.screen_locked(), None);

    let first = monitor.idle().expect("idle");
    std::thread::sleep(Duration::from_millis(1500));
    let later = monitor.idle().expect("idle");
    assert!(
        later >= first + Duration::from_millis(1200),
        "idle time should grow while nothing happens: {first:?} then {later:?}"
    );

    move_pointer(&xvfb.display, 10, 10);
    let after_input = monitor.idle().expect("idle");
    assert!(
        after_input < Duration::from_millis(500),
        "input should reset the idle time: {after_input:?} (was {later:?})"
    );
    // And it grows again from there, on the same connection.
    std::thread::sleep(Duration::from_millis(600));
    let again = monitor.idle().expect("idle");
    assert!(again > after_input, "{after_input:?} then {again:?}");
    move_pointer(&xvfb.display, 20, 20);
    assert!(monitor.idle().expect("idle") < again);
}

/// openbox on a display; killed when dropped.
struct Openbox {
    child: Child,
    _config: tempfile::TempDir,
}

impl Openbox {
    fn start(display: &str, conn: &RustConnection, root: Window) -> Self {
        // A config home of its own, so a user's rc.xml cannot change focus behaviour.
        let config = tempfile::tempdir().expect("tempdir");
        let child = Command::new("openbox")
            .env("DISPLAY", display)
            .env("XDG_CONFIG_HOME", config.path())
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openbox is needed here (apt install openbox)");
        let check = atom(conn, "_NET_SUPPORTING_WM_CHECK");
        wait_until("openbox to manage the screen", || {
            !property32(conn, root, check, AtomEnum::WINDOW).is_empty()
        });
        Self {
            child,
            _config: config,
        }
    }
}

impl Drop for Openbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes())
        .unwrap()
        .reply()
        .unwrap()
        .atom
}

fn property32(conn: &RustConnection, window: Window, property: u32, kind: AtomEnum) -> Vec<u32> {
    conn.get_property(false, window, property, kind, 0, 64)
        .unwrap()
        .reply()
        .map(|r| r.value32().map(Iterator::collect).unwrap_or_default())
        .unwrap_or_default()
}

/// Maps a top-level window claiming to belong to process `pid`, optionally asking to start
/// full screen.
fn open_window(conn: &RustConnection, root: Window, pid: u32, fullscreen: bool) -> Window {
    let window = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        0,
        0,
        320,
        200,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new().background_pixel(0x0020_4080),
    )
    .unwrap();
    conn.change_property8(
        PropMode::REPLACE,
        window,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        b"player",
    )
    .unwrap();
    let wm_pid = atom(conn, "_NET_WM_PID");
    conn.change_property32(
        PropMode::REPLACE,
        window,
        wm_pid,
        AtomEnum::CARDINAL,
        &[pid],
    )
    .unwrap();
    if fullscreen {
        let state = atom(conn, "_NET_WM_STATE");
        let full = atom(conn, "_NET_WM_STATE_FULLSCREEN");
        conn.change_property32(PropMode::REPLACE, window, state, AtomEnum::ATOM, &[full])
            .unwrap();
    }
    conn.map_window(window).unwrap();
    conn.flush().unwrap();
    window
}

/// Waits until `window` is the active window, asking the window manager to activate it as a
/// pager would: openbox does not focus every new window (seen when one maps while openbox
/// is still starting).
fn activate(conn: &RustConnection, root: Window, window: Window) {
    let request_type = atom(conn, "_NET_ACTIVE_WINDOW");
    wait_until("the window to be active", || {
        if active_window(conn, root) == Some(window) {
            return true;
        }
        let request = ClientMessageEvent::new(32, window, request_type, [2, 0, 0, 0, 0]);
        conn.send_event(
            false,
            root,
            EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY,
            request,
        )
        .unwrap();
        conn.flush().unwrap();
        false
    });
}

fn active_window(conn: &RustConnection, root: Window) -> Option<Window> {
    let active = atom(conn, "_NET_ACTIVE_WINDOW");
    property32(conn, root, active, AtomEnum::WINDOW)
        .first()
        .copied()
        .filter(|&w| w != x11rb::NONE)
}

#[test]
fn fullscreen_window_of_another_program_blocks_and_ours_does_not() {
    let xvfb = Xvfb::start();
    let (conn, screen) = RustConnection::connect(Some(&xvfb.display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let monitor = IdleMonitor::x11(&xvfb.display).unwrap();
    let _openbox = Openbox::start(&xvfb.display, &conn, root);
    assert!(!monitor.other_fullscreen_window(), "no windows yet");

    // Some other process's window; any live pid that is not ours will do.
    let other = std::process::id() + 1;
    let window = open_window(&conn, root, other, false);
    activate(&conn, root, window);
    assert!(!monitor.other_fullscreen_window(), "not full screen yet");

    // Ask the window manager to make it full screen, as a video player does (EWMH).
    let (state, full) = (
        atom(&conn, "_NET_WM_STATE"),
        atom(&conn, "_NET_WM_STATE_FULLSCREEN"),
    );
    let request = ClientMessageEvent::new(32, window, state, [1, full, 0, 1, 0]);
    conn.send_event(
        false,
        root,
        EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY,
        request,
    )
    .unwrap();
    conn.flush().unwrap();
    wait_until("the other program's full-screen window to be seen", || {
        monitor.other_fullscreen_window()
    });

    // A full-screen window of our own (the SmartScreen itself) does not block.
    let ours = open_window(&conn, root, std::process::id(), true);
    activate(&conn, root, ours);
    let wm_state = property32(&conn, ours, state, AtomEnum::ATOM);
    assert!(wm_state.contains(&full), "openbox kept it full screen");
    assert!(!monitor.other_fullscreen_window());

    // Back to the other program's window once ours is gone.
    conn.destroy_window(ours).unwrap();
    conn.flush().unwrap();
    activate(&conn, root, window);
    assert!(monitor.other_fullscreen_window());
}

/// Fake D-Bus idle services with a settable idle value.
#[derive(Clone, Default)]
struct Fake {
    idle: Arc<AtomicU64>,
}

struct Mutter(Fake);

#[zbus::interface(name = "org.gnome.Mutter.IdleMonitor")]
impl Mutter {
    #[zbus(name = "GetIdletime")]
    fn get_idletime(&self) -> u64 {
        self.0.idle.load(Ordering::SeqCst)
    }
}

/// `org.freedesktop.ScreenSaver`; `working: false` answers idle queries with an error, as
/// KDE does on Wayland.
struct ScreenSaver {
    fake: Fake,
    working: bool,
    locked: bool,
}

#[zbus::interface(name = "org.freedesktop.ScreenSaver")]
impl ScreenSaver {
    #[zbus(name = "GetSessionIdleTime")]
    fn get_session_idle_time(&self) -> zbus::fdo::Result<u32> {
        if self.working {
            Ok(u32::try_from(self.fake.idle.load(Ordering::SeqCst)).unwrap())
        } else {
            Err(zbus::fdo::Error::NotSupported(
                "GetSessionIdleTime is not supported on this platform".into(),
            ))
        }
    }

    #[zbus(name = "GetActive")]
    fn get_active(&self) -> bool {
        self.locked
    }
}

fn connect(bus: &SessionBus) -> zbus::Connection {
    zbus::block_on(async {
        zbus::connection::Builder::address(bus.address.as_str())?
            .method_timeout(Duration::from_secs(5))
            .build()
            .await
    })
    .unwrap()
}

/// A connection on `bus` owning `names` and serving `serve` (path, object) pairs.
fn service(
    bus: &SessionBus,
    names: &[&str],
    setup: impl FnOnce(zbus::connection::Builder<'static>) -> zbus::connection::Builder<'static>,
) -> zbus::Connection {
    let mut builder = zbus::connection::Builder::address(bus.address.as_str()).unwrap();
    for name in names {
        builder = builder.name(name.to_string()).unwrap();
    }
    zbus::block_on(setup(builder).build()).unwrap()
}

#[test]
fn no_dbus_monitor_is_an_error_in_words() {
    let bus = SessionBus::start();
    let error = IdleMonitor::dbus(connect(&bus)).expect_err("nothing on the bus");
    assert_eq!(
        error.to_string(),
        "no X server (DISPLAY is not set) and no D-Bus idle monitor (GNOME Mutter or \
         org.freedesktop.ScreenSaver)"
    );
}

#[test]
fn gnome_mutter_idle_monitor_in_milliseconds() {
    let bus = SessionBus::start();
    let fake = Fake::default();
    fake.idle.store(1234, Ordering::SeqCst);
    let _mutter = service(&bus, &["org.gnome.Mutter.IdleMonitor"], |b| {
        b.serve_at("/org/gnome/Mutter/IdleMonitor/Core", Mutter(fake.clone()))
            .unwrap()
    });
    let monitor = IdleMonitor::dbus(connect(&bus)).unwrap();
    assert_eq!(monitor.source(), IdleSource::GnomeMutter);
    assert_eq!(monitor.idle().unwrap(), Duration::from_millis(1234));
    fake.idle.store(99_000, Ordering::SeqCst);
    assert_eq!(monitor.idle().unwrap(), Duration::from_secs(99));
    // No screen saver service: the lock state is unknown. No X server: nothing full screen.
    assert_eq!(monitor.screen_locked(), None);
    assert!(!monitor.other_fullscreen_window());
}

#[test]
fn freedesktop_screensaver_in_seconds_and_lock_state() {
    let bus = SessionBus::start();
    let fake = Fake::default();
    fake.idle.store(42, Ordering::SeqCst);
    let _saver = service(&bus, &["org.freedesktop.ScreenSaver"], |b| {
        b.serve_at(
            "/org/freedesktop/ScreenSaver",
            ScreenSaver {
                fake: fake.clone(),
                working: true,
                locked: true,
            },
        )
        .unwrap()
    });
    let monitor = IdleMonitor::dbus(connect(&bus)).unwrap();
    assert_eq!(monitor.source(), IdleSource::FreedesktopScreenSaver);
    assert_eq!(monitor.idle().unwrap(), Duration::from_secs(42));
    assert_eq!(monitor.screen_locked(), Some(true));
}

#[test]
fn kde_screensaver_answers_in_milliseconds() {
    // kscreenlocker returns KIdleTime::idleTime(), milliseconds, and also owns
    // org.kde.screensaver, by which we recognise it.
    let bus = SessionBus::start();
    let fake = Fake::default();
    fake.idle.store(4200, Ordering::SeqCst);
    let _saver = service(
        &bus,
        &["org.freedesktop.ScreenSaver", "org.kde.screensaver"],
        |b| {
            b.serve_at(
                "/ScreenSaver",
                ScreenSaver {
                    fake: fake.clone(),
                    working: true,
                    locked: false,
                },
            )
            .unwrap()
        },
    );
    let monitor = IdleMonitor::dbus(connect(&bus)).unwrap();
    assert_eq!(monitor.source(), IdleSource::FreedesktopScreenSaver);
    assert_eq!(monitor.idle().unwrap(), Duration::from_millis(4200));
}

#[test]
fn screensaver_that_refuses_idle_queries_is_not_a_source() {
    // KDE on Wayland answers GetSessionIdleTime with NotSupported.
    let bus = SessionBus::start();
    let _saver = service(&bus, &["org.freedesktop.ScreenSaver"], |b| {
        b.serve_at(
            "/org/freedesktop/ScreenSaver",
            ScreenSaver {
                fake: Fake::default(),
                working: false,
                locked: false,
            },
        )
        .unwrap()
    });
    let error = IdleMonitor::dbus(connect(&bus)).expect_err("not a source");
    assert!(
        error.to_string().contains("no D-Bus idle monitor"),
        "{error}"
    );
}
