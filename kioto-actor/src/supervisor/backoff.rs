//! Optional exponential restart backoff.
//!
//! Without backoff a failed child is restarted at once, as in OTP. With
//! `.backoff(min, max)` the n-th consecutive restart of a child waits
//! `min * 2^(n-1)`, capped at `max`. Restarts are consecutive while each
//! comes within the supervisor's intensity period of the previous one; a
//! child that has stayed up for a whole period starts again from `min`.
//!
//! The wait happens behind the child's address: its mailbox stays open, so
//! messages sent meanwhile queue up and the new instance handles them. The
//! supervisor does not sleep: it arms a timer (a task tied to its own
//! context) that tells it when to start the instance, so it keeps handling
//! other children's failures and run-time requests during the wait.

use std::time::Duration;

/// `min * 2^(n-1)` capped at `max`; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backoff {
    pub(super) min: Duration,
    pub(super) max: Duration,
}

impl Backoff {
    /// The wait before the `streak`-th consecutive restart (1-based).
    pub(super) fn delay(&self, streak: u32) -> Duration {
        let doublings = streak.saturating_sub(1).min(32);
        self.min
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff {
            min: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        let got: Vec<_> = (1..=5).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, [10, 20, 40, 50, 50]);
        assert_eq!(b.delay(1000), Duration::from_millis(50));
    }
}
