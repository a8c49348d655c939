//! The user's own feeds, end to end: the real `tidings` binary under Xvfb with its built-in
//! server, and a real web server on loopback playing a website. Typed at the keyboard as a
//! person would (Ctrl+N, the site's address, Enter to preview, Enter to add), the feed the
//! site announces becomes a channel whose stories reach the window and the ticker. Renamed and
//! then removed through the user's line-up file (as `tidings opml import` or an editor
//! changes it), each change shows at once and is still so after the app restarts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use common::app::App;
use common::xvfb::{Xvfb, focus_main_window, xdotool};
use serde_json::Value;

const STORIES: [&str; 3] = [
    "Ferry timetable changes for the winter",
    "New lighthouse keeper starts on Monday",
    "Fish market reopens after renovation",
];

/// A small newspaper's website: a home page that announces its feed, and the feed.
async fn website() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!DOCTYPE html><html><head><title>Harbour Gazette</title>\
                     <link rel=\"alternate\" type=\"application/rss+xml\" title=\"Top stories\" href=\"/feed.xml\">\
                     </head><body><h1>Harbour Gazette</h1></body></html>",
                )
                    .into_response()
            }),
        )
        .route(
            "/feed.xml",
            get(|| async {
                let items: String = STORIES
                    .iter()
                    .enumerate()
                    .map(|(n, title)| {
                        format!(
                            "<item><title>{title}</title><guid>story-{n}</guid>\
                             <link>https://harbour.example/{n}</link></item>"
                        )
                    })
                    .collect();
                (
                    [(header::CONTENT_TYPE, "application/rss+xml")],
                    format!(
                        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>\
                         <title>Harbour Gazette</title><link>https://harbour.example/</link>\
                         {items}</channel></rss>"
                    ),
                )
                    .into_response()
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Focuses the main window and presses `key` until the state dump satisfies `test`: a key
/// pressed while the window is still taking the focus can be lost, and is pressed again.
async fn press_until(app: &mut App, display: &str, key: &str, test: impl Fn(&Value) -> bool) {
    for _ in 0..5 {
        focus_main_window(display);
        xdotool(display, &["key", key]);
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            if test(&app.state()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("pressing {key} did nothing; last state: {}", app.state());
}

fn channel<'a>(state: &'a Value, id: &str) -> Option<&'a Value> {
    state["channels"].as_array()?.iter().find(|c| c["id"] == id)
}

fn titles(channel: &Value) -> Vec<String> {
    channel["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

fn lineup_file(home: &Path) -> std::path::PathBuf {
    home.join("config").join("tidings").join("channels.toml")
}

/// Two apps on software GL starve each other on a 2-core machine: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_added_from_a_website_address_reaches_the_window_and_the_ticker_and_stays() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let site = website().await;
    let x = Xvfb::start();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config").join("tidings");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[ticker]\nenabled = true\n").unwrap();
    // A line-up of one channel fed by publishers: nothing here reaches the internet.
    std::fs::write(
        lineup_file(home.path()),
        "[[channels]]\nid = \"notes\"\ntitle = \"Notes\"\n",
    )
    .unwrap();
    let mut app = App::start_with(&x, home.path(), &[], &[]);
    app.until("live on the built-in server", |s| {
        s["status"].as_str().unwrap_or("").starts_with("Live") && channel(s, "notes").is_some()
    })
    .await;

    // Ctrl+N, the website's address, Enter: the preview finds the feed the site announces.
    press_until(&mut app, &x.display, "ctrl+n", |s| {
        s["lineup"]["settings_open"] == true && s["lineup"]["managed"] == true
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    xdotool(&x.display, &["type", "--delay", "20", &site]);
    app.until("the address typed", |s| {
        s["lineup"]["address"] == site.as_str()
    })
    .await;
    xdotool(&x.display, &["key", "Return"]);
    app.until("the feed's preview", |s| {
        s["lineup"]["preview"]["feed"] == "Harbour Gazette"
    })
    .await;
    // Enter again adds it as a new channel named after the feed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    xdotool(&x.display, &["key", "Return"]);
    let added = app
        .until("the new channel with its stories", |s| {
            channel(s, "harbour-gazette").is_some_and(|c| titles(c).len() == STORIES.len())
        })
        .await;
    assert_eq!(
        channel(&added, "harbour-gazette").unwrap()["title"],
        "Harbour Gazette"
    );
    app.until("its stories in the ticker", |s| {
        s["ticker"]
            .as_array()
            .is_some_and(|t| t.iter().any(|h| h == STORIES[0]))
    })
    .await;
    let file = std::fs::read_to_string(lineup_file(home.path())).unwrap();
    assert!(file.contains(&format!("{site}/feed.xml")), "{file}");

    // Renamed in the line-up file: the window follows at once, and after a restart.
    std::fs::write(
        lineup_file(home.path()),
        file.replace("title = \"Harbour Gazette\"", "title = \"The Harbour\""),
    )
    .unwrap();
    app.until("the new name", |s| {
        channel(s, "harbour-gazette").is_some_and(|c| c["title"] == "The Harbour")
    })
    .await;
    app.restart();
    let restarted = app
        .until("the renamed channel after a restart", |s| {
            s["status"].as_str().unwrap_or("").starts_with("Live")
                && channel(s, "harbour-gazette")
                    .is_some_and(|c| c["title"] == "The Harbour" && titles(c).len() == 3)
        })
        .await;
    assert!(channel(&restarted, "notes").is_some());

    // Removed: gone from the window and the ticker, and still gone after a restart.
    std::fs::write(
        lineup_file(home.path()),
        "[[channels]]\nid = \"notes\"\ntitle = \"Notes\"\n",
    )
    .unwrap();
    app.until("the channel gone", |s| {
        channel(s, "harbour-gazette").is_none()
            && s["ticker"]
                .as_array()
                .is_some_and(|t| !t.iter().any(|h| h == STORIES[0]))
    })
    .await;
    app.restart();
    let last = app
        .until("live after the second restart", |s| {
            s["status"].as_str().unwrap_or("").starts_with("Live")
        })
        .await;
    assert!(channel(&last, "harbour-gazette").is_none(), "{last}");
    assert!(channel(&last, "notes").is_some());
}

/// The first run greets; Escape skips the welcome, the settings are saved, and the next start
/// goes straight to the news.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_welcome_shows_on_the_first_run_only() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let x = Xvfb::start();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config").join("tidings");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        lineup_file(home.path()),
        "[[channels]]\nid = \"notes\"\ntitle = \"Notes\"\n",
    )
    .unwrap();
    let mut app = App::first_run(&x, home.path(), &[], &[]);
    app.until("the welcome", |s| s["welcome"] == "Place").await;
    assert!(!config.join("settings.toml").exists());
    press_until(&mut app, &x.display, "Escape", |s| s["welcome"].is_null()).await;
    let started = std::time::Instant::now();
    while !config.join("settings.toml").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "settings saved"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.restart();
    let again = app
        .until("live after a restart", |s| {
            s["status"].as_str().unwrap_or("").starts_with("Live")
        })
        .await;
    assert!(again["welcome"].is_null(), "shown once: {again}");
}
