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
//! Semantics follow tokio's where it matters for porting code: a [`Sleep`]
//! is not [`is_elapsed`](Sleep::is_elapsed) before it was polled; interval
//! periods are clamped to about 30 years; a timer polled on a runtime that
//! has shut down panics ("... it has shut down ...") instead of completing
//! as though its time had passed. Differences: there is no paused or
//! mocked time (`pause`/`advance`); an [`Interval`] counts a tick as missed
//! only once the next one is due (tokio: once it is 5 ms late), so
//! [`MissedTickBehavior::Delay`] and `Skip` apply later than in tokio; and a
//! `Sleep` that already completed keeps returning `Ready` after shutdown
//! (tokio panics on every poll).
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
