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

use crate::driver::{Driver, DriverHandle};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

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
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if let Some(mut driver) = driver.try_lock() {
            self.park_driver(&mut driver, driver_handle, timeout);
        } else {
            self.park_condvar(timeout);
        }
    }

    fn park_driver(&self, driver: &mut Driver, handle: &DriverHandle, timeout: Option<Duration>) {
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
        driver.park(handle, timeout);
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
            match timeout {
                Some(t) => self.condvar.wait_for(&mut guard, t),
                None => self.condvar.wait(&mut guard),
            }
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
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the sleeper's
                // wait began (it holds the lock until it waits).
                drop(self.mutex.lock());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => driver_handle.unpark(),
            actual => panic!("inconsistent unpark state {actual}"),
        }
    }
}
