//! The running catalog: the channels a server offers and the sources polled into them, which
//! can change while it runs, through the channel-management API (`admin`), a changed line-up
//! file, or `SIGHUP`.
//!
//! Every change goes through the event log, so every connected client sees it live and a
//! client that reconnects later replays it: a new or changed channel is a `channel` event; a
//! removed one has each of its live items and alerts retracted and then a `channel` event
//! with `removed: true`. Removed channels are remembered (from the log) so that streams keep
//! announcing their removal to clients that were away.
//!
//! Feed pollers follow the catalog: the ingest supervisor (`ingest::supervise`) restarts the
//! pollers of a channel whose sources changed and stops those of a removed channel.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use tokio::sync::watch;

use super::log::{EventKind, EventLog, LogError, NewEvent, StateChange};
use crate::config::lineup::Lineup;
use crate::config::server::build_channels;
use crate::config::{ChannelConfig, ConfigError, RetentionPolicy};
use crate::protocol::{ChannelId, ChannelInfo, Event, Retract, RetractKind};

/// Live entries a removal retracts per channel at most (a channel keeps far fewer).
const MAX_RETRACTED: usize = 100_000;

/// One version of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// The line-up as written (what the file holds).
    pub lineup: Lineup,
    /// The validated channels, in catalog order.
    pub channels: Vec<ChannelConfig>,
}

impl Version {
    /// Looks a channel up by id.
    #[must_use]
    pub fn channel(&self, id: &ChannelId) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.id() == id)
    }

    /// The channel ids, in order.
    #[must_use]
    pub fn ids(&self) -> Vec<ChannelId> {
        self.channels.iter().map(|c| c.id().clone()).collect()
    }
}

/// Why a catalog change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The changed line-up is not valid (a field, with its setting path).
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// This server's channels are listed in its config file, not in a line-up file.
    #[error(
        "this server's channels are listed in its config file; edit it and send SIGHUP, or set channels_file to manage them over the API"
    )]
    Unmanaged,
    /// A change names a channel the line-up does not have.
    #[error("no channel {0:?}")]
    UnknownChannel(String),
    /// This node is one of several: a change made on one node's file would not reach the
    /// others.
    #[error(
        "this server is one node of a cluster: change the line-up file every node reads (each reloads it within seconds), not one node over the API"
    )]
    Clustered,
    /// The line-up file could not be written; nothing changed.
    #[error("cannot save the line-up to {path}: {source}")]
    Save {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The event log refused the change.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl CatalogError {
    /// A change refused because of `setting` (the request field at fault, or `lineup`).
    #[must_use]
    pub fn refused(setting: &str, message: impl Into<String>) -> Self {
        Self::Invalid(ConfigError::Invalid {
            setting: setting.to_owned(),
            message: message.into(),
        })
    }
}

/// The running catalog. Shared by request handlers, streams and ingest.
#[derive(Debug)]
pub struct Catalog {
    current: RwLock<Arc<Version>>,
    changes: watch::Sender<Arc<Version>>,
    /// Serialises changes: read, change, validate, save, announce, swap.
    editing: tokio::sync::Mutex<Option<FileStamp>>,
    /// Ids of channels the log says were removed.
    retired: RwLock<HashSet<ChannelId>>,
    /// Where the line-up is kept, when it is managed.
    file: Option<PathBuf>,
    retention: RetentionPolicy,
    /// One node of several sharing a log: the API may not change this node's file alone.
    clustered: bool,
}

/// What a line-up file looked like when last read or written, to notice outside edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            modified: metadata.modified().ok(),
            len: metadata.len(),
        })
    }
}

impl Catalog {
    /// The catalog a server starts with: `channels`, validated from `lineup` (rebuilt from
    /// the channels when `None`).
    ///
    /// The line-up file is not read again here: it may have changed since the config was
    /// built, and the version must be the one the channels came from. Its stamp starts
    /// unknown instead, so the first check of the file reads it and installs whatever changed.
    #[must_use]
    pub fn new(
        channels: Vec<ChannelConfig>,
        lineup: Option<Lineup>,
        file: Option<PathBuf>,
        retention: RetentionPolicy,
    ) -> Self {
        let lineup = lineup.unwrap_or_else(|| Lineup {
            channels: channels.iter().map(raw_of).collect(),
        });
        let stamp = None;
        let version = Arc::new(Version { lineup, channels });
        Self {
            current: RwLock::new(Arc::clone(&version)),
            changes: watch::Sender::new(version),
            editing: tokio::sync::Mutex::new(stamp),
            retired: RwLock::new(HashSet::new()),
            file,
            retention,
            clustered: false,
        }
    }

    /// Marks this catalog as one node's of a cluster: it still follows its line-up file and
    /// `SIGHUP`, but refuses changes over the API ([`CatalogError::Clustered`]).
    #[must_use]
    pub fn clustered(mut self) -> Self {
        self.clustered = true;
        self
    }

    /// Whether the API may change the line-up here.
    #[must_use]
    pub fn editable(&self) -> bool {
        self.file.is_some() && !self.clustered
    }

    /// The current version.
    #[must_use]
    pub fn current(&self) -> Arc<Version> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A channel of the current version.
    #[must_use]
    pub fn channel(&self, id: &ChannelId) -> Option<ChannelConfig> {
        self.current().channel(id).cloned()
    }

    /// Whether `id` names a channel that was offered once and removed.
    #[must_use]
    pub fn is_retired(&self, id: &ChannelId) -> bool {
        self.retired
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }

    /// Removed channels, for the selection of streams that follow the whole catalog.
    #[must_use]
    pub fn retired(&self) -> Vec<ChannelId> {
        let retired = self.retired.read().unwrap_or_else(PoisonError::into_inner);
        let mut ids: Vec<ChannelId> = retired.iter().cloned().collect();
        ids.sort();
        ids
    }

    /// Every new version, as it is installed.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<Arc<Version>> {
        self.changes.subscribe()
    }

    /// Where the line-up is kept, if the API may change it.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Learns from the log which channels were removed before this process started.
    pub async fn load_retired(&self, log: &dyn EventLog) -> Result<(), LogError> {
        let infos = log.channel_infos().await?;
        let current = self.current();
        let mut retired = self.retired.write().unwrap_or_else(PoisonError::into_inner);
        for (info, _) in infos {
            if info.removed && current.channel(&info.id).is_none() {
                retired.insert(info.id);
            }
        }
        Ok(())
    }

    /// Changes the line-up with `change`, then validates, saves and announces it. Nothing
    /// changes when any step fails. Returns what `change` returned.
    pub async fn edit<T>(
        &self,
        log: &dyn EventLog,
        change: impl FnOnce(&mut Lineup) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        let Some(path) = self.file.clone() else {
            return Err(CatalogError::Unmanaged);
        };
        if self.clustered {
            return Err(CatalogError::Clustered);
        }
        let mut stamp = self.editing.lock().await;
        let mut lineup = self.current().lineup.clone();
        let answer = change(&mut lineup)?;
        let channels = build_channels(lineup.channels.clone(), self.retention)?;
        let saved = lineup.clone();
        let written = tokio::task::spawn_blocking(move || saved.save(&path).map(|()| path))
            .await
            .map_err(|_| CatalogError::Save {
                path: self.file.clone().unwrap_or_default(),
                source: std::io::Error::other("the writer stopped"),
            })?;
        let path = written.map_err(|source| CatalogError::Save {
            path: self.file.clone().unwrap_or_default(),
            source,
        })?;
        *stamp = FileStamp::of(&path);
        self.install(log, Version { lineup, channels }).await?;
        Ok(answer)
    }

    /// Installs `lineup` as read from outside (the file changed, or `SIGHUP`), unless it is
    /// what runs already. Returns whether anything changed.
    pub async fn reload(&self, log: &dyn EventLog, lineup: Lineup) -> Result<bool, CatalogError> {
        let channels = build_channels(lineup.channels.clone(), self.retention)?;
        self.replace(log, Version { lineup, channels }).await
    }

    /// Installs channels validated elsewhere (a config file's own `[[channels]]`, re-read on
    /// `SIGHUP`). Returns whether anything changed.
    pub async fn reload_channels(
        &self,
        log: &dyn EventLog,
        channels: Vec<ChannelConfig>,
        lineup: Option<Lineup>,
    ) -> Result<bool, CatalogError> {
        let lineup = lineup.unwrap_or_else(|| Lineup {
            channels: channels.iter().map(raw_of).collect(),
        });
        self.replace(log, Version { lineup, channels }).await
    }

    async fn replace(&self, log: &dyn EventLog, version: Version) -> Result<bool, CatalogError> {
        // Held so changes apply one at a time; the file's stamp is the caller's to record.
        let _editing = self.editing.lock().await;
        if *self.current() == version {
            return Ok(false);
        }
        self.install(log, version).await?;
        Ok(true)
    }

    /// Re-reads the line-up file when it changed since it was last read or written (an
    /// admin's editor, `tidings opml import`). `Ok(false)` when it did not.
    pub async fn reload_if_changed(&self, log: &dyn EventLog) -> Result<bool, CatalogError> {
        let Some(path) = self.file.clone() else {
            return Ok(false);
        };
        let now = FileStamp::of(&path);
        if now.is_none() || *self.editing.lock().await == now {
            return Ok(false);
        }
        // `now` was taken before the read, so an edit landing during it is seen next time.
        let lineup = tokio::task::spawn_blocking(move || Lineup::load(&path))
            .await
            .map_err(|_| CatalogError::Unmanaged)?;
        let result = match lineup {
            Ok(Some(lineup)) => self.reload(log, lineup).await,
            Ok(None) => Ok(false),
            Err(error) => Err(error.into()),
        };
        // A file that does not validate is reported once, not at every check.
        if !matches!(result, Err(CatalogError::Log(_))) {
            *self.editing.lock().await = now;
        }
        result
    }

    /// Announces the differences between the running version and `next` in the log, then
    /// makes `next` current.
    async fn install(&self, log: &dyn EventLog, next: Version) -> Result<(), CatalogError> {
        let before = self.current();
        let stored = log.channel_infos().await?;
        let mut events = Vec::new();
        // Removed channels: their live entries go, then the channel itself.
        for old in &before.channels {
            if next.channel(old.id()).is_some() {
                continue;
            }
            events.extend(retractions(log, old.id()).await?);
            let mut info = stored
                .iter()
                .find(|(info, _)| info.id == *old.id())
                .map_or_else(|| old.info.clone(), |(info, _)| info.clone());
            info.removed = true;
            events.push(channel_event(info));
        }
        events.extend(info_changes(&next.channels, &stored));
        if !events.is_empty() {
            log.append(events).await?;
        }
        {
            let mut retired = self.retired.write().unwrap_or_else(PoisonError::into_inner);
            for old in &before.channels {
                if next.channel(old.id()).is_none() {
                    retired.insert(old.id().clone());
                }
            }
            for channel in &next.channels {
                retired.remove(channel.id());
            }
        }
        let next = Arc::new(next);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&next);
        tracing::info!(channels = next.channels.len(), "catalog changed");
        self.changes.send_replace(next);
        Ok(())
    }
}

/// `channel` events for every channel of `channels` whose metadata differs from what the log
/// holds (keeping the stored health and last update).
pub(crate) fn info_changes(
    channels: &[ChannelConfig],
    stored: &[(ChannelInfo, crate::protocol::EventId)],
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    for channel in channels {
        let previous = stored
            .iter()
            .find(|(info, _)| info.id == channel.info.id)
            .map(|(info, _)| info);
        let mut info: ChannelInfo = channel.info.clone();
        if let Some(previous) = previous {
            info.health = previous.health.clone();
            info.updated = previous.updated;
            if *previous == info {
                continue;
            }
        }
        events.push(channel_event(info));
    }
    events
}

fn channel_event(info: ChannelInfo) -> NewEvent {
    NewEvent {
        channel: info.id.clone(),
        kind: EventKind::Channel,
        data: Event::Channel(info).to_json(),
        change: StateChange::ChannelInfo,
    }
}

/// A retraction of every live item and alert of `channel`.
async fn retractions(log: &dyn EventLog, channel: &ChannelId) -> Result<Vec<NewEvent>, LogError> {
    let live = log.entries(channel, MAX_RETRACTED).await?;
    Ok(live
        .into_iter()
        .filter_map(|entry| {
            let kind = match entry.kind {
                EventKind::Item => RetractKind::Item,
                EventKind::Alert => RetractKind::Alert,
                _ => return None,
            };
            let key = entry.key?;
            Some(NewEvent {
                channel: channel.clone(),
                kind: EventKind::Retract,
                data: Event::Retract(Retract {
                    channel: channel.clone(),
                    key: key.clone(),
                    kind,
                    reason: Some("channel removed".to_owned()),
                })
                .to_json(),
                change: StateChange::Remove { key, kind },
            })
        })
        .collect())
}

/// The line-up form of a validated channel (for a catalog that has no file to start from).
fn raw_of(channel: &ChannelConfig) -> crate::config::server::RawChannel {
    use crate::config::server::{RawChannel, RawSource};
    RawChannel {
        id: channel.id().to_string(),
        title: channel.info.title.clone(),
        description: channel.info.description.clone(),
        colour: Some(channel.info.colour.clone()),
        kind: channel.info.kind,
        retention: crate::config::server::RawRetention::default(),
        sources: channel
            .sources
            .iter()
            .map(|source| {
                let secs = source.poll_interval.as_secs();
                let (poll_minutes, poll_secs) = if secs % 60 == 0 {
                    (Some(secs / 60), None)
                } else {
                    (None, Some(secs))
                };
                RawSource::Table {
                    url: source.url.clone(),
                    name: source.name.clone(),
                    poll_minutes,
                    poll_secs,
                }
            })
            .collect(),
    }
}
