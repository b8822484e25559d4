//! The blocking pool: threads for `spawn_blocking` closures.
//!
//! Threads are created on demand, up to `max_blocking_threads`, when a
//! closure is submitted and no thread is idle; a thread idle for the
//! keep-alive period (10 s by default) exits. Closures queue in FIFO order
//! when the cap is reached. A blocking task is an ordinary kioto task whose
//! schedule function submits it here, so its `JoinHandle`, panic capture and
//! abort-before-start behave like any other task's.
//!
//! The pool is generic over what it runs ([`Job`]) only so that loom
//! models can drive the very same code with plain closures.

use crate::loom::sync::{Condvar, Mutex};
use crate::runtime::{context, run_thread_hook, Handle};
use crate::scheduler::Notified;
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Something a pool thread runs; dropping it unrun cancels it.
pub(crate) trait Job: Send + 'static {
    fn run(self);
}

impl Job for Notified {
    fn run(self) {
        Notified::run(self);
    }
}

pub(crate) struct BlockingPool<J: Job = Notified> {
    inner: Arc<Inner<J>>,
}

struct Inner<J> {
    state: Mutex<State<J>>,
    condvar: Condvar,
    /// Signalled when the last thread exits (for shutdown).
    all_exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    on_start: Option<Arc<dyn Fn() + Send + Sync>>,
    on_stop: Option<Arc<dyn Fn() + Send + Sync>>,
    /// The runtime, to enter its context on pool threads (weak: the pool
    /// lives inside the runtime's shared state).
    handle: parking_lot::Mutex<Weak<crate::scheduler::Shared>>,
}

struct State<J> {
    queue: VecDeque<J>,
    threads: usize,
    idle: usize,
    /// Idle threads already notified but not yet awake: each submit that
    /// finds `idle > notified` wakes one more; otherwise it starts a thread.
    /// Without it, two quick submits could notify the same idle thread and
    /// leave the second closure waiting (a deadlock if the two rendezvous).
    notified: usize,
    shutdown: bool,
}

crate::loom::thread::thread_local! {
    /// The pool whose thread this is (as an address), so a shutdown started
    /// from one of its own threads (a runtime dropped inside
    /// `spawn_blocking`) does not wait for itself.
    static POOL: Cell<usize> = Cell::new(0);
}

impl<J: Job> Clone for BlockingPool<J> {
    fn clone(&self) -> Self {
        BlockingPool {
            inner: self.inner.clone(),
        }
    }
}

impl<J: Job> std::fmt::Debug for BlockingPool<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("max_threads", &self.inner.max_threads)
            .field("keep_alive", &self.inner.keep_alive)
            .finish_non_exhaustive()
    }
}

pub(crate) struct PoolConfig {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    pub(crate) on_start: Option<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_stop: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl<J: Job> BlockingPool<J> {
    pub(crate) fn new(config: PoolConfig) -> BlockingPool<J> {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                }),
                condvar: Condvar::new(),
                all_exited: Condvar::new(),
                max_threads: config.max_threads.max(1),
                keep_alive: config.keep_alive,
                thread_name: config.thread_name,
                on_start: config.on_start,
                on_stop: config.on_stop,
                handle: parking_lot::Mutex::new(Weak::new()),
            }),
        }
    }

    pub(crate) fn set_runtime(&self, shared: &Arc<crate::scheduler::Shared>) {
        *self.inner.handle.lock() = Arc::downgrade(shared);
    }

    /// Queues a blocking task, starting a thread if none is idle.
    pub(crate) fn submit(&self, task: J) {
        let mut state = self.inner.state.lock();
        if state.shutdown {
            drop(state);
            drop(task); // cancels it
            return;
        }
        state.queue.push_back(task);
        if state.idle > state.notified {
            state.notified += 1;
            self.inner.condvar.notify_one();
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            drop(state);
            let inner = self.inner.clone();
            let spawned = crate::loom::thread::Builder::new()
                .name((self.inner.thread_name)())
                .spawn(move || inner.run());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "failed to start a blocking-pool thread");
                let mut state = self.inner.state.lock();
                state.threads -= 1;
            }
        }
    }

    /// Stops accepting work, cancels queued tasks and waits up to `timeout`
    /// for running ones to finish (forever if `None`). Returns false on
    /// timeout.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let queued: Vec<J> = {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            self.inner.condvar.notify_all();
            state.queue.drain(..).collect()
        };
        drop(queued);
        let deadline = timeout.map(|t| Instant::now() + t);
        let own = POOL.with(|p| p.get() == self.inner.address());
        let others = |state: &State<J>| state.threads - usize::from(own);
        let mut state = self.inner.state.lock();
        while others(&state) > 0 {
            state = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.inner.all_exited.wait_timeout(state, left).0
                }
                None => self.inner.all_exited.wait(state),
            };
        }
        true
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().threads
    }
}

impl<J: Job> Inner<J> {
    fn address(&self) -> usize {
        self as *const Self as usize
    }

    fn run(self: Arc<Self>) {
        POOL.with(|p| p.set(self.address()));
        // Contained: this thread is already counted in `threads`, and the
        // submit that started it relies on it to run the queued closure.
        run_thread_hook(self.on_start.as_ref(), "the on_thread_start hook");
        let handle = self.handle.lock().upgrade();
        let _enter = handle.map(|shared| context::enter(Handle::from_shared(shared)));
        let mut state = self.state.lock();
        loop {
            if let Some(task) = state.queue.pop_front() {
                drop(state);
                task.run();
                state = self.state.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (guard, timed_out) = self.condvar.wait_timeout(state, self.keep_alive);
            state = guard;
            state.idle -= 1;
            if !timed_out {
                state.notified = state.notified.saturating_sub(1);
            }
            if timed_out && state.queue.is_empty() && !state.shutdown {
                break;
            }
        }
        state.threads -= 1;
        // Wakes a shutdown waiting for the others to exit (it may be
        // running on one of our own threads, so signal every exit).
        self.all_exited.notify_all();
        drop(state);
        drop(_enter);
        run_thread_hook(self.on_stop.as_ref(), "the on_thread_stop hook");
    }
}
