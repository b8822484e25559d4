//! Task identifiers.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// An opaque, process-unique identifier of a task.
///
/// Ids are never reused while the process lives, so an id seen in a log or a
/// [`TaskDump`](crate::runtime::TaskDump) names exactly one task.
#[derive(Clone, Copy, Debug, Hash, Eq, PartialEq, Ord, PartialOrd)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        // A plain std atomic: ids only need uniqueness, which fetch_add gives
        // under any ordering, and a static cannot hold a loom atomic.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(n).expect("task id counter overflowed"))
    }

    /// The id as a number, for logs and metrics.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

thread_local! {
    static CURRENT: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Sets the current task id for the duration of one poll.
pub(crate) fn set_current(id: Option<Id>) -> Option<Id> {
    CURRENT.with(|c| c.replace(id))
}

/// The id of the task being polled on this thread.
///
/// # Panics
///
/// When called outside a task (use [`try_id`] there).
pub fn id() -> Id {
    try_id().expect("task::id() called outside of a task")
}

/// The id of the task being polled on this thread, or `None` outside a task.
pub fn try_id() -> Option<Id> {
    CURRENT.try_with(Cell::get).ok().flatten()
}
