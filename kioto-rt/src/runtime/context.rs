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
///
/// Guards nest: drop them in the reverse order they were made. Dropping one
/// out of order panics (as tokio's do), because the runtime it would
/// restore is not the one that was current before the guard inside it;
/// the thread is then left with no current runtime rather than a wrong one.
#[derive(Debug)]
#[must_use = "the runtime context is left when this guard is dropped"]
pub struct EnterGuard {
    prev: Option<Handle>,
    /// This guard's nesting depth on its thread (see `ENTERED`).
    depth: usize,
    _not_send: std::marker::PhantomData<*const ()>,
}

thread_local! {
    /// How many `EnterGuard`s are live on this thread.
    static ENTERED: Cell<usize> = const { Cell::new(0) };
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let Ok(depth) = ENTERED.try_with(Cell::get) else {
            return;
        };
        if self.depth > depth {
            // Orphaned by a guard outside it that was dropped out of order
            // (which already left no runtime current).
            return;
        }
        let _ = ENTERED.try_with(|d| d.set(self.depth - 1));
        if self.depth == depth {
            let prev = self.prev.take();
            let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
            return;
        }
        // Out of order: restoring `prev` would make the wrong runtime
        // current, so leave none.
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
        if !std::thread::panicking() {
            panic!(
                "`EnterGuard`s dropped out of order: guards from `Handle::enter` and \
                 `Runtime::enter` must be dropped in the reverse order they were made"
            );
        }
    }
}

/// Makes `handle` the current runtime until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(handle));
    let depth = ENTERED.with(|d| {
        let depth = d.get() + 1;
        d.set(depth);
        depth
    });
    EnterGuard {
        prev,
        depth,
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
#[track_caller]
pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> R {
    // The panic is outside the closure: closures do not pass
    // `#[track_caller]` on, and the message must name the user's line.
    match CURRENT.with(|c| c.borrow().as_ref().map(f)) {
        Some(r) => r,
        None => panic!("{}", NO_RUNTIME),
    }
}

/// The current runtime's I/O and timer driver.
///
/// # Panics
///
/// Outside a runtime, with [`NO_RUNTIME`].
#[track_caller]
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

/// Whether this thread must not block on a runtime (a worker, or inside
/// `block_on`).
pub(crate) fn blocking_forbidden() -> bool {
    BLOCKING_FORBIDDEN.try_with(Cell::get).unwrap_or(false)
}

/// Undoes [`forbid_blocking`].
#[derive(Debug)]
pub(crate) struct ForbidBlockingGuard(());

impl Drop for ForbidBlockingGuard {
    fn drop(&mut self) {
        let _ = BLOCKING_FORBIDDEN.try_with(|f| f.set(false));
    }
}
