//! The state shared by both flavours of channel: the value queue, the
//! receiver's waker, the sender count, and a pluggable capacity counter
//! ([`Capacity`]) that is a fair semaphore for bounded channels and a plain
//! message count for unbounded ones.
//!
//! # Design
//!
//! A send is (1) take capacity, (2) push the value onto a lock-free
//! `SegQueue`, (3) wake the receiver. A receive pops and gives the capacity
//! back. Nothing on that path locks; only a bounded sender that has to wait
//! for capacity meets a mutex (inside the semaphore's waiter queue).
//!
//! Invariants (who may touch which field when):
//!
//! - `queue`: any sender pushes, only the receiver pops (plus `Chan::drop`,
//!   which drops whatever is left).
//! - Every queued value, and every capacity reservation not yet turned into
//!   a value ([`Permit`](super::Permit), a send between its two steps), holds
//!   one unit of `cap`. So after a close, "`cap` is idle" means no value is
//!   queued and none can still arrive: that is when the receiver reports the
//!   end of the stream.
//! - `rx_waker` is registered only by the receiver; it is woken after every
//!   push, when the last sender goes, and when a reservation is given back
//!   unused after a close. The receiver's drop takes it out (as a waking
//!   producer would), so the receiving task is not kept alive by a channel
//!   whose senders outlive the receiver.
//! - `tx_count` counts sender handles. Each sender pushes before it
//!   decrements (`AcqRel`), so a receiver that reads zero (`Acquire`) and
//!   then finds the queue empty knows the stream ended.
//! - Closing (`Capacity::close`) happens once, by the receiver's `close` or
//!   drop; afterwards capacity cannot be taken, and `closed_notify` tells
//!   senders waiting in `closed()`.
//!
//! # Values whose `Drop` panics
//!
//! The receiver's drop (and the last `Arc<Chan>`'s, for values pushed into
//! reservations after it) drops every value left, one by one, each under
//! `catch_unwind`: a value whose destructor panics does not stop the rest
//! from being dropped, and every value is dropped exactly once. Once all
//! are gone, the first panic is resumed, so it reaches the code that
//! dropped the receiver, as in tokio. Later panics are logged with
//! `tracing::error!` and discarded; tokio would keep dropping while
//! unwinding and abort the process at a second panic. If the drop itself
//! runs during unwinding, the first panic is logged instead of resumed.

use crate::coop;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use crate::sync::atomic_waker::AtomicWaker;
use crate::sync::mpsc::error::TryRecvError;
use crate::sync::Notify;
use crossbeam_queue::SegQueue;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::{Context, Poll};

/// How a channel accounts for queued and in-flight values.
pub(super) trait Capacity {
    /// Refuses new values from now on.
    fn close(&self);
    /// Whether [`close`](Self::close) was called.
    fn is_closed(&self) -> bool;
    /// No value is queued or reserved.
    fn is_idle(&self) -> bool;
    /// The receiver took one value out of the queue.
    fn release_one(&self);
}

pub(super) struct Chan<T, C> {
    /// The values in flight, in send order.
    queue: SegQueue<T>,
    pub(super) cap: C,
    rx_waker: AtomicWaker,
    /// Live sender handles; the stream ends when it reaches zero.
    tx_count: AtomicUsize,
    /// Released when the receiver closes, for `Sender::closed`.
    closed_notify: Notify,
}

impl<T, C: Capacity> Chan<T, C> {
    pub(super) fn new(cap: C) -> Arc<Self> {
        Arc::new(Chan {
            queue: SegQueue::new(),
            cap,
            rx_waker: AtomicWaker::new(),
            tx_count: AtomicUsize::new(1),
            closed_notify: Notify::new(),
        })
    }

    /// Queues a value whose capacity the caller already holds, and wakes
    /// the receiver.
    pub(super) fn push(&self, value: T) {
        self.queue.push(value);
        self.rx_waker.wake();
    }

    /// Wakes the receiver, which may be waiting for a closed channel to
    /// become idle.
    pub(super) fn wake_rx(&self) {
        self.rx_waker.wake();
    }

    pub(super) fn is_closed(&self) -> bool {
        self.cap.is_closed()
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Resolves once the receiver closed the channel or was dropped.
    pub(super) async fn closed(&self) {
        loop {
            // Created before the check, so a close in between is not missed.
            let notified = self.closed_notify.notified();
            if self.cap.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl<T, C> Drop for Chan<T, C> {
    fn drop(&mut self) {
        // Values pushed into reservations after the receiver dropped.
        drop_each(|| self.queue.pop());
    }
}

/// Drops every value `next` yields, even if some destructors panic; see
/// the module docs ("Values whose `Drop` panics").
fn drop_each<T>(mut next: impl FnMut() -> Option<T>) {
    let mut first_panic = None;
    while let Some(value) = next() {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| drop(value))) {
            if first_panic.is_none() {
                first_panic = Some(panic);
            } else {
                tracing::error!(
                    "a value left in an mpsc channel panicked when dropped, after an \
                     earlier one did; this panic is discarded"
                );
            }
        }
    }
    if let Some(panic) = first_panic {
        if std::thread::panicking() {
            tracing::error!(
                "a value left in an mpsc channel panicked when dropped during unwinding; \
                 the panic is discarded"
            );
        } else {
            resume_unwind(panic);
        }
    }
}

impl<T, C> fmt::Debug for Chan<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chan")
            .field("len", &self.queue.len())
            .field("tx_count", &self.tx_count.load(Relaxed))
            .finish_non_exhaustive()
    }
}

/// A sender's handle on the channel: counts itself in `tx_count`.
pub(super) struct Tx<T, C: Capacity> {
    pub(super) chan: Arc<Chan<T, C>>,
}

impl<T, C: Capacity> Tx<T, C> {
    pub(super) fn new(chan: Arc<Chan<T, C>>) -> Self {
        Tx { chan }
    }

    pub(super) fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A handle that does not count as a sender.
    pub(super) fn downgrade(&self) -> WeakTx<T, C> {
        WeakTx {
            chan: self.chan.clone(),
        }
    }
}

/// A sender handle that does not keep the stream open: it keeps the
/// allocation alive but is not counted in `tx_count`.
pub(super) struct WeakTx<T, C> {
    chan: Arc<Chan<T, C>>,
}

impl<T, C: Capacity> WeakTx<T, C> {
    /// A counted sender again, unless every sender is already gone (the
    /// receiver may have seen the end of the stream, so the count must
    /// never come back from zero).
    pub(super) fn upgrade(&self) -> Option<Tx<T, C>> {
        let mut n = self.chan.tx_count.load(Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match self
                .chan
                .tx_count
                .compare_exchange_weak(n, n + 1, Relaxed, Relaxed)
            {
                Ok(_) => {
                    return Some(Tx {
                        chan: self.chan.clone(),
                    })
                }
                Err(actual) => n = actual,
            }
        }
    }
}

impl<T, C> Clone for WeakTx<T, C> {
    fn clone(&self) -> Self {
        WeakTx {
            chan: self.chan.clone(),
        }
    }
}

impl<T, C> fmt::Debug for WeakTx<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chan.fmt(f)
    }
}

impl<T, C: Capacity> Clone for Tx<T, C> {
    fn clone(&self) -> Self {
        self.chan.tx_count.fetch_add(1, Relaxed);
        Tx {
            chan: self.chan.clone(),
        }
    }
}

impl<T, C: Capacity> Drop for Tx<T, C> {
    fn drop(&mut self) {
        if self.chan.tx_count.fetch_sub(1, AcqRel) == 1 {
            self.chan.rx_waker.wake();
        }
    }
}

impl<T, C: Capacity> fmt::Debug for Tx<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chan.fmt(f)
    }
}

/// The receiver's handle on the channel.
pub(super) struct Rx<T, C: Capacity> {
    pub(super) chan: Arc<Chan<T, C>>,
}

impl<T, C: Capacity> Rx<T, C> {
    pub(super) fn new(chan: Arc<Chan<T, C>>) -> Self {
        Rx { chan }
    }

    fn pop(&self) -> Option<T> {
        let value = self.chan.queue.pop()?;
        self.chan.cap.release_one();
        Some(value)
    }

    /// No value is queued and none can arrive: every sender is gone, or the
    /// channel is closed with no reservation outstanding. The caller must
    /// pop once more after this returns true (a last value may have been
    /// pushed just before the last sender left).
    fn is_finished(&self) -> bool {
        self.chan.tx_count.load(Acquire) == 0
            || (self.chan.cap.is_closed() && self.chan.cap.is_idle())
    }

    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let result = self.try_pop_or_finish().or_else(|| {
            self.chan.rx_waker.register(cx.waker());
            // Re-check: a push or a last sender drop may have happened
            // before the registration and woken nobody.
            self.try_pop_or_finish()
        });
        match result {
            Some(done) => {
                coop.made_progress();
                Poll::Ready(done)
            }
            None => Poll::Pending,
        }
    }

    /// `Some(Some(v))`: a value; `Some(None)`: the stream ended; `None`:
    /// nothing yet.
    fn try_pop_or_finish(&self) -> Option<Option<T>> {
        if let Some(v) = self.pop() {
            return Some(Some(v));
        }
        if self.is_finished() {
            return Some(self.pop());
        }
        None
    }

    pub(super) fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        match self.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(0),
            Poll::Ready(Some(first)) => {
                buffer.push(first);
                let mut n = 1;
                while n < limit {
                    match self.pop() {
                        Some(v) => buffer.push(v),
                        None => break,
                    }
                    n += 1;
                }
                Poll::Ready(n)
            }
        }
    }

    pub(super) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.try_pop_or_finish() {
            Some(Some(v)) => Ok(v),
            Some(None) => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(super) fn close(&mut self) {
        if !self.chan.cap.is_closed() {
            self.chan.cap.close();
            self.chan.closed_notify.notify_waiters();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.chan.len()
    }

    /// Closed by the receiver, or every sender is gone (weak senders do not
    /// count): no value can be sent any more, as tokio's `is_closed`.
    pub(super) fn is_closed(&self) -> bool {
        self.chan.cap.is_closed() || self.chan.tx_count.load(Acquire) == 0
    }
}

impl<T, C: Capacity> Drop for Rx<T, C> {
    fn drop(&mut self) {
        self.close();
        // Nobody will poll this receiver again: release its waker (and the
        // task it keeps alive) now, not with the last sender. Done before
        // dropping the values, whose destructors may panic.
        drop(self.chan.rx_waker.take());
        // Drop what is queued now; anything a reserved sender pushes later
        // goes with the last `Arc<Chan>`.
        drop_each(|| self.pop());
    }
}

impl<T, C: Capacity> fmt::Debug for Rx<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chan.fmt(f)
    }
}
