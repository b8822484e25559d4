//! The consumer role of a supervised child's mailbox: which task may
//! consume it, and who may close it.
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
//! very queue the supervisor would drain. Likewise a new instance must not
//! start while the previous instance's aborted task still runs. Two
//! consumers on one queue is a double free.
//!
//! So the role is taken by the instance task itself, and closing is handed
//! over rather than taken:
//!
//! ```text
//!            acquire                  finish(r)
//!   Free ───────────────▶ Held ───────────────────▶ HeldThenFinish(r)
//!    ▲ │                   │                                │
//!    │ │      release      │                   release      │ the task
//!    └─┼───────────────────┘                                │ finishes(r)
//!      │ finish(r): the caller finishes(r)                  ▼
//!      └───────────────────────────────────────────────▶ Finished
//! ```
//!
//! An instance task acquires the role before it builds its actor, waiting
//! (asynchronously) while an earlier instance's task still holds it: the
//! supervisor normally awaits that task first, so a wait here means its
//! bookkeeping lost a task, and the wait keeps the mailbox safe anyway. The
//! task releases the role when it can no longer consume (its future is
//! dropped, after returning or on abort; `Consuming` in `supervisor/child.rs`).
//! `finish` answers whether the caller may finish now; if a task holds the
//! role, that task finishes when it releases it. `Finished` is final: the
//! cell is finished exactly once, by exactly one party, which is the
//! mailbox's single consumer at that moment, and a task that finds the role
//! finished does not run at all.
//!
//! # Who may touch what
//!
//! Everything is under one mutex, taken only when an instance starts or
//! ends and when a child is finished: never on the message path. Payloads
//! move out and wakers are woken after the lock is released; the finishing
//! itself runs outside it too.

use std::fmt;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::Mutex;

/// See the module docs.
pub(crate) struct ConsumerRole<R> {
    state: Mutex<Role<R>>,
}

enum Role<R> {
    /// No task consumes; the next instance task may take the role.
    Free,
    /// An instance task holds the role; `waiting` are tasks of later
    /// instances waiting for it.
    Held { waiting: Vec<Waker> },
    /// As `Held`, and the cell must be finished with `payload` when the
    /// holder lets go.
    HeldThenFinish { payload: R, waiting: Vec<Waker> },
    /// The cell has been (or is being) finished: no task consumes again.
    Finished,
}

/// What [`ConsumerRole::poll_acquire`] found.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquire {
    /// The caller holds the role now and must `release` it when done.
    Held,
    /// The cell is finished or about to be: the caller must not consume.
    Finished,
}

/// What [`ConsumerRole::finish`] decided.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finish<R> {
    /// Nobody consumes: the caller finishes now, with this payload.
    Now(R),
    /// A task holds the role and finishes when it releases it, or the cell
    /// is already finished: nothing to do.
    Elsewhere,
}

impl<R> ConsumerRole<R> {
    pub(crate) fn new() -> Self {
        ConsumerRole {
            state: Mutex::new(Role::Free),
        }
    }

    /// Takes the role for an instance task, waiting while another task
    /// holds it.
    pub(crate) fn poll_acquire(&self, cx: &mut Context<'_>) -> Poll<Acquire> {
        let mut state = self.state.lock();
        match &mut *state {
            Role::Free => {
                *state = Role::Held {
                    waiting: Vec::new(),
                };
                Poll::Ready(Acquire::Held)
            }
            Role::Held { waiting } => {
                if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    waiting.push(cx.waker().clone());
                }
                Poll::Pending
            }
            Role::HeldThenFinish { .. } | Role::Finished => Poll::Ready(Acquire::Finished),
        }
    }

    /// The holder can no longer consume. Returns the payload of a finish
    /// requested meanwhile: the caller (the task, at its very end) must
    /// finish the cell with it.
    pub(crate) fn release(&self) -> Option<R> {
        let (payload, waiting) = {
            let mut state = self.state.lock();
            match std::mem::replace(&mut *state, Role::Free) {
                Role::Held { waiting } => (None, waiting),
                Role::HeldThenFinish { payload, waiting } => {
                    *state = Role::Finished;
                    (Some(payload), waiting)
                }
                other @ (Role::Free | Role::Finished) => {
                    debug_assert!(false, "released a consumer role not held");
                    *state = other;
                    (None, Vec::new())
                }
            }
        };
        // The next instance's task takes the role, or sees it finished.
        for waker in waiting {
            waker.wake();
        }
        payload
    }

    /// Asks for the cell to be finished with `payload`: now by the caller if
    /// no task holds the role, else by the holder when it releases it. Only
    /// the first request counts: finishing happens once.
    pub(crate) fn finish(&self, payload: R) -> Finish<R> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, Role::Finished) {
            Role::Free => Finish::Now(payload),
            Role::Held { waiting } => {
                *state = Role::HeldThenFinish { payload, waiting };
                Finish::Elsewhere
            }
            pending @ Role::HeldThenFinish { .. } => {
                *state = pending;
                Finish::Elsewhere
            }
            Role::Finished => Finish::Elsewhere,
        }
    }
}

impl<R> fmt::Debug for ConsumerRole<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match &*self.state.lock() {
            Role::Free => "free",
            Role::Held { .. } => "held",
            Role::HeldThenFinish { .. } => "held, then finish",
            Role::Finished => "finished",
        };
        f.debug_struct("ConsumerRole").field("role", &role).finish()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! The hand-over raced against the consumer, on the real mailbox: the
    //! queue's cells and the receiver's `taken` count are loom-tracked, so a
    //! close that overlapped the consumer (or another close) is reported as
    //! a data race, and a value left undropped or dropped twice fails the
    //! counts.

    use super::*;
    use crate::mailbox::{Mailbox, Recv, Reserve};
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;
    use std::future::poll_fn;

    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn acquire(role: &ConsumerRole<u8>) -> Acquire {
        loom::future::block_on(poll_fn(|cx| role.poll_acquire(cx)))
    }

    /// A consumer task (holding the role) takes a value the way the actor
    /// loop does, while a supervisor asks twice to finish the cell (a root
    /// finishes its children on its way out and again in its drop guard):
    /// exactly one close runs, after the consumer is done, and every value
    /// is dropped exactly once.
    #[test]
    fn finish_twice_races_consumer() {
        loom::model(|| {
            let mb = Arc::new(Mailbox::<Box<Counted>>::new(8));
            let role = Arc::new(ConsumerRole::<u8>::new());
            let drops = Arc::new(AtomicUsize::new(0));
            let closes = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                assert_eq!(mb.try_reserve(false), Reserve::Reserved);
                mb.push(Box::new(Counted(drops.clone())));
            }
            assert_eq!(acquire(&role), Acquire::Held);
            let consumer = {
                let (mb, role, closes) = (mb.clone(), role.clone(), closes.clone());
                thread::spawn(move || {
                    // One value through `poll_recv`, as far as an aborted
                    // task gets: it leaves a place in `taken`.
                    let v = loom::future::block_on(poll_fn(|cx| match mb.poll_recv(cx, false) {
                        Poll::Ready(Recv::Value(v)) => Poll::Ready(v),
                        Poll::Ready(_) => unreachable!(),
                        Poll::Pending => Poll::Pending,
                    }));
                    drop(v);
                    if let Some(payload) = role.release() {
                        assert_eq!(payload, 7);
                        mb.close();
                        closes.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            for _ in 0..2 {
                if let Finish::Now(payload) = role.finish(7) {
                    assert_eq!(payload, 7);
                    mb.close();
                    closes.fetch_add(1, Ordering::Relaxed);
                }
            }
            consumer.join().unwrap();
            assert_eq!(closes.load(Ordering::Relaxed), 1);
            assert_eq!(drops.load(Ordering::Relaxed), 2);
        });
    }

    /// A new instance's task asks for the role while the previous one's
    /// still holds it: it waits, and takes over only after the release, so
    /// the two never consume at once.
    #[test]
    fn a_second_instance_waits_for_the_first() {
        loom::model(|| {
            let mb = Arc::new(Mailbox::<Box<Counted>>::new(8));
            let role = Arc::new(ConsumerRole::<u8>::new());
            let drops = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                assert_eq!(mb.try_reserve(false), Reserve::Reserved);
                mb.push(Box::new(Counted(drops.clone())));
            }
            assert_eq!(acquire(&role), Acquire::Held);
            let first = {
                let (mb, role) = (mb.clone(), role.clone());
                thread::spawn(move || {
                    drop(mb.try_pop());
                    assert_eq!(role.release(), None);
                })
            };
            assert_eq!(acquire(&role), Acquire::Held);
            drop(mb.try_pop());
            assert_eq!(role.release(), None);
            first.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed), 2);
        });
    }
}
