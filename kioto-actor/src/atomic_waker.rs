//! A slot holding the actor task's waker, written by the actor and woken by
//! whichever sender has to wake it.
//!
//! # Protocol
//!
//! The slot has one state word with two bits:
//!
//! - [`REGISTERING`]: the receiver is writing a new waker into the cell; only
//!   the receiver sets it, and only from the idle state.
//! - [`WAKING`]: a waker is waking the stored waker; any thread
//!   may set it, the one that set it from idle owns the cell until it clears
//!   the bit.
//!
//! Whoever moves the word from idle (`0`) to its own bit owns the cell. A wake
//! that arrives while the receiver is registering only sets `WAKING`; the
//! receiver notices the bit when it tries to release the cell and wakes the
//! new waker itself, so no wake is lost. A registration that arrives while a
//! waker is being woken wakes the new waker at once (a spurious poll at worst).
//!
//! The waker is woken by reference and stays registered, so a receiver
//! that sleeps again with the same waker costs no clone.
//!
//! When the receiver's task is dropped without finishing (cancelled, or its
//! runtime shut down) the waker is taken out, so a mailbox that outlives its
//! task (an `Addr` kept after the runtime is gone) keeps neither the task
//! nor its runtime alive.
//!
//! Only the consumer ever registers or takes: the actor task, and at the
//! end whoever closes the mailbox as its single consumer (see
//! `mailbox.rs`). That is why a concurrent `register` is a bug rather than
//! a case to handle.

use std::fmt;
use std::task::Waker;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// The cell is free and may hold a waker.
const IDLE: usize = 0;
/// Set by the receiver while it writes the cell (from [`IDLE`] only).
const REGISTERING: usize = 0b01;
/// Set by a waker while it wakes the stored waker; set by a waker that
/// lost the race with a registration, to tell the registrar to wake.
const WAKING: usize = 0b10;

pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    /// Accessed only by the thread that moved `state` out of [`IDLE`].
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cell is only touched by the single owner elected through
// `state` (see the module docs), and `Waker` is `Send + Sync`.
unsafe impl Send for AtomicWaker {}
// SAFETY: as for `Send`: the state word serializes all access to the cell.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        AtomicWaker {
            state: AtomicUsize::new(IDLE),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` to be woken by the next [`wake`](Self::wake). Must only
    /// be called from one thread at a time (the receiver).
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(IDLE, REGISTERING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: we moved the state from IDLE to REGISTERING, so we
                // own the cell until we leave REGISTERING.
                unsafe {
                    self.waker.with_mut(|slot| match &mut *slot {
                        Some(old) if old.will_wake(waker) => {}
                        other => *other = Some(waker.clone()),
                    });
                }
                if let Err(actual) = self.state.compare_exchange(
                    REGISTERING,
                    IDLE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    // A wake arrived while we wrote: it could not reach the
                    // waker, so we deliver the wake-up ourselves.
                    debug_assert_eq!(actual, REGISTERING | WAKING);
                    self.state.swap(IDLE, Ordering::AcqRel);
                    waker.wake_by_ref();
                }
            }
            Err(WAKING) => {
                // A waker owns the cell and is waking the previous waker; it
                // may have missed the state we are registering for, so poll
                // again. The hint lets the waking thread finish (under loom
                // it is a yield, without which the re-poll would spin).
                waker.wake_by_ref();
                crate::loom::hint::spin_loop();
            }
            Err(state) => {
                debug_assert!(false, "concurrent AtomicWaker::register ({state})");
            }
        }
    }

    /// Wakes the registered waker, if any. The waker stays in the slot (woken
    /// by reference): the receiver re-registers the same waker every time it
    /// sleeps, and `register` then finds it in place and clones nothing.
    pub(crate) fn wake(&self) {
        if self.state.fetch_or(WAKING, Ordering::AcqRel) == IDLE {
            // SAFETY: we moved the state from IDLE to WAKING, so we own the
            // cell until we clear WAKING. Waking schedules a task; it runs
            // no code that could touch this slot.
            unsafe {
                self.waker.with(|slot| {
                    if let Some(w) = &*slot {
                        w.wake_by_ref();
                    }
                });
            }
            self.state.fetch_and(!WAKING, Ordering::Release);
        }
    }

    /// Takes the registered waker out, so whatever it keeps alive (the
    /// receiving task, and through it its runtime) is released. Called by
    /// the receiver, when it will never register again. If a wake is in
    /// progress right then, the waker stays where it is (no spinning: the
    /// waking thread may be preempted for a whole time slice) and is freed
    /// with the slot.
    pub(crate) fn take(&self) -> Option<Waker> {
        if self
            .state
            .compare_exchange(IDLE, REGISTERING, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        // SAFETY: we moved the state from IDLE to REGISTERING, so we own the
        // cell until we leave REGISTERING.
        let waker = unsafe { self.waker.with_mut(|slot| (*slot).take()) };
        // A wake that arrives meanwhile finds REGISTERING and only sets
        // WAKING; with no waker left there is nothing to deliver, so clear
        // both.
        self.state.swap(IDLE, Ordering::AcqRel);
        waker
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicWaker")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}
