//! The errors of sending: [`MailboxError`] for requests, [`SendError`] for
//! one-way sends that hand the message back.

use std::fmt;

/// Why a request ([`Addr::send`](crate::Addr::send)) got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MailboxError {
    /// The actor stopped (or panicked) before it replied, or its mailbox was
    /// already closed when the message was sent.
    #[error("the actor's mailbox is closed")]
    Closed,
    /// The deadline set with [`Request::timeout`](crate::address::Request::timeout)
    /// passed first.
    #[error("the request timed out")]
    Timeout,
}

/// A one-way send failed; the message is handed back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError<M> {
    /// The mailbox is at capacity (only from `try_send`).
    #[error("the actor's mailbox is full")]
    Full(M),
    /// The actor has stopped; the mailbox accepts nothing.
    #[error("the actor's mailbox is closed")]
    Closed(M),
}

impl<M> SendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            SendError::Full(m) | SendError::Closed(m) => m,
        }
    }

    /// Whether the mailbox was full (as opposed to closed).
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::Full(_))
    }

    /// Whether the mailbox was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, SendError::Closed(_))
    }
}

impl<M> fmt::Debug for SendError<M> {
    // No `M: Debug` bound: messages need not be printable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}
