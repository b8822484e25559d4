//! The driver's timer state: the wheel behind a mutex, the clock origin,
//! and the deadline the parked driver is currently sleeping towards.
//!
//! # Protocol: inserting a timer earlier than the parked driver's wake-up
//!
//! Before blocking in `epoll_wait`, the driver computes its timeout from
//! [`Wheel::next_expiration`] and stores that deadline in `park_deadline`
//! *while holding the wheel lock* ([`TimeHandle::before_park`]). After the
//! poll it stores [`NOT_PARKED`]. A task inserting a timer does so under the
//! same lock and then compares its deadline with `park_deadline`: if the
//! insert's lock came after the driver's, it sees the stored deadline and
//! unparks the driver when its own is earlier; if it came before, the
//! driver's computation already included the new timer. Either way the
//! timer is not slept past.
//!
//! Clock: ms since `start`. "Now" rounds down and deadlines round up, so
//! `elapsed >= deadline` implies the real deadline has passed (the wheel's
//! invariant 4).
//!
//! # Shutdown
//!
//! [`TimeHandle::shutdown`] sets `shutdown` with the wheel locked, then
//! fires every timer so the wakers (and the tasks they keep alive) go. From
//! then on [`insert`](TimeHandle::insert) and [`poll`](TimeHandle::poll)
//! answer [`ShutDown`] (they read the flag under the same lock, so no call
//! slips between the flag and the firing): a timer fired by shutdown is not
//! reported as elapsed, because no time passed.
//!
//! No waker is dropped or woken under the wheel lock: fired wakers go out
//! in a `Vec` the caller wakes after unlocking, and a waker replaced by a
//! poll or removed with its timer is dropped after unlocking, because a
//! waker's `Drop` may itself create, poll or drop timers.

use super::wheel::{Insert, PollTimer, TimerKey, Wheel};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use std::fmt;
use std::task::Waker;
use std::time::{Duration, Instant};

/// `park_deadline` when the driver is not blocked: nothing to interrupt.
const NOT_PARKED: u64 = 0;
/// `park_deadline` when the driver blocks with no timer to wake it.
const PARKED_FOREVER: u64 = u64::MAX;

pub(crate) struct TimeHandle {
    /// Origin of the wheel's millisecond clock.
    start: Instant,
    wheel: Mutex<Wheel>,
    /// See the module docs. In ms since `start`.
    park_deadline: AtomicU64,
    /// Mirrors `wheel.len()` so metrics read it without the lock.
    count: AtomicUsize,
    /// Set by runtime shutdown: no timer is stored after it.
    shutdown: AtomicBool,
}

/// The runtime that owns these timers has shut down: nothing fires any
/// more, so a timer can neither be stored nor report that it elapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShutDown;

/// What the driver should do about timers before blocking.
#[derive(Debug)]
pub(crate) struct ParkPlan {
    /// The longest the driver may block; `None` = no timer pending.
    pub(crate) timeout: Option<Duration>,
}

impl TimeHandle {
    pub(crate) fn new() -> TimeHandle {
        TimeHandle {
            start: Instant::now(),
            wheel: Mutex::new(Wheel::new()),
            park_deadline: AtomicU64::new(NOT_PARKED),
            count: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        }
    }

    /// The current time in wheel ms, rounded down.
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// `deadline` in wheel ms, rounded up.
    pub(crate) fn deadline_ms(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        // Saturating: a deadline too far to count in ms (585 million years)
        // must mean "never", not wrap around and fire early.
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if d.subsec_nanos() % 1_000_000 != 0 {
            ms.saturating_add(1)
        } else {
            ms
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Registers a timer. Returns `Elapsed` if the deadline has passed.
    /// `unpark` is called if the parked driver would otherwise sleep past
    /// it.
    pub(crate) fn insert(
        &self,
        deadline: Instant,
        waker: &Waker,
        unpark: impl FnOnce(),
    ) -> Result<Insert, ShutDown> {
        let ms = self.deadline_ms(deadline);
        let mut wheel = self.wheel.lock();
        if self.shutdown.load(Ordering::Acquire) {
            return Err(ShutDown);
        }
        let res = wheel.insert(ms, waker);
        self.count.store(wheel.len(), Ordering::Relaxed);
        drop(wheel);
        if matches!(res, Insert::Inserted(_)) && ms < self.park_deadline.load(Ordering::Acquire) {
            unpark();
        }
        Ok(res)
    }

    /// Whether the timer fired; if not, `waker` is the one it wakes.
    ///
    /// A timer that fired before the runtime shut down still reads as
    /// fired; one that was still waiting (cancelled by the shutdown), or any
    /// poll that would wait after shutdown, is `Err(ShutDown)`.
    pub(crate) fn poll(&self, key: TimerKey, waker: &Waker) -> Result<PollTimer, ShutDown> {
        let mut wheel = self.wheel.lock();
        let shut_down = self.shutdown.load(Ordering::Acquire);
        let (res, replaced) = wheel.poll(key, waker);
        drop(wheel);
        drop(replaced);
        match res {
            PollTimer::Cancelled => Err(ShutDown),
            PollTimer::Pending if shut_down => Err(ShutDown),
            fired_or_pending => Ok(fired_or_pending),
        }
    }

    /// Whether the timer fired (and was not polled since). A timer the
    /// shutdown cancelled did not fire: no time passed for it.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        self.wheel.lock().is_fired(key)
    }

    /// Whether the runtime shut down its timers.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    pub(crate) fn remove(&self, key: TimerKey) {
        let mut wheel = self.wheel.lock();
        let waker = wheel.remove(key);
        self.count.store(wheel.len(), Ordering::Relaxed);
        drop(wheel);
        drop(waker);
    }

    /// Fires due timers into `fired` and, when the driver is about to block
    /// (`blocking`), publishes the deadline it will sleep towards. Returns
    /// how long it may block for the sake of timers.
    pub(crate) fn before_park(&self, fired: &mut Vec<Waker>, blocking: bool) -> ParkPlan {
        let now = self.now_ms();
        let mut wheel = self.wheel.lock();
        wheel.advance(now, fired);
        self.count.store(wheel.len(), Ordering::Relaxed);
        let next = wheel.next_expiration();
        if blocking && fired.is_empty() {
            self.park_deadline
                .store(next.unwrap_or(PARKED_FOREVER), Ordering::Release);
        }
        drop(wheel);
        let timeout = next.map(|ms| {
            let at = self.start + Duration::from_millis(ms);
            at.saturating_duration_since(Instant::now())
        });
        ParkPlan { timeout }
    }

    /// Called after the driver's poll returns: fires what came due.
    pub(crate) fn after_park(&self, fired: &mut Vec<Waker>) {
        self.park_deadline.store(NOT_PARKED, Ordering::Release);
        let now = self.now_ms();
        let mut wheel = self.wheel.lock();
        if wheel.next_expiration().is_some_and(|next| next <= now) {
            wheel.advance(now, fired);
            self.count.store(wheel.len(), Ordering::Relaxed);
        }
    }

    /// Fires every timer and refuses new ones.
    pub(crate) fn shutdown(&self, fired: &mut Vec<Waker>) {
        let mut wheel = self.wheel.lock();
        self.shutdown.store(true, Ordering::Release);
        wheel.fire_all(fired);
        self.count.store(0, Ordering::Relaxed);
    }
}

impl fmt::Debug for TimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeHandle")
            .field("timers", &self.count())
            .field("park_deadline", &self.park_deadline.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model of the park-deadline protocol (module docs).
    use super::*;
    use crate::loom::sync::atomic::AtomicBool;
    use crate::loom::sync::Arc;
    use loom::thread;

    /// A timer inserted while the driver prepares to block is either seen
    /// by the driver's timeout computation or unparks it.
    #[test]
    fn earlier_timer_is_never_slept_past() {
        loom::model(|| {
            let time = Arc::new(TimeHandle::new());
            let unparked = Arc::new(AtomicBool::new(false));
            let inserter = {
                let time = time.clone();
                let unparked = unparked.clone();
                thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(3600);
                    let _ = time.insert(deadline, std::task::Waker::noop(), || {
                        unparked.store(true, Ordering::SeqCst)
                    });
                })
            };
            let mut fired = Vec::new();
            let plan = time.before_park(&mut fired, true);
            inserter.join().unwrap();
            assert!(plan.timeout.is_some() || unparked.load(Ordering::SeqCst));
            time.after_park(&mut fired);
        });
    }
}
