//! TEMPORARY STUB: replaced by the mio reactor + timer wheel driver.
//!
//! Contract the scheduler relies on (keep these signatures):
//! - `Driver::new(cfg) -> io::Result<(Driver, Arc<DriverHandle>)>`
//! - `Driver::park(&mut self, handle: &DriverHandle, timeout: Option<Duration>)`:
//!   poll I/O and fire due timers, blocking at most `timeout` (None: until
//!   `DriverHandle::unpark` or an event), never longer than the next timer.
//! - `DriverHandle::unpark(&self)`: wake the thread blocked in `park`.
//! - `DriverHandle::shutdown(&self)`: called once when the runtime shuts down
//!   (after workers stopped); must drop every stored waker and make pending
//!   I/O fail / timers fire so nothing hangs.

use crate::loom::sync::{Arc, Condvar, Mutex};
use std::io;
use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct DriverConfig {}

#[derive(Debug)]
pub(crate) struct Driver {}

#[derive(Debug)]
pub(crate) struct DriverHandle {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl Driver {
    pub(crate) fn new(_cfg: DriverConfig) -> io::Result<(Driver, Arc<DriverHandle>)> {
        Ok((
            Driver {},
            Arc::new(DriverHandle {
                notified: Mutex::new(false),
                condvar: Condvar::new(),
            }),
        ))
    }

    pub(crate) fn park(&mut self, handle: &DriverHandle, timeout: Option<Duration>) {
        let mut notified = handle.notified.lock();
        if !*notified {
            match timeout {
                Some(d) if d.is_zero() => {}
                Some(d) => handle.condvar.wait_for(&mut notified, d),
                None => handle.condvar.wait(&mut notified),
            }
        }
        *notified = false;
    }
}

impl DriverHandle {
    pub(crate) fn unpark(&self) {
        *self.notified.lock() = true;
        self.condvar.notify_one();
    }

    pub(crate) fn shutdown(&self) {}

    pub(crate) fn io_ready_count(&self) -> u64 {
        0
    }

    pub(crate) fn io_registered_sources(&self) -> usize {
        0
    }

    pub(crate) fn timer_count(&self) -> usize {
        0
    }
}
