//! A channel for sending a single value between tasks.
//!
//! [`channel`] returns a [`Sender`] and a [`Receiver`]. The sender hands
//! over one value with [`Sender::send`] (no waiting: the slot always has
//! room); the receiver is a future resolving to that value, or to
//! [`error::RecvError`] if the sender was dropped without sending.
//!
//! ```
//! use kioto_rt::sync::oneshot;
//!
//! kioto_rt::Runtime::new().unwrap().block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     kioto_rt::spawn(async move {
//!         tx.send("done").unwrap();
//!     });
//!     assert_eq!(rx.await, Ok("done"));
//! });
//! ```
//!
//! # Design
//!
//! Both handles share one allocation, `Inner`: a state word, the value
//! cell and two waker slots. There is no lock; every hand-over is one
//! atomic transition of `state`.
//!
//! Invariants (who may touch which field when):
//!
//! - `value` is written only by the sender, before `VALUE_SENT` is set, and
//!   only while `RX_CLOSED` is not yet set (the sender sets `VALUE_SENT`
//!   with a compare-and-swap that fails if `RX_CLOSED` appeared). If that
//!   swap fails the sender takes its value back out: the receiver never
//!   reads `value` without having seen `VALUE_SENT`.
//! - Once `VALUE_SENT` is set the value belongs to the receiver; it moves
//!   it out (or drops it when the receiver is dropped). Whatever is still in
//!   the cell when the last handle goes is dropped with `Inner`.
//! - `rx_waker` is registered only by the receiver and woken by the sender
//!   (on send and on drop). `tx_waker` is registered only by the sender
//!   (in [`Sender::closed`]) and woken by the receiver on close/drop.
//! - Bits are only ever set, never cleared, so every handle can read the
//!   word at any time and reason monotonically.

use crate::coop;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use crate::sync::atomic_waker::AtomicWaker;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Oneshot error types.
pub mod error {
    /// The sender was dropped without sending a value (returned by awaiting
    /// a [`Receiver`](super::Receiver)).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("channel closed")]
    pub struct RecvError(pub(super) ());

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no
    /// value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    pub enum TryRecvError {
        /// No value has been sent yet; one may still come.
        #[error("channel empty")]
        Empty,
        /// No value will ever come: the sender was dropped without sending,
        /// the receiver was closed, or the value was already taken.
        #[error("channel closed")]
        Closed,
    }
}

use error::{RecvError, TryRecvError};

/// The sender has stored a value; it now belongs to the receiver. Set once,
/// by `Sender::send`, and only while `RX_CLOSED` is clear.
const VALUE_SENT: usize = 0b001;
/// The sender was dropped without sending. Set once, by `Sender::drop`.
const TX_DROPPED: usize = 0b010;
/// The receiver closed the channel or was dropped; no value will be
/// accepted any more. Set once, by `Receiver::close`/`Receiver::drop`.
const RX_CLOSED: usize = 0b100;

/// State shared by the two handles; see the module docs for its protocol.
struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    /// Woken when the value arrives or the sender goes away.
    rx_waker: AtomicWaker,
    /// Woken when the receiver closes, for [`Sender::closed`].
    tx_waker: AtomicWaker,
}

// SAFETY: `value` is handed from one thread to another through `state` (see
// the module docs), so sharing `Inner` needs `T: Send` and nothing more.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above; `&Inner` never gives out `&T`.
unsafe impl<T: Send> Sync for Inner<T> {}

impl<T> Inner<T> {
    /// Moves the value out; the caller must have seen `VALUE_SENT`.
    ///
    /// # Safety
    ///
    /// Only the receiver may call this, after an `Acquire` load of `state`
    /// that showed `VALUE_SENT`.
    unsafe fn take_value(&self) -> Option<T> {
        // SAFETY: by the caller's contract the sender has finished writing
        // and will not touch the cell again; the receiver is the only other
        // party and it holds `&mut Receiver`.
        self.value.with_mut(|v| unsafe { (*v).take() })
    }
}

/// Creates a oneshot channel: a [`Sender`] for one value and the
/// [`Receiver`] future that resolves to it.
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = kioto_rt::sync::oneshot::channel::<u32>();
/// drop(tx);
/// assert!(rx.await.is_err());
/// # });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: AtomicWaker::new(),
        tx_waker: AtomicWaker::new(),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

/// Sends one value to the paired [`Receiver`].
pub struct Sender<T> {
    /// `None` once the value was sent.
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the one value of a oneshot channel; await it.
///
/// Resolves to `Err(RecvError)` if the [`Sender`] is dropped without
/// sending. Polling it again after it resolved panics.
pub struct Receiver<T> {
    /// `None` once the value was taken or the error reported.
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value`, consuming the sender.
    ///
    /// Fails, handing the value back, if the receiver was dropped or closed.
    /// Never waits.
    ///
    /// ```
    /// let (tx, rx) = kioto_rt::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(3), Err(3));
    /// ```
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("sender holds the channel until send");
        // SAFETY: `VALUE_SENT` is not set (only this call sets it, and it
        // consumes the sender), so the receiver does not read the cell, and
        // we are the only sender.
        inner.value.with_mut(|v| unsafe { *v = Some(value) });
        let mut state = inner.state.load(Acquire);
        loop {
            if state & RX_CLOSED != 0 {
                // The receiver is gone or refuses values: take ours back. It
                // never saw `VALUE_SENT`, so it never touched the cell.
                // SAFETY: as above, the cell is still exclusively ours.
                let value = inner.value.with_mut(|v| unsafe { (*v).take() });
                return Err(value.expect("the value we just stored"));
            }
            match inner
                .state
                .compare_exchange(state, state | VALUE_SENT, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        inner.rx_waker.wake();
        Ok(())
    }

    /// Whether the receiver was dropped or closed, so a send would fail.
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.state.load(Acquire) & RX_CLOSED != 0,
            None => true,
        }
    }

    /// Waits until the receiver is dropped or closed.
    ///
    /// Useful to stop computing a value nobody will receive.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let (mut tx, rx) = kioto_rt::sync::oneshot::channel::<()>();
    /// kioto_rt::spawn(async move { drop(rx) });
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// # });
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver being closed; registers the task to be woken
    /// when it is.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        let coop = std::task::ready!(coop::poll_proceed(cx));
        if inner.state.load(Acquire) & RX_CLOSED != 0 {
            coop.made_progress();
            return Poll::Ready(());
        }
        inner.tx_waker.register(cx.waker());
        // Re-check: the receiver may have closed before we registered.
        if inner.state.load(Acquire) & RX_CLOSED != 0 {
            coop.made_progress();
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state.fetch_or(TX_DROPPED, AcqRel);
            inner.rx_waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent, without waiting.
    ///
    /// ```
    /// use kioto_rt::sync::oneshot::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = &self.inner else {
            return Err(TryRecvError::Closed);
        };
        let state = inner.state.load(Acquire);
        if state & VALUE_SENT != 0 {
            // SAFETY: we are the receiver and just saw `VALUE_SENT` with an
            // `Acquire` load.
            let value = unsafe { inner.take_value() };
            self.inner = None;
            value.ok_or(TryRecvError::Closed)
        } else if state & (TX_DROPPED | RX_CLOSED) != 0 {
            self.inner = None;
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel without dropping the receiver: a later
    /// [`Sender::send`] fails, and [`Sender::closed`] resolves. A value sent
    /// before the close can still be received.
    pub fn close(&mut self) {
        if let Some(inner) = &self.inner {
            let prev = inner.state.fetch_or(RX_CLOSED, AcqRel);
            if prev & (RX_CLOSED | VALUE_SENT | TX_DROPPED) == 0 {
                inner.tx_waker.wake();
            }
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = this
            .inner
            .as_ref()
            .expect("oneshot::Receiver polled after completion");
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let mut state = inner.state.load(Acquire);
        if state & (VALUE_SENT | TX_DROPPED | RX_CLOSED) == 0 {
            inner.rx_waker.register(cx.waker());
            // Re-check: the sender may have finished before we registered.
            state = inner.state.load(Acquire);
            if state & (VALUE_SENT | TX_DROPPED | RX_CLOSED) == 0 {
                return Poll::Pending;
            }
        }
        let result = if state & VALUE_SENT != 0 {
            // SAFETY: we are the receiver and saw `VALUE_SENT` with an
            // `Acquire` load.
            unsafe { inner.take_value() }.ok_or(RecvError(()))
        } else {
            Err(RecvError(()))
        };
        this.inner = None;
        coop.made_progress();
        Poll::Ready(result)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let prev = inner.state.fetch_or(RX_CLOSED, AcqRel);
            if prev & VALUE_SENT != 0 {
                // Drop an unreceived value now rather than with the last
                // handle.
                // SAFETY: we are the receiver and saw `VALUE_SENT` through
                // the `AcqRel` swap.
                drop(unsafe { inner.take_value() });
            } else if prev & (RX_CLOSED | TX_DROPPED) == 0 {
                inner.tx_waker.wake();
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("is_closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.as_ref().map(|i| i.state.load(Relaxed));
        f.debug_struct("Receiver").field("state", &state).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_value_left_unreceived_is_dropped_with_the_receiver() {
        let token = Arc::new(());
        let (tx, rx) = channel();
        tx.send(token.clone()).unwrap();
        assert_eq!(Arc::strong_count(&token), 2);
        drop(rx);
        assert_eq!(Arc::strong_count(&token), 1);
    }

    #[test]
    fn close_wakes_closed_and_refuses_send() {
        let (mut tx, mut rx) = channel::<u8>();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(tx.poll_closed(&mut cx).is_pending());
        rx.close();
        assert!(tx.poll_closed(&mut cx).is_ready());
        assert_eq!(tx.send(1), Err(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc as LoomArc;

    #[test]
    fn send_races_recv() {
        loom::model(|| {
            let (tx, rx) = channel::<LoomArc<()>>();
            let value = LoomArc::new(());
            let sent = value.clone();
            let th = loom::thread::spawn(move || {
                tx.send(sent).unwrap();
            });
            let got = loom::future::block_on(rx).unwrap();
            assert!(LoomArc::ptr_eq(&got, &value));
            th.join().unwrap();
        });
    }

    #[test]
    fn sender_drop_races_recv() {
        loom::model(|| {
            let (tx, rx) = channel::<u8>();
            let th = loom::thread::spawn(move || drop(tx));
            assert!(loom::future::block_on(rx).is_err());
            th.join().unwrap();
        });
    }

    #[test]
    fn send_races_receiver_drop_without_leak() {
        loom::model(|| {
            let (tx, rx) = channel::<LoomArc<()>>();
            let value = LoomArc::new(());
            let sent = value.clone();
            let th = loom::thread::spawn(move || {
                // Either outcome is fine; the value must not leak.
                let _ = tx.send(sent);
            });
            drop(rx);
            th.join().unwrap();
            assert_eq!(LoomArc::strong_count(&value), 1);
        });
    }

    #[test]
    fn close_wakes_closed() {
        loom::model(|| {
            let (mut tx, mut rx) = channel::<u8>();
            let th = loom::thread::spawn(move || {
                rx.close();
                rx
            });
            loom::future::block_on(tx.closed());
            assert!(tx.is_closed());
            drop(th.join().unwrap());
        });
    }
}
