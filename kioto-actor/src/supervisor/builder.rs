//! [`SupervisorBuilder`]: configures a supervisor and starts it as the root
//! of a tree (or hands it to [`ChildSpec::supervisor`] to nest it).

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::backoff::Backoff;
use super::core::{Config, Core};
use super::events::{EventHub, EventKind};
use super::spec::ChildSpec;
use super::strategy::Strategy;
use super::tree::SupervisorRef;
use super::Supervisor;
use crate::actor::DEFAULT_CAPACITY;
use crate::address::Addr;
use crate::context::Context;
use crate::runner::run_actor;
use crate::system::System;
use crate::watch::StopReason;

/// Builds a supervisor: its [`Strategy`], restart intensity, optional
/// backoff, name and children. From [`Supervisor::builder`].
///
/// ```
/// use std::time::Duration;
/// use kioto_actor::prelude::*;
///
/// #[derive(Default)]
/// struct Store;
/// impl Actor for Store {}
///
/// System::new().block_on(async {
///     let tree = Supervisor::builder()
///         .name("app")
///         .strategy(Strategy::OneForOne)
///         .intensity(3, Duration::from_secs(5))
///         .child(ChildSpec::new("store", Store::default))
///         .start();
///     let store: Addr<Store> = tree.child::<Store>("store").unwrap();
///     assert!(store.connected());
///     tree.stop();
///     assert_eq!(tree.wait().await, StopReason::Normal);
/// });
/// ```
#[derive(Clone, Debug)]
pub struct SupervisorBuilder {
    pub(super) name: String,
    pub(super) config: Config,
    pub(super) children: Vec<ChildSpec>,
}

impl Default for SupervisorBuilder {
    fn default() -> Self {
        SupervisorBuilder {
            name: "root".to_owned(),
            config: Config {
                strategy: Strategy::OneForOne,
                max_restarts: 1,
                period: Duration::from_secs(5),
                backoff: None,
            },
            children: Vec::new(),
        }
    }
}

impl SupervisorBuilder {
    /// How a failure spreads to the other children. Default:
    /// [`Strategy::OneForOne`].
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// Tolerates at most `max_restarts` restarts within `period`; one more
    /// and the supervisor gives up: it stops all its children and fails,
    /// escalating to its own supervisor. Default: 1 restart in 5 s (OTP's).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.config.max_restarts = max_restarts;
        self.config.period = period;
        self
    }

    /// Waits before restarting a failed child: `min` the first time,
    /// doubling with each consecutive restart, at most `max`. Messages sent
    /// to the child meanwhile wait in its mailbox. Default: no backoff.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff = Some(Backoff {
            min,
            max: max.max(min),
        });
        self
    }

    /// Adds a child; children start in the order they are added and stop in
    /// the reverse order.
    ///
    /// # Panics
    ///
    /// If a child with the same name was already added.
    pub fn child(mut self, spec: ChildSpec) -> Self {
        assert!(
            self.children.iter().all(|c| c.name != spec.name),
            "kioto: two children named {:?}",
            spec.name
        );
        self.children.push(spec);
        self
    }

    /// The root's name, the first component of every path in the tree.
    /// Default: `"root"`. Ignored for a nested supervisor (its path
    /// component is its child name).
    ///
    /// # Panics
    ///
    /// If `name` is empty or contains `/`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            !name.is_empty() && !name.contains('/'),
            "kioto: a supervisor name must be non-empty and contain no `/` (got {name:?})"
        );
        self.name = name;
        self
    }

    /// Starts the supervisor as the root of a tree, on the current runtime.
    /// Every child's mailbox exists when this returns (so
    /// [`SupervisorRef::child`] answers at once and messages sent now wait
    /// for the child to start); the children start in order in the
    /// background.
    ///
    /// The tree runs until [`SupervisorRef::stop`], until the root gives
    /// up, or until the runtime shuts down; dropping the `SupervisorRef`
    /// does not stop it.
    ///
    /// # Panics
    ///
    /// Outside a kioto runtime.
    pub fn start(self) -> SupervisorRef {
        let hub = Arc::new(EventHub::default());
        let core = Core::new(&self, self.name.clone(), hub, false, DEFAULT_CAPACITY);
        let addr = Addr::from_cell(core.cell.clone());
        let ctx = Context::new(core.cell.clone());
        let system = ctx.system.clone();
        let span = tracing::trace_span!("supervisor", path = %core.path, id = %core.cell.id);
        let root = core.clone();
        // The root keeps its own address: it must not stop as unreachable
        // when the user drops every `SupervisorRef`.
        let keep = addr.clone();
        // Built before the task, so a task dropped before its first poll
        // still finishes the tree.
        let guard = RootGuard(root.clone());
        let task = async move {
            let guard = guard;
            let reason = run_actor(Supervisor::instance(root.clone()), ctx).await;
            drop(keep);
            let kind = if reason.is_failure() {
                EventKind::Failed {
                    reason: reason.clone(),
                }
            } else {
                EventKind::Stopped {
                    reason: reason.clone(),
                }
            };
            root.hub.emit(&root.path, kind);
            root.finish_children();
            root.cell.finish(reason);
            drop(guard);
        };
        kioto_rt::spawn(System::scope(system, task.instrument(span)));
        SupervisorRef::new(core, addr)
    }
}

/// Finishes the whole tree if the root's task is dropped before it ends
/// (the runtime shut down): every mailbox closes, every watcher hears
/// [`StopReason::Killed`]. A no-op after a normal end (finishing is
/// idempotent).
struct RootGuard(Arc<Core>);

impl Drop for RootGuard {
    fn drop(&mut self) {
        self.0.finish_children();
        self.0.cell.finish(StopReason::Killed);
    }
}
