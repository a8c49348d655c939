//! Content ingestion: turning outside sources into events, each source fetched once for every
//! client of the server.
//!
//! - [`cells`]: scheduling of per-location sources over the cells clients subscribed to.
//! - [`discover`]: the feeds a web page announces.
//! - [`feeds`]: one polling task per feed source, appending what changed, tracking health.
//! - [`fetch`]: polite HTTP (conditional GET, compression, limits) and `file://` reading.
//! - [`map`]: feed parsing (feed-rs) and mapping entries to clean items with stable keys.
//! - [`nws`]: severe-weather alerts from the US National Weather Service, as living alerts.
//! - [`state`]: feed validators kept across restarts.
//! - [`text`]: markup to plain text.
//! - [`weather`]: current conditions and forecast from Open-Meteo, per cell.

pub mod cells;
pub mod discover;
pub mod feeds;
pub mod fetch;
pub mod map;
pub mod nws;
pub mod state;
pub mod text;
pub mod weather;

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
    if argument.contains("://") || argument == fetch::WELCOME_SOURCE {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_bundled_welcome_feed_reads_cleanly() {
        let fetcher = Fetcher::new(FETCH_TIMEOUT, MAX_FEED_BYTES).unwrap();
        let feed = check_feed(&fetcher, &source_url(fetch::WELCOME_SOURCE))
            .await
            .unwrap();
        assert_eq!(feed.title.as_deref(), Some("Tidings"));
        assert_eq!(feed.items.len(), 6);
        assert!(!feed.repaired());
        assert!(feed.items.iter().all(|item| item.body.is_some()));
    }

    #[test]
    fn arguments_become_source_urls() {
        assert_eq!(source_url("https://x.org/f"), "https://x.org/f");
        assert_eq!(source_url("tidings:welcome"), "tidings:welcome");
        assert!(source_url("feed.xml").starts_with("file:///"));
    }
}
