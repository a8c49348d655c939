//! The real `tidings` binary living on a real desktop: a private D-Bus session bus with the
//! dunst notification daemon (or a stand-in tray panel), an X server (Xvfb), and a real
//! content server on loopback.
//!
//! - Only live news notifies; a critical alert arrives once, critical, with its feed text
//!   escaped; a burst of items becomes one notification; quiet hours let only critical
//!   alerts through; with no notification service the status line says so.
//! - The tray item is on the bus with its title and menu; menu clicks act on the app; closing
//!   the window hides it in the tray, and Quit ends the app.
//! - No input for a few seconds starts the SmartScreen; input ends it and shows what arrived
//!   while the user was away.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::app::App;
use common::session::{Dunst, NotifyMonitor, SessionBus, TrayPanel, field};
use common::xvfb::{Xvfb, xdotool};
use common::*;
use serde_json::{Value, json};

/// One desktop at a time: each test runs an app under software GL with its own X server, bus
/// and daemons; on a 2-core CI machine four at once starve each other's timing.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Writes the app's settings file in `home` (the config directory `app_command` points at).
fn write_settings(home: &Path, text: &str) {
    let dir = home.join("config").join("tidings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("settings.toml"), text).unwrap();
}

/// Notifications from Tidings in dunst's history, oldest first.
fn ours(dunst: &Dunst) -> Vec<Value> {
    let mut entries: Vec<Value> = dunst
        .history()
        .into_iter()
        .filter(|entry| field(entry, "appname") == "Tidings")
        .collect();
    entries.reverse();
    entries
}

async fn publish_alert(base: &str, key: &str, severity: &str, title: &str, body: &str) {
    let (status, answer) = publish_json(
        base,
        Some(TOKEN),
        "alerts",
        &json!({"key": key, "severity": severity, "title": title, "body": body}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
}

/// Waits until `test` holds for our notifications in dunst's history; returns them.
async fn until_notified(dunst: &Dunst, what: &str, test: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let entries = ours(dunst);
        if test(&entries) {
            return entries;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}; notifications: {entries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the app on `bus` (plus `env`) and lets it take in its stream's history.
async fn start_app(
    x: &Xvfb,
    home: &Path,
    server: &str,
    bus: &SessionBus,
    env: &[(&str, &str)],
) -> App {
    let mut all = vec![("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())];
    all.extend_from_slice(env);
    let mut app = App::start(x, home, server, &all);
    settle(&mut app).await;
    app
}

/// Lets the app take in its stream's history and switch to live news.
async fn settle(app: &mut App) {
    app.until("live", |s| {
        s["status"].as_str().unwrap_or("").starts_with("Live")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_news_notifies_once_escaped_coalesced_and_history_stays_silent() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let bus = SessionBus::start();
    let dunst = Dunst::start(&bus, &x.display);
    let monitor = NotifyMonitor::start(&bus);
    let home = tempfile::tempdir().unwrap();
    write_settings(
        home.path(),
        "[[channels]]\nid = \"world\"\nnotify = \"everything\"\n",
    );
    let server = TestServer::start("").await;
    // Published before the app starts: history, never a notification. (A critical alert
    // issued minutes ago would be the exception: a reconnect must not swallow it.)
    publish(&server.base, "world", "Old news from before the start").await;
    publish_alert(&server.base, "old", "warning", "An old drill", "").await;

    let mut app = start_app(&x, home.path(), &server.base, &bus, &[]).await;
    app.until("the old news", |s| {
        s["channels"].as_array().unwrap().iter().any(|c| {
            c["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|t| t == "Old news from before the start"))
        })
    })
    .await;
    assert!(
        ours(&dunst).is_empty(),
        "the snapshot notified: {:#?}",
        ours(&dunst)
    );

    // A critical alert: one notification, critical, its markup shown literally.
    publish_alert(
        &server.base,
        "tornado-1",
        "critical",
        "Tornado warning for <b>Harbour County</b>",
        "Take shelter & stay <i>low</i>.",
    )
    .await;
    let entries = until_notified(&dunst, "the alert", |e| !e.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ours(&dunst).len(), 1, "exactly one: {entries:#?}");
    let alert = &entries[0];
    assert_eq!(
        field(alert, "summary"),
        "Tornado warning for <b>Harbour County</b>"
    );
    let body = field(alert, "body").as_str().unwrap();
    assert!(
        body.contains("Take shelter &amp; stay &lt;i&gt;low&lt;/i&gt;."),
        "escaped body: {body}"
    );
    assert_eq!(monitor.urgency_bytes(), ["byte 2"], "critical urgency");

    // Ten items in a burst: one notification that counts them.
    for n in 0..10 {
        publish(&server.base, "world", &format!("Burst item {n}")).await;
    }
    let entries = until_notified(&dunst, "the burst", |e| e.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let entries_after = ours(&dunst);
    assert_eq!(
        entries_after.len(),
        2,
        "one for the burst: {entries_after:#?}"
    );
    assert_eq!(field(&entries[1], "summary"), "10 new in World");
    let state = app.state();
    assert_eq!(state["desktop"]["notifications_unavailable"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_let_only_critical_alerts_through() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let bus = SessionBus::start();
    let dunst = Dunst::start(&bus, &x.display);
    let home = tempfile::tempdir().unwrap();
    // Quiet from an hour ago to an hour from now (local time).
    let now = chrono::Local::now();
    let hhmm = |t: chrono::DateTime<chrono::Local>| t.format("%H:%M").to_string();
    write_settings(
        home.path(),
        &format!(
            "[[channels]]\nid = \"world\"\nnotify = \"everything\"\n\n\
             [notifications]\nquiet_hours = {{ start = \"{}\", end = \"{}\" }}\n",
            hhmm(now - chrono::Duration::hours(1)),
            hhmm(now + chrono::Duration::hours(1)),
        ),
    );
    let server = TestServer::start("").await;
    let mut app = start_app(&x, home.path(), &server.base, &bus, &[]).await;
    for n in 0..3 {
        publish(&server.base, "world", &format!("Quiet item {n}")).await;
    }
    publish_alert(&server.base, "wind", "warning", "Gale warning", "").await;
    // Longer than the coalescing window: nothing comes.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(ours(&dunst).is_empty(), "quiet hours: {:#?}", ours(&dunst));
    publish_alert(&server.base, "fire", "critical", "Evacuate building A", "").await;
    let entries = until_notified(&dunst, "the critical alert", |e| !e.is_empty()).await;
    assert_eq!(field(&entries[0], "summary"), "Evacuate building A");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ours(&dunst).len(), 1);
    app.until("the quiet items", |s| {
        s["channels"].as_array().unwrap().iter().any(|c| {
            c["id"] == "world" && c["items"].as_array().is_some_and(|items| items.len() == 3)
        })
    })
    .await;
}

/// Asks the window titled exactly `title` to close, as a window manager's close button does
/// (`WM_DELETE_WINDOW`).
fn close_window(display: &str, title: &str) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask};
    let (conn, screen) = x11rb::rust_connection::RustConnection::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let atom = |name: &str| {
        conn.intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    };
    let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
    let window = conn
        .query_tree(root)
        .unwrap()
        .reply()
        .unwrap()
        .children
        .into_iter()
        .find(|&w| {
            conn.get_property(false, w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 64)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|p| p.value == title.as_bytes())
        })
        .expect("the window");
    let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, window, EventMask::NO_EVENT, event)
        .unwrap()
        .check()
        .unwrap();
    // A round trip: the server has handled the event before this connection goes away.
    conn.get_input_focus().unwrap().reply().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_shows_state_acts_on_the_app_and_keeps_it_running() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let bus = SessionBus::start();
    let mut panel = TrayPanel::start(Some(&bus));
    panel.ask("register-host");
    let home = tempfile::tempdir().unwrap();
    let server = TestServer::start("").await;
    publish(&server.base, "world", "Unread one").await;
    publish(&server.base, "world", "Unread two").await;
    let mut app = start_app(&x, home.path(), &server.base, &bus, &[]).await;
    app.until("unread items", |s| s["unread"].as_u64() >= Some(2))
        .await;

    panel.ask("wait-item");
    let props = panel.ask("props");
    assert_eq!(props["Title"], "Tidings");
    let tooltip = props["ToolTip"].to_string();
    assert!(
        tooltip.contains("unread") && tooltip.contains("Live"),
        "{tooltip}"
    );
    let layout = panel.ask("layout");
    let labels: Vec<&str> = layout["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["label"].as_str())
        .filter(|label| !label.is_empty())
        .collect();
    assert_eq!(
        labels,
        [
            "Open Tidings",
            "Show ticker",
            "Start SmartScreen",
            "Pause notifications for 1 hour",
            "Mark all read",
            "Settings…",
            "Quit"
        ]
    );

    // No notification service on this bus: the app says so, once, and keeps working.
    publish_alert(&server.base, "drill", "critical", "Fire drill", "").await;
    let state = app
        .until("notifications reported missing", |s| {
            !s["desktop"]["notifications_unavailable"].is_null()
        })
        .await;
    assert!(
        state["notice"]
            .as_str()
            .unwrap()
            .starts_with("Notifications are off")
    );

    // Menu clicks act on the app.
    panel.ask("click Mark all read");
    app.until("everything read", |s| s["unread"] == 0).await;
    panel.ask("click Show ticker");
    app.until("the ticker off", |s| s["ticker_enabled"] == false)
        .await;
    panel.ask("click Pause notifications for 1 hour");
    app.until("paused", |s| s["desktop"]["paused"] == true)
        .await;

    // Closing the window hides it in the tray; the app keeps running.
    app.until("a tray host seen", |s| s["desktop"]["tray"] == true)
        .await;
    close_window(&x.display, "Tidings");
    app.until("hidden in the tray", |s| s["hidden"] == true)
        .await;
    assert!(app.running());
    panel.ask("activate");
    app.until("shown again", |s| s["hidden"] == false).await;

    // Quit means quit.
    panel.ask("click Quit");
    let started = Instant::now();
    while app.running() {
        assert!(started.elapsed() < WAIT, "Quit did not end the app");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_time_starts_the_smartscreen_and_return_shows_what_arrived() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let bus = SessionBus::start();
    let home = tempfile::tempdir().unwrap();
    let server = TestServer::start("").await;
    xdotool(&x.display, &["mousemove", "--sync", "10", "10"]);
    let mut app = start_app(
        &x,
        home.path(),
        &server.base,
        &bus,
        &[("TIDINGS_IDLE_SECONDS", "4")],
    )
    .await;
    let state = app
        .until("an idle source", |s| !s["desktop"]["idle_source"].is_null())
        .await;
    assert_eq!(
        state["desktop"]["idle_source"],
        "X11 screen saver extension"
    );
    // Input keeps it away.
    for _ in 0..3 {
        xdotool(&x.display, &["mousemove", "--sync", "20", "20"]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        xdotool(&x.display, &["mousemove", "--sync", "30", "30"]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.state()["smartscreen"], false);
    }
    // No input for four seconds: the SmartScreen starts.
    app.until("the SmartScreen", |s| s["smartscreen"] == true)
        .await;
    publish(&server.base, "world", "News while away").await;
    publish_alert(&server.base, "storm", "warning", "Storm warning", "").await;
    app.until("the news counted", |s| {
        s["desktop"]["away"]["items"]["world"] == 1
    })
    .await;
    // The user is back: the SmartScreen ends and the summary stays.
    xdotool(&x.display, &["mousemove", "--sync", "200", "200"]);
    let state = app
        .until("the summary", |s| {
            s["smartscreen"] == false && s["desktop"]["away"]["returned"] == true
        })
        .await;
    assert_eq!(state["desktop"]["away"]["alerts"], json!(["Storm warning"]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.state()["desktop"]["away"]["returned"],
        true,
        "stays until dismissed"
    );
}
