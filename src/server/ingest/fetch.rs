//! Fetching feed documents politely: conditional GET (ETag, Last-Modified) so an unchanged feed
//! costs a 304 and no body, gzip and brotli, a real User-Agent, a timeout, a size limit, and
//! the server's own word on when to come back (`Cache-Control: max-age`, `Retry-After`).
//! `file://` URLs are read from disk with the same size limit; `tidings:welcome` is the feed
//! bundled into the binary.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

/// The User-Agent feeds see.
pub const USER_AGENT: &str = concat!(
    "Tidings/",
    env!("CARGO_PKG_VERSION"),
    " (feed fetcher; polls each feed once for all its readers)"
);

/// The source URL of the feed bundled into the server for the Welcome channel.
pub const WELCOME_SOURCE: &str = "tidings:welcome";

/// The bundled Welcome feed.
const WELCOME_FEED: &str = include_str!("../../../assets/welcome.xml");

/// Validators remembered between polls of one feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The last `ETag`.
    pub etag: Option<String>,
    /// The last `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new document.
    Modified {
        /// Its bytes (decompressed).
        body: Vec<u8>,
        /// Validators for the next poll.
        validators: Validators,
        /// The server's `max-age`, if any.
        max_age: Option<Duration>,
    },
    /// 304: nothing changed since the validators.
    NotModified {
        /// The server's `max-age`, if any.
        max_age: Option<Duration>,
    },
}

/// A failed fetch, with what the scheduler needs to back off sensibly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("the feed server answered {status}")]
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After`, when given (429, 503).
        retry_after: Option<Duration>,
    },
    /// The document exceeds the size limit.
    #[error("the feed is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// No complete answer in time.
    #[error("the feed server did not answer within {0} s")]
    Timeout(u64),
    /// Could not connect, TLS failure, broken transfer, bad URL.
    #[error("{0}")]
    Network(String),
    /// A `file://` source could not be read.
    #[error("cannot read the feed file: {0}")]
    File(String),
    /// Only http, https and file URLs (and the bundled `tidings:welcome`) are sources.
    #[error("unsupported feed URL {0:?}: use http://, https:// or file://")]
    Scheme(String),
}

/// Fetches feeds with one shared HTTP client.
#[derive(Debug, Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    max_bytes: usize,
    timeout: Duration,
}

impl Fetcher {
    /// A fetcher with a per-request `timeout` and a `max_bytes` limit per document.
    pub fn new(timeout: Duration, max_bytes: usize) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        Ok(Self {
            http,
            max_bytes,
            timeout,
        })
    }

    /// Fetches `url`, conditionally on `validators`.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            return self.read_file(path).await;
        }
        if url == WELCOME_SOURCE {
            return Ok(Fetched::Modified {
                body: WELCOME_FEED.as_bytes().to_vec(),
                validators: Validators::default(),
                max_age: None,
            });
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(FetchError::Scheme(url.chars().take(80).collect()));
        }
        let mut request = self.http.get(url).header("accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5");
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
        let response = request.send().await.map_err(|e| self.network(&e))?;
        let status = response.status();
        let max_age = max_age(response.headers());
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified { max_age });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: crate::net::retry_after(response.headers()),
            });
        }
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.network(&e))?;
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Modified {
            body,
            validators,
            max_age,
        })
    }

    async fn read_file(&self, path: &str) -> Result<Fetched, FetchError> {
        let metadata = tokio::fs::metadata(path)
            .await
            .map_err(|e| FetchError::File(format!("{path}: {e}")))?;
        if metadata.len() > self.max_bytes as u64 {
            return Err(FetchError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let body = tokio::fs::read(path)
            .await
            .map_err(|e| FetchError::File(format!("{path}: {e}")))?;
        Ok(Fetched::Modified {
            body,
            validators: Validators::default(),
            max_age: None,
        })
    }

    fn network(&self, error: &reqwest::Error) -> FetchError {
        if error.is_timeout() {
            return FetchError::Timeout(self.timeout.as_secs());
        }
        // People read this in the channel's health.
        FetchError::Network(crate::net::describe(error))
    }
}

fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|directive| {
        let (name, seconds) = directive.trim().split_once('=')?;
        (name.trim().eq_ignore_ascii_case("max-age"))
            .then(|| {
                seconds
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            })
            .flatten()
    })
}
