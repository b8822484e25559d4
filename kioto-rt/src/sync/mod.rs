//! Synchronization for tasks: channels, a notifier and a semaphore.
//!
//! The names and semantics are tokio's, so code moves over unchanged; the
//! few differences are named where they live (see [`mpsc`] on values that
//! panic when dropped):
//!
//! - [`oneshot`]: one value, once, from one task to another.
//! - [`mpsc`]: a stream of values from many senders to one receiver,
//!   bounded (with back-pressure) or unbounded.
//! - [`Notify`]: wake one waiting task, or all of them, with no data.
//! - [`Semaphore`]: limit concurrency with fair, first-come first-served
//!   permits.
//!
//! Every future here is a *leaf* future: each completed operation spends one
//! unit of the task's cooperative budget, and once the budget is spent the
//! operation yields even if it could complete, so a task looping over a busy
//! channel cannot starve its worker. Waiting spends nothing.

mod atomic_waker;
mod batch_semaphore;
pub mod mpsc;
mod notify;
pub mod oneshot;
mod semaphore;

pub use notify::{Notified, Notify};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
