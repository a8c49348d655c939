//! Request and response bodies of the HTTP API (publish, errors).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{AlertStatus, Severity};
use super::id::{ChannelId, EventId, ItemKey};

/// Body of `POST /v1/channels/{id}/items` (`application/json`). With `text/plain` the whole
/// body is the title. The server validates every field and names the first bad one in a 422.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishRequest {
    /// Headline, required, at most 300 characters.
    #[serde(default)]
    pub title: String,
    /// Plain-text body, at most 8,000 characters; line breaks are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Absolute `http`/`https` link, at most 2,048 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// `info` (default), `notice`, `warning` or `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Item key; publishing the same key again updates that item. Generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ItemKey>,
    /// When the item goes away (RFC 3339, in the future).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// Alerts channels only: `cancelled` calls an alert off; otherwise ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    /// Alerts channels only: the affected area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Alerts channels only: what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
}

/// Body of a `201 Created` answer to a publish, and of a `200` answer to a retract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishResponse {
    /// The channel published to.
    pub channel: ChannelId,
    /// The item's key (the one given, or the generated one).
    pub key: ItemKey,
    /// The id of the event in the log.
    pub event_id: EventId,
    /// The event type written: `item`, `alert` or `retract`.
    pub event: String,
    /// Whether an existing item with that key was replaced (or removed, for a retract).
    pub updated: bool,
}

/// Every error answer of the HTTP API: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The detail of an error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `unknown_channel`, `invalid_field`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, for `invalid_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The answer of `GET /v1/geocode?q=NAME`: places matching a name, best first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeocodeResponse {
    /// Matching places; empty when none.
    #[serde(default)]
    pub results: Vec<Place>,
}

/// A place found by name, for the weather location picker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Its name, e.g. "Springfield".
    pub name: String,
    /// State, province or region, e.g. "Illinois".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Country name, e.g. "United States".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. "US".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// IANA time zone, e.g. "America/Chicago".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Population, when known (helps tell places of one name apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<u64>,
}

impl Place {
    /// "Name, Region, Country" without empty or repeated parts.
    #[must_use]
    pub fn label(&self) -> String {
        let mut parts: Vec<&str> = vec![self.name.as_str()];
        for part in [self.region.as_deref(), self.country.as_deref()]
            .into_iter()
            .flatten()
        {
            if !part.is_empty() && !parts.contains(&part) {
                parts.push(part);
            }
        }
        parts.join(", ")
    }
}
