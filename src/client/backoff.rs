//! How long to wait before reconnecting: the server's `retry:` time after a healthy connection,
//! exponential backoff with jitter after failures, capped.
//!
//! Pure arithmetic plus a tiny random source; no clocks, so it is tested without sleeping.

use std::time::Duration;

/// The reconnection schedule of one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The reconnection time: the server's `retry:` value, or the client default.
    base: Duration,
    /// The longest wait.
    cap: Duration,
    /// Failures since the last healthy connection.
    failures: u32,
    rng: Jitter,
}

impl Backoff {
    /// A schedule starting at `base` and never waiting longer than `cap`.
    #[must_use]
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: 0,
            rng: Jitter::seeded(),
        }
    }

    /// Uses a fixed random seed (tests).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        // splitmix64, so that nearby seeds give unrelated sequences.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.rng = Jitter((z ^ (z >> 31)) | 1);
        self
    }

    /// The server set a new reconnection time (`retry:`).
    pub fn set_base(&mut self, base: Duration) {
        self.base = base;
    }

    /// The current reconnection time.
    #[must_use]
    pub fn base(&self) -> Duration {
        self.base
    }

    /// Failures counted since the last reset.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A connection worked (it delivered events or stayed up): the next wait is the base again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The wait after a healthy connection ended: the reconnection time, lightly jittered so a
    /// server restart does not bring every client back in the same millisecond.
    pub fn after_healthy(&mut self) -> Duration {
        self.failures = 0;
        self.rng
            .between(self.base.mul_f64(0.8), self.base)
            .min(self.cap)
    }

    /// The wait after a failure: `base * 2^failures`, capped, then "equal jitter" (a random
    /// point in its upper half), so waits grow but never synchronise across clients.
    pub fn after_failure(&mut self) -> Duration {
        let exponent = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let grown = self.base.saturating_mul(1_u32 << exponent).min(self.cap);
        self.rng.between(grown / 2, grown)
    }
}

/// xorshift64*: plenty for jitter, no dependency.
#[derive(Debug, Clone)]
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Self {
        let mut bytes = [0_u8; 8];
        // Without OS randomness, fall back to the clock: jitter only has to differ by client.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes = (nanos as u64).to_le_bytes();
        }
        Self(u64::from_le_bytes(bytes) | 1)
    }

    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (value >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return high;
        }
        low + (high - low).mul_f64(self.next_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_grow_exponentially_with_jitter_and_are_capped() {
        let mut backoff =
            Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).with_seed(7);
        let mut previous_high = Duration::ZERO;
        for failure in 0..10_u32 {
            let high = Duration::from_secs(1)
                .saturating_mul(1 << failure)
                .min(Duration::from_secs(60));
            let wait = backoff.after_failure();
            assert!(
                wait >= high / 2 && wait <= high,
                "failure {failure}: {wait:?} not in {:?}..={high:?}",
                high / 2
            );
            assert!(high >= previous_high);
            previous_high = high;
        }
        assert!(backoff.after_failure() <= Duration::from_secs(60));
        assert_eq!(backoff.failures(), 11);
    }

    #[test]
    fn a_healthy_connection_resets_to_the_base() {
        let mut backoff =
            Backoff::new(Duration::from_millis(500), Duration::from_secs(60)).with_seed(3);
        for _ in 0..6 {
            backoff.after_failure();
        }
        let wait = backoff.after_healthy();
        assert!(
            wait <= Duration::from_millis(500) && wait >= Duration::from_millis(400),
            "{wait:?}"
        );
        assert_eq!(backoff.failures(), 0);
        let wait = backoff.after_failure();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
    }

    #[test]
    fn the_server_retry_time_becomes_the_base() {
        let mut backoff =
            Backoff::new(Duration::from_secs(3), Duration::from_secs(60)).with_seed(11);
        backoff.set_base(Duration::from_millis(100));
        let first = backoff.after_failure();
        let second = backoff.after_failure();
        assert!(first <= Duration::from_millis(100));
        assert!(second <= Duration::from_millis(200) && second >= Duration::from_millis(100));
    }

    #[test]
    fn jitter_spreads_clients() {
        let waits: std::collections::HashSet<u128> = (1..50_u64)
            .map(|seed| {
                Backoff::new(Duration::from_secs(8), Duration::from_secs(60))
                    .with_seed(seed)
                    .after_failure()
                    .as_micros()
            })
            .collect();
        assert!(waits.len() > 40, "jitter too coarse: {}", waits.len());
    }
}
