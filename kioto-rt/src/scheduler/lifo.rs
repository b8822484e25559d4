//! The LIFO slot: the one task a worker runs next, ahead of its queue (the
//! task most recently spawned or woken by the task it is running; see
//! `scheduler/mod.rs` for the locality this buys).
//!
//! # Protocol: who may touch what
//!
//! One atomic pointer holds a task turned into a raw pointer, or null.
//!
//! - Only the owning worker puts a task in ([`LifoSlot::push`]), with a
//!   swap that hands back the task it displaced: the owner queues that one.
//! - The owner takes the task out ([`LifoSlot::take`]) before looking at its
//!   queue. A sibling may take it too, but only while the owner is *stuck*
//!   in one poll (`Remote::stuck`, set by the monitor, cleared by the owner
//!   after the poll): the owner cannot run it then, and nobody else would.
//!   The owner may come back and reach for the same task at the same time;
//!   every take is a swap to null, so exactly one of them gets it. The stuck
//!   flag is policy (locality), not safety: the swaps alone make each task
//!   leave the slot exactly once.
//! - After shutdown, `Shared::drain_all` takes what is left, like a sibling.
//! - [`LifoSlot::is_empty`] is a hint for heuristics (whether to wake a
//!   sibling, whether a stuck worker has work to steal); it decides nothing
//!   about ownership.
//!
//! Orderings: the swaps are `AcqRel`, so whoever takes a task sees
//! everything its pusher wrote before the push.
//!
//! Modelled in `tests::loom_*`: a stuck owner's task taken by a sibling
//! while the owner comes back for it runs exactly once, and none is lost.

use crate::loom::sync::atomic::{AtomicPtr, Ordering};
use async_task::Runnable;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A task that can wait in the slot as a raw pointer.
pub(super) trait RawTask: Sized {
    fn into_raw(self) -> NonNull<()>;

    /// # Safety
    ///
    /// `ptr` came from `into_raw` on this type, and is turned back at most
    /// once.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;
}

impl<M> RawTask for Runnable<M> {
    #[inline]
    fn into_raw(self) -> NonNull<()> {
        Runnable::into_raw(self)
    }

    #[inline]
    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: forwarded from the caller: `ptr` came from
        // `Runnable::into_raw` and is turned back once.
        unsafe { Runnable::from_raw(ptr) }
    }
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct LifoSlot<T: RawTask> {
    task: AtomicPtr<()>,
    _owns: PhantomData<T>,
}

impl<T: RawTask> LifoSlot<T> {
    pub(super) fn new() -> Self {
        LifoSlot {
            task: AtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Puts `task` in the slot; returns the task it displaced. Owner only.
    #[inline]
    pub(super) fn push(&self, task: T) -> Option<T> {
        let prev = self.task.swap(task.into_raw().as_ptr(), Ordering::AcqRel);
        // SAFETY: non-null pointers in the slot come only from `into_raw`
        // above, and the swap handed this one to us alone.
        NonNull::new(prev).map(|p| unsafe { T::from_raw(p) })
    }

    /// Takes the task out, if any. The owner, or a sibling while the owner
    /// is stuck.
    #[inline]
    pub(super) fn take(&self) -> Option<T> {
        let ptr = self.task.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: non-null pointers in the slot come only from `into_raw` in
        // `push`, and the swap handed this one to us alone.
        NonNull::new(ptr).map(|p| unsafe { T::from_raw(p) })
    }

    /// True if no task waits in the slot (a hint: it may change at once).
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.task.load(Ordering::Acquire).is_null()
    }
}

impl<T: RawTask> Drop for LifoSlot<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! The owner pushes while it runs a task that turns out to be stuck;
    //! the monitor flags it; a sibling steals from the slot while the owner
    //! finishes the stuck poll and takes from the slot itself, as
    //! `worker::Core::{poll, next_task, steal_work}` do.

    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};
    use crate::loom::sync::Arc;
    use loom::thread;

    /// A task that is only an index: taking it twice shows up as a count
    /// of two rather than as a double free.
    struct Token(usize);

    impl RawTask for Token {
        fn into_raw(self) -> NonNull<()> {
            NonNull::new(std::ptr::without_provenance_mut(self.0 + 1)).unwrap()
        }

        unsafe fn from_raw(ptr: NonNull<()>) -> Self {
            Token(ptr.as_ptr().addr() - 1)
        }
    }

    struct World {
        slot: LifoSlot<Token>,
        stuck: AtomicBool,
        runs: [AtomicUsize; 2],
    }

    impl World {
        fn run(&self, task: Token) {
            self.runs[task.0].fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_a_stuck_workers_lifo_task_runs_exactly_once() {
        loom::model(|| {
            let world = Arc::new(World {
                slot: LifoSlot::new(),
                stuck: AtomicBool::new(false),
                runs: [AtomicUsize::new(0), AtomicUsize::new(0)],
            });
            // Owner: the running task wakes task 0 then task 1 (task 0 goes
            // to the owner's queue, run here), then the poll ends and the
            // owner takes its LIFO slot.
            let owner = {
                let w = world.clone();
                thread::spawn(move || {
                    assert!(w.slot.push(Token(0)).is_none());
                    if let Some(displaced) = w.slot.push(Token(1)) {
                        w.run(displaced);
                    }
                    w.stuck.store(false, Ordering::Relaxed);
                    if let Some(task) = w.slot.take() {
                        w.run(task);
                    }
                })
            };
            // Monitor, then sibling: steal only from a stuck worker.
            let sibling = {
                let w = world.clone();
                thread::spawn(move || {
                    w.stuck.store(true, Ordering::Relaxed);
                    if w.stuck.load(Ordering::Relaxed) {
                        if let Some(task) = w.slot.take() {
                            w.run(task);
                        }
                    }
                })
            };
            owner.join().unwrap();
            sibling.join().unwrap();
            // Whatever is left is dropped at shutdown, never run twice.
            if let Some(task) = world.slot.take() {
                world.run(task);
            }
            for (i, runs) in world.runs.iter().enumerate() {
                assert_eq!(runs.load(Ordering::SeqCst), 1, "task {i}");
            }
        });
    }
}
