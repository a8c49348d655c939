//! The real `tidings` binary in a real X server (Xvfb) against a real server on loopback: a
//! published item reaches the window; the server is killed and the status line goes to
//! retrying (or offline); the server comes back on the same port and the status line returns to
//! live with nothing lost and nothing doubled. Also: the docked ticker window reserves its
//! screen edge. What the window shows is read from the app's state dump
//! (`TIDINGS_STATE_DUMP`), written from the same model the window draws. And `--demo` fills
//! every channel from the bundled demo with no network, and a story saved from the keyboard
//! is on disk at once and back after the app is killed, and Ctrl+F searches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::app::App;
use common::xvfb::Xvfb;
use common::*;
use serde_json::Value;

/// Two apps on software GL starve each other on a 2-core machine: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn world_titles(state: &Value) -> Vec<String> {
    state["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["id"] == "world")
        .flat_map(|c| c["items"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// Every top-level window on `display` (no window manager runs here), as its title and its
/// `_NET_WM_STRUT_PARTIAL` (empty when it has none). Windows that vanish while being asked
/// about are skipped.
fn windows(display: &str) -> Vec<(String, Vec<u32>)> {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _};
    let Ok((conn, screen)) = x11rb::rust_connection::RustConnection::connect(Some(display)) else {
        return Vec::new();
    };
    let root = conn.setup().roots[screen].root;
    let atom = |name: &str| {
        conn.intern_atom(false, name.as_bytes())
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .map_or(0, |reply| reply.atom)
    };
    let (strut, net_name, utf8) = (
        atom("_NET_WM_STRUT_PARTIAL"),
        atom("_NET_WM_NAME"),
        atom("UTF8_STRING"),
    );
    let property = |window, name, kind| {
        conn.get_property(false, window, name, kind, 0, 64)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
    };
    let Some(tree) = conn.query_tree(root).ok().and_then(|c| c.reply().ok()) else {
        return Vec::new();
    };
    tree.children
        .into_iter()
        .filter_map(|window| {
            let mut name = property(window, net_name, utf8)?.value;
            if name.is_empty() {
                name = property(window, AtomEnum::WM_NAME.into(), AtomEnum::STRING.into())?.value;
            }
            let strut = property(window, strut, AtomEnum::CARDINAL.into())?
                .value32()
                .map(Iterator::collect)
                .unwrap_or_default();
            Some((String::from_utf8_lossy(&name).into_owned(), strut))
        })
        .collect()
}

fn status(state: &Value) -> String {
    state["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_item_reaches_the_window_and_a_server_restart_loses_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let home = tempfile::tempdir().unwrap();
    let server = TestServer::start("").await;
    let addr = server.addr;
    let mut app = App::start(&x, home.path(), &server.base, &[]);

    app.until("live", |s| status(s).starts_with("Live")).await;
    // The ticker window (on by default, at the bottom) reserves its 34 pixels of the screen's
    // bottom edge across the full width, so maximised windows stop above it.
    let started = Instant::now();
    let strut = loop {
        let windows = windows(&x.display);
        if let Some((_, strut)) = windows
            .iter()
            .find(|(title, strut)| title == "Tidings ticker" && !strut.is_empty())
        {
            break strut.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "the ticker window reserved no edge; windows (title, strut): {windows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(strut, [0, 0, 0, 34, 0, 0, 0, 0, 0, 0, 0, 1279]);
    publish(&server.base, "world", "First headline from the test").await;
    app.until("the first headline", |s| {
        world_titles(s).contains(&"First headline from the test".to_owned())
    })
    .await;

    // The server goes away: the status line says so and keeps the content.
    let (_, dir) = server.stop().await;
    let down = app
        .until("retrying or offline", |s| {
            let status = status(s);
            status.starts_with("Retrying") || status.starts_with("Offline")
        })
        .await;
    assert!(world_titles(&down).contains(&"First headline from the test".to_owned()));

    // It comes back on the same port; an item published then arrives once, after the first.
    let server = TestServer::start_at(dir, addr, "").await;
    publish(&server.base, "world", "Second headline after the restart").await;
    let live = app
        .until("live again with the second headline", |s| {
            status(s).starts_with("Live")
                && world_titles(s).contains(&"Second headline after the restart".to_owned())
        })
        .await;
    let titles = world_titles(&live);
    assert_eq!(
        titles,
        [
            "Second headline after the restart",
            "First headline from the test"
        ],
        "nothing lost, nothing doubled"
    );
    assert!(
        live["ticker"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "Second headline after the restart"),
        "the ticker carries it too"
    );
}

/// `tidings --demo`: the embedded server is fed by the bundled demo (no network), and every
/// channel of the default line-up fills: stories in each news channel, the Welcome feed, a
/// five-day forecast for the demo town, the demo's gale warning; then new stories keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_fills_every_channel_of_the_lineup_with_no_network() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let home = tempfile::tempdir().unwrap();
    let mut app = App::start_with(&x, home.path(), &["--demo"], &[]);

    let news = [
        "world", "tech", "science", "health", "business", "culture", "sports",
    ];
    let items_in = |s: &Value, id: &str| {
        s["channels"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .map_or(0, |c| c["items"].as_array().map_or(0, Vec::len))
    };
    let full = app
        .until("every channel filled", |s| {
            status(s).starts_with("Live")
                && news.iter().all(|id| items_in(s, id) >= 5)
                && items_in(s, "welcome") > 0
                && s["weather"]["days"].as_u64() >= Some(5)
                && s["alert"].is_string()
        })
        .await;
    let ids: Vec<&str> = full["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in news.iter().chain(&["welcome", "weather", "alerts"]) {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    assert_eq!(full["weather"]["place"], "Port Tiding, Harbour County");
    assert!(
        full["alert"].as_str().unwrap().contains("Gale Warning"),
        "{}",
        full["alert"]
    );

    // A new story trickles in every few seconds.
    let before = full["items"].as_u64().unwrap();
    app.until("a new demo story", |s| s["items"].as_u64() > Some(before))
        .await;

    // Started again: a new show, nothing of the last run doubled. The last run's offline
    // cache is on disk (so the new run starts from it and resumes after its last event id),
    // and the new run's server, which began after that id, answers with a gap and a snapshot.
    let cache = home.path().join("cache").join("tidings");
    let started = Instant::now();
    while !std::fs::read_dir(&cache).is_ok_and(|mut d| d.next().is_some()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no offline cache"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(app);
    let mut app = App::start_with(&x, home.path(), &["--demo"], &[]);
    let live = app
        .until("live again with the demo", |s| {
            status(s).starts_with("Live") && items_in(s, "world") >= 5
        })
        .await;
    // Wait for more stories than the snapshot or cache had: the new run's (a story doubled
    // from the last run would be one of them).
    let before = live["items"].as_u64().unwrap();
    let again = app
        .until("more demo stories", |s| {
            s["items"].as_u64() > Some(before + 1)
        })
        .await;
    for channel in again["channels"].as_array().unwrap() {
        let titles: Vec<&str> = channel["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let unique: std::collections::BTreeSet<&str> = titles.iter().copied().collect();
        assert_eq!(
            unique.len(),
            titles.len(),
            "doubled in {}: {titles:?}",
            channel["id"]
        );
    }
}

/// Gives the main window the keyboard (no window manager runs here to do it), then runs the
/// xdotool `command` (`key ...`, `type ...`).
fn type_keys(display: &str, command: &[&str]) {
    common::xvfb::focus_main_window(display);
    common::xvfb::xdotool(display, command);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_saved_from_the_keyboard_survives_a_crash_and_the_search_finds_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let home = tempfile::tempdir().unwrap();
    let mut app = App::start_with(&x, home.path(), &["--demo"], &[]);
    let ready = app
        .until("World has stories", |s| {
            status(s).starts_with("Live") && world_titles(s).len() >= 3
        })
        .await;
    let newest = world_titles(&ready)[0].clone();
    // World is the second channel: 2, then j selects its newest story and s saves it.
    type_keys(&x.display, &["key", "--delay", "300", "2", "j", "s"]);
    app.until("the story saved", |s| {
        s["saved"].as_array().is_some_and(|saved| saved.len() == 1)
    })
    .await;
    // Written at once, not at exit: a crash right after loses nothing.
    let file = home.path().join("data").join("tidings").join("saved.json");
    let started = Instant::now();
    while !std::fs::read_to_string(&file).is_ok_and(|text| text.contains("\"saved_at\"")) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "saved.json not written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.restart();
    let back = app
        .until("saved again after the restart", |s| {
            s["saved"].as_array().is_some_and(|saved| saved.len() == 1)
        })
        .await;
    assert_eq!(
        back["saved"][0],
        newest.as_str(),
        "the newest World story was saved"
    );
    // Ctrl+F and typing search; the dump says what is searched. (The pause: when a text field
    // takes the keyboard, winit sets up the X input method again, and keys sent in that
    // moment by a program are dropped.)
    type_keys(&x.display, &["key", "ctrl+f"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    type_keys(&x.display, &["type", "--delay", "120", "harbour"]);
    app.until("searching", |s| s["search"] == "harbour").await;
    type_keys(&x.display, &["key", "Escape"]);
    app.until("the search closed", |s| s["search"].is_null())
        .await;
}
