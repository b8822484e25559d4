//! The I/O and timer driver: one `mio::Poll` and one timer wheel per runtime.
//!
//! # Design
//!
//! There is no reactor thread. The [`Driver`] (the `mio::Poll`, its event
//! buffer) sits behind the scheduler's mutex, and whichever worker is about
//! to sleep takes it and calls [`Driver::park`]: that fires due timers,
//! blocks in `epoll_wait` until the next timer (or an I/O event, or an
//! [`unpark`](DriverHandle::unpark)), then routes each event to the
//! resource's [`ScheduledIo`](crate::io::readiness::ScheduledIo) and fires
//! the timers that came due. A busy worker calls `park` with a zero timeout
//! every `event_interval` ticks so I/O and timers are never starved by CPU
//! work. Wakers are collected while locks are held and woken after every
//! lock is released, so a waker that schedules inline never deadlocks with
//! a task registering interest.
//!
//! The [`DriverHandle`] is everything other threads touch: the mio
//! `Registry` (register/deregister from any thread), the registry of
//! resources (`registry.rs`), the timers (`time/handle.rs`), and the
//! `mio::Waker` behind `unpark`.
//!
//! # Unpark protocol
//!
//! `unpark` writes the eventfd only when `unpark_pending` was clear, and the
//! driver clears it after each poll returns, before it looks at timers and
//! events. A set flag therefore always means an eventfd write that a poll
//! has not yet returned for: skipping the write loses nothing, and
//! concurrent unparks cost one syscall, not one each. At worst the next poll
//! returns at once, spuriously.
//!
//! # Shutdown
//!
//! [`DriverHandle::shutdown`] marks every registered resource shut down
//! (their waits fail with "runtime is shutting down"), fires every timer,
//! refuses new registrations and timers, and wakes (thereby dropping) every
//! stored waker: the `driver -> resource -> waker -> task -> resource`
//! cycles are all broken.

mod registry;

use crate::io::readiness::{shutdown_error, Ready, ScheduledIo};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::loom::sync::Arc;
use crate::loom::sync::Mutex;
use crate::time::handle::TimeHandle;
use registry::{IoSlab, WAKER_TOKEN};
use std::fmt;
use std::io;
use std::task::Waker;
use std::time::Duration;

/// Tuning of the driver.
#[derive(Debug, Clone)]
pub(crate) struct DriverConfig {
    /// How many events one poll can return; more wait for the next poll.
    pub(crate) event_capacity: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            event_capacity: 1024,
        }
    }
}

/// The part of the driver only the parked worker uses.
pub(crate) struct Driver {
    poll: mio::Poll,
    events: mio::Events,
    /// Reused buffer of wakers to wake after a turn.
    wakers: Vec<Waker>,
}

/// The part of the driver every thread may use. See the module docs.
pub(crate) struct DriverHandle {
    /// Registers sources with `poll` from any thread.
    registry: mio::Registry,
    /// Interrupts a blocked poll.
    waker: mio::Waker,
    /// See "Unpark protocol".
    unpark_pending: AtomicBool,
    /// token -> readiness of every registered resource.
    io: Mutex<IoSlab>,
    time: TimeHandle,
    /// Events dispatched to resources since start (metrics).
    io_ready_count: AtomicU64,
    /// Polls completed since start. Written only by the driver's holder,
    /// read by the scheduler's monitor to see that nobody polls the driver
    /// (`scheduler/handoff.rs`). Next to `unpark_pending`, which every poll
    /// writes anyway.
    turns: AtomicU64,
    is_shutdown: AtomicBool,
}

impl Driver {
    pub(crate) fn new(cfg: DriverConfig) -> io::Result<(Driver, Arc<DriverHandle>)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER_TOKEN)?;
        let handle = Arc::new(DriverHandle {
            registry,
            waker,
            unpark_pending: AtomicBool::new(false),
            io: Mutex::new(IoSlab::default()),
            time: TimeHandle::new(),
            io_ready_count: AtomicU64::new(0),
            turns: AtomicU64::new(0),
            is_shutdown: AtomicBool::new(false),
        });
        let driver = Driver {
            poll,
            events: mio::Events::with_capacity(cfg.event_capacity.max(1)),
            wakers: Vec::new(),
        };
        Ok((driver, handle))
    }

    /// Polls I/O and fires timers, blocking at most `timeout` (`None`:
    /// until an event, a timer or an unpark), never past the next timer.
    pub(crate) fn park(&mut self, handle: &DriverHandle, timeout: Option<Duration>) {
        let mut wakers = std::mem::take(&mut self.wakers);
        let shut_down = handle.is_shutdown.load(Ordering::Acquire);
        let blocking = timeout != Some(Duration::ZERO) && !shut_down;
        let plan = handle.time.before_park(&mut wakers, blocking);
        let timeout = if !blocking || !wakers.is_empty() {
            Some(Duration::ZERO)
        } else {
            match (timeout, plan.timeout) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::error!(error = %e, "kioto driver: polling for I/O events failed");
            }
        }
        handle.unpark_pending.store(false, Ordering::SeqCst);
        // Only the holder writes it: a load and a store, no lock prefix.
        let turns = handle.turns.load(Ordering::Relaxed);
        handle.turns.store(turns.wrapping_add(1), Ordering::Relaxed);
        handle.time.after_park(&mut wakers);

        let mut dispatched = 0u64;
        if !self.events.is_empty() {
            let slab = handle.io.lock();
            for event in self.events.iter() {
                if event.token() == WAKER_TOKEN {
                    continue;
                }
                let ready = Ready::from_mio(event);
                tracing::trace!(token = event.token().0, ?ready, "io readiness");
                if slab.dispatch(event.token(), ready, &mut wakers) {
                    dispatched += 1;
                }
            }
        }
        if dispatched > 0 {
            handle
                .io_ready_count
                .fetch_add(dispatched, Ordering::Relaxed);
        }
        for waker in wakers.drain(..) {
            waker.wake();
        }
        self.wakers = wakers;
    }
}

impl DriverHandle {
    /// Wakes the thread blocked in [`Driver::park`], or makes its next park
    /// return at once. Cheap when an unpark is already pending.
    pub(crate) fn unpark(&self) {
        if !self.unpark_pending.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                tracing::error!(error = %e, "kioto driver: waking the I/O driver failed");
            }
        }
    }

    /// Fails every pending I/O wait, fires every timer, drops every stored
    /// waker and refuses new registrations. Idempotent.
    pub(crate) fn shutdown(&self) {
        self.is_shutdown.store(true, Ordering::Release);
        let mut wakers = Vec::new();
        self.io.lock().shutdown(&mut wakers);
        self.time.shutdown(&mut wakers);
        for waker in wakers {
            waker.wake();
        }
        self.unpark();
    }

    /// Registers `source` for `interest`.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: mio::Interest,
    ) -> io::Result<(mio::Token, Arc<ScheduledIo>)> {
        let io = Arc::new(ScheduledIo::new());
        let token = self
            .io
            .lock()
            .insert(io.clone())
            .ok_or_else(shutdown_error)?;
        if let Err(e) = self.registry.register(source, token, interest) {
            drop(self.io.lock().remove(token));
            return Err(e);
        }
        Ok((token, io))
    }

    /// Deregisters `source` and releases its entry (and any waker left in it).
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source, token: mio::Token) {
        if let Err(e) = self.registry.deregister(source) {
            tracing::debug!(error = %e, "kioto driver: deregister failed");
        }
        let io = self.io.lock().remove(token);
        if let Some(io) = io {
            let mut wakers = Vec::new();
            io.take_wakers(&mut wakers);
        }
    }

    /// Polls completed since the runtime started.
    pub(crate) fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }

    pub(crate) fn time(&self) -> &TimeHandle {
        &self.time
    }

    /// I/O events dispatched to resources since the runtime started.
    pub(crate) fn io_ready_count(&self) -> u64 {
        self.io_ready_count.load(Ordering::Relaxed)
    }

    /// Resources currently registered.
    pub(crate) fn io_registered_sources(&self) -> usize {
        self.io.lock().len()
    }

    /// Timers currently waiting to fire.
    pub(crate) fn timer_count(&self) -> usize {
        self.time.count()
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("event_capacity", &self.events.capacity())
            .finish()
    }
}

impl fmt::Debug for DriverHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverHandle")
            .field("io_registered_sources", &self.io_registered_sources())
            .field("io_ready_count", &self.io_ready_count())
            .field("time", &self.time)
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::time::Instant;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn park_fires_timers_no_earlier_than_their_deadline() {
        let (mut driver, handle) = Driver::new(DriverConfig::default()).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let deadline = Instant::now() + Duration::from_millis(20);
        let _ = handle.time().insert(deadline, &waker, || handle.unpark());
        assert_eq!(handle.timer_count(), 1);
        while count.0.load(Ordering::SeqCst) == 0 {
            driver.park(&handle, None);
        }
        assert!(Instant::now() >= deadline);
        assert_eq!(handle.timer_count(), 0);
    }

    #[test]
    fn unpark_interrupts_a_blocked_park() {
        let (mut driver, handle) = Driver::new(DriverConfig::default()).unwrap();
        let h = handle.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            h.unpark();
        });
        driver.park(&handle, None); // returns only because of the unpark
        t.join().unwrap();
        // A pending unpark makes the next park return at once.
        handle.unpark();
        driver.park(&handle, None);
    }

    #[test]
    fn earlier_timer_unparks_the_driver() {
        let (mut driver, handle) = Driver::new(DriverConfig::default()).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let _ = handle
            .time()
            .insert(Instant::now() + Duration::from_secs(3600), &waker, || {});
        let h = handle.clone();
        let w = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = h
                .time()
                .insert(Instant::now() + Duration::from_millis(5), &w, || h.unpark());
        });
        while count.0.load(Ordering::SeqCst) == 0 {
            driver.park(&handle, None);
        }
        t.join().unwrap();
        handle.shutdown();
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "shutdown fires the rest");
        assert_eq!(handle.timer_count(), 0);
    }
}
