//! The hub: fans committed events out to every subscriber, fed only by the event log.
//!
//! Each committed event is encoded into an SSE frame once and the same bytes are queued to every
//! subscriber whose selection wants it. Queues are bounded: a subscriber whose queue is full is
//! dropped on the spot (its connection is told to close) so it never slows anyone else; it
//! reconnects with `Last-Event-ID` and catches up from the log. Heartbeats ride the same queues.
//!
//! The hub runs as one task ([`Hub::run`]); subscribers register with [`Hub::subscribe`]
//! *before* reading history, which is what makes replay gap-free.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use super::log::{Commit, EventKind, LoggedEvent, Selection};
use super::metrics::Metrics;
use crate::protocol::{ChannelId, EventId, ItemKey, comment_frame, event_frame};

/// One committed event, encoded once and shared by every subscriber.
#[derive(Debug)]
pub struct Frame {
    /// Its id.
    pub id: EventId,
    /// Its channel.
    pub channel: ChannelId,
    /// Its type.
    pub kind: EventKind,
    /// Its entry key.
    pub key: Option<ItemKey>,
    /// The complete SSE block.
    pub bytes: Bytes,
}

impl Frame {
    /// Encodes a logged event.
    #[must_use]
    pub fn encode(event: &LoggedEvent) -> Self {
        Self {
            id: event.id,
            channel: event.channel.clone(),
            kind: event.kind,
            key: event.key.clone(),
            bytes: event_frame(event.id, event.kind.as_str(), &event.data),
        }
    }
}

/// What a subscriber's queue carries.
#[derive(Debug, Clone)]
pub enum Push {
    /// A live event.
    Event(Arc<Frame>),
    /// Heartbeat tick: send a comment if nothing was sent since the last tick.
    Heartbeat(Bytes),
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscribeError {
    /// The server holds its configured maximum of streams.
    #[error("the server has reached its limit of {0} open streams")]
    Full(usize),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
}

struct Slot {
    token: u64,
    selection: Arc<Selection>,
    tx: mpsc::Sender<Push>,
    kill: Arc<Notify>,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    next_token: u64,
    count: usize,
    closed: bool,
    /// Subscribers per weather cell: the cells whose weather and alerts are worth fetching.
    cells: HashMap<ItemKey, usize>,
}

impl Slots {
    fn remove(&mut self, index: usize) -> Option<Slot> {
        let slot = self.slots.get_mut(index)?.take()?;
        self.free.push(index);
        self.count -= 1;
        for cell in &slot.selection.cells {
            if let Some(count) = self.cells.get_mut(cell) {
                *count -= 1;
                if *count == 0 {
                    self.cells.remove(cell);
                }
            }
        }
        Some(slot)
    }
}

/// The fan-out hub. Shared as `Arc<Hub>`.
pub struct Hub {
    slots: Mutex<Slots>,
    queue_len: usize,
    max_subscribers: usize,
    metrics: Arc<Metrics>,
    /// Newest event id per channel, for the catalog's "last update".
    latest: Mutex<HashMap<ChannelId, EventId>>,
    /// Bumped when a subscriber brings a weather cell nobody else had.
    new_cells: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

/// A registered subscriber: its queue and its kill switch. Dropping it unregisters.
pub struct Subscription {
    /// Live events and heartbeats, in order.
    pub queue: mpsc::Receiver<Push>,
    /// Notified when the hub drops this subscriber (too slow, or shutdown).
    pub kill: Arc<Notify>,
    /// What it asked for.
    pub selection: Arc<Selection>,
    hub: Arc<Hub>,
    index: usize,
    token: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("index", &self.index)
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut slots = self.hub.lock();
        let ours = slots
            .slots
            .get(self.index)
            .and_then(Option::as_ref)
            .is_some_and(|slot| slot.token == self.token);
        if ours {
            slots.remove(self.index);
        }
        drop(slots);
        self.hub.metrics.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    /// A hub with per-subscriber queues of `queue_len` and at most `max_subscribers`.
    #[must_use]
    pub fn new(queue_len: usize, max_subscribers: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            slots: Mutex::new(Slots::default()),
            queue_len: queue_len.max(1),
            max_subscribers,
            metrics,
            latest: Mutex::new(HashMap::new()),
            new_cells: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The weather cells at least one open stream subscribed to, sorted.
    #[must_use]
    pub fn active_cells(&self) -> Vec<ItemKey> {
        let mut cells: Vec<ItemKey> = self.lock().cells.keys().cloned().collect();
        cells.sort();
        cells
    }

    /// Changes whenever a subscriber brings a cell that had no subscriber, so its weather can
    /// be fetched at once instead of at the next scheduled round. One receiver per source.
    #[must_use]
    pub fn watch_new_cells(&self) -> tokio::sync::watch::Receiver<u64> {
        self.new_cells.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Open subscriptions.
    #[must_use]
    pub fn subscriber_count(&self) -> usize {
        self.lock().count
    }

    /// The newest event id seen for `channel` (seeded at startup, then live).
    #[must_use]
    pub fn latest(&self, channel: &ChannelId) -> Option<EventId> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel)
            .copied()
    }

    /// Records `id` as the newest event of `channel` if it is newer.
    pub fn note_latest(&self, channel: &ChannelId, id: EventId) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = latest.entry(channel.clone()).or_insert(id);
        *entry = (*entry).max(id);
    }

    /// Registers a subscriber. Call this before reading history, so nothing committed in
    /// between is missed.
    pub fn subscribe(
        self: &Arc<Self>,
        selection: Selection,
    ) -> Result<Subscription, SubscribeError> {
        let (tx, queue) = mpsc::channel(self.queue_len);
        let kill = Arc::new(Notify::new());
        let selection = Arc::new(selection);
        let mut slots = self.lock();
        if slots.closed {
            return Err(SubscribeError::Closed);
        }
        if slots.count >= self.max_subscribers {
            return Err(SubscribeError::Full(self.max_subscribers));
        }
        let token = slots.next_token;
        slots.next_token += 1;
        let slot = Slot {
            token,
            selection: Arc::clone(&selection),
            tx,
            kill: Arc::clone(&kill),
        };
        let index = match slots.free.pop() {
            Some(index) => {
                if let Some(place) = slots.slots.get_mut(index) {
                    *place = Some(slot);
                }
                index
            }
            None => {
                slots.slots.push(Some(slot));
                slots.slots.len() - 1
            }
        };
        slots.count += 1;
        let mut fresh_cell = false;
        for cell in &selection.cells {
            let count = slots.cells.entry(cell.clone()).or_insert(0);
            fresh_cell |= *count == 0;
            *count += 1;
        }
        drop(slots);
        if fresh_cell {
            self.new_cells.send_modify(|generation| *generation += 1);
        }
        self.metrics.subscribers.fetch_add(1, Ordering::Relaxed);
        self.metrics.streams_opened.fetch_add(1, Ordering::Relaxed);
        Ok(Subscription {
            queue,
            kill,
            selection,
            hub: Arc::clone(self),
            index,
            token,
        })
    }

    /// Queues one frame to every subscriber that wants it; drops the ones that cannot take it.
    ///
    /// Done in one pass on purpose: yielding between chunks (tried, to let a waiting publish
    /// answer through) made each subscriber wake once per event instead of once per burst,
    /// and the extra writes cut delivery throughput four- to fivefold (`docs/benchmarks.md`).
    pub fn fan_out(&self, frame: &Arc<Frame>) {
        if frame.kind != EventKind::Channel {
            self.note_latest(&frame.channel, frame.id);
        }
        let mut delivered = 0_u64;
        let mut dropped = 0_u64;
        let mut slots = self.lock();
        for index in 0..slots.slots.len() {
            let outcome = match slots.slots.get(index).and_then(Option::as_ref) {
                Some(slot)
                    if slot
                        .selection
                        .wants(&frame.channel, frame.kind, frame.key.as_ref()) =>
                {
                    Some(slot.tx.try_send(Push::Event(Arc::clone(frame))))
                }
                _ => None,
            };
            match outcome {
                Some(Ok(())) => delivered += 1,
                Some(Err(mpsc::error::TrySendError::Full(_))) => {
                    if let Some(slot) = slots.remove(index) {
                        slot.kill.notify_one();
                    }
                    dropped += 1;
                }
                Some(Err(mpsc::error::TrySendError::Closed(_))) => {
                    slots.remove(index);
                }
                None => {}
            }
        }
        drop(slots);
        self.metrics
            .events_delivered
            .fetch_add(delivered, Ordering::Relaxed);
        if dropped > 0 {
            self.metrics
                .slow_subscribers_dropped
                .fetch_add(dropped, Ordering::Relaxed);
            tracing::info!(dropped, event_id = %frame.id, "disconnected subscribers that could not keep up");
        }
    }

    /// Queues a heartbeat tick to every subscriber (never drops anyone for it).
    pub fn heartbeat(&self) {
        let tick = Push::Heartbeat(comment_frame("heartbeat"));
        let slots = self.lock();
        for slot in slots.slots.iter().flatten() {
            let _ = slot.tx.try_send(tick.clone());
        }
    }

    /// Ends every open subscription (new ones are still taken): their clients reconnect with
    /// `Last-Event-ID` and replay from the log. For when this hub may have missed commits.
    pub fn end_all(&self) -> usize {
        let mut slots = self.lock();
        let indices: Vec<usize> = (0..slots.slots.len()).collect();
        let mut ended = 0;
        for index in indices {
            if let Some(slot) = slots.remove(index) {
                slot.kill.notify_one();
                ended += 1;
            }
        }
        ended
    }

    /// Ends every subscription and refuses new ones (shutdown).
    pub fn close(&self) {
        let mut slots = self.lock();
        slots.closed = true;
        let indices: Vec<usize> = (0..slots.slots.len()).collect();
        for index in indices {
            if let Some(slot) = slots.remove(index) {
                slot.kill.notify_one();
            }
        }
    }

    /// Runs the hub until `commits` ends or `shutdown` resolves: encodes each committed event
    /// once and fans it out; sends heartbeat ticks every `heartbeat`.
    pub async fn run(
        self: Arc<Self>,
        mut commits: mpsc::UnboundedReceiver<Commit>,
        heartbeat: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                commit = commits.recv() => match commit {
                    Some(Commit::Event(event)) => {
                        self.metrics.events_appended.fetch_add(1, Ordering::Relaxed);
                        self.fan_out(&Arc::new(Frame::encode(&event)));
                    }
                    Some(Commit::Lost(reason)) => {
                        let ended = self.end_all();
                        tracing::warn!(%reason, streams = ended, "this node may have missed events; streams resume from the log");
                    }
                    None => break,
                },
                _ = ticker.tick() => self.heartbeat(),
            }
        }
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64, channel: &str) -> Arc<Frame> {
        Arc::new(Frame::encode(&LoggedEvent {
            id: EventId::new(id, 0),
            channel: ChannelId::new(channel).unwrap(),
            kind: EventKind::Item,
            key: Some(ItemKey::new("k").unwrap()),
            data: Arc::from("{}"),
        }))
    }

    fn selection(channels: &[&str]) -> Selection {
        Selection {
            channels: channels
                .iter()
                .map(|c| ChannelId::new(*c).unwrap())
                .collect(),
            follow_catalog: false,
            cells: Vec::new(),
        }
    }

    #[tokio::test]
    async fn full_queue_drops_only_the_slow_subscriber() {
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(2, 10, Arc::clone(&metrics));
        let mut fast = hub.subscribe(selection(&["a"])).unwrap();
        let slow = hub.subscribe(selection(&["a"])).unwrap();
        for id in 1..=3 {
            hub.fan_out(&event(id, "a"));
            // The fast one keeps reading; the slow one never does.
            assert!(matches!(fast.queue.recv().await, Some(Push::Event(f)) if f.id.millis == id));
        }
        assert_eq!(hub.subscriber_count(), 1);
        assert_eq!(metrics.slow_subscribers_dropped.load(Ordering::Relaxed), 1);
        // The slow subscriber's kill switch fired and its queue ends after what it had.
        tokio::time::timeout(Duration::from_secs(1), slow.kill.notified())
            .await
            .unwrap();
        drop(slow);
        assert_eq!(metrics.subscribers.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn selection_filters_and_limits_apply() {
        let hub = Hub::new(8, 2, Arc::new(Metrics::default()));
        let mut a = hub.subscribe(selection(&["a"])).unwrap();
        let _b = hub.subscribe(selection(&["b"])).unwrap();
        assert_eq!(
            hub.subscribe(selection(&["a"])).unwrap_err(),
            SubscribeError::Full(2)
        );
        hub.fan_out(&event(1, "b"));
        hub.fan_out(&event(2, "a"));
        assert!(matches!(a.queue.recv().await, Some(Push::Event(f)) if f.id.millis == 2));
        hub.close();
        assert!(a.queue.recv().await.is_none());
        assert_eq!(
            hub.subscribe(selection(&["a"])).unwrap_err(),
            SubscribeError::Closed
        );
    }

    #[tokio::test]
    async fn dropping_a_subscription_frees_its_slot_for_reuse() {
        let hub = Hub::new(8, 1, Arc::new(Metrics::default()));
        let first = hub.subscribe(selection(&["a"])).unwrap();
        drop(first);
        let second = hub.subscribe(selection(&["a"])).unwrap();
        assert_eq!(hub.subscriber_count(), 1);
        drop(second);
        assert_eq!(hub.subscriber_count(), 0);
    }
}
