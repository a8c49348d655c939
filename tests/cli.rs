//! The `tidings-server` command line: the example config, config checks, one-line errors for a
//! bad config or a busy port, graceful exit on SIGTERM with a stream open, and demo mode.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings-server"));
    command
        .env_remove("TIDINGS_CONFIG")
        .env_remove("TIDINGS_PUBLISH_TOKEN")
        .env("RUST_LOG", "error");
    command
}

#[test]
fn config_example_prints_a_config_that_checks() {
    let output = server().args(["config", "example"]).output().unwrap();
    assert!(output.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, &output.stdout).unwrap();
    assert_eq!(
        output.stdout,
        include_bytes!("../assets/server.example.toml")
    );
    let check = server()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("TIDINGS_MONITORING_TOKEN", "monitoring-secret-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(stdout.contains("channels: office, ops"), "{stdout}");
    assert!(
        stdout.contains("tokens:   monitoring, intranet"),
        "{stdout}"
    );
    assert!(!stdout.contains("change-me"), "secrets are never printed");
}

#[test]
fn bad_config_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("[stream]\nheartbeat_secs = 0\n", "stream.heartbeat_secs"),
        ("listen = 5\n", "listen"),
        (
            "[[channels]]\nid = \"Bad Id\"\ntitle = \"x\"\n",
            "channels[0].id",
        ),
        ("unknown_setting = true\n", "unknown_setting"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let output = server()
            .arg("--config")
            .arg(&path)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("tidings-server: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
    let output = server()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}

#[test]
fn busy_port_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = server()
        .args(["--listen", &address, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("address already in use") || stderr.contains("in use"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_with_streams_open_exits_cleanly_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut server = ChildServer::spawn(&config, &dir.path().join("data"));
    let mut streams = Vec::new();
    for _ in 0..5 {
        let mut stream = SseClient::connect(&server.base, "/v1/stream", None).await;
        stream.next().await;
        streams.push(stream);
    }
    let pid = server.child.id().to_string();
    let started = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "server did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    for stream in &mut streams {
        assert!(stream.ends_within(Duration::from_secs(1)).await);
    }
}

#[tokio::test]
async fn demo_mode_serves_fictional_content_that_keeps_coming_with_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    let server = ChildServer::spawn_with(&config, &data, &["--demo"]);
    let started = chrono::Utc::now();
    let path = "/v1/stream?channels=welcome,world,tech,science,health,business,culture,sports,weather,alerts&weather=44.61,-67.22";
    let mut client = SseClient::connect(&server.base, path, None).await;
    assert_eq!(client.status, 200);
    let mut channels = std::collections::BTreeSet::new();
    let (mut weather, mut alert, mut trickled) = (None, None, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last_id = String::new();
    while !(weather.is_some() && alert.is_some() && trickled && channels.len() == 8) {
        assert!(
            std::time::Instant::now() < deadline,
            "demo content incomplete: weather {}, alert {}, trickled {trickled}, channels {channels:?}",
            weather.is_some(),
            alert.is_some()
        );
        let Some(event) = client.next_within(Duration::from_secs(15)).await else {
            // Like any client: resume where the stream left off (and say so, in case it matters).
            eprintln!(
                "demo stream ended after {} bytes; resuming after {last_id:?}",
                client.raw.len()
            );
            client = SseClient::connect(&server.base, path, Some(&last_id)).await;
            assert_eq!(client.status, 200);
            continue;
        };
        if !event.id.is_empty() {
            last_id.clone_from(&event.id);
        }
        let data = event.json();
        match event.event.as_str() {
            "weather" => weather = Some(data),
            "alert" => alert = Some(data),
            "item" => {
                channels.insert(data["channel"].as_str().unwrap().to_owned());
                let published: chrono::DateTime<chrono::Utc> =
                    data["published"].as_str().unwrap().parse().unwrap();
                trickled |= published > started;
            }
            _ => {}
        }
    }
    let weather = weather.unwrap();
    assert_eq!(weather["cell"], "44.6,-67.2");
    assert_eq!(weather["daily"].as_array().unwrap().len(), 5);
    // Today in the place's own time: Port Tiding keeps time four hours behind UTC.
    assert_eq!(weather["utc_offset_seconds"], -4 * 3600);
    assert_eq!(
        weather["daily"][0]["date"],
        (chrono::Utc::now() - chrono::Duration::hours(4))
            .date_naive()
            .to_string()
    );
    assert_eq!(weather["hourly"].as_array().unwrap().len(), 48);
    let alert = alert.unwrap();
    assert_eq!(alert["event"], "Gale Warning");
    assert!(alert["body"].as_str().unwrap().starts_with("DEMO ONLY"));
    // The demo keeps its log apart from real content.
    assert!(data.join("demo").join("events.sqlite3").exists());
    assert!(!data.join("events.sqlite3").exists());

    // Run it again on the same data: a new show, with no story of the last run doubled.
    drop(client);
    drop(server);
    let server = ChildServer::spawn_with(&config, &data, &["--demo"]);
    let restarted = chrono::Utc::now();
    // A story released after the restart means every demo feed has been polled by now.
    let mut client = SseClient::connect(&server.base, path, None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(std::time::Instant::now() < deadline, "no new story");
        let Some(event) = client.next_within(Duration::from_secs(15)).await else {
            client = SseClient::connect(&server.base, path, None).await;
            continue;
        };
        if event.event == "item" {
            let published: chrono::DateTime<chrono::Utc> =
                event.json()["published"].as_str().unwrap().parse().unwrap();
            if published > restarted {
                break;
            }
        }
    }
    let items = get_json(&format!("{}/v1/channels/world/items", server.base)).await;
    let titles: Vec<String> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    assert!(titles.len() >= 5, "{titles:?}");
    let unique: std::collections::BTreeSet<&String> = titles.iter().collect();
    assert_eq!(unique.len(), titles.len(), "doubled: {titles:?}");
}
