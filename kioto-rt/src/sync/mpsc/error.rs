//! Channel error types.

use std::fmt;

/// The receiver is gone (dropped or closed); the value that could not be
/// sent is handed back.
#[derive(PartialEq, Eq, Clone, Copy, thiserror::Error)]
#[error("channel closed")]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError").finish_non_exhaustive()
    }
}

/// Why [`Sender::try_send`](super::Sender::try_send) could not send; the
/// value is handed back either way.
#[derive(PartialEq, Eq, Clone, Copy, thiserror::Error)]
pub enum TrySendError<T> {
    /// The channel is at capacity (or senders are waiting ahead of this
    /// one); the value may be sent later.
    #[error("no available capacity")]
    Full(T),
    /// The receiver is gone; no value will ever be received.
    #[error("channel closed")]
    Closed(T),
}

impl<T> TrySendError<T> {
    /// Gives back the value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        TrySendError::Closed(err.0)
    }
}

/// Why a receiver's `try_recv` returned no value.
#[derive(Debug, PartialEq, Eq, Clone, Copy, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing is queued now; more may come.
    #[error("receiving on an empty channel")]
    Empty,
    /// Nothing is queued and nothing ever will be: every sender is gone, or
    /// the channel was closed and drained.
    #[error("receiving on a closed channel")]
    Disconnected,
}
