//! One worker thread's run loop: pick a task (global queue every
//! `global_queue_interval` ticks, else LIFO slot, local queue, global
//! queue), poll it under a fresh budget, steal when out of work, park when
//! there is nothing to steal. The design is in `scheduler/mod.rs`.
//!
//! # Core access
//!
//! The `Core` lives on the worker thread's stack for the thread's whole
//! life. Task wake-ups that happen on this thread (inside a poll, or inside
//! the driver while parked) reach it through the thread-local `CURRENT`
//! pointer, so every field is behind `Cell` and the core is only ever used
//! through shared references: the run loop and `schedule_local` may both be
//! on the stack at once without aliasing a `&mut`.

use super::{Notified, Remote, Shared};
use crate::coop;
use crate::runtime::{context, Handle};
use crossbeam_deque::Steal;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tasks a local queue holds before half of them move to the global queue.
/// Stealing would balance load anyway; the bound keeps one worker that
/// spawns in a loop from hoarding work that parked siblings cannot see.
const LOCAL_QUEUE_CAPACITY: usize = 256;

/// LIFO polls in a row before the LIFO task goes to the back of the queue.
const MAX_LIFO_POLLS_IN_A_ROW: u32 = 3;

thread_local! {
    static CURRENT: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

/// Everything a worker thread needs to start running.
#[derive(Debug)]
pub(crate) struct WorkerLaunch {
    index: usize,
    local: crossbeam_deque::Worker<Notified>,
    deferred: crossbeam_deque::Worker<Notified>,
    shared: Arc<Shared>,
}

struct Core {
    index: usize,
    local: crossbeam_deque::Worker<Notified>,
    shared: Arc<Shared>,
    tick: Cell<u32>,
    is_searching: Cell<bool>,
    rng: Cell<u64>,
    busy_since: Cell<Instant>,
    /// Tasks that yielded (`yield_now`, or a budget-forced yield). They
    /// re-enter the local queue only once this worker has nothing else to
    /// run, or at the next maintenance tick, so a task that yields in a loop
    /// cannot keep the local queue non-empty forever and push remote work
    /// back to once per `global_queue_interval`. Siblings may steal them
    /// while this worker is stuck.
    deferred: crossbeam_deque::Worker<Notified>,
}

impl WorkerLaunch {
    pub(crate) fn new(
        index: usize,
        local: crossbeam_deque::Worker<Notified>,
        deferred: crossbeam_deque::Worker<Notified>,
        shared: Arc<Shared>,
    ) -> Self {
        WorkerLaunch {
            index,
            local,
            deferred,
            shared,
        }
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Runs the worker loop on the current thread until shutdown.
    pub(crate) fn run(self) {
        let core = Core {
            index: self.index,
            local: self.local,
            shared: self.shared,
            tick: Cell::new(0),
            is_searching: Cell::new(false),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ (self.index as u64 + 1)),
            busy_since: Cell::new(Instant::now()),
            deferred: self.deferred,
        };
        let _enter = context::enter(Handle::from_shared(core.shared.clone()));
        let _forbid = context::forbid_blocking();
        struct ResetCurrent;
        impl Drop for ResetCurrent {
            fn drop(&mut self) {
                let _ = CURRENT.try_with(|c| c.set(std::ptr::null()));
            }
        }
        CURRENT.with(|c| c.set(&core));
        let _reset = ResetCurrent;
        core.run();
        core.drop_queued_tasks();
    }
}

/// The index of the current thread's worker, if it is a worker of `shared`.
pub(crate) fn current_index(shared: &Shared) -> Option<usize> {
    with_core(shared, |core| core.index)
}

fn with_core<R>(runtime: *const Shared, f: impl FnOnce(&Core) -> R) -> Option<R> {
    let ptr = CURRENT.try_with(Cell::get).ok()?;
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `CURRENT` is set only by `WorkerLaunch::run` to a core on its
    // own stack and reset before that core is dropped, so a non-null value
    // on this thread points to a live core; it is only used by shared
    // reference (see the module docs).
    let core = unsafe { &*ptr };
    if std::ptr::eq(Arc::as_ptr(&core.shared), runtime) {
        Some(f(core))
    } else {
        None
    }
}

/// Queues `task` on the current worker if this thread is one of `shared`'s
/// workers; hands it back otherwise.
///
/// `runtime` is only compared, never dereferenced: the task may be freed by
/// another worker as soon as it is queued.
pub(crate) fn schedule_local(
    runtime: *const Shared,
    task: Notified,
    yielded: bool,
) -> Result<(), Notified> {
    let mut task = Some(task);
    let scheduled = with_core(runtime, |core| {
        let task = task.take().expect("task taken once");
        if yielded && coop::yield_requested() {
            core.deferred.push(task);
        } else if yielded {
            // Woken by someone else while it ran: an ordinary wake-up, but
            // not into the LIFO slot (it just had its turn).
            core.push_back(task);
        } else {
            if let Some(prev) = core.remote().lifo.push(task) {
                core.push_back(prev);
            }
        }
    });
    match scheduled {
        Some(()) => Ok(()),
        None => Err(task.expect("not taken when not on a worker")),
    }
}

impl Core {
    fn remote(&self) -> &Remote {
        &self.shared.remotes[self.index]
    }

    fn run(&self) {
        let config = &self.shared.config;
        while !self.shared.is_shutdown() {
            let tick = self.tick.get().wrapping_add(1);
            self.tick.set(tick);
            if tick % config.event_interval == 0 {
                self.maintenance();
                if self.shared.is_shutdown() {
                    break;
                }
            }
            if let Some(task) = self.next_task(tick) {
                self.run_task(task);
                continue;
            }
            if !self.deferred.is_empty() {
                // Only yielded tasks are left: poll I/O and timers before
                // running them again (as tokio does), so a task spinning on
                // `yield_now` never holds back readiness that has arrived.
                self.poll_driver_now();
                self.release_deferred();
                continue;
            }
            if let Some(task) = self.steal_work() {
                self.run_task(task);
                continue;
            }
            self.park();
        }
    }

    /// Polls I/O and timers without blocking, so a busy worker still lets
    /// them make progress; publishes the queue-depth gauge.
    fn maintenance(&self) {
        self.poll_driver_now();
        self.release_deferred();
        self.remote()
            .metrics
            .local_queue_depth
            .set(self.local.len());
    }

    /// Polls the driver without blocking, unless another worker holds it
    /// (it is parked in it, or polling it: either way it dispatches).
    fn poll_driver_now(&self) {
        if let Some(mut driver) = self.shared.driver.try_lock() {
            driver.park(&self.shared.driver_handle, Some(Duration::ZERO));
        }
    }

    fn next_task(&self, tick: u32) -> Option<Notified> {
        if tick % self.shared.config.global_queue_interval == 0 {
            if let Some(task) = self.steal_from(|| self.shared.steal_injected()) {
                self.remote().metrics.global_queue_takes.incr();
                return Some(task);
            }
        }
        if let Some(task) = self.remote().lifo.take() {
            self.remote().metrics.lifo_hits.incr();
            return Some(task);
        }
        if let Some(task) = self.local.pop() {
            return Some(task);
        }
        self.take_global_batch()
    }

    /// Takes a batch from the global queue into the local one and returns
    /// its first task, counting every task taken.
    fn take_global_batch(&self) -> Option<Notified> {
        let before = self.local.len();
        let task = self.steal_from(|| self.shared.steal_injected_batch(&self.local))?;
        let taken = (self.local.len() + 1).saturating_sub(before) as u64;
        self.remote().metrics.global_queue_takes.add(taken);
        Some(task)
    }

    /// Runs `task`, then the tasks it puts in the LIFO slot (at most
    /// `MAX_LIFO_POLLS_IN_A_ROW`), all within one budget.
    fn run_task(&self, task: Notified) {
        if self.is_searching.replace(false) && self.shared.idle.stop_searching() {
            // The last searcher found work; there may be more for others.
            self.shared.notify_parked();
        }
        coop::budget(|| {
            self.poll(task);
            let mut lifo_polls = 0;
            while let Some(task) = self.remote().lifo.take() {
                if lifo_polls >= MAX_LIFO_POLLS_IN_A_ROW || !coop::has_budget_remaining() {
                    // To the back of our own queue, without waking a
                    // sibling: this worker runs it shortly, and a sibling
                    // stealing one side of a message ping-pong would make
                    // every later message cross cores.
                    self.push_local(task);
                    break;
                }
                lifo_polls += 1;
                self.remote().metrics.lifo_hits.incr();
                self.poll(task);
            }
        });
    }

    fn poll(&self, task: Notified) {
        let remote = self.remote();
        let seq = remote.poll_seq.load(Ordering::Relaxed);
        remote.poll_seq.store(seq + 1, Ordering::Relaxed);
        if self.shared.config.stall_threshold.is_some() {
            let meta = task.metadata();
            remote
                .current_task
                .store(meta.id.as_u64(), Ordering::Relaxed);
            remote
                .current_location
                .store(meta.location as *const _ as *mut _, Ordering::Relaxed);
        }
        remote.metrics.polls.incr();
        // The harness catches panics of the user's future; this only guards
        // against a panic escaping from a drop inside async-task itself, so
        // the worker survives whatever a task does.
        if catch_unwind(AssertUnwindSafe(|| task.run())).is_err() {
            tracing::error!("a task panicked outside its future; the worker continues");
        }
        remote.poll_seq.store(seq + 2, Ordering::Release);
        if remote.stuck.load(Ordering::Relaxed) {
            remote.stuck.store(false, Ordering::Relaxed);
        }
        if coop::take_forced_yield() {
            remote.metrics.forced_yields.incr();
        }
        coop::clear_yield_request();
    }

    /// Moves the yielded tasks to the back of the local queue; returns true
    /// if there were any.
    fn release_deferred(&self) -> bool {
        let mut any = false;
        while let Some(task) = self.deferred.pop() {
            self.push_local(task);
            any = true;
        }
        if any {
            self.notify_if_surplus();
        }
        any
    }

    /// Pushes to the back of the local queue, spilling half of it to the
    /// global queue when full, and wakes a sibling if one should help.
    fn push_back(&self, task: Notified) {
        self.push_local(task);
        self.notify_if_surplus();
    }

    /// Wakes a sibling only if more is queued here than this worker runs
    /// next. A lone task would otherwise hop to the sibling at every yield or
    /// wake-while-running: a flooded actor, or both actors of a message
    /// ping-pong, crossing cores (and a futex wake-up) again and again.
    fn notify_if_surplus(&self) {
        let lifo = usize::from(!self.remote().lifo.is_empty());
        if self.local.len() + lifo > 1 {
            self.shared.notify_parked();
        }
    }

    /// `push_back` without the wake-up, for callers that push several.
    fn push_local(&self, task: Notified) {
        if self.local.len() >= LOCAL_QUEUE_CAPACITY {
            for _ in 0..LOCAL_QUEUE_CAPACITY / 2 {
                match self.local.pop() {
                    Some(t) => self.shared.push_injected(t),
                    None => break,
                }
            }
            self.remote().metrics.overflows.incr();
        }
        self.local.push(task);
    }

    fn steal_work(&self) -> Option<Notified> {
        if !self.is_searching.get() {
            if !self.shared.idle.try_start_searching() {
                return None;
            }
            self.is_searching.set(true);
        }
        let remotes = &self.shared.remotes;
        let n = remotes.len();
        let start = self.next_random() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            let remote = &remotes[victim];
            if let Some(task) = self.steal_from(|| remote.stealer.steal_batch_and_pop(&self.local))
            {
                let stolen = self.local.len() as u64 + 1;
                let metrics = &self.remote().metrics;
                metrics.steals.add(stolen);
                metrics.steal_operations.incr();
                tracing::trace!(worker = self.index, victim, stolen, "steal");
                return Some(task);
            }
            if remote.is_stuck() {
                let before = self.local.len();
                let task = remote.lifo.take().or_else(|| {
                    self.steal_from(|| remote.deferred.steal_batch_and_pop(&self.local))
                });
                if let Some(task) = task {
                    let metrics = &self.remote().metrics;
                    metrics
                        .steals
                        .add((self.local.len() + 1).saturating_sub(before) as u64);
                    metrics.steal_operations.incr();
                    tracing::trace!(worker = self.index, victim, "steal from a stuck worker");
                    return Some(task);
                }
            }
        }
        self.take_global_batch()
    }

    fn steal_from(&self, mut steal: impl FnMut() -> Steal<Notified>) -> Option<Notified> {
        loop {
            match steal() {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    fn next_random(&self) -> u64 {
        // xorshift64*: cheap and good enough to spread victims.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn has_own_work(&self) -> bool {
        !self.local.is_empty() || !self.remote().lifo.is_empty()
    }

    fn park(&self) {
        let shared = &self.shared;
        let metrics = &self.remote().metrics;
        metrics.parks.incr();
        let busy = self.busy_since.get().elapsed();
        metrics.busy_nanos.add(busy.as_nanos() as u64);
        metrics.local_queue_depth.set(0);

        let was_searching = self.is_searching.replace(false);
        if shared.idle.park(self.index, was_searching) && shared.has_stealable_work() {
            // We were the last searcher and work arrived while we decided
            // to sleep: it must not be left with every worker asleep. Take
            // ourselves off the sleeper list and go get it.
            if !shared.idle.unpark(self.index) {
                // Notified meanwhile: counted as searching already.
                self.is_searching.set(true);
            }
            self.busy_since.set(Instant::now());
            return;
        }
        tracing::trace!(worker = self.index, "park");
        loop {
            self.remote()
                .parker
                .park(&shared.driver, &shared.driver_handle, None);
            if shared.is_shutdown() {
                break;
            }
            if self.has_own_work() {
                // The driver (or a timer) scheduled tasks on this thread.
                if !shared.idle.unpark(self.index) {
                    // Somebody notified us meanwhile and counted us as
                    // searching.
                    self.is_searching.set(true);
                }
                if self.local.len() > 1 {
                    shared.notify_parked();
                }
                break;
            }
            if !shared.idle.is_parked(self.index) {
                // Notified: counted as unparked and searching.
                self.is_searching.set(true);
                break;
            }
        }
        tracing::trace!(worker = self.index, "unpark");
        self.busy_since.set(Instant::now());
    }

    fn drop_queued_tasks(&self) {
        drop(self.remote().lifo.take());
        while let Some(task) = self.deferred.pop() {
            drop(task);
        }
        while let Some(task) = self.local.pop() {
            drop(task);
        }
    }
}
