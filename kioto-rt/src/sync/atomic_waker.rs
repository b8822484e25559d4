//! A slot holding one task's waker, registered by a single consumer and
//! woken by any number of producers without a lock.
//!
//! # Protocol
//!
//! `state` is one of three values:
//!
//! - `IDLE`: nobody is inside the slot; the cell may hold a waker.
//! - `REGISTERING`: the registering side owns the cell and is replacing the
//!   waker. Only the single consumer ([`AtomicWaker::register`]) enters this
//!   state, so two registrations never overlap.
//! - `WAKING` (a bit, may be set on top of `REGISTERING`): a producer asked
//!   for the waker. When it sets the bit on `IDLE` it owns the cell until it
//!   clears the bit; when it sets it on `REGISTERING`, the registering side
//!   sees the bit when it leaves and wakes the new waker itself, so the wake
//!   is never lost.
//!
//! Who touches `waker`:
//!
//! - the registering side, between its `IDLE -> REGISTERING` transition and
//!   its exit transition;
//! - a waking side, between its `IDLE -> WAKING` transition and clearing
//!   `WAKING`.
//!
//! The two windows exclude each other by construction, which is what makes
//! the `UnsafeCell` accesses sound.
//!
//! No foreign code runs inside the registering window except the clone of
//! the new waker: the waker it replaces is moved out and dropped only after
//! the slot is released (as tokio does), so a waker whose `Drop` wakes or
//! re-registers this slot finds it `IDLE`, not held by itself.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;
use std::task::Waker;

/// Nobody holds the cell.
const IDLE: usize = 0;
/// The consumer is storing a new waker; set only by `register`.
const REGISTERING: usize = 0b01;
/// A producer wants the waker; set by `take`/`wake`, cleared by whoever
/// finishes the wake-up.
const WAKING: usize = 0b10;

/// One waker slot: a single registering consumer, many waking producers.
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    /// The last registered waker; see the module docs for who may touch it.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the waker cell is only accessed by the side that won the state
// transition described in the module docs, and `Waker` is `Send + Sync`.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above: concurrent `&self` access is serialised by `state`.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        AtomicWaker {
            state: AtomicUsize::new(IDLE),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` so the next [`wake`](Self::wake) wakes it.
    ///
    /// Must only be called by one side at a time (the slot's single
    /// consumer). If a wake races with this call, `waker` is woken at once,
    /// so the caller never misses it.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(IDLE, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // SAFETY: we moved the state `IDLE -> REGISTERING`, so we own
                // the cell until we leave that state (module docs).
                let replaced = self.waker.with_mut(|slot| unsafe {
                    match &mut *slot {
                        Some(old) if old.will_wake(waker) => None,
                        other => other.replace(waker.clone()),
                    }
                });
                if let Err(actual) = self
                    .state
                    .compare_exchange(REGISTERING, IDLE, AcqRel, Acquire)
                {
                    // A producer set WAKING while we held the cell: it left
                    // the wake-up to us. Take the waker out, release the
                    // slot and wake.
                    debug_assert_eq!(actual, REGISTERING | WAKING);
                    // SAFETY: the state is still `REGISTERING | WAKING`; the
                    // producer did not touch the cell because it saw
                    // `REGISTERING`, so we still own it.
                    let woken = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                    self.state.swap(IDLE, AcqRel);
                    if let Some(w) = woken {
                        w.wake();
                    }
                }
                // The slot is released: the old waker may run any code now.
                drop(replaced);
            }
            Err(WAKING) => {
                // A producer is waking the previous waker right now; it may
                // not be ours, so wake ours directly. The task will be
                // polled again at once; the hint lets the producer finish
                // (and lets loom schedule it instead of seeing a spin).
                waker.wake_by_ref();
                crate::loom::hint::spin_loop();
            }
            Err(state) => {
                // Another registration in progress: a contract violation by
                // the caller. Waking keeps the task alive rather than hung.
                debug_assert!(false, "concurrent AtomicWaker::register ({state})");
                waker.wake_by_ref();
            }
        }
    }

    /// Takes the registered waker out, if any, leaving the slot empty.
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            IDLE => {
                // SAFETY: we moved the state `IDLE -> WAKING`, so we own the
                // cell until we clear the bit.
                let waker = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                self.state.fetch_and(!WAKING, Release);
                waker
            }
            // Either a registration is in progress (it will see WAKING and
            // wake its waker) or another producer is already waking.
            _ => None,
        }
    }

    /// Wakes the registered waker, if any.
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicWaker")
            .field("state", &self.state.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::{AtomicWaker, REGISTERING};
    use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
    use crate::loom::sync::Arc;
    use std::future::poll_fn;
    use std::task::Poll;

    /// A producer sets a flag and wakes the slot while this thread
    /// registers and waits for the flag: the wake-up must reach it.
    fn producer_wake_reaches_the_registrar(slot: &Arc<AtomicWaker>) {
        let flag = Arc::new(AtomicBool::new(false));
        let th = {
            let (slot, flag) = (slot.clone(), flag.clone());
            loom::thread::spawn(move || {
                flag.store(true, Release);
                slot.wake();
            })
        };
        loom::future::block_on(poll_fn(|cx| {
            slot.register(cx.waker());
            if flag.load(Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        th.join().unwrap();
    }

    #[test]
    fn wake_is_never_lost() {
        loom::model(|| producer_wake_reaches_the_registrar(&Arc::new(AtomicWaker::new())));
    }

    /// A waker that wakes the slot it was registered in when dropped; the
    /// thread id is the registering thread's.
    struct WakesSlotOnDrop(Arc<AtomicWaker>, loom::thread::ThreadId);

    impl std::task::Wake for WakesSlotOnDrop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    impl Drop for WakesSlotOnDrop {
        fn drop(&mut self) {
            // Replaced by `register`, it must be dropped outside the slot's
            // critical section: on the registering thread, the slot is no
            // longer `REGISTERING` by then. (A producer that took it to wake
            // drops it on its own thread, whatever the registrar is doing.)
            if loom::thread::current().id() == self.1 {
                assert_eq!(
                    self.0.state.load(SeqCst) & REGISTERING,
                    0,
                    "a replaced waker dropped inside the registering window"
                );
            }
            self.0.wake();
        }
    }

    /// Re-registering drops the replaced waker after releasing the slot, so
    /// that waker's `Drop` may enter the slot again; meanwhile a producer
    /// races both, and its wake still reaches the task.
    #[test]
    fn a_replaced_waker_may_enter_the_slot_from_its_drop() {
        loom::model(|| {
            let slot = Arc::new(AtomicWaker::new());
            let first = std::task::Waker::from(std::sync::Arc::new(WakesSlotOnDrop(
                slot.clone(),
                loom::thread::current().id(),
            )));
            slot.register(&first);
            drop(first); // the slot holds the only clone
            producer_wake_reaches_the_registrar(&slot);
        });
    }
}
