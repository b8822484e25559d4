//! How the monitor thread sleeps: a period between looks while workers
//! run, and no timeout at all while the whole runtime sleeps.
//!
//! The monitor looks at the workers every few milliseconds, to catch stuck
//! ones and to hand the driver over (`monitor.rs`, `handoff.rs`). With every
//! worker parked there is nothing to catch, yet a hundred wake-ups a second
//! would keep an idle process from ever being quiet. So once the monitor
//! has seen every worker parked for `monitor::QUIET_AFTER` in a row, it
//! sleeps without a timeout until a worker leaves its park (or shutdown).
//!
//! # Protocol: who may touch what
//!
//! - `stopped`, under `lock`: set once, by shutdown ([`MonitorSleep::stop`]).
//! - `asleep`: set by the monitor, under `lock`, before its last check that
//!   every worker is parked; cleared with a swap by whoever wakes it, so a
//!   single waker takes `lock` and notifies. Taking the lock orders the
//!   notification after the monitor's wait began (it holds the lock from
//!   setting the flag until it waits).
//! - The last check reads the idle state with a read-modify-write
//!   (`Idle::all_parked`). A worker leaves its park only after the idle
//!   state counts it unparked (a read-modify-write: its own `Idle::unpark`,
//!   or a producer's `Idle::worker_to_notify`, which it learns of under the
//!   sleepers' lock), and then reads `asleep` ([`MonitorSleep::wake`]). In
//!   the idle state's modification order, either the monitor's check comes
//!   after the unpark (and sees it: no sleep) or before (and the worker,
//!   ordered after it, sees `asleep`: it wakes the monitor). Same
//!   argument as producers and sleepers in `idle.rs`.
//!
//! Cost: a worker reads `asleep` once per unpark (not per task); the
//! wake-up syscall happens only on the first unpark after a long idle
//! spell.
//!
//! Modelled in `tests::loom_*`.

use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MonitorSleep {
    /// `stopped`.
    lock: Mutex<bool>,
    condvar: Condvar,
    asleep: AtomicBool,
}

impl MonitorSleep {
    pub(crate) fn new() -> MonitorSleep {
        MonitorSleep::default()
    }

    /// Stops the monitor: its current or next sleep returns false.
    pub(crate) fn stop(&self) {
        *self.lock.lock() = true;
        self.condvar.notify_all();
    }

    /// Sleeps for `period`; returns false once stopped.
    pub(super) fn sleep(&self, period: Duration) -> bool {
        let deadline = Instant::now() + period;
        let mut stopped = self.lock.lock();
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            stopped = self.condvar.wait_for(stopped, deadline - now);
        }
        !*stopped
    }

    /// Sleeps until a worker unparks ([`wake`](Self::wake)) or shutdown,
    /// unless `all_parked` (called after announcing the sleep) says some
    /// worker is awake. Returns false once stopped.
    pub(super) fn sleep_while_idle(&self, all_parked: impl FnOnce() -> bool) -> bool {
        let mut stopped = self.lock.lock();
        if *stopped {
            return false;
        }
        self.asleep.store(true, SeqCst);
        if !all_parked() {
            self.asleep.store(false, SeqCst);
            return true;
        }
        while self.asleep.load(SeqCst) && !*stopped {
            stopped = self.condvar.wait(stopped);
        }
        self.asleep.store(false, SeqCst);
        !*stopped
    }

    /// Wakes the monitor if it sleeps for idleness. Called by every worker
    /// leaving its park, after the idle state counts it unparked.
    #[inline]
    pub(super) fn wake(&self) {
        if self.asleep.load(SeqCst) && self.asleep.swap(false, SeqCst) {
            drop(self.lock.lock());
            self.condvar.notify_one();
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! The monitor side mirrors `monitor::spawn`'s idle sleep; the worker
    //! side `worker::Core::park`'s loop and exit; the producer side
    //! `Shared::notify_parked`.

    use super::super::idle::Idle;
    use super::super::park::Parker;
    use super::*;
    use crate::loom::sync::Arc;
    use loom::thread;

    struct World {
        idle: Idle,
        parker: Parker,
        monitor: MonitorSleep,
    }

    /// A parked worker is woken by a producer (which counts it unparked),
    /// or wakes by itself (an I/O event: it counts itself unparked), while
    /// the monitor goes to sleep for idleness: the monitor always wakes.
    #[test]
    fn loom_a_worker_leaving_its_park_wakes_the_idle_monitor() {
        for notified in [true, false] {
            loom::model(move || {
                let world = Arc::new(World {
                    idle: Idle::new(1),
                    parker: Parker::new(),
                    monitor: MonitorSleep::new(),
                });
                assert!(!world.idle.park(0, false));
                let worker = {
                    let w = world.clone();
                    thread::spawn(move || {
                        if notified {
                            // Sleeps until the producer takes it off the
                            // sleeper list.
                            while w.idle.is_parked(0) {
                                if !w.parker.take_notification() {
                                    w.parker.park_condvar(None);
                                }
                            }
                        } else {
                            assert!(w.idle.unpark(0));
                        }
                        w.monitor.wake();
                    })
                };
                let producer = notified.then(|| {
                    let w = world.clone();
                    thread::spawn(move || {
                        let worker = w.idle.worker_to_notify(None);
                        assert_eq!(worker, Some(0));
                        w.parker.unpark_with(|| unreachable!());
                    })
                });
                // A lost wake-up leaves the monitor asleep for good, which
                // loom reports as a deadlock.
                assert!(world.monitor.sleep_while_idle(|| world.idle.all_parked()));
                worker.join().unwrap();
                if let Some(p) = producer {
                    p.join().unwrap();
                }
            });
        }
    }

    #[test]
    fn loom_stop_wakes_the_idle_monitor() {
        loom::model(|| {
            let world = Arc::new(World {
                idle: Idle::new(1),
                parker: Parker::new(),
                monitor: MonitorSleep::new(),
            });
            assert!(!world.idle.park(0, false));
            let stopper = {
                let w = world.clone();
                thread::spawn(move || w.monitor.stop())
            };
            assert!(!world.monitor.sleep_while_idle(|| world.idle.all_parked()));
            stopper.join().unwrap();
        });
    }
}
