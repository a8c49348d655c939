//! The attention budget: which content changes deserve a desktop notification, and when.
//!
//! Pure logic. The app feeds [`Attention::observe`] the [`Change`]s that [`Store::apply`]
//! reported (with the store they were applied to), calls [`Attention::poll`] when
//! [`Attention::next_due`] says, and hands the returned [`Action`]s to the desktop notification
//! adapter. No I/O, no threads, no clock: every call takes `now`, whose offset is the user's
//! local one (quiet hours use the local time of day; every timer is a difference of `now`
//! values, so tests drive a fake clock). `now` should not go backwards.
//!
//! # Rules, in the order they are applied
//!
//! - **Origin.** [`Origin::Backlog`] (the initial snapshot, a replay after a reconnect, cached
//!   content) never notifies, but what it carries is remembered, so the same item arriving
//!   again later stays silent too. One exception: a new Critical alert first published less
//!   than ten minutes before `now` (or a known alert escalated to Critical and updated that
//!   recently) notifies even from the backlog, so that a reconnect cannot swallow a warning
//!   issued while the link was down.
//! - **Channel level** ([`Rules::level`], default [`Level::AlertsOnly`]). `Off`: nothing new
//!   from that channel (withdrawing what is already on screen still happens). `AlertsOnly`:
//!   alerts of at least [`Rules::min_severity`], and news items whose own severity is at least
//!   that. `Everything`: additionally every new news item. Alerts below `min_severity` never
//!   notify.
//! - **Keywords** (whole words, case-insensitive, Unicode-aware; a rule of several words
//!   matches them consecutively, so `climate change` does not match "change the climate").
//!   Matched against title and body. A news item must match one include rule (the channel's
//!   list if it has one, else the global list; no list means everything passes). Exclude rules
//!   (global and channel together) drop news items and alerts below Critical. Include rules
//!   never filter alerts. Rules without letters or digits are ignored.
//! - **Quiet hours and pause.** While either is active only Critical alerts get through;
//!   everything else is dropped, not deferred (including news already held when they begin).
//! - **Dedupe.** A news item (channel + key) notifies at most once in the engine's life (the
//!   last 4096 keys are remembered); `ItemUpdated` never notifies. An alert the engine has
//!   already seen counts as updated, not new, when a snapshot raises it again.
//! - **Coalescing** (news only). Items that pass are held for [`Rules::coalesce_seconds`] after
//!   the first held item of their channel. One item gives a notification of its own; several
//!   give one summary, "5 new in Technology", listing the first three titles and "and 2 more".
//!   A held item that is retracted leaves the batch; [`Change::Reset`] drops held news.
//!   Alerts are never held: they go out at the next poll.
//! - **Rate limit.** At most [`Rules::burst`] new notifications per [`Rules::per_minutes`]
//!   rolling window (either set to 0 disables the limit). Over budget, news stays held and
//!   keeps merging into one summary per channel, shown when the budget allows. Critical alerts
//!   bypass the limit (and do not use it up); other alerts count, and go before news when the
//!   budget frees. Replacing or withdrawing a notification never counts.
//! - **Alert lifecycle.** One notification per alert, its id derived from channel and key. An
//!   update of an alert whose notification exists replaces it (even in quiet hours: updating
//!   what is on screen is not a new interruption); an update escalating an alert not on screen
//!   is judged like a new alert. Cancellation or removal (expiry, retraction) withdraws the
//!   notification and forgets it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;

use chrono::{DateTime, FixedOffset, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::client::store::{Change, Store};
use crate::protocol::{Alert, ChannelId, Item, ItemKey, Severity};

/// News keys (and alert keys) remembered for dedupe before the oldest are forgotten.
const REMEMBERED_KEYS: usize = 4096;

/// How recent a Critical alert from the backlog must be to notify anyway.
const RECENT_CRITICAL_MINUTES: i64 = 10;

/// Titles listed in a batch summary before "and N more".
const BATCH_TITLES: usize = 3;

/// Longest notification summary, in characters.
const SUMMARY_MAX_CHARS: usize = 120;

/// Longest notification body (or body part), in characters.
const BODY_MAX_CHARS: usize = 300;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// How much a channel may interrupt. Same wire names as the settings' per-channel level
/// (`off`, `alerts_only`, `everything`), so it can replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Never.
    Off,
    /// Alerts, and news items that are themselves important enough.
    #[default]
    AlertsOnly,
    /// Every new item as well.
    Everything,
}

impl Level {
    /// Every level, in menu order.
    pub const ALL: [Self; 3] = [Self::Off, Self::AlertsOnly, Self::Everything];

    /// Words for the menu.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Off => "Off",
            Self::AlertsOnly => "Alerts only",
            Self::Everything => "Everything",
        }
    }
}

/// One channel's notification rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelRules {
    /// How much the channel may interrupt.
    pub level: Level,
    /// Keyword rules a news item must match one of; replaces the global list when not empty.
    pub include: Vec<String>,
    /// Keyword rules that drop news items and non-critical alerts, added to the global list.
    pub exclude: Vec<String>,
}

/// A daily quiet period in local time; spans midnight when `start` is after `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// When it begins (inclusive), written `"22:00"`.
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// When it ends (exclusive), written `"07:00"`.
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
}

impl QuietHours {
    /// Validates the two times the settings dialog collects, e.g. `("22:00", "07:00")`.
    pub fn parse(start: &str, end: &str) -> Result<Self, RulesError> {
        let start = parse_hhmm(start)?;
        let end = parse_hhmm(end)?;
        if start == end {
            return Err(RulesError::EmptyQuietHours(format_hhmm(start)));
        }
        Ok(Self { start, end })
    }

    /// Whether a local time of day falls inside. Equal `start` and `end` (only possible in a
    /// hand-edited file) make an empty period.
    #[must_use]
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }
}

/// Why a value from the settings dialog is not a valid rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// Not a `HH:MM` time of day.
    #[error("“{0}” is not a time of day: write hours and minutes, like 22:00 or 7:30")]
    Time(String),
    /// Quiet hours that start when they end.
    #[error("quiet hours start and end at the same time ({0}): choose two different times")]
    EmptyQuietHours(String),
    /// A keyword rule that can never match.
    #[error("“{0}” has no letters or digits, so it can never match")]
    Keyword(String),
}

/// Parses a 24-hour time of day written `HH:MM` (or `H:MM`), surrounding spaces allowed.
pub fn parse_hhmm(text: &str) -> Result<NaiveTime, RulesError> {
    let trimmed = text.trim();
    let invalid = || RulesError::Time(trimmed.chars().take(32).collect());
    let (hours, minutes) = trimmed.split_once(':').ok_or_else(invalid)?;
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&hours.len())
        || minutes.len() != 2
        || !all_digits(hours)
        || !all_digits(minutes)
    {
        return Err(invalid());
    }
    let (Ok(hours), Ok(minutes)) = (hours.parse(), minutes.parse()) else {
        return Err(invalid());
    };
    NaiveTime::from_hms_opt(hours, minutes, 0).ok_or_else(invalid)
}

/// Writes a time of day as `HH:MM` (seconds dropped), the form [`parse_hhmm`] reads.
#[must_use]
pub fn format_hhmm(time: NaiveTime) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// Checks one keyword rule from the settings dialog. Blank rules are fine (they are ignored);
/// a rule of only punctuation is refused because it could never match.
pub fn check_keyword(rule: &str) -> Result<(), RulesError> {
    if rule.trim().is_empty() || !words(rule).is_empty() {
        Ok(())
    } else {
        Err(RulesError::Keyword(rule.trim().chars().take(64).collect()))
    }
}

/// Serde for a [`NaiveTime`] as `"HH:MM"`.
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_hhmm(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        super::parse_hhmm(&text).map_err(serde::de::Error::custom)
    }
}

/// Everything that decides what may interrupt. Part of the app's settings file: every field
/// has a default, so files written before a field existed still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// Alerts (and, at [`Level::AlertsOnly`], news items) below this never notify.
    pub min_severity: Severity,
    /// Per-channel rules; channels not listed get [`ChannelRules::default`].
    pub channels: BTreeMap<ChannelId, ChannelRules>,
    /// Global include keyword rules (used by channels without their own).
    pub include: Vec<String>,
    /// Global exclude keyword rules.
    pub exclude: Vec<String>,
    /// A daily quiet period, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// How long news is held after a channel's first held item, to be shown together.
    pub coalesce_seconds: u32,
    /// At most this many new notifications per window (0: no limit).
    pub burst: u32,
    /// The rolling window of the rate limit, in minutes (0: no limit).
    pub per_minutes: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            min_severity: Severity::Warning,
            channels: BTreeMap::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            quiet_hours: None,
            coalesce_seconds: 4,
            burst: 4,
            per_minutes: 10,
        }
    }
}

impl Rules {
    /// How much a channel may interrupt ([`Level::AlertsOnly`] unless configured).
    #[must_use]
    pub fn level(&self, channel: &ChannelId) -> Level {
        self.channels
            .get(channel)
            .map_or_else(Level::default, |rules| rules.level)
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// A notification's stable id: `alert:<channel>/<key>`, `item:<channel>/<key>` or
/// `batch:<channel>:<n>`. Showing or replacing with the same id updates one notification.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoticeId(String);

impl NoticeId {
    /// The id of an alert's notification.
    #[must_use]
    pub fn alert(channel: &ChannelId, key: &ItemKey) -> Self {
        Self(format!("alert:{channel}/{key}"))
    }

    /// The id of a single news item's notification.
    #[must_use]
    pub fn item(channel: &ChannelId, key: &ItemKey) -> Self {
        Self(format!("item:{channel}/{key}"))
    }

    /// The id of the `serial`th summary of several news items.
    #[must_use]
    pub fn batch(channel: &ChannelId, serial: u64) -> Self {
        Self(format!("batch:{channel}:{serial}"))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NoticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How insistently the desktop should present a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Urgency {
    /// Informational.
    Low,
    /// Worth an interruption (Warning).
    Normal,
    /// Act now (Critical).
    Critical,
}

impl Urgency {
    /// The urgency for content of a severity.
    #[must_use]
    pub fn of(severity: Severity) -> Self {
        match severity {
            Severity::Critical => Self::Critical,
            Severity::Warning => Self::Normal,
            Severity::Info | Severity::Notice => Self::Low,
        }
    }
}

/// What activating a notification opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The channel.
    pub channel: ChannelId,
    /// The item or alert, when the notification is about one.
    pub key: Option<ItemKey>,
    /// Its web link (only `http`/`https`).
    pub link: Option<String>,
}

/// One notification's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Stable id.
    pub id: NoticeId,
    /// The headline line, plain text.
    pub summary: String,
    /// Detail lines, plain text: NOT markup-escaped (the desktop adapter does that).
    pub body: String,
    /// How insistent.
    pub urgency: Urgency,
    /// What activating it opens.
    pub target: Target,
}

/// What the desktop should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Show a new notification (counts against the rate limit unless Critical).
    Show(Notice),
    /// Update a notification already shown, without a new interruption.
    Replace(Notice),
    /// Remove a notification if it is still on screen.
    Withdraw(NoticeId),
}

/// Where observed changes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The initial snapshot, a replay after a reconnect, or cached content: already history.
    Backlog,
    /// The live stream: news as it happens.
    Live,
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

/// The attention engine: queues notifications from observed changes and releases them as
/// [`Action`]s when due. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct Attention {
    rules: Rules,
    keywords: Keywords,
    paused_until: Option<DateTime<Utc>>,
    /// News keys seen, from any origin.
    seen_items: Memory<(ChannelId, ItemKey), ()>,
    /// Alert keys seen, with the highest severity seen.
    seen_alerts: Memory<(ChannelId, ItemKey), Severity>,
    /// Alert notifications on screen (shown and neither withdrawn nor forgotten).
    shown_alerts: HashSet<NoticeId>,
    /// Alert notifications waiting for the next poll (or, below Critical, for budget).
    alert_queue: VecDeque<QueuedAlert>,
    /// Replacements and withdrawals for the next poll.
    outbox: Vec<Action>,
    /// When the oldest outbox entry was queued.
    outbox_since: Option<DateTime<FixedOffset>>,
    /// Held news, at most one batch per channel, oldest first.
    batches: Vec<Batch>,
    /// When counted notifications were shown, oldest first.
    shown_at: VecDeque<DateTime<FixedOffset>>,
    /// Batch summaries shown so far (numbers their ids).
    batch_serial: u64,
}

#[derive(Debug, Clone)]
struct QueuedAlert {
    notice: Notice,
    critical: bool,
    queued_at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone)]
struct Batch {
    channel: ChannelId,
    channel_title: String,
    due: DateTime<FixedOffset>,
    items: Vec<HeldItem>,
}

#[derive(Debug, Clone)]
struct HeldItem {
    key: ItemKey,
    title: String,
    notice: Notice,
}

impl Default for Attention {
    fn default() -> Self {
        Self::new(Rules::default())
    }
}

impl Attention {
    /// An engine with nothing seen yet.
    #[must_use]
    pub fn new(rules: Rules) -> Self {
        Self {
            keywords: Keywords::new(&rules),
            rules,
            paused_until: None,
            seen_items: Memory::new(REMEMBERED_KEYS),
            seen_alerts: Memory::new(REMEMBERED_KEYS),
            shown_alerts: HashSet::new(),
            alert_queue: VecDeque::new(),
            outbox: Vec::new(),
            outbox_since: None,
            batches: Vec::new(),
            shown_at: VecDeque::new(),
            batch_serial: 0,
        }
    }

    /// The rules in force.
    #[must_use]
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Replaces the rules. What was seen, shown and held is kept; held news of a channel now
    /// `Off` is dropped when due.
    pub fn set_rules(&mut self, rules: Rules) {
        self.keywords = Keywords::new(&rules);
        self.rules = rules;
    }

    /// Pauses everything but Critical alerts until an instant (`None` resumes).
    pub fn pause_until(&mut self, until: Option<DateTime<Utc>>) {
        self.paused_until = until;
    }

    /// Whether notifications are paused or in quiet hours at `now`: only Critical alerts pass.
    #[must_use]
    pub fn hushed(&self, now: DateTime<FixedOffset>) -> bool {
        let paused = self
            .paused_until
            .is_some_and(|until| now.with_timezone(&Utc) < until);
        let quiet = self
            .rules
            .quiet_hours
            .is_some_and(|quiet| quiet.contains(now.time()));
        paused || quiet
    }

    /// Takes note of changes just applied to `store`. Only queues: [`poll`](Self::poll)
    /// releases what is due.
    pub fn observe(
        &mut self,
        changes: &[Change],
        store: &Store,
        origin: Origin,
        now: DateTime<FixedOffset>,
    ) {
        for change in changes {
            match change {
                Change::ItemAdded {
                    channel,
                    key,
                    severity,
                } => self.item_added(store, channel, key, *severity, origin, now),
                Change::ItemRemoved { channel, key } => self.item_removed(channel, key),
                Change::AlertRaised { channel, key, .. } => {
                    self.alert_raised(store, channel, key, origin, now);
                }
                Change::AlertUpdated {
                    channel,
                    key,
                    escalated,
                } => self.alert_updated(store, channel, key, *escalated, origin, now),
                Change::AlertCancelled { channel, key } => {
                    self.alert_gone(channel, key, false, now)
                }
                Change::AlertRemoved { channel, key } => self.alert_gone(channel, key, true, now),
                Change::Reset => self.batches.clear(),
                Change::ItemUpdated { .. }
                | Change::Weather { .. }
                | Change::Channel { .. }
                | Change::ChannelRemoved { .. } => {}
            }
        }
    }

    /// Everything due by `now`: replacements and withdrawals first, then alerts, then news.
    #[must_use]
    pub fn poll(&mut self, now: DateTime<FixedOffset>) -> Vec<Action> {
        let mut actions = std::mem::take(&mut self.outbox);
        self.outbox_since = None;
        self.forget_old_shows(now);
        let hushed = self.hushed(now);

        let mut waiting = VecDeque::new();
        while let Some(queued) = self.alert_queue.pop_front() {
            if queued.critical {
                self.shown_alerts.insert(queued.notice.id.clone());
                actions.push(Action::Show(queued.notice));
            } else if hushed {
                // Dropped, not deferred: quiet hours began while it waited for budget.
            } else if waiting.is_empty() && self.budget_left(now) {
                self.count_show(now);
                self.shown_alerts.insert(queued.notice.id.clone());
                actions.push(Action::Show(queued.notice));
            } else {
                waiting.push_back(queued);
            }
        }
        self.alert_queue = waiting;

        let mut kept = Vec::new();
        for batch in std::mem::take(&mut self.batches) {
            if batch.due > now {
                kept.push(batch);
            } else if hushed || self.rules.level(&batch.channel) == Level::Off {
                // Dropped, not deferred.
            } else if self.alert_queue.is_empty() && self.budget_left(now) {
                self.count_show(now);
                actions.push(Action::Show(self.batch_notice(batch)));
            } else {
                kept.push(batch);
            }
        }
        self.batches = kept;
        actions
    }

    /// When [`poll`](Self::poll) has something to release next (possibly already past);
    /// `None` when nothing is waiting.
    #[must_use]
    pub fn next_due(&self) -> Option<DateTime<FixedOffset>> {
        let budget = self.budget_free_at();
        let after_budget = |at: DateTime<FixedOffset>| budget.map_or(at, |free| at.max(free));
        let alerts = self.alert_queue.iter().map(|queued| {
            if queued.critical {
                queued.queued_at
            } else {
                after_budget(queued.queued_at)
            }
        });
        let news = self.batches.iter().map(|batch| after_budget(batch.due));
        self.outbox_since
            .into_iter()
            .chain(alerts)
            .chain(news)
            .min()
    }

    // --- news -----------------------------------------------------------------------------

    fn item_added(
        &mut self,
        store: &Store,
        channel: &ChannelId,
        key: &ItemKey,
        severity: Severity,
        origin: Origin,
        now: DateTime<FixedOffset>,
    ) {
        let first_time = self
            .seen_items
            .insert((channel.clone(), key.clone()), ())
            .is_none();
        if !first_time || origin == Origin::Backlog {
            return;
        }
        match self.rules.level(channel) {
            Level::Off => return,
            Level::AlertsOnly if severity < self.rules.min_severity => return,
            Level::AlertsOnly | Level::Everything => {}
        }
        if self.hushed(now) {
            return;
        }
        let Some(item) = find_item(store, channel, key) else {
            return;
        };
        let text = [
            words(&item.title),
            words(item.body.as_deref().unwrap_or("")),
        ];
        if !self.keywords.included(channel, &text) || self.keywords.excluded(channel, &text) {
            return;
        }
        let channel_title = channel_title(store, channel);
        let held = HeldItem {
            key: key.clone(),
            title: one_line(&item.title, SUMMARY_MAX_CHARS),
            notice: item_notice(item, &channel_title),
        };
        if let Some(batch) = self.batches.iter_mut().find(|b| &b.channel == channel) {
            batch.items.push(held);
        } else {
            let hold = TimeDelta::seconds(i64::from(self.rules.coalesce_seconds));
            self.batches.push(Batch {
                channel: channel.clone(),
                channel_title,
                due: now.checked_add_signed(hold).unwrap_or(now),
                items: vec![held],
            });
        }
    }

    fn item_removed(&mut self, channel: &ChannelId, key: &ItemKey) {
        for batch in self.batches.iter_mut().filter(|b| &b.channel == channel) {
            batch.items.retain(|held| &held.key != key);
        }
        self.batches.retain(|batch| !batch.items.is_empty());
    }

    fn batch_notice(&mut self, batch: Batch) -> Notice {
        let Batch {
            channel,
            channel_title,
            mut items,
            ..
        } = batch;
        if items.len() == 1
            && let Some(held) = items.pop()
        {
            return held.notice;
        }
        self.batch_serial += 1;
        let mut lines: Vec<String> = items
            .iter()
            .take(BATCH_TITLES)
            .map(|held| held.title.clone())
            .collect();
        if items.len() > BATCH_TITLES {
            lines.push(format!("and {} more", items.len() - BATCH_TITLES));
        }
        Notice {
            id: NoticeId::batch(&channel, self.batch_serial),
            summary: format!("{} new in {channel_title}", items.len()),
            body: lines.join("\n"),
            urgency: items
                .iter()
                .map(|held| held.notice.urgency)
                .max()
                .unwrap_or(Urgency::Low),
            target: Target {
                channel,
                key: None,
                link: None,
            },
        }
    }

    // --- alerts ---------------------------------------------------------------------------

    fn alert_raised(
        &mut self,
        store: &Store,
        channel: &ChannelId,
        key: &ItemKey,
        origin: Origin,
        now: DateTime<FixedOffset>,
    ) {
        let Some(alert) = find_alert(store, channel, key) else {
            return;
        };
        let seen = (channel.clone(), key.clone());
        if let Some(before) = self.seen_alerts.get(&seen).copied() {
            // Raised again (a snapshot after a gap): an update of what we already know.
            let escalated = alert.severity > before;
            self.alert_updated(store, channel, key, escalated, origin, now);
            return;
        }
        self.seen_alerts.insert(seen, alert.severity);
        if origin == Origin::Backlog && !recent_critical(alert, alert.published, now) {
            return;
        }
        if self.copy_of_a_known_hazard(store, channel, key) {
            return;
        }
        self.queue_alert(alert, now);
    }

    /// Whether another place's copy of this hazard (the same `@<cell>:<hazard>` key but for
    /// another cell) is already known: one warning for two nearby places notifies once.
    fn copy_of_a_known_hazard(&self, store: &Store, channel: &ChannelId, key: &ItemKey) -> bool {
        let hazard = super::store::hazard_key(key);
        if hazard == key.as_str() {
            return false;
        }
        store.channel(channel).is_some_and(|state| {
            state.alerts.iter().any(|other| {
                other.alert.key != *key
                    && super::store::hazard_key(&other.alert.key) == hazard
                    && self
                        .seen_alerts
                        .get(&(channel.clone(), other.alert.key.clone()))
                        .is_some()
            })
        })
    }

    fn alert_updated(
        &mut self,
        store: &Store,
        channel: &ChannelId,
        key: &ItemKey,
        escalated: bool,
        origin: Origin,
        now: DateTime<FixedOffset>,
    ) {
        let Some(alert) = find_alert(store, channel, key) else {
            return;
        };
        let seen = (channel.clone(), key.clone());
        let highest = self
            .seen_alerts
            .get(&seen)
            .map_or(alert.severity, |before| alert.severity.max(*before));
        self.seen_alerts.insert(seen, highest);
        if self.rules.level(channel) == Level::Off {
            return;
        }
        let notice = alert_notice(alert);
        if let Some(queued) = self
            .alert_queue
            .iter_mut()
            .find(|queued| queued.notice.id == notice.id)
        {
            queued.critical = queued.critical || alert.severity == Severity::Critical;
            queued.notice = notice;
            return;
        }
        if self.shown_alerts.contains(&notice.id) {
            self.send(Action::Replace(notice), now);
            return;
        }
        if !escalated || (origin == Origin::Backlog && !recent_critical(alert, alert.updated, now))
        {
            return;
        }
        if self.copy_of_a_known_hazard(store, channel, key) {
            return;
        }
        self.queue_alert(alert, now);
    }

    fn queue_alert(&mut self, alert: &Alert, now: DateTime<FixedOffset>) {
        if self.rules.level(&alert.channel) == Level::Off
            || alert.severity < self.rules.min_severity
        {
            return;
        }
        let critical = alert.severity == Severity::Critical;
        if !critical {
            let text = [
                words(&alert.title),
                words(alert.body.as_deref().unwrap_or("")),
            ];
            if self.hushed(now) || self.keywords.excluded(&alert.channel, &text) {
                return;
            }
        }
        self.alert_queue.push_back(QueuedAlert {
            notice: alert_notice(alert),
            critical,
            queued_at: now,
        });
    }

    fn alert_gone(
        &mut self,
        channel: &ChannelId,
        key: &ItemKey,
        removed: bool,
        now: DateTime<FixedOffset>,
    ) {
        if removed {
            // The same key raised again later is a new hazard.
            self.seen_alerts.remove(&(channel.clone(), key.clone()));
        }
        let id = NoticeId::alert(channel, key);
        let queued_before = self.alert_queue.len();
        self.alert_queue.retain(|queued| queued.notice.id != id);
        if self.alert_queue.len() == queued_before && self.shown_alerts.remove(&id) {
            self.send(Action::Withdraw(id), now);
        }
    }

    fn send(&mut self, action: Action, now: DateTime<FixedOffset>) {
        self.outbox.push(action);
        self.outbox_since.get_or_insert(now);
    }

    // --- rate limit -----------------------------------------------------------------------

    fn window(&self) -> Option<(usize, TimeDelta)> {
        let burst = usize::try_from(self.rules.burst).unwrap_or(usize::MAX);
        (burst > 0 && self.rules.per_minutes > 0)
            .then(|| (burst, TimeDelta::minutes(i64::from(self.rules.per_minutes))))
    }

    fn forget_old_shows(&mut self, now: DateTime<FixedOffset>) {
        let window = self
            .window()
            .map_or(TimeDelta::zero(), |(_, window)| window);
        while self
            .shown_at
            .front()
            .is_some_and(|shown| now.signed_duration_since(*shown) >= window)
        {
            self.shown_at.pop_front();
        }
    }

    fn budget_left(&self, now: DateTime<FixedOffset>) -> bool {
        self.budget_free_at().is_none_or(|free| free <= now)
    }

    /// When the next counted notification may be shown; `None` when one may be shown now.
    fn budget_free_at(&self) -> Option<DateTime<FixedOffset>> {
        let (burst, window) = self.window()?;
        let oldest_that_blocks = self.shown_at.len().checked_sub(burst)?;
        let shown = self.shown_at.get(oldest_that_blocks)?;
        Some(shown.checked_add_signed(window).unwrap_or(*shown))
    }

    fn count_show(&mut self, now: DateTime<FixedOffset>) {
        if self.window().is_some() {
            self.shown_at.push_back(now);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn find_item<'a>(store: &'a Store, channel: &ChannelId, key: &ItemKey) -> Option<&'a Item> {
    store
        .channel(channel)?
        .items
        .iter()
        .map(|stored| &stored.item)
        .find(|item| &item.key == key)
}

fn find_alert<'a>(store: &'a Store, channel: &ChannelId, key: &ItemKey) -> Option<&'a Alert> {
    store
        .channel(channel)?
        .alerts
        .iter()
        .map(|stored| &stored.alert)
        .find(|alert| &alert.key == key)
}

fn channel_title(store: &Store, channel: &ChannelId) -> String {
    store
        .channel(channel)
        .and_then(|state| state.info.as_ref())
        .map(|info| one_line(&info.title, SUMMARY_MAX_CHARS))
        .filter(|title| !title.is_empty())
        .unwrap_or_else(|| channel.to_string())
}

/// Whether a Critical alert is recent enough (by `at`) to notify from the backlog.
fn recent_critical(alert: &Alert, at: DateTime<Utc>, now: DateTime<FixedOffset>) -> bool {
    alert.severity == Severity::Critical
        && now.with_timezone(&Utc).signed_duration_since(at)
            < TimeDelta::minutes(RECENT_CRITICAL_MINUTES)
}

fn item_notice(item: &Item, channel_title: &str) -> Notice {
    let mut body = channel_title.to_owned();
    if let Some(source) = nonblank(item.source.as_deref()) {
        body.push_str(" · ");
        body.push_str(&one_line(source, SUMMARY_MAX_CHARS));
    }
    if let Some(text) = nonblank(item.body.as_deref()) {
        body.push('\n');
        body.push_str(&shorten(text, BODY_MAX_CHARS));
    }
    Notice {
        id: NoticeId::item(&item.channel, &item.key),
        summary: one_line(&item.title, SUMMARY_MAX_CHARS),
        body,
        urgency: Urgency::of(item.severity),
        target: Target {
            channel: item.channel.clone(),
            key: Some(item.key.clone()),
            link: web_link(item.link.as_deref()),
        },
    }
}

fn alert_notice(alert: &Alert) -> Notice {
    let title = one_line(&alert.title, SUMMARY_MAX_CHARS);
    let summary = match nonblank(alert.event.as_deref()) {
        // The event name adds information unless the title already says it.
        Some(event) if !title.to_lowercase().contains(&event.trim().to_lowercase()) => {
            one_line(&format!("{}: {title}", event.trim()), SUMMARY_MAX_CHARS)
        }
        _ => title,
    };
    let detail = nonblank(alert.instruction.as_deref()).or(nonblank(alert.body.as_deref()));
    let body: Vec<&str> = [nonblank(alert.area.as_deref()), detail]
        .into_iter()
        .flatten()
        .map(str::trim)
        .collect();
    Notice {
        id: NoticeId::alert(&alert.channel, &alert.key),
        summary,
        body: shorten(&body.join(" · "), BODY_MAX_CHARS),
        urgency: Urgency::of(alert.severity),
        target: Target {
            channel: alert.channel.clone(),
            key: Some(alert.key.clone()),
            link: web_link(alert.link.as_deref()),
        },
    }
}

fn nonblank(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.trim().is_empty())
}

/// Only web links: a notification must not open `file:` or `javascript:` URLs.
fn web_link(link: Option<&str>) -> Option<String> {
    let link = link?.trim();
    let lower = link.get(..8).unwrap_or(link).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| link.to_owned())
}

/// Whitespace runs (line breaks included) collapsed to single spaces, then shortened.
fn one_line(text: &str, max_chars: usize) -> String {
    shorten(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        max_chars,
    )
}

/// Trimmed, and cut on a char boundary with an ellipsis when longer than `max_chars`.
fn shorten(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// Lower-cased words: runs of letters and digits (any script).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Keyword rules, each as its words.
#[derive(Debug, Clone, Default)]
struct Phrases(Vec<Vec<String>>);

impl Phrases {
    fn new(rules: &[String]) -> Self {
        Self(
            rules
                .iter()
                .map(|rule| words(rule))
                .filter(|phrase| !phrase.is_empty())
                .collect(),
        )
    }

    /// Whether any rule occurs, as consecutive whole words, in any of the texts.
    fn matches(&self, texts: &[Vec<String>]) -> bool {
        self.0.iter().any(|phrase| {
            texts.iter().any(|text| {
                !phrase.is_empty()
                    && text
                        .windows(phrase.len())
                        .any(|window| window == phrase.as_slice())
            })
        })
    }
}

/// The keyword rules of a [`Rules`], compiled.
#[derive(Debug, Clone, Default)]
struct Keywords {
    include: Phrases,
    exclude: Phrases,
    channels: BTreeMap<ChannelId, (Phrases, Phrases)>,
}

impl Keywords {
    fn new(rules: &Rules) -> Self {
        Self {
            include: Phrases::new(&rules.include),
            exclude: Phrases::new(&rules.exclude),
            channels: rules
                .channels
                .iter()
                .map(|(id, channel)| {
                    let compiled = (
                        Phrases::new(&channel.include),
                        Phrases::new(&channel.exclude),
                    );
                    (id.clone(), compiled)
                })
                .collect(),
        }
    }

    fn included(&self, channel: &ChannelId, text: &[Vec<String>]) -> bool {
        let include = match self.channels.get(channel) {
            Some((include, _)) if !include.0.is_empty() => include,
            _ => &self.include,
        };
        include.0.is_empty() || include.matches(text)
    }

    fn excluded(&self, channel: &ChannelId, text: &[Vec<String>]) -> bool {
        self.exclude.matches(text)
            || self
                .channels
                .get(channel)
                .is_some_and(|(_, exclude)| exclude.matches(text))
    }
}

/// A map that forgets its oldest entries beyond a capacity.
#[derive(Debug, Clone)]
struct Memory<K, V> {
    entries: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Clone + Eq + Hash, V> Memory<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Stores a value; returns the one it replaced.
    fn insert(&mut self, key: K, value: V) -> Option<V> {
        let previous = self.entries.insert(key.clone(), value);
        if previous.is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
        }
        previous
    }

    fn remove(&mut self, key: &K) {
        if self.entries.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::protocol::{
        AlertStatus, ChannelInfo, ChannelKind, Event, EventId, Gap, Health, Retract, RetractKind,
    };

    fn ch(id: &str) -> ChannelId {
        ChannelId::new(id).unwrap()
    }

    fn key(k: &str) -> ItemKey {
        ItemKey::new(k).unwrap()
    }

    /// 2026-11-27 at a local time in UTC+1.
    fn local(hour: u32, minute: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 27, hour, minute, 0)
            .unwrap()
    }

    fn minutes_ago(now: DateTime<FixedOffset>, minutes: i64) -> DateTime<Utc> {
        now.with_timezone(&Utc) - TimeDelta::minutes(minutes)
    }

    fn info(id: &str, title: &str, kind: ChannelKind) -> Event {
        Event::Channel(ChannelInfo {
            id: ch(id),
            title: title.into(),
            description: String::new(),
            colour: "#5b8def".into(),
            kind,
            health: Health::default(),
            updated: None,
            removed: false,
        })
    }

    fn news(k: &str, title: &str) -> Item {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        Item {
            channel: ch("tech"),
            key: key(k),
            title: title.into(),
            body: None,
            link: None,
            source: None,
            image: None,
            severity: Severity::Info,
            published: at,
            updated: at,
            expires: None,
        }
    }

    fn storm(k: &str, severity: Severity, published: DateTime<Utc>) -> Alert {
        Alert {
            channel: ch("alerts"),
            key: key(k),
            status: AlertStatus::Active,
            severity,
            title: format!("Storm {k}"),
            event: None,
            body: None,
            instruction: None,
            area: None,
            link: None,
            source: None,
            onset: None,
            published,
            updated: published,
            expires: None,
        }
    }

    fn gap() -> Event {
        Event::Gap(Gap {
            requested: EventId::new(1, 0),
            oldest: None,
            reason: "test".into(),
        })
    }

    /// `tech` set to `Everything`; everything else default.
    fn everything() -> Rules {
        let mut rules = Rules::default();
        rules.channels.insert(
            ch("tech"),
            ChannelRules {
                level: Level::Everything,
                ..ChannelRules::default()
            },
        );
        rules
    }

    /// A store and an engine driven by a fake clock.
    struct World {
        store: Store,
        attention: Attention,
        now: DateTime<FixedOffset>,
        events: u64,
    }

    impl World {
        fn new(rules: Rules) -> Self {
            Self::at(rules, local(12, 0))
        }

        fn at(rules: Rules, now: DateTime<FixedOffset>) -> Self {
            let mut world = Self {
                store: Store::default(),
                attention: Attention::new(rules),
                now,
                events: 0,
            };
            world.backlog(info("tech", "Technology", ChannelKind::News));
            world.backlog(info("alerts", "Weather alerts", ChannelKind::Alerts));
            world
        }

        fn apply(&mut self, origin: Origin, event: Event) {
            self.events += 1;
            let event_id = Some(EventId::new(1_000 + self.events, 0));
            let changes = self.store.apply(event_id, event);
            self.attention
                .observe(&changes, &self.store, origin, self.now);
        }

        fn live(&mut self, event: Event) {
            self.apply(Origin::Live, event);
        }

        fn backlog(&mut self, event: Event) {
            self.apply(Origin::Backlog, event);
        }

        fn item(&mut self, k: &str, title: &str) {
            self.live(Event::Item(news(k, title)));
        }

        fn alert(&mut self, k: &str, severity: Severity) {
            let published = minutes_ago(self.now, 0);
            self.live(Event::Alert(storm(k, severity, published)));
        }

        fn wait_secs(&mut self, seconds: i64) {
            self.now += TimeDelta::seconds(seconds);
        }

        fn poll(&mut self) -> Vec<Action> {
            self.attention.poll(self.now)
        }

        /// Everything released over the next `seconds`, polling whenever `next_due` asks.
        fn run_secs(&mut self, seconds: i64) -> Vec<Action> {
            let end = self.now + TimeDelta::seconds(seconds);
            let mut actions = self.poll();
            for _ in 0..1000 {
                match self.attention.next_due() {
                    Some(due) if due <= end => {
                        self.now = self.now.max(due);
                        actions.extend(self.poll());
                    }
                    _ => {
                        self.now = end;
                        actions.extend(self.poll());
                        return actions;
                    }
                }
            }
            panic!("next_due never settles");
        }
    }

    fn summaries(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|action| match action {
                Action::Show(notice) => format!("show {}", notice.summary),
                Action::Replace(notice) => format!("replace {}", notice.summary),
                Action::Withdraw(id) => format!("withdraw {id}"),
            })
            .collect()
    }

    fn shown(actions: &[Action]) -> Vec<&Notice> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Show(notice) => Some(notice),
                _ => None,
            })
            .collect()
    }

    // --- origin ---------------------------------------------------------------------------

    #[test]
    fn snapshot_and_replay_are_silent() {
        let mut world = World::new(everything());
        world.backlog(Event::Item(news("a", "Old news")));
        world.backlog(Event::Item(news("b", "Older news")));
        let hour_ago = minutes_ago(world.now, 60);
        world.backlog(Event::Alert(storm("w", Severity::Warning, hour_ago)));
        world.backlog(Event::Alert(storm("c", Severity::Critical, hour_ago)));
        let just_now = minutes_ago(world.now, 1);
        world.backlog(Event::Alert(storm("w2", Severity::Warning, just_now)));
        assert_eq!(world.attention.next_due(), None);
        assert!(world.run_secs(3600).is_empty());
    }

    #[test]
    fn backlog_items_stay_silent_when_they_arrive_again_live() {
        let mut world = World::new(everything());
        world.backlog(Event::Item(news("a", "Cached headline")));
        // A gap empties the store; the same item then comes again on the live stream.
        world.live(gap());
        world.item("a", "Cached headline");
        assert!(world.run_secs(60).is_empty());
    }

    #[test]
    fn recent_critical_alert_from_backlog_notifies() {
        let mut world = World::new(Rules::default());
        let published = minutes_ago(world.now, 9);
        world.backlog(Event::Alert(storm(
            "tornado",
            Severity::Critical,
            published,
        )));
        let actions = world.poll();
        assert_eq!(summaries(&actions), ["show Storm tornado"]);
        assert_eq!(shown(&actions)[0].urgency, Urgency::Critical);
        assert_eq!(shown(&actions)[0].id.as_str(), "alert:alerts/tornado");
    }

    #[test]
    fn critical_alert_eleven_minutes_old_from_backlog_stays_silent() {
        let mut world = World::new(Rules::default());
        let published = minutes_ago(world.now, 11);
        world.backlog(Event::Alert(storm(
            "tornado",
            Severity::Critical,
            published,
        )));
        assert!(world.run_secs(600).is_empty());
    }

    #[test]
    fn snapshot_after_gap_updates_an_alert_on_screen_instead_of_showing_it_again() {
        let mut world = World::new(Rules::default());
        world.alert("tornado", Severity::Critical);
        assert_eq!(summaries(&world.poll()), ["show Storm tornado"]);
        world.live(gap());
        let published = minutes_ago(world.now, 1);
        world.backlog(Event::Alert(storm(
            "tornado",
            Severity::Critical,
            published,
        )));
        assert_eq!(summaries(&world.poll()), ["replace Storm tornado"]);
    }

    // --- levels and severity --------------------------------------------------------------

    #[test]
    fn off_channel_is_silent_even_for_critical_alerts() {
        let mut rules = everything();
        for id in ["tech", "alerts"] {
            rules.channels.insert(
                ch(id),
                ChannelRules {
                    level: Level::Off,
                    ..ChannelRules::default()
                },
            );
        }
        let mut world = World::new(rules);
        world.item("a", "Headline");
        world.alert("c", Severity::Critical);
        assert!(world.run_secs(60).is_empty());
    }

    #[test]
    fn alerts_only_shows_alerts_and_important_items_from_min_severity() {
        let mut world = World::new(Rules::default());
        assert_eq!(
            world.attention.rules().level(&ch("tech")),
            Level::AlertsOnly
        );
        world.item("info", "Ordinary");
        world.live(Event::Item(Item {
            severity: Severity::Warning,
            ..news("warn", "Important")
        }));
        world.alert("notice", Severity::Notice);
        world.alert("warning", Severity::Warning);
        let actions = world.run_secs(60);
        assert_eq!(
            summaries(&actions),
            ["show Storm warning", "show Important"]
        );
        assert_eq!(shown(&actions)[0].urgency, Urgency::Normal);
    }

    #[test]
    fn alerts_below_min_severity_never_notify() {
        let rules = Rules {
            min_severity: Severity::Critical,
            ..everything()
        };
        let mut world = World::new(rules);
        world.alert("w", Severity::Warning);
        world.item("a", "Everything level still shows news");
        assert_eq!(
            summaries(&world.run_secs(60)),
            ["show Everything level still shows news"]
        );
    }

    #[test]
    fn everything_level_shows_every_new_item_once_and_never_updates() {
        let mut world = World::new(everything());
        world.item("a", "First");
        assert_eq!(summaries(&world.run_secs(60)), ["show First"]);
        // Title change: ItemUpdated, which never notifies.
        world.item("a", "First, corrected");
        // Re-sent after the store forgot it: dedupe by channel + key.
        world.live(gap());
        world.item("a", "First, corrected");
        assert!(world.run_secs(60).is_empty());
    }

    #[test]
    fn dedupe_memory_is_bounded() {
        let mut memory = Memory::new(3);
        for n in 0..4 {
            assert_eq!(memory.insert(n, ()), None);
        }
        assert!(memory.get(&0).is_none());
        assert!(memory.get(&3).is_some());
        assert_eq!(memory.insert(3, ()), Some(()));
        memory.remove(&3);
        assert_eq!(memory.insert(3, ()), None);
        assert_eq!(memory.entries.len(), 3);
        assert_eq!(memory.order.len(), 3);
    }

    // --- keywords -------------------------------------------------------------------------

    /// Whether a live news item with this title and body notifies under `rules`.
    fn item_passes(rules: &Rules, title: &str, body: Option<&str>) -> bool {
        let mut world = World::new(rules.clone());
        world.live(Event::Item(Item {
            body: body.map(str::to_owned),
            ..news("k", title)
        }));
        !world.run_secs(60).is_empty()
    }

    fn include(rules: &[&str]) -> Rules {
        Rules {
            include: rules.iter().map(|r| (*r).to_owned()).collect(),
            ..everything()
        }
    }

    #[test]
    fn include_keywords_match_whole_words_case_insensitively() {
        let rules = include(&["art"]);
        assert!(item_passes(&rules, "Art fair opens", None));
        assert!(item_passes(&rules, "NEW ART", None));
        assert!(!item_passes(&rules, "Party starts", None));
        assert!(!item_passes(&rules, "Artists gather", None));
        let rules = include(&["zürich"]);
        assert!(item_passes(&rules, "ZÜRICH votes", None));
        assert!(item_passes(&rules, "Vote in Zürich's centre", None));
    }

    #[test]
    fn include_phrases_match_consecutive_words_in_title_or_body() {
        let rules = include(&["climate change"]);
        assert!(item_passes(&rules, "Climate-change summit", None));
        assert!(item_passes(
            &rules,
            "Summit",
            Some("A talk about climate change.")
        ));
        assert!(!item_passes(&rules, "Change the climate", None));
        assert!(!item_passes(&rules, "Climate policy: change ahead", None));
    }

    #[test]
    fn channel_include_replaces_global_and_blank_rules_are_ignored() {
        let mut rules = include(&["rust"]);
        rules.channels.insert(
            ch("tech"),
            ChannelRules {
                level: Level::Everything,
                include: vec!["go".into()],
                exclude: Vec::new(),
            },
        );
        assert!(item_passes(&rules, "Go 2 released", None));
        assert!(!item_passes(&rules, "Rust 2 released", None));
        let blank = include(&["", "   ", "--"]);
        assert!(item_passes(&blank, "Anything at all", None));
    }

    #[test]
    fn exclude_keywords_from_global_and_channel_both_drop_news() {
        let mut rules = Rules {
            exclude: vec!["sport".into()],
            ..everything()
        };
        if let Some(tech) = rules.channels.get_mut(&ch("tech")) {
            tech.exclude = vec!["Celebrity Gossip".into()];
        }
        assert!(!item_passes(&rules, "SPORT results", None));
        assert!(!item_passes(&rules, "Today", Some("More celebrity gossip")));
        assert!(item_passes(&rules, "Sports day", None));
        assert!(item_passes(&rules, "Gossip about celebrities", None));
    }

    #[test]
    fn keywords_never_include_filter_alerts_and_exclude_spares_critical_ones() {
        let rules = Rules {
            include: vec!["elections".into()],
            exclude: vec!["storm".into()],
            ..Rules::default()
        };
        let mut world = World::new(rules);
        world.live(Event::Alert(Alert {
            title: "Flood".into(),
            ..storm("flood", Severity::Warning, minutes_ago(world.now, 0))
        }));
        world.alert("warning", Severity::Warning);
        world.alert("critical", Severity::Critical);
        assert_eq!(
            summaries(&world.run_secs(60)),
            ["show Flood", "show Storm critical"]
        );
    }

    // --- quiet hours and pause ------------------------------------------------------------

    #[test]
    fn quiet_hours_span_midnight() {
        let quiet = QuietHours::parse("22:00", "07:00").unwrap();
        let time = |text| parse_hhmm(text).unwrap();
        for inside in ["22:00", "23:59", "00:00", "03:00", "06:59"] {
            assert!(quiet.contains(time(inside)), "{inside}");
        }
        for outside in ["07:00", "12:00", "21:59"] {
            assert!(!quiet.contains(time(outside)), "{outside}");
        }
        let lunch = QuietHours::parse("12:00", "13:30").unwrap();
        assert!(lunch.contains(time("12:45")));
        assert!(!lunch.contains(time("13:30")));
        assert!(!lunch.contains(time("11:00")));
    }

    #[test]
    fn quiet_hours_use_the_local_time_of_day() {
        let rules = Rules {
            quiet_hours: Some(QuietHours::parse("22:00", "07:00").unwrap()),
            ..Rules::default()
        };
        let attention = Attention::new(rules);
        // 22:30 at UTC+2 is 20:30 UTC: quiet locally.
        let evening = FixedOffset::east_opt(7200)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 27, 22, 30, 0)
            .unwrap();
        assert!(attention.hushed(evening));
        assert!(!attention.hushed(local(21, 0)));
    }

    #[test]
    fn quiet_hours_drop_everything_but_critical_alerts() {
        let rules = Rules {
            quiet_hours: Some(QuietHours::parse("22:00", "07:00").unwrap()),
            ..everything()
        };
        let mut world = World::at(rules, local(23, 30));
        world.item("a", "Night news");
        world.alert("w", Severity::Warning);
        world.alert("c", Severity::Critical);
        assert_eq!(summaries(&world.run_secs(60)), ["show Storm c"]);
        // Dropped, not deferred: nothing comes in the morning.
        assert_eq!(world.attention.next_due(), None);
        world.now = local(7, 30) + TimeDelta::days(1);
        assert!(world.poll().is_empty());
        world.item("b", "Morning news");
        assert_eq!(summaries(&world.run_secs(60)), ["show Morning news"]);
    }

    #[test]
    fn news_held_when_quiet_hours_begin_is_dropped() {
        let rules = Rules {
            quiet_hours: Some(QuietHours::parse("22:00", "07:00").unwrap()),
            ..everything()
        };
        let mut world = World::at(rules, local(21, 59) + TimeDelta::seconds(58));
        world.item("a", "Late news");
        assert!(world.run_secs(60).is_empty());
    }

    #[test]
    fn pause_drops_everything_but_critical_alerts_until_it_ends() {
        let mut world = World::new(everything());
        let until = world.now.with_timezone(&Utc) + TimeDelta::minutes(30);
        world.attention.pause_until(Some(until));
        world.item("a", "Paused news");
        world.alert("w", Severity::Warning);
        world.alert("c", Severity::Critical);
        assert_eq!(summaries(&world.run_secs(60)), ["show Storm c"]);
        world.now = until.with_timezone(world.now.offset());
        world.alert("w2", Severity::Warning);
        assert_eq!(summaries(&world.run_secs(60)), ["show Storm w2"]);
        world
            .attention
            .pause_until(Some(world.now.with_timezone(&Utc) + TimeDelta::hours(1)));
        world.attention.pause_until(None);
        world.item("b", "Resumed");
        assert_eq!(summaries(&world.run_secs(60)), ["show Resumed"]);
    }

    // --- coalescing -----------------------------------------------------------------------

    #[test]
    fn ten_items_coalesce_into_one_summary() {
        let mut world = World::new(everything());
        let start = world.now;
        for n in 1..=10 {
            world.item(&format!("k{n}"), &format!("Title {n}"));
        }
        assert_eq!(
            world.attention.next_due(),
            Some(start + TimeDelta::seconds(4))
        );
        world.wait_secs(3);
        assert!(world.poll().is_empty());
        world.wait_secs(1);
        let actions = world.poll();
        assert_eq!(actions.len(), 1);
        let notice = shown(&actions)[0];
        assert_eq!(notice.summary, "10 new in Technology");
        assert_eq!(notice.body, "Title 1\nTitle 2\nTitle 3\nand 7 more");
        assert_eq!(notice.id.as_str(), "batch:tech:1");
        assert_eq!(notice.urgency, Urgency::Low);
        assert_eq!(
            notice.target,
            Target {
                channel: ch("tech"),
                key: None,
                link: None
            }
        );
        assert_eq!(world.attention.next_due(), None);
    }

    #[test]
    fn coalescing_window_starts_at_the_first_held_item() {
        let mut world = World::new(everything());
        world.item("a", "A");
        world.wait_secs(3);
        world.item("b", "B");
        world.wait_secs(1);
        assert_eq!(summaries(&world.poll()), ["show 2 new in Technology"]);
        world.item("c", "C");
        assert_eq!(
            world.attention.next_due(),
            Some(world.now + TimeDelta::seconds(4))
        );
    }

    #[test]
    fn single_item_is_shown_on_its_own() {
        let mut world = World::new(everything());
        world.live(Event::Item(Item {
            source: Some("Example Wire".into()),
            body: Some("  A longer summary\nof the story.  ".into()),
            link: Some("https://example.com/story".into()),
            ..news("a", "  Rust 2.0\n released ")
        }));
        let actions = world.run_secs(60);
        assert_eq!(actions.len(), 1);
        let notice = shown(&actions)[0];
        assert_eq!(notice.id.as_str(), "item:tech/a");
        assert_eq!(notice.summary, "Rust 2.0 released");
        assert_eq!(
            notice.body,
            "Technology · Example Wire\nA longer summary\nof the story."
        );
        assert_eq!(
            notice.target.link.as_deref(),
            Some("https://example.com/story")
        );
        assert_eq!(notice.target.key, Some(key("a")));
    }

    #[test]
    fn channel_without_info_is_named_by_its_id() {
        let mut world = World::new(Rules::default());
        world.live(Event::Item(Item {
            channel: ch("misc"),
            severity: Severity::Critical,
            ..news("a", "One")
        }));
        world.live(Event::Item(Item {
            channel: ch("misc"),
            severity: Severity::Warning,
            ..news("b", "Two")
        }));
        let actions = world.run_secs(60);
        assert_eq!(summaries(&actions), ["show 2 new in misc"]);
        assert_eq!(shown(&actions)[0].urgency, Urgency::Critical);
    }

    #[test]
    fn reset_drops_held_news_and_retraction_drops_a_held_item() {
        let mut world = World::new(everything());
        world.item("a", "A");
        world.live(gap());
        assert!(world.run_secs(60).is_empty());
        world.item("b", "B");
        world.item("c", "C");
        world.live(Event::Retract(Retract {
            channel: ch("tech"),
            key: key("b"),
            kind: RetractKind::Item,
            reason: None,
        }));
        assert_eq!(summaries(&world.run_secs(60)), ["show C"]);
    }

    // --- rate limit -----------------------------------------------------------------------

    fn limited(burst: u32) -> Rules {
        Rules {
            burst,
            per_minutes: 10,
            ..everything()
        }
    }

    #[test]
    fn rate_limit_defers_news_into_one_summary_per_channel() {
        let mut world = World::new(limited(2));
        world.item("a", "A");
        world.wait_secs(4);
        let first_show = world.now;
        assert_eq!(summaries(&world.poll()), ["show A"]);
        world.item("b", "B");
        world.wait_secs(4);
        assert_eq!(summaries(&world.poll()), ["show B"]);
        world.item("c", "C");
        world.wait_secs(4);
        assert!(world.poll().is_empty());
        world.item("d", "D");
        world.wait_secs(60);
        assert!(world.poll().is_empty());
        let free = first_show + TimeDelta::minutes(10);
        assert_eq!(world.attention.next_due(), Some(free));
        world.now = free;
        let actions = world.poll();
        assert_eq!(summaries(&actions), ["show 2 new in Technology"]);
        assert_eq!(shown(&actions)[0].body, "C\nD");
        assert_eq!(world.attention.next_due(), None);
    }

    #[test]
    fn critical_alerts_bypass_the_rate_limit_and_warnings_go_before_news() {
        let mut world = World::new(limited(1));
        world.item("a", "A");
        world.wait_secs(4);
        let first_show = world.now;
        assert_eq!(summaries(&world.poll()), ["show A"]);
        world.item("b", "B");
        world.alert("w", Severity::Warning);
        world.alert("c", Severity::Critical);
        world.wait_secs(10);
        assert_eq!(summaries(&world.poll()), ["show Storm c"]);
        let free = first_show + TimeDelta::minutes(10);
        assert_eq!(world.attention.next_due(), Some(free));
        world.now = free;
        assert_eq!(summaries(&world.poll()), ["show Storm w"]);
        assert_eq!(
            world.attention.next_due(),
            Some(free + TimeDelta::minutes(10))
        );
        assert_eq!(summaries(&world.run_secs(3600)), ["show B"]);
    }

    #[test]
    fn replace_and_withdraw_do_not_count_against_the_rate_limit() {
        let mut world = World::new(limited(2));
        world.alert("w", Severity::Warning);
        assert_eq!(summaries(&world.poll()), ["show Storm w"]);
        let published = minutes_ago(world.now, 0);
        world.live(Event::Alert(Alert {
            status: AlertStatus::Updated,
            title: "Storm w, stronger".into(),
            ..storm("w", Severity::Warning, published)
        }));
        world.live(Event::Alert(Alert {
            status: AlertStatus::Cancelled,
            ..storm("w", Severity::Warning, published)
        }));
        world.item("a", "A");
        assert_eq!(
            summaries(&world.run_secs(60)),
            [
                "replace Storm w, stronger",
                "withdraw alert:alerts/w",
                "show A"
            ]
        );
    }

    #[test]
    fn zero_burst_disables_the_rate_limit() {
        let mut world = World::new(limited(0));
        for n in 0..6 {
            world.alert(&format!("w{n}"), Severity::Warning);
        }
        assert_eq!(world.poll().len(), 6);
    }

    // --- alert lifecycle ------------------------------------------------------------------

    #[test]
    fn alert_update_replaces_its_notification_even_in_quiet_hours() {
        let rules = Rules {
            quiet_hours: Some(QuietHours::parse("22:00", "07:00").unwrap()),
            ..Rules::default()
        };
        let mut world = World::at(rules, local(21, 58));
        world.live(Event::Alert(Alert {
            area: Some("Springfield".into()),
            ..storm("w", Severity::Warning, minutes_ago(world.now, 0))
        }));
        assert_eq!(summaries(&world.poll()), ["show Storm w"]);
        world.now = local(22, 5);
        world.live(Event::Alert(Alert {
            status: AlertStatus::Updated,
            title: "Storm w moving east".into(),
            area: Some("Shelbyville".into()),
            ..storm("w", Severity::Warning, minutes_ago(world.now, 7))
        }));
        let actions = world.poll();
        let [Action::Replace(notice)] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(notice.id.as_str(), "alert:alerts/w");
        assert_eq!(notice.summary, "Storm w moving east");
        assert_eq!(notice.body, "Shelbyville");
    }

    #[test]
    fn one_hazard_for_two_of_the_users_places_notifies_once() {
        let mut world = World::new(Rules::default());
        let published = minutes_ago(world.now, 0);
        let copy = |cell: &str, severity| Alert {
            key: key(&format!("@{cell}:nws:KEAX.SV.W.0045")),
            ..storm("w", severity, published)
        };
        world.live(Event::Alert(copy("39.1,-94.6", Severity::Warning)));
        world.live(Event::Alert(copy("39.0,-94.7", Severity::Warning)));
        assert_eq!(summaries(&world.run_secs(60)), ["show Storm w"]);
        // Both escalate: the notification shown is replaced, no second one appears.
        world.live(Event::Alert(Alert {
            status: AlertStatus::Updated,
            ..copy("39.1,-94.6", Severity::Critical)
        }));
        world.live(Event::Alert(Alert {
            status: AlertStatus::Updated,
            ..copy("39.0,-94.7", Severity::Critical)
        }));
        let actions = world.run_secs(60);
        assert!(
            actions.iter().all(|a| matches!(a, Action::Replace(_))),
            "{actions:?}"
        );
        // Another hazard in the same cell is news of its own.
        world.live(Event::Alert(Alert {
            key: key("@39.1,-94.6:nws:KEAX.TO.W.0002"),
            ..storm("t", Severity::Warning, published)
        }));
        assert_eq!(summaries(&world.run_secs(60)), ["show Storm t"]);
    }

    #[test]
    fn alert_escalated_above_min_severity_is_shown() {
        let mut world = World::new(Rules::default());
        world.alert("s", Severity::Notice);
        assert!(world.poll().is_empty());
        // Not escalated: still nothing.
        let published = minutes_ago(world.now, 0);
        world.live(Event::Alert(Alert {
            status: AlertStatus::Updated,
            ..storm("s", Severity::Notice, published)
        }));
        assert!(world.poll().is_empty());
        world.live(Event::Alert(Alert {
            status: AlertStatus::Updated,
            ..storm("s", Severity::Warning, published)
        }));
        assert_eq!(summaries(&world.poll()), ["show Storm s"]);
    }

    #[test]
    fn cancelled_and_expired_alerts_are_withdrawn_and_forgotten() {
        let mut world = World::new(Rules::default());
        let published = minutes_ago(world.now, 0);
        world.alert("a", Severity::Warning);
        world.live(Event::Alert(Alert {
            expires: Some(published + TimeDelta::minutes(30)),
            ..storm("b", Severity::Critical, published)
        }));
        world.alert("quiet", Severity::Info);
        assert_eq!(world.poll().len(), 2);

        world.live(Event::Alert(Alert {
            status: AlertStatus::Cancelled,
            ..storm("a", Severity::Warning, published)
        }));
        assert_eq!(summaries(&world.poll()), ["withdraw alert:alerts/a"]);

        world.now += TimeDelta::minutes(31);
        let expired = world.store.remove_expired(world.now.with_timezone(&Utc));
        world
            .attention
            .observe(&expired, &world.store, Origin::Live, world.now);
        assert_eq!(summaries(&world.poll()), ["withdraw alert:alerts/b"]);

        // Never shown: nothing to withdraw.
        world.live(Event::Retract(Retract {
            channel: ch("alerts"),
            key: key("quiet"),
            kind: RetractKind::Alert,
            reason: Some("expired".into()),
        }));
        assert!(world.poll().is_empty());

        // Forgotten: the same key raised again is a new hazard.
        world.live(Event::Retract(Retract {
            channel: ch("alerts"),
            key: key("a"),
            kind: RetractKind::Alert,
            reason: None,
        }));
        assert!(world.poll().is_empty());
        world.alert("a", Severity::Warning);
        assert_eq!(summaries(&world.poll()), ["show Storm a"]);
    }

    #[test]
    fn alert_cancelled_before_the_poll_is_never_shown() {
        let mut world = World::new(Rules::default());
        world.alert("a", Severity::Warning);
        world.live(Event::Alert(Alert {
            status: AlertStatus::Cancelled,
            ..storm("a", Severity::Warning, minutes_ago(world.now, 0))
        }));
        assert!(world.poll().is_empty());
        assert_eq!(world.attention.next_due(), None);
    }

    #[test]
    fn alert_notice_text() {
        let now = local(12, 0);
        let alert = Alert {
            title: "Tornado in Springfield".into(),
            event: Some("Tornado Warning".into()),
            area: Some("Springfield".into()),
            instruction: Some("Take shelter now.".into()),
            body: Some("A tornado was sighted.".into()),
            link: Some("HTTPS://example.com/t".into()),
            ..storm("t", Severity::Critical, minutes_ago(now, 0))
        };
        let notice = alert_notice(&alert);
        assert_eq!(notice.summary, "Tornado Warning: Tornado in Springfield");
        assert_eq!(notice.body, "Springfield · Take shelter now.");
        assert_eq!(notice.target.link.as_deref(), Some("HTTPS://example.com/t"));

        let plain = Alert {
            title: "Tornado warning for Springfield".into(),
            instruction: Some("   ".into()),
            area: None,
            body: Some("ä".repeat(1000)),
            link: Some("javascript:alert(1)".into()),
            ..alert
        };
        let notice = alert_notice(&plain);
        assert_eq!(notice.summary, "Tornado warning for Springfield");
        assert_eq!(notice.body.chars().count(), BODY_MAX_CHARS);
        assert!(notice.body.ends_with('…'));
        assert_eq!(notice.target.link, None);
        assert_eq!(Urgency::of(Severity::Notice), Urgency::Low);
    }

    // --- configuration --------------------------------------------------------------------

    #[test]
    fn level_uses_the_settings_wire_names() {
        for (level, wire) in [
            (Level::Off, "\"off\""),
            (Level::AlertsOnly, "\"alerts_only\""),
            (Level::Everything, "\"everything\""),
        ] {
            assert_eq!(serde_json::to_string(&level).unwrap(), wire);
            assert_eq!(serde_json::from_str::<Level>(wire).unwrap(), level);
        }
        assert_eq!(Level::default(), Level::AlertsOnly);
    }

    #[test]
    fn rules_load_from_old_and_partial_files_and_round_trip() {
        assert_eq!(toml::from_str::<Rules>("").unwrap(), Rules::default());
        let text = r#"
            min_severity = "critical"
            exclude = ["sport"]
            [channels.tech]
            level = "everything"
            [quiet_hours]
            start = "22:00"
            end = "7:00"
        "#;
        let rules: Rules = toml::from_str(text).unwrap();
        assert_eq!(rules.min_severity, Severity::Critical);
        assert_eq!(rules.level(&ch("tech")), Level::Everything);
        assert_eq!(rules.level(&ch("world")), Level::AlertsOnly);
        assert_eq!(rules.coalesce_seconds, 4);
        assert_eq!((rules.burst, rules.per_minutes), (4, 10));
        assert_eq!(rules.quiet_hours, QuietHours::parse("22:00", "07:00").ok());
        let written = toml::to_string(&rules).unwrap();
        assert!(written.contains("end = \"07:00\""), "{written}");
        assert_eq!(toml::from_str::<Rules>(&written).unwrap(), rules);

        let bad = toml::from_str::<Rules>("[quiet_hours]\nstart = \"25:00\"\nend = \"07:00\"");
        let message = bad.unwrap_err().to_string();
        assert!(
            message.contains("“25:00” is not a time of day"),
            "{message}"
        );
    }

    #[test]
    fn settings_dialog_validation() {
        let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(parse_hhmm("22:00"), Ok(time(22, 0)));
        assert_eq!(parse_hhmm(" 7:30 "), Ok(time(7, 30)));
        assert_eq!(parse_hhmm("00:00"), Ok(time(0, 0)));
        assert_eq!(parse_hhmm("23:59"), Ok(time(23, 59)));
        for bad in [
            "", "7", "24:00", "12:60", "7:5", "1:000", "123:00", "ab:cd", "-1:00", "+1:00",
        ] {
            assert!(parse_hhmm(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_hhmm("25:00").unwrap_err().to_string(),
            "“25:00” is not a time of day: write hours and minutes, like 22:00 or 7:30"
        );
        assert_eq!(format_hhmm(time(7, 5)), "07:05");
        assert_eq!(
            QuietHours::parse("22:00", "22:00").unwrap_err().to_string(),
            "quiet hours start and end at the same time (22:00): choose two different times"
        );
        assert!(check_keyword("climate change").is_ok());
        assert!(check_keyword("   ").is_ok());
        assert_eq!(
            check_keyword(" -- ").unwrap_err().to_string(),
            "“--” has no letters or digits, so it can never match"
        );
    }
}
