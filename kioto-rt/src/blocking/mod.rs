//! The blocking pool: threads for `spawn_blocking` closures.
//!
//! Threads are created on demand, up to `max_blocking_threads`, when a
//! closure is submitted and no thread is idle; a thread idle for the
//! keep-alive period (10 s by default) exits. Closures queue in FIFO order
//! when the cap is reached. A blocking task is an ordinary kioto task whose
//! schedule function submits it here, so its `JoinHandle`, panic capture and
//! abort-before-start behave like any other task's.

use crate::runtime::{context, run_thread_hook, Handle};
use crate::scheduler::Notified;
use parking_lot::{Condvar, Mutex};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
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
    handle: Mutex<Weak<crate::scheduler::Shared>>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Notified>,
    threads: usize,
    idle: usize,
    /// Idle threads already notified but not yet awake: each submit that
    /// finds `idle > notified` wakes one more; otherwise it starts a thread.
    /// Without it, two quick submits could notify the same idle thread and
    /// leave the second closure waiting (a deadlock if the two rendezvous).
    notified: usize,
    shutdown: bool,
}

thread_local! {
    /// The pool whose thread this is, so a shutdown started from one of its
    /// own threads (a runtime dropped inside `spawn_blocking`) does not wait
    /// for itself.
    static POOL: Cell<*const Inner> = const { Cell::new(std::ptr::null()) };
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("max_threads", &self.max_threads)
            .field("keep_alive", &self.keep_alive)
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

impl BlockingPool {
    pub(crate) fn new(config: PoolConfig) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                condvar: Condvar::new(),
                all_exited: Condvar::new(),
                max_threads: config.max_threads.max(1),
                keep_alive: config.keep_alive,
                thread_name: config.thread_name,
                on_start: config.on_start,
                on_stop: config.on_stop,
                handle: Mutex::new(Weak::new()),
            }),
        }
    }

    pub(crate) fn set_runtime(&self, shared: &Arc<crate::scheduler::Shared>) {
        *self.inner.handle.lock() = Arc::downgrade(shared);
    }

    /// Queues a blocking task, starting a thread if none is idle.
    pub(crate) fn submit(&self, task: Notified) {
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
            let spawned = std::thread::Builder::new()
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
        let queued: Vec<Notified> = {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            self.inner.condvar.notify_all();
            state.queue.drain(..).collect()
        };
        drop(queued);
        let deadline = timeout.map(|t| Instant::now() + t);
        let own = POOL.with(|p| std::ptr::eq(p.get(), Arc::as_ptr(&self.inner)));
        let others = |state: &State| state.threads - usize::from(own);
        let mut state = self.inner.state.lock();
        while others(&state) > 0 {
            match deadline {
                Some(d) => {
                    if self.inner.all_exited.wait_until(&mut state, d).timed_out() {
                        return others(&state) == 0;
                    }
                }
                None => self.inner.all_exited.wait(&mut state),
            }
        }
        true
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().threads
    }
}

impl Inner {
    fn run(self: Arc<Self>) {
        POOL.with(|p| p.set(Arc::as_ptr(&self)));
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
            let timed_out = self
                .condvar
                .wait_for(&mut state, self.keep_alive)
                .timed_out();
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
