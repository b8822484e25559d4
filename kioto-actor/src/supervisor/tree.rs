//! [`SupervisorRef`]: the handle of a running supervisor — child lookup by
//! tree path, run-time control, events, and waiting for the end.

use std::fmt;
use std::sync::Arc;

use kioto_rt::sync::mpsc::UnboundedReceiver;
use kioto_rt::sync::oneshot;

use super::control::{Internal, Reply};
use super::core::Core;
use super::error::SupervisorError;
use super::events::SupervisorEvent;
use super::spec::ChildSpec;
use super::Supervisor;
use crate::actor::Actor;
use crate::address::Addr;
use crate::cell::ActorId;
use crate::envelope::Envelope;
use crate::watch::StopReason;

/// Where a child is, from [`SupervisorRef::which_children`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildState {
    /// An instance is running (or starting).
    Running,
    /// Between instances: being restarted, or waiting out a backoff.
    /// Messages sent to it wait in its mailbox.
    Restarting,
    /// Stopped for good (exited and not restarted, or `stop_child`): its
    /// mailbox is closed.
    Stopped,
}

/// One child of a supervisor, from [`SupervisorRef::which_children`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// Its name (the last component of its path).
    pub name: String,
    /// Its actor id (stable across restarts).
    pub id: ActorId,
    /// Where it is.
    pub state: ChildState,
    /// How many times it has been restarted.
    pub restarts: u32,
    /// Whether it is a nested supervisor.
    pub supervisor: bool,
}

/// The handle of a supervisor: returned by
/// [`SupervisorBuilder::start`](super::SupervisorBuilder::start) for a root,
/// or by [`SupervisorRef::supervisor`] for a nested one. Cheap to clone.
///
/// Dropping it does not stop the supervisor.
#[derive(Clone)]
pub struct SupervisorRef {
    core: Arc<Core>,
    addr: Addr<Supervisor>,
}

impl SupervisorRef {
    pub(super) fn new(core: Arc<Core>, addr: Addr<Supervisor>) -> Self {
        SupervisorRef { core, addr }
    }

    /// The supervisor's address, e.g. to
    /// [`watch`](crate::Context::watch) it.
    pub fn addr(&self) -> &Addr<Supervisor> {
        &self.addr
    }

    /// The supervisor's actor id.
    pub fn id(&self) -> ActorId {
        self.addr.id()
    }

    /// Its tree path (`root`, `root/db`, ...).
    pub fn path(&self) -> &str {
        &self.core.path
    }

    /// The address of the child at `path` below this supervisor (`"store"`,
    /// or `"db/pool-3"` through a nested supervisor), if it exists, runs
    /// actor `A`, and has not stopped for good. The address stays valid
    /// across restarts of the child and of the supervisors above it.
    pub fn child<A: Actor>(&self, path: &str) -> Option<Addr<A>> {
        let (core, name) = self.walk(path)?;
        let slot = core.slot(name)?;
        if slot.is_closed() {
            return None;
        }
        slot.addr().downcast_ref::<Addr<A>>().cloned()
    }

    /// The handle of the nested supervisor at `path` below this one.
    pub fn supervisor(&self, path: &str) -> Option<SupervisorRef> {
        let (core, name) = self.walk(path)?;
        let slot = core.slot(name)?;
        let nested = slot.nested()?.clone();
        let addr = slot.addr().downcast_ref::<Addr<Supervisor>>()?.clone();
        Some(SupervisorRef::new(nested, addr))
    }

    /// The core of the supervisor holding the last component of `path`, and
    /// that component.
    fn walk<'p>(&self, path: &'p str) -> Option<(Arc<Core>, &'p str)> {
        let mut core = self.core.clone();
        let mut parts = path.split('/').peekable();
        loop {
            let part = parts.next()?;
            if parts.peek().is_none() {
                return Some((core, part));
            }
            let slot = core.slot(part)?;
            let nested = slot.nested()?.clone();
            core = nested;
        }
    }

    /// Adds a child at the end of the start order and starts it; resolves
    /// once its `started` hook has returned.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), SupervisorError> {
        self.request(|reply| Internal::StartChild(spec, reply))
            .await
    }

    /// Stops a child for good, per its shutdown policy: its mailbox closes
    /// (queued messages are dropped, requesters get `Closed`). The spec is
    /// kept ([`restart_child`](Self::restart_child) starts it again, on a
    /// new mailbox) unless the child is `Temporary`.
    pub async fn stop_child(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_owned();
        self.request(|reply| Internal::StopChild(name, reply)).await
    }

    /// Restarts a child now: a running child is stopped per its shutdown
    /// policy and started again on the same mailbox (same address; this
    /// does not count toward the intensity and involves no other child); a
    /// stopped one is started on a new mailbox. Resolves once its `started`
    /// hook has returned.
    pub async fn restart_child(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_owned();
        self.request(|reply| Internal::RestartChild(name, reply))
            .await
    }

    /// Forgets a stopped child's spec (see [`stop_child`](Self::stop_child)).
    pub async fn delete_child(&self, name: &str) -> Result<(), SupervisorError> {
        let name = name.to_owned();
        self.request(|reply| Internal::DeleteChild(name, reply))
            .await
    }

    /// The children, in start order. Answered by the supervisor between two
    /// of its decisions (so never mid-restart) while it runs; read directly
    /// once it has stopped.
    pub async fn which_children(&self) -> Vec<ChildInfo> {
        match self.request(Internal::WhichChildren).await {
            Ok(infos) => infos,
            Err(_) => self.core.infos(),
        }
    }

    /// A stream of the events of this supervisor's subtree, from now on
    /// (see [`SupervisorEvent`]).
    pub fn events(&self) -> UnboundedReceiver<SupervisorEvent> {
        self.core.hub.subscribe(&self.core.path)
    }

    /// Asks the supervisor to stop: it stops its children in reverse start
    /// order (each per its shutdown policy), then itself. For the root, that
    /// ends the tree; a nested supervisor stopped this way exits normally,
    /// and its parent restarts it if it is `Permanent` (use the parent's
    /// [`stop_child`](Self::stop_child) to stop a subtree for good).
    pub fn stop(&self) {
        self.addr.stop();
    }

    /// Waits until the supervisor has stopped for good, and says why: a
    /// root that gave up reports [`StopReason::Failed`] with the failure
    /// that exhausted it.
    pub async fn wait(&self) -> StopReason {
        let (tx, rx) = oneshot::channel();
        self.addr.cell().on_stop(Box::new(move |_, reason| {
            let _ = tx.send(reason.clone());
        }));
        rx.await.unwrap_or(StopReason::Killed)
    }

    /// Whether the supervisor has not stopped for good.
    pub fn is_running(&self) -> bool {
        self.addr.connected()
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Internal,
    ) -> Result<T, SupervisorError> {
        let (tx, rx) = oneshot::channel();
        if self
            .core
            .cell
            .push_internal(Envelope::new(make(tx)))
            .is_err()
        {
            return Err(SupervisorError::Stopped);
        }
        rx.await.unwrap_or(Err(SupervisorError::Stopped))
    }
}

impl fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("path", &self.core.path)
            .field("id", &self.addr.id())
            .field("running", &self.is_running())
            .finish()
    }
}
