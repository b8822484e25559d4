//! [`Notify`]: wake one task, or all waiting tasks, without sending data.
//!
//! # Design
//!
//! One atomic word, `state`, holds the notification state in its low two
//! bits and a generation counter above them:
//!
//! - `EMPTY`: nobody waits and no permit is stored.
//! - `NOTIFIED`: a [`notify_one`](Notify::notify_one) found nobody waiting
//!   and left a permit; the next waiter consumes it.
//! - `WAITING`: the waiter queue is non-empty.
//!
//! The generation counts [`notify_waiters`](Notify::notify_waiters) calls. A
//! [`Notified`] future records it when created; if it changed by the time
//! the future is first polled, the future completes. That is how
//! `notify_waiters` reaches futures that exist but were not polled yet, which
//! is what makes the "create `notified()`, check a condition, then await"
//! pattern race-free.
//!
//! Invariants (who may touch which field when):
//!
//! - `EMPTY <-> NOTIFIED` moves lock-free (a notifier stores the permit, a
//!   waiter consumes it, both by compare-and-swap).
//! - Entering and leaving `WAITING`, and any change to the queue, happen
//!   only with `waiters` locked; while `WAITING` is set only lock holders
//!   change `state`.
//! - The generation is bumped only with `waiters` locked.
//! - A waiter's `notified` goes from `NONE` to `ONE` or `ALL` once, with the
//!   lock held, at the moment it is removed from the queue; a queued waiter
//!   always reads `NONE`.
//! - A future that was handed a `notify_one` notification but is dropped
//!   before returning it passes the notification on (to the next waiter, or
//!   as a stored permit), so none is lost to cancellation.
//! - No waker is woken or dropped while a lock is held (a notifier takes it
//!   out and wakes it after unlocking; a re-polled future drops the waker it
//!   replaces after unlocking): a waker's `wake` or `Drop` may call back
//!   into this `Notify`.

use crate::coop;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Nobody waits and no permit is stored.
const EMPTY: usize = 0;
/// Waiters are queued; entered and left only with the lock held.
const WAITING: usize = 1;
/// A `notify_one` permit is stored for the next waiter.
const NOTIFIED: usize = 2;
/// Mask of the state bits; the rest is the generation.
const STATE_MASK: usize = 0b11;
/// One `notify_waiters` call, in generation units.
const GENERATION_ONE: usize = 0b100;

/// `Waiter::notified`: still queued.
const NONE: usize = 0;
/// `Waiter::notified`: popped by `notify_one`; the notification must be
/// passed on if the future is dropped without completing.
const ONE: usize = 1;
/// `Waiter::notified`: released by `notify_waiters`.
const ALL: usize = 2;

/// Notifies a single task or all waiting tasks of an event.
///
/// `notify_one` wakes one waiting task, or, if none waits, stores a permit
/// so the next [`notified().await`](Notify::notified) returns at once (at
/// most one permit is stored). `notify_waiters` wakes every task waiting at
/// that moment and stores nothing. Waiters are woken in the order they began
/// waiting.
///
/// ```
/// use kioto_rt::sync::Notify;
/// use std::sync::Arc;
///
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let notify = Arc::new(Notify::new());
///     let waiter = {
///         let notify = notify.clone();
///         kioto_rt::spawn(async move { notify.notified().await })
///     };
///     notify.notify_one();
///     waiter.await.unwrap();
/// });
/// ```
pub struct Notify {
    state: AtomicUsize,
    /// Queued waiters, oldest first.
    waiters: Mutex<VecDeque<Arc<Waiter>>>,
}

struct Waiter {
    /// `NONE`, `ONE` or `ALL`; see the module docs.
    notified: AtomicUsize,
    /// The task to wake; taken by whoever notifies this waiter.
    waker: Mutex<Option<Waker>>,
}

impl Notify {
    /// Creates a `Notify` with no waiters and no stored permit.
    pub fn new() -> Notify {
        Notify {
            state: AtomicUsize::new(EMPTY),
            waiters: Mutex::new(VecDeque::new()),
        }
    }

    /// Returns a future that completes when this `Notify` is notified.
    ///
    /// The future counts as waiting for [`notify_waiters`](Self::notify_waiters)
    /// from the moment it is created; for [`notify_one`](Self::notify_one),
    /// from its first poll.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.state.load(Acquire) & !STATE_MASK,
            state: NotifiedState::Init,
        }
    }

    /// Wakes the longest-waiting task, or stores a permit if none waits.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let notify = kioto_rt::sync::Notify::new();
    /// notify.notify_one(); // nobody waits: the permit is stored
    /// notify.notified().await; // and consumed here
    /// # });
    /// ```
    pub fn notify_one(&self) {
        let mut cur = self.state.load(Acquire);
        while cur & STATE_MASK != WAITING {
            let next = (cur & !STATE_MASK) | NOTIFIED;
            match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        let mut queue = self.waiters.lock();
        let waker = self.notify_one_locked(&mut queue);
        drop(queue);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// `notify_one` with the lock held: pops the head waiter or stores a
    /// permit. Returns the waker to wake after unlocking.
    fn notify_one_locked(&self, queue: &mut VecDeque<Arc<Waiter>>) -> Option<Waker> {
        let mut cur = self.state.load(Acquire);
        loop {
            if cur & STATE_MASK == WAITING {
                let waiter = queue.pop_front().expect("WAITING implies a queued waiter");
                waiter.notified.store(ONE, Release);
                if queue.is_empty() {
                    // Only lock holders change `state` while it is WAITING.
                    self.state.store(cur & !STATE_MASK, Release);
                }
                return waiter.waker.lock().take();
            }
            let next = (cur & !STATE_MASK) | NOTIFIED;
            match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) => return None,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Wakes every task waiting now (including [`Notified`] futures created
    /// but not yet polled). Stores no permit.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let notify = kioto_rt::sync::Notify::new();
    /// let a = notify.notified();
    /// let b = notify.notified();
    /// notify.notify_waiters();
    /// a.await;
    /// b.await;
    /// # });
    /// ```
    pub fn notify_waiters(&self) {
        let mut queue = self.waiters.lock();
        let cur = self.state.load(Acquire);
        let mut wake = Vec::with_capacity(queue.len());
        if cur & STATE_MASK == WAITING {
            for waiter in queue.drain(..) {
                waiter.notified.store(ALL, Release);
                if let Some(w) = waiter.waker.lock().take() {
                    wake.push(w);
                }
            }
            // WAITING -> EMPTY and the generation bump in one store: only
            // lock holders write `state` while it is WAITING.
            self.state
                .store((cur & !STATE_MASK).wrapping_add(GENERATION_ONE), Release);
        } else {
            // EMPTY/NOTIFIED may flip concurrently; adding to the generation
            // bits leaves the state bits alone.
            self.state.fetch_add(GENERATION_ONE, AcqRel);
        }
        drop(queue);
        wake.into_iter().for_each(Waker::wake);
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(Relaxed) & STATE_MASK {
            EMPTY => "empty",
            WAITING => "waiting",
            _ => "notified",
        };
        f.debug_struct("Notify").field("state", &state).finish()
    }
}

/// Future returned by [`Notify::notified`].
///
/// Dropping it after it was picked by [`Notify::notify_one`] but before it
/// completed passes the notification on, so cancelling a waiter never loses
/// a `notify_one`.
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// Generation at creation; a later one means `notify_waiters` ran.
    generation: usize,
    state: NotifiedState,
}

enum NotifiedState {
    /// Not polled yet.
    Init,
    /// Queued; the node is shared with the queue.
    Waiting(Arc<Waiter>),
    /// Completed.
    Done,
}

impl Notified<'_> {
    /// The first poll: take a stored permit, notice a `notify_waiters`, or
    /// queue.
    fn poll_init(&mut self, cx: &Context<'_>) -> Poll<()> {
        let notify = self.notify;
        let mut cur = notify.state.load(Acquire);
        // Lock-free attempts first.
        loop {
            if cur & !STATE_MASK != self.generation {
                return Poll::Ready(());
            }
            if cur & STATE_MASK != NOTIFIED {
                break;
            }
            let next = (cur & !STATE_MASK) | EMPTY;
            match notify.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) => return Poll::Ready(()),
                Err(actual) => cur = actual,
            }
        }
        let mut queue = notify.waiters.lock();
        let mut cur = notify.state.load(Acquire);
        loop {
            if cur & !STATE_MASK != self.generation {
                return Poll::Ready(());
            }
            let (next, done) = match cur & STATE_MASK {
                NOTIFIED => ((cur & !STATE_MASK) | EMPTY, true),
                EMPTY => ((cur & !STATE_MASK) | WAITING, false),
                _ => break,
            };
            match notify.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) if done => return Poll::Ready(()),
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let waiter = Arc::new(Waiter {
            notified: AtomicUsize::new(NONE),
            waker: Mutex::new(Some(cx.waker().clone())),
        });
        queue.push_back(waiter.clone());
        self.state = NotifiedState::Waiting(waiter);
        Poll::Pending
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let result = match &this.state {
            NotifiedState::Init => this.poll_init(cx),
            NotifiedState::Waiting(waiter) => {
                if waiter.notified.load(Acquire) != NONE {
                    Poll::Ready(())
                } else {
                    let old = {
                        let mut slot = waiter.waker.lock();
                        match &*slot {
                            Some(w) if w.will_wake(cx.waker()) => None,
                            _ => slot.replace(cx.waker().clone()),
                        }
                    };
                    // Dropped with no lock held: its `Drop` may call back
                    // into this `Notify`.
                    drop(old);
                    // Re-check: a notifier that took the old waker before we
                    // stored ours would otherwise be missed.
                    if waiter.notified.load(Acquire) != NONE {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                }
            }
            NotifiedState::Done => Poll::Ready(()),
        };
        if result.is_ready() {
            this.state = NotifiedState::Done;
            coop.made_progress();
        }
        result
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let NotifiedState::Waiting(waiter) =
            std::mem::replace(&mut self.state, NotifiedState::Done)
        else {
            return;
        };
        let notify = self.notify;
        let mut queue = notify.waiters.lock();
        let waker = match waiter.notified.load(Acquire) {
            NONE => {
                let pos = queue
                    .iter()
                    .position(|w| Arc::ptr_eq(w, &waiter))
                    .expect("an un-notified waiter is queued");
                queue.remove(pos);
                if queue.is_empty() {
                    let cur = notify.state.load(Acquire);
                    debug_assert_eq!(cur & STATE_MASK, WAITING);
                    notify.state.store(cur & !STATE_MASK, Release);
                }
                None
            }
            // We were chosen by `notify_one` but never reported it: pass it
            // on.
            ONE => notify.notify_one_locked(&mut queue),
            _ => None,
        };
        drop(queue);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            NotifiedState::Init => "init",
            NotifiedState::Waiting(_) => "waiting",
            NotifiedState::Done => "done",
        };
        f.debug_struct("Notified").field("state", &state).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::pin::pin;

    #[test]
    fn at_most_one_permit_is_stored() {
        let notify = Notify::new();
        let mut cx = Context::from_waker(Waker::noop());
        notify.notify_one();
        notify.notify_one();
        assert!(pin!(notify.notified()).poll(&mut cx).is_ready());
        assert!(pin!(notify.notified()).poll(&mut cx).is_pending());
    }

    #[test]
    fn notify_waiters_stores_no_permit() {
        let notify = Notify::new();
        let mut cx = Context::from_waker(Waker::noop());
        notify.notify_waiters();
        assert!(pin!(notify.notified()).poll(&mut cx).is_pending());
    }

    #[test]
    fn a_dropped_notified_waiter_passes_the_notification_on() {
        let notify = Notify::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(notify.notified());
        let mut second = pin!(notify.notified());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        notify.notify_one(); // goes to `first`
        drop(first); // ... which passes it to `second`
        assert!(second.as_mut().poll(&mut cx).is_ready());
        // and nothing is left over
        assert!(pin!(notify.notified()).poll(&mut cx).is_pending());
    }

    #[test]
    fn a_dropped_waiter_leaves_the_queue_consistent() {
        let notify = Notify::new();
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut w = pin!(notify.notified());
            assert!(w.as_mut().poll(&mut cx).is_pending());
        }
        // The queue is empty again: notify_one stores a permit.
        notify.notify_one();
        assert!(pin!(notify.notified()).poll(&mut cx).is_ready());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    #[test]
    fn notify_one_races_notified() {
        loom::model(|| {
            let notify = Arc::new(Notify::new());
            let th = {
                let notify = notify.clone();
                loom::thread::spawn(move || notify.notify_one())
            };
            loom::future::block_on(notify.notified());
            th.join().unwrap();
        });
    }

    #[test]
    fn notify_waiters_reaches_a_created_future() {
        loom::model(|| {
            let notify = Arc::new(Notify::new());
            let flag = Arc::new(AtomicUsize::new(0));
            let th = {
                let (notify, flag) = (notify.clone(), flag.clone());
                loom::thread::spawn(move || {
                    flag.store(1, Release);
                    notify.notify_waiters();
                })
            };
            loom::future::block_on(async {
                loop {
                    let notified = notify.notified();
                    if flag.load(Acquire) == 1 {
                        break;
                    }
                    notified.await;
                }
            });
            th.join().unwrap();
        });
    }

    #[test]
    fn cancelled_waiter_forwards_notification() {
        loom::model(|| {
            let notify = Arc::new(Notify::new());
            let th = {
                let notify = notify.clone();
                loom::thread::spawn(move || notify.notify_one())
            };
            // Poll one future once, then drop it: the notification must
            // reach the next one whichever way the race went.
            let first_done = {
                let mut first = Box::pin(notify.notified());
                let mut cx = Context::from_waker(Waker::noop());
                first.as_mut().poll(&mut cx).is_ready()
            };
            if !first_done {
                loom::future::block_on(notify.notified());
            }
            th.join().unwrap();
        });
    }
}
