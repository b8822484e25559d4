//! The fair counting semaphore under [`Semaphore`](crate::sync::Semaphore)
//! and the bounded [`mpsc`](crate::sync::mpsc) channel's capacity.
//!
//! # Design
//!
//! Acquiring and releasing are lock-free while nobody waits: one atomic word,
//! `state`, holds the free permits plus two flags. Waiters queue in a
//! `Mutex<VecDeque>` that only the slow path touches. Waiters are served
//! strictly first come, first served: a newcomer never takes permits while
//! someone is queued, and released permits go to the head of the queue
//! before anything is left in `state`.
//!
//! Invariants (who may touch which field when):
//!
//! - `state = permits << SHIFT | WAITERS | CLOSED`.
//! - `WAITERS` is set and cleared only with `waiters` locked. While it is
//!   set, the queue is non-empty and the permit count in `state` is zero:
//!   every release goes through the lock to the queue. Lock-free acquirers
//!   and releasers therefore only move permits while `WAITERS` is clear,
//!   with a compare-and-swap that fails if the flag appears.
//! - Only the head of the queue ever holds part of its permits (a waiter
//!   that queues takes the free permits, which can only be non-zero when the
//!   queue was empty, and releases feed the head first).
//! - A queued waiter's `remaining` changes only with `waiters` locked. When
//!   it reaches zero the waiter has been popped and owns its permits; when it
//!   is `CLOSED_WAITER` the waiter was popped by `close` and owns nothing
//!   (close returned its partial permits to `state`).
//! - A waiter's `waker` is written by its future and taken by whoever pops
//!   it; the future re-checks `remaining` after storing a waker, so a grant
//!   that races with the store is never lost.
//! - No waker is woken or dropped while a lock is held: poppers collect the
//!   wakers and wake them after unlocking, and a re-polled future drops the
//!   waker it replaces after unlocking, because a waker's `wake` or `Drop`
//!   may call back into the semaphore.
//! - `CLOSED` is set once, with the lock held, and never cleared. Releases
//!   still add permits after the close, so `available_permits` keeps
//!   counting (the mpsc receiver uses that to know when every reserved slot
//!   came back).
//! - An acquire completes only when its future observes the outcome, and
//!   that future checks `CLOSED` whenever it finds itself granted: a waiter
//!   granted before the close but polled after it fails like every other
//!   waiter and releases the permits it was granted (tokio checks the
//!   closed bit first in `poll_acquire` and returns them on drop: the same
//!   result). A grant observed before the close stands.

use crate::coop;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The semaphore is closed: acquiring fails. Set once, never cleared.
const CLOSED: usize = 0b01;
/// The waiter queue is non-empty and the free permit count is zero. Set and
/// cleared only with the waiter lock held.
const WAITERS: usize = 0b10;
/// Permits are counted above the two flag bits.
const SHIFT: usize = 2;

/// Largest number of permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> (SHIFT + 1);

/// `Waiter::remaining` value for a waiter rejected by `close`.
const CLOSED_WAITER: usize = usize::MAX;

pub(crate) struct Semaphore {
    state: AtomicUsize,
    /// Tasks waiting for permits, oldest first. Only the slow path locks it.
    waiters: Mutex<VecDeque<Arc<Waiter>>>,
}

/// One queued acquire.
struct Waiter {
    /// Permits asked for; `requested - remaining` were already handed over.
    requested: usize,
    /// Permits still owed to this waiter; 0 when granted, `CLOSED_WAITER`
    /// when refused. Written only with the semaphore's waiter lock held.
    remaining: AtomicUsize,
    /// The task to wake when `remaining` reaches a final value.
    waker: Mutex<Option<Waker>>,
}

/// Outcome of [`Semaphore::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryAcquire {
    /// The permits are the caller's.
    Acquired,
    /// Not enough free permits (or others are queued first).
    NoPermits,
    /// The semaphore is closed.
    Closed,
}

impl Semaphore {
    pub(crate) fn new(permits: usize) -> Self {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore holds at most {MAX_PERMITS} permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits << SHIFT),
            waiters: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn available_permits(&self) -> usize {
        self.state.load(Acquire) >> SHIFT
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    /// Takes `n` permits if they are free and nobody is queued.
    pub(crate) fn try_acquire(&self, n: usize) -> TryAcquire {
        let mut cur = self.state.load(Acquire);
        loop {
            if cur & CLOSED != 0 {
                return TryAcquire::Closed;
            }
            if (cur & WAITERS != 0 && n > 0) || cur >> SHIFT < n {
                return TryAcquire::NoPermits;
            }
            match self
                .state
                .compare_exchange_weak(cur, cur - (n << SHIFT), AcqRel, Acquire)
            {
                Ok(_) => return TryAcquire::Acquired,
                Err(actual) => cur = actual,
            }
        }
    }

    /// A future acquiring `n` permits, first come first served.
    pub(crate) fn acquire(&self, n: usize) -> Acquire<'_> {
        assert!(n <= MAX_PERMITS, "cannot acquire more than {MAX_PERMITS}");
        Acquire {
            sem: self,
            n,
            waiter: None,
        }
    }

    /// Gives `n` permits back (or adds new ones): to the queued waiters
    /// first, the rest to the free count.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut cur = self.state.load(Acquire);
        while cur & WAITERS == 0 {
            assert!(
                (cur >> SHIFT) + n <= MAX_PERMITS,
                "a semaphore holds at most {MAX_PERMITS} permits"
            );
            match self
                .state
                .compare_exchange_weak(cur, cur + (n << SHIFT), AcqRel, Acquire)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        let mut queue = self.waiters.lock();
        let wake = self.release_locked(&mut queue, n);
        drop(queue);
        wake.into_iter().for_each(Waker::wake);
    }

    /// Hands `n` permits to the queue head(s); leftovers go to `state`,
    /// clearing `WAITERS` if the queue emptied. Returns the wakers to wake
    /// once the lock is released.
    fn release_locked(&self, queue: &mut VecDeque<Arc<Waiter>>, mut n: usize) -> Vec<Waker> {
        let mut wake = Vec::new();
        while n > 0 {
            let Some(head) = queue.front() else { break };
            let remaining = head.remaining.load(Relaxed);
            let give = remaining.min(n);
            n -= give;
            head.remaining.store(remaining - give, Release);
            if remaining == give {
                let head = queue.pop_front().expect("front exists");
                let waker = head.waker.lock().take();
                wake.extend(waker);
            }
        }
        if queue.is_empty() {
            // With the lock held only lock-free *releases* and the close
            // flag can move concurrently (acquirers fail while `WAITERS` is
            // set), so a plain update loop keeps their changes.
            let mut cur = self.state.load(Acquire);
            loop {
                let next = (cur & !WAITERS) + (n << SHIFT);
                match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
        } else {
            debug_assert_eq!(n, 0, "permits left over while waiters are queued");
        }
        wake
    }

    /// Closes the semaphore: queued and future acquires fail, and so does a
    /// popped one whose future has not observed its grant yet. Permits
    /// already held stay valid and are still counted when released.
    pub(crate) fn close(&self) {
        let mut queue = self.waiters.lock();
        let mut returned = 0;
        let mut wake = Vec::with_capacity(queue.len());
        // Only the head may hold part of its permits; give those back.
        for waiter in queue.drain(..) {
            let remaining = waiter.remaining.swap(CLOSED_WAITER, Release);
            if let Some(w) = waiter.waker.lock().take() {
                wake.push(w);
            }
            returned += waiter.requested - remaining;
        }
        let mut cur = self.state.load(Acquire);
        loop {
            let next = ((cur & !WAITERS) | CLOSED) + (returned << SHIFT);
            match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        drop(queue);
        wake.into_iter().for_each(Waker::wake);
    }

    /// A queued acquire of `n` found itself granted (popped, `remaining`
    /// zero): it succeeds unless the semaphore closed since, in which case
    /// the `n` permits go back (module invariants).
    fn take_grant(&self, n: usize) -> Result<(), ()> {
        if self.is_closed() {
            self.release(n);
            Err(())
        } else {
            Ok(())
        }
    }

    /// Slow path of [`Acquire`]: take what is free and, if that is not
    /// enough, queue. Returns `Ready` when the acquire finished (either way).
    fn enqueue(&self, n: usize, waiter: &mut Option<Arc<Waiter>>, cx: &Context<'_>) -> Poll<bool> {
        let mut queue = self.waiters.lock();
        let mut cur = self.state.load(Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Poll::Ready(false);
            }
            let free = cur >> SHIFT;
            // A zero-permit acquire needs nothing from the queue.
            if (cur & WAITERS == 0 || n == 0) && free >= n {
                match self
                    .state
                    .compare_exchange(cur, cur - (n << SHIFT), AcqRel, Acquire)
                {
                    Ok(_) => return Poll::Ready(true),
                    Err(actual) => {
                        cur = actual;
                        continue;
                    }
                }
            }
            // Take every free permit (non-zero only if nobody is queued, so
            // we become the head) and raise `WAITERS`.
            let next = (cur & CLOSED) | WAITERS;
            match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) => {
                    let node = Arc::new(Waiter {
                        requested: n,
                        remaining: AtomicUsize::new(n - free),
                        waker: Mutex::new(Some(cx.waker().clone())),
                    });
                    queue.push_back(node.clone());
                    *waiter = Some(node);
                    return Poll::Pending;
                }
                Err(actual) => cur = actual,
            }
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Future of [`Semaphore::acquire`]: resolves to `Ok(())` once `n` permits
/// are the caller's, `Err(())` if the semaphore closed before this future
/// observed a grant (permits granted but not yet observed are given back).
/// Dropping it while queued gives any partially granted permits back.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Acquire<'a> {
    sem: &'a Semaphore,
    n: usize,
    /// Our node while queued; `None` before queuing and after completion.
    waiter: Option<Arc<Waiter>>,
}

impl Future for Acquire<'_> {
    type Output = Result<(), ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let result = match &this.waiter {
            None => match this.sem.try_acquire(this.n) {
                TryAcquire::Acquired => Poll::Ready(Ok(())),
                TryAcquire::Closed => Poll::Ready(Err(())),
                TryAcquire::NoPermits => match this.sem.enqueue(this.n, &mut this.waiter, cx) {
                    Poll::Ready(true) => Poll::Ready(Ok(())),
                    Poll::Ready(false) => Poll::Ready(Err(())),
                    Poll::Pending => Poll::Pending,
                },
            },
            Some(waiter) => match waiter.remaining.load(Acquire) {
                0 => Poll::Ready(this.sem.take_grant(this.n)),
                CLOSED_WAITER => Poll::Ready(Err(())),
                _ => {
                    let old = {
                        let mut slot = waiter.waker.lock();
                        match &*slot {
                            Some(w) if w.will_wake(cx.waker()) => None,
                            _ => slot.replace(cx.waker().clone()),
                        }
                    };
                    // Dropped with no lock held: its `Drop` may call back
                    // into this semaphore (release, close).
                    drop(old);
                    // Re-check: a grant that took the old waker before we
                    // stored ours would otherwise be lost.
                    match waiter.remaining.load(Acquire) {
                        0 => Poll::Ready(this.sem.take_grant(this.n)),
                        CLOSED_WAITER => Poll::Ready(Err(())),
                        _ => Poll::Pending,
                    }
                }
            },
        };
        if result.is_ready() {
            this.waiter = None;
            coop.made_progress();
        }
        result
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(waiter) = self.waiter.take() else {
            return;
        };
        let mut queue = self.sem.waiters.lock();
        let to_release = match waiter.remaining.load(Acquire) {
            // Granted but never observed: the permits are ours to return.
            0 => self.n,
            CLOSED_WAITER => 0,
            remaining => {
                let pos = queue
                    .iter()
                    .position(|w| Arc::ptr_eq(w, &waiter))
                    .expect("a waiter that is neither granted nor closed is queued");
                queue.remove(pos);
                self.n - remaining
            }
        };
        // Even with nothing to return, the removal may have emptied the
        // queue, and `WAITERS` must then be cleared.
        let wake = self.sem.release_locked(&mut queue, to_release);
        drop(queue);
        wake.into_iter().for_each(Waker::wake);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("n", &self.n)
            .field("queued", &self.waiter.is_some())
            .finish()
    }
}
