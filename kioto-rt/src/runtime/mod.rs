//! The runtime: worker threads, the blocking pool, the I/O and timer
//! driver, and the handles onto them.
//!
//! [`Runtime::new`] starts one worker per CPU; [`Builder`] configures one.
//! [`Runtime::block_on`] drives a future on the calling thread while tasks
//! run on the workers; [`Handle`] spawns from anywhere. Dropping a runtime
//! shuts it down: workers stop, every pending task is dropped, the threads
//! are joined. The scheduler's design is described in the source of
//! `scheduler/mod.rs`.

mod block_on;
mod builder;
pub(crate) mod context;
mod dump;
mod handle;
mod id;
mod metrics;

pub use builder::Builder;
pub use context::EnterGuard;
pub use dump::{Dump, TaskDump, TaskState};
pub use handle::{Handle, TryCurrentError};
pub use id::Id;
pub use metrics::RuntimeMetrics;

use crate::blocking::{BlockingPool, PoolConfig};
use crate::scheduler::{self, Shared};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

type Callback = Arc<dyn Fn() + Send + Sync>;

/// Runs an `on_thread_start`/`on_thread_stop` hook. A panic in it is
/// caught and logged, and the thread carries on with its work: a worker
/// runs its tasks, a blocking thread its closures. Letting it unwind would
/// kill a thread the runtime still counts on (a blocking thread that died
/// in its start hook stayed counted, and dropping the runtime waited for it
/// forever), and a start hook that always panics would make every
/// replacement thread die the same way.
pub(crate) fn run_thread_hook(hook: Option<&Callback>, name: &'static str) {
    if let Some(f) = hook {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f())) {
            crate::task::report_contained_panic(payload, name, None);
        }
    }
}

/// Settings fixed at build time.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) worker_threads: usize,
    pub(crate) global_queue_interval: u32,
    pub(crate) event_interval: u32,
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Callback>,
    pub(crate) on_thread_stop: Option<Callback>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("worker_threads", &self.worker_threads)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("event_interval", &self.event_interval)
            .field("stall_threshold", &self.stall_threshold)
            .finish_non_exhaustive()
    }
}

/// The Kioto runtime: a multi-threaded work-stealing executor with an I/O
/// reactor, timers and a blocking pool.
///
/// # Shutdown
///
/// Dropping the runtime (or [`shutdown_timeout`](Runtime::shutdown_timeout),
/// [`shutdown_background`](Runtime::shutdown_background)) stops its workers
/// and drops every task still alive, as tokio does:
///
/// - Tasks are dropped on the thread that shuts the runtime down, inside
///   the runtime's context: code in their `Drop` (an actor's cleanup) finds
///   [`Handle::try_current`] set, and a `spawn` there returns a handle whose
///   task is cancelled at once instead of panicking.
/// - A timer polled after shutdown panics with a message that says so; it
///   never completes as if its time had come.
/// - Blocking work accepted before the shutdown (a `spawn_blocking` whose
///   thread had not picked it up yet) still runs; the drop waits for it,
///   `shutdown_timeout` up to its limit.
/// - Dropped where blocking is not allowed (inside a task, or inside a
///   `block_on` of another runtime), the runtime shuts down on a thread of
///   its own and the drop returns at once, as `shutdown_background` would;
///   tokio panics there instead. Dropped from one of its own workers or
///   blocking threads, it shuts down in place without waiting for that
///   thread.
///
/// ```
/// let rt = kioto_rt::Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let a = kioto_rt::spawn(async { 20 });
///     let b = kioto_rt::spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    workers: Vec<ThreadHandle<()>>,
    monitor: Option<ThreadHandle<()>>,
    monitor_stop: Arc<scheduler::MonitorStop>,
}

impl Runtime {
    /// A runtime with default settings (one worker per CPU).
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    /// The state shared by the runtime's threads, before any of them
    /// starts.
    fn shared(config: &Config) -> io::Result<(Arc<Shared>, Vec<scheduler::WorkerLaunch>)> {
        let blocking = BlockingPool::new(PoolConfig {
            max_threads: config.max_blocking_threads,
            keep_alive: config.blocking_keep_alive,
            thread_name: config.thread_name.clone(),
            on_start: config.on_thread_start.clone(),
            on_stop: config.on_thread_stop.clone(),
        });
        let (shared, launches) = Shared::new(config.clone(), blocking.clone())?;
        blocking.set_runtime(&shared);
        Ok((shared, launches))
    }

    fn start(config: Config) -> io::Result<Runtime> {
        let (shared, launches) = Runtime::shared(&config)?;
        let mut rt = Runtime {
            handle: Handle::from_shared(shared.clone()),
            workers: Vec::with_capacity(launches.len()),
            monitor: None,
            monitor_stop: Arc::default(),
        };
        for launch in launches {
            let mut builder = std::thread::Builder::new().name((config.thread_name)());
            if let Some(size) = config.thread_stack_size {
                builder = builder.stack_size(size);
            }
            let on_start = config.on_thread_start.clone();
            let on_stop = config.on_thread_stop.clone();
            tracing::trace!(worker = launch.index(), "starting worker");
            // On error, `rt` drops here and shuts down what started.
            let thread = builder.spawn(move || {
                run_thread_hook(on_start.as_ref(), "the on_thread_start hook");
                launch.run();
                run_thread_hook(on_stop.as_ref(), "the on_thread_stop hook");
            })?;
            rt.workers.push(thread);
        }
        rt.monitor = Some(scheduler::spawn_monitor(
            shared,
            rt.monitor_stop.clone(),
            format!("{}-monitor", (config.thread_name)()),
        )?);
        Ok(rt)
    }

    /// Runs a future to completion on the calling thread, with this
    /// runtime as the current one; spawned tasks run on the workers.
    ///
    /// # Panics
    ///
    /// When called from inside a task or another `block_on` (blocking there
    /// could deadlock the runtime; `.await` the future instead).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task; see [`crate::spawn`]. Works from any thread.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> crate::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool; see
    /// [`crate::task::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> crate::task::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle onto this runtime, usable from any thread.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime the current one on this thread until the guard
    /// drops, so `kioto_rt::spawn` and timers work from plain threads.
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down, waiting at most `timeout` for blocking-pool threads to
    /// finish what they are running (workers always stop promptly: every
    /// task is dropped at its next scheduling point).
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down without waiting for blocking-pool threads.
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Duration::ZERO));
    }

    fn shutdown(&mut self, blocking_timeout: Option<Duration>) {
        // Tasks still alive are dropped on this thread: their `Drop`s (an
        // actor's cleanup, say) see this runtime as current, as in tokio;
        // a spawn from there returns a handle whose task is cancelled.
        let _enter = context::enter(self.handle.clone());
        let shared = self.handle.shared();
        shared.begin_shutdown();
        self.monitor_stop.stop();
        let current = std::thread::current().id();
        for worker in self.workers.drain(..) {
            if worker.thread().id() == current {
                // Dropped from inside one of its own workers: that thread
                // exits on its own once the current task returns.
                continue;
            }
            let _ = worker.join();
        }
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.join();
        }
        shared.finish_shutdown();
        if !shared.blocking.shutdown(blocking_timeout) {
            tracing::warn!("runtime shut down while blocking tasks were still running");
        }
    }
}

impl Drop for Runtime {
    /// Shuts the runtime down and waits for its threads, unless this thread
    /// must not block: inside a task or a `block_on` of another runtime,
    /// waiting would hold up that runtime's worker (or deadlock it, if the
    /// work being waited for waits on it). There the shutdown is handed to
    /// a thread of its own and the drop returns at once, as
    /// [`shutdown_background`](Runtime::shutdown_background) would; tasks
    /// are still all dropped, on that thread. tokio panics in this case;
    /// Kioto prefers a drop that cannot fail. Dropped from one of its own
    /// workers or blocking threads, it shuts down there (those threads are
    /// not waited for).
    fn drop(&mut self) {
        if self.workers.is_empty() && self.monitor.is_none() {
            return;
        }
        let me = std::thread::current().id();
        let own_worker = self.workers.iter().any(|w| w.thread().id() == me);
        if context::blocking_forbidden() && !own_worker {
            self.handle.shared().begin_shutdown();
            // The parts, not a `Runtime`: if the thread cannot start, they
            // are dropped unrun here without coming back to this `drop`.
            let (handle, workers, monitor, monitor_stop) = (
                self.handle.clone(),
                std::mem::take(&mut self.workers),
                self.monitor.take(),
                self.monitor_stop.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name("kioto-shutdown".into())
                .spawn(move || {
                    Runtime {
                        handle,
                        workers,
                        monitor,
                        monitor_stop,
                    }
                    .shutdown(None)
                });
            if let Err(e) = spawned {
                // The workers still exit on their own; what they leave
                // queued is dropped with the last handle.
                tracing::error!(error = %e, "cannot start a thread to finish a runtime's shutdown");
            }
            return;
        }
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared().num_workers())
            .finish_non_exhaustive()
    }
}

/// A runtime's shared state with one worker slot and no threads, for loom
/// models that play the worker themselves (taking tasks with
/// `Shared::pop_injected`).
#[cfg(all(test, loom))]
pub(crate) fn model_shared() -> Arc<Shared> {
    let config = Builder::new_multi_thread()
        .worker_threads(1)
        .config()
        .expect("a valid model config");
    Runtime::shared(&config).expect("a model runtime").0
}
