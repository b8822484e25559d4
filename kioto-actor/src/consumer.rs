//! The consumer role of a supervised child's mailbox: who may close it.
//!
//! # Why
//!
//! A mailbox has one consumer (see `mailbox.rs`): the task running the
//! actor, or a party that has proven no such task can run any more. A
//! supervisor that stops for good finishes its children's cells (closes
//! their mailboxes, tells their watchers), and sometimes cannot wait for
//! their tasks first: it is itself being dropped, or its parent finishes the
//! whole subtree from a synchronous path. Aborting a task only flags it; the
//! task may be inside its batch loop on another worker, popping from the
//! very queue the supervisor would drain. Two consumers on one queue is a
//! double free.
//!
//! So the right to finish a cell is handed over instead of taken:
//!
//! ```text
//!   Free ──hold()──▶ Held ──finish(r)──▶ HeldThenFinish(r)
//!    ▲                 │                          │
//!    └─── release() ───┘      release() ─▶ Free, and the task finishes(r)
//!   finish(r) while Free: the caller finishes at once
//! ```
//!
//! The supervisor holds the role for each instance task it spawns
//! (`hold`, before the task exists); the task releases it when it can no
//! longer consume (its future is dropped, after returning or on abort).
//! `finish` answers whether the caller may finish now; if not, the task does
//! so when it releases. Either way the cell is finished exactly once, and
//! only by a party that is the mailbox's single consumer at that moment.
//!
//! # Who may touch what
//!
//! Everything is under one mutex, taken only when an instance starts or
//! ends and when a child is finished: never on the message path. The
//! payload (the reason to finish with) moves out under the lock, and the
//! finishing itself runs after the lock is released.

use std::fmt;

use crate::loom::sync::Mutex;

/// See the module docs.
pub(crate) struct ConsumerRole<R> {
    state: Mutex<Role<R>>,
}

enum Role<R> {
    /// No task may consume: whoever wants to finish may do so at once.
    Free,
    /// An instance task holds the role.
    Held,
    /// An instance task holds the role, and the cell must be finished with
    /// this payload when it lets go.
    HeldThenFinish(R),
}

/// What [`ConsumerRole::finish`] decided.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finish<R> {
    /// Nobody consumes: the caller finishes now, with this payload.
    Now(R),
    /// A task still holds the role and will finish when it releases it (or
    /// a finish was already pending).
    Deferred,
}

impl<R> ConsumerRole<R> {
    pub(crate) fn new() -> Self {
        ConsumerRole {
            state: Mutex::new(Role::Free),
        }
    }

    /// Takes the role for a new instance task. The caller has proven the
    /// previous instance's task ended (it awaited it), so the role is free.
    pub(crate) fn hold(&self) {
        let mut state = self.state.lock();
        debug_assert!(
            matches!(*state, Role::Free),
            "a second consumer task on one mailbox"
        );
        *state = Role::Held;
    }

    /// The instance task can no longer consume. Returns the payload of a
    /// finish requested meanwhile: the caller (the task, at its very end)
    /// must finish the cell with it.
    pub(crate) fn release(&self) -> Option<R> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, Role::Free) {
            Role::HeldThenFinish(payload) => Some(payload),
            Role::Held | Role::Free => None,
        }
    }

    /// Asks for the cell to be finished with `payload`: now by the caller if
    /// no task holds the role, else by the task when it releases it. A
    /// second request while one is pending is dropped (the first wins, as
    /// finishing is once).
    pub(crate) fn finish(&self, payload: R) -> Finish<R> {
        let mut state = self.state.lock();
        match &*state {
            Role::Free => Finish::Now(payload),
            Role::Held => {
                *state = Role::HeldThenFinish(payload);
                Finish::Deferred
            }
            Role::HeldThenFinish(_) => Finish::Deferred,
        }
    }
}

impl<R> fmt::Debug for ConsumerRole<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match &*self.state.lock() {
            Role::Free => "free",
            Role::Held => "held",
            Role::HeldThenFinish(_) => "held, then finish",
        };
        f.debug_struct("ConsumerRole").field("role", &role).finish()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! The hand-over raced against the consumer, on the real mailbox: the
    //! queue's cells are loom-tracked, so a close that overlapped the
    //! consumer's pops would be reported as a data race, and a value left
    //! undropped or dropped twice fails the counts.

    use super::*;
    use crate::mailbox::{Mailbox, Reserve};
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A consumer task pops (taking its role first, as `spawn` does), while
    /// a supervisor finishes the cell from another thread: the close runs
    /// exactly once, after the consumer is done, and every value is dropped
    /// exactly once.
    #[test]
    fn finish_races_consumer() {
        loom::model(|| {
            let mb = Arc::new(Mailbox::<Box<Counted>>::new(4));
            let role = Arc::new(ConsumerRole::<u8>::new());
            let drops = Arc::new(AtomicUsize::new(0));
            let closes = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                assert_eq!(mb.try_reserve(false), Reserve::Reserved);
                mb.push(Box::new(Counted(drops.clone())));
            }
            role.hold();
            let consumer = {
                let (mb, role, closes) = (mb.clone(), role.clone(), closes.clone());
                thread::spawn(move || {
                    // One pop, as far as an aborted task gets.
                    drop(mb.try_pop());
                    if let Some(payload) = role.release() {
                        assert_eq!(payload, 7);
                        mb.close();
                        closes.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            if let Finish::Now(payload) = role.finish(7) {
                assert_eq!(payload, 7);
                mb.close();
                closes.fetch_add(1, Ordering::Relaxed);
            }
            consumer.join().unwrap();
            assert_eq!(closes.load(Ordering::Relaxed), 1);
            assert_eq!(drops.load(Ordering::Relaxed), 2);
        });
    }
}
