//! What goes through a supervisor's mailbox: exit reports from its
//! children's instance tasks, backoff timers firing, and run-time requests
//! from [`SupervisorRef`](super::SupervisorRef)s.
//!
//! These are internal envelopes, not messages: `Supervisor` implements no
//! public `Handler`, so its protocol is private and can change freely. They
//! are pushed past the mailbox capacity (a child's death must never wait
//! for space) and handled one at a time, like any actor's messages, which
//! is what serializes every decision a supervisor takes.

use std::task::Context as TaskContext;

use kioto_rt::sync::oneshot;

use super::error::SupervisorError;
use super::spec::ChildSpec;
use super::tree::ChildInfo;
use super::Supervisor;
use crate::envelope::{EnvelopeBody, RunWith};
use crate::slot::SlotFuture;
use crate::watch::StopReason;

/// The reply of a run-time request.
pub(super) type Reply<T> = oneshot::Sender<Result<T, SupervisorError>>;

/// See the module docs.
pub(super) enum Internal {
    /// An instance task ended (sent by the task itself).
    Exit { token: u64, reason: StopReason },
    /// A backoff has elapsed: start the children waiting on `ticket`.
    RestartDue { ticket: u64 },
    /// `SupervisorRef::start_child`.
    StartChild(ChildSpec, Reply<()>),
    /// `SupervisorRef::stop_child`.
    StopChild(String, Reply<()>),
    /// `SupervisorRef::restart_child`.
    RestartChild(String, Reply<()>),
    /// `SupervisorRef::delete_child`.
    DeleteChild(String, Reply<()>),
    /// `SupervisorRef::which_children`.
    WhichChildren(Reply<Vec<ChildInfo>>),
}

impl EnvelopeBody<Supervisor> for Internal {
    fn run<'a>(
        self,
        (act, ctx, slot): RunWith<'a, Supervisor>,
        cx: &mut TaskContext<'_>,
    ) -> Option<SlotFuture<'a>> {
        slot.start(act.handle(self, ctx), cx)
    }
}
