//! HTTP routes: the read API, publish and retract, the stream, health, metrics and the web page.
//!
//! [`router`] builds the whole API over a shared [`ServerState`], testable without a socket.
//! Handlers validate input into protocol types, append to the event log and answer; they never
//! talk to subscribers directly (the hub does, fed by the log).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::ServerState;
use super::auth::authorize;
use super::error::ApiError;
use super::geocode;
use super::log::{EventKind, NewEvent, StateChange};
use super::stream::{self, StreamQuery};
use crate::protocol::{
    Alert, AlertStatus, ChannelId, ChannelInfo, ChannelKind, Event, GeocodeResponse, Item, ItemKey,
    PROTOCOL_VERSION, PublishRequest, PublishResponse, Retract, RetractKind, Severity,
};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest body, in characters.
pub const MAX_BODY_CHARS: usize = 8_000;
/// Longest link, in bytes.
pub const MAX_LINK_BYTES: usize = 2_048;
/// Longest area or instruction of an alert, in characters.
pub const MAX_ALERT_TEXT_CHARS: usize = 4_000;

const WEB_PAGE: &str = include_str!("web/index.html");

/// The complete API.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/", get(web_page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/channels", get(channels))
        .route("/v1/channels/{id}/items", get(items).post(publish))
        .route("/v1/channels/{id}/items/{key}", delete(retract))
        .route("/v1/stream", get(stream_handler))
        .route("/v1/geocode", get(geocode))
        .merge(super::admin::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(common_headers))
        .with_state(state)
}

/// Headers on every answer: the protocol version, and permission for pages on other origins
/// to read the public API (publishing needs a token, which such pages do not have).
async fn common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("tidings-protocol", HeaderValue::from(PROTOCOL_VERSION));
    headers
        .entry(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .or_insert(HeaderValue::from_static("*"));
    response
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn bad_query(rejection: &QueryRejection) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_parameter",
        message: format!(
            "bad query string: {}",
            rejection
                .body_text()
                .trim_start_matches("Failed to deserialize query string: ")
        ),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        code: "not_found",
        message: "no such endpoint; see docs/protocol.md".to_owned(),
    }
}

async fn web_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
                ),
            ),
        ],
        WEB_PAGE,
    )
        .into_response()
}

async fn healthz(State(state): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let head = state.log.head().await?;
    if !state.log.healthy() {
        return Err(ApiError::Unavailable(
            "the event store is not reachable; streams continue once it is back".to_owned(),
        ));
    }
    Ok(axum::Json(serde_json::json!({
        "status": "ok",
        "protocol": PROTOCOL_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "last_event_id": head,
        "subscribers": state.hub.subscriber_count(),
        "log": if state.config.broker.is_some() { "redis" } else { "sqlite" },
        "ingesting": state.ingesting.load(std::sync::atomic::Ordering::Relaxed),
    }))
    .into_response())
}

async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

fn millis_to_time(millis: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(i64::try_from(millis).ok()?)
        .single()
}

/// The catalog entry of a channel: configured metadata, stored health, latest update.
pub async fn catalog(state: &ServerState) -> Result<Vec<ChannelInfo>, ApiError> {
    let stored = state.log.channel_infos().await?;
    Ok(state
        .catalog
        .current()
        .channels
        .iter()
        .map(|channel| {
            let mut info = channel.info.clone();
            if let Some((saved, _)) = stored.iter().find(|(saved, _)| saved.id == info.id) {
                info.health = saved.health.clone();
            }
            info.updated = state
                .hub
                .latest(&info.id)
                .and_then(|id| millis_to_time(id.millis));
            info
        })
        .collect())
}

async fn channels(State(state): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let channels = catalog(&state).await?;
    Ok(axum::Json(serde_json::json!({ "channels": channels })).into_response())
}

fn known_channel(state: &ServerState, id: &str) -> Result<ChannelId, ApiError> {
    ChannelId::new(id)
        .ok()
        .filter(|id| state.catalog.channel(id).is_some())
        .ok_or_else(|| ApiError::unknown_channel(id))
}

#[derive(Debug, Deserialize)]
struct ItemsQuery {
    limit: Option<String>,
}

async fn items(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    query: Result<Query<ItemsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let channel = known_channel(&state, &id)?;
    let Query(query) = query.map_err(|rejection| bad_query(&rejection))?;
    let limit = match query.limit.as_deref() {
        None => 20,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| ApiError::BadRequest {
                code: "invalid_parameter",
                message: "limit must be a number from 1 to 200".to_owned(),
            })?,
    };
    let entries = state.log.entries(&channel, limit).await?;
    let items: Vec<Value> = entries
        .iter()
        .filter_map(|entry| {
            let mut value: Value = serde_json::from_str(&entry.data).ok()?;
            let object = value.as_object_mut()?;
            object.insert("kind".to_owned(), Value::from(entry.kind.as_str()));
            object.insert("event_id".to_owned(), Value::from(entry.id.to_string()));
            Some(value)
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "channel": channel, "items": items })).into_response())
}

#[derive(Debug, Deserialize)]
struct GeocodeQuery {
    q: Option<String>,
    count: Option<String>,
    language: Option<String>,
}

fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_parameter",
        message: message.into(),
    }
}

/// Place search for the weather location picker (proxied and cached).
async fn geocode(
    State(state): State<Arc<ServerState>>,
    query: Result<Query<GeocodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| bad_query(&rejection))?;
    let name = query.q.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(invalid_parameter(
            "q is required: part of a place name, e.g. /v1/geocode?q=Berlin",
        ));
    }
    if name.chars().count() > geocode::MAX_QUERY_CHARS {
        return Err(invalid_parameter(format!(
            "q is longer than {} characters",
            geocode::MAX_QUERY_CHARS
        )));
    }
    let count = match query.count.as_deref() {
        None => geocode::DEFAULT_COUNT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=geocode::MAX_COUNT).contains(n))
            .ok_or_else(|| {
                invalid_parameter(format!(
                    "count must be a number from 1 to {}",
                    geocode::MAX_COUNT
                ))
            })?,
    };
    let language = query
        .language
        .as_deref()
        .unwrap_or("en")
        .to_ascii_lowercase();
    if language.len() != 2 || !language.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(invalid_parameter(
            "language must be a two-letter code such as en or de",
        ));
    }
    // One letter matches too much to be useful; the upstream answers nothing for it either.
    if name.chars().count() < 2 {
        return Ok(axum::Json(GeocodeResponse::default()).into_response());
    }
    let answer = state
        .geocoder
        .search(name, count, &language)
        .await
        .map_err(|message| {
            tracing::warn!(%message, "place search failed");
            ApiError::BadGateway(message)
        })?;
    Ok(axum::Json(answer.as_ref()).into_response())
}

async fn stream_handler(
    State(state): State<Arc<ServerState>>,
    query: Result<Query<StreamQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| bad_query(&rejection))?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let stream = stream::open(&state, &query, last_event_id)?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(stream.into_body())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// Reads a request body, enforcing `limit` both on the declared and the actual length.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge { limit })
}

fn text_field(
    object: &Map<String, Value>,
    field: &'static str,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            check_text(field, text, max_chars)?;
            Ok(Some(text.clone()).filter(|t| !t.trim().is_empty()))
        }
        Some(_) => Err(ApiError::field(field, format!("{field} must be a string"))),
    }
}

/// Rejects text over `max_chars` (counted after trimming) or with control characters other
/// than line breaks and tabs.
fn check_text(field: &'static str, text: &str, max_chars: usize) -> Result<(), ApiError> {
    if text.trim().chars().count() > max_chars {
        return Err(ApiError::field(
            field,
            format!("{field} is longer than {max_chars} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::field(
            field,
            format!("{field} contains a control character"),
        ));
    }
    Ok(())
}

/// Parses an enumeration strictly: the wire types decode unknown values leniently, but a
/// publisher's typo must be a 422.
fn parse_enum<T>(
    object: &Map<String, Value>,
    field: &'static str,
    parse: fn(&str) -> Option<T>,
    allowed: &[&str],
) -> Result<Option<T>, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_str().and_then(parse).map(Some).ok_or_else(|| {
            ApiError::field(
                field,
                format!("{field} must be one of {}", allowed.join(", ")),
            )
        }),
    }
}

/// Checks that `link` is an absolute http(s) URL with a host and nothing unsafe in it.
pub fn valid_link(link: &str) -> bool {
    let rest = if let Some(rest) = link.strip_prefix("https://") {
        rest
    } else if let Some(rest) = link.strip_prefix("http://") {
        rest
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && link.len() <= MAX_LINK_BYTES
        && !link
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == '"')
}

/// Validates a JSON publish body field by field, naming the first bad field.
fn parse_publish_json(bytes: &[u8]) -> Result<PublishRequest, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| ApiError::BadRequest {
        code: "invalid_json",
        message: format!("the body is not valid JSON: {error}"),
    })?;
    let object = value.as_object().ok_or_else(|| ApiError::BadRequest {
        code: "invalid_json",
        message: "the body must be a JSON object".to_owned(),
    })?;
    let title = match object.get("title") {
        None | Some(Value::Null) => return Err(ApiError::field("title", "title is required")),
        Some(_) => text_field(object, "title", MAX_TITLE_CHARS)?.unwrap_or_default(),
    };
    let link = text_field(object, "link", MAX_LINK_BYTES)?;
    if link.as_ref().is_some_and(|link| !valid_link(link.trim())) {
        return Err(ApiError::field(
            "link",
            "link must be an absolute http:// or https:// URL",
        ));
    }
    let key = match object.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(ItemKey::new(text.as_str()).map_err(|e| ApiError::field("key", e.to_string()))?)
        }
        Some(_) => return Err(ApiError::field("key", "key must be a string")),
    };
    let expires = match object.get("expires") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ApiError::field(
                        "expires",
                        "expires must be an RFC 3339 time, e.g. 2030-01-01T12:00:00Z",
                    )
                })?
                .with_timezone(&Utc),
        ),
        Some(_) => {
            return Err(ApiError::field(
                "expires",
                "expires must be an RFC 3339 time string",
            ));
        }
    };
    Ok(PublishRequest {
        title,
        body: text_field(object, "body", MAX_BODY_CHARS)?,
        link: link.map(|l| l.trim().to_owned()),
        severity: parse_enum(object, "severity", Severity::parse, Severity::ALL)?,
        key,
        expires,
        status: parse_enum(object, "status", AlertStatus::parse, AlertStatus::ALL)?,
        area: text_field(object, "area", MAX_ALERT_TEXT_CHARS)?,
        instruction: text_field(object, "instruction", MAX_ALERT_TEXT_CHARS)?,
    })
}

fn parse_publish(headers: &HeaderMap, bytes: &[u8]) -> Result<PublishRequest, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let request = if mime == "application/json" || mime.ends_with("+json") {
        parse_publish_json(bytes)?
    } else if mime == "text/plain" || mime.is_empty() {
        let text = std::str::from_utf8(bytes).map_err(|_| ApiError::BadRequest {
            code: "invalid_text",
            message: "a text/plain body must be UTF-8".to_owned(),
        })?;
        check_text("title", text, MAX_TITLE_CHARS)?;
        PublishRequest {
            title: text.to_owned(),
            ..PublishRequest::default()
        }
    } else {
        return Err(ApiError::UnsupportedMediaType(
            mime.chars().take(80).collect(),
        ));
    };
    let title = request.title.trim();
    if title.is_empty() {
        return Err(ApiError::field("title", "title must not be empty"));
    }
    let title = title.to_owned();
    if request.expires.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::field("expires", "expires must be in the future"));
    }
    Ok(PublishRequest { title, ..request })
}

fn random_key() -> Result<ItemKey, ApiError> {
    let mut bytes = [0_u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Unavailable(format!("no randomness for a key: {e}")))?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ItemKey::new(text).map_err(|e| ApiError::Unavailable(e.to_string()))
}

/// Turns a validated publish request into the event to log.
fn build_event(
    channel: &ChannelId,
    kind: ChannelKind,
    request: PublishRequest,
    key: ItemKey,
    existing: Option<&Value>,
    source: &str,
    cancelled_linger: Duration,
) -> (Event, Option<DateTime<Utc>>) {
    let now = Utc::now();
    let published = existing
        .and_then(|v| v.get("published"))
        .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok())
        .unwrap_or(now);
    let severity = request.severity.unwrap_or(Severity::Info);
    if kind == ChannelKind::Alerts {
        let status = match request.status {
            Some(AlertStatus::Cancelled) => AlertStatus::Cancelled,
            _ if existing.is_some() => AlertStatus::Updated,
            _ => AlertStatus::Active,
        };
        // A cancelled alert stays visible as cancelled for a while, then goes.
        let cancel_by =
            now + chrono::Duration::from_std(cancelled_linger).unwrap_or(chrono::Duration::zero());
        let expires = match status {
            AlertStatus::Cancelled => {
                Some(request.expires.map_or(cancel_by, |at| at.min(cancel_by)))
            }
            _ => request.expires,
        };
        let alert = Alert {
            channel: channel.clone(),
            key,
            status,
            severity,
            title: request.title,
            event: None,
            body: request.body,
            instruction: request.instruction,
            area: request.area,
            link: request.link,
            source: Some(source.to_owned()),
            onset: None,
            published,
            updated: now,
            expires,
        };
        (Event::Alert(alert), expires)
    } else {
        let item = Item {
            channel: channel.clone(),
            key,
            title: request.title,
            body: request.body,
            link: request.link,
            source: Some(source.to_owned()),
            image: None,
            severity,
            published,
            updated: now,
            expires: request.expires,
        };
        (Event::Item(item), request.expires)
    }
}

fn entry_kind(kind: ChannelKind) -> EventKind {
    if kind == ChannelKind::Alerts {
        EventKind::Alert
    } else {
        EventKind::Item
    }
}

async fn publish(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = publish_inner(&state, &id, &headers, body).await;
    respond_counted(&state, result, StatusCode::CREATED)
}

fn respond_counted(
    state: &ServerState,
    result: Result<PublishResponse, ApiError>,
    ok: StatusCode,
) -> Response {
    let response = match result {
        Ok(answer) => (ok, axum::Json(answer)).into_response(),
        Err(error) => error.into_response(),
    };
    state.metrics.count_publish(response.status().as_u16());
    response
}

async fn publish_inner(
    state: &ServerState,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<PublishResponse, ApiError> {
    let channel = known_channel(state, id)?;
    let token = authorize(&state.config.tokens, headers, &channel)?;
    let kind = state
        .catalog
        .channel(&channel)
        .map(|c| c.info.kind)
        .unwrap_or_default();
    if kind == ChannelKind::Weather {
        return Err(ApiError::Forbidden(format!(
            "{channel} (weather channels are fed by the server only)"
        )));
    }
    let bytes = read_body(headers, body, state.config.limits.max_publish_bytes).await?;
    let mut request = parse_publish(headers, &bytes)?;
    let key = match request.key.clone() {
        Some(key) => key,
        None => random_key()?,
    };
    let event_kind = entry_kind(kind);
    let existing = state.log.entry(&channel, event_kind, &key).await?;
    let existing_value = existing
        .as_ref()
        .and_then(|e| serde_json::from_str::<Value>(&e.data).ok());
    if kind == ChannelKind::Alerts && request.status == Some(AlertStatus::Cancelled) {
        // Cancelling names an alert that exists, and keeps what the cancel does not restate.
        let previous = existing_value
            .as_ref()
            .and_then(|v| serde_json::from_value::<Alert>(v.clone()).ok())
            .ok_or_else(|| ApiError::NotFound {
                code: "unknown_item",
                message: format!(
                    "channel {channel} has no live alert with key \"{key}\" to cancel"
                ),
            })?;
        // Cancelling again does not restart the cancelled alert's remaining time.
        let expires = match previous.status {
            AlertStatus::Cancelled => previous.expires.or(request.expires),
            _ => request.expires,
        };
        request = PublishRequest {
            expires,
            body: request.body.or(previous.body),
            link: request.link.or(previous.link),
            area: request.area.or(previous.area),
            instruction: request.instruction.or(previous.instruction),
            severity: request.severity.or(Some(previous.severity)),
            ..request
        };
    }
    let (event, expires) = build_event(
        &channel,
        kind,
        request,
        key.clone(),
        existing_value.as_ref(),
        &token.name,
        state.config.alerts.cancelled_linger,
    );
    let expires_millis = expires.and_then(|at| u64::try_from(at.timestamp_millis()).ok());
    let appended = state
        .log
        .append(vec![NewEvent {
            channel: channel.clone(),
            kind: event_kind,
            data: event.to_json(),
            change: StateChange::Upsert {
                key: key.clone(),
                expires_millis,
            },
        }])
        .await?;
    let stored = appended
        .into_iter()
        .next()
        .ok_or(ApiError::Unavailable("nothing appended".to_owned()))?;
    tracing::info!(channel = %channel, key = %key, event_id = %stored.event.id, token = %token.name, updated = stored.replaced, "published");
    Ok(PublishResponse {
        channel,
        key,
        event_id: stored.event.id,
        event: event_kind.as_str().to_owned(),
        updated: stored.replaced,
    })
}

async fn retract(
    State(state): State<Arc<ServerState>>,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = retract_inner(&state, &id, &key, &headers).await;
    respond_counted(&state, result, StatusCode::OK)
}

async fn retract_inner(
    state: &ServerState,
    id: &str,
    key: &str,
    headers: &HeaderMap,
) -> Result<PublishResponse, ApiError> {
    let channel = known_channel(state, id)?;
    let token = authorize(&state.config.tokens, headers, &channel)?;
    let not_found = || ApiError::NotFound {
        code: "unknown_item",
        message: format!(
            "channel {channel} has no live item with key {:?}",
            key.chars().take(200).collect::<String>()
        ),
    };
    let key = ItemKey::new(key).map_err(|_| not_found())?;
    let kind = state
        .catalog
        .channel(&channel)
        .map(|c| c.info.kind)
        .unwrap_or_default();
    if kind == ChannelKind::Weather {
        return Err(ApiError::Forbidden(format!(
            "{channel} (weather channels are fed by the server only)"
        )));
    }
    let event_kind = entry_kind(kind);
    if state.log.entry(&channel, event_kind, &key).await?.is_none() {
        return Err(not_found());
    }
    let retract_kind = if event_kind == EventKind::Alert {
        RetractKind::Alert
    } else {
        RetractKind::Item
    };
    let event = Event::Retract(Retract {
        channel: channel.clone(),
        key: key.clone(),
        kind: retract_kind,
        reason: Some("retracted".to_owned()),
    });
    let appended = state
        .log
        .append(vec![NewEvent {
            channel: channel.clone(),
            kind: EventKind::Retract,
            data: event.to_json(),
            change: StateChange::Remove {
                key: key.clone(),
                kind: retract_kind,
            },
        }])
        .await?;
    let stored = appended
        .into_iter()
        .next()
        .ok_or(ApiError::Unavailable("nothing appended".to_owned()))?;
    tracing::info!(channel = %channel, key = %key, event_id = %stored.event.id, token = %token.name, "retracted");
    Ok(PublishResponse {
        channel,
        key,
        event_id: stored.event.id,
        event: "retract".to_owned(),
        updated: stored.replaced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_be_absolute_http() {
        for good in [
            "https://example.org",
            "http://a.b/c?d=e#f",
            "https://user@host:8080/x",
        ] {
            assert!(valid_link(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "https:///x",
            "//x.org",
            "https://a b",
            "file:///etc/passwd",
        ] {
            assert!(!valid_link(bad), "{bad}");
        }
    }

    #[test]
    fn json_publish_names_the_bad_field() {
        let cases: &[(&str, &str)] = &[
            (r#"{"body":"x"}"#, "title"),
            (r#"{"title":"  "}"#, "title"),
            (r#"{"title":5}"#, "title"),
            (r#"{"title":"t","link":"ftp://x"}"#, "link"),
            (r#"{"title":"t","severity":"urgent"}"#, "severity"),
            (r#"{"title":"t","key":"a/b"}"#, "key"),
            (r#"{"title":"t","expires":"tomorrow"}"#, "expires"),
            (
                r#"{"title":"t","expires":"2001-01-01T00:00:00Z"}"#,
                "expires",
            ),
        ];
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (body, field) in cases {
            match parse_publish(&headers, body.as_bytes()) {
                Err(ApiError::InvalidField { field: got, .. }) => assert_eq!(got, *field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(MAX_TITLE_CHARS + 1));
        assert!(matches!(
            parse_publish(&headers, long.as_bytes()),
            Err(ApiError::InvalidField { field: "title", .. })
        ));
        assert!(matches!(
            parse_publish(&headers, b"{not json"),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn plain_text_is_the_title() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let request = parse_publish(&headers, b"  Build 42 failed \n").unwrap();
        assert_eq!(request.title, "Build 42 failed");
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        assert!(matches!(
            parse_publish(&headers, b"<x/>"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
