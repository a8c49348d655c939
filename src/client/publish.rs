//! Publishing and retracting over the HTTP API, with an error for every failure that says
//! what to do about it. Used by `tidings publish` / `tidings retract`.

use crate::protocol::{ChannelId, ErrorBody, ItemKey, PublishRequest, PublishResponse};

/// Why a publish or retract failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The server could not be reached.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
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

/// Publishes to one server with one token.
#[derive(Debug, Clone)]
pub struct Publisher {
    http: reqwest::Client,
    server: String,
    token: String,
}

impl Publisher {
    /// A publisher for `server` (base URL) using `token`.
    #[must_use]
    pub fn new(http: reqwest::Client, server: &str, token: &str) -> Self {
        Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// `POST /v1/channels/{channel}/items`.
    pub async fn publish(
        &self,
        channel: &ChannelId,
        request: &PublishRequest,
    ) -> Result<PublishResponse, PublishError> {
        let url = format!("{}/v1/channels/{channel}/items", self.server);
        let sent = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(request)
            .send()
            .await;
        self.answer(channel, sent).await
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
        let url = format!("{}/v1/channels/{channel}/items/{encoded}", self.server);
        let sent = self.http.delete(url).bearer_auth(&self.token).send().await;
        self.answer(channel, sent).await
    }

    async fn answer(
        &self,
        channel: &ChannelId,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<PublishResponse, PublishError> {
        let response =
            sent.map_err(|error| PublishError::Unreachable(crate::net::root_cause(&error)))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return serde_json::from_str(&text).map_err(|_| PublishError::Server {
                status,
                message: "the answer is not a Tidings publish response; is this a Tidings server?"
                    .to_owned(),
            });
        }
        let (message, field) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error.message, body.error.field),
            Err(_) => (
                text.chars().take(200).collect::<String>().trim().to_owned(),
                None,
            ),
        };
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
}
