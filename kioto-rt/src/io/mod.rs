//! Asynchronous I/O: the traits sockets implement, and (crate-internal) the
//! readiness machinery behind them.
//!
//! Kioto's sockets implement the ecosystem's [`AsyncRead`] and
//! [`AsyncWrite`] from `futures-io`, re-exported here, so the extension
//! traits of `futures-util` (`read_exact`, `write_all`, `lines`, `copy`, ...)
//! and codec crates work on them unchanged.
//!
//! Internally (crate-private), `readiness` holds the per-resource readiness
//! word and waiter lists the driver updates, and `poll_evented` the
//! registered-source wrapper every socket is built on.

pub(crate) mod poll_evented;
pub(crate) mod readiness;

pub use futures_io::{AsyncRead, AsyncWrite};
