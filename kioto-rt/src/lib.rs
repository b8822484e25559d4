//! Kioto's runtime: a multi-threaded work-stealing executor with cooperative
//! budgets, a mio reactor and a timer wheel, plus the channels and sockets
//! that run on it.
//!
//! The names follow tokio where the concept is the same, so a tokio user
//! needs no new vocabulary:
//!
//! ```
//! let rt = kioto_rt::Runtime::new().unwrap();
//! let answer = rt.block_on(async {
//!     let handle = kioto_rt::spawn(async { 6 * 7 });
//!     handle.await.unwrap()
//! });
//! assert_eq!(answer, 42);
//! ```
//!
//! See `runtime` for the scheduler's design, `coop` (in the source) for
//! why every leaf future spends budget, and `task` for spawning, joining and
//! aborting.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![doc(test(attr(deny(warnings))))]

mod blocking;
mod coop;
mod driver;
#[allow(dead_code, unused_imports)]
mod loom;
mod scheduler;

pub mod io;
pub mod net;
pub mod runtime;
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;

pub use runtime::{Handle, Runtime};
pub use task::{spawn, spawn_blocking};
