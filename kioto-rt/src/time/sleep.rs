//! [`Sleep`]: a future that completes at a deadline.
//!
//! A `Sleep` registers with the timer wheel lazily, on its first poll that
//! finds the deadline still ahead, and holds only a key into the wheel's
//! slab (see `wheel.rs` for why a slab and not an intrusive node). Dropping
//! it removes the entry; resetting it removes the entry and registers again
//! on the next poll.
//!
//! On a runtime that has shut down, timers no longer fire; a `Sleep` that
//! has not completed yet panics when polled there (see [`sleep`]), as
//! tokio's does, rather than completing early as though its time had passed.

use super::handle::{ShutDown, TimeHandle};
use super::wheel::{Insert, PollTimer, TimerKey};
use super::Instant;
use crate::coop;
use crate::driver::DriverHandle;
use crate::loom::sync::Arc;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The panic message of a timer polled on a runtime that has shut down.
const RUNTIME_SHUT_DOWN: &str =
    "a Kioto runtime was found, but it has shut down: its timers no longer fire";

/// Waits until `duration` has elapsed.
///
/// The sleep completes no earlier than `duration` after this call and, on an
/// idle runtime, within about a millisecond after that (the wheel's
/// resolution is 1 ms).
///
/// # Panics
///
/// Outside a Kioto runtime. Polling the returned [`Sleep`] panics too if its
/// runtime has shut down (say, from a [`Handle`](crate::runtime::Handle)
/// kept after [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout)),
/// unless it already completed: with no driver left nothing can make it
/// complete on time, and completing early would look like time passing. The
/// same holds for [`Interval`](super::Interval) and, once its future is
/// pending, [`Timeout`](super::Timeout).
///
/// ```
/// use std::time::Duration;
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let start = kioto_rt::time::Instant::now();
///     kioto_rt::time::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    match now.checked_add(duration) {
        Some(deadline) => sleep_until(deadline),
        None => Sleep::far_future(),
    }
}

/// Waits until `deadline`.
///
/// # Panics
///
/// Outside a Kioto runtime.
///
/// ```
/// use std::time::Duration;
/// use kioto_rt::time::{sleep_until, Instant};
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(crate::runtime::context::driver(), deadline)
}

/// Future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    driver: Arc<DriverHandle>,
    deadline: Instant,
    /// The wheel entry, once registered.
    key: Option<TimerKey>,
    /// Completed; later polls return `Ready` at once.
    fired: bool,
}

impl Sleep {
    pub(crate) fn new(driver: Arc<DriverHandle>, deadline: Instant) -> Sleep {
        Sleep {
            driver,
            deadline,
            key: None,
            fired: false,
        }
    }

    /// A sleep about 30 years away: "never" for practical purposes.
    #[track_caller]
    pub(crate) fn far_future() -> Sleep {
        let deadline = Instant::now() + Duration::from_secs(86_400 * 365 * 30);
        sleep_until(deadline)
    }

    /// The instant at which this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the sleep has elapsed: a poll saw its deadline pass, or the
    /// timer it registered (at its first pending poll) has fired.
    ///
    /// As in tokio, a sleep that was never polled is not elapsed, even if
    /// its deadline is in the past, and neither is one whose runtime shut
    /// down before it fired. [`reset`](Self::reset) makes it pending again.
    pub fn is_elapsed(&self) -> bool {
        // A timer fires only once its deadline has passed: before that, no
        // need to take the wheel's lock to know.
        self.fired
            || (self.key.is_some()
                && Instant::now() >= self.deadline
                && self.key.is_some_and(|key| self.time().is_fired(key)))
    }

    /// Moves the deadline, whether or not the sleep already completed. The
    /// next poll waits for the new deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kioto_rt::time::{sleep, Instant};
    /// kioto_rt::Runtime::new().unwrap().block_on(async {
    ///     let mut s = Box::pin(sleep(Duration::from_secs(3600)));
    ///     s.as_mut().reset(Instant::now() + Duration::from_millis(2));
    ///     s.await;
    /// });
    /// ```
    pub fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.as_mut().get_mut().reset_inner(deadline);
    }

    pub(crate) fn reset_inner(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.fired = false;
        if let Some(key) = self.key.take() {
            self.time().remove(key);
        }
    }

    fn time(&self) -> &TimeHandle {
        self.driver.time()
    }

    /// Polls without spending coop budget (used by `Timeout`, whose inner
    /// future already spent it).
    ///
    /// # Panics
    ///
    /// If the runtime shut down before the sleep completed (see [`sleep`]).
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired {
            return Poll::Ready(());
        }
        match self.key {
            None => {
                // Checked before the clock too: a due sleep on a shut-down
                // runtime panics as well, so the outcome does not depend on
                // timing.
                assert!(!self.time().is_shutdown(), "{RUNTIME_SHUT_DOWN}");
                if Instant::now() >= self.deadline {
                    self.fired = true;
                    return Poll::Ready(());
                }
                let driver = &self.driver;
                match driver
                    .time()
                    .insert(self.deadline, cx.waker(), || driver.unpark())
                {
                    Ok(Insert::Elapsed) => {
                        self.fired = true;
                        Poll::Ready(())
                    }
                    Ok(Insert::Inserted(key)) => {
                        self.key = Some(key);
                        Poll::Pending
                    }
                    Err(ShutDown) => panic!("{RUNTIME_SHUT_DOWN}"),
                }
            }
            Some(key) => match self.time().poll(key, cx.waker()) {
                Ok(PollTimer::Fired) => {
                    self.key = None;
                    self.fired = true;
                    Poll::Ready(())
                }
                Ok(PollTimer::Pending) => Poll::Pending,
                Ok(PollTimer::Cancelled) | Err(ShutDown) => panic!("{RUNTIME_SHUT_DOWN}"),
            },
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.fired {
            return Poll::Ready(());
        }
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let res = this.poll_elapsed(cx);
        if res.is_ready() {
            coop.made_progress();
        }
        res
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.driver.time().remove(key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.key.is_some())
            .field("fired", &self.fired)
            .finish()
    }
}
