//! The client connection against real servers on loopback: a scripted raw-TCP SSE server
//! (exact bytes, drops, statuses, silence), and the Tidings server restarted mid-stream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tidings::client::connection::{
    self, ConnectionConfig, ConnectionEvent, ConnectionHandle, ConnectionState,
};
use tidings::client::servers::ServerList;
use tidings::sse::MessageEvent;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

/// What one scripted connection does.
#[derive(Clone)]
enum Step {
    /// Write these bytes.
    Send(&'static [u8]),
    /// Wait.
    Pause(Duration),
    /// Close the connection.
    Close,
    /// Keep the connection open and silent until the client goes away.
    Hang,
}

const OK_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";

/// A raw-TCP server playing one script per accepted connection, recording each request head
/// and when it arrived.
struct Scripted {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Scripted {
    async fn start(scripts: Vec<Vec<Step>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        tokio::spawn(async move {
            for script in scripts {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = socket.read(&mut buffer).await else {
                        break;
                    };
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buffer[..n]);
                }
                log.lock()
                    .unwrap()
                    .push((Instant::now(), String::from_utf8_lossy(&head).into_owned()));
                for step in script {
                    match step {
                        Step::Send(bytes) => {
                            if socket.write_all(bytes).await.is_err() {
                                break;
                            }
                        }
                        Step::Pause(wait) => tokio::time::sleep(wait).await,
                        Step::Close => break,
                        Step::Hang => {
                            let _ = socket.read(&mut buffer).await;
                        }
                    }
                }
                drop(socket);
            }
        });
        Self { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    fn requests(&self) -> Vec<(Instant, String)> {
        self.requests.lock().unwrap().clone()
    }
}

fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn quick_config(url: String) -> ConnectionConfig {
    let mut config = ConnectionConfig::new(url);
    config.default_retry = Duration::from_millis(50);
    config.max_backoff = Duration::from_secs(5);
    config
}

fn start(config: ConnectionConfig) -> (ConnectionHandle, mpsc::Receiver<ConnectionEvent>) {
    connection::spawn(
        config,
        connection::http_client(Duration::from_secs(5)).unwrap(),
    )
}

/// Collects reports until `stop` says so (or the wait runs out).
async fn collect(
    events: &mut mpsc::Receiver<ConnectionEvent>,
    stop: impl Fn(&[ConnectionEvent]) -> bool,
) -> Vec<ConnectionEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !stop(&seen) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => seen.push(event),
            Ok(None) => break,
            Err(_) => panic!("timed out; seen so far: {seen:#?}"),
        }
    }
    seen
}

/// Collects reports until a state satisfies `wanted`.
async fn until_state(
    events: &mut mpsc::Receiver<ConnectionEvent>,
    wanted: impl Fn(&ConnectionState) -> bool,
) -> Vec<ConnectionEvent> {
    collect(events, |seen| states(seen).iter().any(&wanted)).await
}

fn messages(events: &[ConnectionEvent]) -> Vec<MessageEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            ConnectionEvent::Message(m) => Some(m.clone()),
            ConnectionEvent::State(_) => None,
        })
        .collect()
}

fn states(events: &[ConnectionEvent]) -> Vec<ConnectionState> {
    events
        .iter()
        .filter_map(|e| match e {
            ConnectionEvent::State(s) => Some(s.clone()),
            ConnectionEvent::Message(_) => None,
        })
        .collect()
}

#[tokio::test]
async fn retry_is_honoured_and_last_event_id_is_sent_on_reconnect() {
    let server = Scripted::start(vec![
        // Exact chunks: a BOM, a CRLF split across writes, a CR at the end of a write.
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"\xEF\xBB"),
            Step::Pause(Duration::from_millis(20)),
            Step::Send(b"\xBFretry: 300\r"),
            Step::Pause(Duration::from_millis(20)),
            Step::Send(b"\nid: 7\r\ndata: first\r"),
            Step::Pause(Duration::from_millis(20)),
            Step::Send(b"\n\r\nevent: partial\ndata: lost"),
            Step::Close,
        ],
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"data: second\n\n"),
            Step::Hang,
        ],
    ])
    .await;
    let (handle, mut events) = start(quick_config(server.url()));
    let seen = collect(&mut events, |seen| messages(seen).len() >= 2).await;
    let got = messages(&seen);
    assert_eq!(
        (got[0].data.as_str(), got[0].last_event_id.as_str()),
        ("first", "7")
    );
    assert_eq!(
        (got[1].data.as_str(), got[1].last_event_id.as_str()),
        ("second", "7")
    );
    let requests = server.requests();
    assert_eq!(header(&requests[0].1, "last-event-id"), None);
    assert_eq!(header(&requests[1].1, "last-event-id"), Some("7"));
    assert_eq!(header(&requests[1].1, "accept"), Some("text/event-stream"));
    // The server asked for 300 ms; the first connection was healthy, so that is the wait.
    let gap = requests[1].0 - requests[0].0;
    assert!(
        gap >= Duration::from_millis(200) && gap < Duration::from_millis(1500),
        "{gap:?}"
    );
    assert!(
        states(&seen)
            .iter()
            .any(|s| matches!(s, ConnectionState::Retrying { .. }))
    );
    handle.close();
}

#[tokio::test]
async fn backoff_grows_on_failures_then_resets_after_a_good_connection() {
    let error = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";
    let server = Scripted::start(vec![
        vec![Step::Send(error)],
        vec![Step::Send(error)],
        vec![Step::Send(error)],
        vec![Step::Send(error)],
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"id: 1\ndata: ok\n\n"),
            Step::Close,
        ],
        vec![Step::Send(OK_HEAD), Step::Hang],
    ])
    .await;
    let mut config = quick_config(server.url());
    config.default_retry = Duration::from_millis(100);
    let (handle, mut events) = start(config);
    let seen = collect(&mut events, |seen| {
        seen.iter()
            .filter(|e| matches!(e, ConnectionEvent::State(ConnectionState::Live { .. })))
            .count()
            >= 2
    })
    .await;
    let delays: Vec<Duration> = states(&seen)
        .into_iter()
        .filter_map(|s| match s {
            ConnectionState::Retrying { delay, .. } => Some(delay),
            _ => None,
        })
        .collect();
    // Four failures: waits in [50,100], [100,200], [200,400], [400,800] ms; then after the
    // healthy connection, back to about the base.
    assert_eq!(delays.len(), 5, "{delays:?}");
    for (failure, delay) in delays.iter().take(4).enumerate() {
        let high = Duration::from_millis(100 << failure);
        assert!(
            *delay >= high / 2 && *delay <= high,
            "failure {failure}: {delay:?}"
        );
    }
    assert!(delays[3] > delays[0]);
    assert!(
        delays[4] <= Duration::from_millis(100),
        "reset after a good connection: {:?}",
        delays[4]
    );
    let requests = server.requests();
    assert_eq!(header(&requests[5].1, "last-event-id"), Some("1"));
    handle.close();
}

#[tokio::test]
async fn no_content_stops_for_good() {
    let server = Scripted::start(vec![vec![Step::Send(b"HTTP/1.1 204 No Content\r\n\r\n")]]).await;
    let (_handle, mut events) = start(quick_config(server.url()));
    let seen = until_state(&mut events, |s| matches!(s, ConnectionState::Closed { .. })).await;
    assert!(
        matches!(states(&seen).last(), Some(ConnectionState::Closed { reason }) if reason.contains("204"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 1, "no reconnect after 204");
    assert!(events.recv().await.is_none(), "the connection task ended");
}

#[tokio::test]
async fn unauthorized_stops_with_the_servers_reason() {
    let body = br#"{"error":{"code":"unauthorized","message":"token revoked"}}"#;
    let mut response =
        b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ".to_vec();
    response.extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
    response.extend_from_slice(body);
    let response: &'static [u8] = Box::leak(response.into_boxed_slice());
    let server = Scripted::start(vec![vec![Step::Send(response)]]).await;
    let (_handle, mut events) = start(quick_config(server.url()));
    let seen = until_state(&mut events, |s| {
        matches!(s, ConnectionState::Unauthorized { .. })
    })
    .await;
    assert!(
        matches!(
            states(&seen).last(),
            Some(ConnectionState::Unauthorized { status: 401, reason, .. }) if reason == "token revoked"
        ),
        "{seen:#?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 1, "no reconnect after 401");
}

#[tokio::test]
async fn watchdog_fires_on_a_silent_half_open_connection() {
    let server = Scripted::start(vec![
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"id: 3\ndata: then silence\n\n"),
            Step::Hang,
        ],
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"data: back\n\n"),
            Step::Hang,
        ],
    ])
    .await;
    let mut config = quick_config(server.url());
    config.idle_timeout = Some(Duration::from_millis(400));
    let (handle, mut events) = start(config);
    let started = Instant::now();
    let seen = collect(&mut events, |seen| messages(seen).len() >= 2).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(
        states(&seen).iter().any(
            |s| matches!(s, ConnectionState::Retrying { reason, .. } if reason.contains("no data"))
        ),
        "{seen:#?}"
    );
    assert_eq!(header(&server.requests()[1].1, "last-event-id"), Some("3"));
    handle.close();
}

#[tokio::test]
async fn retry_after_is_honoured_and_reconnect_now_skips_the_wait() {
    let busy = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 30\r\ncontent-length: 0\r\n\r\n";
    let server = Scripted::start(vec![
        vec![Step::Send(busy)],
        vec![Step::Send(OK_HEAD), Step::Send(b"data: in\n\n"), Step::Hang],
    ])
    .await;
    let (handle, mut events) = start(quick_config(server.url()));
    let seen = until_state(&mut events, |s| {
        matches!(s, ConnectionState::Retrying { .. })
    })
    .await;
    assert!(
        matches!(states(&seen).last(), Some(ConnectionState::Retrying { delay, .. }) if *delay == Duration::from_secs(30))
    );
    // The network came back: no need to sit out the 30 s.
    handle.reconnect_now();
    let seen = collect(&mut events, |seen| !messages(seen).is_empty()).await;
    assert_eq!(messages(&seen)[0].data, "in");
    handle.close();
}

#[tokio::test]
async fn a_refused_connection_is_offline_and_not_a_stream_is_retried() {
    // Nothing listens on this port.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (handle, mut events) = start(quick_config(format!("http://{free}/x")));
    let seen = until_state(&mut events, |s| {
        matches!(s, ConnectionState::Offline { .. })
    })
    .await;
    assert!(matches!(
        states(&seen).last(),
        Some(ConnectionState::Offline { .. })
    ));
    handle.close();

    let html = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nhi";
    let server = Scripted::start(vec![vec![Step::Send(html)]]).await;
    let (handle, mut events) = start(quick_config(server.url()));
    let seen = until_state(&mut events, |s| {
        matches!(s, ConnectionState::Retrying { .. })
    })
    .await;
    assert!(
        matches!(states(&seen).last(), Some(ConnectionState::Retrying { reason, .. }) if reason.contains("not an event stream"))
    );
    handle.close();
}

#[tokio::test]
async fn an_oversized_event_ends_the_connection_instead_of_growing() {
    let mut big = b"data: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 4096));
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    let server = Scripted::start(vec![
        vec![Step::Send(OK_HEAD), Step::Send(big), Step::Hang],
        vec![Step::Send(OK_HEAD), Step::Hang],
    ])
    .await;
    let mut config = quick_config(server.url());
    config.limits.max_line_bytes = 1024;
    let (handle, mut events) = start(config);
    let seen = until_state(&mut events, |s| {
        matches!(s, ConnectionState::Retrying { .. })
    })
    .await;
    assert!(
        matches!(states(&seen).last(), Some(ConnectionState::Retrying { reason, .. }) if reason.contains("longer than 1024"))
    );
    handle.close();
}

#[tokio::test]
async fn tidings_server_restart_mid_stream_loses_nothing_and_doubles_nothing() {
    let extra = "[stream]\nretry_millis = 200\nsnapshot_items = 0\n";
    let server = TestServer::start(extra).await;
    let addr = server.addr;
    let url = tidings::client::stream_url(
        &server.base,
        &[tidings::protocol::ChannelId::new("world").unwrap()],
        &[],
    );
    let (handle, mut events) = start(ConnectionConfig::new(url));
    collect(&mut events, |seen| {
        states(seen).iter().any(ConnectionState::is_live)
    })
    .await;
    let mut published = Vec::new();
    for n in 0..20 {
        published.push(publish(&server.base, "world", &format!("before {n}")).await);
    }
    let (_, dir) = server.stop().await;
    // Events published while the client is away (server restarted on the same port).
    let server = TestServer::start_at(dir, addr, extra).await;
    for n in 0..20 {
        published.push(publish(&server.base, "world", &format!("after {n}")).await);
    }
    let seen = collect(&mut events, |seen| {
        messages(seen)
            .iter()
            .filter(|m| m.event_type == "item")
            .count()
            >= published.len()
    })
    .await;
    let ids: Vec<String> = messages(&seen)
        .into_iter()
        .filter(|m| m.event_type == "item")
        .map(|m| m.last_event_id)
        .collect();
    assert_eq!(
        ids, published,
        "every event once, in order, across the restart"
    );
    // Nothing more trickles in.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                if let Some(ConnectionEvent::Message(m)) = events.recv().await
                    && m.event_type == "item"
                {
                    return m;
                }
            }
        })
        .await
        .is_err()
    );
    handle.close();
}

#[tokio::test]
async fn a_feed_starts_from_its_offline_cache_and_resumes_where_it_left_off() {
    use tidings::client::cache::Cache;
    use tidings::client::feed::{self, FeedConfig, FeedUpdate};
    use tidings::client::store::Change;

    let extra = "[stream]\nretry_millis = 200\n";
    let server = TestServer::start(extra).await;
    let addr = server.addr;
    let cache_dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = FeedConfig::new(ServerList::parse(&server_base(addr)).unwrap());
        config.channels = vec![tidings::protocol::ChannelId::new("world").unwrap()];
        config.cache = Some(Cache::new(cache_dir.path().join("cache.json")));
        config
    };
    let http = connection::http_client(Duration::from_secs(5)).unwrap();
    let mut started = feed::start(config(), http.clone()).await;
    assert!(
        started
            .initial
            .channel(&tidings::protocol::ChannelId::new("world").unwrap())
            .is_none()
    );
    // The (empty) snapshot ends with the switch to live; what is published after it is news.
    loop {
        let update = tokio::time::timeout(WAIT, started.updates.recv()).await;
        if matches!(update.unwrap().unwrap(), FeedUpdate::Live) {
            break;
        }
    }
    for n in 0..3 {
        publish(&server.base, "world", &format!("cached {n}")).await;
    }
    let mut added = 0;
    while added < 3 {
        match tokio::time::timeout(WAIT, started.updates.recv())
            .await
            .unwrap()
            .unwrap()
        {
            FeedUpdate::Changes { changes, .. } => {
                added += changes
                    .iter()
                    .filter(|c| matches!(c, Change::ItemAdded { .. }))
                    .count();
            }
            FeedUpdate::Live => panic!("a second switch to live on one connection"),
            FeedUpdate::Connection(_) | FeedUpdate::Warning(_) => {}
        }
    }
    started.handle.close();
    tokio::time::timeout(WAIT, started.task)
        .await
        .unwrap()
        .unwrap();
    let (_, dir) = server.stop().await;

    // The server is down: the cached items are there at once, before any network.
    let again = feed::start(config(), http).await;
    let world = again
        .initial
        .channel(&tidings::protocol::ChannelId::new("world").unwrap())
        .unwrap();
    assert_eq!(world.items.len(), 3);
    again.handle.close();
    tokio::time::timeout(WAIT, again.task)
        .await
        .unwrap()
        .unwrap();
    // The server comes back and gets an item before the client does; only what is new arrives
    // (the stream resumed after the cached id).
    let server = TestServer::start_at(dir, addr, extra).await;
    publish(&server.base, "world", "fresh").await;
    let mut again = feed::start(config(), connection::http_client(WAIT).unwrap()).await;
    // It was published while this client was away, so it comes in the replay: before the
    // switch to live, as history, not news.
    let mut new_items = Vec::new();
    loop {
        let update = tokio::time::timeout(WAIT, again.updates.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(update, FeedUpdate::Live) {
            break;
        }
        if let FeedUpdate::Changes { changes, store } = update {
            for change in changes {
                match change {
                    Change::ItemAdded { key, .. } => new_items.push(key),
                    Change::ItemUpdated { .. } | Change::ItemRemoved { .. } => {
                        panic!("cached items touched: {change:?}")
                    }
                    _ => {}
                }
            }
            assert!(
                store
                    .channel(&tidings::protocol::ChannelId::new("world").unwrap())
                    .unwrap()
                    .items
                    .len()
                    <= 4
            );
        }
    }
    assert_eq!(new_items.len(), 1);
    again.handle.close();
}

/// A counter from `/metrics`.
async fn counter(base: &str, name: &str) -> u64 {
    metrics(base)
        .await
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_cache_belongs_to_its_identity_and_a_fresh_start_asks_for_a_snapshot() {
    use tidings::client::cache::{Cache, Loaded};
    use tidings::client::feed::{self, FeedConfig, FeedUpdate};
    use tidings::protocol::ChannelId;

    let server = TestServer::start("").await;
    let cache_dir = tempfile::tempdir().unwrap();
    let world = ChannelId::new("world").unwrap();
    // The embedded server listens on a new port each run: its cache is kept under a name.
    let config = |identity: &str, resume: bool| {
        let mut config = FeedConfig::new(ServerList::parse(&server.base).unwrap());
        config.channels = vec![world.clone()];
        config.cache = Some(Cache::new(cache_dir.path().join("cache.json")));
        config.cache_identity = identity.to_owned();
        config.resume = resume;
        config
    };
    let http = connection::http_client(Duration::from_secs(5)).unwrap();
    let mut first = feed::start(config("embedded", true), http.clone()).await;
    publish(&server.base, "world", "kept").await;
    loop {
        let update = tokio::time::timeout(WAIT, first.updates.recv())
            .await
            .unwrap()
            .unwrap();
        if let FeedUpdate::Changes { store, .. } = update
            && store.channel(&world).is_some_and(|c| !c.items.is_empty())
        {
            break;
        }
    }
    first.handle.close();
    tokio::time::timeout(WAIT, first.task)
        .await
        .unwrap()
        .unwrap();

    // It was saved under the name, not the URL: another identity (or the URL) does not get it.
    let cache = Cache::new(cache_dir.path().join("cache.json"));
    assert!(matches!(cache.load("embedded"), Loaded::Cache(_)));
    assert!(!matches!(cache.load("another-server"), Loaded::Cache(_)));
    assert!(!matches!(cache.load(&server.base), Loaded::Cache(_)));

    // The same identity shows it at once; without resume it connects for a fresh snapshot
    // (a new weather cell needs the cell's current report, which a replay would not carry).
    let snapshotted = counter(&server.base, "tidings_events_snapshotted_total").await;
    let mut fresh = feed::start(config("embedded", false), http).await;
    assert_eq!(fresh.initial.channel(&world).unwrap().items.len(), 1);
    loop {
        let update = tokio::time::timeout(WAIT, fresh.updates.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(
            update,
            FeedUpdate::Connection(connection::ConnectionState::Live { .. })
        ) {
            break;
        }
    }
    let started = std::time::Instant::now();
    while counter(&server.base, "tidings_events_snapshotted_total").await <= snapshotted {
        assert!(started.elapsed() < WAIT, "no snapshot was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fresh.handle.close();
}

fn server_base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

// Several servers (issue #10 point 5): nodes of one cluster, left for the next one when
// unreachable, resumed there with the same Last-Event-ID.

/// An address nothing listens on.
fn dead_url() -> String {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    format!("http://{free}/events")
}

/// The servers the states name, by index, in order (consecutive repeats folded).
fn servers_in(events: &[ConnectionEvent]) -> Vec<usize> {
    let mut servers: Vec<usize> = Vec::new();
    for state in states(events) {
        if let Some(server) = state.server()
            && servers.last() != Some(&server.index)
        {
            servers.push(server.index);
        }
    }
    servers
}

#[tokio::test]
async fn each_kind_of_failure_moves_on_to_the_next_server_at_once() {
    let failures: Vec<(&str, Vec<Step>)> = vec![
        (
            "500",
            vec![Step::Send(
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
            )],
        ),
        (
            // A node shutting down asks for 30 s: the next node does not have to wait.
            "503 with Retry-After",
            vec![Step::Send(
                b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 30\r\ncontent-length: 0\r\n\r\n",
            )],
        ),
        (
            "not an event stream",
            vec![Step::Send(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nhi",
            )],
        ),
        (
            "a stream broken before any event",
            vec![Step::Send(OK_HEAD), Step::Close],
        ),
    ];
    let mut cases: Vec<(&str, String, Option<Scripted>)> = vec![("refused", dead_url(), None)];
    for (name, script) in failures {
        let failing = Scripted::start(vec![script]).await;
        cases.push((name, failing.url(), Some(failing)));
    }
    for (name, first, _keep) in cases {
        let second = Scripted::start(vec![vec![
            Step::Send(OK_HEAD),
            Step::Send(b"id: 9-0\ndata: from the second\n\n"),
            Step::Hang,
        ]])
        .await;
        // A long base retry: any backoff before the second server would show.
        let mut config = ConnectionConfig::with_urls(vec![first, second.url()]);
        config.default_retry = Duration::from_secs(20);
        let started = Instant::now();
        let (handle, mut events) = start(config);
        let seen = collect(&mut events, |seen| !messages(seen).is_empty()).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: waited {:?} before the second server",
            started.elapsed()
        );
        assert_eq!(messages(&seen)[0].data, "from the second", "{name}");
        assert_eq!(servers_in(&seen), [0, 1], "{name}: {seen:#?}");
        let moved_on = states(&seen).into_iter().find_map(|s| match s {
            ConnectionState::Retrying { delay, server, .. }
            | ConnectionState::Offline { delay, server, .. } => Some((delay, server.index)),
            _ => None,
        });
        assert_eq!(moved_on, Some((Duration::ZERO, 0)), "{name}: {seen:#?}");
        assert!(
            states(&seen).iter().any(|s| matches!(
                s,
                ConnectionState::Live { server } if server.index == 1 && server.count == 2
            )),
            "{name}: the live state names the second server: {seen:#?}"
        );
        handle.close();
    }
}

#[tokio::test]
async fn the_next_server_is_asked_to_resume_after_the_same_last_event_id() {
    // The first node streams two events and goes away for good (its listener closes after
    // this one connection); the second records what it was asked.
    let first = Scripted::start(vec![vec![
        Step::Send(OK_HEAD),
        Step::Send(
            b"retry: 100\nid: 1795748063693-0\ndata: one\n\nid: 1795748063700-3\ndata: two\n\n",
        ),
        Step::Close,
    ]])
    .await;
    let second = Scripted::start(vec![vec![
        Step::Send(OK_HEAD),
        Step::Send(b"id: 1795748063709-0\ndata: three\n\n"),
        Step::Hang,
    ]])
    .await;
    let (handle, mut events) = start(ConnectionConfig::with_urls(vec![first.url(), second.url()]));
    let seen = collect(&mut events, |seen| messages(seen).len() >= 3).await;
    let data: Vec<String> = messages(&seen).into_iter().map(|m| m.data).collect();
    assert_eq!(data, ["one", "two", "three"]);
    let asked = second.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        header(&asked[0].1, "last-event-id"),
        Some("1795748063700-3"),
        "resumed exactly after the last event the first node sent"
    );
    // The healthy stream's end brought it back to the first node (refused now), and only then
    // to the second.
    assert_eq!(servers_in(&seen), [0, 1], "{seen:#?}");
    handle.close();
}

#[tokio::test]
async fn a_silent_server_is_left_for_the_next_by_the_watchdog() {
    let first = Scripted::start(vec![vec![
        Step::Send(OK_HEAD),
        Step::Send(b"id: 3\ndata: then silence\n\n"),
        Step::Hang,
    ]])
    .await;
    let second = Scripted::start(vec![vec![
        Step::Send(OK_HEAD),
        Step::Send(b"data: back\n\n"),
        Step::Hang,
    ]])
    .await;
    let mut config = ConnectionConfig::with_urls(vec![first.url(), second.url()]);
    config.idle_timeout = Some(Duration::from_millis(400));
    // Were it to wait the retry time before the next server, the test would notice.
    config.default_retry = Duration::from_secs(20);
    let (handle, mut events) = start(config);
    let seen = collect(&mut events, |seen| messages(seen).len() >= 2).await;
    assert!(
        states(&seen).iter().any(|s| matches!(
            s,
            ConnectionState::Retrying { delay, reason, server }
                if delay.is_zero() && reason.contains("no data") && server.index == 0
        )),
        "{seen:#?}"
    );
    assert_eq!(header(&second.requests()[0].1, "last-event-id"), Some("3"));
    handle.close();
}

#[tokio::test]
async fn a_working_server_is_kept_when_the_first_comes_back() {
    // The first node fails once, then would work; the second works. After the second's
    // stream ends (as a restart or a slow-subscriber drop would end it), the client comes
    // back to the second, not to the first.
    let first = Scripted::start(vec![
        vec![Step::Send(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
        )],
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"data: from the first\n\n"),
            Step::Hang,
        ],
    ])
    .await;
    let second = Scripted::start(vec![
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"retry: 50\nid: 1\ndata: b1\n\n"),
            Step::Close,
        ],
        vec![
            Step::Send(OK_HEAD),
            Step::Send(b"id: 2\ndata: b2\n\n"),
            Step::Hang,
        ],
    ])
    .await;
    let (handle, mut events) = start(ConnectionConfig::with_urls(vec![first.url(), second.url()]));
    let seen = collect(&mut events, |seen| messages(seen).len() >= 2).await;
    let data: Vec<String> = messages(&seen).into_iter().map(|m| m.data).collect();
    assert_eq!(data, ["b1", "b2"]);
    assert_eq!(first.requests().len(), 1, "no flapping back to the first");
    assert_eq!(header(&second.requests()[1].1, "last-event-id"), Some("1"));
    handle.close();
}

#[tokio::test]
async fn only_after_every_server_failed_does_the_client_wait() {
    let (handle, mut events) = start({
        let mut config = ConnectionConfig::with_urls(vec![dead_url(), dead_url()]);
        config.default_retry = Duration::from_millis(200);
        config
    });
    let seen = collect(&mut events, |seen| {
        states(seen)
            .iter()
            .filter(|s| matches!(s, ConnectionState::Connecting { .. }))
            .count()
            >= 3
    })
    .await;
    let waits: Vec<(Duration, usize, String)> = states(&seen)
        .into_iter()
        .filter_map(|s| match s {
            ConnectionState::Offline {
                delay,
                server,
                reason,
            } => Some((delay, server.index, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 2, "{seen:#?}");
    assert_eq!((waits[0].0, waits[0].1), (Duration::ZERO, 0));
    let (delay, server, reason) = &waits[1];
    assert_eq!(*server, 1);
    assert!(
        *delay >= Duration::from_millis(100) && *delay <= Duration::from_millis(200),
        "a whole round failed: the backoff's first wait, {delay:?}"
    );
    assert!(
        reason.starts_with("all 2 servers failed; 127.0.0.1:"),
        "{reason}"
    );
    // The list wraps around: the third attempt is the first server again.
    let attempts: Vec<(u32, usize)> = states(&seen)
        .into_iter()
        .filter_map(|s| match s {
            ConnectionState::Connecting { attempt, server } => Some((attempt, server.index)),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [(1, 0), (2, 1), (3, 0)]);
    handle.close();
}

#[tokio::test]
async fn unauthorized_on_one_server_stops_there() {
    let refused = Scripted::start(vec![vec![Step::Send(
        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n",
    )]])
    .await;
    let other = Scripted::start(vec![vec![Step::Send(OK_HEAD), Step::Hang]]).await;
    let (_handle, mut events) = start(ConnectionConfig::with_urls(vec![
        refused.url(),
        other.url(),
    ]));
    let seen = until_state(&mut events, |s| {
        matches!(s, ConnectionState::Unauthorized { .. })
    })
    .await;
    assert!(matches!(
        states(&seen).last(),
        Some(ConnectionState::Unauthorized { status: 403, server, .. }) if server.index == 0
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        other.requests().is_empty(),
        "a refusal is reported, not routed around"
    );
}

#[tokio::test]
async fn a_feed_given_a_dead_and_a_live_server_follows_the_live_one() {
    use tidings::client::feed::{self, FeedConfig, FeedUpdate};
    use tidings::client::store::Change;

    let server = TestServer::start("").await;
    let dead = dead_url();
    let dead = dead.trim_end_matches("/events");
    let servers = ServerList::parse(&format!("{dead},{}", server.base)).unwrap();
    let mut config = FeedConfig::new(servers);
    config.channels = vec![tidings::protocol::ChannelId::new("world").unwrap()];
    config.cache = None;
    let mut started = feed::start(config, connection::http_client(WAIT).unwrap()).await;
    let mut live_on = None;
    while live_on.is_none() {
        let update = tokio::time::timeout(WAIT, started.updates.recv())
            .await
            .unwrap()
            .unwrap();
        if let FeedUpdate::Connection(ConnectionState::Live { server }) = update {
            live_on = Some(server);
        }
    }
    let live_on = live_on.unwrap();
    assert_eq!((live_on.index, live_on.count), (1, 2));
    assert_eq!(live_on.host, server.addr.to_string());
    publish(&server.base, "world", "Through the second server").await;
    loop {
        let update = tokio::time::timeout(WAIT, started.updates.recv())
            .await
            .unwrap()
            .unwrap();
        if let FeedUpdate::Changes { changes, .. } = update
            && changes
                .iter()
                .any(|c| matches!(c, Change::ItemAdded { .. }))
        {
            break;
        }
    }
    started.handle.close();
}
