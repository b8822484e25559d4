//! One child: its persistent part (the *slot*: cell, address, factory) and
//! the task that runs one *instance* of it — the restart loop around
//! [`run_actor`].
//!
//! # The restart loop
//!
//! A child's [`ActorCell`] (its mailbox and identity) is created once, when
//! the child is added, and outlives every instance of the actor:
//!
//! ```text
//!   supervisor                      instance task (one per instance)
//!   ----------                      --------------------------------
//!   spawn(Run { token, .. })  --->  act = factory()        (a panic = failure)
//!   wait for `started`        <---  run_actor(act, Context::new(cell))
//!      ...                           `started` returned: signal
//!                                    ... handles messages, then stops/fails ...
//!   Exit { token, reason }    <---  push into the supervisor's mailbox
//!   await the task, decide:         return reason
//!     restart: spawn again on the same cell (same address, same queue)
//!     don't:   finish the cell (close the mailbox, tell watchers)
//! ```
//!
//! [`run_actor`] never closes the mailbox, so messages queued while an
//! instance crashes are handled by the next one; only the message being
//! handled is lost (its requester gets `Closed`). The cell is finished only
//! when the child is stopped for good.
//!
//! Exactly one instance runs on a cell at a time (the mailbox has one
//! consumer): the supervisor awaits an instance's task before starting the
//! next, and a supervisor instance that dies with children still running
//! aborts them and parks their handles in its core for the next supervisor
//! instance to await. The instance task itself enforces the rule: it takes
//! the child's consumer role (`consumer.rs`) before it builds the actor,
//! and gives it back only when its future is dropped.
//!
//! Every instance gets a fresh `token`; the supervisor acts on an exit only
//! if its token is the child's current one, so the exit of an instance the
//! supervisor already stopped itself (a group restart, a shutdown) is ignored.
//!
//! # Stopping an instance
//!
//! [`shutdown`] follows the child's [`Shutdown`]: a graceful stop is a stop
//! request on the mailbox (the instance finishes its current message, runs
//! `stopping` — which may refuse — and `stopped`); killing aborts the task,
//! which drops the actor where it stands.

use std::any::Any;
use std::future::poll_fn;
use std::fmt;
use std::sync::{Arc, Weak};

use kioto_rt::sync::oneshot;
use kioto_rt::task::JoinHandle;
use tracing::Instrument;

use super::builder::SupervisorBuilder;
use super::core::Core;
use super::events::EventHub;
use super::spec::Shutdown;
use super::Supervisor;
use crate::actor::Actor;
use crate::address::Addr;
use crate::cell::{ActorCell, ActorId};
use crate::consumer::{Acquire, ConsumerRole, Finish};
use crate::context::Context;
use crate::envelope::Envelope;
use crate::panic::catch;
use crate::runner::run_actor;
use crate::system::System;
use crate::watch::StopReason;

/// Where a new child goes in the tree.
pub(super) struct Parent<'a> {
    pub(super) path: &'a str,
    pub(super) hub: &'a Arc<EventHub>,
}

/// The type-erased "what kind of actor" part of a [`ChildSpec`](super::ChildSpec).
pub(super) trait ChildKind: Send + Sync + 'static {
    /// Creates the child's slot: a new cell (mailbox open, no task yet).
    fn new_slot(&self, name: &str, capacity: usize, parent: Parent<'_>) -> Arc<dyn ChildSlot>;
    /// For `Debug`.
    fn describe(&self) -> &'static str;
}

/// A worker: any actor type, built by a factory.
pub(super) struct WorkerKind<A> {
    factory: Arc<dyn Fn() -> A + Send + Sync>,
}

impl<A: Actor> WorkerKind<A> {
    pub(super) fn new(factory: impl Fn() -> A + Send + Sync + 'static) -> Self {
        WorkerKind {
            factory: Arc::new(factory),
        }
    }
}

impl<A: Actor> ChildKind for WorkerKind<A> {
    fn new_slot(&self, _name: &str, capacity: usize, _parent: Parent<'_>) -> Arc<dyn ChildSlot> {
        let cell = ActorCell::<A>::new(capacity);
        Arc::new(ActorSlot {
            keep: Addr::from_cell(cell.clone()),
            cell,
            factory: self.factory.clone(),
            nested: None,
            role: Arc::new(ConsumerRole::new()),
        })
    }

    fn describe(&self) -> &'static str {
        std::any::type_name::<A>()
    }
}

/// A nested supervisor.
pub(super) struct SupervisorKind {
    pub(super) builder: SupervisorBuilder,
}

impl ChildKind for SupervisorKind {
    fn new_slot(&self, name: &str, capacity: usize, parent: Parent<'_>) -> Arc<dyn ChildSlot> {
        let path = format!("{}/{}", parent.path, name);
        let core = Core::new(&self.builder, path, parent.hub.clone(), true, capacity);
        let factory = {
            let core = core.clone();
            Arc::new(move || Supervisor::instance(core.clone()))
        };
        Arc::new(ActorSlot {
            keep: Addr::from_cell(core.cell.clone()),
            cell: core.cell.clone(),
            factory,
            nested: Some(core),
            role: Arc::new(ConsumerRole::new()),
        })
    }

    fn describe(&self) -> &'static str {
        "supervisor"
    }
}

/// What the supervisor hands an instance task.
pub(super) struct Run {
    /// Identifies this instance in its exit report.
    pub(super) token: u64,
    /// The supervisor's cell, for the exit report.
    pub(super) report: Weak<ActorCell<Supervisor>>,
    /// Completed when `started` has returned; dropped if the instance ends
    /// before that.
    pub(super) started: oneshot::Sender<()>,
    /// The child's tree path, for the task's span.
    pub(super) path: String,
}

/// The persistent part of a child, type-erased; see the module docs.
pub(super) trait ChildSlot: Send + Sync + 'static {
    fn id(&self) -> ActorId;
    /// Spawns an instance task on the cell.
    fn spawn(&self, run: Run) -> JoinHandle<StopReason>;
    /// Asks the running instance to stop (graceful shutdown).
    fn request_stop(&self);
    /// The end for good: finishes the cell (and, for a supervisor, its whole
    /// subtree first), at once if no instance task may still run, else when
    /// that task ends (its abort is the caller's business). Idempotent.
    fn finish(&self, reason: StopReason);
    /// Whether the mailbox is closed (finished).
    fn is_closed(&self) -> bool;
    /// The child's `Addr<A>`, for downcasting.
    fn addr(&self) -> &(dyn Any + Send + Sync);
    /// The supervisor core, if the child is a supervisor.
    fn nested(&self) -> Option<&Arc<Core>>;
}

/// The slot of a child running actor `A`.
struct ActorSlot<A: Actor> {
    cell: Arc<ActorCell<A>>,
    /// A strong address held by the supervisor: a supervised child never
    /// stops for lack of addresses (that would restart a `Permanent` child
    /// in a loop); it lives until its supervisor stops it.
    keep: Addr<A>,
    factory: Arc<dyn Fn() -> A + Send + Sync>,
    nested: Option<Arc<Core>>,
    /// Who may finish the cell: held by each instance task while it may
    /// consume the mailbox (see `consumer.rs`).
    role: Arc<ConsumerRole<StopReason>>,
}

/// The end for good of a child's cell: a supervisor's subtree first, then
/// the cell itself. Only the mailbox's single consumer may call it: the
/// holder of a free [`ConsumerRole`], or the instance task letting go of it.
fn finish_cell<A: Actor>(cell: &ActorCell<A>, nested: Option<&Arc<Core>>, reason: StopReason) {
    if let Some(core) = nested {
        core.finish_children();
    }
    cell.finish(reason);
}

/// Carried by an instance task until its future is dropped (after it
/// returns, or when it is aborted, polled or not): once the task has taken
/// the consumer role, the moment it can no longer consume it gives the role
/// back, and finishes the cell if a finish was requested meanwhile.
struct Consuming<A: Actor> {
    role: Arc<ConsumerRole<StopReason>>,
    cell: Arc<ActorCell<A>>,
    nested: Option<Arc<Core>>,
    /// The task holds the role.
    held: bool,
}

impl<A: Actor> Consuming<A> {
    /// Takes the consumer role, waiting for an earlier instance's task that
    /// still holds it. False if the cell is finished: the instance must not
    /// run.
    async fn acquire(&mut self, path: &str) -> bool {
        let mut waited = false;
        let acquired = poll_fn(|cx| {
            let poll = self.role.poll_acquire(cx);
            if poll.is_pending() && !std::mem::replace(&mut waited, true) {
                tracing::warn!(
                    target: "kioto::supervisor",
                    path = %path,
                    "a new instance waits for its predecessor's task to end"
                );
            }
            poll
        })
        .await;
        self.held = acquired == Acquire::Held;
        self.held
    }
}

impl<A: Actor> Drop for Consuming<A> {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        // This task never polls again; the next instance (if any) registers
        // its own waker once it holds the role.
        self.cell.mailbox.forget_receiver();
        if let Some(reason) = self.role.release() {
            finish_cell(&self.cell, self.nested.as_ref(), reason);
        }
    }
}

impl<A: Actor> ChildSlot for ActorSlot<A> {
    fn id(&self) -> ActorId {
        self.cell.id
    }

    fn spawn(&self, run: Run) -> JoinHandle<StopReason> {
        let cell = self.cell.clone();
        let factory = self.factory.clone();
        let Run {
            token,
            report,
            started,
            path,
        } = run;
        let span = tracing::trace_span!(
            "actor",
            actor = std::any::type_name::<A>(),
            id = %cell.id,
            path = %path,
        );
        let system = System::try_current();
        let consuming = Consuming {
            role: self.role.clone(),
            cell: cell.clone(),
            nested: self.nested.clone(),
            held: false,
        };
        let task = async move {
            // Dropped last, with the task's state (see `Consuming`).
            let mut consuming = consuming;
            let reason = if !consuming.acquire(&path).await {
                // Finished before this instance could start.
                StopReason::Killed
            } else {
                match catch(|| factory()) {
                Ok(act) => {
                    // A stop request aimed at a previous instance (one that
                    // was killed before it saw it) must not stop this one.
                    cell.mailbox.clear_stop();
                    let mut ctx = Context::new(cell);
                    ctx.on_started = Some(Box::new(move || {
                        let _ = started.send(());
                    }));
                    run_actor(act, ctx).await
                }
                Err(panic) => {
                    tracing::error!(
                        target: "kioto::supervisor",
                        path = %path,
                        panic = %panic,
                        "child factory panicked"
                    );
                    StopReason::Panicked(panic)
                }
                }
            };
            if let Some(supervisor) = report.upgrade() {
                let exit = super::control::Internal::Exit {
                    token,
                    reason: reason.clone(),
                };
                let _ = supervisor.push_internal(Envelope::new(exit));
            }
            reason
        };
        kioto_rt::spawn(System::scope(system, task.instrument(span)))
    }

    fn request_stop(&self) {
        self.cell.mailbox.request_stop();
    }

    fn finish(&self, reason: StopReason) {
        // An aborted instance may still be running on another worker: it
        // finishes the cell itself when it lets go of the role.
        if let Finish::Now(reason) = self.role.finish(reason) {
            finish_cell(&self.cell, self.nested.as_ref(), reason);
        }
    }

    fn is_closed(&self) -> bool {
        self.cell.mailbox.is_closed()
    }

    fn addr(&self) -> &(dyn Any + Send + Sync) {
        &self.keep
    }

    fn nested(&self) -> Option<&Arc<Core>> {
        self.nested.as_ref()
    }
}

impl fmt::Debug for dyn ChildSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSlot").field("id", &self.id()).finish()
    }
}

/// A running instance's task, taken out of the child table while the
/// supervisor awaits it. If the supervisor instance is dropped meanwhile
/// (killed), the task is aborted and its handle parked in the core, so the
/// next supervisor instance awaits it before starting a new instance on the
/// same cell.
pub(super) struct InFlight {
    handle: Option<JoinHandle<StopReason>>,
    core: Arc<Core>,
}

impl InFlight {
    pub(super) fn new(handle: JoinHandle<StopReason>, core: Arc<Core>) -> Self {
        InFlight {
            handle: Some(handle),
            core,
        }
    }

    /// Waits for the instance to end; its reason (`Killed` if it was
    /// aborted).
    pub(super) async fn join(mut self) -> StopReason {
        let handle = self.handle.as_mut().expect("joined once");
        let reason = handle.await.unwrap_or(StopReason::Killed);
        self.handle = None;
        reason
    }

    /// Stops the instance per `shutdown` and waits for it to end.
    pub(super) async fn shutdown(mut self, slot: &dyn ChildSlot, shutdown: Shutdown) -> StopReason {
        let handle = self.handle.as_mut().expect("joined once");
        let reason = match shutdown {
            Shutdown::Brutal => None,
            Shutdown::Infinity => {
                slot.request_stop();
                Some((&mut *handle).await.unwrap_or(StopReason::Killed))
            }
            Shutdown::Timeout(limit) => {
                slot.request_stop();
                match kioto_rt::time::timeout(limit, &mut *handle).await {
                    Ok(joined) => Some(joined.unwrap_or(StopReason::Killed)),
                    Err(_elapsed) => None,
                }
            }
        };
        let reason = match reason {
            Some(reason) => reason,
            None => {
                handle.abort();
                // An instance that ended on its own just before the abort
                // keeps its own reason.
                handle.await.unwrap_or(StopReason::Killed)
            }
        };
        self.handle = None;
        reason
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
            self.core.park_zombie(handle);
        }
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("handle", &self.handle)
            .finish()
    }
}
