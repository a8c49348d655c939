//! Which server to try next, and when: the connection's policy for a list of servers (nodes of
//! one cluster) on top of the [`Backoff`] schedule.
//!
//! - A server that fails (refused, timed out, an error status, a stream that broke before it
//!   was any use, a silent link) is left for the next one at once; the list wraps around.
//! - Only when a whole round of the list failed does the client wait, by the backoff schedule
//!   (or the `Retry-After` of the server it tries next).
//! - A working server is kept: when a healthy connection ends the client comes back to the
//!   same server after the `retry:` time, and it never moves back to an earlier server just
//!   because that one is up again (no flapping).
//!
//! Pure bookkeeping, no clock and no I/O: [`crate::client::connection`] calls it after every
//! attempt. With one server it is exactly the single-server schedule.

use std::time::Duration;

use super::backoff::Backoff;

/// Longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How a connection attempt ended, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A healthy connection (it delivered events or stayed up a while) ended: the server
    /// works, come back to it.
    Healthy,
    /// A live connection went silent (the read-idle watchdog): the server or the link is gone.
    Silent,
    /// The server could not be used: unreachable, an error status, not an event stream, or a
    /// stream that broke before it delivered anything.
    Failed {
        /// The server said when to come back (`Retry-After` on 429 or 503).
        retry_after: Option<Duration>,
    },
}

/// The next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    /// Index of the server to try.
    pub server: usize,
    /// How long to wait first (zero: move on to another server at once).
    pub delay: Duration,
    /// Every server of the list failed in a row (with one server: any failure).
    pub round_failed: bool,
}

/// The rotation state of one connection.
#[derive(Debug, Clone)]
pub struct Failover {
    servers: usize,
    current: usize,
    /// Servers that failed in a row in the current round.
    failed_in_round: usize,
    /// What each server's `Retry-After` asked for in the current round.
    retry_after: Vec<Option<Duration>>,
    /// Attempts that failed since the last healthy connection.
    failures: u32,
    backoff: Backoff,
}

impl Failover {
    /// A rotation over `servers` servers (at least one is assumed), starting with the first.
    #[must_use]
    pub fn new(servers: usize, backoff: Backoff) -> Self {
        let servers = servers.max(1);
        Self {
            servers,
            current: 0,
            failed_in_round: 0,
            retry_after: vec![None; servers],
            failures: 0,
            backoff,
        }
    }

    /// The server to try now.
    #[must_use]
    pub fn current(&self) -> usize {
        self.current
    }

    /// How many servers there are.
    #[must_use]
    pub fn servers(&self) -> usize {
        self.servers
    }

    /// The number of the attempt about to be made, counted from 1 since the last healthy
    /// connection, across servers.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.failures.saturating_add(1)
    }

    /// The server set a new reconnection time (`retry:`).
    pub fn set_base(&mut self, base: Duration) {
        self.backoff.set_base(base);
    }

    /// The current reconnection time.
    #[must_use]
    pub fn base(&self) -> Duration {
        self.backoff.base()
    }

    /// The current server delivered events: it works. Forget the failures behind us.
    pub fn delivered(&mut self) {
        if self.failures > 0 || self.failed_in_round > 0 {
            self.failures = 0;
            self.start_round();
            self.backoff.reset();
        }
    }

    /// An attempt on the current server ended; what to do next.
    pub fn ended(&mut self, end: End) -> Next {
        match end {
            End::Healthy => self.stay(),
            // One server has nowhere else to go: come back at the base time, as after any
            // healthy connection (the link, not the server, is the likely culprit).
            End::Silent if self.servers == 1 => self.stay(),
            End::Silent => {
                // It was working until now: a new round starts here, without the old waits.
                self.failures = 0;
                self.start_round();
                self.backoff.reset();
                self.fail(None)
            }
            End::Failed { retry_after } => self.fail(retry_after),
        }
    }

    fn stay(&mut self) -> Next {
        self.failures = 0;
        self.start_round();
        Next {
            server: self.current,
            delay: self.backoff.after_healthy(),
            round_failed: false,
        }
    }

    fn fail(&mut self, retry_after: Option<Duration>) -> Next {
        self.failures = self.failures.saturating_add(1);
        if let Some(slot) = self.retry_after.get_mut(self.current) {
            *slot = retry_after;
        }
        self.failed_in_round += 1;
        self.current = (self.current + 1) % self.servers;
        if self.failed_in_round < self.servers {
            return Next {
                server: self.current,
                delay: Duration::ZERO,
                round_failed: false,
            };
        }
        // The whole list failed: wait before the next round, which starts with the server
        // after the last one tried (the list wraps around). That server's own `Retry-After`,
        // if it gave one, says how long.
        let scheduled = self.backoff.after_failure();
        let asked = self.retry_after.get(self.current).copied().flatten();
        self.start_round();
        Next {
            server: self.current,
            delay: asked.map_or(scheduled, |after| after.min(MAX_RETRY_AFTER)),
            round_failed: true,
        }
    }

    fn start_round(&mut self) {
        self.failed_in_round = 0;
        self.retry_after.iter_mut().for_each(|slot| *slot = None);
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    const BASE: Duration = Duration::from_millis(100);

    fn failover(servers: usize) -> Failover {
        Failover::new(
            servers,
            Backoff::new(BASE, Duration::from_secs(5)).with_seed(42),
        )
    }

    const REFUSED: End = End::Failed { retry_after: None };

    /// Plays the connection loop on tokio's paused clock: each attempt asks `outcome` what
    /// happened (by server and attempt number) and the loop sleeps the planned delay. Returns
    /// when each attempt started, on which server, relative to the start.
    async fn play(
        mut failover: Failover,
        attempts: usize,
        outcome: impl Fn(usize, usize) -> End,
    ) -> Vec<(Duration, usize)> {
        let started = Instant::now();
        let mut log = Vec::new();
        for n in 0..attempts {
            let server = failover.current();
            log.push((started.elapsed(), server));
            let end = outcome(server, n);
            if end == End::Healthy {
                failover.delivered();
            }
            let next = failover.ended(end);
            assert_eq!(next.server, failover.current());
            tokio::time::sleep(next.delay).await;
        }
        log
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_first_server_is_left_at_once_for_the_next() {
        // Server 0 refuses; server 1 works and its connections end healthily now and then.
        let log = play(failover(2), 4, |server, _| {
            if server == 0 { REFUSED } else { End::Healthy }
        })
        .await;
        assert_eq!(log[0], (Duration::ZERO, 0));
        assert_eq!(
            log[1],
            (Duration::ZERO, 1),
            "no wait before the next server"
        );
        // After a healthy connection: the same server again, after the retry time (jittered
        // 80-100 %), never back to the first one.
        for pair in log[1..].windows(2) {
            let waited = pair[1].0 - pair[0].0;
            assert_eq!(pair[1].1, 1, "{log:?}");
            assert!(waited >= BASE.mul_f64(0.8) && waited <= BASE, "{waited:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_whole_failed_round_backs_off_and_the_list_wraps_around() {
        let log = play(failover(3), 9, |_, _| REFUSED).await;
        let servers: Vec<usize> = log.iter().map(|(_, s)| *s).collect();
        assert_eq!(servers, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
        // Within a round: no wait. Between rounds: 100 ms then 200 ms, each with equal
        // jitter (the upper half).
        assert_eq!(log[1].0, log[0].0);
        assert_eq!(log[2].0, log[1].0);
        let first_wait = log[3].0 - log[2].0;
        let second_wait = log[6].0 - log[5].0;
        assert!(
            first_wait >= BASE / 2 && first_wait <= BASE,
            "{first_wait:?}"
        );
        assert!(
            second_wait >= BASE && second_wait <= BASE * 2,
            "{second_wait:?}"
        );
        assert_eq!(log[4].0, log[3].0);
        assert_eq!(log[5].0, log[4].0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_attempt_number_counts_across_servers_and_resets_when_one_works() {
        let mut failover = failover(2);
        assert_eq!(failover.attempt(), 1);
        failover.ended(REFUSED);
        assert_eq!((failover.current(), failover.attempt()), (1, 2));
        failover.ended(REFUSED);
        assert_eq!((failover.current(), failover.attempt()), (0, 3));
        // The first server answers and events flow.
        failover.delivered();
        assert_eq!(failover.attempt(), 1);
        let next = failover.ended(End::Healthy);
        assert_eq!((next.server, next.round_failed), (0, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_is_left_at_once_but_a_lone_one_is_retried_at_the_base_time() {
        let mut two = failover(2);
        two.delivered();
        let next = two.ended(End::Silent);
        assert_eq!(
            next,
            Next {
                server: 1,
                delay: Duration::ZERO,
                round_failed: false
            }
        );
        // The second is down too: that completes a round, so now it waits (base, jittered).
        let next = two.ended(REFUSED);
        assert!(next.round_failed);
        assert_eq!(next.server, 0);
        assert!(
            next.delay >= BASE / 2 && next.delay <= BASE,
            "{:?}",
            next.delay
        );

        let mut one = failover(1);
        let next = one.ended(End::Silent);
        assert_eq!(next.server, 0);
        assert!(
            next.delay >= BASE.mul_f64(0.8) && next.delay <= BASE,
            "{:?}",
            next.delay
        );
        assert!(!next.round_failed);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_moves_on_at_once_and_is_honoured_when_that_server_is_next() {
        let busy = End::Failed {
            retry_after: Some(Duration::from_secs(30)),
        };
        // Server 0 is shutting down (503, Retry-After: 30), server 1 refuses: the next round
        // starts with server 0, which asked for 30 s.
        let log = play(
            failover(2),
            3,
            |server, _| if server == 0 { busy } else { REFUSED },
        )
        .await;
        assert_eq!(log[1], (Duration::ZERO, 1));
        assert_eq!(log[2], (Duration::from_secs(30), 0));

        // One server: its Retry-After is the wait, as it always was (capped at an hour).
        let mut one = failover(1);
        let next = one.ended(End::Failed {
            retry_after: Some(Duration::from_secs(86_400)),
        });
        assert_eq!(next.delay, MAX_RETRY_AFTER);
        assert!(next.round_failed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_comes_back_does_not_take_the_client_back() {
        // Server 0 fails twice, then it is up again; server 1 works throughout.
        let log = play(failover(2), 6, |server, n| match (server, n) {
            (0, 0) => REFUSED,
            (0, _) => End::Healthy,
            _ => End::Healthy,
        })
        .await;
        let servers: Vec<usize> = log.iter().map(|(_, s)| *s).collect();
        assert_eq!(servers, [0, 1, 1, 1, 1, 1], "no flapping back to the first");
    }

    #[tokio::test(start_paused = true)]
    async fn one_server_keeps_the_single_server_schedule() {
        let mut failover = failover(1);
        let waits: Vec<Duration> = (0..4).map(|_| failover.ended(REFUSED).delay).collect();
        for (failure, wait) in waits.iter().enumerate() {
            let high = BASE * (1 << failure);
            assert!(
                *wait >= high / 2 && *wait <= high,
                "failure {failure}: {wait:?}"
            );
        }
        assert_eq!(failover.attempt(), 5);
        assert!(failover.ended(REFUSED).round_failed);
    }
}
