//! Death notification: why an actor stopped ([`StopReason`]), the
//! [`Terminated`] message watchers receive, and the per-actor list of
//! callbacks that delivers it.
//!
//! Every actor cell keeps a [`Lifecycle`]: once the actor has stopped for
//! good, its reason is recorded and every registered callback runs once.
//! A callback registered after that runs at once, so a watcher never misses a
//! death. [`Context::watch`](crate::Context::watch) registers a callback that
//! puts a `Terminated` into the watcher's mailbox; the registry and the
//! supervisor register their own.

use std::fmt;

use parking_lot::Mutex;

use crate::cell::ActorId;
use crate::handler::Message;

/// Why an actor stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// It stopped cleanly: [`Context::stop`](crate::Context::stop),
    /// [`Addr::stop`](crate::Addr::stop), or nobody could reach it any more.
    Normal,
    /// A handler or hook panicked; the panic message.
    Panicked(String),
    /// It stopped with an error: [`Context::fail`](crate::Context::fail).
    Failed(String),
    /// It was stopped unconditionally: [`Context::terminate`](crate::Context::terminate),
    /// or its task was cancelled (runtime shut down, supervisor kill).
    Killed,
}

impl StopReason {
    /// Whether this counts as a failure for supervision (everything but
    /// `Normal`).
    pub fn is_failure(&self) -> bool {
        !matches!(self, StopReason::Normal)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Normal => f.write_str("stopped normally"),
            StopReason::Panicked(m) => write!(f, "panicked: {m}"),
            StopReason::Failed(m) => write!(f, "failed: {m}"),
            StopReason::Killed => f.write_str("killed"),
        }
    }
}

/// Delivered to a watcher (see [`Context::watch`](crate::Context::watch))
/// when the watched actor has stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    /// The actor that stopped.
    pub id: ActorId,
    /// Why.
    pub reason: StopReason,
}

impl Message for Terminated {
    type Result = ();
}

/// A death callback: runs once, with the actor's id and reason.
pub(crate) type OnStop = Box<dyn FnOnce(ActorId, &StopReason) + Send>;

/// The "has it stopped, and who wants to know" half of an actor cell.
#[derive(Default)]
pub(crate) struct Lifecycle {
    inner: Mutex<LifeState>,
}

#[derive(Default)]
struct LifeState {
    /// Set once, when the actor has stopped for good.
    reason: Option<StopReason>,
    watchers: Vec<OnStop>,
}

impl Lifecycle {
    /// Runs `f` when the actor stops (at once if it already has).
    pub(crate) fn on_stop(&self, id: ActorId, f: OnStop) {
        let mut inner = self.inner.lock();
        match &inner.reason {
            Some(reason) => {
                let reason = reason.clone();
                drop(inner);
                f(id, &reason);
            }
            None => inner.watchers.push(f),
        }
    }

    /// Records the reason and returns the callbacks to run (the caller runs
    /// them with [`run`](Self::run) once the mailbox is closed); `None` if
    /// already recorded.
    pub(crate) fn record(&self, reason: &StopReason) -> Option<Vec<OnStop>> {
        let mut inner = self.inner.lock();
        if inner.reason.is_some() {
            return None;
        }
        inner.reason = Some(reason.clone());
        Some(std::mem::take(&mut inner.watchers))
    }

    /// Runs recorded callbacks.
    pub(crate) fn run(id: ActorId, reason: &StopReason, watchers: Vec<OnStop>) {
        for w in watchers {
            w(id, reason);
        }
    }

    /// The reason, once stopped for good.
    pub(crate) fn reason(&self) -> Option<StopReason> {
        self.inner.lock().reason.clone()
    }
}

impl fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("Lifecycle")
            .field("reason", &inner.reason)
            .field("watchers", &inner.watchers.len())
            .finish()
    }
}
