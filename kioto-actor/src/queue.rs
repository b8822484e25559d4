//! An unbounded multi-producer, single-consumer queue of values stored in
//! place: the mailbox's storage.
//!
//! # Why values in place
//!
//! A message crosses from the sender's core to the actor's. Stored in a heap
//! node of its own (one `malloc` by the sender, one `free` by the actor), every
//! message costs a cross-thread free and a pointer chase into a cache line the
//! other core just wrote; under a flood that was most of the time of a
//! `do_send` (glibc's arena handing chunks back and forth between the two
//! threads). Here values sit side by side in blocks of [`BLOCK_CAP`] slots:
//! the sender writes the next slot, the actor reads slots in order, one
//! allocation serves a block's worth of messages, and idle actors keep one
//! small block.
//!
//! # Protocol
//!
//! - A producer claims a *position* with one `fetch_add` on `tail_position`
//!   (positions are handed out in order, so values from one producer keep
//!   their order), finds the block of that position starting from
//!   `block_tail` (linking new blocks at the end when the list is too
//!   short), writes its value into the slot and publishes it by storing
//!   the slot's tag last (see [`SlotValue`]).
//! - The consumer reads positions in order. A slot without its tag means
//!   "nothing more for now": either nobody claimed it, or its producer is
//!   half-way (claimed, not yet written); that producer completes its write
//!   and then notifies (the mailbox's `PARKED` protocol), so the consumer
//!   must not wait for it.
//! - `block_tail` only moves past a block whose slots are all written, so a
//!   producer never finds `block_tail` beyond its own position's block.
//!
//! # Freeing blocks
//!
//! A producer may still be walking a block (it loaded `block_tail` before it
//! moved) when the consumer is done with it. The producer that moves
//! `block_tail` past a block therefore *releases* it: it reads
//! `tail_position` after its move and stores that in the block's
//! `released_at`. Every producer that could have loaded the old
//! `block_tail` claimed its position before that read (all of these
//! operations are `SeqCst`, so they fall in one order: claim, load tail,
//! move tail, read position). The consumer frees a released block only once
//! it has read every position below `released_at`: each of those
//! producers wrote its value, so it finished walking before that. The
//! block being read is never freed, nor is a block before it is released
//! (dropping the queue frees everything).
//!
//! # Who may touch what
//!
//! - `tail_position`, `block_tail`, a block's `next` and `released_at`, and
//!   the slot a producer claimed: producers, atomically.
//! - `rx` and reading slots: the single consumer only. The mailbox guarantees
//!   one consumer at a time (the actor task, or the closer once that task is
//!   done).

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Slots per block (a slot is two words). Small, because an idle actor
/// keeps one block, but not smaller: a block of four (96 bytes) falls into
/// glibc's fastbins, whose churn between the sender's and the actor's
/// threads doubled the time of a `do_send` flood. loom runs with two so its
/// models cross block boundaries.
#[cfg(not(loom))]
pub(crate) const BLOCK_CAP: usize = 8;
#[cfg(loom)]
pub(crate) const BLOCK_CAP: usize = 2;

/// A value the queue stores in place as two words, the first a non-null
/// pointer. A producer writes the second word, then stores the first with
/// `Release`: a non-null first word is the slot's "written" flag, in the
/// slot's own cache line, so the consumer's look at the flag fetches the
/// value with it.
///
/// # Safety
///
/// `from_words` must rebuild exactly the value `into_words` took apart.
pub(crate) unsafe trait SlotValue: Sized {
    fn into_words(self) -> (NonNull<()>, MaybeUninit<usize>);

    /// # Safety
    ///
    /// The words came from `into_words` of this type, once.
    unsafe fn from_words(tag: NonNull<()>, rest: MaybeUninit<usize>) -> Self;
}

// SAFETY: the box's pointer is non-null and is the whole value.
unsafe impl<T> SlotValue for Box<T> {
    fn into_words(self) -> (NonNull<()>, MaybeUninit<usize>) {
        (NonNull::from(Box::leak(self)).cast(), MaybeUninit::uninit())
    }

    unsafe fn from_words(tag: NonNull<()>, _: MaybeUninit<usize>) -> Self {
        // SAFETY: the caller's contract: `tag` is a leaked `Box<T>`.
        unsafe { Box::from_raw(tag.cast::<T>().as_ptr()) }
    }
}

struct Slot {
    /// Null until written; see [`SlotValue`].
    tag: AtomicPtr<()>,
    rest: UnsafeCell<MaybeUninit<usize>>,
}

struct Block<T> {
    /// The position of the first slot; fixed before the block is linked.
    start: usize,
    next: AtomicPtr<Block<T>>,
    /// 0 until the producer that moved `block_tail` past this block stores
    /// `tail_position` as it read it right after (never 0: that producer's
    /// own position lies beyond this block).
    released_at: AtomicUsize,
    /// Written once each, never cleared (a block is freed, not reused).
    slots: [Slot; BLOCK_CAP],
    /// The slots hold `T`s.
    _values: PhantomData<T>,
}

impl<T> Block<T> {
    fn alloc(start: usize) -> NonNull<Block<T>> {
        let block = Box::new(Block {
            start,
            next: AtomicPtr::new(ptr::null_mut()),
            released_at: AtomicUsize::new(0),
            slots: std::array::from_fn(|_| Slot {
                tag: AtomicPtr::new(ptr::null_mut()),
                rest: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            _values: PhantomData,
        });
        NonNull::from(Box::leak(block))
    }

    /// Whether every slot has been written (nobody will claim into it again:
    /// positions only grow).
    fn is_full(&self) -> bool {
        self.slots
            .iter()
            .all(|s| !s.tag.load(Ordering::Acquire).is_null())
    }

    fn contains(&self, pos: usize) -> bool {
        pos.wrapping_sub(self.start) < BLOCK_CAP
    }
}

/// loom treats `SeqCst` loads and read-modify-writes as acquire/release, so
/// it cannot see the one order the release argument (module docs) relies
/// on; under loom a `SeqCst` fence between the two operations of each side
/// gives the model the same guarantee. Real builds need none: the
/// operations are `SeqCst` themselves.
#[inline(always)]
fn loom_seq_cst_fence() {
    #[cfg(loom)]
    crate::loom::sync::atomic::fence(Ordering::SeqCst);
}

/// The consumer's side (see the module docs).
struct Rx<T> {
    /// The next position to read.
    index: usize,
    /// The block holding `index` (or the one before it, at a boundary).
    head: NonNull<Block<T>>,
    /// The oldest block not yet freed; `head` or before it.
    free_head: NonNull<Block<T>>,
}

/// See the module docs.
pub(crate) struct Queue<T: SlotValue> {
    /// The next position a producer claims.
    tail_position: AtomicUsize,
    /// A block at or before the one holding `tail_position`.
    block_tail: AtomicPtr<Block<T>>,
    rx: UnsafeCell<Rx<T>>,
}

// SAFETY: values cross threads (`T: Send`); blocks are shared through
// atomics and the single-consumer rule, documented above.
unsafe impl<T: SlotValue + Send> Send for Queue<T> {}
// SAFETY: as for `Send`: `&Queue` pushes `T`s from any thread and pops them
// on the single consumer.
unsafe impl<T: SlotValue + Send> Sync for Queue<T> {}

impl<T: SlotValue> Queue<T> {
    pub(crate) fn new() -> Self {
        let first = Block::alloc(0);
        Queue {
            tail_position: AtomicUsize::new(0),
            block_tail: AtomicPtr::new(first.as_ptr()),
            rx: UnsafeCell::new(Rx {
                index: 0,
                head: first,
                free_head: first,
            }),
        }
    }

    /// Adds a value (any thread).
    #[inline]
    pub(crate) fn push(&self, value: T) {
        let pos = self.tail_position.fetch_add(1, Ordering::SeqCst);
        let block = self.find_block(pos);
        // SAFETY: `find_block` returns the live block holding `pos` (it
        // cannot be freed before our slot is written and read).
        let block = unsafe { block.as_ref() };
        let slot = &block.slots[pos - block.start];
        let (tag, rest) = value.into_words();
        // SAFETY: position `pos` was claimed by us alone, and the consumer
        // does not read the slot before its tag is set.
        slot.rest.with_mut(|r| unsafe { *r = rest });
        slot.tag.store(tag.as_ptr(), Ordering::Release);
    }

    /// The block holding `pos`, linking blocks as needed and moving
    /// `block_tail` past full blocks on the way.
    fn find_block(&self, pos: usize) -> NonNull<Block<T>> {
        loom_seq_cst_fence();
        let mut current = self.block_tail.load(Ordering::SeqCst);
        // Only a walk that started at the current `block_tail` and found
        // every block so far full may move it.
        let mut may_advance = true;
        loop {
            // SAFETY: `current` is `block_tail` or reached from it through
            // `next`; it is not freed while our position is unread (module
            // docs: we claimed before loading `block_tail`).
            let block = unsafe { &*current };
            if block.contains(pos) {
                // SAFETY: non-null (loaded from a live pointer chain).
                return unsafe { NonNull::new_unchecked(current) };
            }
            debug_assert!(pos > block.start, "block_tail ran past a claimed slot");
            let next = Self::next_block(block);
            if may_advance && block.is_full() {
                match self.block_tail.compare_exchange(
                    current,
                    next.as_ptr(),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => {
                        loom_seq_cst_fence();
                        let observed = self.tail_position.load(Ordering::SeqCst);
                        block.released_at.store(observed, Ordering::Release);
                    }
                    Err(_) => may_advance = false,
                }
            } else {
                may_advance = false;
            }
            current = next.as_ptr();
        }
    }

    /// `block.next`, linked first if missing.
    fn next_block(block: &Block<T>) -> NonNull<Block<T>> {
        if let Some(next) = NonNull::new(block.next.load(Ordering::Acquire)) {
            return next;
        }
        let new = Block::alloc(block.start + BLOCK_CAP);
        match block.next.compare_exchange(
            ptr::null_mut(),
            new.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => new,
            Err(actual) => {
                // Another producer linked one first.
                // SAFETY: `new` was never shared.
                drop(unsafe { Box::from_raw(new.as_ptr()) });
                // SAFETY: a failed exchange from null returns the non-null
                // pointer that won.
                unsafe { NonNull::new_unchecked(actual) }
            }
        }
    }

    /// Takes the next value, or `None` if the next position is not written
    /// yet (empty, or a push half-way; its producer notifies when done).
    ///
    /// # Safety
    ///
    /// Only one consumer at a time (see the module docs).
    #[inline]
    pub(crate) unsafe fn pop(&self) -> Option<T> {
        // SAFETY: the caller is the single consumer, the only user of `rx`.
        self.rx.with_mut(|rx| unsafe { Self::pop_rx(&mut *rx) })
    }

    /// # Safety
    ///
    /// As [`pop`](Self::pop); `rx` is the queue's consumer state.
    #[inline]
    unsafe fn pop_rx(rx: &mut Rx<T>) -> Option<T> {
        // SAFETY: `head` is never freed while it is `head`.
        let mut head = unsafe { rx.head.as_ref() };
        if !head.contains(rx.index) {
            let next = NonNull::new(head.next.load(Ordering::Acquire))?;
            rx.head = next;
            // SAFETY: as above.
            head = unsafe { next.as_ref() };
        }
        let slot = &head.slots[rx.index - head.start];
        let Some(tag) = NonNull::new(slot.tag.load(Ordering::Acquire)) else {
            // Blocks released since our last look can go now.
            // SAFETY: the caller is the single consumer.
            unsafe { Self::free_released(rx) };
            return None;
        };
        // SAFETY: the tag (acquired) says the value is written; positions
        // are read once, so it is taken exactly once.
        let value = unsafe { T::from_words(tag, slot.rest.with(|r| *r)) };
        rx.index += 1;
        if !head.contains(rx.index) {
            // SAFETY: the caller is the single consumer.
            unsafe { Self::free_released(rx) };
        }
        Some(value)
    }

    /// Frees the blocks behind `head` that are released and whose walkers
    /// are all done (module docs).
    ///
    /// # Safety
    ///
    /// Single consumer only.
    #[inline]
    unsafe fn free_released(rx: &mut Rx<T>) {
        if rx.free_head != rx.head {
            // SAFETY: the caller's contract.
            unsafe { Self::free_released_slow(rx) };
        }
    }

    /// [`free_released`](Self::free_released) with blocks to look at.
    ///
    /// # Safety
    ///
    /// Single consumer only.
    #[cold]
    unsafe fn free_released_slow(rx: &mut Rx<T>) {
        while rx.free_head != rx.head {
            // SAFETY: blocks from `free_head` on are live until freed here.
            let block = unsafe { rx.free_head.as_ref() };
            let released_at = block.released_at.load(Ordering::Acquire);
            if released_at == 0 || released_at > rx.index {
                return;
            }
            // Behind `head`, so its successor is linked.
            let next = block.next.load(Ordering::Acquire);
            // SAFETY: see the loop's first comment; `next` is non-null.
            rx.free_head = unsafe { NonNull::new_unchecked(next) };
            // SAFETY: released, every walker done, every value read: no one
            // touches the block again; it came from `Box::leak`.
            drop(unsafe { Box::from_raw(ptr::from_ref(block).cast_mut()) });
        }
    }
}

impl<T: SlotValue> Drop for Queue<T> {
    fn drop(&mut self) {
        self.rx.with_mut(|rx| {
            // SAFETY: `&mut self`: no producer or consumer remains, so every
            // block from `free_head` on is ours, and the values at positions
            // from `index` on that are marked ready were never read.
            unsafe {
                let rx = &mut *rx;
                let mut current = rx.free_head.as_ptr();
                while !current.is_null() {
                    let block = Box::from_raw(current);
                    for (i, slot) in block.slots.iter().enumerate() {
                        let tag = NonNull::new(slot.tag.load(Ordering::Relaxed));
                        if let (true, Some(tag)) = (block.start + i >= rx.index, tag) {
                            // A panicking `Drop` must not leak the rest.
                            crate::panic::drop_contained(T::from_words(
                                tag,
                                slot.rest.with(|r| *r),
                            ));
                        }
                    }
                    current = block.next.load(Ordering::Relaxed);
                }
            }
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdCounter;
    use std::sync::Arc;

    struct Counted(u64, Arc<StdCounter>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn fifo_across_blocks_and_drop_of_unread() {
        let drops = Arc::new(StdCounter::new(0));
        let q = Queue::new();
        for i in 0..(BLOCK_CAP as u64 * 5 + 3) {
            q.push(Box::new(Counted(i, drops.clone())));
        }
        for i in 0..(BLOCK_CAP as u64 * 3 + 1) {
            // SAFETY: one consumer.
            assert_eq!(unsafe { q.pop() }.unwrap().0, i);
        }
        drop(q);
        assert_eq!(drops.load(Ordering::Relaxed), BLOCK_CAP * 5 + 3);
    }

    #[test]
    fn many_producers_keep_each_order() {
        const PER: u64 = 20_000;
        let q = Arc::new(Queue::new());
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..PER {
                        q.push(Box::new((p, i)));
                    }
                })
            })
            .collect();
        let mut next = [0u64; 4];
        let mut got = 0;
        while got < 4 * PER {
            // SAFETY: this thread is the only consumer.
            match unsafe { q.pop() }.map(|b| *b) {
                Some((p, i)) => {
                    assert_eq!(next[p as usize], i, "producer {p} out of order");
                    next[p as usize] += 1;
                    got += 1;
                }
                None => std::hint::spin_loop(),
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        // SAFETY: as above.
        assert!(unsafe { q.pop() }.is_none());
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two producers push across block boundaries while the consumer reads
    /// and frees blocks: every value arrives once, in each producer's order.
    #[test]
    fn producers_cross_blocks_while_consumer_frees() {
        let mut model = loom::model::Builder::new();
        // Each push may look at every slot of the blocks it walks past.
        model.max_branches = 10_000;
        // Three preemptions (not the suite's two): the smallest bound at
        // which the model catches `block_tail` moving past a block with a
        // slot claimed but unwritten (checked by breaking `is_full`);
        // about ten seconds.
        model.preemption_bound = Some(3);
        model.check(|| {
            let q = Arc::new(Queue::new());
            let producers: Vec<_> = (0..2u32)
                .map(|p| {
                    let q = q.clone();
                    thread::spawn(move || {
                        for i in 0..3u32 {
                            q.push(Box::new((p, i)));
                        }
                    })
                })
                .collect();
            let mut next = [0u32; 2];
            let mut take = |v: Option<Box<(u32, u32)>>| match v.map(|b| *b) {
                Some((p, i)) => {
                    assert_eq!(next[p as usize], i);
                    next[p as usize] += 1;
                    true
                }
                None => false,
            };
            // Read (and free blocks) while the producers push, without
            // waiting for them...
            for _ in 0..4 {
                // SAFETY: this thread is the only consumer.
                take(unsafe { q.pop() });
            }
            for p in producers {
                p.join().unwrap();
            }
            // ...then everything left is there.
            // SAFETY: as above.
            while take(unsafe { q.pop() }) {}
            assert_eq!(next, [3, 3]);
        });
    }
}
