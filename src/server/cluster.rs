//! One poll per source across a cluster: of all the nodes sharing a Redis event log, only the
//! one holding the *ingest lease* fetches feeds, weather and alerts and runs expiry and
//! retention. The others serve streams and publishing, and wait to take over.
//!
//! The lease is a Redis key with a time to live, renewed every third of it. Taking it hands out
//! a fencing token higher than any before; every append the holder's ingest makes carries that
//! token and Redis refuses it once another node holds the lease ([`FencedLog`]), so a holder
//! that was paused or cut off cannot write stale results after its successor started. When the
//! holder dies, its lease runs out and another node takes over within one lease period, with
//! the validators and poll schedules kept in Redis ([`ValidatorStore::shared`]), so nothing is
//! refetched early.
//!
//! Every node also advertises the weather cells its own subscribers asked for, so the holder
//! fetches weather and alerts for the whole cluster's users.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::Ingest;
use super::ingest::cells::ActiveCells;
use super::ingest::state::ValidatorStore;
use super::log::redis::{Fence, RedisLog};
use super::log::{
    Appended, BoxFuture, EventKind, EventLog, Expired, LogError, LoggedEvent, NewEvent, PruneStats,
    ReplayStart, Selection, Snapshot,
};
use crate::config::RetentionPolicy;
use crate::protocol::{ChannelId, ChannelInfo, EventId, ItemKey};

/// The lease's name: one lease for all of ingest, so the schedules of all sources stay in one
/// node's hands.
const LEASE: &str = "ingest";
/// How often a node re-advertises its cells; they are valid three times as long.
const CELLS_EVERY: Duration = Duration::from_secs(3);

/// The shared log, with every append fenced by the ingest lease this node holds.
#[derive(Debug, Clone)]
pub struct FencedLog {
    log: RedisLog,
    fence: Fence,
}

impl EventLog for FencedLog {
    fn append(&self, events: Vec<NewEvent>) -> BoxFuture<'_, Result<Vec<Appended>, LogError>> {
        Box::pin(self.log.append_fenced(events, Some(&self.fence)))
    }
    fn replay(
        &self,
        after: EventId,
        selection: &Selection,
        limit: usize,
    ) -> BoxFuture<'_, Result<ReplayStart, LogError>> {
        self.log.replay(after, selection, limit)
    }
    fn snapshot(
        &self,
        selection: &Selection,
        items_per_channel: usize,
    ) -> BoxFuture<'_, Result<Snapshot, LogError>> {
        self.log.snapshot(selection, items_per_channel)
    }
    fn entries(
        &self,
        channel: &ChannelId,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedEvent>, LogError>> {
        self.log.entries(channel, limit)
    }
    fn entry(
        &self,
        channel: &ChannelId,
        kind: EventKind,
        key: &ItemKey,
    ) -> BoxFuture<'_, Result<Option<LoggedEvent>, LogError>> {
        self.log.entry(channel, kind, key)
    }
    fn latest_change(
        &self,
        channel: &ChannelId,
    ) -> BoxFuture<'_, Result<Option<EventId>, LogError>> {
        self.log.latest_change(channel)
    }
    fn channel_infos(&self) -> BoxFuture<'_, Result<Vec<(ChannelInfo, EventId)>, LogError>> {
        self.log.channel_infos()
    }
    fn expired(&self, now_millis: u64) -> BoxFuture<'_, Result<Vec<Expired>, LogError>> {
        self.log.expired(now_millis)
    }
    fn prune(
        &self,
        channel: &ChannelId,
        policy: RetentionPolicy,
        now_millis: u64,
    ) -> BoxFuture<'_, Result<PruneStats, LogError>> {
        self.log.prune(channel, policy, now_millis)
    }
    fn head(&self) -> BoxFuture<'_, Result<EventId, LogError>> {
        self.log.head()
    }
    fn healthy(&self) -> bool {
        self.log.healthy()
    }
}

/// A name for this node in Redis and in logs: random, so two nodes never share one.
fn node_name() -> String {
    let mut bytes = [0_u8; 6];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs this node's part of the cluster until `stop`: advertises its cells, and whenever it
/// can take the ingest lease, runs ingest under it until the lease is lost or `stop`.
pub(crate) async fn run(ingest: Ingest, log: RedisLog, mut stop: watch::Receiver<bool>) {
    let node = node_name();
    let lease = ingest
        .state
        .config
        .broker
        .as_ref()
        .map_or(crate::config::server::DEFAULT_LEASE, |broker| broker.lease);
    tracing::info!(%node, lease_secs = lease.as_secs(), "cluster node started");
    let advertiser = tokio::spawn(advertise_cells(
        Arc::clone(&ingest.state.hub),
        log.clone(),
        node.clone(),
        stop.clone(),
    ));
    let saved = ValidatorStore::shared(log.clone());
    let cells = ActiveCells::Cluster {
        hub: Arc::clone(&ingest.state.hub),
        log: log.clone(),
    };
    // Try for the lease a few times per period, so a takeover comes well within one period.
    let attempt_every = lease / 4;
    loop {
        match log.acquire_lease(LEASE, lease).await {
            Ok(Some(fence)) => {
                tracing::info!(%node, token = fence.token, "took the ingest lease: this node fetches now");
                hold(&ingest, &log, &cells, &saved, fence, lease, &mut stop).await;
                if *stop.borrow() {
                    break;
                }
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "cannot try for the ingest lease"),
        }
        tokio::select! {
            () = tokio::time::sleep(attempt_every) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    let _ = advertiser.await;
}

/// Runs ingest under `fence` while this node keeps the lease; releases it on `stop`.
async fn hold(
    ingest: &Ingest,
    log: &RedisLog,
    cells: &ActiveCells,
    saved: &ValidatorStore,
    mut fence: Fence,
    lease: Duration,
    stop: &mut watch::Receiver<bool>,
) {
    let fenced: Arc<dyn EventLog> = Arc::new(FencedLog {
        log: log.clone(),
        fence: fence.clone(),
    });
    if let Err(error) = super::sync_channel_info(&ingest.state, fenced.as_ref()).await {
        tracing::warn!(error = %format!("{error:#}"), "cannot update channel metadata");
    }
    let (group_stop_tx, group_stop) = watch::channel(false);
    ingest.state.ingesting.store(true, Ordering::Relaxed);
    let group = ingest.start(
        Arc::clone(&fenced),
        cells.clone(),
        Some(saved.clone()),
        &group_stop,
    );
    let renew_every = lease / 3;
    // Held until this instant unless renewed: past it, another node may hold the lease.
    let mut held_until = tokio::time::Instant::now() + lease;
    let release = loop {
        tokio::select! {
            () = tokio::time::sleep(renew_every) => {}
            _ = stop.wait_for(|stop| *stop) => break true,
        }
        let asked = tokio::time::Instant::now();
        match log.renew_lease(&fence, lease).await {
            Ok(Some(renewed)) => {
                fence = renewed;
                held_until = asked + lease;
            }
            Ok(None) => {
                tracing::warn!(
                    token = fence.token,
                    "lost the ingest lease to another node; stopping ingest"
                );
                break false;
            }
            Err(error) if tokio::time::Instant::now() + renew_every >= held_until => {
                tracing::warn!(%error, "cannot renew the ingest lease before it runs out; stopping ingest");
                break false;
            }
            Err(error) => tracing::debug!(%error, "ingest lease renewal failed; retrying"),
        }
    };
    let _ = group_stop_tx.send(true);
    for task in group {
        let _ = task.await;
    }
    ingest.state.ingesting.store(false, Ordering::Relaxed);
    if release {
        // At shutdown: hand over at once instead of after the lease runs out.
        if let Err(error) = log.release_lease(&fence).await {
            tracing::debug!(%error, "cannot release the ingest lease; it runs out by itself");
        } else {
            tracing::info!("released the ingest lease");
        }
    }
}

/// Keeps this node's subscribers' weather cells advertised in Redis, at once when a new one
/// comes and every few seconds, until `stop`.
async fn advertise_cells(
    hub: Arc<super::hub::Hub>,
    log: RedisLog,
    node: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut new_cells = hub.watch_new_cells();
    loop {
        new_cells.mark_unchanged();
        if let Err(error) = log
            .advertise_cells(&node, &hub.active_cells(), CELLS_EVERY * 3)
            .await
        {
            tracing::debug!(%error, "cannot advertise this node's weather cells");
        }
        tokio::select! {
            () = tokio::time::sleep(CELLS_EVERY) => {}
            _ = new_cells.changed() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}
