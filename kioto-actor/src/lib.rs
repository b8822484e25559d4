//! Kioto's actors: [`Actor`], [`Context`], [`Addr`], bounded mailboxes,
//! [`System`] — on kioto's work-stealing runtime.
//!
//! An actor is a task that owns its state and its mailbox. Messages are
//! handled one at a time, in order; a handler may be `async` and keeps
//! `&mut self` across its awaits; while it awaits, that actor handles nothing
//! else, but every other actor runs.
//!
//! ```
//! use kioto_actor::prelude::*;
//!
//! struct Counter {
//!     n: u64,
//! }
//! impl Actor for Counter {}
//!
//! struct Add(u64);
//! impl Message for Add {
//!     type Result = u64;
//! }
//!
//! impl Handler<Add> for Counter {
//!     async fn handle(&mut self, msg: Add, _ctx: &mut Context<Self>) -> u64 {
//!         self.n += msg.0;
//!         self.n
//!     }
//! }
//!
//! let system = System::new();
//! system.block_on(async {
//!     let addr = Counter { n: 0 }.start();
//!     assert_eq!(addr.send(Add(2)).await.unwrap(), 2);
//! });
//! ```
//!
//! # Map of the crate
//!
//! - `actor`, `handler`: the traits users implement.
//! - `address`: [`Addr`], [`Recipient`], [`Request`](address::Request) and
//!   the sending methods (a table of their semantics is in its docs).
//! - `context`: [`Context`], timers (`timer`), streams (`stream`), watching
//!   (`watch`).
//! - `mailbox`, `atomic_waker`: the lock-free bounded mailbox and its
//!   wake-up protocol (loom-modelled); `envelope`, `slot`, `reply`: what goes
//!   through it and how it is run without a second allocation per message.
//! - `cell`, `runner`: the actor's shared cell and the loop that runs an
//!   instance on it — the seam supervision is built on (see `cell`).
//! - `system`, `registry`: the runtime owner, the name registry and
//!   [`SystemService`].

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![doc(test(attr(deny(warnings))))]
// Under `--cfg loom` only the mailbox protocol (`loom`, `atomic_waker`,
// `mailbox`) is compiled, with its models; everything else is runtime glue.
#![cfg_attr(loom, allow(dead_code, unreachable_pub))]

/// Items compiled in normal builds only: under `--cfg loom` the crate is
/// just the mailbox protocol and its models (see `mailbox`), so loom runs
/// neither compile nor depend on the runtime.
macro_rules! cfg_not_loom {
    ($($item:item)*) => { $( #[cfg(not(loom))] $item )* };
}

// Lets macro-generated code name `::kioto_actor` inside this crate too.
#[cfg(not(loom))]
#[allow(unused_extern_crates)]
extern crate self as kioto_actor;

mod atomic_waker;
mod consumer;
#[allow(dead_code)]
mod loom;
mod mailbox;
mod panic;
mod queue;

cfg_not_loom! {
    mod actor;
    pub mod address;
    mod cell;
    mod context;
    mod coop;
    mod envelope;
    mod error;
    mod handler;
    pub mod prelude;
    mod registry;
    mod reply;
    mod runner;
    mod slot;
    mod stream;
    pub mod supervisor;
    mod system;
    mod timer;
    mod watch;

    pub use actor::{Actor, ActorState, Running, DEFAULT_CAPACITY};
    pub use address::{Addr, Recipient, WeakAddr, WeakRecipient};
    pub use cell::ActorId;
    pub use supervisor::{Supervisor, SupervisorRef};
    pub use context::Context;
    pub use error::{MailboxError, SendError};
    pub use handler::{Handler, Message};
    pub use registry::SystemService;
    pub use stream::StreamHandler;
    pub use system::System;
    pub use timer::{SpawnHandle, TimerHandle};
    pub use watch::{StopReason, Terminated};

    pub use kioto_macros::{handler, main, message, messages, test, Message};
    /// The runtime kioto's actors run on.
    pub use kioto_rt as rt;
}
