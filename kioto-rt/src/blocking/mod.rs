//! The blocking pool: threads for `spawn_blocking` closures.
//!
//! Threads are created on demand, up to `max_blocking_threads`, when a
//! closure is submitted and no thread is idle; a thread idle for the
//! keep-alive period (10 s by default) exits. Closures queue in FIFO order
//! when the cap is reached. A blocking task is an ordinary kioto task whose
//! schedule function submits it here, so its `JoinHandle`, panic capture and
//! abort-before-start behave like any other task's.
//!
//! The pool is generic over what it runs ([`Job`]) only so that the loom
//! models at the bottom can drive the very same code with plain closures.
//!
//! # Who touches what
//!
//! All of `State` is under one mutex. `condvar` wakes idle threads;
//! `all_exited` wakes a `shutdown` waiting for threads to exit.
//!
//! - `queue`: pushed by `submit` (until `shutdown`), popped by pool
//!   threads, which empty it before they exit; `shutdown` drains it only
//!   when no thread is left to.
//! - `threads`: incremented by `submit` when it decides to start a thread
//!   (before the thread exists, so the next submit already counts it);
//!   decremented by the thread itself, in the same critical section in
//!   which it saw an empty queue and decided to exit, so no closure can be
//!   queued for a thread that is leaving.
//! - `idle`: threads inside `wait_idle`; each thread counts itself in and
//!   out.
//! - `notified`: notifications sent to idle threads and not yet taken.
//!   `submit` adds one (and calls `notify_one`) only while
//!   `idle > notified`; the first idle thread to wake up afterwards, for
//!   whatever reason, takes one and leaves the idle wait to work. Each
//!   taking also leaves `idle`, so `notified <= idle` always holds.
//! - `exiting`: threads that have left `threads` and are running their
//!   stop hook; each counts itself in (as it leaves `threads`) and out.
//! - `shutdown`: set once, by `shutdown`.
//!
//! A notification is taken by whoever wakes first, not by whoever
//! `notify_one` picked, because the two can differ: a thread whose
//! keep-alive ran out may be waiting for the mutex while `submit` still
//! counts it idle and notifies; the notification then wakes another idle
//! thread or nobody. The pool once took a notification only on a wake-up
//! that was "not a time-out", so that race left `notified` one too high
//! for good: an idle thread became invisible to `submit`, which started
//! needless threads or, at the cap, left closures queued until some idle
//! thread's keep-alive ran out (10 s). Taking on any wake-up keeps the
//! count exact; a thread woken with nothing left to take treats it as a
//! spurious wake-up and waits again.

use crate::loom::sync::{Condvar, Mutex, MutexGuard};
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
    /// Notifications not yet taken by an idle thread: each submit that
    /// finds `idle > notified` wakes one more; otherwise it starts a thread.
    /// Without it, two quick submits could notify the same idle thread and
    /// leave the second closure waiting (a deadlock if the two rendezvous).
    notified: usize,
    /// Threads that have left `threads` (no work is queued for them any
    /// more) but not yet run their stop hook; `shutdown` waits for them
    /// too, so a runtime's drop returns after every thread's hook has run.
    exiting: usize,
    shutdown: bool,
}

#[cfg(not(loom))]
std::thread_local! {
    /// The pool whose thread this is (as an address), so a shutdown started
    /// from one of its own threads (a runtime dropped inside
    /// `spawn_blocking`) does not wait for itself.
    static POOL: Cell<usize> = const { Cell::new(0) };
}

// loom runs its threads on one OS thread, so they need loom's thread
// locals (whose macro takes no `const` initializer).
#[cfg(loom)]
loom::thread_local! {
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
                    exiting: 0,
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
            // The name is user code (`thread_name_fn`): a panic there must
            // not unwind out of `spawn_blocking` with a thread counted
            // that will never exist.
            let name = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (self.inner.thread_name)()
            }))
            .unwrap_or_else(|payload| {
                crate::task::report_contained_panic(payload, "the thread_name_fn callback", None);
                "kioto-blocking".to_owned()
            });
            let spawned = crate::loom::thread::Builder::new()
                .name(name)
                .spawn(move || inner.run());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "failed to start a blocking-pool thread");
                let orphans: Vec<J> = {
                    let mut state = self.inner.state.lock();
                    state.threads -= 1;
                    // With no thread left, nobody would ever run what is
                    // queued: cancel it, so its handles resolve.
                    if state.threads == 0 {
                        state.queue.drain(..).collect()
                    } else {
                        Vec::new()
                    }
                };
                drop(orphans);
            }
        }
    }

    /// Stops accepting work and waits up to `timeout` (forever if `None`)
    /// for the threads to finish what they run and what is queued. Returns
    /// false on timeout; the threads then go on in the background.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let orphans: Vec<J> = {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            self.inner.condvar.notify_all();
            // Work accepted before now runs: the pool's threads drain the
            // queue before they exit (as tokio's do). Only with no thread
            // left to run it (one failed to start) is it cancelled here.
            if state.threads == 0 {
                state.queue.drain(..).collect()
            } else {
                Vec::new()
            }
        };
        drop(orphans);
        let deadline = timeout.map(|t| Instant::now() + t);
        let own = POOL.with(|p| p.get() == self.inner.address());
        let others = |state: &State<J>| state.threads + state.exiting - usize::from(own);
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
            let (guard, woke) = self.wait_idle(state);
            state = guard;
            if let Woke::KeepAliveExpired = woke {
                break;
            }
        }
        state.threads -= 1;
        state.exiting += 1;
        drop(state);
        drop(_enter);
        run_thread_hook(self.on_stop.as_ref(), "the on_thread_stop hook");
        let mut state = self.state.lock();
        state.exiting -= 1;
        // Wakes a shutdown waiting for the others to exit (it may be
        // running on one of our own threads, so signal every exit).
        self.all_exited.notify_all();
    }

    /// Waits, counted as idle, until there may be work (a notification to
    /// take, a queued closure, shutdown) or the keep-alive runs out with
    /// none of those; see the module docs.
    fn wait_idle<'a>(
        &self,
        mut state: MutexGuard<'a, State<J>>,
    ) -> (MutexGuard<'a, State<J>>, Woke) {
        state.idle += 1;
        let woke = loop {
            let (guard, timed_out) = self.condvar.wait_timeout(state, self.keep_alive);
            state = guard;
            if state.notified > 0 {
                state.notified -= 1;
                break Woke::Work;
            }
            // Never retire while something is queued, even on a time-out.
            if state.shutdown || !state.queue.is_empty() {
                break Woke::Work;
            }
            if timed_out {
                break Woke::KeepAliveExpired;
            }
        };
        state.idle -= 1;
        (state, woke)
    }
}

/// How an idle wait ended.
#[must_use]
enum Woke {
    /// Go and look at the queue (and the shutdown flag).
    Work,
    /// Idle for the whole keep-alive with nothing to do: exit.
    KeepAliveExpired,
}

#[cfg(all(test, loom))]
mod tests {
    //! Models of the notify/idle-timeout protocol, driving the pool's own
    //! `submit`, thread loop and `shutdown` with closures that count runs.
    //! Time passes only where a model calls `expire_timeouts`.

    use super::*;
    use crate::loom::sync::Arc as LoomArc;
    use loom::thread;

    /// Counts finished jobs; the model's main thread waits on it.
    #[derive(Default)]
    struct Done {
        count: Mutex<usize>,
        cv: Condvar,
    }

    impl Done {
        fn wait_for(&self, n: usize) {
            let mut count = self.count.lock();
            while *count < n {
                count = self.cv.wait(count);
            }
        }
    }

    /// A closure run by the pool; when done it bumps `Done`.
    struct TestJob {
        work: Box<dyn FnOnce() + Send>,
        done: LoomArc<Done>,
    }

    impl Job for TestJob {
        fn run(self) {
            (self.work)();
            *self.done.count.lock() += 1;
            self.done.cv.notify_all();
        }
    }

    fn pool(max_threads: usize) -> BlockingPool<TestJob> {
        BlockingPool::new(PoolConfig {
            max_threads,
            keep_alive: Duration::from_secs(10),
            thread_name: Arc::new(|| "loom-blocking".to_string()),
            on_start: None,
            on_stop: None,
        })
    }

    fn job(done: &LoomArc<Done>, work: impl FnOnce() + Send + 'static) -> TestJob {
        TestJob {
            work: Box::new(work),
            done: done.clone(),
        }
    }

    /// The keep-alive of the idle thread runs out while a closure is being
    /// submitted. Whichever way that race goes, the pool must stay exact:
    /// a later closure at the cap is picked up at once, without more time
    /// passing (if the time-out left `notified` one too high, the idle
    /// thread is invisible to `submit`, the closure waits for a time-out
    /// that never comes, and loom reports the deadlock).
    #[test]
    fn loom_idle_timeout_racing_a_submit_keeps_the_idle_count_exact() {
        loom::model(|| {
            let pool = pool(1);
            let done = LoomArc::new(Done::default());
            pool.submit(job(&done, || {}));
            done.wait_for(1);
            let clock = {
                let inner = pool.inner.clone();
                thread::spawn(move || {
                    let _state = inner.state.lock();
                    inner.condvar.expire_timeouts();
                })
            };
            pool.submit(job(&done, || {}));
            done.wait_for(2);
            clock.join().unwrap();
            pool.submit(job(&done, || {}));
            done.wait_for(3);
            assert!(pool.shutdown(None));
        });
    }

    /// Two closures submitted at once while one thread is idle, one
    /// waiting for the other: they must run on two threads (the second
    /// submit must not notify the thread the first one already notified).
    #[test]
    fn loom_two_submits_never_notify_the_same_idle_thread() {
        loom::model(|| {
            let pool = pool(2);
            let done = LoomArc::new(Done::default());
            pool.submit(job(&done, || {}));
            done.wait_for(1);
            let gate = LoomArc::new((Mutex::new(false), Condvar::new()));
            let (g1, g2) = (gate.clone(), gate.clone());
            let other = {
                let (pool, done) = (pool.clone(), done.clone());
                thread::spawn(move || {
                    pool.submit(job(&done, move || {
                        let mut open = g1.0.lock();
                        while !*open {
                            open = g1.1.wait(open);
                        }
                    }));
                })
            };
            pool.submit(job(&done, move || {
                *g2.0.lock() = true;
                g2.1.notify_all();
            }));
            other.join().unwrap();
            done.wait_for(3);
            assert!(pool.shutdown(None));
        });
    }
}
