//! Severe-weather alerts from the US National Weather Service (`/alerts/active?point=`), per
//! subscribed cell, as living alerts.
//!
//! Each hazard is one alert, keyed by its VTEC event tracking number (office, phenomenon,
//! significance, number) so that every later message about it (continuation, extension,
//! correction) updates it in place; products without VTEC are chained by their CAP
//! `references`, remembered across restarts in the ingest state file ([`CapChains`]). A cancel
//! message marks it cancelled (shown briefly, then removed by the expiry sweep, and not brought
//! back while the cancel stays listed); when a hazard leaves the active list, or reaches its end
//! time, it is removed. Nothing is duplicated and
//! nothing stale stays. Keys are location-scoped (`@<cell>:…`, see
//! [`scoped_cell`](crate::server::log::scoped_cell)), so each alert reaches only the clients of
//! the cell it was fetched for.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::cells::{CellError, CellOutcome, PollCell, cell_coordinates};
use super::fetch::{Fetched, Fetcher, Validators};
use super::state::CapChains;
use super::text::truncate;
use crate::config::server::AlertSettings;
use crate::protocol::{
    Alert, AlertStatus, ChannelId, Event, ItemKey, Retract, RetractKind, Severity,
};
use crate::server::api::{MAX_ALERT_TEXT_CHARS, MAX_BODY_CHARS, MAX_TITLE_CHARS};
use crate::server::log::{EventKind, EventLog, NewEvent, StateChange, now_millis};

/// Whether a point lies in the area the NWS issues alerts for (the US states and territories,
/// by bounding boxes; points just across a border get an empty answer, which is harmless).
#[must_use]
pub fn in_nws_area(latitude: f64, longitude: f64) -> bool {
    const AREAS: [(f64, f64, f64, f64); 7] = [
        (24.0, 49.5, -125.0, -66.5),    // contiguous states
        (51.0, 71.6, -180.0, -129.0),   // Alaska
        (51.0, 53.1, 172.0, 180.0),     // the western Aleutians
        (18.5, 22.5, -161.0, -154.5),   // Hawaii
        (17.5, 18.8, -68.0, -64.5),     // Puerto Rico and the Virgin Islands
        (13.0, 20.7, 144.5, 146.2),     // Guam and the Northern Marianas
        (-14.8, -11.0, -171.2, -168.0), // American Samoa
    ];
    AREAS.iter().any(|&(south, north, west, east)| {
        (south..=north).contains(&latitude) && (west..=east).contains(&longitude)
    })
}

/// One CAP message as the NWS API returns it (the `properties` of a GeoJSON feature).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// CAP identifier.
    pub id: String,
    /// Affected areas in words.
    #[serde(default)]
    pub area_desc: Option<String>,
    /// When the message was sent.
    pub sent: DateTime<Utc>,
    /// When it takes effect.
    #[serde(default)]
    pub effective: Option<DateTime<Utc>>,
    /// When the hazard begins.
    #[serde(default)]
    pub onset: Option<DateTime<Utc>>,
    /// When the message expires.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    /// When the hazard ends.
    #[serde(default)]
    pub ends: Option<DateTime<Utc>>,
    /// `Actual`, `Exercise`, `System`, `Test` or `Draft`.
    pub status: String,
    /// `Alert`, `Update` or `Cancel`.
    pub message_type: String,
    /// `Extreme`, `Severe`, `Moderate`, `Minor` or `Unknown`.
    #[serde(default)]
    pub severity: String,
    /// `Immediate`, `Expected`, `Future`, `Past` or `Unknown`.
    #[serde(default)]
    pub urgency: String,
    /// The event type, e.g. "Tornado Warning".
    pub event: String,
    /// The issuing office.
    #[serde(default)]
    pub sender_name: Option<String>,
    /// One-line headline.
    #[serde(default)]
    pub headline: Option<String>,
    /// Full text.
    #[serde(default)]
    pub description: Option<String>,
    /// What to do.
    #[serde(default)]
    pub instruction: Option<String>,
    /// Earlier messages this one updates or cancels.
    #[serde(default)]
    pub references: Vec<Reference>,
    /// Extra parameters; `VTEC` is the one used here.
    #[serde(default)]
    pub parameters: HashMap<String, Vec<String>>,
}

/// A reference to an earlier message.
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    /// Its CAP identifier.
    pub identifier: String,
    /// When it was sent.
    #[serde(default)]
    pub sent: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Collection {
    features: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Feature {
    properties: Message,
}

/// Parses an `/alerts/active` answer. Features that cannot be read are skipped (and counted),
/// so one odd message cannot hide the others.
pub fn parse_active(body: &[u8]) -> Result<(Vec<Message>, usize), String> {
    let collection: Collection =
        serde_json::from_slice(body).map_err(|e| format!("not an NWS alert collection: {e}"))?;
    let mut skipped = 0;
    let messages = collection
        .features
        .into_iter()
        .filter_map(|feature| match serde_json::from_value::<Feature>(feature) {
            Ok(feature) => Some(feature.properties),
            Err(error) => {
                tracing::debug!(%error, "unreadable NWS alert skipped");
                skipped += 1;
                None
            }
        })
        .collect();
    Ok((messages, skipped))
}

/// A parsed VTEC string, `/O.CON.KTOP.SV.W.0045.260615T2200Z-260615T2330Z/`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Vtec {
    action: String,
    tracking: String,
}

fn vtec(text: &str) -> Option<Vtec> {
    let parts: Vec<&str> = text.trim().trim_matches('/').split('.').collect();
    match parts.as_slice() {
        [_, action, office, phenomenon, significance, number, ..] => Some(Vtec {
            action: (*action).to_owned(),
            tracking: format!("{office}.{phenomenon}.{significance}.{number}"),
        }),
        _ => None,
    }
}

impl Message {
    fn vtecs(&self) -> Vec<Vtec> {
        self.parameters
            .get("VTEC")
            .into_iter()
            .flatten()
            .filter_map(|text| vtec(text))
            .collect()
    }

    /// Whether every VTEC of this message ends its hazard (cancel, expiry, upgrade).
    fn ends_hazard(&self) -> bool {
        let vtecs = self.vtecs();
        !vtecs.is_empty()
            && vtecs
                .iter()
                .all(|v| matches!(v.action.as_str(), "CAN" | "EXP" | "UPG"))
    }

    /// The hazard this message is about: its VTEC tracking number (preferring one the message
    /// does not end), else the root of its reference chain.
    fn hazard(&self, chains: &HashMap<String, String>) -> String {
        let vtecs = self.vtecs();
        let live = vtecs
            .iter()
            .find(|v| !matches!(v.action.as_str(), "CAN" | "EXP" | "UPG"))
            .or_else(|| vtecs.first());
        if let Some(v) = live {
            return v.tracking.clone();
        }
        if let Some(known) = std::iter::once(&self.id)
            .chain(self.references.iter().map(|r| &r.identifier))
            .find_map(|id| chains.get(id))
        {
            return known.clone();
        }
        self.references
            .iter()
            .min_by_key(|r| r.sent)
            .map_or_else(|| self.id.clone(), |r| r.identifier.clone())
    }
}

fn severity(cap: &str) -> Severity {
    match cap {
        "Extreme" => Severity::Critical,
        "Severe" => Severity::Warning,
        "Minor" => Severity::Info,
        _ => Severity::Notice,
    }
}

/// NWS text comes hard-wrapped at about 70 columns: joins lines within paragraphs.
fn reflow(text: &str, limit: usize) -> Option<String> {
    let paragraphs: Vec<String> = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    (!paragraphs.is_empty()).then(|| truncate(&paragraphs.join("\n\n"), limit))
}

/// The alert key for `hazard` in `cell`.
fn alert_key(cell: &ItemKey, hazard: &str) -> Option<ItemKey> {
    let clean: String = hazard
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    let key = format!("@{cell}:nws:{clean}");
    let key: String = key.chars().take(200).collect();
    ItemKey::new(key).ok()
}

/// The key prefix of NWS alerts for `cell`.
fn cell_prefix(cell: &ItemKey) -> String {
    format!("@{cell}:nws:")
}

/// How [`reconcile`] shapes alerts.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// How long a cancelled alert stays visible (at most until the hazard's own end).
    pub cancelled_linger: chrono::Duration,
    /// Whether alerts link to the NWS forecast page for the cell (not for a stand-in such as
    /// the demo's).
    pub official: bool,
}

/// The CAP identifiers [`reconcile`] looks up in its chains for `messages`: each message's own
/// and those it references.
#[must_use]
pub fn chain_ids(messages: &[Message]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .flat_map(|m| std::iter::once(&m.id).chain(m.references.iter().map(|r| &r.identifier)))
        .cloned()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Builds the events that bring the stored NWS alerts of `cell` (`existing`) in line with the
/// active `messages`. Pure, so each lifecycle step is tested directly; `chains` remembers CAP
/// identifiers seen per hazard across polls (the caller loads and saves the entries for
/// [`chain_ids`] so they outlive a restart).
#[must_use]
pub fn reconcile(
    channel: &ChannelId,
    cell: &ItemKey,
    existing: &[Alert],
    messages: &[Message],
    chains: &mut HashMap<String, String>,
    now: DateTime<Utc>,
    rules: Rules,
) -> Vec<NewEvent> {
    let mut sorted: Vec<&Message> = messages.iter().filter(|m| m.status == "Actual").collect();
    sorted.sort_by_key(|m| m.sent);
    let mut latest: BTreeMap<String, &Message> = BTreeMap::new();
    for message in sorted {
        let hazard = message.hazard(chains);
        chains.insert(message.id.clone(), hazard.clone());
        for reference in &message.references {
            chains
                .entry(reference.identifier.clone())
                .or_insert_with(|| hazard.clone());
        }
        latest.insert(hazard, message);
    }
    let by_key: HashMap<&str, &Alert> = existing.iter().map(|a| (a.key.as_str(), a)).collect();
    let mut events = Vec::new();
    let mut current = std::collections::HashSet::new();
    for (hazard, message) in latest {
        let Some(key) = alert_key(cell, &hazard) else {
            continue;
        };
        let previous = by_key.get(key.as_str()).copied();
        let cancelled = message.message_type == "Cancel" || message.ends_hazard();
        let end = message.ends.into_iter().chain(message.expires).max();
        if end.is_some_and(|end| end <= now) {
            continue; // over already: leave it out (and remove it, below)
        }
        if cancelled && previous.is_none() {
            // Nothing shown to cancel: never seen, or its cancelled time is over and the sweep
            // removed it. The NWS lists a cancel until it expires; showing it again would
            // bring the alert back for another linger.
            continue;
        }
        let status = if cancelled {
            AlertStatus::Cancelled
        } else if previous.is_some() || message.message_type == "Update" {
            AlertStatus::Updated
        } else {
            AlertStatus::Active
        };
        let expires = if cancelled {
            let linger = now + rules.cancelled_linger;
            match previous {
                // Seeing the cancel again does not restart its remaining time.
                Some(p) if p.status == AlertStatus::Cancelled => p.expires,
                _ => Some(end.map_or(linger, |end| end.min(linger))),
            }
        } else {
            end
        };
        let (latitude, longitude) = cell_coordinates(cell).unwrap_or_default();
        let title = message
            .headline
            .as_deref()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or(&message.event);
        let alert = Alert {
            channel: channel.clone(),
            key: key.clone(),
            status,
            severity: severity(&message.severity),
            title: truncate(title.trim(), MAX_TITLE_CHARS),
            event: Some(message.event.clone()),
            body: message
                .description
                .as_deref()
                .and_then(|d| reflow(d, MAX_BODY_CHARS)),
            instruction: message
                .instruction
                .as_deref()
                .and_then(|i| reflow(i, MAX_ALERT_TEXT_CHARS)),
            area: message
                .area_desc
                .as_deref()
                .map(|a| truncate(a.trim(), MAX_ALERT_TEXT_CHARS)),
            link: rules.official.then(|| {
                format!("https://forecast.weather.gov/MapClick.php?lat={latitude}&lon={longitude}")
            }),
            source: Some(
                message
                    .sender_name
                    .clone()
                    .unwrap_or_else(|| "National Weather Service".to_owned()),
            ),
            onset: message.onset.or(message.effective),
            published: previous.map_or(message.sent, |p| p.published),
            updated: message.sent,
            expires,
        };
        current.insert(key.clone());
        if previous.is_some_and(|p| same_alert(p, &alert)) {
            continue;
        }
        events.push(NewEvent {
            channel: channel.clone(),
            kind: EventKind::Alert,
            data: Event::Alert(alert).to_json(),
            change: StateChange::Upsert {
                key,
                expires_millis: expires.and_then(|at| u64::try_from(at.timestamp_millis()).ok()),
            },
        });
    }
    for gone in existing.iter().filter(|a| !current.contains(&a.key)) {
        events.push(NewEvent {
            channel: channel.clone(),
            kind: EventKind::Retract,
            data: Event::Retract(Retract {
                channel: channel.clone(),
                key: gone.key.clone(),
                kind: RetractKind::Alert,
                reason: Some("no longer in effect".to_owned()),
            })
            .to_json(),
            change: StateChange::Remove {
                key: gone.key.clone(),
                kind: RetractKind::Alert,
            },
        });
    }
    events
}

/// Equal apart from the status word (a re-sent unchanged message is not an update).
fn same_alert(old: &Alert, new: &Alert) -> bool {
    let status_matches = old.status == new.status
        || (old.status != AlertStatus::Cancelled && new.status != AlertStatus::Cancelled);
    status_matches
        && Alert {
            status: old.status,
            updated: old.updated,
            ..new.clone()
        } == *old
}

/// Fetches a cell's active alerts and reconciles the stored ones with them.
pub struct NwsPoll {
    /// Shared HTTP client.
    pub fetcher: Fetcher,
    /// NWS API base URL.
    pub base_url: String,
    /// The alerts channel.
    pub channel: ChannelId,
    /// Where alerts go.
    pub log: Arc<dyn EventLog>,
    /// Whether cells outside the NWS area are skipped.
    pub us_only: bool,
    /// How long a cancelled alert stays visible.
    pub cancelled_linger: std::time::Duration,
    /// Per cell: validators for conditional requests.
    validators: Mutex<HashMap<ItemKey, Validators>>,
    /// CAP identifier → hazard, for products without VTEC.
    chains: Mutex<HashMap<String, String>>,
    /// Where `chains` is kept across restarts (none: in memory only).
    saved_chains: Option<CapChains>,
}

impl NwsPoll {
    /// A poller for `channel` following `settings`, keeping CAP chains in `saved_chains`.
    #[must_use]
    pub fn new(
        fetcher: Fetcher,
        settings: &AlertSettings,
        channel: ChannelId,
        log: Arc<dyn EventLog>,
        saved_chains: Option<CapChains>,
    ) -> Self {
        Self {
            fetcher,
            base_url: settings.nws_url.clone(),
            channel,
            log,
            us_only: settings.us_only,
            cancelled_linger: settings.cancelled_linger,
            validators: Mutex::new(HashMap::new()),
            chains: Mutex::new(HashMap::new()),
            saved_chains,
        }
    }

    /// Makes sure `chains` holds what the store knows about `ids` (after a restart, the
    /// messages an update references were seen by an earlier process).
    async fn recall_chains(&self, ids: &[String]) {
        let Some(saved) = &self.saved_chains else {
            return;
        };
        let missing: Vec<String> = {
            let chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
            ids.iter()
                .filter(|id| !chains.contains_key(*id))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        let found = saved.load(missing).await;
        let mut chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        for (id, hazard) in found {
            chains.entry(id).or_insert(hazard);
        }
    }

    async fn poll_cell(&self, cell: &ItemKey) -> Result<(), CellError> {
        let Some((latitude, longitude)) = cell_coordinates(cell) else {
            return Err(format!("{cell} is not a location").into());
        };
        if self.us_only && !in_nws_area(latitude, longitude) {
            return Ok(()); // outside the NWS's area this source has nothing to say
        }
        let url = format!(
            "{}/alerts/active?point={latitude},{longitude}",
            self.base_url
        );
        let validators = self
            .validators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(cell)
            .cloned()
            .unwrap_or_default();
        let (body, validators) = match self.fetcher.fetch(&url, &validators).await {
            Ok(Fetched::Modified {
                body, validators, ..
            }) => (body, validators),
            Ok(Fetched::NotModified { .. }) => return Ok(()),
            Err(error) => return Err(CellError::fetch(&format!("alerts for {cell}"), &error)),
        };
        let (messages, skipped) =
            parse_active(&body).map_err(|e| format!("alerts for {cell}: {e}"))?;
        if skipped > 0 {
            tracing::warn!(%cell, skipped, "NWS alerts that could not be read were skipped");
        }
        let prefix = cell_prefix(cell);
        let existing: Vec<Alert> = self
            .log
            .entries(&self.channel, 10_000)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|e| {
                e.kind == EventKind::Alert
                    && e.key
                        .as_ref()
                        .is_some_and(|k| k.as_str().starts_with(&prefix))
            })
            .filter_map(|e| match Event::decode("alert", &e.data) {
                Ok(Some(Event::Alert(alert))) => Some(alert),
                _ => None,
            })
            .collect();
        let rules = Rules {
            cancelled_linger: chrono::Duration::from_std(self.cancelled_linger)
                .unwrap_or(chrono::Duration::zero()),
            official: self.base_url == AlertSettings::default().nws_url,
        };
        let ids = chain_ids(&messages);
        self.recall_chains(&ids).await;
        let (events, links) = {
            let mut chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
            let before: Vec<Option<String>> =
                ids.iter().map(|id| chains.get(id).cloned()).collect();
            let events = reconcile(
                &self.channel,
                cell,
                &existing,
                &messages,
                &mut chains,
                Utc::now(),
                rules,
            );
            let links: Vec<(String, String)> = ids
                .iter()
                .zip(before)
                .filter_map(|(id, before)| {
                    let hazard = chains.get(id)?;
                    (before.as_ref() != Some(hazard)).then(|| (id.clone(), hazard.clone()))
                })
                .collect();
            (events, links)
        };
        if !events.is_empty() {
            self.log.append(events).await.map_err(|e| e.to_string())?;
        }
        if let Some(saved) = &self.saved_chains
            && !links.is_empty()
        {
            saved.save(links, now_millis()).await;
        }
        // Only now: a failed append must not turn the next poll into a 304 that skips it.
        self.validators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cell.clone(), validators);
        Ok(())
    }
}

impl PollCell for NwsPoll {
    async fn poll(&self, cell: &ItemKey) -> CellOutcome {
        match self.poll_cell(cell).await {
            Ok(()) => CellOutcome::Fresh,
            Err(error) => CellOutcome::Failed(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const CELL: &str = "39.1,-94.6";

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// An NWS feature as the API sends it.
    fn feature(
        id: &str,
        kind: &str,
        vtec: Option<&str>,
        references: &[&str],
        headline: &str,
    ) -> Value {
        let mut parameters = json!({"NWSheadline": [headline]});
        if let Some(vtec) = vtec {
            parameters["VTEC"] = json!([vtec]);
        }
        json!({
            "id": format!("https://api.weather.gov/alerts/{id}"),
            "type": "Feature",
            "geometry": null,
            "properties": {
                "@id": format!("https://api.weather.gov/alerts/{id}"),
                "id": id,
                "areaDesc": "Wyandotte, KS; Jackson, MO",
                "sent": "2026-06-15T17:45:00-05:00",
                "effective": "2026-06-15T17:45:00-05:00",
                "onset": "2026-06-15T17:45:00-05:00",
                "expires": "2026-06-15T18:30:00-05:00",
                "ends": "2026-06-15T18:30:00-05:00",
                "status": "Actual",
                "messageType": kind,
                "category": "Met",
                "severity": "Severe",
                "certainty": "Observed",
                "urgency": "Immediate",
                "event": "Severe Thunderstorm Warning",
                "senderName": "NWS Kansas City/Pleasant Hill MO",
                "headline": headline,
                "description": "At 545 PM CDT, a severe thunderstorm was located near\nKansas City, moving east at 30 mph.\n\nHAZARD...60 mph wind gusts.",
                "instruction": "For your protection move to an interior room on the lowest\nfloor of a building.",
                "response": "Shelter",
                "references": references.iter().enumerate().map(|(i, r)| json!({
                    "@id": format!("https://api.weather.gov/alerts/{r}"),
                    "identifier": r,
                    "sender": "w-nws.webmaster@noaa.gov",
                    "sent": format!("2026-06-15T17:{:02}:00-05:00", 30 + i),
                })).collect::<Vec<_>>(),
                "parameters": parameters,
            }
        })
    }

    fn collection(features: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap()
    }

    struct Rig {
        channel: ChannelId,
        cell: ItemKey,
        stored: Vec<Alert>,
        chains: HashMap<String, String>,
        /// What the ingest state file holds: survives a "restart" (clearing `chains`).
        saved_chains: HashMap<String, String>,
        now: DateTime<Utc>,
    }

    impl Rig {
        fn new() -> Self {
            Self {
                channel: ChannelId::new("alerts").unwrap(),
                cell: ItemKey::new(CELL).unwrap(),
                stored: Vec::new(),
                chains: HashMap::new(),
                saved_chains: HashMap::new(),
                now: at("2026-06-15T22:50:00Z"),
            }
        }

        /// Polls once with `features` and applies the resulting events; returns them decoded.
        fn poll(&mut self, features: &[Value]) -> Vec<Event> {
            let (messages, skipped) = parse_active(&collection(features)).unwrap();
            assert_eq!(skipped, 0);
            // As NwsPoll does: recall what the store knows, save what was learnt.
            let ids = chain_ids(&messages);
            for id in &ids {
                if let Some(hazard) = self.saved_chains.get(id) {
                    self.chains
                        .entry(id.clone())
                        .or_insert_with(|| hazard.clone());
                }
            }
            let events = reconcile(
                &self.channel,
                &self.cell,
                &self.stored,
                &messages,
                &mut self.chains,
                self.now,
                Rules {
                    cancelled_linger: linger(),
                    official: true,
                },
            );
            for id in &ids {
                if let Some(hazard) = self.chains.get(id) {
                    self.saved_chains.insert(id.clone(), hazard.clone());
                }
            }
            let decoded: Vec<Event> = events
                .iter()
                .map(|e| Event::decode(e.kind.as_str(), &e.data).unwrap().unwrap())
                .collect();
            for event in &decoded {
                match event {
                    Event::Alert(alert) => {
                        self.stored.retain(|a| a.key != alert.key);
                        self.stored.push(alert.clone());
                    }
                    Event::Retract(retract) => self.stored.retain(|a| a.key != retract.key),
                    other => panic!("unexpected {other:?}"),
                }
            }
            decoded
        }
    }

    fn linger() -> chrono::Duration {
        chrono::Duration::from_std(AlertSettings::default().cancelled_linger).unwrap()
    }

    const VTEC_NEW: &str = "/O.NEW.KEAX.SV.W.0045.260615T2245Z-260615T2330Z/";
    const VTEC_CON: &str = "/O.CON.KEAX.SV.W.0045.000000T0000Z-260615T2330Z/";
    const VTEC_CAN: &str = "/O.CAN.KEAX.SV.W.0045.000000T0000Z-260615T2330Z/";

    #[test]
    fn a_new_hazard_becomes_one_alert_with_its_cap_fields() {
        let mut rig = Rig::new();
        let events = rig.poll(&[feature(
            "urn:a1",
            "Alert",
            Some(VTEC_NEW),
            &[],
            "Severe Thunderstorm Warning until 6:30PM",
        )]);
        let [Event::Alert(alert)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(alert.key.as_str(), "@39.1,-94.6:nws:KEAX.SV.W.0045");
        assert_eq!(
            crate::server::log::scoped_cell(alert.key.as_str()),
            Some(CELL)
        );
        assert_eq!(alert.status, AlertStatus::Active);
        assert_eq!(alert.severity, Severity::Warning);
        assert_eq!(alert.title, "Severe Thunderstorm Warning until 6:30PM");
        assert_eq!(alert.event.as_deref(), Some("Severe Thunderstorm Warning"));
        assert_eq!(
            alert.body.as_deref(),
            Some(
                "At 545 PM CDT, a severe thunderstorm was located near Kansas City, moving east at 30 mph.\n\nHAZARD...60 mph wind gusts."
            )
        );
        assert!(
            alert
                .instruction
                .as_deref()
                .unwrap()
                .starts_with("For your protection move to an interior room on the lowest floor")
        );
        assert_eq!(alert.area.as_deref(), Some("Wyandotte, KS; Jackson, MO"));
        assert_eq!(
            alert.source.as_deref(),
            Some("NWS Kansas City/Pleasant Hill MO")
        );
        assert_eq!(alert.onset, Some(at("2026-06-15T22:45:00Z")));
        assert_eq!(alert.expires, Some(at("2026-06-15T23:30:00Z")));
        assert!(
            alert
                .link
                .as_deref()
                .unwrap()
                .starts_with("https://forecast.weather.gov/")
        );
    }

    #[test]
    fn the_same_answer_again_changes_nothing() {
        let mut rig = Rig::new();
        let features = [feature("urn:a1", "Alert", Some(VTEC_NEW), &[], "Warning")];
        assert_eq!(rig.poll(&features).len(), 1);
        assert!(rig.poll(&features).is_empty());
        assert!(rig.poll(&features).is_empty());
    }

    #[test]
    fn an_update_replaces_the_alert_in_place() {
        let mut rig = Rig::new();
        rig.poll(&[feature(
            "urn:a1",
            "Alert",
            Some(VTEC_NEW),
            &[],
            "Warning until 6:30PM",
        )]);
        let published = rig.stored[0].published;
        let mut update = feature(
            "urn:a2",
            "Update",
            Some(VTEC_CON),
            &["urn:a1"],
            "Warning remains in effect until 6:30PM",
        );
        update["properties"]["sent"] = json!("2026-06-15T18:05:00-05:00");
        update["properties"]["severity"] = json!("Extreme");
        let events = rig.poll(&[update]);
        let [Event::Alert(alert)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(alert.key.as_str(), "@39.1,-94.6:nws:KEAX.SV.W.0045");
        assert_eq!(alert.status, AlertStatus::Updated);
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(alert.title, "Warning remains in effect until 6:30PM");
        assert_eq!(alert.published, published, "first publication time is kept");
        assert_eq!(alert.updated, at("2026-06-15T23:05:00Z"));
        assert_eq!(rig.stored.len(), 1, "no duplicate");
    }

    #[test]
    fn a_cancel_marks_it_cancelled_briefly_then_it_goes() {
        let mut rig = Rig::new();
        rig.poll(&[feature("urn:a1", "Alert", Some(VTEC_NEW), &[], "Warning")]);
        let cancel = feature(
            "urn:a3",
            "Cancel",
            Some(VTEC_CAN),
            &["urn:a1"],
            "The warning has been cancelled",
        );
        let events = rig.poll(std::slice::from_ref(&cancel));
        let [Event::Alert(alert)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(alert.status, AlertStatus::Cancelled);
        let expires = alert.expires.unwrap();
        assert!(expires <= rig.now + linger());
        // Seeing the cancel again later does not extend its time.
        rig.now += chrono::Duration::seconds(60);
        assert!(rig.poll(&[cancel]).is_empty());
        assert_eq!(rig.stored[0].expires, Some(expires));
        // Once the NWS drops it from the active list, it is removed.
        let events = rig.poll(&[]);
        let [Event::Retract(retract)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(retract.kind, RetractKind::Alert);
        assert_eq!(retract.reason.as_deref(), Some("no longer in effect"));
        assert!(rig.stored.is_empty());
    }

    #[test]
    fn an_alert_past_its_end_is_removed_and_not_brought_back() {
        let mut rig = Rig::new();
        let features = [feature("urn:a1", "Alert", Some(VTEC_NEW), &[], "Warning")];
        rig.poll(&features);
        rig.now = at("2026-06-15T23:31:00Z");
        let events = rig.poll(&features);
        assert!(
            matches!(events.as_slice(), [Event::Retract(_)]),
            "{events:?}"
        );
        assert!(rig.poll(&features).is_empty());
        assert!(rig.stored.is_empty());
    }

    #[test]
    fn products_without_vtec_chain_by_their_references_even_after_a_restart() {
        let mut rig = Rig::new();
        let mut first = feature("urn:s1", "Alert", None, &[], "Special Weather Statement");
        first["properties"]["severity"] = json!("Moderate");
        rig.poll(&[first]);
        let key = rig.stored[0].key.clone();
        assert_eq!(key.as_str(), "@39.1,-94.6:nws:urn:s1");
        assert_eq!(rig.stored[0].severity, Severity::Notice);
        let second = feature("urn:s2", "Update", None, &["urn:s1"], "Statement updated");
        rig.poll(&[second]);
        // The server restarted: memory is gone, the log and the ingest state file remain.
        // (Before the chains were saved, the third message got a new key: a retract plus a
        // new alert instead of an update.)
        rig.chains.clear();
        let third = feature(
            "urn:s3",
            "Update",
            None,
            &["urn:s2"],
            "Statement updated again",
        );
        let events = rig.poll(&[third]);
        let [Event::Alert(alert)] = events.as_slice() else {
            panic!("one in-place update: {events:?}")
        };
        assert_eq!(alert.key, key);
        assert_eq!(alert.status, AlertStatus::Updated);
        assert_eq!(alert.title, "Statement updated again");
        assert_eq!(rig.stored.len(), 1);
        // Without the restart the chain keeps one key throughout.
        let mut rig = Rig::new();
        rig.poll(&[feature("urn:s1", "Alert", None, &[], "A")]);
        rig.poll(&[feature("urn:s2", "Update", None, &["urn:s1"], "B")]);
        rig.poll(&[feature("urn:s3", "Update", None, &["urn:s2"], "C")]);
        assert_eq!(rig.stored.len(), 1);
        assert_eq!(rig.stored[0].key, key);
        assert_eq!(rig.stored[0].title, "C");
    }

    #[test]
    fn a_cancel_still_listed_after_its_alert_went_does_not_bring_it_back() {
        let mut rig = Rig::new();
        rig.poll(&[feature("urn:a1", "Alert", Some(VTEC_NEW), &[], "Warning")]);
        let cancel = feature("urn:a3", "Cancel", Some(VTEC_CAN), &["urn:a1"], "Cancelled");
        assert_eq!(rig.poll(std::slice::from_ref(&cancel)).len(), 1);
        // The expiry sweep removes it when its cancelled time is over...
        rig.stored.clear();
        rig.now += linger();
        // ...and the NWS still listing the cancel does not show it again.
        assert!(rig.poll(std::slice::from_ref(&cancel)).is_empty());
        assert!(rig.stored.is_empty());
        // Nor does a cancel for an alert never shown here.
        let mut rig = Rig::new();
        assert!(rig.poll(&[cancel]).is_empty());
    }

    #[test]
    fn tests_exercises_and_drafts_are_ignored() {
        let mut rig = Rig::new();
        let mut test = feature("urn:t1", "Alert", Some(VTEC_NEW), &[], "Test");
        test["properties"]["status"] = json!("Test");
        assert!(rig.poll(&[test]).is_empty());
    }

    #[test]
    fn an_upgrade_keys_the_new_warning_and_drops_the_watch() {
        let mut rig = Rig::new();
        rig.poll(&[feature(
            "urn:w1",
            "Alert",
            Some("/O.NEW.KEAX.WS.A.0003.261201T0000Z-261202T0000Z/"),
            &[],
            "Winter Storm Watch",
        )]);
        assert_eq!(rig.stored[0].key.as_str(), "@39.1,-94.6:nws:KEAX.WS.A.0003");
        let mut upgrade = feature(
            "urn:w2",
            "Update",
            None,
            &["urn:w1"],
            "Winter Storm Warning",
        );
        upgrade["properties"]["parameters"]["VTEC"] = json!([
            "/O.UPG.KEAX.WS.A.0003.261201T0000Z-261202T0000Z/",
            "/O.NEW.KEAX.WS.W.0007.261201T0000Z-261202T0000Z/"
        ]);
        rig.poll(&[upgrade]);
        assert_eq!(rig.stored.len(), 1);
        assert_eq!(rig.stored[0].key.as_str(), "@39.1,-94.6:nws:KEAX.WS.W.0007");
        assert_eq!(rig.stored[0].status, AlertStatus::Updated);
    }

    #[test]
    fn unreadable_features_are_skipped_and_bad_documents_are_errors() {
        let good = feature("urn:a1", "Alert", Some(VTEC_NEW), &[], "Warning");
        let body = collection(&[json!({"properties": {"id": 5}}), good]);
        let (messages, skipped) = parse_active(&body).unwrap();
        assert_eq!((messages.len(), skipped), (1, 1));
        assert!(
            parse_active(b"<html>")
                .unwrap_err()
                .contains("not an NWS alert collection")
        );
        assert!(parse_active(b"{}").is_err());
    }

    #[test]
    fn the_nws_area_is_the_us_and_its_territories() {
        for (lat, lon) in [
            (39.1, -94.6),
            (61.2, -149.9),
            (21.3, -157.9),
            (18.4, -66.1),
            (13.5, 144.8),
        ] {
            assert!(in_nws_area(lat, lon), "{lat},{lon}");
        }
        for (lat, lon) in [(52.5, 13.4), (-33.9, 151.2), (35.7, 139.7), (19.4, -99.1)] {
            assert!(!in_nws_area(lat, lon), "{lat},{lon}");
        }
    }
}
