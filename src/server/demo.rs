//! Demo mode (`--demo`): the whole product with no network.
//!
//! A small HTTP server inside the process stands in for the outside world on a loopback port:
//! fictional news feeds that gain a story every few seconds, recorded Open-Meteo forecast and
//! place-search answers, and an NWS-style gale warning that goes through its whole life (issued,
//! updated, cancelled) every twelve minutes. [`apply`] points a configuration at it, so demo
//! content travels the same path as real content: conditional polling, parsing, the event log,
//! the hub, the stream. Every story, place and warning is invented (`assets/demo/`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::config::ServerConfig;
use crate::config::server::SourceConfig;
use crate::protocol::ChannelKind;

const STORIES: &str = include_str!("../../assets/demo/stories.toml");
const FORECAST: &str = include_str!("../../assets/demo/forecast.json");
const PLACES: &str = include_str!("../../assets/demo/places.json");
const ALERT: &str = include_str!("../../assets/demo/nws-alert.json");

/// Abstract pictures for the demo stories, three per channel.
fn image(name: &str) -> Option<&'static [u8]> {
    macro_rules! images {
        ($($name:literal),+) => {
            match name {
                $($name => Some(include_bytes!(concat!("../../assets/demo/images/", $name)).as_slice()),)+
                _ => None,
            }
        };
    }
    images!(
        "world-0.jpg",
        "world-1.jpg",
        "world-2.jpg",
        "tech-0.jpg",
        "tech-1.jpg",
        "tech-2.jpg",
        "science-0.jpg",
        "science-1.jpg",
        "science-2.jpg",
        "health-0.jpg",
        "health-1.jpg",
        "health-2.jpg",
        "business-0.jpg",
        "business-1.jpg",
        "business-2.jpg",
        "culture-0.jpg",
        "culture-1.jpg",
        "culture-2.jpg",
        "sports-0.jpg",
        "sports-1.jpg",
        "sports-2.jpg"
    )
}

/// A new story appears in one of the channels this often (round robin).
pub const TRICKLE: Duration = Duration::from_secs(6);
/// How often the demo's feeds are polled.
pub const POLL: Duration = Duration::from_secs(3);
/// How often the demo's alerts are checked.
pub const ALERT_POLL: Duration = Duration::from_secs(15);
/// Stories per channel already out when the demo starts.
const INITIAL: usize = 5;
/// Stories per feed document.
const FEED_ITEMS: usize = 20;
/// One full life of the demo gale warning.
const ALERT_CYCLE_SECS: i64 = 12 * 60;

#[derive(Debug, Clone, Deserialize)]
struct Story {
    title: String,
    summary: String,
}

fn stories() -> &'static BTreeMap<String, Vec<Story>> {
    static STORIES_BY_CHANNEL: OnceLock<BTreeMap<String, Vec<Story>>> = OnceLock::new();
    STORIES_BY_CHANNEL.get_or_init(|| {
        toml::from_str(STORIES).unwrap_or_else(|error| {
            tracing::error!(%error, "the bundled demo stories do not parse");
            BTreeMap::new()
        })
    })
}

/// The channels the demo has stories for.
#[must_use]
pub fn channels() -> Vec<&'static str> {
    stories().keys().map(String::as_str).collect()
}

/// The demo's stand-in for the internet, serving until dropped.
#[derive(Debug)]
pub struct DemoUpstream {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One released story.
#[derive(Debug, Clone, PartialEq)]
struct Release {
    key: String,
    title: String,
    summary: String,
    published: DateTime<Utc>,
}

/// The stories of `channel` out by `now`, newest first, for a demo started at `start`.
fn released(channel: &str, start: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Release> {
    let all = stories();
    let Some(index) = all.keys().position(|c| c == channel) else {
        return Vec::new();
    };
    let Some(pool) = all.get(channel).filter(|pool| !pool.is_empty()) else {
        return Vec::new();
    };
    let channels = all.len();
    let story = |n: usize, published: DateTime<Utc>| {
        let (round, which) = (n / pool.len(), n % pool.len());
        let base = pool.get(which)?;
        Some(Release {
            key: format!("demo-{channel}-{n}"),
            title: if round == 0 {
                base.title.clone()
            } else {
                format!("Follow-up: {}", base.title)
            },
            summary: base.summary.clone(),
            published,
        })
    };
    let mut out: Vec<Release> = (0..INITIAL)
        .filter_map(|n| {
            let minutes = 41 * i64::try_from(INITIAL - n).unwrap_or(1);
            story(n, start - chrono::Duration::minutes(minutes))
        })
        .collect();
    let elapsed = (now - start).to_std().unwrap_or_default();
    let releases = (elapsed.as_millis() / TRICKLE.as_millis()) as usize;
    // Release r (1-based) goes to channel (r - 1) % channels.
    let mut r = index + 1;
    let mut n = INITIAL;
    while r <= releases {
        let at = start
            + chrono::Duration::from_std(TRICKLE * u32::try_from(r).unwrap_or(u32::MAX))
                .unwrap_or_default();
        out.extend(story(n, at));
        n += 1;
        r += channels;
    }
    out.reverse();
    out.truncate(FEED_ITEMS);
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rss(channel: &str, items: &[Release], images: Option<&str>) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Tidings Demo: {channel}</title><link>https://example.com/tidings-demo/</link>\
         <description>Fictional stories for the Tidings demo</description>\n"
    );
    for (n, item) in items.iter().enumerate() {
        // Most stories have a picture; every fourth does not, as in real feeds.
        let enclosure = match images {
            Some(base) if n % 4 != 3 => format!(
                "<enclosure url=\"{base}/images/{channel}-{}.jpg\" type=\"image/jpeg\" length=\"6000\"/>",
                item.key.bytes().map(usize::from).sum::<usize>() % 3
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "<item><title>{}</title><link>https://example.com/tidings-demo/{}</link>\
             <guid isPermaLink=\"false\">{}</guid><pubDate>{}</pubDate>\
             <description>{}</description>{enclosure}</item>\n",
            xml_escape(&item.title),
            item.key,
            item.key,
            item.published.to_rfc2822(),
            xml_escape(&item.summary),
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

async fn feed(start: DateTime<Utc>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(channel) = file.strip_suffix(".xml") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !stories().contains_key(channel) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let items = released(channel, start, Utc::now());
    let etag = format!(
        "\"{channel}-{}\"",
        items.first().map_or("none", |item| item.key.as_str())
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "application/rss+xml; charset=utf-8".to_owned(),
            ),
            (header::ETAG, etag),
        ],
        rss(
            channel,
            &items,
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|host| format!("http://{host}"))
                .as_deref(),
        ),
    )
        .into_response()
}

async fn picture(Path(file): Path<String>) -> Response {
    match image(&file) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct Point {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

fn one_decimal(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// One recorded day: WMO code, high, low, highest chance of precipitation.
#[derive(Debug, Clone, Copy)]
struct DemoDay {
    code: u8,
    high: f64,
    low: f64,
    rain: f64,
}

/// The recorded forecast as a place sees it.
///
/// The recorded days are moved to today in the place's own time (an offset from its longitude,
/// as time zones roughly are), made a little warmer towards the equator and started at a
/// different day for each place, so two places never show one forecast. The hours come from
/// the days the way real ones behave: the temperature runs from the day's low at dawn to its
/// high in mid-afternoon, the chance of rain peaks in the wet part of a wet day, and the sky
/// follows the rain. The current conditions are those of the curve, so the numbers agree.
fn forecast(now: DateTime<Utc>, latitude: f64, longitude: f64) -> Value {
    use chrono::{Datelike as _, Timelike as _};
    let mut value: Value = serde_json::from_str(FORECAST).unwrap_or(Value::Null);
    let number = |pointer: &str, i: usize| {
        value
            .pointer(&format!("/daily/{pointer}/{i}"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let shift = (45.0 - latitude.abs()) * 0.4;
    let recorded: Vec<DemoDay> = (0..5)
        .map(|i| DemoDay {
            code: number("weather_code", i) as u8,
            high: number("temperature_2m_max", i) + shift,
            low: number("temperature_2m_min", i) + shift,
            rain: number("precipitation_probability_max", i),
        })
        .collect();
    let cell = ((latitude * 10.0).round() as i64) * 31 + ((longitude * 10.0).round() as i64) * 17;
    let variant = usize::try_from(cell.rem_euclid(5)).unwrap_or(0);
    // Day `d` from today (yesterday is -1, like today).
    let day = |d: i64| {
        let index = usize::try_from(d.max(0)).unwrap_or(0) + variant;
        recorded
            .get(index % recorded.len().max(1))
            .copied()
            .unwrap_or(DemoDay {
                code: 2,
                high: 8.0,
                low: 3.0,
                rain: 10.0,
            })
    };
    let offset_hours = (longitude / 15.0).round().clamp(-12.0, 14.0) as i64;
    let local_now = (now + chrono::Duration::hours(offset_hours)).naive_utc();
    let midnight = local_now.date().and_hms_opt(0, 0, 0).unwrap_or(local_now);
    // Hours since today's local midnight -> temperature: cosine steps between the lows at
    // 06:00 and the highs at 15:00.
    let temperature = |t: f64| {
        let d = (t / 24.0).floor() as i64;
        let hour = t - 24.0 * d as f64;
        let (from, to, fraction) = if hour < 6.0 {
            (day(d - 1).high, day(d).low, (hour + 9.0) / 15.0)
        } else if hour < 15.0 {
            (day(d).low, day(d).high, (hour - 6.0) / 9.0)
        } else {
            (day(d).high, day(d + 1).low, (hour - 15.0) / 15.0)
        };
        let eased = (1.0 - (fraction * std::f64::consts::PI).cos()) / 2.0;
        from + (to - from) * eased + 0.3 * (t * 1.7 + variant as f64).sin()
    };
    let rain = |t: f64| {
        let d = (t / 24.0).floor() as i64;
        let hour = t - 24.0 * d as f64;
        let today = day(d);
        let peak = 9.0 + ((d * 5 + variant as i64 * 3).rem_euclid(10)) as f64;
        let bump = (-((hour - peak) / 4.0).powi(2) / 2.0).exp();
        let chance = today.rain * (0.15 + 0.85 * bump);
        ((chance / 5.0).round() * 5.0).clamp(0.0, 100.0)
    };
    let sky = |t: f64| {
        let today = day((t / 24.0).floor() as i64);
        let wet = today.code >= 51;
        match rain(t) {
            chance if chance >= 50.0 => {
                if wet {
                    today.code
                } else {
                    80
                }
            }
            chance if chance >= 25.0 => {
                if wet {
                    3
                } else {
                    today.code.max(2)
                }
            }
            _ if wet => 2,
            _ => today.code,
        }
    };
    let summer = (latitude >= 0.0) == (4..=9).contains(&local_now.month());
    let daylight = if summer { 6..21 } else { 7..17 };
    let is_day = |t: f64| {
        let hour = (t.rem_euclid(24.0)) as u32;
        u8::from(daylight.contains(&hour))
    };
    let since_midnight = |at: chrono::NaiveDateTime| (at - midnight).num_minutes() as f64 / 60.0;
    let now_hours = since_midnight(local_now);
    let quarter = local_now.with_second(0).unwrap_or(local_now);
    let quarter = quarter
        .with_minute(quarter.minute() - quarter.minute() % 15)
        .unwrap_or(quarter);
    let first_hour = local_now.hour() as f64;
    let hours: Vec<f64> = (0..48).map(|h| first_hour + f64::from(h)).collect();
    let label = |t: f64| {
        (midnight + chrono::Duration::minutes((t * 60.0) as i64))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    if let Some(current) = object.get_mut("current").and_then(Value::as_object_mut) {
        let now_temperature = temperature(now_hours);
        let fields = [
            (
                "time",
                Value::from(quarter.format("%Y-%m-%dT%H:%M").to_string()),
            ),
            ("temperature_2m", Value::from(one_decimal(now_temperature))),
            (
                "apparent_temperature",
                Value::from(one_decimal(now_temperature - 3.3)),
            ),
            ("weather_code", Value::from(sky(first_hour))),
            ("is_day", Value::from(is_day(now_hours))),
        ];
        for (name, field) in fields {
            current.insert(name.to_owned(), field);
        }
    }
    let today = local_now.date();
    let days: Vec<DemoDay> = (0..5).map(day).collect();
    let fields = [
        ("utc_offset_seconds", Value::from(offset_hours * 3600)),
        (
            "timezone",
            Value::from(format!("Etc/GMT{:+}", -offset_hours)),
        ),
        (
            "hourly_units",
            serde_json::json!({
                "time": "iso8601", "temperature_2m": "°C", "precipitation_probability": "%",
                "weather_code": "wmo code", "is_day": ""
            }),
        ),
        (
            "hourly",
            serde_json::json!({
                "time": hours.iter().map(|&t| label(t)).collect::<Vec<_>>(),
                "temperature_2m": hours.iter().map(|&t| one_decimal(temperature(t))).collect::<Vec<_>>(),
                "precipitation_probability": hours.iter().map(|&t| rain(t)).collect::<Vec<_>>(),
                "weather_code": hours.iter().map(|&t| sky(t)).collect::<Vec<_>>(),
                "is_day": hours.iter().map(|&t| is_day(t)).collect::<Vec<_>>(),
            }),
        ),
        (
            "daily",
            serde_json::json!({
                "time": (0..5).map(|d| (today + chrono::Days::new(d)).to_string()).collect::<Vec<_>>(),
                "weather_code": days.iter().map(|d| d.code).collect::<Vec<_>>(),
                "temperature_2m_max": days.iter().map(|d| one_decimal(d.high)).collect::<Vec<_>>(),
                "temperature_2m_min": days.iter().map(|d| one_decimal(d.low)).collect::<Vec<_>>(),
                "precipitation_probability_max": days.iter().map(|d| d.rain).collect::<Vec<_>>(),
            }),
        ),
    ];
    for (name, field) in fields {
        object.insert(name.to_owned(), field);
    }
    value
}

#[derive(Debug, Deserialize)]
struct Search {
    name: Option<String>,
    count: Option<usize>,
}

fn places(query: &Search) -> Value {
    let all: Value = serde_json::from_str(PLACES).unwrap_or(Value::Null);
    let name = query.name.as_deref().unwrap_or_default().to_lowercase();
    let results: Vec<Value> = all
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|place| {
            place
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.to_lowercase().contains(&name))
        })
        .take(query.count.unwrap_or(10))
        .cloned()
        .collect();
    serde_json::json!({ "results": results })
}

/// The active alerts at `now`: one gale warning living through issue, update and cancel.
fn alerts(start: DateTime<Utc>, now: DateTime<Utc>) -> Value {
    let elapsed = (now - start).num_seconds().max(0);
    let cycle = elapsed / ALERT_CYCLE_SECS;
    let phase = elapsed % ALERT_CYCLE_SECS;
    let cycle_start = start + chrono::Duration::seconds(cycle * ALERT_CYCLE_SECS);
    let issued = cycle_start - chrono::Duration::minutes(3);
    let id = |n: u32| format!("urn:oid:tidings.demo.{cycle}.{n}");
    let vtec = |action: &str| {
        format!(
            "/O.{action}.XDMO.GL.W.{:04}.000000T0000Z-000000T0000Z/",
            100 + cycle
        )
    };
    let (n, kind, action, headline, sent) = match phase {
        0..360 => (
            1,
            "Alert",
            "NEW",
            "Gale Warning for Tiding Bay (demo)",
            issued,
        ),
        360..540 => (
            2,
            "Update",
            "EXT",
            "Gale Warning for Tiding Bay extended into tonight (demo)",
            cycle_start + chrono::Duration::seconds(360),
        ),
        540..660 => (
            3,
            "Cancel",
            "CAN",
            "Gale Warning for Tiding Bay cancelled: winds easing (demo)",
            cycle_start + chrono::Duration::seconds(540),
        ),
        _ => return serde_json::json!({"type": "FeatureCollection", "features": []}),
    };
    let ends = issued + chrono::Duration::hours(3);
    let text = ALERT
        .replace("{ID}", &id(n))
        .replace("{SENT}", &sent.to_rfc3339())
        .replace("{ENDS}", &ends.to_rfc3339())
        .replace("{TYPE}", kind)
        .replace("{HEADLINE}", headline)
        .replace("{VTEC}", &vtec(action));
    let mut feature: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if n > 1
        && let Some(references) = feature.pointer_mut("/properties/references")
    {
        *references = serde_json::json!([{ "identifier": id(n - 1), "sent": issued.to_rfc3339() }]);
    }
    serde_json::json!({"type": "FeatureCollection", "features": [feature]})
}

fn json(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Starts the demo's stand-in server on a loopback port.
pub async fn start() -> std::io::Result<DemoUpstream> {
    let start = Utc::now();
    let router = Router::new()
        .route(
            "/feeds/{file}",
            get(move |file, headers| feed(start, file, headers)),
        )
        .route("/images/{file}", get(picture))
        .route(
            "/v1/forecast",
            get(|Query(point): Query<Point>| async move {
                json(&forecast(
                    Utc::now(),
                    point.latitude.unwrap_or(45.0),
                    point.longitude.unwrap_or(0.0),
                ))
            }),
        )
        .route(
            "/v1/search",
            get(|Query(search): Query<Search>| async move { json(&places(&search)) }),
        )
        .route(
            "/alerts/active",
            get(move || async move { json(&alerts(start, Utc::now())) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the demo content server stopped");
        }
    });
    Ok(DemoUpstream { addr, task })
}

/// Points `config` at the demo: every news channel the demo has stories for reads its demo
/// feed, other sources are dropped unless bundled (`tidings:`), weather and alerts come from
/// the recorded answers (alerts for any place), and the event log lives in a `demo`
/// subdirectory so demo content never mixes with real content.
///
/// Each demo run is a new show, so that subdirectory is emptied: the stories are dated from
/// the run's start, and the demo feeds' URLs (part of every item's key) name a new loopback
/// port each time, so an earlier run's stories would come back as duplicates.
pub fn apply(config: &mut ServerConfig, upstream: &DemoUpstream) {
    let base = format!("http://{}", upstream.addr);
    let demo_channels = channels();
    for channel in &mut config.channels {
        let id = channel.id().as_str().to_owned();
        if channel.info.kind == ChannelKind::News && demo_channels.contains(&id.as_str()) {
            channel.sources = vec![SourceConfig {
                url: format!("{base}/feeds/{id}.xml"),
                name: Some("Tidings Demo".to_owned()),
                poll_interval: POLL,
            }];
        } else {
            channel.sources.retain(|s| s.url.starts_with("tidings:"));
        }
    }
    config.ingest_enabled = true;
    config.weather.forecast_url.clone_from(&base);
    config.weather.geocoding_url.clone_from(&base);
    config.alerts.nws_url = base;
    config.alerts.refresh = ALERT_POLL;
    config.alerts.us_only = false;
    config.data_dir = config.data_dir.join("demo");
    if let Err(error) = std::fs::remove_dir_all(&config.data_dir)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, dir = %config.data_dir.display(), "cannot clear the last demo run");
    }
    // The channels no longer match the line-up they were read from.
    config.lineup = None;
    // Changes made to the demo's line-up stay in the demo.
    config.channels_file = Some(config.data_dir.join(crate::config::lineup::LINEUP_FILE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChannelId;
    use crate::server::ingest::map::parse_feed;
    use crate::server::ingest::nws::parse_active;
    use crate::server::ingest::weather::parse_forecast;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn every_news_channel_of_the_default_lineup_has_demo_stories_and_pictures() {
        let raw = ServerConfig::parse("", std::path::Path::new("demo.toml")).unwrap();
        let overrides = crate::config::server::Overrides {
            data_dir: Some("demo-data".into()),
            ..Default::default()
        };
        let config = ServerConfig::build(raw, &|_| None, &overrides).unwrap();
        let fed_from_the_web: Vec<String> = config
            .channels
            .iter()
            .filter(|c| c.info.kind == ChannelKind::News)
            .filter(|c| c.sources.iter().any(|s| !s.url.starts_with("tidings:")))
            .map(|c| c.id().as_str().to_owned())
            .collect();
        let mut expected = fed_from_the_web.clone();
        expected.sort();
        assert_eq!(channels(), expected);
        for id in &fed_from_the_web {
            assert!(stories()[id].len() >= 8, "{id} has too few demo stories");
            for n in 0..3 {
                assert!(image(&format!("{id}-{n}.jpg")).is_some(), "{id}-{n}.jpg");
            }
        }
    }

    #[test]
    fn stories_trickle_in_round_robin() {
        let start = at("2026-11-27T12:00:00Z");
        assert_eq!(released("world", start, start).len(), INITIAL);
        // Release 1 goes to the first channel (business) after one TRICKLE.
        let one = start + chrono::Duration::from_std(TRICKLE).unwrap();
        assert_eq!(released("business", start, one).len(), INITIAL + 1);
        assert_eq!(released("world", start, one).len(), INITIAL);
        // After a full round every channel has one more.
        let trickle = chrono::Duration::from_std(TRICKLE).unwrap();
        let round = start + trickle * i32::try_from(channels().len()).unwrap();
        for channel in channels() {
            let items = released(channel, start, round);
            assert_eq!(items.len(), INITIAL + 1, "{channel}");
            assert!(items[0].published > items[1].published, "newest first");
        }
        // Much later: capped, keys unique, later rounds marked as follow-ups.
        let later = start + chrono::Duration::hours(2);
        let items = released("tech", start, later);
        assert_eq!(items.len(), FEED_ITEMS);
        let keys: std::collections::HashSet<_> = items.iter().map(|i| &i.key).collect();
        assert_eq!(keys.len(), FEED_ITEMS);
        assert!(items[0].title.starts_with("Follow-up: "));
    }

    #[test]
    fn demo_feeds_parse_as_the_server_reads_them() {
        let start = at("2026-11-27T12:00:00Z");
        let items = released("science", start, start + chrono::Duration::minutes(5));
        let body = rss("science", &items, Some("http://127.0.0.1:1"));
        let channel = ChannelId::new("science").unwrap();
        let feed = parse_feed(
            body.as_bytes(),
            "http://127.0.0.1/feeds/science.xml",
            &channel,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(feed.items.len(), items.len());
        assert_eq!(feed.items[0].title, items[0].title);
        assert!(!feed.repaired());
        let with_images = feed.items.iter().filter(|i| i.image.is_some()).count();
        assert!(with_images >= feed.items.len() / 2, "{with_images}");
        let picture = feed.items[0].image.as_deref().unwrap();
        assert!(picture.starts_with("http://127.0.0.1:1/images/science-"));
        let name = picture.rsplit('/').next().unwrap();
        assert!(image(name).is_some(), "{name} is bundled");
    }

    #[test]
    fn the_recorded_forecast_is_moved_to_today() {
        let now = at("2026-12-24T15:20:00Z");
        let body = forecast(now, 44.6, -67.2).to_string();
        let channel = ChannelId::new("weather").unwrap();
        let cell = crate::protocol::ItemKey::new("44.6,-67.2").unwrap();
        let report = parse_forecast(body.as_bytes(), &channel, &cell).unwrap();
        assert_eq!(report.observed, at("2026-12-24T15:15:00Z"));
        // Port Tiding keeps time four hours behind UTC.
        assert_eq!(report.utc_offset_seconds, Some(-4 * 3600));
        assert_eq!(report.daily[0].date.to_string(), "2026-12-24");
        assert_eq!(report.daily.len(), 5);
        let tropical = forecast(now, 10.0, -67.2);
        assert!(tropical["current"]["temperature_2m"].as_f64() > Some(15.0));
        // Another place's days differ, so two places never show one forecast.
        let elsewhere = forecast(now, 52.1, 11.6);
        assert_ne!(
            elsewhere["daily"]["weather_code"],
            forecast(now, 44.6, -67.2)["daily"]["weather_code"]
        );
    }

    #[test]
    fn the_demo_hours_follow_the_days() {
        let now = at("2026-12-24T15:20:00Z");
        let body = forecast(now, 44.6, -67.2).to_string();
        let channel = ChannelId::new("weather").unwrap();
        let cell = crate::protocol::ItemKey::new("44.6,-67.2").unwrap();
        let report = parse_forecast(body.as_bytes(), &channel, &cell).unwrap();
        assert_eq!(report.hourly.len(), 48);
        assert_eq!(report.hourly[0].time, at("2026-12-24T15:00:00Z"));
        // Today's remaining hours stay within today's low and high (plus a little wiggle),
        // and the current temperature is the curve's.
        let today = &report.daily[0];
        for hour in report.hourly.iter().take(12) {
            assert!(hour.temperature <= today.high.max(report.daily[1].high) + 0.5);
            assert!(hour.temperature >= today.low.min(report.daily[1].low) - 0.5);
        }
        assert!((report.current.temperature - report.hourly[0].temperature).abs() < 1.5);
        // The chance of rain peaks at the day's highest chance, never above it.
        let tomorrow = report.daily[1].date;
        let offset = chrono::Duration::hours(-4);
        let peak = report
            .hourly
            .iter()
            .filter(|h| (h.time + offset).date_naive() == tomorrow)
            .filter_map(|h| h.precipitation_chance_percent)
            .fold(0.0, f64::max);
        let max = report.daily[1].precipitation_chance_percent.unwrap();
        assert!(peak <= max && peak >= max - 10.0, "{peak} vs {max}");
        // 11:20 in Port Tiding is day; 23:00 is night.
        assert!(report.current.is_day);
        assert!(
            report.hourly[9].condition.icon.ends_with("-night")
                || report.hourly[9].condition.code >= 3
        );
    }

    #[test]
    fn the_demo_warning_lives_and_dies_every_cycle() {
        let start = at("2026-11-27T12:00:00Z");
        let phase = |secs: i64| {
            let body = alerts(start, start + chrono::Duration::seconds(secs)).to_string();
            let (messages, skipped) = parse_active(body.as_bytes()).unwrap();
            assert_eq!(skipped, 0);
            messages.first().map(|m| m.message_type.clone())
        };
        assert_eq!(phase(10).as_deref(), Some("Alert"));
        assert_eq!(phase(400).as_deref(), Some("Update"));
        assert_eq!(phase(600).as_deref(), Some("Cancel"));
        assert_eq!(phase(700), None);
        assert_eq!(phase(ALERT_CYCLE_SECS + 10).as_deref(), Some("Alert"));
    }

    #[test]
    fn the_place_search_finds_fictional_towns() {
        let found = places(&Search {
            name: Some("port".to_owned()),
            count: None,
        });
        assert_eq!(found["results"][0]["name"], "Port Tiding");
        let none = places(&Search {
            name: Some("Berlin".to_owned()),
            count: None,
        });
        assert_eq!(none["results"].as_array().unwrap().len(), 0);
    }
}
