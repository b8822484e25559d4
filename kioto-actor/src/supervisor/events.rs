//! What a supervision tree reports: one [`SupervisorEvent`] per start,
//! failure, restart, stop, give-up and escalation, each emitted twice — as a
//! `tracing` event (target `kioto::supervisor`) and to every subscriber of
//! [`SupervisorRef::events`](super::SupervisorRef::events).
//!
//! # Delivery
//!
//! A tree shares one [`EventHub`]: nested supervisors emit into their root's
//! hub, so a subscriber at the root sees the whole tree and a subscriber at a
//! nested supervisor sees its subtree (events whose path is its own path or
//! below it). Subscribers get unbounded channels: emitting never waits, so a
//! supervisor is never held up by a slow reader; a subscriber that has gone
//! away is pruned at the next event. Events of one supervisor arrive in the
//! order it emitted them.

use std::fmt;
use std::time::Duration;

use kioto_rt::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use parking_lot::Mutex;

use crate::watch::StopReason;

/// One thing that happened in a supervision tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorEvent {
    /// Where it happened: the tree path of the child (`root/db/pool-3`), or of
    /// the supervisor itself for [`EventKind::GaveUp`] and
    /// [`EventKind::Escalated`].
    pub path: String,
    /// What happened.
    pub kind: EventKind,
}

impl fmt::Display for SupervisorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

/// What a [`SupervisorEvent`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An instance of the child has started: its `started` hook returned.
    /// `restarts` counts the restarts before this instance (0 for the first).
    Started {
        /// Restarts of this child so far.
        restarts: u32,
    },
    /// An instance failed: it panicked, called
    /// [`Context::fail`](crate::Context::fail) or was terminated.
    Failed {
        /// Why.
        reason: StopReason,
    },
    /// An instance stopped itself cleanly ([`StopReason::Normal`]).
    Exited {
        /// Always [`StopReason::Normal`]; kept for symmetry with `Failed`.
        reason: StopReason,
    },
    /// The supervisor decided to restart the child; a new instance starts
    /// after `delay` (zero without backoff).
    Restarting {
        /// The restart count including this one.
        restarts: u32,
        /// The backoff before the new instance starts.
        delay: Duration,
    },
    /// The supervisor stopped the child (shutdown, a group restart of its
    /// strategy, `stop_child`). `reason` is [`StopReason::Killed`] when it
    /// was killed: [`Shutdown::Brutal`](super::Shutdown::Brutal), or it did
    /// not stop within its [`Shutdown::Timeout`](super::Shutdown::Timeout).
    Stopped {
        /// How the instance ended.
        reason: StopReason,
    },
    /// The supervisor saw more than `max_restarts` restarts within `period`:
    /// it stops all its children and fails.
    GaveUp {
        /// The configured intensity.
        max_restarts: u32,
        /// The configured period.
        period: Duration,
        /// The failure that tipped it over.
        reason: StopReason,
    },
    /// A nested supervisor that gave up is failing to its own supervisor,
    /// which applies its strategy next.
    Escalated {
        /// The failure reason its parent sees.
        reason: String,
    },
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Started { restarts } => write!(f, "started (restarts: {restarts})"),
            EventKind::Failed { reason } => write!(f, "failed: {reason}"),
            EventKind::Exited { reason } => write!(f, "exited: {reason}"),
            EventKind::Restarting { restarts, delay } => {
                write!(f, "restarting (restart {restarts}, in {delay:?})")
            }
            EventKind::Stopped { reason } => write!(f, "stopped: {reason}"),
            EventKind::GaveUp {
                max_restarts,
                period,
                reason,
            } => write!(
                f,
                "gave up: more than {max_restarts} restarts in {period:?}; last: {reason}"
            ),
            EventKind::Escalated { reason } => write!(f, "escalated: {reason}"),
        }
    }
}

/// The subscribers of one tree; see the module docs.
#[derive(Default)]
pub(super) struct EventHub {
    /// `(path prefix, sender)`: a subscriber gets the events at or below its
    /// supervisor's path.
    subscribers: Mutex<Vec<(String, UnboundedSender<SupervisorEvent>)>>,
}

impl EventHub {
    /// A stream of the events at or below `prefix`.
    pub(super) fn subscribe(&self, prefix: &str) -> UnboundedReceiver<SupervisorEvent> {
        let (tx, rx) = unbounded_channel();
        self.subscribers.lock().push((prefix.to_owned(), tx));
        rx
    }

    /// Traces the event and hands it to the subscribers.
    pub(super) fn emit(&self, path: &str, kind: EventKind) {
        trace(path, &kind);
        let mut subscribers = self.subscribers.lock();
        if subscribers.is_empty() {
            return;
        }
        let event = SupervisorEvent {
            path: path.to_owned(),
            kind,
        };
        subscribers.retain(|(prefix, tx)| {
            if !within(path, prefix) {
                return !tx.is_closed();
            }
            tx.send(event.clone()).is_ok()
        });
    }
}

impl fmt::Debug for EventHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHub")
            .field("subscribers", &self.subscribers.lock().len())
            .finish()
    }
}

/// Whether `path` is `prefix` or below it.
fn within(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn trace(path: &str, kind: &EventKind) {
    const T: &str = "kioto::supervisor";
    match kind {
        EventKind::Started { restarts } => {
            tracing::info!(target: T, path, restarts, "child started")
        }
        EventKind::Failed { reason } => {
            tracing::warn!(target: T, path, %reason, "child failed")
        }
        EventKind::Exited { reason } => {
            tracing::info!(target: T, path, %reason, "child exited")
        }
        EventKind::Restarting { restarts, delay } => {
            tracing::info!(target: T, path, restarts, ?delay, "restarting child")
        }
        EventKind::Stopped { reason } => {
            tracing::info!(target: T, path, %reason, "child stopped")
        }
        EventKind::GaveUp {
            max_restarts,
            period,
            reason,
        } => tracing::error!(
            target: T,
            path,
            max_restarts,
            ?period,
            %reason,
            "restart intensity exceeded: supervisor gives up"
        ),
        EventKind::Escalated { reason } => {
            tracing::error!(target: T, path, %reason, "supervisor failure escalated to its parent")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn paths_nest_by_component() {
        assert!(within("root", "root"));
        assert!(within("root/db/pool-3", "root/db"));
        assert!(!within("root/dbx", "root/db"));
        assert!(!within("root", "root/db"));
    }
}
