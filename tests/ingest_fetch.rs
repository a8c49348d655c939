//! Fetching feeds from a real local HTTP server: conditional GET round trips, Retry-After,
//! timeouts, slow and oversized responses, redirects, gzip, and parsing what arrives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tidings::server::ingest::fetch::{FetchError, Fetched, Fetcher, Validators};
use tidings::server::ingest::map::parse_feed;

const FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Fixture</title>
<item><title>Hello</title><guid>1</guid><link>https://example.org/1</link></item></channel></rss>"#;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
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
