//! Fetching feeds from a real local HTTP server: conditional GET round trips, Retry-After,
//! timeouts, slow and oversized responses, a body that trickles, redirects, gzip and brotli,
//! the User-Agent the server sees, and parsing what arrives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use tidings::config::server::SourceConfig;
use tidings::server::ingest::feeds::SourcePoller;
use tidings::server::ingest::fetch::{FetchError, Fetched, Fetcher, USER_AGENT, Validators};
use tidings::server::ingest::map::parse_feed;
use tidings::server::log::EventLog as _;
use tidings::server::log::sqlite::SqliteLog;

const FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Fixture</title>
<item><title>Hello</title><guid>1</guid><link>https://example.org/1</link></item></channel></rss>"#;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::new();
    let mut encoder = brotli::CompressorWriter::new(&mut encoded, 4096, 5, 22);
    encoder.write_all(bytes).unwrap();
    drop(encoder);
    encoded
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn conditional_get_round_trips_cost_a_304_and_no_body() {
    let bodies_sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&bodies_sent);
    let router = Router::new()
        .route(
            "/etag",
            get(move |headers: HeaderMap| {
                let counter = Arc::clone(&counter);
                async move {
                    if headers
                        .get(header::IF_NONE_MATCH)
                        .is_some_and(|v| v == "\"v1\"")
                    {
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                    (
                        [
                            (header::ETAG, "\"v1\""),
                            (header::CACHE_CONTROL, "public, max-age=600"),
                        ],
                        FEED,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/modified",
            get(|headers: HeaderMap| async move {
                let stamp = "Thu, 26 Nov 2026 10:00:00 GMT";
                if headers
                    .get(header::IF_MODIFIED_SINCE)
                    .is_some_and(|v| v == stamp)
                {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                ([(header::LAST_MODIFIED, stamp)], FEED).into_response()
            }),
        );
    let base = serve(router).await;
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    for path in ["/etag", "/modified"] {
        let first = fetcher
            .fetch(&format!("{base}{path}"), &Validators::default())
            .await
            .unwrap();
        let Fetched::Modified {
            body,
            validators,
            max_age,
        } = first
        else {
            panic!("{path}: expected a body")
        };
        assert_eq!(body, FEED.as_bytes());
        if path == "/etag" {
            assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
            assert_eq!(max_age, Some(Duration::from_secs(600)));
        } else {
            assert!(validators.last_modified.is_some());
        }
        let second = fetcher
            .fetch(&format!("{base}{path}"), &validators)
            .await
            .unwrap();
        assert!(
            matches!(second, Fetched::NotModified { .. }),
            "{path}: {second:?}"
        );
    }
    assert_eq!(
        bodies_sent.load(Ordering::Relaxed),
        1,
        "the unchanged feed was sent once"
    );
}

#[tokio::test]
async fn errors_slowness_size_redirects_and_compression() {
    let router = Router::new()
        .route(
            "/busy",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "120")],
                    "slow down",
                )
            }),
        )
        .route(
            "/down",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "30")],
                    "",
                )
            }),
        )
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                FEED
            }),
        )
        .route("/huge", get(|| async { "x".repeat(2 << 20) }))
        .route(
            "/huge-chunked",
            get(|| async {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 64 * 1024]));
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route(
            "/moved",
            get(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/feed")]) }),
        )
        .route("/feed", get(|| async { FEED }))
        .route(
            "/gzip",
            get(|| async {
                (
                    [
                        (header::CONTENT_ENCODING, "gzip"),
                        (header::CONTENT_TYPE, "application/rss+xml"),
                    ],
                    gzip(FEED.as_bytes()),
                )
                    .into_response()
            }),
        );
    let base = serve(router).await;
    let fetcher = Fetcher::new(Duration::from_millis(800), 1 << 20).unwrap();
    let fetch = |path: &str| {
        let fetcher = fetcher.clone();
        let url = format!("{base}{path}");
        async move { fetcher.fetch(&url, &Validators::default()).await }
    };
    assert_eq!(
        fetch("/busy").await.unwrap_err(),
        FetchError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(
        fetch("/down").await.unwrap_err(),
        FetchError::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(
        fetch("/gone").await.unwrap_err(),
        FetchError::Status {
            status: 404,
            retry_after: None
        }
    );
    let started = std::time::Instant::now();
    assert!(matches!(
        fetch("/slow").await.unwrap_err(),
        FetchError::Timeout(_)
    ));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout held"
    );
    assert_eq!(
        fetch("/huge").await.unwrap_err(),
        FetchError::TooLarge { limit: 1 << 20 }
    );
    assert_eq!(
        fetch("/huge-chunked").await.unwrap_err(),
        FetchError::TooLarge { limit: 1 << 20 },
        "no length, still bounded"
    );
    for path in ["/moved", "/gzip"] {
        let Fetched::Modified { body, .. } = fetch(path).await.unwrap() else {
            panic!("{path}")
        };
        let channel = tidings::protocol::ChannelId::new("world").unwrap();
        let feed = parse_feed(
            &body,
            &format!("{base}{path}"),
            &channel,
            chrono::Utc::now(),
        )
        .unwrap();
        assert_eq!(feed.items[0].title, "Hello", "{path}");
    }
    let unreachable = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(matches!(
        fetcher
            .fetch(&format!("http://{unreachable}/"), &Validators::default())
            .await
            .unwrap_err(),
        FetchError::Network(_)
    ));
    assert!(matches!(
        fetcher
            .fetch("ftp://x/feed", &Validators::default())
            .await
            .unwrap_err(),
        FetchError::Scheme(_)
    ));
    assert!(matches!(
        fetcher
            .fetch("file:///nonexistent/feed.xml", &Validators::default())
            .await
            .unwrap_err(),
        FetchError::File(_)
    ));
}

#[tokio::test]
async fn a_response_header_ok_but_not_a_feed_is_a_parse_error() {
    let router = Router::new().route(
        "/html",
        get(|| async {
            Response::new(axum::body::Body::from(
                "<html><body>Moved to our app!</body></html>",
            ))
        }),
    );
    let base = serve(router).await;
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let Fetched::Modified { body, .. } = fetcher
        .fetch(&format!("{base}/html"), &Validators::default())
        .await
        .unwrap()
    else {
        panic!()
    };
    let channel = tidings::protocol::ChannelId::new("world").unwrap();
    assert!(parse_feed(&body, &base, &channel, chrono::Utc::now()).is_err());
}

#[tokio::test]
async fn a_brotli_encoded_feed_is_decoded_and_parses() {
    let encoded = brotli(FEED.as_bytes());
    assert!(!encoded.is_empty() && encoded != FEED.as_bytes());
    let accept_encoding = Arc::new(std::sync::Mutex::new(String::new()));
    let seen = Arc::clone(&accept_encoding);
    let router = Router::new().route(
        "/br",
        get(move |headers: HeaderMap| {
            let seen = Arc::clone(&seen);
            let encoded = encoded.clone();
            async move {
                *seen.lock().unwrap() = headers
                    .get(header::ACCEPT_ENCODING)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (
                    [
                        (header::CONTENT_ENCODING, "br"),
                        (header::CONTENT_TYPE, "application/rss+xml"),
                    ],
                    encoded,
                )
                    .into_response()
            }
        }),
    );
    let base = serve(router).await;
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let Fetched::Modified { body, .. } = fetcher
        .fetch(&format!("{base}/br"), &Validators::default())
        .await
        .unwrap()
    else {
        panic!("expected a body")
    };
    assert!(
        accept_encoding.lock().unwrap().contains("br"),
        "brotli was offered: {:?}",
        accept_encoding.lock().unwrap()
    );
    assert_eq!(body, FEED.as_bytes(), "decoded");
    let channel = tidings::protocol::ChannelId::new("world").unwrap();
    let feed = parse_feed(&body, &base, &channel, chrono::Utc::now()).unwrap();
    assert_eq!(feed.items[0].title, "Hello");
}

/// Headers at once, then a body that trickles in for longer than the whole-fetch timeout: a
/// per-read timeout would never fire, and the half a feed must not become items.
#[tokio::test]
async fn a_body_that_trickles_past_the_timeout_fails_with_a_timeout_and_no_items() {
    let router = Router::new().route(
        "/trickle",
        get(|| async {
            let start = FEED.as_bytes()[..FEED.len() / 2].to_vec();
            let rest = FEED.as_bytes()[FEED.len() / 2..].to_vec();
            let chunks = futures_util::stream::iter([start])
                .chain(futures_util::stream::iter(rest).then(|byte| async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    vec![byte]
                }))
                .map(Ok::<_, std::io::Error>);
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                axum::body::Body::from_stream(chunks),
            )
        }),
    );
    let base = serve(router).await;
    let url = format!("{base}/trickle");
    let fetcher = Fetcher::new(Duration::from_millis(800), 1 << 20).unwrap();
    let started = std::time::Instant::now();
    let error = fetcher
        .fetch(&url, &Validators::default())
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::Timeout(0), "800 ms shows as 0 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout covers the body: {:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("did not answer within"));
    // Through the poller: a failed poll, nothing appended.
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteLog::open(&dir.path().join("events.sqlite3"), None).unwrap();
    let channel = tidings::protocol::ChannelId::new("world").unwrap();
    let mut poller = SourcePoller::new(
        channel.clone(),
        SourceConfig {
            url,
            name: None,
            poll_interval: Duration::from_secs(900),
        },
    );
    let (result, _) = poller.poll(&fetcher, &log).await;
    assert!(result.unwrap_err().contains("did not answer within"));
    assert!(log.entries(&channel, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_feed_server_sees_our_user_agent() {
    let user_agent = Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = Arc::clone(&user_agent);
    let router = Router::new().route(
        "/feed",
        get(move |headers: HeaderMap| {
            let seen = Arc::clone(&seen);
            async move {
                *seen.lock().unwrap() = headers
                    .get(header::USER_AGENT)
                    .map(|v| v.to_str().unwrap().to_owned());
                FEED
            }
        }),
    );
    let base = serve(router).await;
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    fetcher
        .fetch(&format!("{base}/feed"), &Validators::default())
        .await
        .unwrap();
    let user_agent = user_agent.lock().unwrap().clone().unwrap();
    assert_eq!(user_agent, USER_AGENT);
    assert!(
        user_agent.starts_with(concat!("Tidings/", env!("CARGO_PKG_VERSION"), " (")),
        "{user_agent}"
    );
}
