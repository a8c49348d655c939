//! The channel-management API against a real server and a real local feed host: channels and
//! feeds added, changed, moved and removed while clients are connected, each change reaching
//! every stream live, surviving a restart, and every bad request refused with a clear answer.
//! Also the line-up file edited from outside, and `SIGHUP` reloading a config file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::*;
use serde_json::{Value, json};
use tidings::client::admin::{AdminClient, AdminError};
use tidings::protocol::{ChannelPatch, LineupSource, NewChannel, Preview};

const ADMIN: &str = "test-admin-token-1234";

fn admin_token() -> String {
    format!("[[tokens]]\nname = \"admin\"\ntoken = \"{ADMIN}\"\nadmin = true\n")
}

const LINEUP: &str = "[[channels]]\nid = \"world\"\ntitle = \"World\"\ncolour = \"#e0564b\"\n";

fn rss(title: &str, items: &[&str]) -> String {
    let items: String = items
        .iter()
        .map(|t| format!("<item><title>{t}</title><guid>{t}</guid><link>https://news.example/{}</link></item>", t.len()))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title>\
         <link>https://news.example/</link>{items}</channel></rss>"
    )
}

/// A feed host: two feeds, pages that announce one, two or no feeds, and things that are not
/// feeds.
async fn feed_host() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let page = |links: &'static str| {
        move || async move {
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                format!("<!DOCTYPE html><html><head><title>Harbour Gazette</title>{links}</head><body>Hello</body></html>"),
            )
                .into_response()
        }
    };
    let router = Router::new()
        .route(
            "/harbour.xml",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/rss+xml")],
                    rss("Harbour Gazette", &["Ferry timetable changes", "New lighthouse keeper"]),
                )
            }),
        )
        .route(
            "/sport.xml",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/rss+xml")],
                    rss("Harbour Sport", &["Regatta postponed"]),
                )
            }),
        )
        .route(
            "/site",
            get(page(r#"<link rel="alternate" type="application/rss+xml" title="Harbour Gazette" href="/harbour.xml">"#)),
        )
        .route(
            "/two",
            get(page(r#"<link rel="alternate" type="application/rss+xml" title="News" href="harbour.xml"><link rel="alternate" type="application/rss+xml" title="Sport" href="sport.xml">"#)),
        )
        .route("/nofeeds", get(page("")))
        .route("/text", get(|| async { "just some words" }))
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

async fn managed_server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("channels.toml"), LINEUP).unwrap();
    TestServer::start_in(
        dir,
        &format!("[ingest]\nenabled = true\n\n{}", admin_token()),
    )
    .await
}

fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(reqwest::Client::new(), &server.base, ADMIN)
}

fn source(url: String) -> LineupSource {
    LineupSource {
        url,
        name: None,
        poll_minutes: None,
    }
}

/// Events until one satisfies `stop` (which is returned last).
async fn until(stream: &mut SseClient, stop: impl Fn(&SseEvent) -> bool) -> Vec<SseEvent> {
    tokio::time::timeout(Duration::from_secs(20), stream.until(stop))
        .await
        .expect("the awaited event did not come")
}

async fn live(base: &str) -> SseClient {
    let mut stream = SseClient::connect(base, "/v1/stream", None).await;
    assert_eq!(stream.status, 200);
    until(&mut stream, |e| e.event == "live").await;
    stream
}

#[tokio::test]
async fn a_channel_added_renamed_and_removed_reaches_every_connected_client_and_survives_a_restart()
{
    let feeds = feed_host().await;
    let server = managed_server().await;
    let api = admin(&server);
    let mut first = live(&server.base).await;
    let mut second = live(&server.base).await;

    let created = api
        .create_channel(&NewChannel {
            title: "Harbour".into(),
            sources: vec![source(format!("{feeds}/harbour.xml"))],
            ..NewChannel::default()
        })
        .await
        .unwrap();
    assert_eq!(created.id, "harbour");
    assert_eq!(created.sources.len(), 1);
    for stream in [&mut first, &mut second] {
        let events = until(stream, |e| {
            e.event == "item" && e.json()["title"] == "New lighthouse keeper"
        })
        .await;
        let announced = events
            .iter()
            .find(|e| e.event == "channel" && e.json()["id"] == "harbour")
            .expect("the new channel is announced before its items");
        assert_eq!(announced.json()["title"], "Harbour");
    }

    api.update_channel(
        "harbour",
        &ChannelPatch {
            title: Some("Harbour Town".into()),
            colour: Some("#00A3A3".into()),
            position: Some(0),
            ..ChannelPatch::default()
        },
    )
    .await
    .unwrap();
    let renamed = until(&mut first, |e| {
        e.event == "channel" && e.json()["title"] == "Harbour Town"
    })
    .await;
    assert_eq!(renamed.last().unwrap().json()["colour"], "#00a3a3");
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(catalog["channels"][0]["id"], "harbour", "moved to the top");

    // A restart keeps the line-up (and the stream resumes without losing anything).
    let last = first.decoder.last_id().to_owned();
    let (_, dir) = server.stop().await;
    let file = std::fs::read_to_string(dir.path().join("channels.toml")).unwrap();
    assert!(file.contains("Harbour Town"), "{file}");
    let server = TestServer::start_in(
        dir,
        &format!("[ingest]\nenabled = true\n\n{}", admin_token()),
    )
    .await;
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(catalog["channels"][0]["title"], "Harbour Town");

    admin(&server).remove_channel("harbour").await.unwrap();
    let mut resumed = SseClient::connect(&server.base, "/v1/stream", Some(&last)).await;
    let events = until(&mut resumed, |e| {
        e.event == "channel" && e.json()["removed"] == true
    })
    .await;
    let retracted = events
        .iter()
        .filter(|e| e.event == "retract" && e.json()["channel"] == "harbour")
        .count();
    assert_eq!(retracted, 2, "each item of the channel is retracted first");
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(catalog["channels"].as_array().unwrap().len(), 1);
    // A client that never saw the channel learns nothing odd from a fresh stream, and a
    // stream that names the removed channel still opens (and tells it so).
    let mut named = SseClient::connect(&server.base, "/v1/stream?channels=harbour", None).await;
    assert_eq!(named.status, 200);
    let events = until(&mut named, |e| e.event == "live").await;
    assert!(
        events
            .iter()
            .any(|e| e.event == "channel" && e.json()["removed"] == true)
    );
    assert!(!events.iter().any(|e| e.event == "item"));
}

#[tokio::test]
async fn feeds_moved_or_removed_take_their_items_with_them() {
    let feeds = feed_host().await;
    let server = managed_server().await;
    let api = admin(&server);
    let mut stream = live(&server.base).await;
    api.create_channel(&NewChannel {
        title: "Local".into(),
        sources: vec![
            source(format!("{feeds}/harbour.xml")),
            source(format!("{feeds}/sport.xml")),
        ],
        ..NewChannel::default()
    })
    .await
    .unwrap();
    // Both feeds' items, in whichever order the two polls land.
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 3 {
        let event = stream.next().await;
        if event.event == "item" {
            seen.insert(event.json()["title"].as_str().unwrap().to_owned());
        }
    }

    api.create_channel(&NewChannel {
        title: "Sport".into(),
        ..NewChannel::default()
    })
    .await
    .unwrap();
    api.move_source(&format!("{feeds}/sport.xml"), "sport")
        .await
        .unwrap();
    let events = until(&mut stream, |e| {
        e.event == "item" && e.json()["title"] == "Regatta postponed"
    })
    .await;
    let item = events.last().unwrap().json();
    assert_eq!(item["channel"], "sport", "read afresh in its new channel");
    assert!(
        events
            .iter()
            .any(|e| e.event == "retract" && e.json()["channel"] == "local"),
        "and gone from the old one"
    );

    api.remove_source("local", &format!("{feeds}/harbour.xml"))
        .await
        .unwrap();
    let events = until(&mut stream, |e| {
        e.event == "retract" && e.json()["channel"] == "local"
    })
    .await;
    assert_eq!(
        events.last().unwrap().json()["reason"],
        "feed removed from the channel"
    );
    let lineup = api.lineup().await.unwrap();
    let local = lineup.channels.iter().find(|c| c.id == "local").unwrap();
    assert!(local.sources.is_empty());
}

#[tokio::test]
async fn previews_read_feeds_and_pages_the_way_the_server_will() {
    let feeds = feed_host().await;
    let server = managed_server().await;
    let api = admin(&server);

    let Preview::Feed {
        url,
        title,
        items,
        item_count,
        already_in,
        ..
    } = api.preview(&format!("{feeds}/harbour.xml")).await.unwrap()
    else {
        panic!("a feed previews as a feed");
    };
    assert_eq!(url, format!("{feeds}/harbour.xml"));
    assert_eq!(title.as_deref(), Some("Harbour Gazette"));
    assert_eq!(item_count, 2);
    assert_eq!(items.len(), 2);
    assert_eq!(already_in, None);

    // An address typed without a scheme: https first, then plain http (this host has no TLS).
    let bare = feeds.trim_start_matches("http://");
    let Preview::Feed { url, .. } = api.preview(&format!("{bare}/harbour.xml")).await.unwrap()
    else {
        panic!("a bare address previews over http when https does not answer");
    };
    assert_eq!(url, format!("{feeds}/harbour.xml"));

    // A website's address: the one feed it announces.
    let Preview::Feed { url, .. } = api.preview(&format!("{feeds}/site")).await.unwrap() else {
        panic!("a page with one feed previews that feed");
    };
    assert_eq!(url, format!("{feeds}/harbour.xml"));

    // A page announcing two: a choice.
    let Preview::Page {
        title,
        feeds: found,
        ..
    } = api.preview(&format!("{feeds}/two")).await.unwrap()
    else {
        panic!("a page with two feeds offers a choice");
    };
    assert_eq!(title.as_deref(), Some("Harbour Gazette"));
    let titles: Vec<_> = found.iter().map(|f| f.title.clone().unwrap()).collect();
    assert_eq!(titles, ["News", "Sport"]);
    assert_eq!(found[1].url, format!("{feeds}/sport.xml"));

    for (path, says) in [
        ("/nofeeds", "announces no feed"),
        ("/text", "is not an RSS, Atom or JSON feed"),
        ("/gone", "404"),
    ] {
        let error = api.preview(&format!("{feeds}{path}")).await.unwrap_err();
        let AdminError::Refused {
            status,
            field,
            message,
            ..
        } = error
        else {
            panic!("{path}: {error:?}");
        };
        assert_eq!(status, 422, "{path}");
        assert_eq!(field.as_deref(), Some("url"));
        assert!(message.contains(says), "{path}: {message}");
    }
    let unreachable = api.preview("http://127.0.0.1:9/feed").await.unwrap_err();
    assert!(
        unreachable.to_string().contains("cannot fetch"),
        "{unreachable}"
    );

    // Once added, a preview says where it already is.
    api.add_source("world", &source(format!("{feeds}/harbour.xml")))
        .await
        .unwrap();
    let Preview::Feed { already_in, .. } =
        api.preview(&format!("{feeds}/harbour.xml")).await.unwrap()
    else {
        panic!();
    };
    assert_eq!(already_in.as_deref(), Some("World"));
}

async fn status_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn bad_channel_requests_are_refused_and_change_nothing() {
    let feeds = feed_host().await;
    let server = managed_server().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/admin/channels", server.base);
    let before = std::fs::read_to_string(server.dir.path().join("channels.toml")).unwrap();

    let (status, _) = status_of(http.get(&url)).await;
    assert_eq!(status, 401);
    let (status, body) = status_of(http.get(&url).bearer_auth(TOKEN)).await;
    assert_eq!(status, 403, "a publish token does not manage channels");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"));

    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(81)}), "title"),
        (json!({"title": "Ok", "colour": "red"}), "colour"),
        (json!({"title": "Ok", "id": "Not An Id!"}), "id"),
        (json!({"title": "Ok", "id": "world"}), "id"),
        (
            json!({"title": "Ok", "sources": [{"url": "ftp://example.org/feed"}]}),
            "url",
        ),
        (
            json!({"title": "Ok", "sources": [{"url": format!("{feeds}/a"), "poll_minutes": 0}]}),
            "poll_minutes",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = status_of(http.post(&url).bearer_auth(ADMIN).json(&body)).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = status_of(
        http.post(&url)
            .bearer_auth(ADMIN)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = status_of(http.post(&url).bearer_auth(ADMIN).body("title=x")).await;
    assert_eq!(status, 415);
    let (status, answer) = status_of(
        http.patch(format!("{url}/nope"))
            .bearer_auth(ADMIN)
            .json(&json!({"title": "x"})),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "unknown_channel");
    let (status, answer) = status_of(http.delete(format!("{url}/world")).bearer_auth(ADMIN)).await;
    assert_eq!(status, 422, "the last channel stays: {answer}");

    // A feed already in a channel is not added twice (http/https, www. and a trailing slash
    // are the same feed).
    let api = admin(&server);
    api.add_source("world", &source("https://example.org/feed/".into()))
        .await
        .unwrap();
    let error = api
        .add_source("world", &source("http://www.example.org/feed".into()))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("already a feed of channel \"World\""),
        "{error}"
    );
    let after = std::fs::read_to_string(server.dir.path().join("channels.toml")).unwrap();
    assert_ne!(before, after);
    assert_eq!(after.matches("example.org/feed").count(), 1);

    // A server whose config file lists its channels says how to change them instead.
    let fixed = TestServer::start(&format!(
        "{}\n[[channels]]\nid = \"world\"\ntitle = \"World\"\n",
        admin_token()
    ))
    .await;
    let (status, answer) = status_of(
        http.post(format!("{}/v1/admin/channels", fixed.base))
            .bearer_auth(ADMIN)
            .json(&json!({"title": "New"})),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SIGHUP")
    );
    let lineup = AdminClient::new(reqwest::Client::new(), &fixed.base, ADMIN)
        .lineup()
        .await
        .unwrap();
    assert!(!lineup.managed);
}

#[tokio::test]
async fn an_edited_lineup_file_applies_without_a_restart() {
    let server = managed_server().await;
    let mut stream = live(&server.base).await;
    let path = server.dir.path().join("channels.toml");
    std::fs::write(
        &path,
        format!("{LINEUP}\n[[channels]]\nid = \"notes\"\ntitle = \"Notes\"\n"),
    )
    .unwrap();
    until(&mut stream, |e| {
        e.event == "channel" && e.json()["id"] == "notes"
    })
    .await;
    // A broken edit is refused and the running catalog stays.
    std::fs::write(&path, "[[channels]]\nid = \"x\"\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(catalog["channels"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_reload_request_applies_an_edited_lineup_file_at_once() {
    let server = managed_server().await;
    let path = server.dir.path().join("channels.toml");
    std::fs::write(
        &path,
        format!("{LINEUP}\n[[channels]]\nid = \"notes\"\ntitle = \"Notes\"\n"),
    )
    .unwrap();
    let lineup = admin(&server).reload().await.unwrap();
    assert!(lineup.channels.iter().any(|c| c.id == "notes"));
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(
        catalog["channels"].as_array().unwrap().len(),
        2,
        "in force already"
    );
    std::fs::write(&path, "[[channels]]\nid = \"x\"\n").unwrap();
    let refused = admin(&server).reload().await.unwrap_err();
    let AdminError::Refused { status, .. } = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(status, 422);
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(
        catalog["channels"].as_array().unwrap().len(),
        2,
        "the running catalog stays"
    );
}

fn hang_up(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn write_server_config(dir: &Path, channels: &str) -> std::path::PathBuf {
    write_config(dir, &format!("{}\n{channels}", admin_token()))
}

#[tokio::test]
async fn sighup_reloads_the_channels_of_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_server_config(dir.path(), LINEUP);
    let server = ChildServer::spawn(&config, dir.path());
    let mut stream = live(&server.base).await;

    write_server_config(
        dir.path(),
        &format!(
            "{LINEUP}\n[[channels]]\nid = \"ops\"\ntitle = \"Operations\"\nkind = \"alerts\"\n"
        ),
    );
    hang_up(&server.child);
    until(&mut stream, |e| {
        e.event == "channel" && e.json()["id"] == "ops"
    })
    .await;
    let (status, _) = status_of(
        reqwest::Client::new()
            .post(format!("{}/v1/channels/ops/items", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"title": "Deploy at noon"})),
    )
    .await;
    assert_eq!(status, 201, "the new channel takes publishing at once");

    // A config that does not validate is refused; the server keeps running as it was.
    std::fs::write(&config, "listen = 12\n").unwrap();
    hang_up(&server.child);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let catalog = get_json(&format!("{}/v1/channels", server.base)).await;
    assert_eq!(catalog["channels"].as_array().unwrap().len(), 2);

    // Dropping the channel from the file removes it on every desktop.
    write_server_config(dir.path(), LINEUP);
    hang_up(&server.child);
    until(&mut stream, |e| {
        e.event == "channel" && e.json()["id"] == "ops" && e.json()["removed"] == true
    })
    .await;
}
