//! The unbounded channel: sending never waits.
//!
//! Capacity is a bare message counter: `state = messages << 1 | CLOSED`. A
//! sender counts its message in with a compare-and-swap that fails once the
//! receiver closed, then pushes; the receiver counts it out after popping.
//! The count exists so that a closed receiver can tell when the last
//! in-flight message has arrived.

use super::chan::{self, Capacity, Chan};
use super::error::{SendError, TryRecvError};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Set once, by the receiver's close or drop.
const CLOSED: usize = 1;
/// One message, in `state` units.
const ONE: usize = 2;

/// Unbounded capacity: a count of queued and in-flight messages.
pub(super) struct Unbounded {
    state: AtomicUsize,
}

impl Unbounded {
    /// Counts one message in, unless the channel is closed.
    fn try_add(&self) -> bool {
        let mut cur = self.state.load(Acquire);
        loop {
            if cur & CLOSED != 0 {
                return false;
            }
            assert!(
                cur < usize::MAX - ONE,
                "unbounded channel overflowed its counter"
            );
            match self
                .state
                .compare_exchange_weak(cur, cur + ONE, AcqRel, Acquire)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Capacity for Unbounded {
    fn close(&self) {
        self.state.fetch_or(CLOSED, AcqRel);
    }

    fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    fn is_idle(&self) -> bool {
        self.state.load(Acquire) < ONE
    }

    fn release_one(&self) {
        self.state.fetch_sub(ONE, AcqRel);
    }
}

/// Creates a channel with no capacity limit: [`UnboundedSender::send`]
/// never waits.
///
/// Memory grows with the backlog; prefer [`channel`](super::channel) when a
/// producer can outrun the consumer.
///
/// ```
/// use kioto_rt::sync::mpsc;
///
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     tx.send("a").unwrap();
///     tx.send("b").unwrap();
///     drop(tx);
///     assert_eq!(rx.recv().await, Some("a"));
///     assert_eq!(rx.recv().await, Some("b"));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Chan::new(Unbounded {
        state: AtomicUsize::new(0),
    });
    (
        UnboundedSender {
            tx: chan::Tx::new(chan.clone()),
        },
        UnboundedReceiver {
            rx: chan::Rx::new(chan),
        },
    )
}

/// Sends values into an unbounded channel; clone it for more senders.
pub struct UnboundedSender<T> {
    tx: chan::Tx<T, Unbounded>,
}

/// Receives the values of an unbounded channel.
pub struct UnboundedReceiver<T> {
    rx: chan::Rx<T, Unbounded>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting.
    ///
    /// Fails, handing the value back, if the receiver is closed or dropped.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if !self.tx.chan.cap.try_add() {
            return Err(SendError(value));
        }
        self.tx.chan.push(value);
        Ok(())
    }

    /// Whether the receiver was closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.chan.is_closed()
    }

    /// Waits until the receiver is closed or dropped.
    pub async fn closed(&self) {
        self.tx.chan.closed().await
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// A [`WeakUnboundedSender`]: a handle that can become a sender again but does not keep
    /// the channel open (the receiver sees the end once every strong sender
    /// is gone).
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            tx: self.tx.downgrade(),
        }
    }
}

/// A sender that does not keep the channel open; see
/// [`UnboundedSender::downgrade`].
pub struct WeakUnboundedSender<T> {
    tx: chan::WeakTx<T, Unbounded>,
}

impl<T> WeakUnboundedSender<T> {
    /// A full sender again, or `None` if every sender was already dropped.
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.tx.upgrade().map(|tx| UnboundedSender { tx })
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        WeakUnboundedSender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakUnboundedSender")
            .field("chan", &self.tx)
            .finish()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("chan", &self.tx)
            .finish()
    }
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next value, waiting for one if the channel is empty.
    ///
    /// Returns `None` once every sender is gone (or the channel was closed)
    /// and the queued values were all received. Cancel safe.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.rx.poll_recv(cx)).await
    }

    /// Polls for the next value; `Ready(None)` means the stream ended.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.rx.poll_recv(cx)
    }

    /// Waits for at least one value, then moves up to `limit` queued
    /// values into `buffer`. Returns how many were added; 0 means the
    /// stream ended (or `limit` was 0).
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        poll_fn(|cx| self.rx.poll_recv_many(cx, buffer, limit)).await
    }

    /// Polls for up to `limit` values; see [`recv_many`](Self::recv_many).
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        self.rx.poll_recv_many(cx, buffer, limit)
    }

    /// Takes a value if one is queued, without waiting.
    ///
    /// ```
    /// use kioto_rt::sync::mpsc::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    /// Closes the channel: sends fail from now on, but queued values can
    /// still be received.
    pub fn close(&mut self) {
        self.rx.close();
    }

    /// Whether the channel is closed: by [`close`](Self::close), or
    /// because every sender was dropped (weak senders do not count), as in
    /// tokio. Values may still be queued.
    pub fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }

    /// Number of values queued.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no value is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> futures_core::Stream for UnboundedReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("chan", &self.rx)
            .finish()
    }
}
