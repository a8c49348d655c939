//! Publishing and retracting over the HTTP API, with an error for every failure that says
//! what to do about it. Used by `tidings publish` / `tidings retract`.
//!
//! With several servers (nodes of one cluster) a request goes to the next one only when the
//! previous did not take it: it could not be reached, or it answered `503` (shutting down,
//! full). Once a server answered anything else, or the connection broke after the request
//! was sent, it is never sent again, so nothing is published twice.

use std::time::Duration;

use reqwest::StatusCode;

use super::servers::{ServerList, ServerUrl};
use crate::protocol::{ChannelId, ErrorBody, ItemKey, PublishRequest, PublishResponse};

/// How long a server may take to answer a publish or retract.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a publish or retract failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The server could not be reached.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// None of several servers could be reached or take the request; each one's reason.
    #[error("cannot reach any of the {count} servers: {reasons}")]
    NoServer {
        /// How many were tried.
        count: usize,
        /// `host: reason` for each, separated by `; `.
        reasons: String,
    },
    /// The request was sent but the connection broke (or timed out) before an answer. It is
    /// not sent again: the server may have carried it out.
    #[error(
        "{server} did not answer ({reason}); the change may or may not have been made, so it was not sent again"
    )]
    NoAnswer {
        /// The server's host.
        server: String,
        /// Why.
        reason: String,
    },
    /// 401.
    #[error("the server did not accept the token (401): check --token / TIDINGS_TOKEN")]
    Unauthorized,
    /// 403.
    #[error("this token may not publish to channel {channel} (403): {message}")]
    Forbidden {
        /// The channel.
        channel: ChannelId,
        /// The server's explanation.
        message: String,
    },
    /// 404.
    #[error("not found (404): {0}")]
    NotFound(String),
    /// 413.
    #[error("too large for this server (413): {0}")]
    TooLarge(String),
    /// 422 (or 400): the server names the problem.
    #[error("the server refused the {field}: {message}", field = field.as_deref().unwrap_or("request"))]
    Invalid {
        /// The field at fault, if named.
        field: Option<String>,
        /// The explanation.
        message: String,
    },
    /// Anything else.
    #[error("the server answered {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
}

/// Publishes to a server (or the first of a cluster's nodes that takes it) with one token.
#[derive(Clone)]
pub struct Publisher {
    http: reqwest::Client,
    servers: ServerList,
    token: String,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher for `servers` using `token`.
    #[must_use]
    pub fn new(http: reqwest::Client, servers: ServerList, token: &str) -> Self {
        Self {
            http,
            servers,
            token: token.to_owned(),
        }
    }

    /// `POST /v1/channels/{channel}/items`.
    pub async fn publish(
        &self,
        channel: &ChannelId,
        request: &PublishRequest,
    ) -> Result<PublishResponse, PublishError> {
        self.send(channel, |server| {
            self.http
                .post(format!("{server}/v1/channels/{channel}/items"))
                .json(request)
        })
        .await
    }

    /// `DELETE /v1/channels/{channel}/items/{key}`.
    pub async fn retract(
        &self,
        channel: &ChannelId,
        key: &ItemKey,
    ) -> Result<PublishResponse, PublishError> {
        let encoded: String = key
            .as_str()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        self.send(channel, |server| {
            self.http
                .delete(format!("{server}/v1/channels/{channel}/items/{encoded}"))
        })
        .await
    }

    /// Sends the request `build` makes for each server in turn until one takes it.
    async fn send(
        &self,
        channel: &ChannelId,
        build: impl Fn(&ServerUrl) -> reqwest::RequestBuilder,
    ) -> Result<PublishResponse, PublishError> {
        let mut refused = Vec::new();
        let mut last = None;
        for server in &self.servers {
            let sent = build(server)
                .bearer_auth(&self.token)
                .timeout(ANSWER_TIMEOUT)
                .send()
                .await;
            let error = match sent {
                Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    let text = response.text().await.unwrap_or_default();
                    let (message, _) = error_detail(&text);
                    refused.push(format!("{}: 503 ({message})", server.host()));
                    PublishError::Server {
                        status: 503,
                        message,
                    }
                }
                Ok(response) => return answer(channel, response).await,
                Err(error) if error.is_connect() => {
                    let cause = crate::net::root_cause(&error);
                    refused.push(format!("{}: {cause}", server.host()));
                    PublishError::Unreachable(cause)
                }
                Err(error) => {
                    return Err(PublishError::NoAnswer {
                        server: server.host().to_owned(),
                        reason: crate::net::root_cause(&error),
                    });
                }
            };
            tracing::debug!(server = server.host(), %error, "trying the next server");
            last = Some(error);
        }
        match last {
            Some(error) if self.servers.len() == 1 => Err(error),
            _ => Err(PublishError::NoServer {
                count: self.servers.len(),
                reasons: refused.join("; "),
            }),
        }
    }
}

/// The server's answer as a result.
async fn answer(
    channel: &ChannelId,
    response: reqwest::Response,
) -> Result<PublishResponse, PublishError> {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|_| PublishError::Server {
            status,
            message: "the answer is not a Tidings publish response; is this a Tidings server?"
                .to_owned(),
        });
    }
    let (message, field) = error_detail(&text);
    Err(match status {
        401 => PublishError::Unauthorized,
        403 => PublishError::Forbidden {
            channel: channel.clone(),
            message,
        },
        404 => PublishError::NotFound(message),
        413 => PublishError::TooLarge(message),
        400 | 422 => PublishError::Invalid { field, message },
        _ => PublishError::Server { status, message },
    })
}

/// The message and field of a Tidings JSON error, or the start of whatever the server sent.
fn error_detail(text: &str) -> (String, Option<String>) {
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => (body.error.message, body.error.field),
        Err(_) => (
            text.chars().take(200).collect::<String>().trim().to_owned(),
            None,
        ),
    }
}
