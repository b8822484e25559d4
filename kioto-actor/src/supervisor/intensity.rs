//! Restart intensity: how many restarts a supervisor tolerates in a sliding
//! window before it concludes that restarting does not help.
//!
//! OTP's rule: more than `max_restarts` restarts within the last `period`
//! and the supervisor gives up — it stops all its children and fails, so its
//! own supervisor decides what to do (escalation). The count is per
//! supervisor *instance*, over all its children: a restarted supervisor
//! starts with a clean history, as a restarted OTP supervisor process does.
//! Only restarts count: a `Temporary` child that fails, or a `Transient` one
//! that exits normally, is not restarted and costs nothing.
//!
//! The history holds at most `max_restarts + 1` instants (older ones are
//! dropped as they leave the window), so it stays small whatever the rate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The answer of [`Intensity::record`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Within the allowed rate: restart.
    Restart,
    /// More than `max_restarts` within `period`: give up.
    GiveUp,
}

/// The restart history of one supervisor instance; see the module docs.
#[derive(Debug)]
pub(super) struct Intensity {
    max_restarts: u32,
    period: Duration,
    /// Instants of the restarts still inside the window, oldest first.
    history: VecDeque<Instant>,
}

impl Intensity {
    pub(super) fn new(max_restarts: u32, period: Duration) -> Self {
        Intensity {
            max_restarts,
            period,
            history: VecDeque::new(),
        }
    }

    /// Records a restart about to happen at `now` and says whether it may.
    pub(super) fn record(&mut self, now: Instant) -> Verdict {
        self.history.push_back(now);
        while let Some(&oldest) = self.history.front() {
            if now.saturating_duration_since(oldest) >= self.period {
                self.history.pop_front();
            } else {
                break;
            }
        }
        if self.history.len() > self.max_restarts as usize {
            Verdict::GiveUp
        } else {
            Verdict::Restart
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_max_in_period_gives_up() {
        let t0 = Instant::now();
        let mut i = Intensity::new(2, Duration::from_secs(5));
        assert_eq!(i.record(t0), Verdict::Restart);
        assert_eq!(i.record(t0 + Duration::from_secs(1)), Verdict::Restart);
        assert_eq!(i.record(t0 + Duration::from_secs(2)), Verdict::GiveUp);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let t0 = Instant::now();
        let mut i = Intensity::new(1, Duration::from_secs(5));
        assert_eq!(i.record(t0), Verdict::Restart);
        assert_eq!(i.record(t0 + Duration::from_secs(5)), Verdict::Restart);
        assert_eq!(i.record(t0 + Duration::from_secs(11)), Verdict::Restart);
        assert_eq!(i.record(t0 + Duration::from_secs(12)), Verdict::GiveUp);
    }

    #[test]
    fn zero_tolerates_nothing() {
        let mut i = Intensity::new(0, Duration::from_secs(5));
        assert_eq!(i.record(Instant::now()), Verdict::GiveUp);
    }
}
