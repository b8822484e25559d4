//! Thread-local runtime context: which runtime (if any) this thread is
//! inside, and whether it is one of that runtime's workers.
//!
//! Entered by worker threads for their whole life, by `block_on` for the
//! duration of the call, by blocking-pool threads, and by [`Handle::enter`].
//! Everything that needs "the current runtime" (spawn, timers, sockets) goes
//! through here, so the rule "outside a runtime it panics with a message that
//! says so" lives in one place.

use super::Handle;
use crate::driver::DriverHandle;
use crate::loom::sync::Arc;
use std::cell::{Cell, RefCell};

/// The message every "needs a runtime" entry point panics with.
pub(crate) const NO_RUNTIME: &str =
    "there is no Kioto runtime on this thread: call this from inside a task, \
     from `Runtime::block_on`, or after `Handle::enter()`";

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// True while this thread is inside `block_on` or running as a worker:
    /// blocking on a runtime from here would deadlock a worker or nest
    /// executors, so `block_on` refuses.
    static BLOCKING_FORBIDDEN: Cell<bool> = const { Cell::new(false) };
}

/// Restores the previous current handle when dropped.
#[derive(Debug)]
#[must_use = "the runtime context is left when this guard is dropped"]
pub struct EnterGuard {
    prev: Option<Handle>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}

/// Makes `handle` the current runtime until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(handle));
    EnterGuard {
        prev,
        _not_send: std::marker::PhantomData,
    }
}

/// The current runtime's handle, if any.
pub(crate) fn try_current() -> Option<Handle> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Calls `f` with the current runtime's handle without cloning it.
///
/// # Panics
///
/// Outside a runtime, with [`NO_RUNTIME`].
pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> R {
    CURRENT.with(|c| match &*c.borrow() {
        Some(handle) => f(handle),
        None => panic!("{}", NO_RUNTIME),
    })
}

/// The current runtime's I/O and timer driver.
///
/// # Panics
///
/// Outside a runtime, with [`NO_RUNTIME`].
pub(crate) fn driver() -> Arc<DriverHandle> {
    with_current(|h| h.shared().driver_handle().clone())
}

/// Marks this thread as one that must not call `block_on` until the guard
/// drops. Returns `None` if it already was (the caller should panic).
pub(crate) fn forbid_blocking() -> Option<ForbidBlockingGuard> {
    BLOCKING_FORBIDDEN.with(|f| {
        if f.replace(true) {
            None
        } else {
            Some(ForbidBlockingGuard(()))
        }
    })
}

/// Undoes [`forbid_blocking`].
#[derive(Debug)]
pub(crate) struct ForbidBlockingGuard(());

impl Drop for ForbidBlockingGuard {
    fn drop(&mut self) {
        let _ = BLOCKING_FORBIDDEN.try_with(|f| f.set(false));
    }
}
