//! One long-lived SSE connection that never loses an event: reconnects with `Last-Event-ID`,
//! honours `retry:`, backs off with jitter, respects `Retry-After`, stops on 204 and on 401/403,
//! and notices a dead link (read-idle watchdog, TCP keepalive) after suspend or a Wi-Fi drop.
//!
//! [`spawn`] starts it as a task on the current tokio runtime; it reports its
//! [`ConnectionState`] and every decoded [`MessageEvent`] through one channel, and takes
//! commands (reconnect now, close) through a [`ConnectionHandle`]. No egui, no protocol
//! knowledge: it works with any SSE server (`tidings tail --raw`).

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::backoff::Backoff;
use crate::sse::{Decoder, Limits, MessageEvent};

/// How a connection behaves.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The stream URL.
    pub url: String,
    /// Extra request headers (`Name`, `value`).
    pub headers: Vec<(String, String)>,
    /// Resume after this id on the first connect.
    pub last_event_id: Option<String>,
    /// Reconnection time until the server sends `retry:`.
    pub default_retry: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Reconnect when no byte arrived for this long (heartbeats count). `None` disables.
    pub idle_timeout: Option<Duration>,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Decoder limits.
    pub limits: Limits,
    /// Reconnect at all (false: one connection, then `Closed`).
    pub reconnect: bool,
}

impl ConnectionConfig {
    /// Defaults for `url`: 3 s retry, 60 s cap, a 45 s watchdog (three 15 s heartbeats).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            last_event_id: None,
            default_retry: Duration::from_secs(3),
            max_backoff: Duration::from_secs(60),
            idle_timeout: Some(Duration::from_secs(45)),
            connect_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            reconnect: true,
        }
    }
}

/// Where the connection is. Reported on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a connection (attempt number since the last healthy connection, from 1).
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// Connected, events flowing.
    Live,
    /// The server was reached but the connection failed or ended; trying again.
    Retrying {
        /// Wait before the next attempt.
        delay: Duration,
        /// Why, for people.
        reason: String,
    },
    /// The server could not be reached at all (network down, server off); trying again.
    Offline {
        /// Wait before the next attempt.
        delay: Duration,
        /// Why, for people.
        reason: String,
    },
    /// The server refused us (401 or 403). Stopped: needs a new token or server.
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The server's explanation, if it gave one.
        reason: String,
    },
    /// Stopped for good: asked to close, the server answered 204, or reconnecting is off.
    Closed {
        /// Why.
        reason: String,
    },
}

/// What the connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The state changed.
    State(ConnectionState),
    /// An event was dispatched.
    Message(MessageEvent),
}

enum Command {
    ReconnectNow,
    Close,
}

/// Controls a running connection. Dropping it closes the connection.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl ConnectionHandle {
    /// Drop the current connection (or skip the wait) and connect again now, e.g. when the
    /// network came back or the machine woke up.
    pub fn reconnect_now(&self) {
        let _ = self.commands.send(Command::ReconnectNow);
    }

    /// Stop for good.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// Starts the connection on the current runtime. Events arrive on the returned receiver;
/// the task ends after `Closed` or `Unauthorized`, or when the receiver is dropped.
pub fn spawn(
    config: ConnectionConfig,
    http: reqwest::Client,
) -> (ConnectionHandle, mpsc::Receiver<ConnectionEvent>) {
    let (events_tx, events_rx) = mpsc::channel(1024);
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let task = Runner::new(config, http, events_tx, commands_rx);
    tokio::spawn(task.run());
    (
        ConnectionHandle {
            commands: commands_tx,
        },
        events_rx,
    )
}

/// An HTTP client suited to long-lived streams: connect timeout, TCP keepalive, no total
/// request timeout.
pub fn http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// How one connection attempt ended.
enum Outcome {
    /// Stop for good with this state.
    Stop(ConnectionState),
    /// Try again after the schedule's wait; `healthy` if it delivered events or lived long.
    Retry {
        healthy: bool,
        offline: bool,
        reason: String,
        /// The server said when (Retry-After).
        after: Option<Duration>,
    },
    /// Asked to reconnect at once.
    Now,
}

/// A connection that lived this long counts as healthy even if it carried no events.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

struct Runner {
    config: ConnectionConfig,
    http: reqwest::Client,
    events: mpsc::Sender<ConnectionEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    decoder: Decoder,
    backoff: Backoff,
}

impl Runner {
    fn new(
        config: ConnectionConfig,
        http: reqwest::Client,
        events: mpsc::Sender<ConnectionEvent>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        let decoder = match &config.last_event_id {
            Some(id) => Decoder::with_last_event_id(config.limits, id),
            None => Decoder::new(config.limits),
        };
        let backoff = Backoff::new(config.default_retry, config.max_backoff);
        Self {
            config,
            http,
            events,
            commands,
            decoder,
            backoff,
        }
    }

    async fn report(&self, state: ConnectionState) -> bool {
        self.events
            .send(ConnectionEvent::State(state))
            .await
            .is_ok()
    }

    async fn run(mut self) {
        loop {
            let attempt = self.backoff.failures() + 1;
            if !self.report(ConnectionState::Connecting { attempt }).await {
                return;
            }
            let outcome = self.attempt().await;
            let (delay, state) = match outcome {
                Outcome::Stop(state) => {
                    let _ = self.report(state).await;
                    return;
                }
                Outcome::Now => continue,
                Outcome::Retry { .. } if !self.config.reconnect => {
                    let _ = self
                        .report(ConnectionState::Closed {
                            reason: "the stream ended".to_owned(),
                        })
                        .await;
                    return;
                }
                Outcome::Retry {
                    healthy,
                    offline,
                    reason,
                    after,
                } => {
                    let scheduled = if healthy {
                        self.backoff.after_healthy()
                    } else {
                        self.backoff.after_failure()
                    };
                    let delay = after.map_or(scheduled, |after| after.min(MAX_RETRY_AFTER));
                    let state = if offline {
                        ConnectionState::Offline { delay, reason }
                    } else {
                        ConnectionState::Retrying { delay, reason }
                    };
                    (delay, state)
                }
            };
            if !self.report(state).await {
                return;
            }
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            tokio::select! {
                () = &mut wake => {}
                command = self.commands.recv() => match command {
                    Some(Command::ReconnectNow) => {}
                    Some(Command::Close) | None => {
                        let _ = self.report(ConnectionState::Closed { reason: "closed".to_owned() }).await;
                        return;
                    }
                },
            }
        }
    }

    fn request_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        for (name, value) in &self.config.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.insert(name, value);
            }
        }
        let last = self.decoder.last_event_id();
        if let Some(value) = Some(last)
            .filter(|l| !l.is_empty())
            .and_then(|l| HeaderValue::try_from(l).ok())
        {
            headers.insert("last-event-id", value);
        }
        headers
    }

    async fn attempt(&mut self) -> Outcome {
        self.decoder.reset_connection();
        let request = self
            .http
            .get(&self.config.url)
            .headers(self.request_headers())
            .send();
        let response = tokio::select! {
            response = request => response,
            command = self.commands.recv() => return self.command_outcome(command),
        };
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Retry {
                    healthy: false,
                    offline: error.is_connect() || error.is_timeout(),
                    reason: crate::net::describe(&error),
                    after: None,
                };
            }
        };
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Outcome::Stop(ConnectionState::Closed {
                reason: "the server asked us to stop (204 No Content)".to_owned(),
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let reason = error_message(response).await;
            return Outcome::Stop(ConnectionState::Unauthorized {
                status: status.as_u16(),
                reason,
            });
        }
        if status != StatusCode::OK {
            let after = if status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE
            {
                crate::net::retry_after(response.headers())
            } else {
                None
            };
            let reason = format!("{status}: {}", error_message(response).await);
            return Outcome::Retry {
                healthy: false,
                offline: false,
                reason,
                after,
            };
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.split(';').next().map(str::trim) != Some("text/event-stream") {
            return Outcome::Retry {
                healthy: false,
                offline: false,
                reason: format!("the server answered {content_type:?}, not an event stream"),
                after: None,
            };
        }
        if !self.report(ConnectionState::Live).await {
            return Outcome::Stop(ConnectionState::Closed {
                reason: "nobody listens".to_owned(),
            });
        }
        self.read(response).await
    }

    fn command_outcome(&self, command: Option<Command>) -> Outcome {
        match command {
            Some(Command::ReconnectNow) => Outcome::Now,
            Some(Command::Close) | None => Outcome::Stop(ConnectionState::Closed {
                reason: "closed".to_owned(),
            }),
        }
    }

    async fn read(&mut self, response: reqwest::Response) -> Outcome {
        let started = Instant::now();
        let mut delivered = false;
        let mut body = response.bytes_stream();
        let mut out = Vec::new();
        loop {
            let idle = self.config.idle_timeout.unwrap_or(Duration::MAX);
            let deadline = Instant::now().checked_add(idle).unwrap_or_else(far_future);
            let next = tokio::select! {
                next = tokio::time::timeout_at(deadline, body.next()) => next,
                command = self.commands.recv() => return self.command_outcome(command),
            };
            let healthy = delivered || started.elapsed() >= HEALTHY_AFTER;
            let chunk = match next {
                Err(_) => {
                    return Outcome::Retry {
                        // A silent link is not the server's fault: come back at the base time.
                        healthy: true,
                        offline: false,
                        reason: format!(
                            "no data for {} s; the connection looks dead",
                            idle.as_secs()
                        ),
                        after: None,
                    };
                }
                Ok(None) => {
                    return Outcome::Retry {
                        healthy,
                        offline: false,
                        reason: "the server closed the stream".to_owned(),
                        after: None,
                    };
                }
                Ok(Some(Err(error))) => {
                    return Outcome::Retry {
                        healthy,
                        offline: false,
                        reason: crate::net::describe(&error),
                        after: None,
                    };
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            if let Err(error) = self.decoder.feed(&chunk, &mut out) {
                return Outcome::Retry {
                    healthy: false,
                    offline: false,
                    reason: error.to_string(),
                    after: None,
                };
            }
            if let Some(millis) = self.decoder.retry_millis() {
                self.backoff.set_base(Duration::from_millis(millis));
            }
            for message in out.drain(..) {
                delivered = true;
                if self
                    .events
                    .send(ConnectionEvent::Message(message))
                    .await
                    .is_err()
                {
                    return Outcome::Stop(ConnectionState::Closed {
                        reason: "nobody listens".to_owned(),
                    });
                }
            }
            if delivered && self.backoff.failures() > 0 {
                self.backoff.reset();
            }
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// The `message` of a Tidings JSON error, or the start of whatever the server sent.
async fn error_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    if let Ok(body) = serde_json::from_str::<crate::protocol::ErrorBody>(&text) {
        return body.error.message;
    }
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.trim().is_empty() {
        "no details".to_owned()
    } else {
        text.trim().to_owned()
    }
}
