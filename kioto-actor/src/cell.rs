//! The actor cell: everything about an actor that outlives one instance of
//! it — its id, mailbox and death notification — shared by its addresses and
//! the task running it.
//!
//! # The supervision seam
//!
//! The actor *instance* (the user's struct) and its [`Context`] live only in
//! the task that runs it; the *cell* is what addresses point to. Keeping them
//! apart is what lets a supervisor restart a child behind the same address:
//!
//! - an unsupervised actor's task runs one instance and then finishes the
//!   cell itself (`runner::spawn`), or finishes it with `Killed` when the
//!   task is dropped first;
//! - a supervisor's instance task runs one instance per spawn on the same
//!   cell; the supervisor awaits it before spawning the next, and finishes
//!   the cell only through the child's consumer role (`consumer.rs`), so
//!   the mailbox never has two consumers.
//!
//! [`run_actor`](crate::runner::run_actor) runs one instance until it stops
//! and returns its [`StopReason`]; it never closes the mailbox, so messages
//! queued during a crash survive into the next instance (only the message
//! being handled is lost, its requester gets `Closed`). [`ActorCell::finish`]
//! is the end for good: close the mailbox, drop what is queued (requesters
//! get `Closed`), record the reason, tell the watchers
//! ([`ActorCell::on_stop`]).

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::actor::Actor;
use crate::envelope::Envelope;
use crate::mailbox::{Mailbox, Reserve};
use crate::watch::{Lifecycle, OnStop, StopReason};

/// A process-unique actor id (stable across supervised restarts).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(NonZeroU64);

impl ActorId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        ActorId(NonZeroU64::new(n).expect("actor ids exhausted"))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorId({})", self.0)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// See the module docs.
pub(crate) struct ActorCell<A: Actor> {
    pub(crate) mailbox: Mailbox<Envelope<A>>,
    pub(crate) id: ActorId,
    life: Lifecycle,
    /// Counts instances run on this cell; each [`Context`] takes the next,
    /// so internal envelopes of a previous instance can be told apart.
    generations: AtomicU64,
}

impl<A: Actor> ActorCell<A> {
    /// A cell with an open, empty mailbox and no task.
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(ActorCell {
            mailbox: Mailbox::new(capacity),
            id: ActorId::next(),
            life: Lifecycle::default(),
            generations: AtomicU64::new(0),
        })
    }

    pub(crate) fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Queues internal work, bypassing capacity. Fails only when closed.
    pub(crate) fn push_internal(&self, env: Envelope<A>) -> Result<(), Envelope<A>> {
        match self.mailbox.force_reserve() {
            Reserve::Reserved => {
                self.mailbox.push(env);
                Ok(())
            }
            _ => Err(env),
        }
    }

    /// Runs `f` once the actor has stopped for good (at once if it has).
    pub(crate) fn on_stop(&self, f: OnStop) {
        self.life.on_stop(self.id, f);
    }

    /// The end for good: see the module docs. Idempotent. Closes the
    /// mailbox, so only its single consumer may call it (see `mailbox.rs`).
    #[cold]
    #[inline(never)]
    pub(crate) fn finish(&self, reason: StopReason) {
        // Reason first, so `stop_reason` is set by the time `connected` is
        // false; watchers last, so they see the mailbox closed.
        let watchers = self.life.record(&reason);
        self.mailbox.close();
        if let Some(watchers) = watchers {
            tracing::debug!(actor = std::any::type_name::<A>(), id = %self.id, %reason, "actor stopped");
            Lifecycle::run(self.id, &reason, watchers);
        }
    }

    /// The reason the actor stopped, once it has for good.
    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        self.life.reason()
    }

}

impl<A: Actor> fmt::Debug for ActorCell<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorCell")
            .field("actor", &std::any::type_name::<A>())
            .field("id", &self.id)
            .field("mailbox", &self.mailbox)
            .field("life", &self.life)
            .finish()
    }
}

