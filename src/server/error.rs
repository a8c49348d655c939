//! API errors: every failure a client can see, as a status code and a JSON body
//! (`{"error": {"code", "message", "field"?}}`). Server faults are logged here, once, and the
//! client gets a generic message without internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::log::LogError;
use crate::protocol::{ErrorBody, ErrorDetail};

/// An error answer of the HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad query parameter, bad JSON syntax).
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// 401: no token, or a wrong one.
    #[error("a valid publish token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// 401 on an admin route: no token, or one that is not an admin's.
    #[error("an admin token is required (Authorization: Bearer <token>)")]
    AdminUnauthorized,
    /// 403 on an admin route: the token may publish, not manage channels.
    #[error("this token may publish but not manage channels (give it admin = true)")]
    AdminForbidden,
    /// 403: the token may not publish to this channel.
    #[error("this token may not publish to channel {0}")]
    Forbidden(String),
    /// 404: no such channel, item or route.
    #[error("{message}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// 405: the path exists, the method does not.
    #[error("method not allowed on this path; see docs/protocol.md")]
    MethodNotAllowed,
    /// 409: the request conflicts with how the server is set up.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// 413: the body exceeds the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// 415: neither JSON nor plain text.
    #[error("send application/json or text/plain (got {0})")]
    UnsupportedMediaType(String),
    /// 422: a field is invalid.
    #[error("{message}")]
    InvalidField {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 502: a service this server relies on failed (the place search).
    #[error("{0}")]
    BadGateway(String),
    /// 503: the server cannot take the request now.
    #[error("{0}")]
    Unavailable(String),
    /// 500: the event log failed.
    #[error("internal error")]
    Log(LogError),
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        match error {
            // Nothing was stored; the publisher may try again (and must not count it as sent).
            LogError::Unavailable(_) | LogError::Closed => {
                tracing::warn!(%error, "request refused: event store unavailable");
                Self::Unavailable("the event store is unavailable; try again shortly".to_owned())
            }
            other => Self::Log(other),
        }
    }
}

impl ApiError {
    /// The HTTP status of this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::AdminForbidden => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Log(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::Unauthorized | Self::AdminUnauthorized => "unauthorized",
            Self::Forbidden(_) | Self::AdminForbidden => "forbidden",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::InvalidField { .. } => "invalid_field",
            Self::BadGateway(_) => "upstream_failed",
            Self::Unavailable(_) => "unavailable",
            Self::Log(_) => "internal",
        }
    }

    /// Shorthand for an unknown channel.
    pub fn unknown_channel(id: &str) -> Self {
        Self::NotFound {
            code: "unknown_channel",
            message: format!("no channel {:?}", truncate(id, 64)),
        }
    }

    /// Shorthand for an invalid field.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            message: message.into(),
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Bytes {
        if let Self::Log(error) = self {
            // Logged once here, where it becomes a response; the client learns nothing internal.
            tracing::error!(%error, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                field: match self {
                    Self::InvalidField { field, .. } => Some((*field).to_owned()),
                    _ => None,
                },
            },
        };
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }

    /// Extra headers this error carries.
    #[must_use]
    pub fn headers(&self) -> Vec<(header::HeaderName, HeaderValue)> {
        match self {
            Self::Unauthorized | Self::AdminUnauthorized => vec![(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tidings\""),
            )],
            Self::Unavailable(_) => vec![(header::RETRY_AFTER, HeaderValue::from_static("5"))],
            _ => Vec::new(),
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body(),
        )
            .into_response();
        for (name, value) in self.headers() {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
