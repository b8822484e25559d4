//! The future the scheduler actually runs: the user's future wrapped so that
//! a panic becomes a `JoinError` instead of unwinding through a worker, an
//! abort drops the future at its next poll, and the task leaves the registry
//! the moment its future is gone.
//!
//! The user's future is dropped exactly once, with the task's id current
//! and any panic from its `Drop` caught: by `poll` when the task was
//! aborted, so that a panic there reaches the `JoinHandle` as
//! `is_panic()` (as in tokio), otherwise by the harness's own `Drop`
//! (completion, or cancellation at shutdown), where it can only be logged.

use super::error::{report_contained_panic, JoinError};
use super::meta::{TaskMeta, IDLE, RUNNING};
use super::output::TaskOutput;
use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) struct Harness<'a, F> {
    meta: &'a TaskMeta,
    /// Dropped by hand in `drop_future`, before the registry entry goes.
    future: ManuallyDrop<F>,
    /// Set by `drop_future`: the future is gone and must not be touched.
    future_dropped: bool,
}

impl<'a, F> Harness<'a, F> {
    pub(crate) fn new(meta: &'a TaskMeta, future: F) -> Self {
        Harness {
            meta,
            future: ManuallyDrop::new(future),
            future_dropped: false,
        }
    }

    /// Drops the user's future, once, then leaves the registry; returns the
    /// payload if the future's `Drop` panicked.
    ///
    /// The future is dropped first: it may hold wakers, or run code that
    /// expects the task to still be registered.
    fn drop_future(&mut self) -> Option<Box<dyn Any + Send>> {
        if std::mem::replace(&mut self.future_dropped, true) {
            return None;
        }
        let meta = self.meta;
        let prev_id = super::id::set_current(Some(meta.id));
        // SAFETY: guarded by `future_dropped`, this runs once, and the field
        // is never used again; pinning allows dropping in place.
        let result = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut self.future)
        }));
        super::id::set_current(prev_id);
        meta.mark_done();
        meta.shared.registry().remove(meta);
        result.err()
    }
}

impl<F: Future> Future for Harness<'_, F> {
    type Output = TaskOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // the harness, and the harness is itself pinned inside the task.
        let this = unsafe { self.get_unchecked_mut() };
        let meta = this.meta;
        if meta.is_aborted() {
            let error = match this.drop_future() {
                Some(payload) => JoinError::panic(meta.id, payload),
                None => JoinError::cancelled(meta.id),
            };
            return Poll::Ready(TaskOutput::new(meta.id, Err(error)));
        }
        // SAFETY: see above; `future` is not moved. It is still there: it
        // is only dropped on abort, and an aborted harness returns `Ready`
        // above, after which async-task never polls it again.
        let future = unsafe { Pin::new_unchecked(&mut *this.future) };
        meta.set_state(RUNNING);
        meta.count_poll();
        let prev_id = super::id::set_current(Some(meta.id));
        let _span = tracing::trace_span!("task", id = meta.id.as_u64()).entered();
        let result = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        super::id::set_current(prev_id);
        meta.set_state(IDLE);
        match result {
            Ok(Poll::Ready(value)) => Poll::Ready(TaskOutput::new(meta.id, Ok(value))),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(TaskOutput::new(
                meta.id,
                Err(JoinError::panic(meta.id, payload)),
            )),
        }
    }
}

impl<F> Drop for Harness<'_, F> {
    fn drop(&mut self) {
        if let Some(payload) = self.drop_future() {
            report_contained_panic(payload, "dropping a task's future", Some(self.meta.id));
        }
    }
}
