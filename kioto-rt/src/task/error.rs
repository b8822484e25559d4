//! The error a `JoinHandle` resolves to when its task did not finish.

use super::Id;
use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// A task failed to run to completion: it was cancelled (aborted, or dropped
/// at runtime shutdown) or it panicked.
#[derive(thiserror::Error)]
#[error("{}", self.describe())]
pub struct JoinError {
    id: Id,
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// In a mutex only so that `JoinError` is `Sync` (a panic payload is
    /// merely `Send`); it is never contended.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(Mutex::new(payload)),
        }
    }

    /// True if the task was cancelled: aborted, or dropped by runtime
    /// shutdown before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with
    /// `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the task did not panic (check [`is_panic`](Self::is_panic)).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancellation, not a panic")
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }

    fn describe(&self) -> String {
        match &self.repr {
            Repr::Cancelled => format!("task {} was cancelled", self.id),
            Repr::Panic(p) => {
                let p = p.lock().unwrap_or_else(|e| e.into_inner());
                match panic_message(&**p) {
                    Some(msg) => format!("task {} panicked with message {:?}", self.id, msg),
                    None => format!("task {} panicked", self.id),
                }
            }
        }
    }
}

/// Reports a panic caught from user code that nobody can receive (a
/// destructor the runtime ran, a thread hook) with `tracing::error!`, then
/// drops its payload; if dropping the payload panics in turn, that second
/// payload is leaked, so a payload whose `Drop` always panics cannot unwind
/// into the runtime either.
pub(crate) fn report_contained_panic(
    payload: Box<dyn Any + Send + 'static>,
    what: &'static str,
    task: Option<Id>,
) {
    tracing::error!(
        task.id = task.map(Id::as_u64),
        panic = panic_message(&*payload).unwrap_or("(not a string)"),
        "{what} panicked; the panic was caught"
    );
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// The `&str`/`String` message of a panic payload, if it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(_) => write!(f, "JoinError::Panic({}, {})", self.id, self.describe()),
        }
    }
}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> Self {
        std::io::Error::other(e.to_string())
    }
}
