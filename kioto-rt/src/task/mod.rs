//! Tasks: spawning, joining, aborting, yielding.
//!
//! A task is one allocation (made by `async-task`) holding a header, the
//! task's metadata (`meta.rs`: id, spawn location, abort flag, counters),
//! and the user's future wrapped in a harness (`harness.rs`) that catches
//! panics and honours aborts. Handles onto it: the scheduler's `Runnable`
//! (permission to poll), [`JoinHandle`] (permission to await the output or
//! abort), [`AbortHandle`] (abort only), and one waker kept by the runtime's
//! registry (`registry.rs`) so shutdown and dumps can reach idle tasks.

mod error;
mod harness;
mod id;
mod join;
mod join_set;
pub(crate) mod meta;
mod output;
pub(crate) mod registry;
mod yield_now;

pub(crate) use error::report_contained_panic;
pub use error::JoinError;
pub(crate) use harness::Harness;
pub use id::{id, try_id, Id};
pub use join::{AbortHandle, JoinHandle};
pub use join_set::JoinSet;
pub use yield_now::yield_now;

pub use crate::coop::{consume_budget, unconstrained, Unconstrained};

/// Cooperative scheduling, for authors of leaf futures outside this crate.
///
/// A future that completes without awaiting any kioto leaf future (a custom
/// queue, an actor mailbox) should spend budget like kioto's own leaves do,
/// so that a task looping on it still yields. See [`poll_proceed`](coop::poll_proceed).
pub mod coop {
    pub use crate::coop::{
        consume_budget, has_budget_remaining, poll_proceed, unconstrained, RestoreOnPending,
        Unconstrained,
    };
}

use crate::runtime::context;
use std::future::Future;

/// Spawns a task on the current runtime and returns a handle to join it.
///
/// From a worker thread the task goes to that worker's LIFO slot, so it runs
/// next, on the same core, while its data is hot; from elsewhere it goes to
/// the global queue.
///
/// # Panics
///
/// Outside a runtime (see [`Handle::spawn`](crate::Handle::spawn) to spawn
/// from any thread).
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let handle = kioto_rt::task::spawn(async { "done" });
/// assert_eq!(handle.await.unwrap(), "done");
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = std::panic::Location::caller();
    context::with_current(|handle| handle.shared().spawn(future, location))
}

/// Runs a blocking closure on the runtime's blocking pool and returns a
/// handle to its result.
///
/// Use it for synchronous I/O or heavy computation that would otherwise hold
/// a worker thread. The pool grows on demand up to `max_blocking_threads` and
/// retires threads idle for 10 seconds. A panic in the closure surfaces as a
/// [`JoinError`]. Aborting a blocking task only has an effect before it
/// starts running.
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let n = kioto_rt::task::spawn_blocking(|| (1..=10u32).product::<u32>()).await.unwrap();
/// assert_eq!(n, 3_628_800);
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = std::panic::Location::caller();
    context::with_current(|handle| handle.shared().spawn_blocking(f, location))
}
