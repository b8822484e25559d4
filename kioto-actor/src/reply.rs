//! The reply channel of a request: a one-shot slot shared by the envelope
//! (which fills it) and the [`Request`](crate::address::Request) (which
//! awaits it).
//!
//! # Why not `kioto_rt::sync::oneshot`
//!
//! It would do; this one is small, private, and gives the envelope a cheap
//! "has the requester given up?" check so a cancelled request is not handled
//! (as in actix). One allocation per request, one uncontended lock per side.
//!
//! # Protocol
//!
//! Both halves hold the `Arc`; everything is under one `parking_lot` mutex
//! (never held across user code). The sender either stores the value or, when
//! dropped without sending, marks the slot closed; either way it wakes the
//! stored receiver waker. The receiver resolves to the value, or to `Closed`
//! once the sender is gone. Dropping the receiver marks the slot abandoned so
//! [`ReplySender::is_closed`] answers true.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The sender is gone (sent or dropped).
    sender_done: bool,
    /// The receiver is gone: nobody wants the value.
    receiver_gone: bool,
}

/// Creates a reply slot.
pub(crate) fn channel<T>() -> (ReplySender<T>, ReplyReceiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
        sender_done: false,
        receiver_gone: false,
    }));
    (ReplySender(slot.clone()), ReplyReceiver(slot))
}

/// The handler's half.
pub(crate) struct ReplySender<T>(Arc<Mutex<Slot<T>>>);

/// The requester's half: resolves to the value, or `Err(())` when the sender
/// is dropped without sending.
pub(crate) struct ReplyReceiver<T>(Arc<Mutex<Slot<T>>>);

impl<T> ReplySender<T> {
    /// Delivers the reply.
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut slot = self.0.lock();
            if slot.receiver_gone {
                return; // dropped with `self`; the value is dropped here.
            }
            slot.value = Some(value);
            slot.sender_done = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether the requester has stopped waiting.
    pub(crate) fn is_closed(&self) -> bool {
        self.0.lock().receiver_gone
    }
}

impl<T> Drop for ReplySender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.lock();
            if slot.sender_done {
                return;
            }
            slot.sender_done = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for ReplyReceiver<T> {
    type Output = Result<T, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.0.lock();
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Ok(v));
        }
        if slot.sender_done {
            return Poll::Ready(Err(()));
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            other => *other = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for ReplyReceiver<T> {
    fn drop(&mut self) {
        let value = {
            let mut slot = self.0.lock();
            slot.receiver_gone = true;
            slot.waker = None;
            slot.value.take()
        };
        drop(value); // outside the lock: user code
    }
}

impl<T> fmt::Debug for ReplySender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplySender")
    }
}

impl<T> fmt::Debug for ReplyReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyReceiver")
    }
}
