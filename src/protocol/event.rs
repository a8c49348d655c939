//! The events that travel over `GET /v1/stream`, one type per SSE `event:` name.
//!
//! Shared by client and server. Every payload is a JSON object; fields added later are optional
//! (they default when absent) and unknown fields and unknown event names are ignored, so both
//! sides can evolve independently (`docs/protocol.md`, "Compatibility").

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::id::{ChannelId, EventId, ItemKey};

/// How much an item or alert matters. Ordered: `Info < Notice < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// Ordinary news; never interrupts.
    #[default]
    Info,
    /// Worth a glance.
    Notice,
    /// Worth an interruption.
    Warning,
    /// Act now.
    Critical,
}

/// Implements the wire form of a string enumeration: `as_str`, a strict `parse` (for input
/// that must be validated, like the publish API) and serde. Decoding is tolerant: a value added
/// by a later protocol version decodes as `$fallback` instead of failing the whole event.
macro_rules! wire_enum {
    ($name:ident, fallback = $fallback:ident, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $name {
            /// Every wire value, in order.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// The wire name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Parses a wire name exactly; `None` for anything else.
            #[must_use]
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self::parse(&text).unwrap_or(Self::$fallback))
            }
        }
    };
}

// Unknown severities count as warnings: a newer server's new level more likely matters than not.
wire_enum!(Severity, fallback = Warning, Info => "info", Notice => "notice", Warning => "warning", Critical => "critical");
wire_enum!(AlertStatus, fallback = Active, Active => "active", Updated => "updated", Cancelled => "cancelled");
wire_enum!(RetractKind, fallback = Item, Item => "item", Alert => "alert");
wire_enum!(ChannelKind, fallback = News, News => "news", Weather => "weather", Alerts => "alerts");
wire_enum!(HealthStatus, fallback = Degraded, Ok => "ok", Degraded => "degraded", Failing => "failing");

/// A news item (event `item`): an upsert keyed by `channel` + `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The channel it belongs to.
    pub channel: ChannelId,
    /// Its key within the channel; the same key again replaces the item.
    pub key: ItemKey,
    /// Headline, plain text.
    pub title: String,
    /// Summary or body, plain text; may contain line breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Absolute `http`/`https` link to the full story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Name of the source (a feed title or a publisher's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Absolute `http`/`https` URL of an illustration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How much it matters.
    #[serde(default)]
    pub severity: Severity,
    /// When it was first published.
    pub published: DateTime<Utc>,
    /// When it last changed (equals `published` for a new item).
    pub updated: DateTime<Utc>,
    /// After this instant the item is gone (the server sends a `retract`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlertStatus {
    /// First issued.
    #[default]
    Active,
    /// Changed since first issued (same key).
    Updated,
    /// Called off by its issuer; clients show it as cancelled, then drop it.
    Cancelled,
}

/// An alert (event `alert`): an upsert keyed by `channel` + `key`, with a lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The channel it belongs to.
    pub channel: ChannelId,
    /// One key per hazard: updates and cancellation reuse it.
    pub key: ItemKey,
    /// Lifecycle state.
    #[serde(default)]
    pub status: AlertStatus,
    /// How much it matters.
    #[serde(default)]
    pub severity: Severity,
    /// Headline, plain text.
    pub title: String,
    /// Kind of hazard or event, e.g. "Severe Thunderstorm Warning" or "Build failed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Description, plain text; may contain line breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// What to do, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// Affected area, free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Absolute `http`/`https` link to details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the hazard begins, if not now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<DateTime<Utc>>,
    /// When it was first issued.
    pub published: DateTime<Utc>,
    /// When it last changed.
    pub updated: DateTime<Utc>,
    /// After this instant the alert is over (the server sends a `retract`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// What a `retract` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetractKind {
    /// A news item.
    #[default]
    Item,
    /// An alert.
    Alert,
}

/// Removal of an item or alert (event `retract`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retract {
    /// The channel it belonged to.
    pub channel: ChannelId,
    /// Its key.
    pub key: ItemKey,
    /// Whether an item or an alert goes.
    #[serde(default)]
    pub kind: RetractKind,
    /// Why: `retracted` (by a publisher) or `expired`; clients must accept other values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChannelKind {
    /// Headlines from feeds or publishers (`item` events).
    #[default]
    News,
    /// Weather reports (`weather` events).
    Weather,
    /// Alerts with a lifecycle (`alert` events).
    Alerts,
}

/// Whether a channel's sources are working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HealthStatus {
    /// All sources fine (or none configured).
    #[default]
    Ok,
    /// Some sources fail; content still flows.
    Degraded,
    /// Every source fails; content is stale.
    Failing,
}

/// A channel's health as shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Health {
    /// Overall state.
    pub status: HealthStatus,
    /// Human-readable detail when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Channel metadata and health (event `channel`, and the entries of `GET /v1/channels`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// The channel's id.
    pub id: ChannelId,
    /// Display title.
    pub title: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Accent colour as `#rrggbb`.
    #[serde(default = "default_colour")]
    pub colour: String,
    /// What it carries.
    #[serde(default)]
    pub kind: ChannelKind,
    /// Whether its sources work.
    #[serde(default)]
    pub health: Health,
    /// When its content last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// The channel was taken out of the catalog: a client drops it and everything it held.
    /// (Only ever `true` on the wire; a channel that comes back is announced without it.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

fn default_colour() -> String {
    "#5b8def".to_owned()
}

/// The units a weather report's numbers are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeatherUnits {
    /// Temperature unit, `°C`.
    pub temperature: String,
    /// Wind speed unit, `km/h`.
    pub wind_speed: String,
    /// Precipitation unit, `mm`.
    pub precipitation: String,
}

impl Default for WeatherUnits {
    fn default() -> Self {
        Self {
            temperature: "°C".to_owned(),
            wind_speed: "km/h".to_owned(),
            precipitation: "mm".to_owned(),
        }
    }
}

/// A weather condition: the WMO weather code with a label and an icon name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// WMO weather interpretation code (0-99 in practice).
    pub code: u8,
    /// English label, e.g. "Partly cloudy".
    pub label: String,
    /// Icon name, e.g. `partly-cloudy`.
    pub icon: String,
}

/// Current conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentWeather {
    /// Air temperature.
    pub temperature: f64,
    /// Feels-like temperature.
    pub apparent_temperature: f64,
    /// Sky and precipitation.
    pub condition: Condition,
    /// Wind speed at 10 m.
    pub wind_speed: f64,
    /// Where the wind comes from, degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wind_direction_deg: Option<f64>,
    /// Relative humidity in percent.
    pub humidity_percent: f64,
    /// Whether the sun is up.
    #[serde(default = "yes")]
    pub is_day: bool,
}

fn yes() -> bool {
    true
}

/// One day of the forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyForecast {
    /// Local calendar date.
    pub date: NaiveDate,
    /// Highest temperature.
    pub high: f64,
    /// Lowest temperature.
    pub low: f64,
    /// Dominant condition.
    pub condition: Condition,
    /// Highest chance of precipitation that day, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precipitation_chance_percent: Option<f64>,
}

/// One hour of the hourly forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourlyForecast {
    /// The start of the hour.
    pub time: DateTime<Utc>,
    /// Air temperature.
    pub temperature: f64,
    /// Chance of precipitation, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precipitation_chance_percent: Option<f64>,
    /// Sky and precipitation (night icons while the sun is down).
    pub condition: Condition,
    /// Whether the sun is up.
    #[serde(default = "yes")]
    pub is_day: bool,
}

/// The most weather cells one stream may name (`weather=` on `GET /v1/stream`).
pub const MAX_WEATHER_CELLS: usize = 8;

/// The cell of a position: latitude and longitude rounded to 0.1°, written `"52.5,13.4"`
/// (never `-0.0`). Clients send it and look reports up by it; the server fetches per cell.
#[must_use]
pub fn weather_cell(latitude: f64, longitude: f64) -> String {
    let round = |value: f64| {
        let rounded = (value * 10.0).round() / 10.0;
        // Avoid "-0.0".
        if rounded == 0.0 { 0.0 } else { rounded }
    };
    format!("{:.1},{:.1}", round(latitude), round(longitude))
}

/// A weather report for one location cell (event `weather`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeatherReport {
    /// The weather channel.
    pub channel: ChannelId,
    /// The cell, `"<lat>,<lon>"` rounded to 0.1°, e.g. `"52.5,13.4"`.
    pub cell: String,
    /// Place name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// When the upstream observation was made.
    pub observed: DateTime<Utc>,
    /// Units of every number below.
    #[serde(default)]
    pub units: WeatherUnits,
    /// Conditions now.
    pub current: CurrentWeather,
    /// The next days, today first.
    #[serde(default)]
    pub daily: Vec<DailyForecast>,
    /// The next hours (48 from the current hour), oldest first; empty from servers that send
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hourly: Vec<HourlyForecast>,
    /// The cell's offset from UTC in seconds at `observed`: its wall clock, for naming hours
    /// and days. Absent from servers that send none (then a client uses its own time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_seconds: Option<i32>,
}

/// The requested history is no longer retained (event `gap`). A snapshot follows; a client
/// should treat it as the new truth for the channels it asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// The `Last-Event-ID` the client asked to resume after.
    pub requested: EventId,
    /// The oldest id the server could still replay after, if any history is retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<EventId>,
    /// Human-readable reason.
    #[serde(default)]
    pub reason: String,
}

/// The history part of a stream (snapshot or replay, possibly empty) is over; what follows is
/// live (event `live`, sent once per stream, without an `id:` so it moves nothing). Clients use
/// it to tell news from backlog: nothing before it is worth interrupting anyone for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {}

/// One protocol event: the SSE `event:` name selects the variant, `data:` holds its JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `item`
    Item(Item),
    /// `alert`
    Alert(Alert),
    /// `weather`
    Weather(WeatherReport),
    /// `retract`
    Retract(Retract),
    /// `channel`
    Channel(ChannelInfo),
    /// `gap`
    Gap(Gap),
    /// `live`
    Live(Live),
}

/// Why an event could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed {name} event: {source}")]
pub struct DecodeError {
    /// The SSE event name.
    pub name: String,
    /// The JSON error.
    #[source]
    pub source: serde_json::Error,
}

impl Event {
    /// The SSE `event:` name of this event.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Item(_) => "item",
            Self::Alert(_) => "alert",
            Self::Weather(_) => "weather",
            Self::Retract(_) => "retract",
            Self::Channel(_) => "channel",
            Self::Gap(_) => "gap",
            Self::Live(_) => "live",
        }
    }

    /// The channel the event concerns (`None` for `gap` and `live`, which concern the stream).
    #[must_use]
    pub fn channel(&self) -> Option<&ChannelId> {
        match self {
            Self::Item(item) => Some(&item.channel),
            Self::Alert(alert) => Some(&alert.channel),
            Self::Weather(report) => Some(&report.channel),
            Self::Retract(retract) => Some(&retract.channel),
            Self::Channel(info) => Some(&info.id),
            Self::Gap(_) | Self::Live(_) => None,
        }
    }

    /// The item key the event upserts or removes, if any.
    #[must_use]
    pub fn key(&self) -> Option<&ItemKey> {
        match self {
            Self::Item(item) => Some(&item.key),
            Self::Alert(alert) => Some(&alert.key),
            Self::Retract(retract) => Some(&retract.key),
            Self::Weather(_) | Self::Channel(_) | Self::Gap(_) | Self::Live(_) => None,
        }
    }

    /// The JSON `data:` payload (one line: serde_json never emits raw line breaks).
    pub fn to_json(&self) -> String {
        let result = match self {
            Self::Item(v) => serde_json::to_string(v),
            Self::Alert(v) => serde_json::to_string(v),
            Self::Weather(v) => serde_json::to_string(v),
            Self::Retract(v) => serde_json::to_string(v),
            Self::Channel(v) => serde_json::to_string(v),
            Self::Gap(v) => serde_json::to_string(v),
            Self::Live(v) => serde_json::to_string(v),
        };
        // Serialising these plain structs cannot fail: no maps with non-string keys, no
        // fallible Serialize impls. Keep a valid JSON value even so.
        result.unwrap_or_else(|_| "{}".to_owned())
    }

    /// Decodes an event from its SSE name and JSON data. Unknown names give `Ok(None)` so that
    /// older clients skip event types added later.
    pub fn decode(name: &str, data: &str) -> Result<Option<Self>, DecodeError> {
        let wrap = |source| DecodeError {
            name: name.to_owned(),
            source,
        };
        let event = match name {
            "item" => Self::Item(serde_json::from_str(data).map_err(wrap)?),
            "alert" => Self::Alert(serde_json::from_str(data).map_err(wrap)?),
            "weather" => Self::Weather(serde_json::from_str(data).map_err(wrap)?),
            "retract" => Self::Retract(serde_json::from_str(data).map_err(wrap)?),
            "channel" => Self::Channel(serde_json::from_str(data).map_err(wrap)?),
            "gap" => Self::Gap(serde_json::from_str(data).map_err(wrap)?),
            "live" => Self::Live(serde_json::from_str(data).map_err(wrap)?),
            _ => return Ok(None),
        };
        Ok(Some(event))
    }
}
