//! `Handle`: a cheap, cloneable reference to a runtime.

use super::{context, Dump, EnterGuard, RuntimeMetrics};
use crate::scheduler::Shared;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A handle to a runtime: spawn onto it, block on it, read its metrics,
/// from any thread. Cloning is cheap.
///
/// ```
/// let rt = kioto_rt::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let joined = std::thread::spawn(move || {
///     let task = handle.spawn(async { 7 });
///     handle.block_on(task).unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(joined, 7);
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// [`Handle::try_current`] was called outside a runtime.
#[derive(Debug, thiserror::Error)]
#[error("{}", context::NO_RUNTIME)]
pub struct TryCurrentError(());

impl Handle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The handle of the runtime this thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime (inside tasks, `block_on` and runtime threads there
    /// always is one).
    #[track_caller]
    pub fn current() -> Handle {
        context::with_current(Handle::clone)
    }

    /// The handle of the runtime this thread is in, if any.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::try_current().ok_or(TryCurrentError(()))
    }

    /// The runtime's process-unique id.
    pub fn id(&self) -> super::Id {
        self.shared.id()
    }

    /// Makes this runtime the current one on this thread until the guard
    /// drops.
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.clone())
    }

    /// Spawns a task on this runtime, from any thread.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, std::panic::Location::caller())
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared
            .spawn_blocking(f, std::panic::Location::caller())
    }

    /// Runs a future to completion on the calling thread with this runtime
    /// as the current one.
    ///
    /// # Panics
    ///
    /// From inside a task or another `block_on`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        super::block_on::block_on(self, future)
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.shared.clone())
    }

    /// A snapshot of every live task: id, spawn location, state, polls.
    ///
    /// ```
    /// let rt = kioto_rt::Runtime::new().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let _task = rt.spawn(async move {
    ///     kioto_rt::time::sleep(std::time::Duration::from_secs(60)).await;
    ///     drop(tx);
    /// });
    /// let dump = rt.handle().dump();
    /// assert_eq!(dump.tasks().len(), 1);
    /// # drop(rx);
    /// ```
    pub fn dump(&self) -> Dump {
        Dump::new(self.shared.registry().snapshot())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}
