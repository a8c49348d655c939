//! The client's picture of the world: channels, their items and alerts, weather per location,
//! read state. Pure: no I/O, no clocks except the `now` callers pass in.
//!
//! [`Store::apply`] takes protocol events in stream order and returns what changed, so the app
//! can decide what deserves a notification without diffing. Events are de-duplicated by event
//! id and item key: an item event older than what the store holds for that key is stale (a
//! replay overlapping a snapshot, a duplicate after a reconnect) and changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::protocol::{
    Alert, AlertStatus, ChannelId, ChannelInfo, Event, EventId, Item, ItemKey, RetractKind,
    Severity, WeatherReport,
};

/// Read marks kept before those of vanished items are forgotten.
const READ_MARKS_BEFORE_COMPACTING: usize = 10_000;

/// Most items kept per channel (oldest dropped first).
pub const DEFAULT_ITEMS_PER_CHANNEL: usize = 200;

/// An item with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredItem {
    /// The item as last received.
    pub item: Item,
    /// The id of the event that last wrote it (absent for ids from other servers).
    pub event_id: Option<EventId>,
    /// Whether the user has seen it.
    pub read: bool,
}

/// An alert with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// The alert as last received.
    pub alert: Alert,
    /// The id of the event that last wrote it.
    pub event_id: Option<EventId>,
    /// Whether the user has acknowledged it.
    pub read: bool,
}

/// One channel's state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChannelState {
    /// Metadata, once the server sent it.
    pub info: Option<ChannelInfo>,
    /// Items, newest first (by publication time).
    pub items: Vec<StoredItem>,
    /// Live alerts, most severe first, then newest.
    pub alerts: Vec<StoredAlert>,
}

impl ChannelState {
    /// Items not yet read.
    #[must_use]
    pub fn unread(&self) -> usize {
        self.items.iter().filter(|i| !i.read).count()
    }

    /// The live alerts with each hazard once (see [`Store::distinct_alerts`]), in order.
    #[must_use]
    pub fn distinct_alerts(&self) -> Vec<&StoredAlert> {
        let mut seen: Vec<&str> = Vec::new();
        self.alerts
            .iter()
            .filter(|stored| {
                let hazard = hazard_key(&stored.alert.key);
                let first = !seen.contains(&hazard);
                seen.push(hazard);
                first
            })
            .collect()
    }
}

/// What one applied event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new item.
    ItemAdded {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
        /// How much it matters.
        severity: Severity,
    },
    /// An existing item changed (same key).
    ItemUpdated {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
        /// Whether its title changed (worth showing again).
        title_changed: bool,
    },
    /// An item went away.
    ItemRemoved {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
    },
    /// A new alert.
    AlertRaised {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
        /// How much it matters.
        severity: Severity,
    },
    /// An alert changed; `escalated` if its severity went up.
    AlertUpdated {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
        /// Severity rose.
        escalated: bool,
    },
    /// An alert was called off.
    AlertCancelled {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
    },
    /// An alert went away.
    AlertRemoved {
        /// Where.
        channel: ChannelId,
        /// Which.
        key: ItemKey,
    },
    /// New weather for a cell.
    Weather {
        /// The cell.
        cell: String,
    },
    /// Channel metadata or health changed.
    Channel {
        /// Which.
        channel: ChannelId,
    },
    /// A channel was taken out of the catalog, with everything it held.
    ChannelRemoved {
        /// Which.
        channel: ChannelId,
    },
    /// History was lost (`gap`): content was cleared; a snapshot follows.
    Reset,
}

/// The whole client state. Serialisable as the offline cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Store {
    channels: BTreeMap<ChannelId, ChannelState>,
    weather: HashMap<String, WeatherReport>,
    /// Keys the user has read, kept across resets so a re-sent item stays read.
    read_keys: HashSet<(ChannelId, ItemKey)>,
    items_per_channel: usize,
    /// Channel ids in the order the server first described them (its catalog order).
    #[serde(default)]
    catalog: Vec<ChannelId>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(DEFAULT_ITEMS_PER_CHANNEL)
    }
}

/// Whether `key` is a feed item's: the server makes those from the feed's URL and the entry's
/// identity (32 hex digits), the same whichever channel the feed is in, so a story read
/// before its feed moved to another channel is still read there.
fn feed_key(key: &ItemKey) -> bool {
    let key = key.as_str();
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

fn newer(incoming: Option<EventId>, stored: Option<EventId>) -> bool {
    match (incoming, stored) {
        (Some(incoming), Some(stored)) => incoming > stored,
        // Without ids (another server kind) the stream order is all we have.
        _ => true,
    }
}

impl Store {
    /// An empty store keeping at most `items_per_channel` items per channel.
    #[must_use]
    pub fn new(items_per_channel: usize) -> Self {
        Self {
            channels: BTreeMap::new(),
            weather: HashMap::new(),
            read_keys: HashSet::new(),
            items_per_channel: items_per_channel.max(1),
            catalog: Vec::new(),
        }
    }

    /// Channels in id order.
    pub fn channels(&self) -> impl Iterator<Item = (&ChannelId, &ChannelState)> {
        self.channels.iter()
    }

    /// The described channels in the server's catalog order (then any others by id).
    #[must_use]
    pub fn catalog(&self) -> Vec<ChannelId> {
        let mut ids: Vec<ChannelId> = self
            .catalog
            .iter()
            .filter(|id| self.channels.get(*id).is_some_and(|c| c.info.is_some()))
            .cloned()
            .collect();
        for (id, channel) in &self.channels {
            if channel.info.is_some() && !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }

    /// One channel.
    #[must_use]
    pub fn channel(&self, id: &ChannelId) -> Option<&ChannelState> {
        self.channels.get(id)
    }

    /// Weather for a cell.
    #[must_use]
    pub fn weather(&self, cell: &str) -> Option<&WeatherReport> {
        self.weather.get(cell)
    }

    /// Every live alert, most severe first.
    #[must_use]
    pub fn alerts(&self) -> Vec<&StoredAlert> {
        let mut alerts: Vec<&StoredAlert> = self
            .channels
            .values()
            .flat_map(|c| c.alerts.iter())
            .collect();
        alerts.sort_by(|a, b| {
            b.alert
                .severity
                .cmp(&a.alert.severity)
                .then(b.alert.updated.cmp(&a.alert.updated))
        });
        alerts
    }

    /// [`Store::alerts`] with each hazard once: the server sends a location-scoped alert
    /// (`@<cell>:<hazard>`) once per place's cell, and a warning for a county that holds two
    /// of the user's places is one warning. The most severe, newest copy stands for the rest.
    #[must_use]
    pub fn distinct_alerts(&self) -> Vec<&StoredAlert> {
        let mut seen: Vec<(&ChannelId, &str)> = Vec::new();
        self.alerts()
            .into_iter()
            .filter(|stored| {
                let hazard = (&stored.alert.channel, hazard_key(&stored.alert.key));
                let first = !seen.contains(&hazard);
                seen.push(hazard);
                first
            })
            .collect()
    }

    /// Applies one event (with its id, when it has one) and says what changed.
    pub fn apply(&mut self, event_id: Option<EventId>, event: Event) -> Vec<Change> {
        match event {
            Event::Item(item) => self.apply_item(event_id, item),
            Event::Alert(alert) => self.apply_alert(event_id, alert),
            Event::Retract(retract) => {
                let channel = self.channels.entry(retract.channel.clone()).or_default();
                match retract.kind {
                    RetractKind::Item => {
                        let before = channel.items.len();
                        channel
                            .items
                            .retain(|s| s.item.key != retract.key || !newer(event_id, s.event_id));
                        if channel.items.len() == before {
                            return Vec::new();
                        }
                        vec![Change::ItemRemoved {
                            channel: retract.channel,
                            key: retract.key,
                        }]
                    }
                    RetractKind::Alert => {
                        let before = channel.alerts.len();
                        channel
                            .alerts
                            .retain(|s| s.alert.key != retract.key || !newer(event_id, s.event_id));
                        if channel.alerts.len() == before {
                            return Vec::new();
                        }
                        vec![Change::AlertRemoved {
                            channel: retract.channel,
                            key: retract.key,
                        }]
                    }
                }
            }
            Event::Weather(report) => {
                let cell = report.cell.clone();
                if self
                    .weather
                    .get(&cell)
                    .is_some_and(|old| old.observed > report.observed)
                {
                    return Vec::new();
                }
                self.weather.insert(cell.clone(), report);
                vec![Change::Weather { cell }]
            }
            Event::Channel(info) if info.removed => {
                let id = info.id;
                let known = self.channels.remove(&id).is_some();
                self.catalog.retain(|c| *c != id);
                self.read_keys.retain(|(channel, _)| *channel != id);
                if known {
                    vec![Change::ChannelRemoved { channel: id }]
                } else {
                    Vec::new()
                }
            }
            Event::Channel(info) => {
                if !self.catalog.contains(&info.id) {
                    self.catalog.push(info.id.clone());
                }
                let channel = self.channels.entry(info.id.clone()).or_default();
                if channel.info.as_ref() == Some(&info) {
                    return Vec::new();
                }
                let id = info.id.clone();
                channel.info = Some(info);
                vec![Change::Channel { channel: id }]
            }
            Event::Gap(_) => {
                for channel in self.channels.values_mut() {
                    channel.items.clear();
                    channel.alerts.clear();
                }
                self.weather.clear();
                vec![Change::Reset]
            }
            // A stream marker, not content.
            Event::Live(_) => Vec::new(),
        }
    }

    fn apply_item(&mut self, event_id: Option<EventId>, item: Item) -> Vec<Change> {
        let read_before = self
            .read_keys
            .contains(&(item.channel.clone(), item.key.clone()))
            || (feed_key(&item.key) && self.read_keys.iter().any(|(_, key)| *key == item.key));
        let limit = self.items_per_channel;
        let channel = self.channels.entry(item.channel.clone()).or_default();
        let change = match channel.items.iter().position(|s| s.item.key == item.key) {
            Some(index) => {
                let Some(existing) = channel.items.get_mut(index) else {
                    return Vec::new();
                };
                if !newer(event_id, existing.event_id) {
                    return Vec::new();
                }
                let title_changed = existing.item.title != item.title;
                existing.read = existing.read && !title_changed;
                existing.item = item.clone();
                existing.event_id = event_id;
                Change::ItemUpdated {
                    channel: item.channel.clone(),
                    key: item.key.clone(),
                    title_changed,
                }
            }
            None => {
                channel.items.push(StoredItem {
                    item: item.clone(),
                    event_id,
                    read: read_before,
                });
                Change::ItemAdded {
                    channel: item.channel.clone(),
                    key: item.key.clone(),
                    severity: item.severity,
                }
            }
        };
        channel.items.sort_by(|a, b| {
            b.item
                .published
                .cmp(&a.item.published)
                .then(b.event_id.cmp(&a.event_id))
        });
        let mut changes = vec![change];
        while channel.items.len() > limit {
            // If the new item itself is older than everything kept, nothing visible changed.
            if channel
                .items
                .pop()
                .is_some_and(|dropped| dropped.item.key == item.key)
            {
                changes.clear();
            }
        }
        changes
    }

    fn apply_alert(&mut self, event_id: Option<EventId>, alert: Alert) -> Vec<Change> {
        let channel = self.channels.entry(alert.channel.clone()).or_default();
        let change = match channel.alerts.iter_mut().find(|s| s.alert.key == alert.key) {
            Some(existing) => {
                if !newer(event_id, existing.event_id) {
                    return Vec::new();
                }
                let escalated = alert.severity > existing.alert.severity;
                let change = if alert.status == AlertStatus::Cancelled
                    && existing.alert.status != AlertStatus::Cancelled
                {
                    Change::AlertCancelled {
                        channel: alert.channel.clone(),
                        key: alert.key.clone(),
                    }
                } else {
                    Change::AlertUpdated {
                        channel: alert.channel.clone(),
                        key: alert.key.clone(),
                        escalated,
                    }
                };
                existing.read = existing.read && !escalated;
                existing.alert = alert;
                existing.event_id = event_id;
                change
            }
            None => {
                let change = if alert.status == AlertStatus::Cancelled {
                    Change::AlertCancelled {
                        channel: alert.channel.clone(),
                        key: alert.key.clone(),
                    }
                } else {
                    Change::AlertRaised {
                        channel: alert.channel.clone(),
                        key: alert.key.clone(),
                        severity: alert.severity,
                    }
                };
                channel.alerts.push(StoredAlert {
                    alert,
                    event_id,
                    read: false,
                });
                change
            }
        };
        channel.alerts.sort_by(|a, b| {
            b.alert
                .severity
                .cmp(&a.alert.severity)
                .then(b.alert.updated.cmp(&a.alert.updated))
        });
        vec![change]
    }

    /// Marks one item read or unread.
    pub fn set_read(&mut self, channel: &ChannelId, key: &ItemKey, read: bool) {
        if let Some(state) = self.channels.get_mut(channel) {
            for stored in state.items.iter_mut().filter(|s| &s.item.key == key) {
                stored.read = read;
            }
            for stored in state.alerts.iter_mut().filter(|s| &s.alert.key == key) {
                stored.read = read;
            }
        }
        let entry = (channel.clone(), key.clone());
        if read {
            self.read_keys.insert(entry);
        } else {
            self.read_keys.remove(&entry);
        }
    }

    /// Marks every item of a channel read.
    pub fn mark_channel_read(&mut self, channel: &ChannelId) {
        let keys: Vec<ItemKey> = self
            .channels
            .get(channel)
            .map(|state| state.items.iter().map(|s| s.item.key.clone()).collect())
            .unwrap_or_default();
        for key in keys {
            self.set_read(channel, &key, true);
        }
    }

    /// Removes items and alerts whose `expires` has passed (the server retracts them too; this
    /// covers time spent offline). Returns what went.
    pub fn remove_expired(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let mut changes = Vec::new();
        for (id, channel) in &mut self.channels {
            channel.items.retain(|s| {
                let keep = s.item.expires.is_none_or(|at| at > now);
                if !keep {
                    changes.push(Change::ItemRemoved {
                        channel: id.clone(),
                        key: s.item.key.clone(),
                    });
                }
                keep
            });
            channel.alerts.retain(|s| {
                let keep = s.alert.expires.is_none_or(|at| at > now);
                if !keep {
                    changes.push(Change::AlertRemoved {
                        channel: id.clone(),
                        key: s.alert.key.clone(),
                    });
                }
                keep
            });
        }
        changes
    }

    /// Whether [`compact_read_marks`](Self::compact_read_marks) has something to drop: enough
    /// marks, and more of them than there are items and alerts to carry them.
    #[must_use]
    pub fn has_stale_read_marks(&self) -> bool {
        let live: usize = self
            .channels
            .values()
            .map(|c| c.items.len() + c.alerts.len())
            .sum();
        self.read_keys.len() >= READ_MARKS_BEFORE_COMPACTING && self.read_keys.len() > live
    }

    /// Forgets read marks of keys no longer present, once there are many (keeps the cache from
    /// growing forever, but leaves the marks alone right after a reset, when the items they
    /// belong to are about to come back in a snapshot).
    pub fn compact_read_marks(&mut self) {
        if self.read_keys.len() < READ_MARKS_BEFORE_COMPACTING {
            return;
        }
        let present: HashSet<(ChannelId, ItemKey)> = self
            .channels
            .iter()
            .flat_map(|(id, c)| {
                c.items
                    .iter()
                    .map(|s| (id.clone(), s.item.key.clone()))
                    .chain(c.alerts.iter().map(|s| (id.clone(), s.alert.key.clone())))
            })
            .collect();
        self.read_keys.retain(|entry| present.contains(entry));
    }
}

/// The hazard a key names, without the cell of a location-scoped key (`@<cell>:<hazard>`,
/// `docs/protocol.md` §3): the same warning reaches each of a user's places under its own key.
#[must_use]
pub fn hazard_key(key: &ItemKey) -> &str {
    key.as_str()
        .strip_prefix('@')
        .and_then(|scoped| scoped.split_once(':'))
        .map_or(key.as_str(), |(_, hazard)| hazard)
}

#[cfg(test)]
mod tests;
