//! Handing the I/O driver and the timer wheel to a sleeping worker when
//! nobody polls them.
//!
//! There is no reactor thread: the driver is polled by the worker parked in
//! it, and by busy workers every `event_interval` ticks. A worker that parks
//! while the driver's mutex is held (by the worker parked in it, or by one
//! polling it during maintenance) sleeps on its condvar, where only an
//! unpark wakes it. If the driver's holder then leaves the driver to run a
//! task that blocks its thread (a `std::thread::sleep`, a synchronous lock,
//! a long computation), nobody polls the driver: every timer and every I/O
//! event waits for that one task, while a sibling sits idle on its condvar.
//! (tokio has the same weakness.)
//!
//! The monitor thread closes the gap. At every look it reads each parker's
//! sleep state, then the driver's turn count (polls completed). When the
//! count has not moved for `looks` looks in a row (about 10 ms), no worker
//! is parked in the driver, and some worker sleeps on its condvar, it
//! unparks that sleeper. The sleeper is still on the idle list, so it goes
//! round its park loop (`worker::Core::park`) and parks again, trying the
//! driver's mutex first (`Parker::park`): with the old holder busy in a
//! poll the mutex is free, and the sleeper becomes the worker that polls the
//! driver. A timer or a datagram then waits about 10–20 ms behind a blocked
//! worker instead of until it comes back. When the blocked worker does come
//! back and runs out of work, it finds the driver taken and sleeps on its
//! condvar: the two have swapped roles.
//!
//! # Who may touch what
//!
//! - `DriverHandle::turns`: written by the driver's holder (a load and a
//!   store per poll, on a cache line each poll writes anyway), read by the
//!   monitor.
//! - A `Parker`'s state: its protocol is in `park.rs`; the monitor only
//!   reads it, then unparks, which any thread may do.
//! - [`DriverWatch`] (the count last seen, how long it has not moved): the
//!   monitor thread alone.
//!
//! # Why this loses nothing and costs nothing
//!
//! - The wake-up is an ordinary unpark. If the sleeper woke meanwhile it
//!   finds `NOTIFIED` at its next park and comes straight back: one lap.
//! - Each look is a snapshot and may be wrong either way; both are
//!   harmless. A needless hand-off costs one wake-up: the woken worker finds
//!   the mutex held and sleeps again, or takes the driver. A missed one is
//!   retried at the next look: the condition lasts as long as nobody polls
//!   the driver. The states are read before the count, so a holder seen
//!   awake after a poll had its count bump (ordered before its parker's
//!   state change) seen too: a poll that just ended is not taken for
//!   silence.
//! - An idle runtime stays asleep: one worker is parked in the driver (the
//!   last to park finds its mutex free), so every look sees `InDriver` and
//!   wakes nobody.
//! - The task hot path is untouched; the monitor looks anyway, to spot
//!   stuck workers.
//!
//! # Why not something else
//!
//! - Condvar sleeps with a timeout at the next timer deadline cover timers
//!   but not I/O, which has no deadline, unless sleepers wake periodically;
//!   an idle runtime must not.
//! - Waking a condvar sleeper every time the holder leaves the driver costs
//!   a futex wake-up per I/O event or timer, for a rare stall.
//!
//! Modelled in `tests::loom_*`: with the holder stuck and a timer due, the
//! sibling on the condvar ends up polling the driver; a worker parked in
//! the driver is never disturbed.

use super::park::{Parker, SleepState};

/// The monitor's memory of the driver's turn count. See the module docs.
#[derive(Debug)]
pub(super) struct DriverWatch {
    /// The count at the previous look (`None` before the first).
    turns: Option<u64>,
    /// Looks in a row that saw the same count.
    quiet: u32,
    /// Quiet looks before a hand-off.
    looks: u32,
}

impl DriverWatch {
    /// Hands off once the driver has been quiet for `looks` looks in a row.
    pub(super) fn new(looks: u32) -> DriverWatch {
        DriverWatch {
            turns: None,
            quiet: 0,
            looks: looks.max(1),
        }
    }

    /// One look: returns the worker to unpark so that it polls the driver,
    /// if one should. `turns` reads the driver's turn count; it is called
    /// after the parkers' states are read.
    #[must_use]
    pub(super) fn look<'a>(
        &mut self,
        parkers: impl IntoIterator<Item = &'a Parker>,
        turns: impl FnOnce() -> u64,
    ) -> Option<usize> {
        let mut in_driver = false;
        let mut sleeper = None;
        for (worker, parker) in parkers.into_iter().enumerate() {
            match parker.sleep_state() {
                SleepState::InDriver => in_driver = true,
                SleepState::OnCondvar => {
                    sleeper.get_or_insert(worker);
                }
                SleepState::Awake => {}
            }
        }
        let turns = turns();
        if self.turns.replace(turns) != Some(turns) {
            self.quiet = 0;
            return None;
        }
        self.quiet = self.quiet.saturating_add(1);
        if in_driver || self.quiet < self.looks {
            return None;
        }
        let sleeper = sleeper?;
        // Give the woken worker `looks` looks to take the driver.
        self.quiet = 0;
        Some(sleeper)
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! A stand-in driver (a turn counter, a due flag, a blocking "poll"
    //! that an unpark or a due timer ends) under a real `Mutex`, real
    //! `Parker`s and the real `DriverWatch`. The worker side mirrors
    //! `worker::Core::park`'s loop; the monitor side `monitor::spawn`'s.

    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    use crate::loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    struct World {
        /// Stands for `Shared::driver`.
        driver: Mutex<()>,
        parkers: [Parker; 2],
        turns: AtomicU64,
        /// A timer has come due: the next poll fires it, and a poll
        /// blocked meanwhile returns (its timeout).
        due: AtomicBool,
        fired: AtomicBool,
        /// The driver's waker: set by an unpark, cleared by the poll.
        woken: Mutex<bool>,
        woken_cv: Condvar,
    }

    impl World {
        fn new() -> Arc<World> {
            Arc::new(World {
                driver: Mutex::new(()),
                parkers: [Parker::new(), Parker::new()],
                turns: AtomicU64::new(0),
                due: AtomicBool::new(false),
                fired: AtomicBool::new(false),
                woken: Mutex::new(false),
                woken_cv: Condvar::new(),
            })
        }

        /// `Driver::park`: blocks (unless `zero`) until unparked or a timer
        /// is due, fires due timers, counts the turn.
        fn turn(&self, zero: bool) {
            if !zero {
                let mut woken = self.woken.lock();
                while !*woken && !self.due.load(SeqCst) {
                    woken = self.woken_cv.wait(woken);
                }
                *woken = false;
            }
            if self.due.load(SeqCst) {
                self.fired.store(true, SeqCst);
            }
            let turns = self.turns.load(SeqCst);
            self.turns.store(turns + 1, SeqCst);
        }

        /// `DriverHandle::unpark`.
        fn unpark_driver(&self) {
            *self.woken.lock() = true;
            self.woken_cv.notify_one();
        }

        /// Time passes: a timer comes due, ending a poll blocked on it.
        fn make_due(&self) {
            self.due.store(true, SeqCst);
            let _woken = self.woken.lock();
            self.woken_cv.notify_one();
        }

        /// `Core::park`: sleep, in the driver if its mutex is free, until
        /// there is work (here: the timer fired) or `stop`.
        fn park_worker(&self, index: usize, stop: &AtomicBool) {
            while !self.fired.load(SeqCst) && !stop.load(SeqCst) {
                self.parkers[index].park_with(&self.driver, |_| self.turn(false), None);
            }
        }

        /// The monitor's hand-off step; true if it unparked somebody.
        fn look(&self, watch: &mut DriverWatch) -> bool {
            match watch.look(&self.parkers, || self.turns.load(SeqCst)) {
                Some(worker) => {
                    self.parkers[worker].unpark_with(|| self.unpark_driver());
                    true
                }
                None => false,
            }
        }
    }

    #[test]
    fn loom_a_due_timer_is_fired_by_the_sibling_when_the_holder_is_stuck() {
        loom::model(|| {
            let world = World::new();
            // Worker 0 polls the driver in maintenance (so worker 1 may find
            // the mutex held and sleep on its condvar), then blocks in a
            // task for good: it never polls the driver again.
            let stuck = {
                let w = world.clone();
                thread::spawn(move || {
                    if let Some(_driver) = w.driver.try_lock() {
                        w.turn(true);
                    }
                })
            };
            let sibling = {
                let w = world.clone();
                thread::spawn(move || w.park_worker(1, &AtomicBool::new(false)))
            };
            // The monitor: two looks racing with both workers; the timer
            // comes due; once worker 0 is stuck, a few more looks must get
            // it fired (each quiet look but every other one hands off, and
            // loom runs the woken worker before the yielding monitor).
            //
            // Two artefacts of loom shape this. Its `try_lock` waits, rather
            // than fails, when another thread takes the mutex while the
            // caller is paused at it: so the timer comes due from here, not
            // from worker 0, or worker 1 holding the driver until it is due
            // would wait for worker 0 waiting for it. And looks go on
            // without pause only once worker 0 is gone: while it holds the
            // mutex, loom could starve it with each look waking worker 1
            // into a held mutex (in real time, looks are 10 ms apart).
            let mut watch = DriverWatch::new(1);
            for _ in 0..2 {
                world.look(&mut watch);
            }
            world.make_due();
            stuck.join().unwrap();
            for _ in 0..8 {
                if world.fired.load(SeqCst) {
                    break;
                }
                world.look(&mut watch);
                thread::yield_now();
            }
            assert!(
                world.fired.load(SeqCst),
                "worker 1 sleeps on while nobody polls the driver"
            );
            // If worker 0 fired the timer in its maintenance poll, worker 1
            // may still sleep: the task it woke sits in worker 0's LIFO slot,
            // which the stuck-worker path hands over (not modelled here).
            world.parkers[1].unpark_with(|| world.unpark_driver());
            sibling.join().unwrap();
        });
    }

    #[test]
    fn loom_a_worker_parked_in_the_driver_is_left_asleep() {
        loom::model(|| {
            let world = World::new();
            let stop = Arc::new(AtomicBool::new(false));
            let worker = {
                let w = world.clone();
                let stop = stop.clone();
                thread::spawn(move || w.park_worker(0, &stop))
            };
            // Nobody else holds the driver: the worker parks in it, and no
            // look, before or after, wakes it.
            let mut watch = DriverWatch::new(1);
            for _ in 0..3 {
                assert!(!world.look(&mut watch));
            }
            stop.store(true, SeqCst);
            world.parkers[0].unpark_with(|| world.unpark_driver());
            worker.join().unwrap();
        });
    }
}
