//! Kioto: Actix-style actors on a work-stealing async runtime.
//!
//! This facade re-exports the three crates:
//!
//! - [`rt`] — the runtime (`kioto-rt`): scheduler, tasks, I/O, timers,
//!   channels;
//! - the actor API (`kioto-actor`) at the root and in [`prelude`];
//! - the macros (`kioto-macros`): `#[derive(Message)]`, `#[kioto::main]`,
//!   `#[kioto::test]`, `#[kioto::messages]`.

#![warn(missing_docs, rust_2018_idioms)]

pub use kioto_rt as rt;
