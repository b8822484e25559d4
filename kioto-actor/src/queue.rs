//! An intrusive multi-producer, single-consumer queue (D. Vyukov's
//! node-based design): the mailbox's storage.
//!
//! # Why not `crossbeam_queue::SegQueue`
//!
//! `SegQueue` keeps two cache-padded positions (256 bytes on x86-64) and
//! allocates 31-slot blocks, one of which stays allocated in every idle
//! mailbox that has ever received a message: about a kilobyte per idle actor.
//! Envelopes are heap nodes anyway, so threading them on an intrusive list
//! costs two words per mailbox and nothing per message, and a push is one
//! `swap` plus one store.
//!
//! # Protocol
//!
//! Producers `swap` themselves into `head`, then link the previous head to
//! themselves. The consumer walks from `tail` following `next` links; a
//! permanent `stub` node lets the list never become empty. Between a
//! producer's `swap` and its link the list is briefly cut: the consumer then
//! sees [`Pop::Inconsistent`] and must not wait for it: the producer finishes
//! its push and then notifies (the mailbox's `PARKED` protocol).
//!
//! # Who may touch what
//!
//! - `head`: any producer, atomically.
//! - `tail` and the `next` links of nodes behind it: the single consumer only.
//!   The mailbox guarantees one consumer at a time (the actor task, or the
//!   closer once that task is done).
//! - A node belongs to the queue from `push` until `pop` returns it.
//! - The queue must not move after [`Queue::init`] (it lives in an `Arc`).

use std::ptr::{self, NonNull};

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicPtr, Ordering};

/// The link every queued node starts with (`#[repr(C)]`, offset 0).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Link {
    next: AtomicPtr<Link>,
}

impl Link {
    pub(crate) fn new() -> Self {
        Link {
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

/// A value that owns a heap node starting with a [`Link`].
///
/// # Safety
///
/// `into_link` must return a pointer to a live `Link` at offset 0 of a node
/// owned by nobody else, and `from_link` must take back exactly such a
/// pointer, returned earlier by `into_link` of the same type.
pub(crate) unsafe trait Linked {
    /// Gives up ownership of the node.
    fn into_link(self) -> NonNull<Link>;

    /// Takes ownership of the node back.
    ///
    /// # Safety
    ///
    /// `link` came from `Self::into_link` and has not been taken back.
    unsafe fn from_link(link: NonNull<Link>) -> Self;
}

/// The result of [`Queue::pop`].
#[derive(Debug)]
pub(crate) enum Pop<T> {
    Data(T),
    Empty,
    /// A push is half done; it will notify when it completes.
    Inconsistent,
}

#[derive(Debug)]
pub(crate) struct Queue {
    /// The newest node; producers `swap` into it.
    head: AtomicPtr<Link>,
    /// The oldest node not yet taken (consumer only).
    tail: UnsafeCell<*mut Link>,
    /// The permanent node that keeps the list non-empty.
    stub: Link,
}

impl Queue {
    /// An uninitialized queue; call [`init`](Self::init) once it is at its
    /// final address.
    pub(crate) fn new() -> Self {
        Queue {
            head: AtomicPtr::new(ptr::null_mut()),
            tail: UnsafeCell::new(ptr::null_mut()),
            stub: Link::new(),
        }
    }

    fn stub(&self) -> *mut Link {
        ptr::from_ref(&self.stub).cast_mut()
    }

    /// Points head and tail at the stub. The queue must not move afterwards.
    pub(crate) fn init(&self) {
        self.head.store(self.stub(), Ordering::Relaxed);
        // SAFETY: called once, before the queue is shared (the owner is just
        // built), so nobody else touches `tail`.
        self.tail.with_mut(|t| unsafe { *t = self.stub() });
    }

    /// Adds a node (any thread).
    pub(crate) fn push<T: Linked>(&self, value: T) {
        self.push_link(value.into_link().as_ptr());
    }

    fn push_link(&self, node: *mut Link) {
        // SAFETY: `node` is a live node we own (`into_link`, or the stub
        // re-pushed by the consumer), not in the list, so nobody else reads
        // its link yet.
        unsafe { (*node).next.store(ptr::null_mut(), Ordering::Relaxed) };
        let prev = self.head.swap(node, Ordering::AcqRel);
        debug_assert!(!prev.is_null(), "queue used before init");
        // SAFETY: `prev` was the head: a node in the list (or the stub), kept
        // alive until the consumer has moved past it, which it cannot do
        // before this link is set.
        unsafe { (*prev).next.store(node, Ordering::Release) };
    }

    /// Takes the oldest node.
    ///
    /// # Safety
    ///
    /// Only one consumer at a time (see the module docs).
    pub(crate) unsafe fn pop<T: Linked>(&self) -> Pop<T> {
        // SAFETY: the caller is the only consumer, so `tail` and the nodes
        // from it onwards are ours to read; every pointer followed was
        // published by a producer's `Release` store of `next` (or is the
        // stub) and stays alive until we hand it out.
        self.tail.with_mut(|tail_ptr| unsafe {
            let mut tail = *tail_ptr;
            let mut next = (*tail).next.load(Ordering::Acquire);
            if tail == self.stub() {
                if next.is_null() {
                    return if self.head.load(Ordering::Acquire) == tail {
                        Pop::Empty
                    } else {
                        Pop::Inconsistent
                    };
                }
                *tail_ptr = next;
                tail = next;
                next = (*next).next.load(Ordering::Acquire);
            }
            if !next.is_null() {
                *tail_ptr = next;
                return Pop::Data(T::from_link(NonNull::new_unchecked(tail)));
            }
            if self.head.load(Ordering::Acquire) != tail {
                return Pop::Inconsistent;
            }
            // `tail` is the last node: put the stub behind it so it can be
            // handed out.
            self.push_link(self.stub());
            next = (*tail).next.load(Ordering::Acquire);
            if !next.is_null() {
                *tail_ptr = next;
                return Pop::Data(T::from_link(NonNull::new_unchecked(tail)));
            }
            Pop::Inconsistent
        })
    }
}
