//! Several `tidings-server` nodes on one real `redis-server`, with real nginx in front as the
//! load balancer (configured with `packaging/nginx/tidings-cluster.conf`, as deployed), all
//! on loopback: events cross nodes, a killed node loses no event for a client that moves to
//! another, each feed is fetched once per interval however many nodes run, and a Redis that
//! goes away and comes back (or crashes) is ridden out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::redis::RedisServer;
use common::*;
use serde_json::Value;

/// The ingest lease in these tests: a takeover comes within it.
const LEASE_SECS: u64 = 2;

/// One node: a real `tidings-server` process with its own data directory.
struct Node {
    server: ChildServer,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(redis: &RedisServer, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("server.toml");
        // Top-level settings first: TOML puts anything after a table into that table.
        std::fs::write(
            &config,
            format!(
                "broker_lease_secs = {LEASE_SECS}\n{}",
                config_text(&format!("[stream]\nheartbeat_secs = 1\n\n{extra}"))
            ),
        )
        .unwrap();
        let server = ChildServer::spawn_with(
            &config,
            &dir.path().join("data"),
            &["--broker", &redis.url()],
        );
        Self { server, _dir: dir }
    }

    fn base(&self) -> &str {
        &self.server.base
    }

    fn addr(&self) -> SocketAddr {
        self.base().trim_start_matches("http://").parse().unwrap()
    }

    async fn health(&self) -> (u16, Value) {
        health(self.base()).await
    }
}

async fn health(base: &str) -> (u16, Value) {
    let response = tokio::time::timeout(WAIT, reqwest::get(format!("{base}/healthz")))
        .await
        .expect("healthz timed out")
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The shipped configuration with these nodes between its markers and this port.
fn load_balancer_config(nodes: &[SocketAddr], port: u16) -> String {
    let shipped = include_str!("../packaging/nginx/tidings-cluster.conf");
    let (head, rest) = shipped.split_once("# nodes: begin").unwrap();
    let (_, tail) = rest.split_once("# nodes: end").unwrap();
    let servers: String = nodes
        .iter()
        .map(|addr| format!("    server {addr} max_fails=1 fail_timeout=5s;\n"))
        .collect();
    let text = format!("{head}{servers}{tail}");
    assert!(
        text.contains("    listen 80;"),
        "the shipped file listens on 80"
    );
    text.replace("    listen 80;", &format!("    listen 127.0.0.1:{port};"))
}

fn start_nginx(nodes: &[SocketAddr]) -> Nginx {
    Nginx::start("", |port| load_balancer_config(nodes, port))
}

/// Waits until `check` holds, polling; fails after `wait`.
async fn eventually<F, Fut>(wait: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + wait;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Titles of the `item` events, in order.
fn item_titles(events: &[SseEvent]) -> Vec<String> {
    titles(&items(events))
}

#[tokio::test]
async fn a_client_on_one_node_receives_what_is_published_on_another() {
    let redis = RedisServer::start();
    let a = Node::start(&redis, "");
    let b = Node::start(&redis, "");
    let mut stream = SseClient::connect(a.base(), "/v1/stream?channels=world", None).await;
    assert_eq!(stream.status, 200);
    let id = publish(b.base(), "world", "Published on B").await;
    let got = stream.until(|e| e.event == "item").await;
    let item = got.last().unwrap();
    assert_eq!(item.json()["title"], "Published on B");
    assert_eq!(item.id, id, "the same id on every node");
    // Both nodes tell the same story afterwards.
    for node in [&a, &b] {
        let listed = get_json(&format!("{}/v1/channels/world/items", node.base())).await;
        assert_eq!(listed["items"][0]["title"], "Published on B", "{listed}");
        let (status, health) = node.health().await;
        assert_eq!(status, 200);
        assert_eq!(health["log"], "redis");
        assert_eq!(health["last_event_id"], id.as_str());
    }
}

/// `kill -9` of the node a client is streaming from, in the middle of a burst of publishing:
/// through nginx the client lands on the other node, resumes with `Last-Event-ID`, and has
/// every event exactly once, in order.
#[tokio::test]
async fn a_node_killed_mid_burst_loses_no_event_for_a_client_behind_the_load_balancer() {
    let redis = RedisServer::start();
    let mut nodes = vec![Node::start(&redis, ""), Node::start(&redis, "")];
    let nginx = start_nginx(&nodes.iter().map(Node::addr).collect::<Vec<_>>());
    let path = "/v1/stream?channels=world";
    let mut stream = SseClient::connect(&nginx.base, path, None).await;
    assert_eq!(stream.status, 200);
    // Which node did nginx pick?
    let deadline = Instant::now() + WAIT;
    let mut on = None;
    while on.is_none() {
        assert!(Instant::now() < deadline, "the stream shows on no node");
        for (index, node) in nodes.iter().enumerate() {
            if node.health().await.1["subscribers"] == 1 {
                on = Some(index);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let victim = on.unwrap();
    let survivor = nodes[1 - victim].base().to_owned();

    let total = 300;
    let published = Arc::new(AtomicUsize::new(0));
    let publisher = {
        let published = Arc::clone(&published);
        tokio::spawn(async move {
            for n in 0..total {
                publish(&survivor, "world", &format!("burst {n}")).await;
                published.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    let mut received = Vec::new();
    let mut killed = false;
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.len() < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} arrived",
            received.len()
        );
        if !killed && published.load(Ordering::SeqCst) >= total / 3 {
            nodes[victim].server.kill_9();
            killed = true;
        }
        match stream.next_within(Duration::from_secs(5)).await {
            Some(event) if event.event == "item" => {
                received.push(event.json()["title"].as_str().unwrap().to_owned());
            }
            Some(_) => {}
            None if !stream.is_open() => {
                // The node went away: reconnect through nginx, as a client does, from the
                // last id it had.
                let last = stream.decoder.last_id().to_owned();
                stream = SseClient::connect(&nginx.base, path, Some(&last)).await;
                assert_eq!(stream.status, 200, "nginx moves the client to a live node");
                reconnects += 1;
            }
            None => {}
        }
    }
    publisher.await.unwrap();
    assert!(killed);
    assert_eq!(reconnects, 1, "one reconnect, to the surviving node");
    let expected: Vec<String> = (0..total).map(|n| format!("burst {n}")).collect();
    assert_eq!(received, expected, "every event exactly once, in order");
    assert!(
        stream
            .next_within(Duration::from_millis(500))
            .await
            .is_none_or(|e| e.event != "item"),
        "and nothing after"
    );
    drop(nodes);
}

/// A feed server counting its requests and whether they were conditional.
#[derive(Clone, Default)]
struct Upstream {
    requests: Arc<Mutex<Vec<(Instant, bool)>>>,
}

impl Upstream {
    async fn serve(&self) -> String {
        use axum::http::{HeaderMap, StatusCode, header};
        use axum::response::IntoResponse;
        let requests = Arc::clone(&self.requests);
        let router =
            axum::Router::new().route(
                "/feed.xml",
                axum::routing::get(move |headers: HeaderMap| {
                    let requests = Arc::clone(&requests);
                    async move {
                        let conditional = headers.get(header::IF_NONE_MATCH).is_some();
                        requests.lock().unwrap().push((Instant::now(), conditional));
                        if conditional {
                            return StatusCode::NOT_MODIFIED.into_response();
                        }
                        (
                        [(header::ETAG, "\"v1\""), (header::CONTENT_TYPE, "application/rss+xml")],
                        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Office</title>\
                         <item><title>Canteen opens at noon</title><guid>c1</guid></item>\
                         </channel></rss>",
                    )
                        .into_response()
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}/feed.xml")
    }

    fn since(&self, start: Instant) -> Vec<bool> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| *at >= start)
            .map(|(_, conditional)| *conditional)
            .collect()
    }

    async fn wait_first(&self) {
        let requests = Arc::clone(&self.requests);
        eventually(WAIT, "the first fetch", || {
            let requests = Arc::clone(&requests);
            async move { !requests.lock().unwrap().is_empty() }
        })
        .await;
    }
}

fn feed_config(url: &str) -> String {
    format!(
        "[ingest]\nenabled = true\n\n[[channels]]\nid = \"office\"\ntitle = \"Office\"\n\
         sources = [{{ url = \"{url}\", poll_secs = 1 }}]\n\n\
         [[channels]]\nid = \"world\"\ntitle = \"World\"\n"
    )
}

/// Polled every second, a feed is fetched about once a second with one, two or three nodes
/// (not once per node), and still after the node fetching it is killed; the node that takes
/// over sends the validators the first one stored (a 304, not a full download).
#[tokio::test]
async fn a_feed_is_fetched_once_per_interval_however_many_nodes_and_after_the_holder_dies() {
    let window = Duration::from_secs(5);
    // With ±10% jitter a 1 s interval gives 4-6 fetches in 5 s; one fetch per node would be
    // 10-15 with two or three.
    let once_per_interval = 3..=7;
    for count in 1..=3 {
        let redis = RedisServer::start();
        let upstream = Upstream::default();
        let url = upstream.serve().await;
        let nodes: Vec<Node> = (0..count)
            .map(|_| Node::start(&redis, &feed_config(&url)))
            .collect();
        upstream.wait_first().await;
        let start = Instant::now();
        tokio::time::sleep(window).await;
        let fetched = upstream.since(start).len();
        assert!(
            once_per_interval.contains(&fetched),
            "{count} node(s): {fetched} fetches in {window:?}"
        );
        let mut ingesting = 0;
        for node in &nodes {
            if node.health().await.1["ingesting"] == true {
                ingesting += 1;
            }
        }
        assert_eq!(ingesting, 1, "{count} node(s): exactly one fetches");
        if count < 3 {
            continue;
        }
        // Kill the one that fetches.
        let mut nodes = nodes;
        let mut holder = None;
        for (index, node) in nodes.iter().enumerate() {
            if node.health().await.1["ingesting"] == true {
                holder = Some(index);
            }
        }
        let killed_at = Instant::now();
        nodes[holder.unwrap()].server.kill_9();
        // Another node takes over within the lease (and a renewal's slack).
        let remaining: Vec<String> = nodes
            .iter()
            .enumerate()
            .filter(|(index, _)| Some(*index) != holder)
            .map(|(_, node)| node.base().to_owned())
            .collect();
        eventually(Duration::from_secs(LEASE_SECS * 3), "a takeover", || {
            let remaining = remaining.clone();
            async move {
                for base in &remaining {
                    if health(base).await.1["ingesting"] == true {
                        return true;
                    }
                }
                false
            }
        })
        .await;
        let took_over = killed_at.elapsed();
        assert!(
            took_over <= Duration::from_secs(LEASE_SECS) + Duration::from_millis(1500),
            "takeover after {took_over:?}"
        );
        let start = Instant::now();
        tokio::time::sleep(window).await;
        let after = upstream.since(start);
        assert!(
            once_per_interval.contains(&after.len()),
            "after the takeover: {} fetches in {window:?}",
            after.len()
        );
        assert!(
            upstream
                .since(killed_at)
                .iter()
                .all(|conditional| *conditional),
            "the new holder sends the stored validators"
        );
    }
}

/// Redis stopped: nodes answer 503 on /healthz and to publishers (with Retry-After, never a 201
/// for an event that was not stored), open streams stay open on heartbeats; Redis back: nodes
/// reconnect by themselves and the open streams continue, exactly once.
#[tokio::test]
async fn nodes_ride_out_redis_going_away_and_coming_back() {
    let mut redis = RedisServer::start_with(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]);
    let a = Node::start(&redis, "");
    let b = Node::start(&redis, "");
    let mut stream = SseClient::connect(a.base(), "/v1/stream?channels=world", None).await;
    publish(b.base(), "world", "before").await;
    assert_eq!(
        item_titles(&stream.until(|e| e.event == "item").await),
        ["before"]
    );

    redis.stop();
    for node in [&a, &b] {
        let node_base = node.base().to_owned();
        eventually(WAIT, "healthz reports the store gone", || {
            let base = node_base.clone();
            async move { health(&base).await.0 == 503 }
        })
        .await;
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/channels/world/items", b.base()))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "title": "while down" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    // Heartbeats every second keep the stream open; no event arrives.
    assert!(
        !stream.ends_within(Duration::from_secs(3)).await,
        "the stream stays open"
    );
    assert!(stream.is_open());

    redis.restart();
    for node in [&a, &b] {
        let node_base = node.base().to_owned();
        eventually(Duration::from_secs(20), "healthz recovers", || {
            let base = node_base.clone();
            async move { health(&base).await.0 == 200 }
        })
        .await;
    }
    publish(b.base(), "world", "after").await;
    let got = stream.until(|e| e.event == "item").await;
    assert_eq!(
        item_titles(&got),
        ["after"],
        "exactly the new event, on the same stream"
    );
    assert!(
        stream
            .next_within(Duration::from_millis(500))
            .await
            .is_none_or(|e| e.event != "item")
    );
}

/// Redis killed with SIGKILL and started again from its append-only file. With the settings
/// docs/deploying.md recommends (`appendonly yes`, `appendfsync always`) every acknowledged
/// publish is still there. Without persistence everything is gone, and a client resuming from
/// an id the new log never had is told so (a gap, then the snapshot), never left waiting.
#[tokio::test]
async fn a_redis_crash_loses_nothing_acknowledged_with_the_recommended_persistence() {
    for (persistence, keeps) in [
        (
            &[
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ][..],
            true,
        ),
        (&["--appendonly", "no", "--save", ""][..], false),
    ] {
        let mut redis = RedisServer::start_with(persistence);
        let node = Node::start(&redis, "");
        let mut last = String::new();
        for n in 0..50 {
            last = publish(node.base(), "world", &format!("acked {n}")).await;
        }
        redis.kill9();
        redis.restart();
        let base = node.base().to_owned();
        eventually(Duration::from_secs(20), "the node is back", || {
            let base = base.clone();
            async move { health(&base).await.0 == 200 }
        })
        .await;
        let mut history =
            SseClient::connect(node.base(), "/v1/stream?channels=world", Some("0-0")).await;
        if keeps {
            let got = history.until(|e| e.event == "item" && e.id == last).await;
            let expected: Vec<String> = (0..50).map(|n| format!("acked {n}")).collect();
            assert_eq!(item_titles(&got), expected, "{persistence:?}");
        } else {
            // Nothing survived: a client that had the last id gets a gap.
            let mut resume =
                SseClient::connect(node.base(), "/v1/stream?channels=world", Some(&last)).await;
            let first = resume.next().await;
            assert_eq!(first.event, "gap", "{persistence:?}: {first:?}");
            assert!(
                history
                    .next_within(Duration::from_secs(1))
                    .await
                    .is_none_or(|e| e.event != "item"),
                "{persistence:?}: no item survived"
            );
        }
    }
}

/// `tidings tail --server A,B`, for an office without a load balancer: A is killed with
/// SIGKILL in the middle of a burst, tail moves to B by itself, resumes with `Last-Event-ID`,
/// and prints every event exactly once, in order. `tidings publish --server DEAD,B` reaches B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_and_publish_given_several_servers_move_to_the_next_when_one_dies() {
    use std::io::BufRead as _;
    let redis = RedisServer::start();
    let mut nodes = [Node::start(&redis, ""), Node::start(&redis, "")];
    let (a, b) = (nodes[0].base().to_owned(), nodes[1].base().to_owned());
    let mut tail = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args([
            "tail",
            "--server",
            &format!("{a},{b}"),
            "--channels",
            "world",
        ])
        .arg("--json")
        .env_remove("TIDINGS_SERVER")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let Ok(event) = serde_json::from_str(&line) else {
                continue;
            };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    let next = move || rx.recv_timeout(Duration::from_secs(20)).ok();
    let next = Arc::new(Mutex::new(next));
    let wait_for = |what: &'static str| {
        let next = Arc::clone(&next);
        tokio::task::spawn_blocking(move || {
            loop {
                let event = (next.lock().unwrap())().unwrap_or_else(|| panic!("no {what}"));
                if event["event"] == what {
                    return event;
                }
            }
        })
    };
    wait_for("live").await.unwrap();
    assert_eq!(
        nodes[0].health().await.1["subscribers"],
        1,
        "tail starts on A"
    );

    let total = 200;
    let published = Arc::new(AtomicUsize::new(0));
    let publisher = {
        let published = Arc::clone(&published);
        let b = b.clone();
        tokio::spawn(async move {
            for n in 0..total {
                publish(&b, "world", &format!("burst {n}")).await;
                published.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    eventually(Duration::from_secs(20), "a third of the burst", || {
        let published = Arc::clone(&published);
        async move { published.load(Ordering::SeqCst) >= total / 3 }
    })
    .await;
    nodes[0].server.kill_9();
    publisher.await.unwrap();
    let mut received = Vec::new();
    while received.len() < total {
        let item = wait_for("item").await.unwrap();
        received.push(item["data"]["title"].as_str().unwrap().to_owned());
    }
    let expected: Vec<String> = (0..total).map(|n| format!("burst {n}")).collect();
    assert_eq!(received, expected, "every event exactly once, in order");
    assert_eq!(
        nodes[1].health().await.1["subscribers"],
        1,
        "tail is now on B"
    );
    let _ = tail.kill();
    let _ = tail.wait();

    // Publishing tries the next server when one cannot be reached.
    let dead = format!("http://{}", nodes[0].addr());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args([
                "publish",
                "--server",
                &format!("{dead},{b}"),
                "--token",
                TOKEN,
            ])
            .args(["--channel", "world", "After the failover"])
            .env_remove("TIDINGS_SERVER")
            .env_remove("TIDINGS_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = get_json(&format!("{}/v1/channels/world/items", nodes[1].base())).await;
    assert_eq!(
        listed["items"][0]["title"], "After the failover",
        "{listed}"
    );
}

/// A node of a cluster does not let the channel API change its line-up alone (the other
/// nodes would never see it): 409, and the line-up reads as not managed here.
#[tokio::test]
async fn the_channel_api_of_a_cluster_node_refuses_changes_one_node_cannot_share() {
    let redis = RedisServer::start();
    let node = Node::start(
        &redis,
        "[[tokens]]\nname = \"admin\"\ntoken = \"cluster-admin-token\"\nadmin = true\n",
    );
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}/v1/admin/channels", node.base()))
        .bearer_auth("cluster-admin-token")
        .json(&serde_json::json!({"title": "Local"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 409);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cluster"),
        "{body}"
    );
    let lineup: Value = http
        .get(format!("{}/v1/admin/channels", node.base()))
        .bearer_auth("cluster-admin-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lineup["managed"], false);
}
