//! The `tidings` client commands as a user runs them: `tail --raw` against a scripted SSE
//! server, `tail --json` against a Tidings server, `publish` and `retract` with every kind of
//! failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use std::io::{BufRead as _, Read as _, Write as _};
use std::process::{Command, Stdio};

fn tidings() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
    command
        .env_remove("TIDINGS_SERVER")
        .env_remove("TIDINGS_TOKEN");
    command
}

/// Serves `responses` (raw bytes, one per connection, then closes each) on a thread.
fn raw_server(responses: Vec<&'static [u8]>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for response in responses {
            let Ok((mut socket, _)) = listener.accept() else {
                return;
            };
            let mut head = Vec::new();
            let mut buffer = [0_u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = socket.write_all(response);
        }
    });
    format!("http://{addr}/stream")
}

#[test]
fn tail_raw_once_prints_each_event_as_json_and_exits_zero_at_the_end() {
    let url = raw_server(vec![
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nretry: 10\nid: 4\nevent: ping\ndata: a\ndata: b\n\n: comment\ndata: c\n\nid: 5\n\ndata: d\r\n\r\ndata: unterminated",
    ]);
    let output = tidings()
        .args(["tail", "--raw", &url, "--once"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"event": "ping", "data": "a\nb", "id": "4"}),
            serde_json::json!({"event": "message", "data": "c", "id": "4"}),
            serde_json::json!({"event": "message", "data": "d", "id": "5"}),
        ]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tidings: live"),
        "state changes go to stderr: {stderr}"
    );
}

#[test]
fn tail_raw_exits_zero_on_204_and_sends_headers() {
    let url = raw_server(vec![b"HTTP/1.1 204 No Content\r\n\r\n"]);
    let output = tidings()
        .args(["tail", "--raw", &url, "--header", "X-Test: yes"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("204"));
}

#[test]
fn tail_raw_unauthorized_exits_non_zero() {
    let url = raw_server(vec![
        b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
    ]);
    let output = tidings().args(["tail", "--raw", &url]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unauthorized (401)"));
}

// Multi-threaded: the test blocks on the child's output while the server runs in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_json_follows_a_tidings_server() {
    let server = TestServer::start("").await;
    let mut child = tidings()
        .args([
            "tail",
            "--server",
            &server.base,
            "--channels",
            "world",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The snapshot's channel event first, the switch to live, then what we publish.
    let first: serde_json::Value = serde_json::from_str(&rx.recv_timeout(WAIT).unwrap()).unwrap();
    assert_eq!(first["event"], "channel");
    let live: serde_json::Value = serde_json::from_str(&rx.recv_timeout(WAIT).unwrap()).unwrap();
    assert_eq!(live["event"], "live", "the end of the snapshot is reported");
    let id = publish(&server.base, "world", "Seen by tail").await;
    let line = tokio::task::spawn_blocking(move || rx.recv_timeout(WAIT).unwrap())
        .await
        .unwrap();
    let item: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(item["event"], "item");
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["data"]["title"], "Seen by tail");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn publish_and_retract_report_success_and_every_failure_clearly() {
    let server = TestServer::start("").await;
    let base = server.base.clone();
    let run = move |args: Vec<String>| {
        let base = base.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut command = tidings();
                command.args(&args).args(["--server", &base]);
                command.output().unwrap()
            })
            .await
            .unwrap()
        }
    };
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    let ok = run(strings(&[
        "publish",
        "--token",
        TOKEN,
        "--channel",
        "world",
        "--key",
        "k1",
        "--severity",
        "warning",
        "Title",
        "Body",
    ]))
    .await;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("published world/k1 as event "));
    let again = run(strings(&[
        "publish",
        "--token",
        TOKEN,
        "--channel",
        "world",
        "--key",
        "k1",
        "Title 2",
    ]))
    .await;
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("updated world/k1"));

    for (args, needle) in [
        (
            strings(&[
                "publish",
                "--token",
                "wrong-token-000",
                "--channel",
                "world",
                "T",
            ]),
            "did not accept the token (401)",
        ),
        (
            strings(&["publish", "--token", WORLD_TOKEN, "--channel", "tech", "T"]),
            "may not publish to channel tech (403)",
        ),
        (
            strings(&["publish", "--token", TOKEN, "--channel", "nosuch", "T"]),
            "not found (404)",
        ),
        (
            strings(&[
                "publish",
                "--token",
                TOKEN,
                "--channel",
                "world",
                "--link",
                "ftp://x",
                "T",
            ]),
            "refused the link",
        ),
        (
            strings(&[
                "publish",
                "--token",
                TOKEN,
                "--channel",
                "world",
                "--severity",
                "huge",
                "T",
            ]),
            "--severity must be one of",
        ),
        (
            strings(&["retract", "--token", TOKEN, "--channel", "world", "nope"]),
            "not found (404)",
        ),
    ] {
        let output = run(args.clone()).await;
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    let retracted = run(strings(&[
        "retract",
        "--token",
        TOKEN,
        "--channel",
        "world",
        "k1",
    ]))
    .await;
    assert!(String::from_utf8_lossy(&retracted.stdout).starts_with("retracted world/k1"));

    // An unreachable server is an error too, not a hang.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        tidings()
            .args([
                "publish",
                "--server",
                &format!("http://{free}"),
                "--token",
                TOKEN,
                "--channel",
                "world",
                "T",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach the server"));
}

/// `tidings` with its data directory (where `saved.json` lives) under `home`.
fn tidings_at(home: &std::path::Path) -> Command {
    let mut command = tidings();
    command
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    command
}

#[test]
fn saved_stories_export_as_bookmarks_or_json_and_list() {
    use tidings::client::saved::{SavedFile, SavedStories, SavedStory};
    use tidings::protocol::{ChannelId, Item, ItemKey, Severity};
    let home = tempfile::tempdir().unwrap();
    let file = SavedFile::new(home.path().join("data/tidings/saved.json"));
    let mut stories = SavedStories::default();
    for (key, title, link) in [
        ("a", "Harbour & lighthouse", Some("https://example.com/a")),
        ("b", "No link here", None),
    ] {
        let now = chrono::Utc::now();
        stories.insert(SavedStory::new(
            Item {
                channel: ChannelId::new("world").unwrap(),
                key: ItemKey::new(key).unwrap(),
                title: title.to_owned(),
                body: Some("Summary.".to_owned()),
                link: link.map(str::to_owned),
                source: None,
                image: None,
                severity: Severity::Info,
                published: now,
                updated: now,
                expires: None,
            },
            "World",
            "#4a90e2",
            now,
        ));
    }
    file.save(&stories).unwrap();

    let out = home.path().join("bookmarks.html");
    let output = tidings_at(home.path())
        .args(["saved", "export", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("exported 1 saved story to"), "{stderr}");
    assert!(stderr.contains("1 without a web link left out"), "{stderr}");
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE NETSCAPE-Bookmark-file-1>"));
    assert!(html.contains("HREF=\"https://example.com/a\""));
    assert!(html.contains(">Harbour &amp; lighthouse</A>"));

    let output = tidings_at(home.path())
        .args(["saved", "export", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["stories"].as_array().unwrap().len(), 2);

    let output = tidings_at(home.path())
        .args(["saved", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8(output.stdout).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("World        No link here"), "{list}");

    // A damaged file is named, kept aside, and the command fails.
    std::fs::write(file.path(), "{\"version\": 1, \"stories\": [{").unwrap();
    let output = tidings_at(home.path())
        .args(["saved", "export"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.starts_with("tidings: error: Saved stories could not be read"),
        "{stderr}"
    );
}
