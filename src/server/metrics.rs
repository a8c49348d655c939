//! Server counters, rendered as Prometheus text for `GET /metrics`.
//!
//! Plain atomics updated on the hot paths (no locks per event); the publish status histogram
//! is a small map behind a mutex, touched once per publish request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Every counter the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open SSE streams.
    pub subscribers: AtomicI64,
    /// Streams opened since start.
    pub streams_opened: AtomicU64,
    /// Events appended to the log since start.
    pub events_appended: AtomicU64,
    /// Events sent from history to resuming subscribers.
    pub events_replayed: AtomicU64,
    /// Events sent in snapshots to new subscribers.
    pub events_snapshotted: AtomicU64,
    /// Live events queued to subscribers (one per subscriber per event).
    pub events_delivered: AtomicU64,
    /// Subscribers disconnected because their queue was full.
    pub slow_subscribers_dropped: AtomicU64,
    /// `gap` events sent.
    pub gaps: AtomicU64,
    publish_requests: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    /// Counts one publish/retract request answered with `status`.
    pub fn count_publish(&self, status: u16) {
        let mut map = self
            .publish_requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry(status).or_default() += 1;
    }

    /// Publish requests answered with `status` so far.
    #[must_use]
    pub fn publish_count(&self, status: u16) -> u64 {
        let map = self
            .publish_requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&status).copied().unwrap_or(0)
    }

    /// The Prometheus text exposition (format 0.0.4).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed).to_string();
        metric(
            "tidings_subscribers_connected",
            "gauge",
            "Open SSE streams.",
            self.subscribers.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "tidings_streams_opened_total",
            "counter",
            "SSE streams opened.",
            load(&self.streams_opened),
        );
        metric(
            "tidings_events_appended_total",
            "counter",
            "Events appended to the event log.",
            load(&self.events_appended),
        );
        metric(
            "tidings_events_replayed_total",
            "counter",
            "Events sent from history to subscribers resuming with Last-Event-ID.",
            load(&self.events_replayed),
        );
        metric(
            "tidings_events_snapshotted_total",
            "counter",
            "Events sent in snapshots to new subscribers.",
            load(&self.events_snapshotted),
        );
        metric(
            "tidings_events_delivered_total",
            "counter",
            "Live events queued to subscribers (one per subscriber per event).",
            load(&self.events_delivered),
        );
        metric(
            "tidings_slow_subscribers_dropped_total",
            "counter",
            "Subscribers disconnected because they could not keep up.",
            load(&self.slow_subscribers_dropped),
        );
        metric(
            "tidings_gaps_total",
            "counter",
            "Gap events sent (history no longer retained).",
            load(&self.gaps),
        );
        let _ = writeln!(
            out,
            "# HELP tidings_publish_requests_total Publish and retract requests by HTTP status.\n\
             # TYPE tidings_publish_requests_total counter"
        );
        let map = self
            .publish_requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (status, count) in map.iter() {
            let _ = writeln!(
                out,
                "tidings_publish_requests_total{{status=\"{status}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.subscribers.fetch_add(3, Ordering::Relaxed);
        metrics.count_publish(201);
        metrics.count_publish(201);
        metrics.count_publish(401);
        let text = metrics.render();
        assert!(text.contains("tidings_subscribers_connected 3\n"), "{text}");
        assert!(text.contains("tidings_publish_requests_total{status=\"201\"} 2\n"));
        assert!(text.contains("tidings_publish_requests_total{status=\"401\"} 1\n"));
        assert!(text.contains("# TYPE tidings_events_appended_total counter\n"));
    }
}
