//! Content ingestion: turning outside sources into events, each source fetched once for every
//! client of the server.
//!
//! - [`feeds`]: one polling task per feed source, appending what changed, tracking health.
//! - [`fetch`]: polite HTTP (conditional GET, compression, limits) and `file://` reading.
//! - [`map`]: feed parsing (feed-rs) and mapping entries to clean items with stable keys.
//! - [`text`]: markup to plain text.

pub mod feeds;
pub mod fetch;
pub mod map;
pub mod text;

use std::time::Duration;

use chrono::Utc;

use self::fetch::{FetchError, Fetched, Fetcher, Validators};
use self::map::{ParseError, ParsedFeed, parse_feed};
use crate::protocol::ChannelId;

/// Largest feed document accepted.
pub const MAX_FEED_BYTES: usize = 8 * 1024 * 1024;
/// Time allowed for one fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a feed check failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Fetching failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Parsing failed.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Turns a command-line argument (URL or file path) into a source URL.
#[must_use]
pub fn source_url(argument: &str) -> String {
    if argument.contains("://") {
        return argument.to_owned();
    }
    let path = std::path::Path::new(argument);
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    format!("file://{}", absolute.display())
}

/// Fetches and parses one feed exactly as the server would (`tidings-server feed-check`).
pub async fn check_feed(fetcher: &Fetcher, url: &str) -> Result<ParsedFeed, CheckError> {
    let channel = ChannelId::new("feed-check").map_err(|e| ParseError(e.to_string()))?;
    match fetcher.fetch(url, &Validators::default()).await? {
        Fetched::Modified { body, .. } => Ok(parse_feed(&body, url, &channel, Utc::now())?),
        // Unconditional requests are never answered 304 by a correct server.
        Fetched::NotModified { .. } => Err(CheckError::Fetch(FetchError::Status {
            status: 304,
            retry_after: None,
        })),
    }
}
