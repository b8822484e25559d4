//! Kioto: Actix-style actors on a work-stealing async runtime.
//!
//! An actor owns its state and handles one message at a time; handlers may
//! be `async` and keep `&mut self` across awaits, while every other actor
//! keeps running on the multi-threaded scheduler.
//!
//! ```
//! use kioto::prelude::*;
//!
//! struct Counter {
//!     n: u64,
//! }
//! impl Actor for Counter {}
//!
//! #[derive(Message)]
//! #[rtype(result = "u64")]
//! struct Add(u64);
//!
//! impl Handler<Add> for Counter {
//!     async fn handle(&mut self, msg: Add, _ctx: &mut Context<Self>) -> u64 {
//!         self.n += msg.0;
//!         self.n
//!     }
//! }
//!
//! #[kioto::main]
//! async fn main() {
//!     let addr = Counter { n: 0 }.start();
//!     assert_eq!(addr.send(Add(2)).await.unwrap(), 2);
//!     assert_eq!(addr.send(Add(3)).await.unwrap(), 5);
//! }
//! ```
//!
//! What is where:
//!
//! - the actor API (`kioto-actor`) at the root and in [`prelude`]: `Actor`,
//!   `Addr`, `Context`, `Handler`, `Message`, supervision, `System`;
//! - [`rt`]: the runtime (`kioto-rt`): scheduler, tasks, TCP/UDP, timers,
//!   channels;
//! - the macros (`kioto-macros`): `#[derive(Message)]`, `#[kioto::main]`,
//!   `#[kioto::test]`, `#[kioto::messages]`.

#![warn(missing_docs, rust_2018_idioms)]

pub use kioto_actor::*;
pub use kioto_rt as rt;

/// The README, compiled and run as doctests so its examples stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
