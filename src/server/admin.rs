//! The channel-management API (`/v1/admin/…`): list, create, change, reorder and remove
//! channels, add, move and remove their feeds, and preview a feed (or the feeds a web page
//! announces) before adding it. Every route needs a token with `admin = true`.
//!
//! Changes go through [`Catalog::edit`](super::catalog::Catalog::edit): validated as a whole
//! line-up, saved to the line-up file, announced in the event log, then installed, so a
//! refused change leaves everything as it was.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use chrono::Utc;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ServerState;
use super::auth::authorize_admin;
use super::catalog::CatalogError;
use super::error::ApiError;
use super::ingest::discover;
use super::ingest::fetch::{Fetched, Fetcher, Validators};
use super::ingest::map::parse_feed;
use crate::config::lineup::{Lineup, comparable_url};
use crate::config::server::{ConfigError, RawChannel, RawSource};
use crate::protocol::{
    ChannelId, ChannelKind, ChannelPatch, LineupChannel, LineupResponse, LineupSource, MoveSource,
    NewChannel, Preview, PreviewItem, PreviewRequest,
};

/// Largest admin request body.
const MAX_BODY: usize = 64 * 1024;
/// Time a preview may take to fetch one document.
pub const PREVIEW_TIMEOUT: Duration = Duration::from_secs(15);
/// Items a feed preview shows.
const PREVIEW_ITEMS: usize = 10;

/// The admin routes, merged into the API router.
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/v1/admin/channels", get(list).post(create))
        .route("/v1/admin/channels/{id}", patch(update).delete(remove))
        .route(
            "/v1/admin/channels/{id}/sources",
            post(add_source).delete(remove_source),
        )
        .route("/v1/admin/sources/move", post(move_source))
        .route("/v1/admin/preview", post(preview))
        .route("/v1/admin/reload", post(reload))
}

fn lineup_channel(raw: &RawChannel) -> LineupChannel {
    LineupChannel {
        id: raw.id.clone(),
        title: raw.title.clone(),
        description: raw.description.clone(),
        colour: raw
            .colour
            .clone()
            .unwrap_or_else(|| "#5b8def".to_owned())
            .to_ascii_lowercase(),
        kind: raw.kind,
        sources: raw
            .sources
            .iter()
            .map(|source| match source {
                RawSource::Url(url) => LineupSource {
                    url: url.clone(),
                    name: None,
                    poll_minutes: None,
                },
                RawSource::Table {
                    url,
                    name,
                    poll_minutes,
                    poll_secs,
                } => LineupSource {
                    url: url.clone(),
                    name: name.clone(),
                    poll_minutes: poll_minutes.or(poll_secs.map(|s| s.div_ceil(60))),
                },
            })
            .collect(),
    }
}

fn raw_source(source: &LineupSource) -> RawSource {
    if source.name.is_none() && source.poll_minutes.is_none() {
        return RawSource::Url(source.url.trim().to_owned());
    }
    RawSource::Table {
        url: source.url.trim().to_owned(),
        name: source
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        poll_minutes: source.poll_minutes,
        poll_secs: None,
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::Invalid(ConfigError::Invalid { setting, message }) => {
                ApiError::InvalidField {
                    field: field_of(&setting),
                    message,
                }
            }
            CatalogError::Invalid(other) => ApiError::InvalidField {
                field: "lineup",
                message: other.to_string(),
            },
            CatalogError::UnknownChannel(id) => ApiError::unknown_channel(&id),
            CatalogError::Unmanaged | CatalogError::Clustered => ApiError::Conflict {
                code: "unmanaged",
                message: error.to_string(),
            },
            CatalogError::Save { .. } => {
                tracing::error!(%error, "catalog change not saved");
                ApiError::Unavailable("the line-up could not be saved; nothing changed".to_owned())
            }
            CatalogError::Log(log) => ApiError::from(log),
        }
    }
}

/// The request field a line-up setting path (`channels[2].sources[0].poll_minutes`) is about.
fn field_of(setting: &str) -> &'static str {
    let last = setting.rsplit('.').next().unwrap_or(setting);
    match last {
        "id" => "id",
        "title" => "title",
        "colour" => "colour",
        "poll_minutes" | "poll_secs" => "poll_minutes",
        _ if last.starts_with("sources") => "url",
        _ => "lineup",
    }
}

async fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType(
            mime.chars().take(80).collect(),
        ));
    }
    let bytes = super::api::read_body(headers, body, MAX_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|error| ApiError::BadRequest {
        code: "invalid_json",
        message: format!("the body does not fit this request: {error}"),
    })
}

fn checked_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 80 {
        return Err(ApiError::field("title", "title must be 1-80 characters"));
    }
    Ok(title.to_owned())
}

fn checked_colour(colour: &str) -> Result<String, ApiError> {
    let colour = colour.trim();
    let valid = colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !valid {
        return Err(ApiError::field("colour", "colour must look like #4a90e2"));
    }
    Ok(colour.to_ascii_lowercase())
}

fn checked_sources(lineup: &Lineup, sources: &[LineupSource]) -> Result<(), CatalogError> {
    for source in sources {
        if let Some(channel) = lineup.channel_with_source(&source.url) {
            return Err(duplicate(&source.url, &channel.title));
        }
    }
    Ok(())
}

fn duplicate(url: &str, title: &str) -> CatalogError {
    CatalogError::refused(
        "sources",
        format!(
            "{} is already a feed of channel {title:?}",
            url.chars().take(200).collect::<String>()
        ),
    )
}

fn unknown_channel(id: &str) -> CatalogError {
    CatalogError::UnknownChannel(id.chars().take(64).collect())
}

fn channel_index(lineup: &Lineup, id: &str) -> Result<usize, CatalogError> {
    lineup
        .channels
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| unknown_channel(id))
}

fn channel_mut<'a>(lineup: &'a mut Lineup, id: &str) -> Result<&'a mut RawChannel, CatalogError> {
    lineup.channel_mut(id).ok_or_else(|| unknown_channel(id))
}

fn news_only(channel: &RawChannel) -> Result<(), CatalogError> {
    if channel.kind == ChannelKind::News {
        return Ok(());
    }
    Err(CatalogError::refused(
        "kind",
        format!(
            "channel {:?} is not a news channel; feeds go into news channels",
            channel.id
        ),
    ))
}

/// Applies `change` to the line-up through the catalog (validated, saved, announced).
async fn edit<T>(
    state: &ServerState,
    change: impl FnOnce(&mut Lineup) -> Result<T, CatalogError>,
) -> Result<T, ApiError> {
    Ok(state.catalog.edit(state.log.as_ref(), change).await?)
}

/// The line-up, or why it cannot be read over this API.
async fn list(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let current = state.catalog.current();
    let body = LineupResponse {
        managed: state.catalog.editable(),
        channels: current.lineup.channels.iter().map(lineup_channel).collect(),
    };
    Ok(axum::Json(body).into_response())
}

/// Re-reads the line-up file now (after an outside edit, such as the app's OPML import),
/// instead of within the next two seconds; answers the line-up in force.
async fn reload(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    state.catalog.reload_if_changed(state.log.as_ref()).await?;
    list(State(state), headers).await
}

async fn create(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let request: NewChannel = json_body(&headers, body).await?;
    let title = checked_title(&request.title)?;
    let colour = request.colour.as_deref().map(checked_colour).transpose()?;
    if let Some(id) = &request.id {
        ChannelId::new(id.as_str()).map_err(|e| ApiError::field("id", e.to_string()))?;
    }
    let created = edit(&state, |lineup| {
        let id = match &request.id {
            Some(id) if lineup.channel(id).is_some() => {
                return Err(CatalogError::refused(
                    "id",
                    format!("there is a channel {id:?} already"),
                ));
            }
            Some(id) => id.clone(),
            None => lineup.fresh_id(&title),
        };
        checked_sources(lineup, &request.sources)?;
        let colour = colour.unwrap_or_else(|| lineup.next_colour().to_owned());
        let channel = RawChannel {
            id,
            title,
            description: request
                .description
                .as_deref()
                .unwrap_or("")
                .trim()
                .to_owned(),
            colour: Some(colour),
            kind: ChannelKind::News,
            retention: Default::default(),
            sources: request.sources.iter().map(raw_source).collect(),
        };
        let position = request
            .position
            .unwrap_or(usize::MAX)
            .min(lineup.channels.len());
        let answer = lineup_channel(&channel);
        lineup.channels.insert(position, channel);
        Ok(answer)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

async fn update(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let request: ChannelPatch = json_body(&headers, body).await?;
    let title = request.title.as_deref().map(checked_title).transpose()?;
    let colour = request.colour.as_deref().map(checked_colour).transpose()?;
    let updated = edit(&state, |lineup| {
        let index = channel_index(lineup, &id)?;
        let mut channel = lineup.channels.remove(index);
        if let Some(title) = title {
            channel.title = title;
        }
        if let Some(colour) = colour {
            channel.colour = Some(colour);
        }
        if let Some(description) = &request.description {
            description.trim().clone_into(&mut channel.description);
        }
        let position = request.position.unwrap_or(index).min(lineup.channels.len());
        let answer = lineup_channel(&channel);
        lineup.channels.insert(position, channel);
        Ok(answer)
    })
    .await?;
    Ok(axum::Json(updated).into_response())
}

async fn remove(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    edit(&state, |lineup| {
        let index = channel_index(lineup, &id)?;
        if lineup.channels.len() == 1 {
            return Err(CatalogError::refused(
                "lineup",
                "a server needs at least one channel; add another before removing this one"
                    .to_owned(),
            ));
        }
        lineup.channels.remove(index);
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add_source(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let source: LineupSource = json_body(&headers, body).await?;
    let updated = edit(&state, |lineup| {
        checked_sources(lineup, std::slice::from_ref(&source))?;
        let channel = channel_mut(lineup, &id)?;
        news_only(channel)?;
        channel.sources.push(raw_source(&source));
        Ok(lineup_channel(channel))
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(updated)).into_response())
}

#[derive(Debug, Deserialize)]
struct SourceQuery {
    url: Option<String>,
}

async fn remove_source(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Query<SourceQuery>,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let url = query
        .0
        .url
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_parameter",
            message: "name the feed to remove with ?url=".to_owned(),
        })?;
    edit(&state, |lineup| {
        let wanted = comparable_url(&url);
        let channel = channel_mut(lineup, &id)?;
        let before = channel.sources.len();
        channel
            .sources
            .retain(|s| comparable_url(s.url()) != wanted);
        if channel.sources.len() == before {
            return Err(CatalogError::refused(
                "sources",
                format!("channel {id:?} has no feed {url:?}"),
            ));
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn move_source(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let request: MoveSource = json_body(&headers, body).await?;
    let updated = edit(&state, |lineup| {
        news_only(channel_mut(lineup, &request.to)?)?;
        let source = lineup.take_source(&request.url).ok_or_else(|| {
            CatalogError::refused(
                "sources",
                format!("no channel has the feed {:?}", request.url),
            )
        })?;
        let to = channel_mut(lineup, &request.to)?;
        to.sources.push(source);
        Ok(lineup_channel(to))
    })
    .await?;
    Ok(axum::Json(updated).into_response())
}

/// A user's address as a URL: `example.org/news` means `https://example.org/news`.
#[must_use]
pub fn normalise_address(address: &str) -> String {
    let address = address.trim();
    if address.contains("://") || address.starts_with("tidings:") {
        address.to_owned()
    } else {
        format!("https://{address}")
    }
}

async fn preview(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize_admin(&state.config.tokens, &headers)?;
    let request: PreviewRequest = json_body(&headers, body).await?;
    if request.url.trim().is_empty() {
        return Err(ApiError::field(
            "url",
            "give a feed's or a website's address",
        ));
    }
    let url = normalise_address(&request.url);
    let fetcher = Fetcher::new(PREVIEW_TIMEOUT, super::ingest::MAX_FEED_BYTES)
        .map_err(|e| ApiError::Unavailable(format!("cannot fetch now: {e}")))?;
    let lineup = &state.catalog.current().lineup;
    let answer = match preview_address(&fetcher, &url, lineup).await {
        // An address typed without a scheme that does not answer HTTPS may still answer
        // plain HTTP (an intranet host, a device on the desk), as a browser would try.
        Err(ApiError::InvalidField { message, .. })
            if url != request.url.trim() && message.starts_with("cannot fetch") =>
        {
            let plain = format!("http://{}", request.url.trim());
            preview_address(&fetcher, &plain, lineup)
                .await
                .map_err(|_| ApiError::InvalidField {
                    field: "url",
                    message,
                })?
        }
        answer => answer?,
    };
    Ok(axum::Json(answer).into_response())
}

/// What the server would make of `url`: a feed, the feeds a page announces, or a clear error.
pub async fn preview_address(
    fetcher: &Fetcher,
    url: &str,
    lineup: &Lineup,
) -> Result<Preview, ApiError> {
    let body = fetch_document(fetcher, url).await?;
    match feed_preview(&body, url, lineup) {
        Ok(preview) => return Ok(preview),
        Err(not_a_feed) if !discover::looks_like_html(&body) => {
            return Err(ApiError::InvalidField {
                field: "url",
                message: format!("{url} is not an RSS, Atom or JSON feed ({not_a_feed})"),
            });
        }
        Err(_) => {}
    }
    let page = discover::discover(&body, url);
    match page.feeds.as_slice() {
        [] => Err(ApiError::InvalidField {
            field: "url",
            message: format!(
                "the page at {url} announces no feed (it has no <link rel=\"alternate\"> to RSS, Atom or JSON Feed)"
            ),
        }),
        [only] => {
            let body = fetch_document(fetcher, &only.url).await?;
            feed_preview(&body, &only.url, lineup).map_err(|error| ApiError::InvalidField {
                field: "url",
                message: format!(
                    "the page at {url} announces {} but it is not a readable feed ({error})",
                    only.url
                ),
            })
        }
        _ => Ok(Preview::Page {
            url: url.to_owned(),
            title: page.title,
            feeds: page.feeds,
        }),
    }
}

async fn fetch_document(fetcher: &Fetcher, url: &str) -> Result<Vec<u8>, ApiError> {
    match fetcher.fetch(url, &Validators::default()).await {
        Ok(Fetched::Modified { body, .. }) => Ok(body.to_vec()),
        Ok(Fetched::NotModified { .. }) => Err(ApiError::BadGateway(format!(
            "{url} answered 304 Not Modified to a plain request"
        ))),
        Err(error) => Err(ApiError::InvalidField {
            field: "url",
            message: format!("cannot fetch {url}: {error}"),
        }),
    }
}

fn feed_preview(body: &[u8], url: &str, lineup: &Lineup) -> Result<Preview, String> {
    let channel = ChannelId::new("preview").map_err(|e| e.to_string())?;
    let feed = parse_feed(body, url, &channel, Utc::now()).map_err(|e| e.to_string())?;
    let mut items = feed.items.clone();
    items.sort_by_key(|item| std::cmp::Reverse(item.published));
    Ok(Preview::Feed {
        url: url.to_owned(),
        title: feed.title.clone(),
        item_count: feed.items.len(),
        items: items
            .into_iter()
            .take(PREVIEW_ITEMS)
            .map(|item| PreviewItem {
                title: item.title,
                link: item.link,
                published: item.published,
            })
            .collect(),
        skipped: feed.skipped + feed.unread,
        repairs: feed.repairs.iter().map(ToString::to_string).collect(),
        already_in: lineup.channel_with_source(url).map(|c| c.title.clone()),
    })
}
