//! End to end: a published item appears on the web ticker page (`GET /`) in headless Chromium
//! without a reload; an alert shows in the alerts banner and goes when it is retracted.
//!
//! Runs the real `tidings-server` binary on `127.0.0.1:0` and a real Chromium, driven through
//! the DevTools protocol over `--remote-debugging-pipe`: NUL-delimited JSON, commands on the
//! browser's fd 3 and replies on its fd 4. A `sh` wrapper points those fds at the child's
//! stdin and stdout, so neither a WebSocket crate nor an `unsafe` `pre_exec` is needed.
//!
//! Needs Chromium at `/usr/bin/chromium` (`apt-get install chromium`) or at `$TIDINGS_CHROMIUM`;
//! without it the test fails rather than skipping. It saves screenshots, `web-ticker.png`
//! (1280x800) and `web-ticker-narrow.png` (420 px wide), to `$CARGO_TARGET_TMPDIR`, and also
//! into `$TIDINGS_SCREENSHOT_DIR` when that is set (that is how `docs/screenshots` is refreshed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::{Instant, sleep, timeout};

const TOKEN: &str = "test-token-123";
/// Every single wait (server start, a DevTools answer, a condition on the page) is bounded.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const VIEWPORT: (u32, u32) = (1280, 800);

#[tokio::test]
async fn published_item_appears_in_headless_chromium_without_reload() {
    let server = Server::start().await;
    let http = reqwest::Client::builder()
        .timeout(STEP_TIMEOUT)
        .build()
        .expect("http client");

    // The page itself, before involving a browser: a clear failure if the route is missing.
    let page = http
        .get(format!("{}/", server.base_url))
        .send()
        .await
        .expect("GET /");
    assert_eq!(page.status(), reqwest::StatusCode::OK, "GET / status");
    let content_type = page
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("text/html"),
        "GET / content-type is {content_type:?}"
    );

    // Published before the page opens: these reach it through the stream's snapshot (and make
    // the screenshot look like a working day rather than an empty test server).
    for (channel, body) in scenery() {
        publish(&http, &server.base_url, channel, &body).await;
    }

    let mut browser = Browser::launch().await;
    browser.open(&format!("{}/", server.base_url)).await;
    browser
        .wait_for(
            "the connection indicator says live",
            r#"document.querySelector('[data-testid="connection"]')?.dataset.state === "live""#,
        )
        .await;
    browser
        .wait_for(
            "the world and alerts cards exist",
            r#"!!document.querySelector('[data-testid="channel"][data-channel="world"]') && !!document.querySelector('[data-testid="channel"][data-channel="alerts"]')"#,
        )
        .await;

    browser
        .wait_for(
            "the snapshot to fill the science card",
            r#"document.querySelector('[data-testid="channel"][data-channel="science"] [data-testid="item"]')?.textContent.includes("Webb") === true"#,
        )
        .await;

    // Anything set now survives only if the page is never reloaded.
    let nonce = nonce();
    browser
        .evaluate(&format!(
            "window.__tidingsMarker = {}; true",
            js_string(&nonce)
        ))
        .await;

    // A news item: in the world card and in the ticker, with a safe new-tab link.
    let headline = format!("Unique headline {nonce}");
    let link = format!("https://example.com/story/{nonce}");
    let item_key = publish(
        &http,
        &server.base_url,
        "world",
        &json!({ "title": headline, "link": link }),
    )
    .await;
    let in_card = format!(
        r#"[...document.querySelectorAll('[data-testid="channel"][data-channel="world"] [data-testid="item"]')]
            .some((el) => el.dataset.key === {key} && el.textContent.includes({headline}))"#,
        key = js_string(&item_key),
        headline = js_string(&headline),
    );
    browser
        .wait_for("the headline in the world card", &in_card)
        .await;
    let in_ticker = format!(
        r#"[...document.querySelectorAll('[data-testid="ticker"] [data-testid="ticker-item"][data-channel="world"]')]
            .some((el) => el.dataset.key === {key} && el.textContent.includes({headline}))"#,
        key = js_string(&item_key),
        headline = js_string(&headline),
    );
    browser
        .wait_for("the headline in the ticker", &in_ticker)
        .await;
    let link_ok = format!(
        r#"(() => {{
            const a = document.querySelector('[data-testid="channel"][data-channel="world"] [data-key={key}] a[href]');
            return !!a && a.href === {link} && a.target === "_blank" && a.relList.contains("noopener");
        }})()"#,
        key = js_string(&item_key),
        link = js_string(&link),
    );
    assert_eq!(
        browser.evaluate(&link_ok).await,
        json!(true),
        "the headline links to {link} in a new tab with rel=noopener"
    );

    // An alert: in the alerts banner; then retracted, and gone.
    let alert_title = "Severe thunderstorm warning until 21:00";
    let alert_key = publish(
        &http,
        &server.base_url,
        "alerts",
        &json!({ "title": alert_title, "severity": "warning", "area": "Test County", "body": "Strong winds expected." }),
    )
    .await;
    let alert_shown = format!(
        r#"[...document.querySelectorAll('[data-testid="alerts"] [data-testid="alert"]')]
            .some((el) => el.dataset.key === {key} && el.textContent.includes({title}) && el.textContent.includes("Test County"))"#,
        key = js_string(&alert_key),
        title = js_string(alert_title),
    );
    browser
        .wait_for("the alert in the alerts banner", &alert_shown)
        .await;

    // Let arrival animations finish (the endless ones, like the live dot, aside) so the
    // screenshot shows the page at rest.
    browser
        .wait_for(
            "arrival animations to finish",
            r#"document.getAnimations().every((a) => a.playState !== "running" || a.effect.getTiming().iterations === Infinity)"#,
        )
        .await;
    save_screenshot("web-ticker.png", &browser.screenshot().await);
    browser.set_viewport(420, 900).await;
    browser
        .wait_for("the narrow layout", "window.innerWidth === 420")
        .await;
    save_screenshot("web-ticker-narrow.png", &browser.screenshot().await);
    let (width, height) = VIEWPORT;
    browser.set_viewport(width, height).await;

    retract(&http, &server.base_url, "alerts", &alert_key).await;
    let alert_gone = format!(
        r#"!document.querySelector('[data-testid="alert"][data-key={key}]')
            && !document.querySelector('[data-testid="channel"][data-channel="alerts"] [data-key={key}]')"#,
        key = js_string(&alert_key),
    );
    browser
        .wait_for("the retracted alert to disappear", &alert_gone)
        .await;

    assert_eq!(
        browser.evaluate("window.__tidingsMarker ?? null").await,
        json!(nonce),
        "the page was reloaded: the marker set before publishing is gone"
    );
    assert_eq!(
        browser
            .evaluate("document.querySelector('[data-testid=\"connection\"]').dataset.state")
            .await,
        json!("live")
    );
    let errors = browser.page_errors.clone();
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
    browser.close().await;
}

/// `POST /v1/channels/{channel}/items` with the test token; returns the item's key.
async fn publish(http: &reqwest::Client, base_url: &str, channel: &str, body: &Value) -> String {
    let response = http
        .post(format!("{base_url}/v1/channels/{channel}/items"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("publish request");
    let status = response.status();
    let text = response.text().await.expect("publish answer");
    assert_eq!(
        status,
        reqwest::StatusCode::CREATED,
        "publish to {channel} answered {text}"
    );
    let answer: Value = serde_json::from_str(&text).expect("publish answer is JSON");
    answer["key"]
        .as_str()
        .expect("publish answer has a key")
        .to_owned()
}

/// `DELETE /v1/channels/{channel}/items/{key}` with the test token.
async fn retract(http: &reqwest::Client, base_url: &str, channel: &str, key: &str) {
    let response = http
        .delete(format!("{base_url}/v1/channels/{channel}/items/{key}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("retract request");
    let status = response.status();
    let text = response.text().await.expect("retract answer");
    assert!(
        status.is_success(),
        "retract {channel}/{key} answered {status}: {text}"
    );
}

/// A value unique to this run, so a stale page or log cannot satisfy a check.
fn nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", nanos, std::process::id())
}

/// A JavaScript string literal for `text` (JSON strings are valid JavaScript).
fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// Everyday content for the other channels: (channel, publish body).
fn scenery() -> Vec<(&'static str, Value)> {
    vec![
        (
            "welcome",
            json!({ "title": "Welcome to Tidings: news, weather and alerts, pushed live", "body": "Pick the channels you care about; new stories arrive the moment they are published." }),
        ),
        (
            "tech",
            json!({ "title": "Rust 1.95 ships with faster incremental builds", "body": "The release reworks parts of the query system.", "link": "https://example.com/rust-1-95" }),
        ),
        (
            "tech",
            json!({ "title": "Cloud provider reports elevated error rates in one region", "severity": "warning" }),
        ),
        (
            "science",
            json!({ "title": "Webb telescope spots water vapour around a distant rocky planet", "link": "https://example.com/webb" }),
        ),
        (
            "business",
            json!({ "title": "Markets close higher as inflation cools for a third month", "severity": "notice" }),
        ),
        (
            "sports",
            json!({ "title": "Underdogs clinch the title with a last-minute winner" }),
        ),
        (
            "world",
            json!({ "title": "Leaders agree on a framework for cross-border climate finance", "link": "https://example.com/climate" }),
        ),
    ]
}

/// Writes `name` into `$CARGO_TARGET_TMPDIR`, and into `$TIDINGS_SCREENSHOT_DIR` when set.
fn save_screenshot(name: &str, png: &[u8]) {
    let mut paths = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)];
    if let Some(dir) = std::env::var_os("TIDINGS_SCREENSHOT_DIR") {
        paths.push(PathBuf::from(dir).join(name));
    }
    for path in paths {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("screenshot saved to {}", path.display());
    }
}

/// The last few kilobytes of a log file, for failure messages (without Chromium's complaints
/// about the missing D-Bus, which it makes on every run here).
fn log_tail(path: &Path) -> String {
    let text: String = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.contains("dbus/"))
        .flat_map(|line| [line, "\n"])
        .collect();
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

/// The real `tidings-server` binary in a temporary directory; killed on drop.
struct Server {
    base_url: String,
    child: Child,
    log_path: PathBuf,
    _dir: TempDir,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("server.toml");
        std::fs::write(
            &config,
            // No feed polling: tests never reach the internet.
            format!("[ingest]\nenabled = false\n\n[[tokens]]\nname = \"test\"\ntoken = \"{TOKEN}\"\nchannels = [\"*\"]\n"),
        )
        .expect("writing server.toml");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("server log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidings-server"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("starting tidings-server");
        let stdout = child.stdout.take().expect("server stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = match timeout(STEP_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "tidings-server did not say where it listens ({other:?}); its log:\n{}",
                log_tail(&log_path)
            ),
        };
        let base_url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from tidings-server: {line:?}"))
            .trim()
            .trim_end_matches('/')
            .to_owned();
        // Keep reading so the server can never block on a full stdout pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            base_url,
            child,
            log_path,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- tidings-server log (tail) ---\n{}",
                log_tail(&self.log_path)
            );
        }
        let _ = self.child.start_kill();
    }
}

/// Headless Chromium with one page, driven over the DevTools pipe; killed on drop.
struct Browser {
    child: Child,
    commands: ChildStdin,
    replies: BufReader<ChildStdout>,
    next_id: u64,
    /// The page's session (flat mode): page commands carry it.
    session: Option<String>,
    /// Uncaught exceptions and console errors the page reported.
    page_errors: Vec<String>,
    log_path: PathBuf,
    _profile: TempDir,
}

impl Browser {
    async fn launch() -> Self {
        let chromium = std::env::var_os("TIDINGS_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        assert!(
            chromium.exists(),
            "Chromium is needed for this test and was not found at {} (install it with `apt-get install chromium`, \
             or point TIDINGS_CHROMIUM at it)",
            chromium.display()
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let log_path = profile.path().join("chromium.log");
        let log = std::fs::File::create(&log_path).expect("chromium log file");
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            // --remote-debugging-pipe: Chromium reads commands on fd 3 and answers on fd 4.
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-pipe",
            ])
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("profile").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromium.display()));
        let commands = child.stdin.take().expect("chromium fd 3");
        let replies = BufReader::new(child.stdout.take().expect("chromium fd 4"));
        Self {
            child,
            commands,
            replies,
            next_id: 0,
            session: None,
            page_errors: Vec::new(),
            log_path,
            _profile: profile,
        }
    }

    /// Opens a page of the test's viewport size at `url` and attaches to it.
    async fn open(&mut self, url: &str) {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        self.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_owned(),
        );
        self.page_call("Runtime.enable", json!({})).await;
        self.page_call("Page.enable", json!({})).await;
        let (width, height) = VIEWPORT;
        self.set_viewport(width, height).await;
        let navigated = self.page_call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = navigated.get("errorText") {
            panic!("navigating to {url} failed: {error}");
        }
    }

    /// Evaluates `expression` in the page and returns its value; panics if it throws.
    async fn evaluate(&mut self, expression: &str) -> Value {
        match self.try_evaluate(expression).await {
            Ok(value) => value,
            Err(error) => panic!("evaluating {expression}: {error}"),
        }
    }

    async fn try_evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let session = self.session.clone();
        let reply = self
            .call_raw(
                session.as_deref(),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await?;
        if let Some(details) = reply.get("exceptionDetails") {
            return Err(details["exception"]["description"]
                .as_str()
                .map_or_else(|| details.to_string(), str::to_owned));
        }
        Ok(reply["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Polls `expression` until it is `true`; panics after [`STEP_TIMEOUT`] with what the page shows.
    async fn wait_for(&mut self, what: &str, expression: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let last = match self.try_evaluate(expression).await {
                Ok(Value::Bool(true)) => return,
                Ok(value) => format!("last value {value}"),
                // The page may be between documents while it loads.
                Err(error) => format!("last error {error}"),
            };
            if Instant::now() >= deadline {
                let text = self
                    .try_evaluate("document.body ? document.body.innerText.slice(0, 3000) : ''")
                    .await
                    .unwrap_or_default();
                panic!(
                    "timed out after {STEP_TIMEOUT:?} waiting for {what} ({last}); page errors: {:?}; page text:\n{}",
                    self.page_errors,
                    text.as_str().unwrap_or_default()
                );
            }
            sleep(POLL_INTERVAL).await;
        }
    }

    async fn set_viewport(&mut self, width: u32, height: u32) {
        self.page_call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    async fn screenshot(&mut self) -> Vec<u8> {
        let shot = self
            .page_call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = decode_base64(shot["data"].as_str().expect("screenshot data"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is not a PNG"
        );
        png
    }

    /// Asks Chromium to quit and waits (bounded) for it; drop kills it otherwise.
    async fn close(mut self) {
        let _ = self.call_raw(None, "Browser.close", json!({})).await;
        let _ = timeout(STEP_TIMEOUT, self.child.wait()).await;
    }

    async fn page_call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(session.as_deref(), method, params).await
    }

    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.call_raw(session, method, params).await {
            Ok(result) => result,
            Err(error) => panic!("DevTools {method} failed: {error}"),
        }
    }

    /// Sends one command and reads messages until its answer, noting page errors on the way.
    /// `Err` is the protocol's error answer; a dead or silent browser panics.
    async fn call_raw(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&command).expect("command serialises");
        bytes.push(0);
        let sent = timeout(STEP_TIMEOUT, async {
            self.commands.write_all(&bytes).await?;
            self.commands.flush().await
        })
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            panic!(
                "could not send {method} to Chromium ({sent:?}); its log:\n{}",
                log_tail(&self.log_path)
            );
        }
        loop {
            let message = match timeout(STEP_TIMEOUT, self.read_message()).await {
                Ok(message) => message,
                Err(_) => panic!(
                    "Chromium did not answer {method} within {STEP_TIMEOUT:?}; its log:\n{}",
                    log_tail(&self.log_path)
                ),
            };
            if message["id"] == id {
                return match message.get("error") {
                    Some(error) => Err(error.to_string()),
                    None => Ok(message["result"].clone()),
                };
            }
            self.note_event(&message);
        }
    }

    async fn read_message(&mut self) -> Value {
        let mut buf = Vec::new();
        let read = self.replies.read_until(0, &mut buf).await;
        if buf.pop() != Some(0) {
            panic!(
                "Chromium closed the DevTools pipe ({read:?}); its log:\n{}",
                log_tail(&self.log_path)
            );
        }
        serde_json::from_slice(&buf).expect("DevTools messages are JSON")
    }

    fn note_event(&mut self, message: &Value) {
        let params = &message["params"];
        match message["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or_else(|| details["text"].as_str())
                    .unwrap_or("?");
                self.page_errors.push(format!("uncaught: {text}"));
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|arg| {
                        arg.get("value")
                            .or_else(|| arg.get("description"))
                            .map_or_else(|| arg.to_string(), Value::to_string)
                    })
                    .collect();
                self.page_errors
                    .push(format!("console.error: {}", args.join(" ")));
            }
            _ => {}
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- chromium log (tail) ---\n{}", log_tail(&self.log_path));
        }
        let _ = self.child.start_kill();
    }
}

/// Standard base64 (DevTools sends screenshots that way); panics on anything else.
fn decode_base64(text: &str) -> Vec<u8> {
    fn sextet(byte: u8) -> u32 {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("invalid base64 byte {byte:#04x}"),
        };
        u32::from(value)
    }
    let digits: Vec<u8> = text
        .bytes()
        .filter(|&b| b != b'=' && !b.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(digits.len() / 4 * 3 + 2);
    for chunk in digits.chunks(4) {
        assert!(chunk.len() > 1, "truncated base64");
        let mut group = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            group |= sextet(byte) << (18 - 6 * i);
        }
        // The group holds up to three bytes in its low 24 bits; a short chunk carries fewer.
        out.extend_from_slice(&group.to_be_bytes()[1..chunk.len()]);
    }
    out
}
