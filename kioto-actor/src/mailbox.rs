//! The actor's mailbox: a bounded, lock-free multi-producer queue with one
//! consumer (the actor task), a FIFO list of senders waiting for space, and
//! the consumer's waker.
//!
//! # Design
//!
//! Values live in a lock-free MPSC queue of small blocks (`queue.rs`:
//! values stored in place, one allocation per block of messages).
//! Everything else about the mailbox is one atomic word, `state`:
//!
//! ```text
//!  bit 0  CLOSED     the mailbox accepts nothing more (set once, never cleared)
//!  bit 1  PARKED     the receiver found nothing to do and is about to sleep
//!  bit 2  WAITERS    the wait list is not empty (changed only under its lock)
//!  bit 3  STOP       someone asked the actor to stop (`Addr::stop`)
//!  bits 4.. LEN      places reserved by senders and not yet given back
//! ```
//!
//! A sender first *reserves* a place by raising `LEN` (refused when `LEN` is
//! at capacity, when senders are already waiting, or when closed), then
//! pushes into the queue, then issues a `SeqCst` fence and loads `state`:
//!
//! - `PARKED` set: it clears the bit and wakes the receiver. Senders that find
//!   the bit clear skip the waker entirely, so a busy actor costs its senders
//!   no wake-ups.
//!
//! Closing happens on the receiver's side, after its last poll: set
//! `CLOSED` (no reservation succeeds after it), then take and drop as many
//! values as `LEN` counted at that moment. A place reserved before `CLOSED`
//! is always followed by its push (no await in between), so that wait is
//! short, and every value is dropped by the closer: for a request, dropping
//! the envelope resolves it to `Closed`. A value whose `Drop` panics does not
//! stop the drain (`drop_contained`).
//!
//! The receiver gives places back in `LEN` in batches (`publish`, up to
//! `PUBLISH_EVERY`, a quarter of the capacity at most), always before it
//! sleeps or awaits inside a handler, to stay off the senders' cache line
//! while it drains a flood. As soon as `WAITERS` is set it gives each place
//! back at once instead: batching withheld places from waiting senders and
//! slowed their wake-ups badly under contention (once seen in
//! `actor_mailbox::per_sender_order_under_load`).
//!
//! The receiver, before sleeping, registers its waker, sets `PARKED` (in the
//! same compare-and-swap that gives back the places it has taken), issues
//! a `SeqCst` fence and looks again (queue, `STOP`, sender count). The two
//! fences order "push, then look at `PARKED`" against "set `PARKED`, then look
//! at the queue": at least one side sees the other, so a wake-up is never
//! lost. A push caught half-way by the receiver counts as "nothing yet": its
//! producer completes it and then looks at `PARKED`.
//!
//! # Waiting senders
//!
//! A sender that finds the mailbox full joins the wait list (a `Mutex`ed
//! `VecDeque`: the slow path only) and sets `WAITERS` with the lock held. The
//! receiver, after taking a value, sees `WAITERS` in the value its decrement
//! returned and wakes the head of the list: one freed place, one wake. While
//! `WAITERS` is set, new senders queue behind the waiting ones instead of
//! taking a freed place, which makes waiting senders first come, first served.
//! A woken sender that loses its place to a capacity-bypassing `do_send`
//! rejoins at the front; a woken sender that is dropped passes its wake on.
//!
//! # Who may touch what
//!
//! Any thread: `try_reserve`, `force_reserve`, `push`, `poll_reserve`,
//! `request_stop`, the sender count. The single consumer only: `poll_recv`,
//! `publish`, `clear_stop`, `close`.
//!
//! The single consumer is the task running the actor (one instance at a
//! time, even across supervised restarts), or a party that has proven that
//! no such task can run any more: it awaited the task's end, or the task
//! never started. Nothing else may call the consumer's methods, `close`
//! included: the queue and `taken` are unsynchronised cells. An unsupervised
//! actor's task closes its own mailbox on its way out; a supervised child's
//! cell is closed through its slot's consumer role (`consumer.rs`), which
//! hands the closing to the instance task when one may still run.

use std::collections::VecDeque;
use std::fmt;
use std::task::{Context, Poll, Waker};

use crate::atomic_waker::AtomicWaker;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use crate::panic::drop_contained;
use crate::queue::{Queue, SlotValue};

/// The most places the receiver takes before giving them back in `LEN`
/// while no sender waits (see the module docs).
const PUBLISH_EVERY: usize = 16;

/// Set once when the mailbox stops accepting values; never cleared.
const CLOSED: usize = 1 << 0;
/// Set by the receiver before it sleeps; cleared by whoever wakes it.
const PARKED: usize = 1 << 1;
/// Mirrors "the wait list is not empty"; changed only with the list locked.
const WAITERS: usize = 1 << 2;
/// Set by `request_stop`, cleared by the receiver when it acts on it.
const STOP: usize = 1 << 3;
/// One reserved value in the `LEN` field.
const LEN_ONE: usize = 1 << 4;

/// The sender word: the lower half counts every strong sender, the upper
/// half those of them that are the actor's own keep-alive handles. Every
/// own handle is in both halves, so the word is zero exactly when the lower
/// half is.
const SENDERS_MASK: usize = (1 << (usize::BITS / 2)) - 1;
/// One own sender in the upper half of the sender word.
const OWN_SENDER: usize = 1 << (usize::BITS / 2);

fn len(state: usize) -> usize {
    state >> 4
}

/// The outcome of [`Mailbox::try_reserve`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reserve {
    /// A place is held for the caller: it must `push` exactly one value.
    Reserved,
    /// No place now; waiting may help.
    Full,
    /// The mailbox is closed for good.
    Closed,
}

/// What the receiver found, from [`Mailbox::poll_recv`].
#[derive(Debug)]
pub(crate) enum Recv<T> {
    /// The next value.
    Value(T),
    /// `request_stop` was called (the bit is consumed).
    Stop,
    /// Nothing queued and no sender left: nobody can ever send again, unless
    /// a weak handle is upgraded.
    Idle,
}

/// A sender's place in the wait list, kept by the sending future.
#[derive(Debug, Default)]
pub(crate) struct WaitSlot {
    /// The ticket of our wait-list entry, while we have one (in the list, or
    /// taken out of it by a wake we have not acted on yet).
    ticket: Option<u64>,
}

/// The senders waiting for a place, first come, first served, by ticket.
/// The queue is boxed, and only while someone waits: an actor nobody waits
/// on pays one word for it.
#[derive(Debug, Default)]
struct WaitList {
    // The box is the point: one word inline instead of a `VecDeque`'s four.
    #[allow(clippy::box_collection)]
    entries: Option<Box<VecDeque<(u64, Waker)>>>,
    next_ticket: u64,
}

impl WaitList {
    fn is_empty(&self) -> bool {
        self.entries.is_none()
    }

    /// Adds a waiter, at the front for one whose turn was taken by a
    /// capacity-bypassing send; returns its ticket.
    fn push(&mut self, waker: Waker, front: bool) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let entries = self.entries.get_or_insert_with(Box::default);
        if front {
            entries.push_front((ticket, waker));
        } else {
            entries.push_back((ticket, waker));
        }
        ticket
    }

    fn pop_front(&mut self) -> Option<Waker> {
        let entries = self.entries.as_mut()?;
        let (_, waker) = entries.pop_front()?;
        if entries.is_empty() {
            self.entries = None;
        }
        Some(waker)
    }

    /// The waker of `ticket`'s entry, while it still waits.
    fn get_mut(&mut self, ticket: u64) -> Option<&mut Waker> {
        let entries = self.entries.as_mut()?;
        entries
            .iter_mut()
            .find(|(t, _)| *t == ticket)
            .map(|(_, w)| w)
    }

    /// Removes `ticket`'s entry; false if it was not waiting any more.
    fn remove(&mut self, ticket: u64) -> bool {
        let Some(entries) = self.entries.as_mut() else {
            return false;
        };
        let Some(i) = entries.iter().position(|(t, _)| *t == ticket) else {
            return false;
        };
        entries.remove(i);
        if entries.is_empty() {
            self.entries = None;
        }
        true
    }

    fn take_all(&mut self) -> Vec<Waker> {
        let entries = self.entries.take().map(|e| *e).unwrap_or_default();
        entries.into_iter().map(|(_, w)| w).collect()
    }
}

/// See the module docs.
pub(crate) struct Mailbox<T: SlotValue> {
    /// The values.
    queue: Queue<T>,
    state: AtomicUsize,
    /// The bound `try_reserve` checks `LEN` against; changeable at run time.
    capacity: AtomicUsize,
    /// Strong sender handles (`Addr`, `Recipient`, keep-alive tokens of the
    /// actor's own timers and streams), and in its upper half how many of
    /// them are those keep-alive tokens (`SENDERS_MASK`). Zero with an empty
    /// queue means the actor can never get work again: the receiver reports
    /// `Idle`.
    senders: AtomicUsize,
    rx_waker: AtomicWaker,
    waiters: Mutex<WaitList>,
    /// Places the receiver has taken but not yet given back in `LEN`
    /// (receiver only). Giving them back in batches keeps the receiver off
    /// the senders' cache line while it drains a flood; see `publish`.
    taken: UnsafeCell<usize>,
}

// SAFETY: the queue holds `T`s (sent across threads: `T: Send`); every other
// field is thread-safe, and the single-consumer rule of the queue is upheld
// by the mailbox (only the receiver, or the closer after it, pops).
unsafe impl<T: SlotValue + Send> Send for Mailbox<T> {}
// SAFETY: as for `Send`; `&Mailbox` only pushes `T`s or pops them as the
// single consumer.
unsafe impl<T: SlotValue + Send> Sync for Mailbox<T> {}

impl<T: SlotValue> Mailbox<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Mailbox {
            queue: Queue::new(),
            state: AtomicUsize::new(0),
            capacity: AtomicUsize::new(capacity.max(1)),
            senders: AtomicUsize::new(0),
            rx_waker: AtomicWaker::new(),
            waiters: Mutex::new(WaitList::default()),
            taken: UnsafeCell::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Changes the bound; a larger bound lets waiting senders in at once.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        let old = self.capacity.swap(capacity.max(1), Ordering::AcqRel);
        if capacity > old {
            for _ in old..capacity {
                if !self.wake_one_waiter() {
                    break;
                }
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Reserves a place for one value. `ahead_of_waiters` is for a sender the
    /// wait list has just woken: it may take a place although `WAITERS` is
    /// still set.
    pub(crate) fn try_reserve(&self, ahead_of_waiters: bool) -> Reserve {
        let cap = self.capacity.load(Ordering::Relaxed);
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Reserve::Closed;
            }
            if len(state) >= cap || (state & WAITERS != 0 && !ahead_of_waiters) {
                return Reserve::Full;
            }
            match self.state.compare_exchange(
                state,
                state + LEN_ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Reserve::Reserved,
                Err(actual) => state = actual,
            }
        }
    }

    /// Reserves a place regardless of capacity (`do_send`, `notify`).
    ///
    /// One `fetch_add` rather than `try_reserve`'s compare-and-swap loop:
    /// this is the flood path, and retries under contention would cost
    /// every message. After `CLOSED` the place is given straight back, and
    /// `close` does not count such places (see there).
    pub(crate) fn force_reserve(&self) -> Reserve {
        let prev = self.state.fetch_add(LEN_ONE, Ordering::AcqRel);
        if prev & CLOSED != 0 {
            self.release_place();
            return Reserve::Closed;
        }
        Reserve::Reserved
    }

    /// Gives a reserved place back (the value will not be pushed after all).
    fn release_place(&self) {
        self.release_places(1);
    }

    fn release_places(&self, n: usize) {
        let prev = self.state.fetch_sub(n * LEN_ONE, Ordering::AcqRel);
        self.wake_waiters_for(prev, n);
    }

    /// After `n` places were given back by a change whose previous state
    /// was `prev`: wakes up to `n` waiting senders.
    fn wake_waiters_for(&self, prev: usize, n: usize) {
        if prev & WAITERS != 0 {
            for _ in 0..n {
                if !self.wake_one_waiter() {
                    break;
                }
            }
        }
    }

    /// Receiver only: gives back the places of values taken so far. Called
    /// every few values and before a handler awaits (sleeping in `poll_recv`
    /// gives them back too, in the same operation that sets `PARKED`), so a
    /// place is never withheld from senders while the actor waits (only
    /// while it is busy draining).
    pub(crate) fn publish(&self) {
        let taken = self.take_taken();
        if taken > 0 {
            self.release_places(taken);
        }
    }

    /// Receiver only: the places taken and not yet given back, now zero.
    fn take_taken(&self) -> usize {
        // SAFETY: only the receiver (single consumer) touches `taken`.
        self.taken
            .with_mut(|t| unsafe { std::mem::replace(&mut *t, 0) })
    }

    /// Receiver only: takes the next value, deferring its place's release.
    #[inline]
    fn pop_deferred(&self) -> Option<T> {
        // SAFETY: only the single consumer calls this.
        let value = unsafe { self.queue.pop() }?;
        // Small mailboxes give each place back at once.
        let limit = (self.capacity.load(Ordering::Relaxed) / 4).clamp(1, PUBLISH_EVERY);
        // SAFETY: only the receiver touches `taken`.
        let taken = self.taken.with_mut(|t| unsafe {
            *t += 1;
            *t
        });
        // A waiting sender gets its place at once: batching only applies
        // while nobody waits (a flood of `do_send`s, or senders that found
        // room).
        if taken >= limit || self.state.load(Ordering::Relaxed) & WAITERS != 0 {
            self.publish();
        }
        Some(value)
    }

    /// Pushes a value into a place reserved with `try_reserve`/`force_reserve`.
    #[inline]
    pub(crate) fn push(&self, value: T) {
        self.queue.push(value);
        // If closed meanwhile, the closer waits for our reserved place to be
        // pushed and drops the value itself (see `close`).
        fence(Ordering::SeqCst);
        if self.state.load(Ordering::Relaxed) & PARKED != 0 {
            self.wake_receiver();
        }
    }

    fn wake_receiver(&self) {
        if self.state.fetch_and(!PARKED, Ordering::AcqRel) & PARKED != 0 {
            self.rx_waker.wake();
        }
    }

    /// After a change the receiver must see (stop bit, sender count): wake it
    /// if it sleeps.
    fn notify_receiver(&self) {
        fence(Ordering::SeqCst);
        if self.state.load(Ordering::Relaxed) & PARKED != 0 {
            self.wake_receiver();
        }
    }

    /// Takes the next value: the receiver's non-blocking half. A push caught
    /// half-way counts as empty: its producer notifies when done.
    fn pop(&self) -> Option<T> {
        // SAFETY: only the single consumer calls this (the receiver, or the
        // closer once the receiver is done; see the module docs).
        let value = unsafe { self.queue.pop() }?;
        self.release_place();
        Some(value)
    }

    /// Polls for the next value, a stop request, or idleness (only when
    /// `report_idle`). Only the actor task calls this. The caller spends
    /// coop budget; this does not.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>, report_idle: bool) -> Poll<Recv<T>> {
        if let Some(found) = self.try_recv(report_idle) {
            return Poll::Ready(found);
        }
        self.rx_waker.register(cx.waker());
        // Give back the places taken (waking waiting senders) and announce
        // the park in one read-modify-write: a message ping-pong parks at
        // every message.
        let taken = self.take_taken();
        let mut state = self.state.load(Ordering::Relaxed);
        let prev = loop {
            let parked = (state | PARKED) - taken * LEN_ONE;
            match self.state.compare_exchange_weak(
                state,
                parked,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(prev) => break prev,
                Err(actual) => state = actual,
            }
        };
        self.wake_waiters_for(prev, taken);
        fence(Ordering::SeqCst);
        if let Some(found) = self.try_recv(report_idle) {
            self.state.fetch_and(!PARKED, Ordering::Relaxed);
            return Poll::Ready(found);
        }
        Poll::Pending
    }

    #[inline]
    fn try_recv(&self, report_idle: bool) -> Option<Recv<T>> {
        // Checked before every value, so a stop takes effect after the
        // current message (`Addr::stop` promises that).
        if self.state.load(Ordering::Acquire) & STOP != 0 {
            self.state.fetch_and(!STOP, Ordering::AcqRel);
            return Some(Recv::Stop);
        }
        if let Some(value) = self.pop_deferred() {
            return Some(Recv::Value(value));
        }
        if report_idle && self.senders.load(Ordering::Acquire) == 0 {
            // The last sender may have pushed after our pop above and then
            // gone: its push happens-before the count we just read, so
            // looking once more is conclusive (found by the loom model).
            if let Some(value) = self.pop_deferred() {
                return Some(Recv::Value(value));
            }
            return Some(Recv::Idle);
        }
        None
    }

    /// Takes one queued value without waiting (used by the models).
    #[cfg(loom)]
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.pop()
    }

    /// Asks the receiver to stop; it sees `Recv::Stop` on its next poll.
    pub(crate) fn request_stop(&self) {
        if self.state.fetch_or(STOP, Ordering::AcqRel) & CLOSED == 0 {
            self.notify_receiver();
        }
    }

    /// Forgets a stop request aimed at an earlier instance: a supervised
    /// instance calls it as it starts (a stop made after the restart but
    /// before that moment is forgotten too).
    pub(crate) fn clear_stop(&self) {
        self.state.fetch_and(!STOP, Ordering::AcqRel);
    }

    /// Closes the mailbox for good: refuses every later reservation, drops
    /// every queued value, and wakes every waiting sender (each will see
    /// `Closed`). Returns `false` if it was already closed.
    ///
    /// The caller takes the consumer's role: it must not run while the
    /// receiver polls (the actor task calls it after its loop, or whoever
    /// finishes a cell with no instance running).
    // Cold and never inlined: it runs once per actor, and inlined into the
    // actor task's poll it moved the message loop's code enough to cost 13-25%
    // on the message benchmarks (tell, ping_pong, fanout, pairs; measured).
    #[cold]
    #[inline(never)]
    pub(crate) fn close(&self) -> bool {
        self.publish();
        let prev = self.state.fetch_or(CLOSED, Ordering::SeqCst);
        if prev & CLOSED != 0 {
            return false;
        }
        // `LEN` in `prev` counts exactly the values still to drop: every
        // place taken was given back above, and each place reserved before
        // `CLOSED` is pushed right after (no await in between). A reservation
        // after `CLOSED` (`force_reserve` adds first and looks after) never
        // pushes, so drain that many values rather than waiting for `LEN` to
        // read zero, which a flood of refused `do_send`s could hold off for
        // as long as it lasts. Only the first closer drains (one consumer).
        let mut left = len(prev);
        while left > 0 {
            match self.pop() {
                Some(value) => {
                    left -= 1;
                    drop_contained(value);
                }
                // A push reserved before `CLOSED`, still on its way.
                None => crate::loom::hint::spin_loop(),
            }
        }
        let woken: Vec<Waker> = {
            let mut list = self.waiters.lock();
            self.state.fetch_and(!WAITERS, Ordering::AcqRel);
            list.take_all()
        };
        for w in woken {
            w.wake();
        }
        true
    }

    /// The receiver's task is being dropped (cancelled, or its runtime shut
    /// down): it will never register again, so let go of its waker now.
    /// Left in place, the waker would keep the task's allocation, and with
    /// it the task's runtime (its epoll and event fds, its pool), alive for
    /// as long as any address of the actor lives.
    ///
    /// Not done on every close: a task that ends normally is dropped right
    /// after anyway, and releasing its waker at every close measured 35%
    /// slower on the spawn benchmark (100,000 actors started and stopped;
    /// the waker's release changes when and where the task's memory is
    /// freed, which is the likely cost, not pinned down further).
    #[cold]
    #[inline(never)]
    pub(crate) fn forget_receiver(&self) {
        drop(self.rx_waker.take());
    }

    /// Counts one more strong sender.
    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one more strong sender unless the mailbox is closed (upgrading
    /// a weak handle).
    pub(crate) fn try_add_sender(&self) -> bool {
        self.add_sender();
        if self.is_closed() {
            self.remove_sender();
            return false;
        }
        true
    }

    /// Counts one strong sender less; the last one wakes the receiver so it
    /// can notice it is idle for good.
    pub(crate) fn remove_sender(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify_receiver();
        }
    }

    pub(crate) fn senders(&self) -> usize {
        self.senders.load(Ordering::Acquire) & SENDERS_MASK
    }

    /// Marks one strong sender as the actor's own (a timer's, a stream's or
    /// a spawned future's keep-alive handle), counted in the upper half of
    /// the same word, so one load tells how many senders are someone
    /// else's. Call after the handle exists; `unmark_own_sender` before it
    /// goes: in between, a reader sees at most one sender too many, never
    /// one too few.
    pub(crate) fn mark_own_sender(&self) {
        self.senders.fetch_add(OWN_SENDER, Ordering::Relaxed);
    }

    pub(crate) fn unmark_own_sender(&self) {
        self.senders.fetch_sub(OWN_SENDER, Ordering::Release);
    }

    /// Strong senders other than the actor's own keep-alive handles.
    pub(crate) fn foreign_senders(&self) -> usize {
        let word = self.senders.load(Ordering::Acquire);
        (word & SENDERS_MASK).saturating_sub(word >> (usize::BITS / 2))
    }

    /// Wakes the first waiting sender, if any. Returns whether one was woken.
    fn wake_one_waiter(&self) -> bool {
        let waker = {
            let mut list = self.waiters.lock();
            let head = list.pop_front();
            if list.is_empty() {
                self.state.fetch_and(!WAITERS, Ordering::AcqRel);
            }
            head
        };
        match waker {
            Some(w) => {
                w.wake();
                true
            }
            None => false,
        }
    }

    /// Polls for a place, waiting in the FIFO list while the mailbox is full.
    /// On `Ready(Ok)` a place is reserved and exactly one value must be
    /// pushed; `Ready(Err)` means closed.
    pub(crate) fn poll_reserve(
        &self,
        cx: &mut Context<'_>,
        slot: &mut WaitSlot,
    ) -> Poll<Result<(), ()>> {
        let woken = match slot.ticket {
            None => false,
            Some(ticket) => {
                let mut list = self.waiters.lock();
                if let Some(waker) = list.get_mut(ticket) {
                    // Still waiting for our turn.
                    if !waker.will_wake(cx.waker()) {
                        *waker = cx.waker().clone();
                    }
                    return Poll::Pending;
                }
                slot.ticket = None;
                true
            }
        };
        match self.try_reserve(woken) {
            Reserve::Reserved => return Poll::Ready(Ok(())),
            Reserve::Closed => return Poll::Ready(Err(())),
            Reserve::Full => {}
        }
        let (ticket, prev) = {
            let mut list = self.waiters.lock();
            let ticket = list.push(cx.waker().clone(), woken);
            (ticket, self.state.fetch_or(WAITERS, Ordering::AcqRel))
        };
        slot.ticket = Some(ticket);
        if prev & CLOSED != 0 {
            self.cancel_wait(slot);
            return Poll::Ready(Err(()));
        }
        if len(prev) < self.capacity.load(Ordering::Relaxed) {
            // A place freed before `WAITERS` was visible, and nobody was
            // woken for it: wake the head (possibly us) in its stead.
            self.wake_one_waiter();
        }
        Poll::Pending
    }

    /// Leaves the wait list (the sending future is dropped or done). A sender
    /// that was woken but never took its place passes the wake on.
    pub(crate) fn cancel_wait(&self, slot: &mut WaitSlot) {
        let Some(ticket) = slot.ticket.take() else {
            return;
        };
        let pass_on = {
            let mut list = self.waiters.lock();
            if list.remove(ticket) {
                if list.is_empty() {
                    self.state.fetch_and(!WAITERS, Ordering::AcqRel);
                }
                false
            } else {
                true
            }
        };
        if pass_on {
            self.wake_one_waiter();
        }
    }
}

impl<T: SlotValue> fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Mailbox")
            .field("len", &len(state))
            .field("capacity", &self.capacity())
            .field("closed", &(state & CLOSED != 0))
            .field("senders", &self.senders())
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    //! Models of the protocol above. Run with
    //! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p kioto-actor --lib --release --target-dir target/loom`.

    use super::*;
    use loom::sync::atomic::AtomicUsize as Counter;
    use loom::sync::Arc;
    use loom::thread;
    use std::future::poll_fn;

    /// A queued test value: a number and an optional drop counter, so
    /// "taken by the receiver or dropped by the closer" can be checked
    /// exactly.
    struct Val {
        value: u32,
        drops: Option<Arc<Counter>>,
    }

    impl Val {
        fn new(value: u32) -> Box<Self> {
            Box::new(Val { value, drops: None })
        }
        fn counted(drops: Arc<Counter>) -> Box<Self> {
            Box::new(Val {
                value: 0,
                drops: Some(drops),
            })
        }
    }

    impl Drop for Val {
        fn drop(&mut self) {
            if let Some(d) = &self.drops {
                d.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn mailbox(capacity: usize) -> Arc<Mailbox<Box<Val>>> {
        Arc::new(Mailbox::new(capacity))
    }

    /// Two senders and one receiver: every value sent is received, and the
    /// receiver, parked on an empty mailbox, is always woken.
    #[test]
    fn send_vs_receive_no_lost_wakeup() {
        loom::model(|| {
            let mb = mailbox(4);
            mb.add_sender();
            mb.add_sender();
            let senders: Vec<_> = (0..2)
                .map(|i| {
                    let mb = mb.clone();
                    thread::spawn(move || {
                        assert_eq!(mb.try_reserve(false), Reserve::Reserved);
                        mb.push(Val::new(i));
                        mb.remove_sender();
                    })
                })
                .collect();
            let mut got = Vec::new();
            loom::future::block_on(poll_fn(|cx| loop {
                match mb.poll_recv(cx, true) {
                    Poll::Ready(Recv::Value(v)) => got.push(v.value),
                    Poll::Ready(Recv::Idle) => return Poll::Ready(()),
                    Poll::Ready(Recv::Stop) => unreachable!(),
                    Poll::Pending => return Poll::Pending,
                }
            }));
            for s in senders {
                s.join().unwrap();
            }
            got.sort_unstable();
            assert_eq!(got, vec![0, 1]);
        });
    }

    /// A sender races the receiver closing the mailbox: the value is either
    /// received, or refused, or dropped by a drain before anyone can wait on
    /// it forever; never left in the queue.
    #[test]
    fn send_vs_close_no_lost_message() {
        loom::model(|| {
            let mb = mailbox(2);
            let drops = Arc::new(Counter::new(0));
            let sender = {
                let mb = mb.clone();
                let drops = drops.clone();
                thread::spawn(move || match mb.force_reserve() {
                    Reserve::Reserved => {
                        mb.push(Val::counted(drops));
                        true
                    }
                    _ => false,
                })
            };
            let received = match mb.try_pop() {
                Some(v) => {
                    drop(v);
                    1
                }
                None => 0,
            };
            mb.close();
            // Every accepted value was taken or dropped by the closer before
            // the mailbox itself goes away.
            let accepted = sender.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed), usize::from(accepted));
            assert!(received <= usize::from(accepted));
        });
    }

    /// A full mailbox: a waiting sender is woken by the receiver taking a
    /// value (no lost wake-up on the wait list) and its value arrives.
    #[test]
    fn waiting_sender_is_woken() {
        loom::model(|| {
            let mb = mailbox(1);
            assert_eq!(mb.try_reserve(false), Reserve::Reserved);
            mb.push(Val::new(1));
            let sender = {
                let mb = mb.clone();
                thread::spawn(move || {
                    let mut slot = WaitSlot::default();
                    let res = loom::future::block_on(poll_fn(|cx| mb.poll_reserve(cx, &mut slot)));
                    assert_eq!(res, Ok(()));
                    mb.push(Val::new(2));
                })
            };
            assert_eq!(mb.try_pop().map(|v| v.value), Some(1));
            let v = loom::future::block_on(poll_fn(|cx| match mb.poll_recv(cx, false) {
                Poll::Ready(Recv::Value(v)) => Poll::Ready(v.value),
                Poll::Ready(_) => unreachable!(),
                Poll::Pending => Poll::Pending,
            }));
            assert_eq!(v, 2);
            sender.join().unwrap();
        });
    }

    /// A sender waiting on a mailbox of capacity 8 is woken by the place
    /// releases (this is the model for batched release when
    /// `PUBLISH_EVERY > 1`: two at a time at this capacity).
    #[test]
    fn deferred_release_wakes_waiting_sender() {
        loom::model(|| {
            let mb = mailbox(8);
            for i in 0..8 {
                assert_eq!(mb.try_reserve(false), Reserve::Reserved);
                mb.push(Val::new(i));
            }
            let sender = {
                let mb = mb.clone();
                thread::spawn(move || {
                    let mut slot = WaitSlot::default();
                    let res = loom::future::block_on(poll_fn(|cx| mb.poll_reserve(cx, &mut slot)));
                    assert_eq!(res, Ok(()));
                    mb.push(Val::new(8));
                })
            };
            let mut got = Vec::new();
            loom::future::block_on(poll_fn(|cx| loop {
                match mb.poll_recv(cx, false) {
                    Poll::Ready(Recv::Value(v)) => {
                        got.push(v.value);
                        if got.len() == 9 {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Ready(_) => unreachable!(),
                    Poll::Pending => return Poll::Pending,
                }
            }));
            sender.join().unwrap();
            assert_eq!(got, (0..9).collect::<Vec<_>>());
        });
    }

    /// A sender waiting on a full mailbox is released by `close`.
    #[test]
    fn close_releases_waiting_sender() {
        loom::model(|| {
            let mb = mailbox(1);
            assert_eq!(mb.try_reserve(false), Reserve::Reserved);
            mb.push(Val::new(1));
            let sender = {
                let mb = mb.clone();
                thread::spawn(move || {
                    let mut slot = WaitSlot::default();
                    loom::future::block_on(poll_fn(|cx| mb.poll_reserve(cx, &mut slot)))
                })
            };
            mb.close();
            assert_eq!(sender.join().unwrap(), Err(()));
        });
    }

    /// `request_stop` from another thread wakes a parked receiver.
    #[test]
    fn stop_request_wakes_receiver() {
        loom::model(|| {
            let mb = mailbox(1);
            mb.add_sender();
            let stopper = {
                let mb = mb.clone();
                thread::spawn(move || mb.request_stop())
            };
            loom::future::block_on(poll_fn(|cx| match mb.poll_recv(cx, true) {
                Poll::Ready(Recv::Stop) => Poll::Ready(()),
                Poll::Ready(_) => unreachable!(),
                Poll::Pending => Poll::Pending,
            }));
            stopper.join().unwrap();
        });
    }
}
