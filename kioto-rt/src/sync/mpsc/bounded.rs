//! The bounded channel: senders wait, first come first served, for room.
//!
//! Capacity is a fair semaphore (`batch_semaphore.rs`) holding one permit
//! per free slot: a sender takes a permit before pushing, the receiver gives
//! it back after popping. Closing the channel closes the semaphore, which
//! fails every waiting sender at once and hands their values back.

use super::chan::{self, Capacity, Chan};
use super::error::{SendError, TryRecvError, TrySendError};
use crate::sync::batch_semaphore::{Acquire, Semaphore, TryAcquire};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Bounded capacity: one semaphore permit per free slot.
pub(super) struct Bounded {
    sem: Semaphore,
    bound: usize,
}

impl Capacity for Bounded {
    fn close(&self) {
        self.sem.close();
    }

    fn is_closed(&self) -> bool {
        self.sem.is_closed()
    }

    fn is_idle(&self) -> bool {
        self.sem.available_permits() == self.bound
    }

    fn release_one(&self) {
        self.sem.release(1);
    }
}

/// Creates a bounded channel holding at most `buffer` values.
///
/// When it is full, [`Sender::send`] waits for room; senders that wait are
/// served in the order they started waiting.
///
/// # Panics
///
/// If `buffer` is 0.
///
/// ```
/// use kioto_rt::sync::mpsc;
///
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let (tx, mut rx) = mpsc::channel(8);
///     kioto_rt::spawn(async move {
///         for i in 0..20 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut got = Vec::new();
///     while let Some(i) = rx.recv().await {
///         got.push(i);
///     }
///     assert_eq!(got, (0..20).collect::<Vec<_>>());
/// });
/// ```
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(buffer > 0, "mpsc bounded channel requires buffer > 0");
    let chan = Chan::new(Bounded {
        sem: Semaphore::new(buffer),
        bound: buffer,
    });
    (
        Sender {
            tx: chan::Tx::new(chan.clone()),
        },
        Receiver {
            rx: chan::Rx::new(chan),
        },
    )
}

/// Sends values into a bounded channel; clone it for more senders.
pub struct Sender<T> {
    tx: chan::Tx<T, Bounded>,
}

/// Receives the values of a bounded channel.
pub struct Receiver<T> {
    rx: chan::Rx<T, Bounded>,
}

/// A reserved slot in a bounded channel: [`Permit::send`] fills it without
/// waiting; dropping it gives the slot back.
pub struct Permit<'a, T> {
    chan: &'a Chan<T, Bounded>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room if the channel is full.
    ///
    /// Fails, handing the value back, if the receiver is closed or dropped
    /// before this send got its slot; a send that was waiting fails even if
    /// a slot was handed to it just before the close but it had not been
    /// polled since (as tokio; the slot goes back). If the future is dropped
    /// while waiting, the value is dropped with it and the place in line is
    /// lost.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match AcquireSlot::new(&self.tx.chan).await {
            Ok(()) => {
                self.tx.chan.push(value);
                Ok(())
            }
            Err(()) => Err(SendError(value)),
        }
    }

    /// Sends `value` if there is room right now and no sender waits ahead.
    ///
    /// ```
    /// use kioto_rt::sync::mpsc::{self, error::TrySendError};
    ///
    /// let (tx, rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.tx.chan.cap.sem.try_acquire(1) {
            TryAcquire::Acquired => {
                self.tx.chan.push(value);
                Ok(())
            }
            TryAcquire::NoPermits => Err(TrySendError::Full(value)),
            TryAcquire::Closed => Err(TrySendError::Closed(value)),
        }
    }

    /// Waits for a free slot and reserves it, so the value can be produced
    /// (and sent without waiting) only once room is guaranteed.
    ///
    /// Fails with [`SendError`] under the same conditions as
    /// [`send`](Self::send): a reserve still waiting when the receiver
    /// closes fails, even one that a slot was just handed to.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = kioto_rt::sync::mpsc::channel(1);
    /// let permit = tx.reserve().await.unwrap();
    /// assert_eq!(tx.capacity(), 0);
    /// permit.send("hello");
    /// assert_eq!(rx.recv().await, Some("hello"));
    /// # });
    /// ```
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match AcquireSlot::new(&self.tx.chan).await {
            Ok(()) => Ok(Permit {
                chan: &self.tx.chan,
            }),
            Err(()) => Err(SendError(())),
        }
    }

    /// Reserves a slot if one is free right now and no sender waits ahead.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.tx.chan.cap.sem.try_acquire(1) {
            TryAcquire::Acquired => Ok(Permit {
                chan: &self.tx.chan,
            }),
            TryAcquire::NoPermits => Err(TrySendError::Full(())),
            TryAcquire::Closed => Err(TrySendError::Closed(())),
        }
    }

    /// Whether the receiver was closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.chan.is_closed()
    }

    /// Waits until the receiver is closed or dropped.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = kioto_rt::sync::mpsc::channel::<()>(1);
    /// kioto_rt::spawn(async move { drop(rx) });
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// # });
    /// ```
    pub async fn closed(&self) {
        self.tx.chan.closed().await
    }

    /// Free slots right now.
    pub fn capacity(&self) -> usize {
        self.tx.chan.cap.sem.available_permits()
    }

    /// The capacity the channel was created with.
    pub fn max_capacity(&self) -> usize {
        self.tx.chan.cap.bound
    }

    /// Whether both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// A [`WeakSender`]: a handle that can become a sender again but does not keep
    /// the channel open (the receiver sees the end once every strong sender
    /// is gone).
    ///
    /// ```
    /// let (tx, mut rx) = kioto_rt::sync::mpsc::channel::<u8>(1);
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// assert_eq!(rx.try_recv(), Err(kioto_rt::sync::mpsc::error::TryRecvError::Disconnected));
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            tx: self.tx.downgrade(),
        }
    }
}

/// A sender that does not keep the channel open; see
/// [`Sender::downgrade`].
pub struct WeakSender<T> {
    tx: chan::WeakTx<T, Bounded>,
}

impl<T> WeakSender<T> {
    /// A full sender again, or `None` if every sender was already dropped.
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.tx.upgrade().map(|tx| Sender { tx })
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender")
            .field("chan", &self.tx)
            .finish()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("chan", &self.tx).finish()
    }
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot; never waits.
    ///
    /// If the receiver closed after the reservation, the value is still
    /// queued and can be received (a closed receiver drains what was
    /// reserved before it reports the end); if it was dropped, the value is
    /// dropped with the channel.
    pub fn send(self, value: T) {
        // The slot's permit now travels with the value; the receiver
        // returns it when it pops the value.
        let chan = self.chan;
        std::mem::forget(self);
        chan.push(value);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.cap.sem.release(1);
        if self.chan.is_closed() {
            // A closed receiver may be waiting for this last reservation.
            self.chan.wake_rx();
        }
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Waits for one slot of a bounded channel.
///
/// A slot can be granted to this future and then given back unused when
/// the future is dropped before it saw the grant. If the receiver is closed
/// by then, it may be waiting for exactly that slot to come back before it
/// reports the end of the stream, so dropping this future wakes it.
struct AcquireSlot<'a, T> {
    /// `None` only inside `drop`, so the slot is returned before the wake.
    acquire: Option<Acquire<'a>>,
    chan: &'a Chan<T, Bounded>,
}

impl<'a, T> AcquireSlot<'a, T> {
    fn new(chan: &'a Chan<T, Bounded>) -> Self {
        AcquireSlot {
            acquire: Some(chan.cap.sem.acquire(1)),
            chan,
        }
    }
}

impl<T> Future for AcquireSlot<'_, T> {
    type Output = Result<(), ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let acquire = self.get_mut().acquire.as_mut().expect("only taken in drop");
        Pin::new(acquire).poll(cx)
    }
}

impl<T> Drop for AcquireSlot<'_, T> {
    fn drop(&mut self) {
        drop(self.acquire.take());
        if self.chan.is_closed() {
            self.chan.wake_rx();
        }
    }
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting for one if the channel is empty.
    ///
    /// Returns `None` once every sender is gone (or the channel was closed)
    /// and the queued values were all received. Cancel safe: if the future
    /// is dropped before completing, no value is lost.
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
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = kioto_rt::sync::mpsc::channel(8);
    /// for i in 0..5 {
    ///     tx.send(i).await.unwrap();
    /// }
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_many(&mut buf, 3).await, 3);
    /// assert_eq!(buf, [0, 1, 2]);
    /// # });
    /// ```
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
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    /// Closes the channel: senders fail from now on (waiting ones at
    /// once, including one a slot was handed to that has not taken it yet),
    /// but queued values, and those whose [`Permit`] was already obtained,
    /// can still be received.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = kioto_rt::sync::mpsc::channel(4);
    /// tx.send(1).await.unwrap();
    /// rx.close();
    /// assert!(tx.send(2).await.is_err());
    /// assert_eq!(rx.recv().await, Some(1));
    /// assert_eq!(rx.recv().await, None);
    /// # });
    /// ```
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

    /// Free slots right now.
    pub fn capacity(&self) -> usize {
        self.rx.chan.cap.sem.available_permits()
    }

    /// The capacity the channel was created with.
    pub fn max_capacity(&self) -> usize {
        self.rx.chan.cap.bound
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("chan", &self.rx).finish()
    }
}
