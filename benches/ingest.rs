//! Feed ingestion: `cargo bench --bench ingest`.
//!
//! 100 feeds of 50 items each, served by a local HTTP server (loopback only), polled by the
//! server's own `SourcePoller` into a real SQLite event log. Prints items ingested per second
//! (first poll of every feed, all new) and the bytes a server fetches per hour of 15-minute
//! polling when a quarter of the feeds change each round: with conditional GET and without.
//! Bytes are counted twice: feed bodies alone, and everything the feed server sends on the
//! wire (status lines, headers, bodies; a 304 costs its status line and headers), counted on
//! the server's sockets.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tidings::config::server::SourceConfig;
use tidings::protocol::ChannelId;
use tidings::server::ingest::feeds::SourcePoller;
use tidings::server::ingest::fetch::Fetcher;
use tidings::server::log::sqlite::SqliteLog;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const FEEDS: usize = 100;
const ITEMS: usize = 50;
/// Polls per hour at the default 15-minute interval.
const ROUNDS: usize = 4;
/// Feeds that publish something new between two polls.
const CHANGING: usize = 25;

#[derive(Default)]
struct Feeds {
    /// Per feed: (revision, document).
    documents: Mutex<HashMap<usize, (u64, String)>>,
    /// Feed bodies sent.
    bytes: AtomicU64,
    /// Everything sent on the wire: status lines, headers, bodies.
    wire_sent: Arc<AtomicU64>,
    /// Everything received on the wire: requests.
    wire_received: Arc<AtomicU64>,
    full: AtomicUsize,
    not_modified: AtomicUsize,
}

/// A connection that counts the bytes that cross it.
struct Counted {
    stream: tokio::net::TcpStream,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let read = buf.filled().len().saturating_sub(before);
            self.received.fetch_add(read as u64, Ordering::Relaxed);
        }
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = result {
            self.sent.fetch_add(written as u64, Ordering::Relaxed);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = result {
            self.sent.fetch_add(written as u64, Ordering::Relaxed);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The feed server's listener, handing out counted connections.
struct CountingListener {
    inner: tokio::net::TcpListener,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl axum::serve::Listener for CountingListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, address)) => {
                    let counted = Counted {
                        stream,
                        sent: Arc::clone(&self.sent),
                        received: Arc::clone(&self.received),
                    };
                    return (counted, address);
                }
                // Out of file descriptors and the like: wait, as axum's own listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

fn document(feed: usize, revision: u64) -> String {
    let mut items = String::new();
    for n in 0..ITEMS {
        // Revision r adds r newer items on top; the oldest fall off, like a real feed.
        let id = revision as usize + n;
        items.push_str(&format!(
            "<item><title>Feed {feed} story {id}: a headline of ordinary length for a news item</title>\
             <link>https://news{feed}.example/story/{id}</link><guid>urn:feed{feed}:{id}</guid>\
             <pubDate>Thu, 26 Nov 2026 {:02}:{:02}:00 GMT</pubDate>\
             <description>&lt;p&gt;A summary of story {id} with &lt;b&gt;some markup&lt;/b&gt; and enough words to look like \
             the first paragraph of a real article, as most feeds send it.&lt;/p&gt;</description></item>",
            (id / 60) % 24,
            id % 60
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {feed}</title>{items}</channel></rss>"
    )
}

async fn serve_feed(
    State(feeds): State<Arc<Feeds>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(feed) = name
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (revision, body) = {
        let documents = feeds
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match documents.get(&feed) {
            Some(entry) => entry.clone(),
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let etag = format!("\"{feed}-{revision}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        feeds.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    feeds.full.fetch_add(1, Ordering::Relaxed);
    feeds.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    (
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "application/rss+xml".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// Polls every source once, all at once as the server's tasks would after a start. Without
/// conditional GET, each round starts from fresh pollers that remember no validators.
async fn round(
    pollers: &mut Vec<SourcePoller>,
    sources: &[(ChannelId, SourceConfig)],
    fetcher: &Fetcher,
    log: &SqliteLog,
    conditional: bool,
) -> (usize, Duration) {
    if !conditional || pollers.is_empty() {
        *pollers = sources
            .iter()
            .map(|(channel, source)| SourcePoller::new(channel.clone(), source.clone()))
            .collect();
    }
    let started = Instant::now();
    let mut added = 0;
    let polls = pollers.iter_mut().map(|poller| poller.poll(fetcher, log));
    for (result, _) in futures_util::future::join_all(polls).await {
        match result {
            Ok(outcome) => added += outcome.added + outcome.updated,
            Err(error) => {
                eprintln!("poll failed: {error}");
                std::process::exit(1);
            }
        }
    }
    (added, started.elapsed())
}

/// What an hour of polling cost and gave.
struct Hour {
    body_bytes: u64,
    wire_sent: u64,
    wire_received: u64,
    full: usize,
    not_modified: usize,
    items: usize,
    first_poll_rate: f64,
}

async fn hour_of_polling(base: &str, feeds: &Arc<Feeds>, conditional: bool) -> Hour {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("no temporary directory: {error}");
            std::process::exit(1);
        }
    };
    let log = match SqliteLog::open(&dir.path().join("events.sqlite3"), None) {
        Ok(log) => log,
        Err(error) => {
            eprintln!("cannot open the log: {error}");
            std::process::exit(1);
        }
    };
    let fetcher = match Fetcher::new(Duration::from_secs(30), 8 << 20) {
        Ok(fetcher) => fetcher,
        Err(error) => {
            eprintln!("cannot build the fetcher: {error}");
            std::process::exit(1);
        }
    };
    {
        let mut documents = feeds
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for feed in 0..FEEDS {
            documents.insert(feed, (0, document(feed, 0)));
        }
    }
    let channel =
        |feed: usize| ChannelId::new(format!("c{}", feed % 8)).unwrap_or_else(|_| unreachable!());
    let sources: Vec<(ChannelId, SourceConfig)> = (0..FEEDS)
        .map(|feed| {
            let source = SourceConfig {
                url: format!("{base}/feed/{feed}.xml"),
                name: None,
                poll_interval: Duration::from_secs(900),
            };
            (channel(feed), source)
        })
        .collect();
    let mut pollers = Vec::new();
    // The first poll: everything is new.
    let (first_items, first_time) =
        round(&mut pollers, &sources, &fetcher, &log, conditional).await;
    let rate = first_items as f64 / first_time.as_secs_f64();
    // Then an hour: each round, a quarter of the feeds publish two new items.
    feeds.bytes.store(0, Ordering::Relaxed);
    feeds.wire_sent.store(0, Ordering::Relaxed);
    feeds.wire_received.store(0, Ordering::Relaxed);
    feeds.full.store(0, Ordering::Relaxed);
    feeds.not_modified.store(0, Ordering::Relaxed);
    let mut later_items = 0;
    for r in 0..ROUNDS {
        {
            let mut documents = feeds
                .documents
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for feed in (0..FEEDS).filter(|feed| (feed + r) % (FEEDS / CHANGING) == 0) {
                if let Some(entry) = documents.get_mut(&feed) {
                    entry.0 += 2;
                    entry.1 = document(feed, entry.0);
                }
            }
        }
        later_items += round(&mut pollers, &sources, &fetcher, &log, conditional)
            .await
            .0;
    }
    Hour {
        body_bytes: feeds.bytes.load(Ordering::Relaxed),
        wire_sent: feeds.wire_sent.load(Ordering::Relaxed),
        wire_received: feeds.wire_received.load(Ordering::Relaxed),
        full: feeds.full.load(Ordering::Relaxed),
        not_modified: feeds.not_modified.load(Ordering::Relaxed),
        items: later_items,
        first_poll_rate: rate,
    }
}

fn mib(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("no runtime: {error}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async {
        let feeds = Arc::new(Feeds::default());
        let router = Router::new().route("/feed/{name}", get(serve_feed)).with_state(Arc::clone(&feeds));
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("cannot bind: {error}");
                std::process::exit(1);
            }
        };
        let base = format!("http://{}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default());
        let listener = CountingListener {
            inner: listener,
            sent: Arc::clone(&feeds.wire_sent),
            received: Arc::clone(&feeds.wire_received),
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let document_kib = document(0, 0).len() as f64 / 1024.0;
        println!("{FEEDS} feeds x {ITEMS} items ({document_kib:.1} KiB each), polled every 15 min for an hour; {CHANGING} feeds change per round");
        println!("bodies: feed documents only; on the wire: what the feed server sent (status lines, headers, bodies) / what the poller sent (requests)\n");
        println!("| mode | items ingested/s (first poll, all new) | full fetches per hour | 304s per hour | bodies per hour | on the wire per hour, down / up | items appended per hour |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for conditional in [true, false] {
            let hour = hour_of_polling(&base, &feeds, conditional).await;
            println!(
                "| {} | {:.0} | {} | {} | {} | {} / {} | {} |",
                if conditional { "conditional GET" } else { "unconditional" },
                hour.first_poll_rate,
                hour.full,
                hour.not_modified,
                mib(hour.body_bytes),
                mib(hour.wire_sent),
                mib(hour.wire_received),
                hour.items,
            );
        }
    });
}
