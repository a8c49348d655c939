//! The channel-management API from the client side: what the app's Settings → Channels uses
//! to add, preview, change and remove channels and feeds of a server it holds an admin token
//! for (its own built-in server, or a shared one an admin points it at).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{
    ChannelPatch, ErrorBody, LineupChannel, LineupResponse, LineupSource, MoveSource, NewChannel,
    Preview, PreviewRequest,
};

/// How long a change may take (a preview fetches a page and maybe a feed: longer).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
const PREVIEW_ANSWER_TIMEOUT: Duration = Duration::from_secs(40);

/// Why a channel-management request failed, in words fit for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The server could not be reached, or did not answer in time.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server refused the token.
    #[error("the server does not accept this admin token")]
    Unauthorized,
    /// The server said no, with its reason (a bad field, a duplicate feed, not a feed…).
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's error code (`invalid_field`, `unknown_channel`, …).
        code: String,
        /// The request field at fault, if one is.
        field: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// The answer was not what the protocol says.
    #[error("the server's answer could not be read: {0}")]
    Malformed(String),
}

/// A server's channel-management API, with the admin token for it.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AdminClient {
    /// A client for the server at `base` (`http://host:port`).
    #[must_use]
    pub fn new(http: reqwest::Client, base: &str, token: impl Into<String>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.into(),
        }
    }

    /// The server's line-up, with every channel's feeds.
    pub async fn lineup(&self) -> Result<LineupResponse, AdminError> {
        self.call(
            Method::GET,
            "/v1/admin/channels",
            None::<&()>,
            ANSWER_TIMEOUT,
        )
        .await
    }

    /// Has the server re-read its line-up file now (after it was edited outside the API);
    /// answers the line-up in force.
    pub async fn reload(&self) -> Result<LineupResponse, AdminError> {
        self.call(
            Method::POST,
            "/v1/admin/reload",
            None::<&()>,
            ANSWER_TIMEOUT,
        )
        .await
    }

    /// What the server would make of an address: a feed's preview, or the feeds a page
    /// announces.
    pub async fn preview(&self, address: &str) -> Result<Preview, AdminError> {
        let request = PreviewRequest {
            url: address.trim().to_owned(),
        };
        self.call(
            Method::POST,
            "/v1/admin/preview",
            Some(&request),
            PREVIEW_ANSWER_TIMEOUT,
        )
        .await
    }

    /// Adds a channel.
    pub async fn create_channel(&self, channel: &NewChannel) -> Result<LineupChannel, AdminError> {
        self.call(
            Method::POST,
            "/v1/admin/channels",
            Some(channel),
            ANSWER_TIMEOUT,
        )
        .await
    }

    /// Renames, recolours or moves a channel.
    pub async fn update_channel(
        &self,
        id: &str,
        patch: &ChannelPatch,
    ) -> Result<LineupChannel, AdminError> {
        let path = format!("/v1/admin/channels/{}", segment(id));
        self.call(Method::PATCH, &path, Some(patch), ANSWER_TIMEOUT)
            .await
    }

    /// Removes a channel and everything it holds.
    pub async fn remove_channel(&self, id: &str) -> Result<(), AdminError> {
        let path = format!("/v1/admin/channels/{}", segment(id));
        self.call_empty(Method::DELETE, &path).await
    }

    /// Adds a feed to a channel.
    pub async fn add_source(
        &self,
        channel: &str,
        source: &LineupSource,
    ) -> Result<LineupChannel, AdminError> {
        let path = format!("/v1/admin/channels/{}/sources", segment(channel));
        self.call(Method::POST, &path, Some(source), ANSWER_TIMEOUT)
            .await
    }

    /// Removes a feed from a channel (its items there go too).
    pub async fn remove_source(&self, channel: &str, url: &str) -> Result<(), AdminError> {
        let path = format!(
            "/v1/admin/channels/{}/sources?url={}",
            segment(channel),
            segment(url)
        );
        self.call_empty(Method::DELETE, &path).await
    }

    /// Moves a feed to another channel.
    pub async fn move_source(&self, url: &str, to: &str) -> Result<LineupChannel, AdminError> {
        let request = MoveSource {
            url: url.to_owned(),
            to: to.to_owned(),
        };
        self.call(
            Method::POST,
            "/v1/admin/sources/move",
            Some(&request),
            ANSWER_TIMEOUT,
        )
        .await
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<reqwest::Response, AdminError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AdminError::Unreachable(plain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(AdminError::Unauthorized);
        }
        let text = response.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => AdminError::Refused {
                status: status.as_u16(),
                code: body.error.code,
                field: body.error.field,
                message: body.error.message,
            },
            Err(_) => AdminError::Refused {
                status: status.as_u16(),
                code: "http".to_owned(),
                field: None,
                message: format!("the server answered {status}"),
            },
        })
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, AdminError> {
        let response = self.send(method, path, body, timeout).await?;
        response
            .json()
            .await
            .map_err(|e| AdminError::Malformed(plain(&e)))
    }

    async fn call_empty(&self, method: Method, path: &str) -> Result<(), AdminError> {
        self.send(method, path, None::<&()>, ANSWER_TIMEOUT)
            .await
            .map(drop)
    }
}

/// `text` with everything but URL-unreserved characters percent-encoded, fit for a path
/// segment or a query value.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An error with its causes, on one line.
fn plain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
