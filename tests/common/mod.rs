//! Helpers shared by the integration tests: a real server on `127.0.0.1:0` (in-process or as a
//! child process), a spec-following SSE reader over a real HTTP connection, and publish calls.
//! Every wait has a timeout so a bug fails the test instead of hanging it.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod app;
pub mod nginx;
pub mod redis;
pub mod session;
pub mod xvfb;

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::Value;
use tidings::config::ServerConfig;
use tidings::config::server::Overrides;

/// The token every test config grants on every channel.
pub const TOKEN: &str = "test-token-all-channels";
/// A token limited to the `world` channel.
pub const WORLD_TOKEN: &str = "test-token-world-only";
/// Default wait for anything.
pub const WAIT: Duration = Duration::from_secs(10);

/// Config text granting the test tokens; `extra` is appended (e.g. `[stream]` settings).
/// Feed polling is off unless `extra` has an `[ingest]` table: tests never reach the internet
/// (the default line-up's sources are real feeds).
pub fn config_text(extra: &str) -> String {
    let ingest = if extra.contains("[ingest]") {
        ""
    } else {
        "[ingest]\nenabled = false\n\n"
    };
    format!(
        "{ingest}[[tokens]]\nname = \"all\"\ntoken = \"{TOKEN}\"\nchannels = [\"*\"]\n\n\
         [[tokens]]\nname = \"world\"\ntoken = \"{WORLD_TOKEN}\"\nchannels = [\"world\"]\n\n{extra}"
    )
}

/// A server running in this process on `127.0.0.1:0`.
pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts a server with the test tokens and `extra` config.
    pub async fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra).await
    }

    /// Starts a server on an existing data directory.
    pub async fn start_in(dir: tempfile::TempDir, extra: &str) -> Self {
        Self::start_at(dir, "127.0.0.1:0".parse().unwrap(), extra).await
    }

    /// Starts a server on an existing data directory and a given address (a restart).
    pub async fn start_at(dir: tempfile::TempDir, addr: SocketAddr, extra: &str) -> Self {
        let raw = ServerConfig::parse(&config_text(extra), Path::new("test.toml")).unwrap();
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_owned()),
            ..Overrides::default()
        };
        let config = ServerConfig::build(raw, &|_| None, &overrides).unwrap();
        let listener = tidings::server::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tidings::server::serve(config, listener, async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            addr,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Shuts the server down and returns how long that took.
    pub async fn stop(mut self) -> (Duration, tempfile::TempDir) {
        let started = std::time::Instant::now();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("server did not stop")
                .unwrap()
                .unwrap();
        }
        let elapsed = started.elapsed();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (elapsed, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// `tidings-server` running as a child process (killed on drop).
pub struct ChildServer {
    pub base: String,
    pub child: Child,
}

impl ChildServer {
    /// Starts the real binary on `127.0.0.1:0` with `config` and `data_dir`, waiting for its
    /// readiness line on stdout.
    pub fn spawn(config: &Path, data_dir: &Path) -> Self {
        Self::spawn_with(config, data_dir, &[])
    }

    /// Like [`spawn`](Self::spawn), with extra arguments such as `--demo`.
    pub fn spawn_with(config: &Path, data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidings-server"))
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting tidings-server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(WAIT)
            .expect("tidings-server did not report its address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .expect("readiness line")
            .to_owned();
        Self { base, child }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Writes a config file with the test tokens into `dir`.
pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("server.toml");
    std::fs::write(&path, config_text(extra)).unwrap();
    path
}

/// One dispatched SSE event as a browser would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// The client's own spec-exact decoder (`tidings::sse`), adapted to [`SseEvent`]s.
#[derive(Debug, Default)]
pub struct Decoder {
    inner: tidings::sse::Decoder,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        let mut messages = Vec::new();
        self.inner
            .feed(bytes, &mut messages)
            .expect("within the decoder's limits");
        out.extend(messages.into_iter().map(|m| SseEvent {
            event: m.event_type,
            data: m.data,
            id: m.last_event_id,
        }));
    }

    pub fn last_id(&self) -> &str {
        self.inner.last_event_id()
    }

    pub fn retry(&self) -> Option<u64> {
        self.inner.retry_millis()
    }
}

/// An open `GET /v1/stream` over a real HTTP connection.
pub struct SseClient {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    body: Option<futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>>,
    pub decoder: Decoder,
    ready: std::collections::VecDeque<SseEvent>,
    pub raw: Vec<u8>,
}

impl SseClient {
    /// Connects to `base` + `path_and_query`, optionally with a `Last-Event-ID` header.
    pub async fn connect(base: &str, path_and_query: &str, last_event_id: Option<&str>) -> Self {
        let client = reqwest::Client::new();
        let mut request = client.get(format!("{base}{path_and_query}"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("connect timed out")
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Self {
            status,
            headers,
            body: Some(response.bytes_stream().boxed()),
            decoder: Decoder::default(),
            ready: Default::default(),
            raw: Vec::new(),
        }
    }

    /// The next event, or `None` if the stream ended or `wait` passed.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let body = self.body.as_mut()?;
            match tokio::time::timeout_at(deadline, body.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => {
                    self.body = None;
                    return None;
                }
                Ok(Some(Ok(bytes))) => {
                    self.raw.extend_from_slice(&bytes);
                    let mut out = Vec::new();
                    self.decoder.feed(&bytes, &mut out);
                    self.ready.extend(out);
                }
            }
        }
    }

    /// Whether the stream is still open (it has not ended or failed).
    pub fn is_open(&self) -> bool {
        self.body.is_some()
    }

    /// The next event; panics after [`WAIT`].
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(WAIT)
            .await
            .expect("no event within the wait")
    }

    /// Events until one satisfies `stop` (inclusive).
    pub async fn until(&mut self, stop: impl Fn(&SseEvent) -> bool) -> Vec<SseEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let done = stop(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Whether the server ended the stream within `wait`.
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Some(body) = self.body.as_mut() else {
                return true;
            };
            match tokio::time::timeout_at(deadline, body.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) => {
                    self.body = None;
                    return true;
                }
                Ok(Some(Ok(bytes))) => {
                    let mut out = Vec::new();
                    self.decoder.feed(&bytes, &mut out);
                    self.ready.extend(out);
                }
            }
        }
    }
}

/// POSTs a JSON item; returns status and JSON answer.
pub async fn publish_json(
    base: &str,
    token: Option<&str>,
    channel: &str,
    body: &Value,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{base}/v1/channels/{channel}/items"))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = tokio::time::timeout(WAIT, request.send())
        .await
        .expect("publish timed out")
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Publishes `{"title": title}` to `channel` with the all-channel token; returns the event id.
pub async fn publish(base: &str, channel: &str, title: &str) -> String {
    let (status, answer) = publish_json(
        base,
        Some(TOKEN),
        channel,
        &serde_json::json!({ "title": title }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    answer["event_id"].as_str().unwrap().to_owned()
}

/// Events of type `item` only.
pub fn items(events: &[SseEvent]) -> Vec<SseEvent> {
    events
        .iter()
        .filter(|e| e.event == "item")
        .cloned()
        .collect()
}

/// Titles of the `item` events.
pub fn titles(events: &[SseEvent]) -> Vec<String> {
    items(events)
        .iter()
        .map(|e| e.json()["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The server's `/metrics` text.
pub async fn metrics(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    response.text().await.unwrap()
}

/// GETs `url` and parses the JSON answer.
pub async fn get_json(url: &str) -> Value {
    let response = tokio::time::timeout(WAIT, reqwest::get(url))
        .await
        .expect("GET timed out")
        .unwrap();
    response.json().await.unwrap()
}

/// Channel `id` as the server at `base` describes it in `GET /v1/channels`.
pub async fn catalog_channel(base: &str, id: &str) -> Value {
    let catalog = get_json(&format!("{base}/v1/channels")).await;
    catalog["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the catalog: {catalog}"))
        .clone()
}
