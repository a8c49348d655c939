//! Per-location sources (weather, severe-weather alerts): fetched only for the cells that
//! connected clients asked for, each cell on its own schedule, a new cell at once.
//!
//! [`CellSchedule`] is the pure part (which cells are due, backoff after failures);
//! [`run_cells`] drives it from the hub's list of active cells.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::time::Instant;

use super::feeds::HealthReport;
use crate::protocol::ItemKey;
use crate::server::hub::Hub;

/// How often the active cells are looked at (a new cell is noticed at once regardless).
const SCAN_INTERVAL: Duration = Duration::from_secs(5);
/// Upstream requests in flight at once per source.
const CONCURRENCY: usize = 4;
/// First retry after a failure; doubles up to the refresh interval.
const FIRST_RETRY: Duration = Duration::from_secs(60);

/// When each active cell is next due.
#[derive(Debug)]
pub struct CellSchedule {
    refresh: Duration,
    cells: HashMap<ItemKey, CellState>,
}

#[derive(Debug, Clone, Copy)]
struct CellState {
    due: Instant,
    failures: u32,
}

impl CellSchedule {
    /// A schedule refreshing each cell every `refresh`.
    #[must_use]
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            cells: HashMap::new(),
        }
    }

    /// The cells of `active` due at `now`, in order. Cells no longer active are forgotten, so a
    /// cell that comes back is fetched again at once (its last report may be stale by then).
    pub fn due(&mut self, active: &[ItemKey], now: Instant) -> Vec<ItemKey> {
        self.cells.retain(|cell, _| active.contains(cell));
        active
            .iter()
            .filter(|cell| {
                let state = self.cells.entry((*cell).clone()).or_insert(CellState {
                    due: now,
                    failures: 0,
                });
                state.due <= now
            })
            .cloned()
            .collect()
    }

    /// Records a fetch of `cell` that succeeded at `now`.
    pub fn succeeded(&mut self, cell: &ItemKey, now: Instant) {
        self.defer(cell, now + self.refresh);
    }

    /// Records that `cell` was fresh already at `now`: due again at `at`.
    pub fn defer(&mut self, cell: &ItemKey, at: Instant) {
        self.cells.insert(
            cell.clone(),
            CellState {
                due: at,
                failures: 0,
            },
        );
    }

    /// Records a failed fetch of `cell` at `now`; retries back off from a minute up to the
    /// refresh interval.
    pub fn failed(&mut self, cell: &ItemKey, now: Instant) {
        let failures = self.cells.get(cell).map_or(0, |s| s.failures) + 1;
        let wait = FIRST_RETRY
            .saturating_mul(1 << (failures - 1).min(10))
            .min(self.refresh.max(FIRST_RETRY));
        self.cells.insert(
            cell.clone(),
            CellState {
                due: now + wait,
                failures,
            },
        );
    }
}

/// What polling one cell did.
#[derive(Debug)]
pub enum CellOutcome {
    /// Fetched (or found nothing to do); due again after the refresh interval.
    Fresh,
    /// A recent result is already stored; due again at this time.
    FreshUntil(Instant),
    /// Failed with this message; retried with backoff.
    Failed(String),
}

/// Polls the hub's active cells with `poll` on `schedule` until `shutdown`, and keeps the
/// health of `channel` in step (a failing upstream shows as degraded, then recovers).
pub async fn run_cells(
    hub: Arc<Hub>,
    mut schedule: CellSchedule,
    poll: impl PollCell,
    health: HealthReport,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut new_cells = hub.watch_new_cells();
    loop {
        new_cells.mark_unchanged();
        let now = Instant::now();
        let due = schedule.due(&hub.active_cells(), now);
        if !due.is_empty() {
            let polled: Vec<(ItemKey, CellOutcome)> = tokio::select! {
                polled = futures_util::stream::iter(due)
                    .map(|cell| async { let outcome = poll.poll(&cell).await; (cell, outcome) })
                    .buffer_unordered(CONCURRENCY)
                    .collect() => polled,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            let now = Instant::now();
            let mut failure = None;
            for (cell, outcome) in polled {
                match outcome {
                    CellOutcome::Fresh => schedule.succeeded(&cell, now),
                    CellOutcome::FreshUntil(at) => schedule.defer(&cell, at),
                    CellOutcome::Failed(message) => {
                        tracing::warn!(channel = %health.channel.id, %cell, error = %message, "location source failed");
                        schedule.failed(&cell, now);
                        failure.get_or_insert(message);
                    }
                }
            }
            health.record(failure).await;
        }
        tokio::select! {
            () = tokio::time::sleep(SCAN_INTERVAL) => {}
            _ = new_cells.changed() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// One poll of one cell (weather or alerts).
pub trait PollCell {
    /// Fetches and stores what is new for `cell`.
    fn poll(&self, cell: &ItemKey) -> impl Future<Output = CellOutcome> + Send;
}

/// Parses a cell key `"LAT,LON"`.
#[must_use]
pub fn cell_coordinates(cell: &ItemKey) -> Option<(f64, f64)> {
    let (lat, lon) = cell.as_str().split_once(',')?;
    Some((lat.parse().ok()?, lon.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> ItemKey {
        ItemKey::new(text).unwrap()
    }

    #[test]
    fn new_cells_are_due_at_once_then_after_the_refresh() {
        let start = Instant::now();
        let mut schedule = CellSchedule::new(Duration::from_secs(900));
        let berlin = cell("52.5,13.4");
        assert_eq!(
            schedule.due(std::slice::from_ref(&berlin), start),
            vec![berlin.clone()]
        );
        schedule.succeeded(&berlin, start);
        let later = start + Duration::from_secs(899);
        assert!(
            schedule
                .due(std::slice::from_ref(&berlin), later)
                .is_empty()
        );
        let paris = cell("48.9,2.4");
        assert_eq!(
            schedule.due(&[berlin.clone(), paris.clone()], later),
            vec![paris]
        );
        assert_eq!(
            schedule.due(
                std::slice::from_ref(&berlin),
                start + Duration::from_secs(900)
            ),
            vec![berlin]
        );
    }

    #[test]
    fn inactive_cells_are_forgotten_and_refetched_on_return() {
        let start = Instant::now();
        let mut schedule = CellSchedule::new(Duration::from_secs(900));
        let berlin = cell("52.5,13.4");
        schedule.due(std::slice::from_ref(&berlin), start);
        schedule.succeeded(&berlin, start);
        assert!(schedule.due(&[], start).is_empty());
        let back = start + Duration::from_secs(60);
        assert_eq!(
            schedule.due(std::slice::from_ref(&berlin), back),
            vec![berlin]
        );
    }

    #[test]
    fn failures_back_off_up_to_the_refresh_interval() {
        let start = Instant::now();
        let mut schedule = CellSchedule::new(Duration::from_secs(300));
        let berlin = cell("52.5,13.4");
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..5 {
            schedule.due(std::slice::from_ref(&berlin), now);
            schedule.failed(&berlin, now);
            let mut step = 1;
            while schedule
                .due(
                    std::slice::from_ref(&berlin),
                    now + Duration::from_secs(step),
                )
                .is_empty()
            {
                step += 1;
            }
            waits.push(step);
            now += Duration::from_secs(step);
        }
        assert_eq!(waits, vec![60, 120, 240, 300, 300]);
        schedule.succeeded(&berlin, now);
        schedule.failed(&berlin, now);
        assert!(
            !schedule
                .due(std::slice::from_ref(&berlin), now + Duration::from_secs(60))
                .is_empty(),
            "a success resets the backoff"
        );
    }

    #[test]
    fn cell_keys_parse_to_coordinates() {
        assert_eq!(cell_coordinates(&cell("52.5,13.4")), Some((52.5, 13.4)));
        assert_eq!(cell_coordinates(&cell("-33.9,151.2")), Some((-33.9, 151.2)));
        assert_eq!(cell_coordinates(&cell("nowhere")), None);
    }
}
