//! [`System`]: a runtime plus the process-wide services actors share (the
//! name registry, [`SystemService`](crate::SystemService) singletons).
//!
//! # Ownership
//!
//! The `System` returned by [`System::new`] / [`System::with_runtime`] owns
//! the runtime: dropping it shuts the runtime down, which cancels every actor
//! task (each actor's mailbox is closed and its watchers are told, with
//! [`StopReason::Killed`](crate::StopReason::Killed)). [`System::current`] and
//! `clone` give *handles* to the same system that do not own the runtime,
//! so actors can hold one without keeping the runtime alive in a cycle.
//!
//! # Which system is current
//!
//! While `block_on` runs and while any actor started inside a system is
//! polled, that system is current on the thread (a thread-local set around
//! each poll). Elsewhere (a plain task spawned on the runtime, a blocking
//! closure, a thread inside `Handle::enter`), `System::current` is the
//! system that owns the current runtime, found by the runtime's id.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use kioto_rt::{Handle, Runtime};
use parking_lot::Mutex;

use crate::actor::Actor;
use crate::address::Addr;
use crate::registry::Registry;

pub(crate) struct Shared {
    id: u64,
    handle: Handle,
    pub(crate) registry: Registry,
    stopped: AtomicBool,
    /// Tasks awaiting `stopped`.
    stop_waiters: Mutex<Vec<Waker>>,
}

/// See the module docs.
pub struct System {
    /// `Some` for the owning instance only (boxed: handles to the system are
    /// kept in every actor's context, so the handle should be two words).
    runtime: Option<Box<Runtime>>,
    pub(crate) shared: Arc<Shared>,
}

thread_local! {
    /// The system current on this thread: a borrowed pointer, valid while the
    /// `Scoped` future that set it is being polled (it holds an `Arc`), so
    /// entering a scope costs no reference counting.
    static CURRENT: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

/// Every live system, for the fallback of `current`: the system whose
/// runtime the calling thread is in.
static SYSTEMS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

impl System {
    /// A system on a new multi-threaded runtime with the default number of
    /// workers.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built (threads cannot be spawned).
    #[allow(clippy::new_without_default)]
    pub fn new() -> System {
        System::with_runtime(Runtime::new().expect("kioto: failed to build the runtime"))
    }

    /// A system on the given runtime (which it owns from now on).
    pub fn with_runtime(runtime: Runtime) -> System {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(Shared {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            handle: runtime.handle().clone(),
            registry: Registry::default(),
            stopped: AtomicBool::new(false),
            stop_waiters: Mutex::new(Vec::new()),
        });
        let mut systems = SYSTEMS.lock();
        systems.retain(|s| s.strong_count() > 0);
        systems.push(Arc::downgrade(&shared));
        drop(systems);
        System {
            runtime: Some(Box::new(runtime)),
            shared,
        }
    }

    /// The current system (see the module docs).
    ///
    /// # Panics
    ///
    /// If there is none; see [`try_current`](Self::try_current).
    pub fn current() -> System {
        System::try_current().expect("kioto: no System is running (create one with System::new)")
    }

    /// The current system, if any.
    pub fn try_current() -> Option<System> {
        let current = CURRENT.with(Cell::get);
        let shared = if current.is_null() {
            // Not inside an actor or `block_on`: a plain task, a blocking
            // closure, or a thread that entered the runtime. The system is
            // the one that owns the current runtime.
            let runtime = Handle::try_current().ok()?.id();
            SYSTEMS
                .lock()
                .iter()
                .filter_map(Weak::upgrade)
                .find(|s| s.handle.id() == runtime)?
        } else {
            // SAFETY: a non-null `CURRENT` points into an `Arc<Shared>` held
            // by the `Scoped` future being polled on this thread (see
            // `CURRENT`), so the count is at least one while we add ours.
            unsafe {
                Arc::increment_strong_count(current);
                Arc::from_raw(current)
            }
        };
        Some(System {
            runtime: None,
            shared,
        })
    }

    /// Runs `fut` to completion on this system's runtime, with the system
    /// current. Any future: no `Send` or `'static` bound.
    ///
    /// # Panics
    ///
    /// On a handle (from `current` or `clone`) rather than the owning
    /// `System`, and when called from inside the runtime.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let rt = self
            .runtime
            .as_ref()
            .expect("kioto: block_on needs the System that owns the runtime");
        rt.block_on(Scoped {
            system: Some(self.shared.clone()),
            fut,
        })
    }

    /// The runtime handle, to spawn tasks on this system from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.shared.handle
    }

    /// A number identifying this system in the process.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Marks the system stopped: [`stopped`](Self::stopped) resolves and
    /// [`is_stopped`](Self::is_stopped) turns true. Actors keep running until
    /// the owning `System` is dropped.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        let waiters = std::mem::take(&mut *self.shared.stop_waiters.lock());
        for w in waiters {
            w.wake();
        }
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// Resolves once [`stop`](Self::stop) is called: `system.block_on(system.stopped())`
    /// is the "run until stopped" loop of actix.
    pub async fn stopped(&self) {
        std::future::poll_fn(|cx| {
            let mut waiters = self.shared.stop_waiters.lock();
            if self.is_stopped() {
                return Poll::Ready(());
            }
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Registers `addr` under `name` (replacing any previous entry), until
    /// that actor stops.
    pub fn register<A: Actor>(&self, name: impl Into<String>, addr: &Addr<A>) {
        Registry::register(&self.shared, name.into(), addr);
    }

    /// The actor registered under `name`, if it is an `A` and still running.
    pub fn lookup<A: Actor>(&self, name: &str) -> Option<Addr<A>> {
        self.shared.registry.lookup(name)
    }

    /// Makes `system` current on this thread while `fut` is polled.
    pub(crate) fn scope<F: Future>(
        system: Option<System>,
        fut: F,
    ) -> impl Future<Output = F::Output> {
        Scoped {
            system: system.map(|s| s.shared),
            fut,
        }
    }
}

impl Clone for System {
    /// A handle to the same system; it does not own the runtime.
    fn clone(&self) -> Self {
        System {
            runtime: None,
            shared: self.shared.clone(),
        }
    }
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("id", &self.shared.id)
            .field("owner", &self.runtime.is_some())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// A future with a system made current around each poll.
struct Scoped<F> {
    system: Option<Arc<Shared>>,
    fut: F,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of
        // `self` and `Scoped` has no `Drop` or `Unpin` impl of its own that
        // could move it. `system` is not pinned (only cloned).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above: `fut` stays where it is.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let Some(system) = &this.system else {
            return fut.poll(cx);
        };
        struct Restore(*const Shared);
        impl Drop for Restore {
            fn drop(&mut self) {
                let _ = CURRENT.try_with(|c| c.set(self.0));
            }
        }
        let prev = CURRENT.with(|c| c.replace(Arc::as_ptr(system)));
        let _restore = Restore(prev);
        fut.poll(cx)
    }
}
