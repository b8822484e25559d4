//! [`SupervisorError`]: why a run-time request to a supervisor failed.

/// Why a [`SupervisorRef`](super::SupervisorRef) request failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The supervisor has no child by that name.
    #[error("no child named `{0}`")]
    NotFound(String),
    /// `start_child` with a name already in use.
    #[error("a child named `{0}` already exists")]
    AlreadyExists(String),
    /// `delete_child` on a child that is not stopped.
    #[error("the child `{0}` is still running (stop it first)")]
    Running(String),
    /// The supervisor has stopped for good.
    #[error("the supervisor has stopped")]
    Stopped,
}
