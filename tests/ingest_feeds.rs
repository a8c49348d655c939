//! Feed polling into the event log, against a real local HTTP server: new items, 304s that
//! change nothing, updates in place, no re-announcement after a restart, items without guid or
//! link, HTML-heavy items, and channel health when a source fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::*;
use tidings::config::RetentionPolicy;
use tidings::config::server::SourceConfig;
use tidings::protocol::{ChannelId, ItemKey};
use tidings::server::ingest::feeds::SourcePoller;
use tidings::server::ingest::fetch::Fetcher;
use tidings::server::ingest::state::ValidatorStore;
use tidings::server::log::sqlite::{MAX_LIVE_ITEMS, SqliteLog};
use tidings::server::log::{EventLog, now_millis};

fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Fixture News</title>\
         <link>https://news.example/</link>{items}</channel></rss>"
    )
}

#[derive(Clone, Default)]
struct Fixture {
    body: Arc<Mutex<String>>,
    full: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

async fn serve_fixture(fixture: Fixture) -> String {
    let router = Router::new()
        .route(
            "/feed.xml",
            get(move |headers: HeaderMap| {
                let fixture = fixture.clone();
                async move {
                    let body = fixture.body.lock().unwrap().clone();
                    let etag = format!(
                        "\"{:x}\"",
                        body.len() * 31 + body.bytes().map(usize::from).sum::<usize>()
                    );
                    if headers
                        .get(header::IF_NONE_MATCH)
                        .is_some_and(|v| v.to_str().unwrap() == etag)
                    {
                        fixture.not_modified.fetch_add(1, Ordering::Relaxed);
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    fixture.full.fetch_add(1, Ordering::Relaxed);
                    (
                        [
                            (header::ETAG, etag),
                            (header::CONTENT_TYPE, "application/rss+xml".to_owned()),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        .route("/missing.xml", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn source(url: String) -> SourceConfig {
    SourceConfig {
        url,
        name: None,
        poll_interval: Duration::from_secs(900),
    }
}

/// Three sources listing 200 items each, more than a channel keeps live (`MAX_LIVE_ITEMS`): the
/// oldest age out of the live state at pruning while their feeds still list them. They are not
/// news on the next poll, nor after a restart (the keys a source listed are saved with its
/// validators).
#[tokio::test]
async fn items_that_aged_out_while_still_listed_are_never_announced_again() {
    let per_source = 200;
    let items = |count: usize| -> String {
        (0..count)
            .map(|n| {
                format!(
                    "<item><title>Story {n}</title><guid>g{n}</guid>\
                     <pubDate>Wed, 25 Nov 2026 {:02}:{:02}:00 GMT</pubDate></item>",
                    n / 60 % 24,
                    n % 60
                )
            })
            .collect()
    };
    let fixture = Fixture::default();
    *fixture.body.lock().unwrap() = rss(&items(per_source));
    let base = serve_fixture(fixture.clone()).await;
    let urls: Vec<String> = (0..3).map(|n| format!("{base}/feed.xml?s={n}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let log = SqliteLog::open(&path, None).unwrap();
    let saved = ValidatorStore::open(&dir.path().join("ingest.sqlite3")).unwrap();
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 22).unwrap();
    let channel = ChannelId::new("world").unwrap();
    let live = usize::try_from(MAX_LIVE_ITEMS).unwrap();
    let policy = RetentionPolicy {
        max_events: 100_000,
        max_age: Duration::from_secs(365 * 86_400),
    };

    let mut pollers: Vec<SourcePoller> = urls
        .iter()
        .map(|url| SourcePoller::new(channel.clone(), source(url.clone())))
        .collect();
    let added = poll_all(&mut pollers, &urls, &fetcher, &saved, &log).await;
    assert_eq!(added, 3 * per_source);
    let pruned = log.prune(&channel, policy, now_millis()).await.unwrap();
    assert_eq!(
        pruned.aged_out,
        u64::try_from(3 * per_source - live).unwrap()
    );

    // One new story on top of each feed: three items, not a hundred and three.
    *fixture.body.lock().unwrap() = rss(&format!(
        "<item><title>Fresh story</title><guid>fresh</guid></item>{}",
        items(per_source - 1)
    ));
    let added = poll_all(&mut pollers, &urls, &fetcher, &saved, &log).await;
    assert_eq!(added, 3);
    assert_eq!(log.entries(&channel, 10_000).await.unwrap().len(), live + 3);

    // Restart: validators and listed keys come back from disk; a changed document (so not a
    // 304) announces only its one new story per source.
    drop(log);
    let log = SqliteLog::open(&path, None).unwrap();
    log.prune(&channel, policy, now_millis()).await.unwrap();
    *fixture.body.lock().unwrap() = rss(&format!(
        "<item><title>Another story</title><guid>another</guid></item>\
         <item><title>Fresh story</title><guid>fresh</guid></item>{}",
        items(per_source - 2)
    ));
    let mut pollers = Vec::new();
    for url in &urls {
        let listed = saved.load_listed(url).await;
        pollers.push(
            SourcePoller::new(channel.clone(), source(url.clone()))
                .with_validators(saved.load(url).await)
                .with_listed(listed.into_iter().map(|k| ItemKey::new(k).unwrap())),
        );
    }
    let added = poll_all(&mut pollers, &urls, &fetcher, &saved, &log).await;
    assert_eq!(added, 3);
}

/// Polls each source once and saves what it listed, as the server does; returns the items added.
async fn poll_all(
    pollers: &mut [SourcePoller],
    urls: &[String],
    fetcher: &Fetcher,
    saved: &ValidatorStore,
    log: &SqliteLog,
) -> usize {
    let mut added = 0;
    for (poller, url) in pollers.iter_mut().zip(urls) {
        let (outcome, _) = poller.poll(fetcher, log).await;
        let outcome = outcome.unwrap();
        assert_eq!(outcome.updated, 0, "{outcome:?}");
        added += outcome.added;
        let keys = poller.listed().map(|k| k.as_str().to_owned()).collect();
        saved.save(url, poller.validators(), keys).await;
    }
    added
}

#[tokio::test]
async fn polls_add_update_skip_and_survive_restarts_without_reannouncing() {
    let fixture = Fixture::default();
    *fixture.body.lock().unwrap() = rss(
        "<item><title>Older story</title><guid>a</guid><pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>\
         <item><title>&lt;p&gt;Heavy &lt;b&gt;HTML&lt;/b&gt;&lt;/p&gt;</title><guid>b</guid>\
           <description>&lt;div class=&quot;x&quot;&gt;&lt;img src=&quot;p.gif&quot;&gt;Para one&lt;/div&gt;&lt;style&gt;.x{}&lt;/style&gt;&lt;p&gt;Para&amp;nbsp;two&lt;/p&gt;</description></item>\
         <item><title>No guid no link</title></item>\
         <item><title>Link only</title><link>https://news.example/l</link></item>\
         <item><guid>nothing-to-show</guid></item>",
    );
    let base = serve_fixture(fixture.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite3");
    let log = SqliteLog::open(&path, None).unwrap();
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let channel = ChannelId::new("world").unwrap();
    let mut poller = SourcePoller::new(channel.clone(), source(format!("{base}/feed.xml")));

    let (first, next) = poller.poll(&fetcher, &log).await;
    let first = first.unwrap();
    assert_eq!((first.added, first.updated, first.unchanged), (4, 0, 0));
    assert_eq!(
        first.skipped, 1,
        "the entry with nothing to show is counted"
    );
    assert_eq!(next, Duration::from_secs(900));
    let entries = log.entries(&channel, 10).await.unwrap();
    let heavy = entries
        .iter()
        .find(|e| e.data.contains("Heavy HTML"))
        .expect("HTML stripped from the title");
    let item: serde_json::Value = serde_json::from_str(&heavy.data).unwrap();
    assert_eq!(item["body"], "Para one\n\nPara two");
    assert_eq!(item["source"], "Fixture News");
    // Ids follow publication order: the dated older story first.
    let older = entries
        .iter()
        .find(|e| e.data.contains("Older story"))
        .unwrap();
    assert!(entries.iter().all(|e| e.id >= older.id));

    // Unchanged: a 304, nothing appended.
    let head = log.head().await.unwrap();
    let (second, _) = poller.poll(&fetcher, &log).await;
    assert!(second.unwrap().not_modified);
    assert_eq!(fixture.not_modified.load(Ordering::Relaxed), 1);
    assert_eq!(log.head().await.unwrap(), head);

    // A corrected headline (same guid) and a corrected link-only headline are updates.
    {
        // One lock at a time: the fixture server reads the same mutex.
        let mut body = fixture.body.lock().unwrap();
        *body = body
            .replace("Older story", "Older story, corrected")
            .replace("Link only", "Link only, corrected");
    }
    let (third, _) = poller.poll(&fetcher, &log).await;
    let third = third.unwrap();
    assert_eq!((third.added, third.updated, third.unchanged), (0, 2, 2));
    assert_eq!(
        log.entries(&channel, 10).await.unwrap().len(),
        4,
        "updates, not duplicates"
    );

    // Restart: a new log handle and a poller without validators fetch everything again, and
    // announce nothing.
    drop(log);
    let log = SqliteLog::open(&path, None).unwrap();
    let head = log.head().await.unwrap();
    let mut poller = SourcePoller::new(channel.clone(), source(format!("{base}/feed.xml")));
    let (after_restart, _) = poller.poll(&fetcher, &log).await;
    let after_restart = after_restart.unwrap();
    assert_eq!(
        (
            after_restart.added,
            after_restart.updated,
            after_restart.unchanged
        ),
        (0, 0, 4)
    );
    assert_eq!(log.head().await.unwrap(), head, "nothing re-announced");

    // A source that fails backs off and says why.
    let mut broken = SourcePoller::new(channel, source(format!("{base}/missing.xml")));
    let (failed, next) = broken.poll(&fetcher, &log).await;
    assert!(failed.unwrap_err().contains("404"));
    assert!(next > Duration::from_secs(900), "backs off: {next:?}");
}

#[tokio::test]
async fn the_server_polls_its_sources_and_reports_channel_health() {
    let fixture = Fixture::default();
    *fixture.body.lock().unwrap() =
        rss("<item><title>Pushed from a feed</title><guid>x</guid></item>");
    let base = serve_fixture(fixture).await;
    let extra = format!(
        "[ingest]\nenabled = true\n\n[[channels]]\nid = \"world\"\ntitle = \"World\"\nsources = [\"{base}/feed.xml\"]\n\n\
         [[channels]]\nid = \"tech\"\ntitle = \"Tech\"\nsources = [{{ url = \"{base}/missing.xml\", poll_minutes = 60 }}]\n"
    );
    let server = TestServer::start(&extra).await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=world,tech", None).await;
    let mut saw_item = false;
    let mut tech_failing = false;
    while !(saw_item && tech_failing) {
        let event = stream.next().await;
        let data = event.json();
        if event.event == "item" && data["title"] == "Pushed from a feed" {
            assert_eq!(data["source"], "Fixture News");
            saw_item = true;
        }
        if event.event == "channel" && data["id"] == "tech" && data["health"]["status"] == "failing"
        {
            assert!(data["health"]["message"].as_str().unwrap().contains("404"));
            tech_failing = true;
        }
    }
    let tech = catalog_channel(&server.base, "tech").await;
    assert_eq!(
        tech["health"]["status"], "failing",
        "the catalog shows it too"
    );
}

#[tokio::test]
async fn after_a_restart_the_first_poll_is_a_cheap_304() {
    let fixture = Fixture::default();
    *fixture.body.lock().unwrap() = rss("<item><title>Only once</title><guid>1</guid></item>");
    let base = serve_fixture(fixture.clone()).await;
    let extra = format!(
        "[ingest]\nenabled = true\n\n[[channels]]\nid = \"world\"\ntitle = \"World\"\nsources = [\"{base}/feed.xml\"]\n"
    );
    let server = TestServer::start(&extra).await;
    let mut stream = SseClient::connect(&server.base, "/v1/stream?channels=world", None).await;
    stream.until(|e| e.event == "item").await;
    // The item is out before the poller has saved the feed's validators: wait for those, or a
    // stop now would cancel the save (harmless in use: the next start just fetches in full).
    let ingest_state = server.dir.path().join(tidings::server::INGEST_FILE);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let saved: i64 = rusqlite::Connection::open(&ingest_state)
            .and_then(|conn| {
                conn.query_row("SELECT count(*) FROM validators", [], |row| row.get(0))
            })
            .unwrap_or(0);
        if saved == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "validators never saved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, dir) = server.stop().await;
    assert_eq!(
        (
            fixture.full.load(Ordering::Relaxed),
            fixture.not_modified.load(Ordering::Relaxed)
        ),
        (1, 0)
    );

    let server = TestServer::start_in(dir, &extra).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while fixture.not_modified.load(Ordering::Relaxed) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no conditional poll after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fixture.full.load(Ordering::Relaxed),
        1,
        "the body was not fetched again"
    );
    let items: serde_json::Value =
        get_json(&format!("{}/v1/channels/world/items", server.base)).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_poller_waits_as_the_server_asks_backs_off_and_resets_after_a_success() {
    // Each request takes the next scripted answer: a status and perhaps one header.
    type Answer = (StatusCode, Option<(header::HeaderName, &'static str)>);
    let script: Arc<Mutex<Vec<Answer>>> = Arc::new(Mutex::new(vec![
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some((header::RETRY_AFTER, "7200")),
        ),
        (StatusCode::INTERNAL_SERVER_ERROR, None),
        (StatusCode::INTERNAL_SERVER_ERROR, None),
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some((header::RETRY_AFTER, "60")),
        ),
        (
            StatusCode::OK,
            Some((header::CACHE_CONTROL, "max-age=3600")),
        ),
        (StatusCode::INTERNAL_SERVER_ERROR, None),
        (StatusCode::OK, Some((header::CACHE_CONTROL, "max-age=60"))),
    ]));
    let answers = Arc::clone(&script);
    let router = Router::new().route(
        "/feed.xml",
        get(move || {
            let answers = Arc::clone(&answers);
            async move {
                let (status, extra) = answers.lock().unwrap().remove(0);
                let mut response =
                    (status, rss("<item><title>One</title><guid>1</guid></item>")).into_response();
                if let Some((name, value)) = extra {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteLog::open(&dir.path().join("events.sqlite3"), None).unwrap();
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let channel = ChannelId::new("world").unwrap();
    let mut poller = SourcePoller::new(channel, source(format!("{base}/feed.xml")));
    let mut waits_minutes = Vec::new();
    let mut results = Vec::new();
    for _ in 0..7 {
        let (result, next) =
            tokio::time::timeout(Duration::from_secs(10), poller.poll(&fetcher, &log))
                .await
                .unwrap();
        results.push(result.is_ok());
        waits_minutes.push(next.as_secs() / 60);
    }
    assert!(
        script.lock().unwrap().is_empty(),
        "every answer was asked for"
    );
    assert_eq!(
        results,
        [false, false, false, false, true, false, true],
        "the scripted answers"
    );
    // Interval 15 min. 503 + Retry-After 2 h: 2 h (not the 30 min backoff). Then 500s double
    // (60, 120 min); a 429 asking for 1 min still gets the backoff (240 min). A success with
    // max-age 1 h waits the hour; the next failure starts the backoff afresh (30 min); a short
    // max-age never polls faster than the interval.
    assert_eq!(waits_minutes, [120, 60, 120, 240, 60, 30, 15]);
}
