//! [`Interval`]: ticks at a fixed period, with a policy for missed ticks.
//!
//! An interval is a [`Sleep`] re-armed after every tick. When a tick is
//! observed so late that the next scheduled tick is already due (the task
//! was blocked, or the runtime was busy), [`MissedTickBehavior`] decides the
//! next deadline.
//!
//! Periods (and [`Interval::reset_after`] delays) longer than about 30
//! years are clamped to 30 years, as tokio does: "never" for any practical
//! purpose, and far enough from `Instant`'s limits that computing the next
//! deadline cannot overflow.

use super::sleep::{sleep_until, Sleep};
use super::Instant;
use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

/// The longest delay an interval uses: about 30 years (tokio's bound too).
const MAX_DELAY: Duration = Duration::from_secs(86_400 * 365 * 30);

/// Creates an interval whose first tick completes at once and then every
/// `period`.
///
/// A `period` over about 30 years is clamped to 30 years.
///
/// # Panics
///
/// If `period` is zero, or outside a Kioto runtime; a tick polled on a
/// runtime that has shut down panics too (see [`sleep`](super::sleep)).
///
/// ```
/// use std::time::Duration;
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let mut interval = kioto_rt::time::interval(Duration::from_millis(2));
///     let first = interval.tick().await;
///     let second = interval.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Creates an interval whose first tick completes at `start` and then every
/// `period` (clamped to about 30 years).
///
/// # Panics
///
/// If `period` is zero, or outside a Kioto runtime; a tick polled on a
/// runtime that has shut down panics too (see [`sleep`](super::sleep)).
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero");
    Interval {
        delay: sleep_until(start),
        period: period.min(MAX_DELAY),
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed.
///
/// Say the period is 10 ms, ticks are due at 10, 20, 30, ... and the task
/// only gets to call `tick` again at 35.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Catch up: the missed ticks (20, 30) complete at once, one per call,
    /// then the schedule resumes at 40. The default.
    #[default]
    Burst,
    /// Start again from now: the tick at 35 completes, the next is at 45.
    Delay,
    /// Drop the missed ticks, keep the phase: the tick at 35 completes (the
    /// late one), the next is at 40.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after the tick scheduled at `scheduled`, observed at `now`.
    fn next(self, scheduled: Instant, now: Instant, period: Duration) -> Instant {
        // An `interval_at` start near the end of representable time: the
        // next tick is "never" (30 years from now), as in tokio, rather
        // than an overflow.
        let regular = scheduled
            .checked_add(period)
            .unwrap_or_else(|| now + MAX_DELAY);
        if now < regular {
            return regular;
        }
        match self {
            MissedTickBehavior::Burst => regular,
            MissedTickBehavior::Delay => now + period,
            MissedTickBehavior::Skip => {
                let late = now.duration_since(scheduled).as_nanos();
                let period_ns = period.as_nanos();
                let into = Duration::from_nanos((late % period_ns) as u64);
                now + (period - into)
            }
        }
    }
}

/// Future stream of ticks returned by [`interval`] and [`interval_at`].
#[derive(Debug)]
pub struct Interval {
    /// Fires at the next scheduled tick.
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; for use in hand-written futures.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(self.poll_delay(cx));
        let scheduled = self.delay.deadline();
        let next = self
            .missed_tick_behavior
            .next(scheduled, Instant::now(), self.period);
        self.delay.reset_inner(next);
        Poll::Ready(scheduled)
    }

    /// Waits for the delay, spending coop budget like any sleep.
    fn poll_delay(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        std::future::Future::poll(std::pin::Pin::new(&mut self.delay), cx)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.delay.reset_inner(Instant::now() + self.period);
    }

    /// Makes the next tick complete at once.
    pub fn reset_immediately(&mut self) {
        self.delay.reset_inner(Instant::now());
    }

    /// Makes the next tick complete `after` from now (at most about 30
    /// years from now).
    pub fn reset_after(&mut self, after: Duration) {
        self.delay
            .reset_inner(Instant::now() + after.min(MAX_DELAY));
    }

    /// Makes the next tick complete at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.delay.reset_inner(deadline);
    }

    /// The current missed-tick policy.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets the missed-tick policy.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kioto_rt::time::{interval, MissedTickBehavior};
    /// kioto_rt::Runtime::new().unwrap().block_on(async {
    ///     let mut i = interval(Duration::from_millis(1));
    ///     i.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ///     assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Skip);
    ///     i.tick().await;
    /// });
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period between ticks (as clamped at creation).
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn missed_tick_policies() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let p = ms(10);
        let at = |n| t0 + ms(n);
        for b in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            assert_eq!(b.next(at(10), at(12), p), at(20), "{b:?} on time");
        }
        assert_eq!(MissedTickBehavior::Burst.next(at(10), at(35), p), at(20));
        assert_eq!(MissedTickBehavior::Delay.next(at(10), at(35), p), at(45));
        assert_eq!(MissedTickBehavior::Skip.next(at(10), at(35), p), at(40));
        assert_eq!(MissedTickBehavior::Skip.next(at(10), at(40), p), at(50));
    }
}
