//! `RuntimeMetrics`: counters about the scheduler, read without slowing it.

use crate::scheduler::Shared;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Counters and gauges of one runtime.
///
/// Per-worker values are written by their worker alone, without atomic
/// read-modify-write, so reading them is cheap and they may lag by a few
/// events. Indices run from 0 to `num_workers() - 1`.
///
/// ```
/// let rt = kioto_rt::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     kioto_rt::spawn(async {}).await.unwrap();
/// });
/// let m = rt.metrics();
/// assert_eq!(m.num_workers(), 2);
/// assert!(m.spawned_tasks_count() >= 1);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    shared: Arc<Shared>,
}

impl RuntimeMetrics {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RuntimeMetrics { shared }
    }

    /// Number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Tasks spawned and not yet finished (including blocking ones).
    pub fn num_alive_tasks(&self) -> usize {
        self.shared.registry().len()
    }

    /// Tasks spawned since the runtime started.
    pub fn spawned_tasks_count(&self) -> u64 {
        self.shared.spawned_tasks_count()
    }

    /// Tasks waiting in the global (injection) queue.
    pub fn global_queue_depth(&self) -> usize {
        self.shared.global_queue_depth()
    }

    /// Threads currently in the blocking pool.
    pub fn num_blocking_threads(&self) -> usize {
        self.shared.blocking.num_threads()
    }

    /// Workers currently searching for work to steal.
    pub fn num_searching_workers(&self) -> usize {
        self.shared.num_searching()
    }

    /// Times the driver (I/O and timers) went unpolled for about 10 ms
    /// while a worker slept on its condvar (its holder stuck in a long
    /// poll, say), so the monitor woke that worker to take it over.
    pub fn driver_handoff_count(&self) -> u64 {
        self.shared.driver_handoff_count()
    }

    /// Task polls performed by worker `worker`.
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).polls.get()
    }

    /// Tasks worker `worker` stole from its siblings: from their local
    /// queues, or the LIFO slot and yielded tasks of a sibling stuck in a
    /// poll. Tasks taken from the global queue are counted by
    /// `worker_global_queue_count`.
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).steals.get()
    }

    /// Successful steal operations (each takes one or more tasks) by
    /// worker `worker`.
    pub fn worker_steal_operations(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).steal_operations.get()
    }

    /// Tasks worker `worker` took from the global queue: spawns and wakes
    /// from outside the workers, and the half of a full local queue that a
    /// worker moves there on overflow (see `worker_overflow_count`). Work
    /// that spreads through the global queue shows here, not in
    /// `worker_steal_count`, which counts only tasks taken directly from a
    /// sibling's local queue.
    pub fn worker_global_queue_count(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).global_queue_takes.get()
    }

    /// Times worker `worker` went to sleep.
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).parks.get()
    }

    /// Tasks in worker `worker`'s local queue, as of its last maintenance
    /// tick.
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.shared.worker_metrics(worker).local_queue_depth.get()
    }

    /// Times worker `worker`'s local queue was full and half of it moved to
    /// the global queue.
    pub fn worker_overflow_count(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).overflows.get()
    }

    /// Tasks worker `worker` ran from its LIFO slot.
    pub fn worker_lifo_slot_hits(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).lifo_hits.get()
    }

    /// Times a task on worker `worker` was made to yield because its
    /// cooperative budget ran out.
    pub fn worker_budget_forced_yield_count(&self, worker: usize) -> u64 {
        self.shared.worker_metrics(worker).forced_yields.get()
    }

    /// Forced yields across all workers.
    pub fn budget_forced_yield_count(&self) -> u64 {
        (0..self.num_workers())
            .map(|w| self.worker_budget_forced_yield_count(w))
            .sum()
    }

    /// Time worker `worker` spent awake (between unparking and parking),
    /// up to its last park.
    pub fn worker_busy_duration(&self, worker: usize) -> Duration {
        Duration::from_nanos(self.shared.worker_metrics(worker).busy_nanos.get())
    }

    /// Readiness events the I/O driver has dispatched.
    pub fn io_driver_ready_count(&self) -> u64 {
        self.shared.driver_handle().io_ready_count()
    }

    /// I/O resources currently registered with the driver.
    pub fn io_registered_sources(&self) -> usize {
        self.shared.driver_handle().io_registered_sources()
    }

    /// Timers currently armed.
    pub fn num_timers(&self) -> usize {
        self.shared.driver_handle().timer_count()
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .field("spawned_tasks_count", &self.spawned_tasks_count())
            .field("global_queue_depth", &self.global_queue_depth())
            .field("driver_handoff_count", &self.driver_handoff_count())
            .finish_non_exhaustive()
    }
}
