//! Supervision trees with Erlang/OTP semantics and stable addresses.
//!
//! A [`Supervisor`] is an actor whose job is to keep other actors — its
//! *children* — running. Each child is described by a [`ChildSpec`]: a
//! name, a factory that builds a fresh actor value for every (re)start, a
//! [`Restart`] type and a [`Shutdown`] policy. A supervisor can be the child
//! of another ([`ChildSpec::supervisor`]), so trees nest to any depth.
//!
//! ```
//! use std::time::Duration;
//! use kioto_actor::prelude::*;
//!
//! #[derive(Default)]
//! struct Worker(u64);
//! impl Actor for Worker {}
//!
//! struct Job(u64);
//! impl Message for Job {
//!     type Result = u64;
//! }
//! impl Handler<Job> for Worker {
//!     async fn handle(&mut self, job: Job, _: &mut Context<Self>) -> u64 {
//!         assert!(job.0 != 13, "unlucky job");
//!         self.0 += job.0;
//!         self.0
//!     }
//! }
//!
//! System::new().block_on(async {
//!     let tree = Supervisor::builder()
//!         .strategy(Strategy::OneForOne)
//!         .intensity(3, Duration::from_secs(5))
//!         .child(ChildSpec::new("worker", Worker::default))
//!         .start();
//!     let worker = tree.child::<Worker>("worker").unwrap();
//!     assert_eq!(worker.send(Job(2)).await, Ok(2));
//!     // The handler panics: this request is lost...
//!     assert_eq!(worker.send(Job(13)).await, Err(MailboxError::Closed));
//!     // ...but the same address reaches the restarted worker (fresh state).
//!     assert_eq!(worker.send(Job(5)).await, Ok(5));
//!     tree.stop();
//!     assert_eq!(tree.wait().await, StopReason::Normal);
//! });
//! ```
//!
//! # Semantics
//!
//! - **Failure.** A child *fails* when a handler or hook panics, when it
//!   stops with [`Context::fail`](crate::Context::fail), or when it is
//!   terminated; it *exits normally* when it stops itself cleanly
//!   ([`StopReason::Normal`](crate::StopReason::Normal)).
//! - **Restart types.** [`Restart::Permanent`] children are always
//!   restarted, [`Restart::Transient`] ones only after a failure,
//!   [`Restart::Temporary`] ones never (their end triggers no strategy and
//!   does not count toward the intensity; the supervisor forgets them).
//! - **Strategies.** [`Strategy::OneForOne`] restarts the failed child;
//!   [`Strategy::OneForAll`] stops the other children in reverse start
//!   order, then restarts them all in start order; [`Strategy::RestForOne`]
//!   does that for the failed child and the children started after it.
//!   Temporary children stopped by a group restart are not restarted.
//! - **Order.** Children start in the order they were added, each once the
//!   previous one's `started` hook has returned (so a child may rely on its
//!   elder siblings being up); they stop in the reverse order.
//! - **Intensity.** More than `max_restarts` restarts within `period`
//!   (default 1 in 5 s), counted per supervisor over all its children, and
//!   the supervisor *gives up*: it stops all its children (reverse order,
//!   each per its shutdown policy) and fails with
//!   [`StopReason::Failed`](crate::StopReason::Failed). Its own supervisor
//!   sees a failed child and applies its strategy: the failure *escalates*.
//!   When the root gives up, the tree stops and
//!   [`SupervisorRef::wait`] reports why.
//! - **Shutdown.** [`Shutdown::Timeout`] asks the child to stop (its
//!   `stopping` hook may refuse) and kills it if it has not stopped by the
//!   deadline; [`Shutdown::Brutal`] kills it at once; [`Shutdown::Infinity`]
//!   (the default for nested supervisors) waits as long as it takes.
//! - **Backoff.** Optional: `.backoff(min, max)` delays the n-th
//!   consecutive restart of a child by `min * 2^(n-1)`, at most `max`.
//!
//! # Stable addresses
//!
//! Unlike an Erlang pid, a child's [`Addr`](crate::Addr) survives its
//! restarts: the mailbox belongs to the child, not to an instance of it.
//! Messages queued when an instance crashes are handled by the next
//! instance; only the message being handled at the crash is lost (its
//! requester gets [`MailboxError::Closed`](crate::MailboxError::Closed)).
//! During a backoff, messages wait in the mailbox. The same holds for a
//! whole subtree: when a nested supervisor is restarted, its children come
//! back behind their old addresses. A mailbox is closed only when its child
//! stops for good: it exits and is not restarted, it is stopped with
//! [`SupervisorRef::stop_child`], or the tree ends.
//!
//! Run-time control, child lookup by path (`tree.child::<A>("db/pool-3")`)
//! and the [event stream](SupervisorRef::events) are on [`SupervisorRef`].
//!
//! # The restart loop
//!
//! Each child has a *slot* created when it is added: its cell (mailbox,
//! id, watchers) and a strong address the supervisor keeps. Each instance
//! of the child is one runtime task that builds the actor with the
//! factory, runs it on the cell to its end (`runner::run_actor`, which
//! leaves the mailbox open), and reports the reason to the supervisor's
//! mailbox. The supervisor, one decision at a time, awaits that task and
//! either spawns the next instance on the same cell or *finishes* the cell
//! (closes the mailbox, tells the watchers). See `child.rs` for the
//! protocol, `core.rs` for what outlives a supervisor's own restarts, and
//! `actor.rs` for the decisions.
//!
//! # Caveats
//!
//! As in OTP, a supervisor waits for a starting child's `started` hook: a
//! hook that never returns blocks its supervisor, and a hook that makes a
//! request to its own supervisor (or to a younger sibling) deadlocks.

mod actor;
mod backoff;
mod builder;
mod child;
mod control;
mod core;
mod error;
mod events;
mod intensity;
mod spec;
mod strategy;
mod tree;

pub use actor::Supervisor;
pub use builder::SupervisorBuilder;
pub use error::SupervisorError;
pub use events::{EventKind, SupervisorEvent};
pub use spec::{ChildSpec, Restart, Shutdown};
pub use strategy::Strategy;
pub use tree::{ChildInfo, ChildState, SupervisorRef};
