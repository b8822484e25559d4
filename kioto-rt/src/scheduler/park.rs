//! Putting one worker thread to sleep and waking it.
//!
//! # Protocol
//!
//! Each worker has a `Parker` with one atomic state word:
//!
//! - `EMPTY`: running, no pending notification.
//! - `NOTIFIED`: an `unpark` arrived; the next `park` returns at once. This
//!   is what makes an unpark that races ahead of the park not get lost.
//! - `PARKED_CONDVAR`: asleep on the condvar; `unpark` must take the mutex
//!   before notifying, so the notification cannot fall between the sleeper's
//!   state check and its wait.
//! - `PARKED_DRIVER`: asleep inside the I/O driver's poll (this worker won
//!   the driver); `unpark` wakes it through the driver's waker.
//!
//! `park` never sleeps on the condvar while `NOTIFIED` is set, and every
//! `unpark` either finds the parker awake (leaves `NOTIFIED` for it) or
//! wakes the sleep it is in. Spurious returns are allowed; the caller loops.
//!
//! Only the owning worker parks; any thread may unpark. The monitor also
//! reads the state (`sleep_state`, never writing it) to find a condvar
//! sleeper to hand the driver to when nobody polls it (`handoff.rs`).

use crate::driver::{Driver, DriverHandle};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// Where a worker sleeps, as [`Parker::sleep_state`] last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SleepState {
    /// Running, or between sleeps.
    Awake,
    /// On the condvar: only an `unpark` wakes it.
    OnCondvar,
    /// Blocked in the driver's poll: I/O events and timers wake it.
    InDriver,
}

#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Sleeps until unparked (or spuriously, or after `timeout`). Drives the
    /// I/O and timer driver while asleep if `driver` can be locked.
    pub(crate) fn park(
        &self,
        driver: &Mutex<Driver>,
        driver_handle: &DriverHandle,
        timeout: Option<Duration>,
    ) {
        self.park_with(
            driver,
            |driver| driver.park(driver_handle, timeout),
            timeout,
        );
    }

    /// `park`, with the driver's turn passed in (the loom models drive a
    /// stand-in driver).
    pub(super) fn park_with<D>(
        &self,
        driver: &Mutex<D>,
        turn: impl FnOnce(&mut D),
        timeout: Option<Duration>,
    ) {
        if self.take_notification() {
            return;
        }
        if let Some(mut driver) = driver.try_lock() {
            self.park_driver(|| turn(&mut driver));
        } else {
            self.park_condvar(timeout);
        }
    }

    /// Where this parker's worker sleeps right now, for the monitor's
    /// driver hand-off (`handoff.rs`). A snapshot: it may change at once.
    pub(super) fn sleep_state(&self) -> SleepState {
        match self.state.load(SeqCst) {
            PARKED_CONDVAR => SleepState::OnCondvar,
            PARKED_DRIVER => SleepState::InDriver,
            _ => SleepState::Awake,
        }
    }

    /// Consumes a pending notification, if any.
    fn take_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    fn park_driver(&self, turn: impl FnOnce()) {
        match self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent park state {actual}"),
        }
        turn();
        match self.state.swap(EMPTY, SeqCst) {
            NOTIFIED | PARKED_DRIVER => {}
            actual => panic!("inconsistent park_driver state {actual}"),
        }
    }

    fn park_condvar(&self, timeout: Option<Duration>) {
        let mut guard = self.mutex.lock();
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent park state {actual}"),
        }
        loop {
            guard = match timeout {
                Some(t) => self.condvar.wait_for(guard, t),
                None => self.condvar.wait(guard),
            };
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            if timeout.is_some() {
                // Timed out (or spurious): give up the sleep either way.
                match self.state.swap(EMPTY, SeqCst) {
                    NOTIFIED | PARKED_CONDVAR => return,
                    actual => panic!("inconsistent park_condvar state {actual}"),
                }
            }
            // Spurious wake-up without a timeout: sleep again.
        }
    }

    /// Wakes the worker, now or at its next `park`.
    pub(crate) fn unpark(&self, driver_handle: &DriverHandle) {
        self.unpark_with(|| driver_handle.unpark());
    }

    /// `unpark`, with the driver wake-up passed in (the loom models have no
    /// driver).
    pub(super) fn unpark_with(&self, wake_driver: impl FnOnce()) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the sleeper's
                // wait began (it holds the lock until it waits).
                drop(self.mutex.lock());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => wake_driver(),
            actual => panic!("inconsistent unpark state {actual}"),
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! Models of the parking protocol and of the idle/searching protocol
    //! built on it. The worker side mirrors `worker::Core::park`: register
    //! as a sleeper, re-check the queues if last searcher, then sleep until
    //! notified; the producer side mirrors `Shared::notify_parked`.

    use super::super::idle::Idle;
    use super::*;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    fn park(parker: &Parker) {
        if !parker.take_notification() {
            parker.park_condvar(None);
        }
    }

    #[test]
    fn loom_unpark_before_or_during_park_is_never_lost() {
        loom::model(|| {
            let parker = Arc::new(Parker::new());
            let p = parker.clone();
            let t = thread::spawn(move || p.unpark_with(|| unreachable!()));
            park(&parker);
            t.join().unwrap();
        });
    }

    #[test]
    fn loom_two_unparks_and_two_parks() {
        loom::model(|| {
            let parker = Arc::new(Parker::new());
            let p = parker.clone();
            let t = thread::spawn(move || {
                p.unpark_with(|| unreachable!());
                p.unpark_with(|| unreachable!());
            });
            park(&parker);
            t.join().unwrap();
            // Whatever interleaving, at most one notification is pending.
            let pending = parker.take_notification();
            if pending {
                assert!(!parker.take_notification());
            }
        });
    }

    struct World {
        idle: Idle,
        parkers: Vec<Parker>,
        work: AtomicUsize,
        done: AtomicUsize,
        /// Lets the model's main thread wait for the work without spinning.
        finished: Mutex<bool>,
        finished_cv: Condvar,
    }

    impl World {
        fn notify_parked(&self) {
            if let Some(w) = self.idle.worker_to_notify(None) {
                self.parkers[w].unpark_with(|| unreachable!());
            }
        }

        fn take_work(&self) -> bool {
            let mut n = self.work.load(Ordering::SeqCst);
            while n > 0 {
                match self
                    .work
                    .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                {
                    Ok(_) => return true,
                    Err(actual) => n = actual,
                }
            }
            false
        }

        /// One worker: search, and when nothing is found, sleep following
        /// the real protocol; returns after running one unit of work.
        fn worker(&self, index: usize, total: usize) {
            let mut searching = self.idle.try_start_searching();
            loop {
                if self.done.load(Ordering::SeqCst) == total {
                    return;
                }
                if self.take_work() {
                    if searching && self.idle.stop_searching() {
                        self.notify_parked();
                    }
                    searching = false;
                    if self.done.fetch_add(1, Ordering::SeqCst) + 1 == total {
                        *self.finished.lock() = true;
                        self.finished_cv.notify_one();
                    }
                    continue;
                }
                // Nothing found: search if allowed (`Core::steal_work`), as
                // every worker does before it sleeps: a worker that just ran
                // a task is not searching, and sleeping without a look would
                // strand work pushed while nobody searched.
                if !searching && self.idle.try_start_searching() {
                    searching = true;
                    continue;
                }
                // Still nothing: go to sleep, unless we were the last
                // searcher and work arrived meanwhile (then get it).
                if self.idle.park(index, searching) && self.work.load(Ordering::SeqCst) > 0 {
                    searching = !self.idle.unpark(index);
                    continue;
                }
                loop {
                    if self.done.load(Ordering::SeqCst) == total {
                        return;
                    }
                    park(&self.parkers[index]);
                    if !self.idle.is_parked(index) {
                        break;
                    }
                }
                searching = true;
            }
        }
    }

    #[test]
    fn loom_work_pushed_while_workers_go_to_sleep_is_always_run() {
        loom::model(|| {
            const WORKERS: usize = 2;
            const ITEMS: usize = 2;
            let world = Arc::new(World {
                idle: Idle::new(WORKERS),
                parkers: (0..WORKERS).map(|_| Parker::new()).collect(),
                work: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                finished: Mutex::new(false),
                finished_cv: Condvar::new(),
            });
            let workers: Vec<_> = (0..WORKERS)
                .map(|i| {
                    let w = world.clone();
                    thread::spawn(move || w.worker(i, ITEMS))
                })
                .collect();
            // Producer: push, then notify, as schedule_remote does, once
            // per item.
            for _ in 0..ITEMS {
                world.work.fetch_add(1, Ordering::SeqCst);
                world.notify_parked();
            }
            // Wait for the work to be run, then release sleepers so the
            // model can finish; a lost wake-up leaves every thread blocked,
            // which loom reports as a deadlock.
            {
                let mut finished = world.finished.lock();
                while !*finished {
                    finished = world.finished_cv.wait(finished);
                }
            }
            for p in &world.parkers {
                p.unpark_with(|| unreachable!());
            }
            for w in workers {
                w.join().unwrap();
            }
        });
    }
}
