//! Time: sleeps, timeouts and intervals, driven by a hierarchical timer
//! wheel owned by the runtime's driver.
//!
//! The wheel (`wheel.rs`) has 6 levels of 64 slots with 1 ms resolution;
//! the worker that parks in the driver sleeps exactly until the next slot
//! that needs processing, so a timer on an idle runtime fires within about a
//! millisecond after its deadline, and never before it.
//!
//! [`Instant`] is `std::time::Instant`: there is no separate clock to mock.
//!
//! ```
//! use std::time::Duration;
//! use kioto_rt::time::{sleep, timeout};
//! kioto_rt::Runtime::new().unwrap().block_on(async {
//!     let slow = sleep(Duration::from_secs(60));
//!     assert!(timeout(Duration::from_millis(5), slow).await.is_err());
//! });
//! ```

pub mod error;
pub(crate) mod handle;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Instant;
pub use timeout::{timeout, timeout_at, Timeout};
