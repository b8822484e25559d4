//! The supervisor's *core*: the part of a supervisor that outlives its
//! instances — its cell, configuration, path, and the child table.
//!
//! # Why a core
//!
//! A supervisor is an actor, so its parent may restart it. What must
//! survive that restart is what others hold on to: the supervisor's own
//! address and the children's cells (so every `Addr` handed out anywhere in
//! the subtree keeps working after an escalation restarts it). That lives
//! here, behind an `Arc` shared by the [`SupervisorRef`](super::SupervisorRef)s,
//! the parent's child slot and the current [`Supervisor`](super::Supervisor)
//! instance. What must *not* survive (the restart history) lives in the
//! instance.
//!
//! # Who touches the table
//!
//! Only the current supervisor instance changes the table, from its
//! handlers and hooks, one at a time; the lock is held for short, non-async
//! sections and never while user code runs (cells are finished, and so
//! watchers run, after the lock is released). `SupervisorRef::child` and
//! `which_children` read it from anywhere. When the supervisor is gone for
//! good, whoever finished its cell calls [`Core::finish_children`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kioto_rt::task::JoinHandle;
use parking_lot::Mutex;

use super::backoff::Backoff;
use super::builder::SupervisorBuilder;
use super::child::{ChildSlot, Parent};
use super::events::{EventHub, EventKind};
use super::spec::ChildSpec;
use super::strategy::Strategy;
use super::tree::{ChildInfo, ChildState};
use super::Supervisor;
use crate::cell::ActorCell;
use crate::watch::StopReason;

/// The settings of a supervisor, from its builder.
#[derive(Debug, Clone, Copy)]
pub(super) struct Config {
    pub(super) strategy: Strategy,
    pub(super) max_restarts: u32,
    pub(super) period: Duration,
    pub(super) backoff: Option<Backoff>,
}

/// See the module docs.
pub(super) struct Core {
    pub(super) path: String,
    pub(super) config: Config,
    /// Whether a parent supervises this one (failures escalate) or it is a
    /// root (failures stop the tree).
    pub(super) nested: bool,
    pub(super) hub: Arc<EventHub>,
    pub(super) cell: Arc<ActorCell<Supervisor>>,
    pub(super) table: Mutex<Vec<Child>>,
    /// Instance tasks aborted when a supervisor instance was killed; the next
    /// instance awaits them before reusing their cells.
    zombies: Mutex<Vec<JoinHandle<StopReason>>>,
}

/// One row of the child table, in start order.
pub(super) struct Child {
    pub(super) spec: ChildSpec,
    pub(super) slot: Arc<dyn ChildSlot>,
    pub(super) status: Status,
    /// Restarts of this child so far (any cause but `restart_child`).
    pub(super) restarts: u32,
    /// How its last instance ended.
    pub(super) last_reason: Option<StopReason>,
    /// Consecutive failure restarts, for the backoff.
    pub(super) streak: u32,
    pub(super) last_restart: Option<Instant>,
}

/// Where a child is.
pub(super) enum Status {
    /// Not running; the mailbox is open and the next start runs it.
    Down,
    /// An instance task is running (or starting).
    Running {
        token: u64,
        handle: JoinHandle<StopReason>,
    },
    /// Waiting out a backoff; `ticket` names the pending restart.
    Restarting { ticket: u64 },
    /// Stopped for good: the mailbox is closed. Only `restart_child` brings
    /// it back, on a fresh cell.
    Stopped,
}

impl Core {
    /// A core with a fresh cell and one fresh slot per child of `builder`.
    pub(super) fn new(
        builder: &SupervisorBuilder,
        path: String,
        hub: Arc<EventHub>,
        nested: bool,
        capacity: usize,
    ) -> Arc<Core> {
        let table = builder
            .children
            .iter()
            .map(|spec| Child::new(spec.clone(), &path, &hub))
            .collect();
        Arc::new(Core {
            config: builder.config,
            nested,
            cell: ActorCell::new(capacity),
            table: Mutex::new(table),
            zombies: Mutex::new(Vec::new()),
            path,
            hub,
        })
    }

    pub(super) fn child_path(&self, name: &str) -> String {
        format!("{}/{}", self.path, name)
    }

    pub(super) fn emit(&self, name: &str, kind: EventKind) {
        self.hub.emit(&self.child_path(name), kind);
    }

    pub(super) fn park_zombie(&self, handle: JoinHandle<StopReason>) {
        self.zombies.lock().push(handle);
    }

    pub(super) fn take_zombies(&self) -> Vec<JoinHandle<StopReason>> {
        std::mem::take(&mut *self.zombies.lock())
    }

    /// The slot of the child `name`, if any.
    pub(super) fn slot(&self, name: &str) -> Option<Arc<dyn ChildSlot>> {
        let table = self.table.lock();
        table
            .iter()
            .find(|c| c.spec.name == name)
            .map(|c| c.slot.clone())
    }

    /// A snapshot of the table.
    pub(super) fn infos(&self) -> Vec<ChildInfo> {
        let table = self.table.lock();
        table
            .iter()
            .map(|c| ChildInfo {
                name: c.spec.name.clone(),
                id: c.slot.id(),
                state: match c.status {
                    Status::Running { .. } => ChildState::Running,
                    Status::Down | Status::Restarting { .. } => ChildState::Restarting,
                    Status::Stopped => ChildState::Stopped,
                },
                restarts: c.restarts,
                supervisor: c.slot.nested().is_some(),
            })
            .collect()
    }

    /// The end for good of every child, in reverse start order: tasks still
    /// running (only after a kill) are aborted, every cell is finished with
    /// its last instance's reason (`Killed` if it never ended on its own).
    /// An aborted task may still be running on another worker; its cell is
    /// then finished by that task as it ends, never under it (see
    /// `consumer.rs`).
    pub(super) fn finish_children(&self) {
        let doomed: Vec<_> = {
            let mut table = self.table.lock();
            table
                .iter_mut()
                .rev()
                .map(|c| {
                    let status = std::mem::replace(&mut c.status, Status::Stopped);
                    if let Status::Running { handle, .. } = status {
                        handle.abort();
                    }
                    let reason = c.last_reason.clone().unwrap_or(StopReason::Killed);
                    (c.slot.clone(), reason)
                })
                .collect()
        };
        for zombie in self.take_zombies() {
            zombie.abort();
        }
        for (slot, reason) in doomed {
            slot.finish(reason);
        }
    }
}

impl Child {
    pub(super) fn new(spec: ChildSpec, parent_path: &str, hub: &Arc<EventHub>) -> Self {
        let slot = spec.kind.new_slot(
            &spec.name,
            spec.capacity,
            Parent {
                path: parent_path,
                hub,
            },
        );
        Child {
            spec,
            slot,
            status: Status::Down,
            restarts: 0,
            last_reason: None,
            streak: 0,
            last_restart: None,
        }
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("path", &self.path)
            .field("config", &self.config)
            .field("children", &self.table.lock().len())
            .finish()
    }
}
