//! One long-lived SSE connection that never loses an event: reconnects with `Last-Event-ID`,
//! honours `retry:`, backs off with jitter, respects `Retry-After`, stops on 204 and on 401/403,
//! and notices a dead link (read-idle watchdog, TCP keepalive) after suspend or a Wi-Fi drop.
//! Given several servers (nodes of one cluster), it moves to the next when one is unreachable
//! and resumes there with the same `Last-Event-ID`; [`super::failover`] is that policy.
//!
//! [`spawn`] starts it as a task on the current tokio runtime; it reports its
//! [`ConnectionState`] (naming the server it is on) and every decoded [`MessageEvent`] through
//! one channel, and takes commands (reconnect now, close) through a [`ConnectionHandle`]. No
//! egui, no protocol knowledge: it works with any SSE server (`tidings tail --raw`).

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::failover::{End, Failover};
use crate::sse::{Decoder, Limits, MessageEvent};

/// How a connection behaves.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The stream URL of each server, in the order to try them (nodes of one cluster, so one
    /// `Last-Event-ID` means the same on each). Empty: the connection closes at once.
    pub urls: Vec<String>,
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
        Self::with_urls(vec![url.into()])
    }

    /// Defaults for several servers' stream URLs, tried in this order.
    #[must_use]
    pub fn with_urls(urls: Vec<String>) -> Self {
        Self {
            urls,
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

/// One of the connection's servers, as its states name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its place in the list, from 0.
    pub index: usize,
    /// How many servers the list has.
    pub count: usize,
    /// Host and port for people (`news2.office.lan:8080`); never the full URL, which may carry
    /// secrets.
    pub host: String,
}

impl Endpoint {
    /// An endpoint of a list of one.
    #[must_use]
    pub fn only(host: impl Into<String>) -> Self {
        Self {
            index: 0,
            count: 1,
            host: host.into(),
        }
    }

    fn of_url(url: &str, index: usize, count: usize) -> Self {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|url| {
                let host = url.host_str()?.to_owned();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| "the server".to_owned());
        Self { index, count, host }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.host)
    }
}

/// Where the connection is. Reported on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a connection (attempt number since the last healthy connection, from 1, counted
    /// across servers).
    Connecting {
        /// Attempt number.
        attempt: u32,
        /// The server being tried.
        server: Endpoint,
    },
    /// Connected, events flowing.
    Live {
        /// The server it is on.
        server: Endpoint,
    },
    /// The server was reached but the connection failed or ended; trying again. A zero `delay`
    /// with several servers means: moving on to the next server at once.
    Retrying {
        /// Wait before the next attempt.
        delay: Duration,
        /// Why, for people.
        reason: String,
        /// The server that failed or whose connection ended.
        server: Endpoint,
    },
    /// The server could not be reached at all (network down, server off); trying again. A
    /// zero `delay` with several servers means: moving on to the next server at once.
    Offline {
        /// Wait before the next attempt.
        delay: Duration,
        /// Why, for people.
        reason: String,
        /// The server that could not be reached.
        server: Endpoint,
    },
    /// The server refused us (401 or 403). Stopped: needs a new token or server.
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The server's explanation, if it gave one.
        reason: String,
        /// The server that refused.
        server: Endpoint,
    },
    /// Stopped for good: asked to close, the server answered 204, or reconnecting is off.
    Closed {
        /// Why.
        reason: String,
    },
}

impl ConnectionState {
    /// The server the state is about (`None` once closed).
    #[must_use]
    pub fn server(&self) -> Option<&Endpoint> {
        match self {
            Self::Connecting { server, .. }
            | Self::Live { server }
            | Self::Retrying { server, .. }
            | Self::Offline { server, .. }
            | Self::Unauthorized { server, .. } => Some(server),
            Self::Closed { .. } => None,
        }
    }

    /// Whether events are flowing.
    #[must_use]
    pub fn is_live(&self) -> bool {
        matches!(self, Self::Live { .. })
    }
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
    /// Try again; the failover policy says where and when.
    Retry {
        end: End,
        /// Unreachable (connect error, timeout) rather than reached but failing.
        offline: bool,
        reason: String,
    },
    /// Asked to reconnect at once.
    Now,
}

/// A connection that lived this long counts as healthy even if it carried no events.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

struct Runner {
    config: ConnectionConfig,
    http: reqwest::Client,
    events: mpsc::Sender<ConnectionEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    decoder: Decoder,
    failover: Failover,
    endpoints: Vec<Endpoint>,
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
        let count = config.urls.len();
        let endpoints = config
            .urls
            .iter()
            .enumerate()
            .map(|(index, url)| Endpoint::of_url(url, index, count))
            .collect();
        Self {
            failover: Failover::new(count, backoff),
            config,
            http,
            events,
            commands,
            decoder,
            endpoints,
        }
    }

    fn endpoint(&self, server: usize) -> Endpoint {
        self.endpoints
            .get(server)
            .cloned()
            .unwrap_or_else(|| Endpoint::only("the server"))
    }

    async fn report(&self, state: ConnectionState) -> bool {
        self.events
            .send(ConnectionEvent::State(state))
            .await
            .is_ok()
    }

    async fn run(mut self) {
        if self.config.urls.is_empty() {
            let _ = self
                .report(ConnectionState::Closed {
                    reason: "no server to connect to".to_owned(),
                })
                .await;
            return;
        }
        loop {
            let server = self.failover.current();
            let attempt = self.failover.attempt();
            let endpoint = self.endpoint(server);
            if !self
                .report(ConnectionState::Connecting {
                    attempt,
                    server: endpoint.clone(),
                })
                .await
            {
                return;
            }
            let outcome = self.attempt(server).await;
            let (delay, state) = match outcome {
                Outcome::Stop(state) => {
                    let _ = self.report(state).await;
                    return;
                }
                Outcome::Now => continue,
                Outcome::Retry {
                    end,
                    offline,
                    reason,
                } => {
                    let next = self.failover.ended(end);
                    // Without reconnecting, one stream is wanted: a server that cannot give
                    // it still leaves the others of the list to try, but nothing comes back.
                    let moving_on = matches!(end, End::Failed { .. }) && !next.round_failed;
                    if !self.config.reconnect && !moving_on {
                        let reason = match end {
                            End::Failed { .. } => reason,
                            End::Healthy | End::Silent => "the stream ended".to_owned(),
                        };
                        let _ = self.report(ConnectionState::Closed { reason }).await;
                        return;
                    }
                    let count = self.failover.servers();
                    let reason = if next.round_failed && count > 1 {
                        format!("all {count} servers failed; {endpoint}: {reason}")
                    } else {
                        reason
                    };
                    if next.server != server {
                        tracing::info!(
                            from = %endpoint,
                            to = %self.endpoint(next.server),
                            %reason,
                            "moving to another server"
                        );
                    }
                    let delay = next.delay;
                    let server = endpoint;
                    let state = if offline {
                        ConnectionState::Offline {
                            delay,
                            reason,
                            server,
                        }
                    } else {
                        ConnectionState::Retrying {
                            delay,
                            reason,
                            server,
                        }
                    };
                    (delay, state)
                }
            };
            if !self.report(state).await {
                return;
            }
            if delay.is_zero() {
                // On to the next server at once; a command already waiting still counts.
                match self.commands.try_recv() {
                    Ok(Command::ReconnectNow) | Err(mpsc::error::TryRecvError::Empty) => continue,
                    Ok(Command::Close) | Err(mpsc::error::TryRecvError::Disconnected) => {
                        let _ = self
                            .report(ConnectionState::Closed {
                                reason: "closed".to_owned(),
                            })
                            .await;
                        return;
                    }
                }
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

    /// Headers for every request: the configured ones and the `Last-Event-ID`, which is the
    /// same whichever server is tried (ids are the cluster's, not the node's).
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

    async fn attempt(&mut self, server: usize) -> Outcome {
        self.decoder.reset_connection();
        let Some(url) = self.config.urls.get(server) else {
            return Outcome::Stop(ConnectionState::Closed {
                reason: "no server to connect to".to_owned(),
            });
        };
        let request = self.http.get(url).headers(self.request_headers()).send();
        let response = tokio::select! {
            response = request => response,
            command = self.commands.recv() => return self.command_outcome(command),
        };
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Retry {
                    end: End::Failed { retry_after: None },
                    offline: error.is_connect() || error.is_timeout(),
                    reason: crate::net::describe(&error),
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
                server: self.endpoint(server),
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
                end: End::Failed { retry_after: after },
                offline: false,
                reason,
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
                end: End::Failed { retry_after: None },
                offline: false,
                reason: format!("the server answered {content_type:?}, not an event stream"),
            };
        }
        let live = ConnectionState::Live {
            server: self.endpoint(server),
        };
        if !self.report(live).await {
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
            // A stream that was of use (events, or up a while) ending is the normal life of a
            // stream: come back to this server. One that broke before that did not work.
            let ended = if delivered || started.elapsed() >= HEALTHY_AFTER {
                End::Healthy
            } else {
                End::Failed { retry_after: None }
            };
            let chunk = match next {
                Err(_) => {
                    return Outcome::Retry {
                        end: End::Silent,
                        offline: false,
                        reason: format!(
                            "no data for {} s; the connection looks dead",
                            idle.as_secs()
                        ),
                    };
                }
                Ok(None) => {
                    return Outcome::Retry {
                        end: ended,
                        offline: false,
                        reason: "the server closed the stream".to_owned(),
                    };
                }
                Ok(Some(Err(error))) => {
                    return Outcome::Retry {
                        end: ended,
                        offline: false,
                        reason: crate::net::describe(&error),
                    };
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            if let Err(error) = self.decoder.feed(&chunk, &mut out) {
                return Outcome::Retry {
                    end: End::Failed { retry_after: None },
                    offline: false,
                    reason: error.to_string(),
                };
            }
            if let Some(millis) = self.decoder.retry_millis() {
                self.failover.set_base(Duration::from_millis(millis));
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
            if delivered {
                self.failover.delivered();
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
