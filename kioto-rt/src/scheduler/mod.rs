//! The multi-threaded work-stealing scheduler.
//!
//! # Design
//!
//! Every worker thread owns a FIFO run queue (`crossbeam_deque::Worker`)
//! whose `Stealer` side is shared with its siblings, plus a *LIFO slot*: the
//! task most recently spawned or woken by the task running on that worker.
//! Message passing makes that the task most likely to run next with its data
//! in cache (A sends to B; B should run now, here), so the worker polls the
//! LIFO slot before its queue, at most 3 times in a row so two tasks
//! bouncing a message cannot starve the queue, and the LIFO task shares the
//! budget of the task that woke it. A task that yields (woken while it runs:
//! `yield_now`, or a budget-forced yield) never goes to the LIFO slot: it
//! waits in the worker's deferred list and re-enters the back of the queue
//! once the worker has run out of other work (local, LIFO and global) and
//! has polled the driver without blocking, or at the next maintenance tick
//! (which polls the driver too). As in tokio, a yielded task therefore runs
//! again only after I/O and timers have had their turn: tasks spinning on
//! `yield_now` cannot hold back readiness that has arrived.
//!
//! Unlike tokio's, our LIFO slot and deferred list can be stolen by
//! siblings — but only while their owner is *stuck* in one poll (the monitor
//! thread flags that), so locality is kept in the common case and a task
//! never waits behind a blocked worker (tokio issue 4941).
//!
//! Work from outside the workers (spawns from `block_on` or other threads,
//! wake-ups from non-worker threads) goes to one global `Injector`. A worker
//! checks it first every `global_queue_interval` ticks (default 61) even
//! when it has local work, so remote work never starves.
//!
//! An idle worker *searches*: it steals about half of a random sibling's
//! queue, then the injector. At most half the workers search at once; see
//! `idle.rs` for the wake-up protocol that keeps that from losing work.
//! Finding nothing, it parks: the first to park polls the I/O driver and the
//! timer wheel (no dedicated reactor thread), the others sleep on a condvar
//! (`park.rs`). A busy worker polls the driver with a zero timeout every
//! `event_interval` ticks so I/O is never starved by CPU work.
//!
//! That leaves one gap, which tokio has too: the worker that held the
//! driver wakes to run a task that then blocks its thread, while its
//! siblings sleep on their condvars, where no timer or I/O event reaches
//! them. Nobody polls the driver until the blocked task returns. The
//! monitor thread watches for that: when the driver's turn count has not
//! moved for about 10 ms, nobody is parked in it, and a worker sleeps on
//! its condvar, it unparks that worker, which parks again and, finding the
//! driver's mutex free, takes the reactor and the timer wheel over
//! (`handoff.rs`). An idle runtime always has a worker parked in the
//! driver, so the monitor never wakes anybody there.
//!
//! # Shutdown
//!
//! `shutdown` sets a flag and wakes every worker; each worker drops the tasks
//! in its queues and exits. From then on `schedule` never runs a task and
//! never drops one inside a wake: it pushes it to the injector. After the
//! workers are joined, `finish_shutdown` loops: the task registry aborts
//! every remaining (idle) task, which schedules it; the driver drops the
//! wakers it holds; every queue is drained, each drop possibly scheduling
//! more tasks for the next round; until a round changes nothing. Nothing is
//! leaked: a task's only references are its queue entry, its wakers, its
//! join handle, and the registry's waker.

mod handoff;
mod idle;
mod lifo;
pub(crate) mod metrics;
mod monitor;
mod park;
mod worker;

pub(crate) use monitor::{spawn as spawn_monitor, MonitorStop};
pub(crate) use worker::WorkerLaunch;

use crate::blocking::BlockingPool;
use crate::driver::{Driver, DriverHandle};
use crate::loom::sync::Mutex;
use crate::runtime::Config;
use crate::task::meta::{Kind, TaskMeta, SCHEDULED};
use crate::task::registry::Registry;
use crate::task::{Harness, Id, JoinHandle};
use async_task::{Runnable, ScheduleInfo, WithInfo};
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use idle::Idle;
use lifo::LifoSlot;
use metrics::WorkerMetrics;
use park::Parker;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

/// A task ready to be polled.
pub(crate) type Notified = Runnable<TaskMeta>;

/// State shared by every worker, handle and task of one runtime.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Process-unique, for `Handle::id`.
    id: crate::runtime::Id,
    remotes: Box<[CachePadded<Remote>]>,
    injector: Injector<Notified>,
    /// Loom builds only: crossbeam orders a push before the steal that
    /// takes it with std atomics, which loom cannot see; without this, a
    /// model that hands a task from one thread to another through the
    /// injector reads the task's (loom) metadata "concurrently" with its
    /// creation. A release RMW before each push and an acquire RMW after
    /// each successful steal give loom exactly that order (an RMW reads the
    /// latest value, so it pairs with every earlier push), and no more: a
    /// lock would also serialise pushes and steals, which crossbeam does
    /// not, and hide orderings the models should explore.
    #[cfg(loom)]
    injector_handoff: crate::loom::sync::atomic::AtomicUsize,
    idle: Idle,
    /// Held by the worker that drives I/O and timers, never blocked on.
    driver: Mutex<Driver>,
    driver_handle: crate::loom::sync::Arc<DriverHandle>,
    registry: Registry,
    pub(crate) config: Config,
    pub(crate) blocking: BlockingPool,
    shutdown: AtomicBool,
    /// Set once `finish_shutdown` has drained everything: a task pushed to
    /// the injector after that (a straggling remote wake) is dropped by the
    /// thread that pushed it.
    shutdown_done: AtomicBool,
    /// Spawns from threads that are not workers of this runtime.
    remote_spawned: AtomicU64,
    /// Times the monitor woke a sleeper to take over the driver
    /// (`handoff.rs`). Written by the monitor thread alone.
    driver_handoffs: AtomicU64,
}

/// The part of a worker that other threads touch.
#[derive(Debug)]
struct Remote {
    stealer: Stealer<Notified>,
    /// The owner's deferred (yielded) tasks; taken by siblings only when the
    /// owner is `stuck`, like the LIFO slot.
    deferred: Stealer<Notified>,
    /// The task the owner runs next; siblings take it only while the owner
    /// is `stuck` (`lifo.rs`).
    lifo: LifoSlot<Notified>,
    /// Set by the monitor when this worker has been inside one poll for a
    /// while; lets siblings take its LIFO task. Cleared by the owner.
    stuck: AtomicBool,
    /// Poll sequence: odd while a poll is in progress. Lets the monitor see
    /// a worker stuck in one poll without any clock read on the hot path.
    poll_seq: AtomicU64,
    /// The task being polled (id, and spawn location as a pointer), kept
    /// only when stall detection is on, for the warning it prints.
    current_task: AtomicU64,
    current_location: AtomicPtr<Location<'static>>,
    parker: Parker,
    /// Written on every poll by the owner alone: kept off the lines that
    /// siblings read and write (stealer, LIFO slot, parker).
    metrics: CachePadded<WorkerMetrics>,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        blocking: BlockingPool,
    ) -> std::io::Result<(Arc<Shared>, Vec<WorkerLaunch>)> {
        let n = config.worker_threads;
        let (driver, driver_handle) = Driver::new(Default::default())?;
        let mut locals = Vec::with_capacity(n);
        let mut remotes = Vec::with_capacity(n);
        for _ in 0..n {
            let local = crossbeam_deque::Worker::new_fifo();
            let deferred = crossbeam_deque::Worker::new_fifo();
            remotes.push(CachePadded::new(Remote {
                stealer: local.stealer(),
                deferred: deferred.stealer(),
                lifo: LifoSlot::new(),
                stuck: AtomicBool::new(false),
                poll_seq: AtomicU64::new(0),
                current_task: AtomicU64::new(0),
                current_location: AtomicPtr::new(std::ptr::null_mut()),
                parker: Parker::new(),
                metrics: CachePadded::new(WorkerMetrics::default()),
            }));
            locals.push((local, deferred));
        }
        let shared = Arc::new(Shared {
            id: crate::runtime::Id::next(),
            remotes: remotes.into_boxed_slice(),
            injector: Injector::new(),
            #[cfg(loom)]
            injector_handoff: crate::loom::sync::atomic::AtomicUsize::new(0),
            idle: Idle::new(n),
            driver: Mutex::new(driver),
            driver_handle,
            // One shard under loom: shards are picked by task id, and ids
            // come from a process-wide counter, so they (and the shard a
            // task lands in) would differ between a model's iterations.
            registry: Registry::new(if cfg!(loom) { 1 } else { n * 4 }),
            config,
            blocking,
            shutdown: AtomicBool::new(false),
            shutdown_done: AtomicBool::new(false),
            remote_spawned: AtomicU64::new(0),
            driver_handoffs: AtomicU64::new(0),
        });
        let launches = locals
            .into_iter()
            .enumerate()
            .map(|(index, (local, deferred))| {
                WorkerLaunch::new(index, local, deferred, shared.clone())
            })
            .collect();
        Ok((shared, launches))
    }

    pub(crate) fn id(&self) -> crate::runtime::Id {
        self.id
    }

    pub(crate) fn driver_handle(&self) -> &crate::loom::sync::Arc<DriverHandle> {
        &self.driver_handle
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Spawns `future` as a task of this runtime.
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_task(future, location, Kind::Async)
    }

    /// Spawns a blocking closure on the blocking pool.
    pub(crate) fn spawn_blocking<F, R>(
        self: &Arc<Self>,
        f: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let mut f = Some(f);
        let future = std::future::poll_fn(move |_| {
            let f = f.take().expect("blocking task polled after completion");
            // Blocking-pool threads poll outside any budget scope, so the
            // closure runs unconstrained.
            std::task::Poll::Ready(f())
        });
        self.spawn_task(future, location, Kind::Blocking)
    }

    fn spawn_task<F>(
        self: &Arc<Self>,
        future: F,
        location: &'static Location<'static>,
        kind: Kind,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = Id::next();
        let meta = TaskMeta::new(id, location, self.clone(), kind);
        let schedule = |runnable: Notified, info: ScheduleInfo| {
            schedule(runnable, info.woken_while_running);
        };
        // SAFETY: `spawn_unchecked` lets the future borrow the metadata;
        // the requirements it lists hold: (1) the harness is `Send` (its
        // future is `Send` and `&TaskMeta` is `Send` because `TaskMeta` is
        // `Sync`), so the runnable may move between threads; (2) the only
        // borrow is of the metadata, which async-task drops after the
        // future; (3) the schedule closure is `Send + Sync + 'static`.
        let (runnable, task) = unsafe {
            async_task::Builder::new()
                .metadata(meta)
                .spawn_unchecked(|meta| Harness::new(meta, future), WithInfo(schedule))
        };
        let handle = JoinHandle::new(task);
        if self
            .registry
            .insert(runnable.metadata(), runnable.waker())
            .is_err()
        {
            // Shutting down: dropping the runnable drops the future, and the
            // handle resolves to a cancellation.
            drop(runnable);
            return handle;
        }
        self.count_spawn();
        runnable.schedule();
        handle
    }

    fn count_spawn(&self) {
        match worker::current_index(self) {
            Some(index) => self.remotes[index].metrics.spawned.incr(),
            None => {
                self.remote_spawned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn schedule_remote(&self, runnable: Notified) {
        self.push_injected(runnable);
        if self.drained_after_shutdown() {
            return;
        }
        self.notify_parked();
    }

    /// Queues a task scheduled after shutdown began, for `finish_shutdown`
    /// to drop. Dropping it here, inside somebody's `wake()`, would run the
    /// task's drop code on the waker's stack (unbounded recursion through
    /// chains of tasks, and locks the waker may hold).
    fn schedule_after_shutdown(&self, runnable: Notified) {
        self.push_injected(runnable);
        self.drained_after_shutdown();
    }

    pub(crate) fn push_injected(&self, runnable: Notified) {
        #[cfg(loom)]
        self.injector_handoff.fetch_add(1, Ordering::Release);
        self.injector.push(runnable);
    }

    pub(crate) fn steal_injected(&self) -> crossbeam_deque::Steal<Notified> {
        let stolen = self.injector.steal();
        self.after_injector_steal(&stolen);
        stolen
    }

    /// Takes a batch from the global queue into `local` and returns one.
    pub(crate) fn steal_injected_batch(
        &self,
        local: &crossbeam_deque::Worker<Notified>,
    ) -> crossbeam_deque::Steal<Notified> {
        let stolen = self.injector.steal_batch_and_pop(local);
        self.after_injector_steal(&stolen);
        stolen
    }

    /// See `injector_handoff`.
    #[inline]
    fn after_injector_steal(&self, _stolen: &crossbeam_deque::Steal<Notified>) {
        #[cfg(loom)]
        if _stolen.is_success() {
            self.injector_handoff.fetch_add(0, Ordering::Acquire);
        }
    }

    /// After a push to the injector: if `finish_shutdown` already did its
    /// final drain, nobody else will drop what we pushed, so drain it here.
    /// The fences pair with the ones in `finish_shutdown`: either its final
    /// drain sees our push, or we see its flag.
    fn drained_after_shutdown(&self) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shutdown_done.load(Ordering::SeqCst) {
            self.drain_injector();
            return true;
        }
        false
    }

    /// Wakes a sleeping worker if new work needs one.
    fn notify_parked(&self) {
        // `worker_to_notify` reads the idle state with a read-modify-write,
        // which orders it after our queue push (see `idle.rs`). It never
        // picks the calling worker: a worker that has work runs it itself.
        let me = worker::current_index(self);
        if let Some(worker) = self.idle.worker_to_notify(me) {
            tracing::trace!(worker, "unpark");
            self.remotes[worker].parker.unpark(&self.driver_handle);
        }
    }

    /// True if a searching worker could take some task right now: from the
    /// injector, a sibling's queue, or a stuck sibling's LIFO slot and
    /// deferred list.
    fn has_stealable_work(&self) -> bool {
        !self.injector.is_empty() || self.remotes.iter().any(|r| r.has_stealable_work())
    }

    /// Begins shutdown: workers drop their queued tasks and exit.
    pub(crate) fn begin_shutdown(&self) {
        if self.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        for remote in self.remotes.iter() {
            remote.parker.unpark(&self.driver_handle);
        }
        self.driver_handle.unpark();
    }

    /// Completes shutdown once the workers have exited: drops every task
    /// still queued or idle and every waker the driver holds.
    ///
    /// Every drop happens here, in a loop, never nested inside a wake:
    /// dropping a task's future may wake other tasks, which only queues
    /// them (see `schedule`) for the next round.
    pub(crate) fn finish_shutdown(&self) {
        self.drain_all();
        let mut driver_shut = false;
        loop {
            let live = self.registry.len();
            self.registry.close_and_abort_all();
            let mut progress = self.drain_all();
            if !driver_shut {
                driver_shut = true;
                self.driver_handle.shutdown();
                progress |= self.drain_all();
            }
            // Stop when a sweep changes nothing: what is left is running on
            // the blocking pool and will finish on its own.
            if !progress && self.registry.len() >= live {
                break;
            }
        }
        self.shutdown_done.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.drain_injector();
    }

    /// Drops every queued task until the queues stay empty; true if any
    /// was dropped.
    fn drain_all(&self) -> bool {
        let mut any = false;
        loop {
            let mut round = self.drain_injector();
            for remote in self.remotes.iter() {
                round |= remote.lifo.take().is_some();
                round |= drain(|| remote.stealer.steal());
                round |= drain(|| remote.deferred.steal());
            }
            if !round {
                return any;
            }
            any = true;
        }
    }

    fn drain_injector(&self) -> bool {
        drain(|| self.steal_injected())
    }

    // ---- metrics accessors -------------------------------------------

    pub(crate) fn worker_metrics(&self, worker: usize) -> &WorkerMetrics {
        &self.remotes[worker].metrics
    }

    pub(crate) fn spawned_tasks_count(&self) -> u64 {
        self.remote_spawned.load(Ordering::Relaxed)
            + self
                .remotes
                .iter()
                .map(|r| r.metrics.spawned.get())
                .sum::<u64>()
    }

    pub(crate) fn driver_handoff_count(&self) -> u64 {
        self.driver_handoffs.load(Ordering::Relaxed)
    }

    pub(crate) fn global_queue_depth(&self) -> usize {
        self.injector.len()
    }

    pub(crate) fn num_searching(&self) -> usize {
        self.idle.num_searching()
    }
}

#[cfg(all(test, loom))]
impl Shared {
    /// Takes one task queued from outside the workers (every wake-up in a
    /// loom model, which has no workers).
    pub(crate) fn pop_injected(&self) -> Option<Notified> {
        loop {
            match self.steal_injected() {
                crossbeam_deque::Steal::Success(task) => return Some(task),
                crossbeam_deque::Steal::Retry => continue,
                crossbeam_deque::Steal::Empty => return None,
            }
        }
    }
}

/// Queues a task that became ready. Called by async-task on every wake.
///
/// The runtime is found through the task's metadata, but that `Arc` is
/// not cloned on the hot path: on one of the runtime's own workers the
/// worker's `Arc` is used. Only the remote path clones it, because once the
/// runnable is pushed another thread may run the task to completion and
/// free the metadata while this thread still needs the runtime.
fn schedule(runnable: Notified, yielded: bool) {
    let meta = runnable.metadata();
    if meta.shared.is_shutdown() {
        let shared = meta.shared.clone();
        shared.schedule_after_shutdown(runnable);
        return;
    }
    meta.set_state(SCHEDULED);
    if meta.kind == Kind::Blocking {
        let shared = meta.shared.clone();
        shared.blocking.submit(runnable);
        return;
    }
    let runtime = Arc::as_ptr(&meta.shared);
    if let Err(runnable) = worker::schedule_local(runtime, runnable, yielded) {
        let shared = runnable.metadata().shared.clone();
        shared.schedule_remote(runnable);
    }
}

/// Drops every task a queue yields (cancelling them); true if any.
fn drain(mut steal: impl FnMut() -> crossbeam_deque::Steal<Notified>) -> bool {
    let mut any = false;
    loop {
        match steal() {
            crossbeam_deque::Steal::Success(task) => {
                any = true;
                drop(task);
            }
            crossbeam_deque::Steal::Retry => continue,
            crossbeam_deque::Steal::Empty => return any,
        }
    }
}

impl Remote {
    fn is_stuck(&self) -> bool {
        self.stuck.load(Ordering::Relaxed)
    }

    /// Work a sibling may take: the queue always; the LIFO slot and the
    /// deferred list only while the owner is stuck.
    fn has_stealable_work(&self) -> bool {
        !self.stealer.is_empty()
            || (self.is_stuck() && (!self.lifo.is_empty() || !self.deferred.is_empty()))
    }
}
