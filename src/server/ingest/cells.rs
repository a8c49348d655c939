//! Per-location sources (weather, severe-weather alerts): fetched only for the cells that
//! connected clients asked for, each cell on its own schedule, a new cell at once.
//!
//! [`CellSchedule`] is the pure part (which cells are due, backoff after failures, the
//! upstream's `Retry-After`); [`run_cells`] drives it from the active cells ([`ActiveCells`]:
//! this node's hub, or every node of a cluster).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::time::Instant;

use super::feeds::HealthReport;
use super::fetch::FetchError;
use crate::protocol::ItemKey;
use crate::server::hub::Hub;

/// Longest wait between looks at the active cells (a new cell is noticed at once, and a cell
/// due sooner is fetched when due).
const SCAN_INTERVAL: Duration = Duration::from_secs(5);
/// Upstream requests in flight at once per source.
const CONCURRENCY: usize = 4;
/// First retry after a failure (or the refresh interval, if shorter); doubles up to the refresh
/// interval.
const FIRST_RETRY: Duration = Duration::from_secs(60);
/// Longest `Retry-After` obeyed: a server asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Where the cells worth fetching come from.
#[derive(Clone)]
pub enum ActiveCells {
    /// The cells this server's open streams asked for.
    Local(Arc<Hub>),
    /// The cells the open streams of every node of a cluster asked for (each node advertises
    /// its own in Redis), and this node's own.
    #[cfg(feature = "redis")]
    Cluster {
        /// This node's hub.
        hub: Arc<Hub>,
        /// The shared log, where nodes advertise their cells.
        log: crate::server::log::redis::RedisLog,
    },
}

impl ActiveCells {
    fn hub(&self) -> &Arc<Hub> {
        match self {
            Self::Local(hub) => hub,
            #[cfg(feature = "redis")]
            Self::Cluster { hub, .. } => hub,
        }
    }

    /// The active cells, sorted. If the cluster's list cannot be read, this node's own.
    pub async fn list(&self) -> Vec<ItemKey> {
        match self {
            Self::Local(hub) => hub.active_cells(),
            #[cfg(feature = "redis")]
            Self::Cluster { hub, log } => {
                let mut cells = hub.active_cells();
                match log.cluster_cells().await {
                    Ok(others) => cells.extend(others),
                    Err(error) => tracing::debug!(%error, "cannot read the cluster's cells"),
                }
                cells.sort();
                cells.dedup();
                cells
            }
        }
    }
}

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

    /// Records a failed fetch of `cell` at `now`; retries back off from a minute (or the
    /// refresh interval, if shorter) up to the refresh interval, but never come sooner than the
    /// upstream's `retry_after` (429, 503) allows.
    pub fn failed(&mut self, cell: &ItemKey, now: Instant, retry_after: Option<Duration>) {
        let failures = self.cells.get(cell).map_or(0, |s| s.failures) + 1;
        let backoff = FIRST_RETRY
            .min(self.refresh)
            .saturating_mul(1 << (failures - 1).min(10))
            .min(self.refresh);
        let wait = backoff.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
        self.cells.insert(
            cell.clone(),
            CellState {
                due: now + wait,
                failures,
            },
        );
    }

    /// When the earliest known cell is due (`None` with no cells).
    #[must_use]
    pub fn next_due(&self) -> Option<Instant> {
        self.cells.values().map(|state| state.due).min()
    }
}

/// What polling one cell did.
#[derive(Debug)]
pub enum CellOutcome {
    /// Fetched (or found nothing to do); due again after the refresh interval.
    Fresh,
    /// A recent result is already stored; due again at this time.
    FreshUntil(Instant),
    /// Failed; retried with backoff, and not before the upstream's `Retry-After`.
    Failed(CellError),
}

/// A failed poll of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// What went wrong, for the log and the channel health.
    pub message: String,
    /// The upstream's `Retry-After` (429, 503), when it gave one.
    pub retry_after: Option<Duration>,
}

impl CellError {
    /// A fetch that failed with `error`, keeping its `Retry-After`; `context` says what was
    /// fetched.
    #[must_use]
    pub fn fetch(context: &str, error: &FetchError) -> Self {
        let retry_after = match error {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        };
        Self {
            message: format!("{context}: {error}"),
            retry_after,
        }
    }
}

impl From<String> for CellError {
    fn from(message: String) -> Self {
        Self {
            message,
            retry_after: None,
        }
    }
}

/// Polls the active cells with `poll` on `schedule` until `shutdown`, and keeps the health of
/// `channel` in step (a failing upstream shows as degraded, then recovers).
pub async fn run_cells(
    cells: ActiveCells,
    mut schedule: CellSchedule,
    poll: impl PollCell,
    health: HealthReport,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut new_cells = cells.hub().watch_new_cells();
    loop {
        new_cells.mark_unchanged();
        let active = cells.list().await;
        let now = Instant::now();
        let due = schedule.due(&active, now);
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
                    CellOutcome::Failed(CellError {
                        message,
                        retry_after,
                    }) => {
                        tracing::warn!(
                            channel = %health.channel.id,
                            %cell,
                            error = %message,
                            retry_after_secs = retry_after.map(|wait| wait.as_secs()),
                            "location source failed"
                        );
                        schedule.failed(&cell, now, retry_after);
                        failure.get_or_insert(message);
                    }
                }
            }
            health.record(failure).await;
        }
        // Wake when the next known cell is due (short refresh intervals are honoured), and look
        // at least every SCAN_INTERVAL for cells that came or went.
        let wake = schedule
            .next_due()
            .map_or(Instant::now() + SCAN_INTERVAL, |due| {
                due.min(Instant::now() + SCAN_INTERVAL)
            });
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
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
            schedule.failed(&berlin, now, None);
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
        schedule.failed(&berlin, now, None);
        assert!(
            !schedule
                .due(std::slice::from_ref(&berlin), now + Duration::from_secs(60))
                .is_empty(),
            "a success resets the backoff"
        );
    }

    /// How long after `now` the single cell `cell` is due again.
    fn wait_after(schedule: &mut CellSchedule, cell: &ItemKey, now: Instant) -> Duration {
        let due = schedule.next_due().unwrap();
        assert!(schedule.due(std::slice::from_ref(cell), due).contains(cell));
        due - now
    }

    #[test]
    fn retry_after_is_obeyed_and_backoff_resumes_without_it() {
        let now = Instant::now();
        let mut schedule = CellSchedule::new(Duration::from_secs(300));
        let berlin = cell("52.5,13.4");
        schedule.due(std::slice::from_ref(&berlin), now);
        // 429 with Retry-After: 20 minutes, past the refresh interval.
        schedule.failed(&berlin, now, Some(Duration::from_secs(1200)));
        assert_eq!(
            wait_after(&mut schedule, &berlin, now),
            Duration::from_secs(1200)
        );
        // A Retry-After shorter than the backoff does not shorten it (second failure: 120 s).
        schedule.failed(&berlin, now, Some(Duration::from_secs(5)));
        assert_eq!(
            wait_after(&mut schedule, &berlin, now),
            Duration::from_secs(120)
        );
        // Without one, the exponential backoff goes on (third failure: 240 s).
        schedule.failed(&berlin, now, None);
        assert_eq!(
            wait_after(&mut schedule, &berlin, now),
            Duration::from_secs(240)
        );
        // An absurd Retry-After is capped.
        schedule.failed(&berlin, now, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(wait_after(&mut schedule, &berlin, now), MAX_RETRY_AFTER);
    }

    #[test]
    fn short_refresh_intervals_back_off_from_the_interval_itself() {
        let now = Instant::now();
        let mut schedule = CellSchedule::new(Duration::from_secs(2));
        let berlin = cell("52.5,13.4");
        schedule.due(std::slice::from_ref(&berlin), now);
        schedule.failed(&berlin, now, None);
        assert_eq!(
            wait_after(&mut schedule, &berlin, now),
            Duration::from_secs(2)
        );
        schedule.failed(&berlin, now, Some(Duration::from_secs(7)));
        assert_eq!(
            wait_after(&mut schedule, &berlin, now),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn fetch_errors_keep_their_retry_after() {
        let throttled = CellError::fetch(
            "weather for 52.5,13.4",
            &FetchError::Status {
                status: 429,
                retry_after: Some(Duration::from_secs(30)),
            },
        );
        assert_eq!(throttled.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(
            throttled.message,
            "weather for 52.5,13.4: the feed server answered 429"
        );
        let unreachable = CellError::fetch("alerts", &FetchError::Network("refused".into()));
        assert_eq!(unreachable.retry_after, None);
        assert_eq!(CellError::from("bad".to_owned()).retry_after, None);
    }

    #[test]
    fn next_due_is_the_earliest_cell() {
        let now = Instant::now();
        let mut schedule = CellSchedule::new(Duration::from_secs(900));
        assert_eq!(schedule.next_due(), None);
        let (berlin, paris) = (cell("52.5,13.4"), cell("48.9,2.4"));
        schedule.due(&[berlin.clone(), paris.clone()], now);
        schedule.succeeded(&berlin, now);
        schedule.defer(&paris, now + Duration::from_secs(30));
        assert_eq!(schedule.next_due(), Some(now + Duration::from_secs(30)));
        // A cell nobody watches any more does not keep the scheduler awake.
        schedule.due(std::slice::from_ref(&berlin), now);
        assert_eq!(schedule.next_due(), Some(now + Duration::from_secs(900)));
    }

    #[test]
    fn cell_keys_parse_to_coordinates() {
        assert_eq!(cell_coordinates(&cell("52.5,13.4")), Some((52.5, 13.4)));
        assert_eq!(cell_coordinates(&cell("-33.9,151.2")), Some((-33.9, 151.2)));
        assert_eq!(cell_coordinates(&cell("nowhere")), None);
    }
}
