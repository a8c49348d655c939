//! Polling feed sources and turning what changed into events.
//!
//! One task per source. Each poll is conditional (ETag / Last-Modified), spread by jitter, and
//! paced by the source itself (`Cache-Control: max-age`, `Retry-After`) and by exponential
//! backoff on failures. New items are appended oldest first; an item whose content changed is
//! appended again under the same key (an update); an unchanged one is skipped, also after a
//! restart, because the check is against the event log's current state. Channel health
//! (`channel` events) follows the sources' fortunes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;

use super::fetch::{FetchError, Fetched, Fetcher, Validators};
use super::map::parse_feed;
use super::state::ValidatorStore;
use crate::config::ChannelConfig;
use crate::config::server::SourceConfig;
use crate::protocol::{ChannelId, ChannelInfo, Event, Health, HealthStatus, Item, ItemKey};
use crate::server::log::{EventKind, EventLog, LogError, NewEvent, StateChange, now_millis};

/// Longest wait between polls, whatever the source asks.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Longest backoff after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Items appended as new.
    pub added: usize,
    /// Items appended as updates.
    pub updated: usize,
    /// Items already known and unchanged.
    pub unchanged: usize,
    /// The document was not modified (304).
    pub not_modified: bool,
    /// Entries in the document that gave no item (no title, text or link; or unreadable).
    pub skipped: usize,
}

/// One source's polling state.
#[derive(Debug)]
pub struct SourcePoller {
    channel: ChannelId,
    source: SourceConfig,
    validators: Validators,
    failures: u32,
    /// The item keys of the last document stored. A channel keeps only its newest live items
    /// ([`crate::server::log::sqlite::MAX_LIVE_ITEMS`]); a key listed here but gone from the
    /// log aged out while the feed still lists it, and is not news.
    listed: HashSet<ItemKey>,
}

impl SourcePoller {
    /// A poller for `source` of `channel`.
    #[must_use]
    pub fn new(channel: ChannelId, source: SourceConfig) -> Self {
        Self {
            channel,
            source,
            validators: Validators::default(),
            failures: 0,
            listed: HashSet::new(),
        }
    }

    /// Starts from the item keys an earlier run's last document listed.
    #[must_use]
    pub fn with_listed(mut self, keys: impl IntoIterator<Item = ItemKey>) -> Self {
        self.listed = keys.into_iter().collect();
        self
    }

    /// The item keys of the last document stored (save them with the validators).
    pub fn listed(&self) -> impl Iterator<Item = &ItemKey> {
        self.listed.iter()
    }

    /// Starts from validators saved by an earlier run.
    #[must_use]
    pub fn with_validators(mut self, validators: Validators) -> Self {
        self.validators = validators;
        self
    }

    /// The validators to send next time (save them to survive a restart).
    #[must_use]
    pub fn validators(&self) -> &Validators {
        &self.validators
    }

    /// Polls once: fetch, parse, append what changed. Returns the outcome and when to poll next.
    pub async fn poll(
        &mut self,
        fetcher: &Fetcher,
        log: &dyn EventLog,
    ) -> (Result<PollOutcome, String>, Duration) {
        let interval = self.source.poll_interval;
        let result = match fetcher.fetch(&self.source.url, &self.validators).await {
            Ok(Fetched::NotModified { max_age }) => Ok((
                PollOutcome {
                    not_modified: true,
                    ..PollOutcome::default()
                },
                max_age,
            )),
            Ok(Fetched::Modified {
                body,
                validators,
                max_age,
            }) => {
                match parse_feed(&body, &self.source.url, &self.channel, Utc::now()) {
                    Ok(feed) => {
                        self.validators = validators;
                        let name = self.source.name.clone().or(feed.title);
                        let skipped = feed.skipped + feed.unread;
                        let listed = feed.items.iter().map(|item| item.key.clone()).collect();
                        self.store(feed.items, name, log)
                            .await
                            .map(|outcome| {
                                self.listed = listed;
                                (PollOutcome { skipped, ..outcome }, max_age)
                            })
                            .map_err(|e| {
                                // Our own storage failing is not the feed's fault: try again soon.
                                (e.to_string(), None)
                            })
                    }
                    Err(error) => Err((error.to_string(), None)),
                }
            }
            Err(FetchError::Status {
                status,
                retry_after,
            }) => Err((
                FetchError::Status {
                    status,
                    retry_after,
                }
                .to_string(),
                retry_after,
            )),
            Err(error) => Err((error.to_string(), None)),
        };
        match result {
            Ok((outcome, max_age)) => {
                self.failures = 0;
                (
                    Ok(outcome),
                    next_poll(interval, Polled::Fine { max_age }, 0),
                )
            }
            Err((message, retry_after)) => {
                self.failures = self.failures.saturating_add(1);
                let next = next_poll(interval, Polled::Failed { retry_after }, self.failures);
                (Err(message), next)
            }
        }
    }

    async fn store(
        &self,
        items: Vec<Item>,
        source_name: Option<String>,
        log: &dyn EventLog,
    ) -> Result<PollOutcome, LogError> {
        let mut outcome = PollOutcome::default();
        let mut events = Vec::new();
        // Feeds list newest first; append oldest first so ids follow publication order.
        let mut items = items;
        items.sort_by_key(|item| item.published);
        let mut seen = HashSet::new();
        for mut item in items {
            if !seen.insert(item.key.clone()) {
                continue; // the same entry twice in one document
            }
            item.source = source_name.clone().or(item.source);
            let existing = log.entry(&self.channel, EventKind::Item, &item.key).await?;
            if existing.is_none() && self.listed.contains(&item.key) {
                // Announced when it first appeared, aged out of the live state since.
                outcome.unchanged += 1;
                continue;
            }
            if let Some(existing) = existing {
                let Ok(old) = serde_json::from_str::<Item>(&existing.data) else {
                    continue;
                };
                if same_content(&old, &item) {
                    outcome.unchanged += 1;
                    continue;
                }
                item.published = old.published;
                item.updated = Utc::now().max(old.updated);
                outcome.updated += 1;
            } else {
                outcome.added += 1;
            }
            let key = item.key.clone();
            events.push(NewEvent {
                channel: self.channel.clone(),
                kind: EventKind::Item,
                data: Event::Item(item).to_json(),
                change: StateChange::Upsert {
                    key,
                    expires_millis: None,
                },
            });
        }
        if !events.is_empty() {
            log.append(events).await?;
        }
        Ok(outcome)
    }
}

/// What a poll said about when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// The poll worked (a new document or a 304); `max-age` as the server gave it.
    Fine {
        /// `Cache-Control: max-age`, if any.
        max_age: Option<Duration>,
    },
    /// The poll failed; `Retry-After` as the server gave it (429, 503).
    Failed {
        /// `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
}

/// The wait before the next poll of a source polled every `interval`, after a poll that ended
/// as `polled`, `failures` being the failures in a row so far (this one included). Pure, so
/// the schedule can be tested without a clock; [`run_channel`] adds ±10% jitter.
///
/// - Fine: the interval, or the server's `max-age` when that is longer.
/// - Failed: the interval doubled per failure in a row (2×, 4×, … up to 256×, at most
///   6 hours), or the server's `Retry-After` when that is longer.
/// - Never more than 24 hours.
#[must_use]
pub fn next_poll(interval: Duration, polled: Polled, failures: u32) -> Duration {
    let next = match polled {
        Polled::Fine { max_age } => max_age.map_or(interval, |age| age.max(interval)),
        Polled::Failed { retry_after } => interval
            .saturating_mul(1_u32 << failures.clamp(1, 8))
            .min(MAX_BACKOFF)
            .max(retry_after.unwrap_or_default()),
    };
    next.min(MAX_INTERVAL)
}

/// `next` spread by ±10% with `unit` in `[0, 1)`, so sources with one interval drift apart
/// instead of polling in bursts.
#[must_use]
pub fn spread(next: Duration, unit: f64) -> Duration {
    next.mul_f64(0.9) + next.mul_f64(0.2 * unit.clamp(0.0, 1.0))
}

fn same_content(old: &Item, new: &Item) -> bool {
    old.title == new.title && old.body == new.body && old.link == new.link && old.image == new.image
}

/// Sources' health per channel, and the `channel` events that report it.
#[derive(Debug, Default)]
pub struct HealthBoard {
    /// Per channel: each source's last error (`None` when fine).
    sources: Mutex<HashMap<ChannelId, Vec<Option<String>>>>,
}

impl HealthBoard {
    /// Records source `index` of `channel` (of `count`) as fine or failing; returns the
    /// channel's health if it changed.
    pub fn record(
        &self,
        channel: &ChannelId,
        index: usize,
        count: usize,
        error: Option<String>,
    ) -> Option<Health> {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        let states = sources
            .entry(channel.clone())
            .or_insert_with(|| vec![None; count]);
        let before = summarise(states);
        if states.len() < count {
            states.resize(count, None); // a location source joins the channel's feeds
        }
        if let Some(slot) = states.get_mut(index) {
            *slot = error;
        }
        let after = summarise(states);
        (after != before).then_some(after)
    }

    /// Forgets the sources of `channel` (their number or order changed).
    pub fn forget(&self, channel: &ChannelId) {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(channel);
    }
}

fn summarise(states: &[Option<String>]) -> Health {
    let failing: Vec<&String> = states.iter().flatten().collect();
    match failing.len() {
        0 => Health::default(),
        n if n == states.len() => Health {
            status: HealthStatus::Failing,
            message: failing.first().map(|e| format!("cannot update: {e}")),
        },
        n => Health {
            status: HealthStatus::Degraded,
            message: failing
                .first()
                .map(|e| format!("{n} of {} sources failing: {e}", states.len())),
        },
    }
}

/// One source's slot on a channel's [`HealthBoard`], and where to announce changes.
#[derive(Clone)]
pub struct HealthReport {
    /// The board.
    pub board: Arc<HealthBoard>,
    /// Where `channel` events go.
    pub log: Arc<dyn EventLog>,
    /// The channel as configured.
    pub channel: ChannelInfo,
    /// This source's index among the channel's sources.
    pub index: usize,
    /// How many sources the channel has.
    pub count: usize,
}

impl HealthReport {
    /// Records this source as fine (`None`) or failing, and appends a `channel` event when
    /// that changes the channel's health.
    pub async fn record(&self, error: Option<String>) {
        let Some(health) = self
            .board
            .record(&self.channel.id, self.index, self.count, error)
        else {
            return;
        };
        // The channel as the log knows it now: it may have been renamed since this source
        // started.
        let current = match self.log.channel_infos().await {
            Ok(infos) => infos
                .into_iter()
                .map(|(info, _)| info)
                .find(|info| info.id == self.channel.id),
            Err(_) => None,
        };
        let update = ChannelInfo {
            health,
            ..current.unwrap_or_else(|| self.channel.clone())
        };
        let event = NewEvent {
            channel: self.channel.id.clone(),
            kind: EventKind::Channel,
            data: Event::Channel(update).to_json(),
            change: StateChange::ChannelInfo,
        };
        if let Err(error) = self.log.append(vec![event]).await {
            tracing::error!(%error, "cannot record channel health");
        }
    }
}

/// Runs every source of `channel` until `shutdown`.
pub async fn run_channel(
    channel: ChannelConfig,
    fetcher: Fetcher,
    log: Arc<dyn EventLog>,
    board: Arc<HealthBoard>,
    saved: Option<ValidatorStore>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let count = channel.sources.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, source) in channel.sources.iter().cloned().enumerate() {
        let info = channel.info.clone();
        let fetcher = fetcher.clone();
        let log = Arc::clone(&log);
        let health = HealthReport {
            board: Arc::clone(&board),
            log: Arc::clone(&log),
            channel: info.clone(),
            index,
            count,
        };
        let mut shutdown = shutdown.clone();
        let saved = saved.clone();
        tasks.spawn(async move {
            let mut poller = SourcePoller::new(info.id.clone(), source.clone());
            if let Some(saved) = &saved {
                let listed = saved.load_listed(&source.url).await;
                poller = poller
                    .with_validators(saved.load(&source.url).await)
                    .with_listed(listed.into_iter().filter_map(|key| ItemKey::new(key).ok()));
            }
            // Spread the first polls of many sources over a few seconds; in a cluster, keep the
            // schedule the node before this one left.
            let mut wait = jitter(Duration::from_millis(200 * index as u64), Duration::from_secs(3));
            if let Some(due) = match &saved {
                Some(saved) => saved.load_due(&source.url).await,
                None => None,
            } {
                wait = Duration::from_millis(due.saturating_sub(now_millis())).min(MAX_INTERVAL);
            }
            loop {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                let (result, next) = tokio::select! {
                    polled = poller.poll(&fetcher, log.as_ref()) => polled,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let error = match result {
                    Ok(outcome) => {
                        tracing::debug!(channel = %info.id, source = %source.url, ?outcome, "polled");
                        if let Some(saved) = &saved
                            && !outcome.not_modified
                        {
                            let listed = poller.listed().map(|key| key.as_str().to_owned()).collect();
                            saved.save(&source.url, poller.validators(), listed).await;
                        }
                        None
                    }
                    Err(message) => {
                        tracing::warn!(channel = %info.id, source = %source.url, error = %message, "feed poll failed");
                        Some(message)
                    }
                };
                health.record(error).await;
                wait = spread(next, random_unit());
                if let Some(saved) = &saved {
                    let due = now_millis() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    saved.save_due(&source.url, due).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// A channel's pollers while they run.
struct Running {
    sources: Vec<SourceConfig>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the feed pollers of every channel in the catalog and follows its changes until
/// `shutdown`: a channel whose sources changed has its pollers restarted, a removed one has
/// them stopped. A feed that left a channel (removed, or moved to another) has its items
/// retracted there and its validators forgotten, so wherever it goes next it is read afresh.
pub async fn supervise(
    mut catalog: tokio::sync::watch::Receiver<Arc<crate::server::catalog::Version>>,
    fetcher: Fetcher,
    log: Arc<dyn EventLog>,
    board: Arc<HealthBoard>,
    saved: Option<ValidatorStore>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut running: HashMap<ChannelId, Running> = HashMap::new();
    loop {
        let version = Arc::clone(&catalog.borrow_and_update());
        let wanted = |id: &ChannelId| {
            version
                .channel(id)
                .map(|c| c.sources.clone())
                .filter(|s| !s.is_empty())
        };
        let changed: Vec<ChannelId> = running
            .iter()
            .filter(|(id, run)| wanted(id).as_ref() != Some(&run.sources))
            .map(|(id, _)| id.clone())
            .collect();
        for id in changed {
            let Some(run) = running.remove(&id) else {
                continue;
            };
            let _ = run.stop.send(true);
            let _ = run.task.await;
            board.forget(&id);
            let staying = wanted(&id).unwrap_or_default();
            for source in run.sources {
                if !staying.iter().any(|s| s.url == source.url) {
                    source_left(&id, &source.url, log.as_ref(), saved.as_ref()).await;
                }
            }
        }
        for channel in &version.channels {
            if channel.sources.is_empty() || running.contains_key(channel.id()) {
                continue;
            }
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(run_channel(
                channel.clone(),
                fetcher.clone(),
                Arc::clone(&log),
                Arc::clone(&board),
                saved.clone(),
                stopped,
            ));
            running.insert(
                channel.id().clone(),
                Running {
                    sources: channel.sources.clone(),
                    stop,
                    task,
                },
            );
        }
        tokio::select! {
            changed = catalog.changed() => if changed.is_err() { break },
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    for (_, run) in running.drain() {
        let _ = run.stop.send(true);
        let _ = run.task.await;
    }
}

/// A feed is no longer polled into `channel`: its items there are retracted, and what was
/// remembered of it is forgotten.
async fn source_left(
    channel: &ChannelId,
    url: &str,
    log: &dyn EventLog,
    saved: Option<&ValidatorStore>,
) {
    let Some(saved) = saved else {
        tracing::warn!(%channel, source = %url, "feed left its channel; without the ingest memory its items stay until they age out");
        return;
    };
    let mut events = Vec::new();
    for key in saved.load_listed(url).await {
        let Ok(key) = ItemKey::new(key) else { continue };
        match log.entry(channel, EventKind::Item, &key).await {
            Ok(Some(_)) => events.push(NewEvent {
                channel: channel.clone(),
                kind: EventKind::Retract,
                data: Event::Retract(crate::protocol::Retract {
                    channel: channel.clone(),
                    key: key.clone(),
                    kind: crate::protocol::RetractKind::Item,
                    reason: Some("feed removed from the channel".to_owned()),
                })
                .to_json(),
                change: StateChange::Remove {
                    key,
                    kind: crate::protocol::RetractKind::Item,
                },
            }),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, %channel, source = %url, "cannot retract a removed feed's items");
                return;
            }
        }
    }
    let retracted = events.len();
    if !events.is_empty()
        && let Err(error) = log.append(events).await
    {
        tracing::error!(%error, %channel, source = %url, "cannot retract a removed feed's items");
        return;
    }
    saved.save(url, &Validators::default(), Vec::new()).await;
    tracing::info!(%channel, source = %url, retracted, "feed left its channel");
}

fn jitter(low: Duration, high: Duration) -> Duration {
    low + high.saturating_sub(low).mul_f64(random_unit())
}

/// A random number in `[0, 1)`.
fn random_unit() -> f64 {
    let mut bytes = [0_u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_fine_poll_waits_the_interval_or_a_longer_max_age() {
        let interval = 15 * MINUTE;
        let fine = |max_age| next_poll(interval, Polled::Fine { max_age }, 0);
        assert_eq!(fine(None), interval);
        assert_eq!(
            fine(Some(MINUTE)),
            interval,
            "a short max-age never polls faster"
        );
        assert_eq!(fine(Some(60 * MINUTE)), 60 * MINUTE);
        assert_eq!(fine(Some(Duration::from_secs(7 * 86_400))), MAX_INTERVAL);
    }

    #[test]
    fn failures_back_off_exponentially_and_retry_after_is_honoured() {
        let interval = 15 * MINUTE;
        let failed =
            |retry_after, failures| next_poll(interval, Polled::Failed { retry_after }, failures);
        let minutes: Vec<u64> = (1..=7).map(|n| failed(None, n).as_secs() / 60).collect();
        assert_eq!(
            minutes,
            [30, 60, 120, 240, 360, 360, 360],
            "doubling, capped at 6 h"
        );
        assert_eq!(failed(None, u32::MAX), MAX_BACKOFF);
        // 429/503 with Retry-After: never sooner than the server asked.
        assert_eq!(
            failed(Some(Duration::from_secs(2 * 3600)), 1),
            2 * 60 * MINUTE
        );
        assert_eq!(
            failed(Some(MINUTE), 1),
            30 * MINUTE,
            "nor sooner than the backoff"
        );
        assert_eq!(
            failed(Some(Duration::from_secs(3 * 86_400)), 1),
            MAX_INTERVAL
        );
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let next = 15 * MINUTE;
        assert_eq!(spread(next, 0.0), next.mul_f64(0.9));
        assert_eq!(spread(next, 0.5), next);
        assert!(spread(next, 0.999_999) <= next.mul_f64(1.1));
        for _ in 0..1_000 {
            let wait = spread(next, random_unit());
            assert!(
                wait >= next.mul_f64(0.9) && wait < next.mul_f64(1.1),
                "{wait:?}"
            );
        }
    }
}
