//! What a task leaves in its cell for the `JoinHandle`: the output, or the
//! `JoinError` (which may carry a panic payload).
//!
//! # Why it is wrapped
//!
//! Nobody may await the value: the handle was dropped before the task
//! finished (async-task then drops the output on the thread that ran the
//! task, under its `abort_on_panic` guard), or after (then `JoinHandle`'s
//! own `Drop` drops it). Both run user code, the output's or the panic
//! payload's `Drop`, and a panic there would abort the process in the first
//! case and unwind out of `JoinHandle::drop` in the second. So the cell
//! holds a [`TaskOutput`], whose `Drop` drops the value with the task's id
//! current (as tokio does, so `task::try_id()` names the task) and turns a
//! panic into a `tracing::error!`. A value handed to the user through
//! `into_inner` is the user's to drop.

use super::error::{report_contained_panic, JoinError};
use super::Id;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub(crate) struct TaskOutput<T> {
    id: Id,
    /// Taken by `into_inner` or dropped in `Drop`, never both.
    value: ManuallyDrop<Result<T, JoinError>>,
}

impl<T> TaskOutput<T> {
    pub(crate) fn new(id: Id, value: Result<T, JoinError>) -> TaskOutput<T> {
        TaskOutput {
            id,
            value: ManuallyDrop::new(value),
        }
    }

    /// Hands the value to the joiner.
    pub(crate) fn into_inner(self) -> Result<T, JoinError> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is wrapped in `ManuallyDrop`, so its `Drop` (the
        // only other place that touches `value`) never runs, and `value`
        // is not used again after being taken here.
        unsafe { ManuallyDrop::take(&mut this.value) }
    }
}

impl<T> Drop for TaskOutput<T> {
    fn drop(&mut self) {
        let prev_id = super::id::set_current(Some(self.id));
        // SAFETY: `value` was not taken (`into_inner` skips this `Drop`),
        // and this is the only place it is dropped.
        let result = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut self.value)
        }));
        super::id::set_current(prev_id);
        if let Err(payload) = result {
            report_contained_panic(payload, "dropping a task's unjoined output", Some(self.id));
        }
    }
}
