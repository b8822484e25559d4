//! [`ChildSpec`]: how to build, restart and stop one child — with its
//! [`Restart`] type and [`Shutdown`] policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::builder::SupervisorBuilder;
use super::child::{ChildKind, SupervisorKind, WorkerKind};
use crate::actor::{Actor, DEFAULT_CAPACITY};

/// When a child that stopped is restarted (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Restart {
    /// Always restarted, whether it failed or stopped normally.
    #[default]
    Permanent,
    /// Restarted only after a failure (a panic, [`Context::fail`](crate::Context::fail),
    /// a termination); a normal stop is final.
    Transient,
    /// Never restarted. Its end — failure or not — triggers no strategy and
    /// does not count toward the restart intensity; the supervisor forgets it.
    Temporary,
}

/// How a supervisor stops a child (on shutdown, for a group restart, for
/// `stop_child`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Ask it to stop (its `stopping` hook may refuse) and wait up to this
    /// long for it to end; then kill it.
    Timeout(Duration),
    /// Kill it at once: its task is aborted, the actor is dropped mid-flight
    /// and no further hook runs ([`StopReason::Killed`](crate::StopReason::Killed)).
    Brutal,
    /// Ask it to stop and wait as long as it takes. The default for nested
    /// supervisors, which need the time to stop their own children.
    Infinity,
}

impl Default for Shutdown {
    /// `Timeout(5 s)`, OTP's default for workers.
    fn default() -> Self {
        Shutdown::Timeout(Duration::from_secs(5))
    }
}

/// The specification of a supervised child: a name, a factory that builds a
/// fresh actor for every (re)start, a [`Restart`] type, a [`Shutdown`]
/// policy and a mailbox capacity.
///
/// ```
/// use std::time::Duration;
/// use kioto_actor::prelude::*;
///
/// #[derive(Default)]
/// struct Cache;
/// impl Actor for Cache {}
///
/// let spec = ChildSpec::new("cache", Cache::default)
///     .restart(Restart::Transient)
///     .shutdown(Shutdown::Timeout(Duration::from_secs(1)))
///     .capacity(256);
/// assert_eq!(spec.name(), "cache");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(super) name: String,
    pub(super) restart: Restart,
    pub(super) shutdown: Shutdown,
    pub(super) capacity: usize,
    pub(super) kind: Arc<dyn ChildKind>,
}

impl ChildSpec {
    /// A child running actor `A`, built by `factory` at every (re)start.
    /// Defaults: [`Restart::Permanent`], `Shutdown::Timeout(5 s)`, a mailbox
    /// of [`DEFAULT_CAPACITY`](crate::DEFAULT_CAPACITY).
    ///
    /// # Panics
    ///
    /// If `name` is empty or contains `/` (names are tree path components).
    pub fn new<A, F>(name: impl Into<String>, factory: F) -> Self
    where
        A: Actor,
        F: Fn() -> A + Send + Sync + 'static,
    {
        ChildSpec::with_kind(
            name.into(),
            Shutdown::default(),
            Arc::new(WorkerKind::new(factory)),
        )
    }

    /// A child that is itself a supervisor, built from `builder` (its
    /// `.name(..)` is ignored: the path component is `name`). Defaults:
    /// [`Restart::Permanent`], [`Shutdown::Infinity`].
    ///
    /// # Panics
    ///
    /// If `name` is empty or contains `/`.
    pub fn supervisor(name: impl Into<String>, builder: SupervisorBuilder) -> Self {
        ChildSpec::with_kind(
            name.into(),
            Shutdown::Infinity,
            Arc::new(SupervisorKind { builder }),
        )
    }

    fn with_kind(name: String, shutdown: Shutdown, kind: Arc<dyn ChildKind>) -> Self {
        assert!(
            !name.is_empty() && !name.contains('/'),
            "kioto: a child name must be non-empty and contain no `/` (got {name:?})"
        );
        ChildSpec {
            name,
            restart: Restart::default(),
            shutdown,
            capacity: DEFAULT_CAPACITY,
            kind,
        }
    }

    /// Sets when the child is restarted.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Sets the child's mailbox capacity (kept across restarts: the mailbox
    /// is the same).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// Its shutdown policy.
    pub fn shutdown_policy(&self) -> Shutdown {
        self.shutdown
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("kind", &self.kind.describe())
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("capacity", &self.capacity)
            .finish()
    }
}
