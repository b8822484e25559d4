//! Which workers are searching for work and which are asleep.
//!
//! # Protocol
//!
//! One atomic word packs two counts: workers *searching* (looking for work
//! to steal, not yet running any) and workers *unparked* (not asleep). A
//! mutex-protected list names the sleepers.
//!
//! - A producer that makes work available (injector push, local push that
//!   others may steal) calls `worker_to_notify`: if nobody is searching and
//!   somebody sleeps, it takes one sleeper off the list, counts it as
//!   unparked *and searching* (so concurrent producers do not wake a second
//!   one for the same work), and the caller unparks it.
//! - At most half of the workers search at once (`try_start_searching`), so
//!   an idle runtime does not burn every core stealing from itself.
//! - A searcher that finds work stops searching; if it was the last
//!   searcher it wakes another worker, because the work it found may be one
//!   of several items (this chains wake-ups without a thundering herd).
//! - A worker that goes to sleep registers itself in the list; if it was the
//!   last searcher it must re-check every queue afterwards and wake a worker
//!   if any has work. Producers read the state word with a read-modify-write
//!   after pushing; sleepers update it with one before re-checking; so one
//!   side always sees the other (modelled in `park.rs`, `tests::loom_*`).

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;

const UNPARKED_MASK: usize = 0xFFFF;
const SEARCHING_ONE: usize = 1 << 16;

#[derive(Debug)]
pub(crate) struct Idle {
    /// Read-modify-written by every producer that may need to wake a
    /// worker: on a line of its own, away from read-mostly runtime state.
    state: CachePadded<AtomicUsize>,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers <= UNPARKED_MASK, "too many worker threads");
        Idle {
            state: CachePadded::new(AtomicUsize::new(num_workers)),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn searching(state: usize) -> usize {
        state >> 16
    }

    fn unparked(state: usize) -> usize {
        state & UNPARKED_MASK
    }

    /// True if new work should wake a sleeper: nobody is searching (a
    /// searcher would find it) and somebody sleeps.
    ///
    /// A read-modify-write, not a load: it puts this read in the state
    /// word's modification order, so either it sees a sleeper's `park`
    /// (and wakes it), or that `park` comes after it and the sleeper's
    /// re-check of the queues happens-after the producer's push. A plain
    /// load plus a fence gives no such edge between the two locations.
    fn should_notify(&self) -> bool {
        let state = self.state.fetch_add(0, SeqCst);
        Self::searching(state) == 0 && Self::unparked(state) < self.num_workers
    }

    /// Picks a sleeper other than `caller` to wake for new work, or `None`
    /// if none should be woken. The caller must unpark the returned worker.
    pub(crate) fn worker_to_notify(&self, caller: Option<usize>) -> Option<usize> {
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify() {
            return None;
        }
        // The caller may be on the list (a worker parked in the driver that
        // schedules the tasks an I/O event woke): it runs them itself.
        let pos = sleepers.iter().rposition(|&w| Some(w) != caller)?;
        let worker = sleepers.swap_remove(pos);
        // Unparked and searching: it will look for the work.
        self.state.fetch_add(SEARCHING_ONE | 1, SeqCst);
        Some(worker)
    }

    /// Starts searching unless half of the workers already are.
    pub(crate) fn try_start_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * Self::searching(state) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(SEARCHING_ONE, SeqCst);
        true
    }

    /// Stops searching; returns true if this was the last searcher.
    pub(crate) fn stop_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCHING_ONE, SeqCst);
        Self::searching(prev) == 1
    }

    /// Registers `worker` as asleep. Returns true if it was the last
    /// searcher, in which case the caller must re-check all queues.
    pub(crate) fn park(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = if is_searching { SEARCHING_ONE | 1 } else { 1 };
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        is_searching && Self::searching(prev) == 1
    }

    /// Takes `worker` off the sleeper list because it woke up with work of
    /// its own (an I/O event or timer scheduled tasks on it). Returns false
    /// if somebody else already did (it was notified).
    pub(crate) fn unpark(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.state.fetch_add(1, SeqCst);
                true
            }
            None => false,
        }
    }

    /// True while `worker` is on the sleeper list.
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().contains(&worker)
    }

    pub(crate) fn num_searching(&self) -> usize {
        Self::searching(self.state.load(SeqCst))
    }
}
