//! The hierarchical timer wheel: 6 levels of 64 slots, millisecond ticks.
//!
//! # Design
//!
//! Time is a `u64` count of milliseconds since the driver started. Level
//! `l` has 64 slots of `64^l` ms each, so level 0 covers the next 64 ms one
//! millisecond per slot, level 1 the next 4 s in 64 ms slots, ..., level 5
//! about 2.2 years in 12.7-day slots. A timer lives at the lowest level
//! whose slot granularity separates its deadline from `elapsed` (the wheel's
//! current time): the level of the highest bit in which `deadline` and
//! `elapsed` differ, divided by 6. When a higher-level slot comes due, its
//! timers are not fired but re-inserted, and they fall to a lower level, so
//! each timer moves at most 5 times, and finding the next deadline is a
//! `trailing_zeros` on a 64-bit occupancy mask per level.
//!
//! # Invariants
//!
//! 1. Every pending entry with deadline `d` sits in level
//!    `min(5, msb(d ^ elapsed) / 6)` as computed when it was last placed,
//!    and its slot starts after `elapsed`; `advance` processes slots in
//!    time order, so no entry is ever left behind `elapsed`.
//! 2. Entries at a lower level always expire before any slot of a higher
//!    level starts (they share `elapsed`'s block at the higher level), so
//!    the next expiration is the first occupied slot of the lowest
//!    non-empty level.
//! 3. Deadlines farther than level 5 can express are clamped when placed
//!    (never fired early: a slot only fires entries whose real deadline has
//!    passed; the rest are placed again).
//! 4. An entry fires only when `elapsed >= deadline`, so with `elapsed`
//!    rounded down from the clock and deadlines rounded up, no timer fires
//!    before its `Instant`.
//!
//! # Storage: a slab with generations, not intrusive nodes
//!
//! Entries live in a `Vec` slab owned by the wheel, linked into their slot
//! by `u32` indices (doubly linked, so cancelling is O(1)). A `Sleep` holds
//! only a [`TimerKey`] (index + generation). This costs no allocation per
//! timer beyond the slab's amortised growth (slots are reused through a
//! free list), needs no `unsafe` and no pinning, and a stale key (the
//! entry was freed and reused) is detected by its generation instead of
//! becoming a use-after-free. The price of the intrusive alternative's
//! absence is one mutex acquisition per insert/poll/cancel, which the
//! driver's lock already implies.

use std::task::Waker;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const NIL: u32 = u32::MAX;
/// Largest distance from `elapsed` a placement can express (invariant 3).
const MAX_SPAN: u64 = (SLOTS as u64 - 1) << (SLOT_BITS * (LEVELS as u32 - 1));

/// Identifies one timer in the wheel; stale keys are recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

/// Result of [`Wheel::insert`].
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Pending; poll or remove it with this key.
    Inserted(TimerKey),
    /// The deadline has already passed: nothing was stored.
    Elapsed,
}

/// Result of [`Wheel::poll`].
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PollTimer {
    /// The timer fired; its entry has been freed and the key is now stale.
    Fired,
    /// Still waiting; the waker was updated.
    Pending,
    /// Cancelled by the runtime's shutdown before it fired; its entry has
    /// been freed.
    Cancelled,
}

#[derive(Debug)]
enum State {
    /// On the free list; `next` links free entries.
    Free,
    /// Linked into `levels[level].slots[slot]`.
    Pending { level: u8, slot: u8 },
    /// Fired, waker taken; kept until its owner polls or removes it.
    Fired,
    /// Woken by the runtime's shutdown before its deadline (`fire_all`);
    /// kept until its owner polls or removes it. Unlike `Fired`, no time
    /// passed: its owner must not read it as elapsed.
    Cancelled,
}

#[derive(Debug)]
struct Entry {
    deadline: u64,
    waker: Option<Waker>,
    prev: u32,
    next: u32,
    generation: u32,
    state: State,
}

#[derive(Debug)]
struct Level {
    /// Bit `i` set iff `heads[i]` is not empty.
    occupied: u64,
    heads: [u32; SLOTS],
}

/// The timer wheel. Not synchronised: the driver keeps it behind a mutex.
#[derive(Debug)]
pub(crate) struct Wheel {
    /// The wheel's notion of now, in ms; only moves forward in `advance`.
    elapsed: u64,
    levels: Box<[Level; LEVELS]>,
    slab: Vec<Entry>,
    free_head: u32,
    /// Entries in the `Pending` state.
    pending: usize,
}

impl Default for Wheel {
    fn default() -> Self {
        Self::new()
    }
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        const EMPTY: Level = Level {
            occupied: 0,
            heads: [NIL; SLOTS],
        };
        Wheel {
            elapsed: 0,
            levels: Box::new([EMPTY; LEVELS]),
            slab: Vec::new(),
            free_head: NIL,
            pending: 0,
        }
    }

    /// The wheel's current time in ms.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of timers waiting to fire.
    pub(crate) fn len(&self) -> usize {
        self.pending
    }

    /// Adds a timer firing at `deadline` (ms) that wakes `waker` (cloned
    /// only when the timer is stored).
    pub(crate) fn insert(&mut self, deadline: u64, waker: &Waker) -> Insert {
        if deadline <= self.elapsed {
            return Insert::Elapsed;
        }
        let index = self.alloc(deadline, waker.clone());
        self.place(index);
        self.pending += 1;
        Insert::Inserted(TimerKey {
            index,
            generation: self.slab[index as usize].generation,
        })
    }

    /// Checks whether the timer fired; if not, makes `waker` the one it
    /// wakes. A stale key reads as fired (its entry is gone).
    ///
    /// Also returns the waker that `waker` replaced, so the caller can drop
    /// it outside its lock (a waker's `Drop` may use the timers).
    pub(crate) fn poll(&mut self, key: TimerKey, waker: &Waker) -> (PollTimer, Option<Waker>) {
        let Some(entry) = self.entry_mut(key) else {
            return (PollTimer::Fired, None);
        };
        match entry.state {
            State::Pending { .. } => {
                let replaced = match &entry.waker {
                    Some(w) if w.will_wake(waker) => None,
                    _ => entry.waker.replace(waker.clone()),
                };
                (PollTimer::Pending, replaced)
            }
            State::Cancelled => {
                self.free(key.index);
                (PollTimer::Cancelled, None)
            }
            _ => {
                self.free(key.index);
                (PollTimer::Fired, None)
            }
        }
    }

    /// Whether the timer has fired and not yet been polled or removed. A
    /// stale key reads as not fired: its owner already observed the end.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        matches!(
            self.slab.get(key.index as usize),
            Some(e) if e.generation == key.generation && matches!(e.state, State::Fired)
        )
    }

    /// Cancels the timer (or releases a fired one). Returns its waker, so
    /// the caller can drop it outside its lock. Stale keys are ignored.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let entry = self.entry_mut(key)?;
        let waker = entry.waker.take();
        if let State::Pending { .. } = entry.state {
            self.unlink(key.index);
            self.pending -= 1;
        }
        self.free(key.index);
        waker
    }

    /// The time (ms) of the next slot that needs processing: the exact
    /// deadline at level 0, a cascade point above. `None` when empty.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Moves time forward to `now`, firing every timer with a deadline
    /// `<= now`: their wakers are pushed to `fired`.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) {
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = self.elapsed.max(start);
            let lvl = &mut self.levels[level];
            let mut index = lvl.heads[slot];
            lvl.heads[slot] = NIL;
            lvl.occupied &= !(1u64 << slot);
            while index != NIL {
                let entry = &mut self.slab[index as usize];
                let next = entry.next;
                entry.prev = NIL;
                entry.next = NIL;
                if entry.deadline <= self.elapsed {
                    entry.state = State::Fired;
                    fired.extend(entry.waker.take());
                    self.pending -= 1;
                } else {
                    self.place(index);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// Wakes every pending timer as cancelled (runtime shutdown); timers
    /// that already fired stay fired.
    pub(crate) fn fire_all(&mut self, fired: &mut Vec<Waker>) {
        for level in self.levels.iter_mut() {
            level.occupied = 0;
            level.heads = [NIL; SLOTS];
        }
        for entry in &mut self.slab {
            if let State::Pending { .. } = entry.state {
                entry.state = State::Cancelled;
                entry.prev = NIL;
                entry.next = NIL;
                fired.extend(entry.waker.take());
            }
        }
        self.pending = 0;
    }

    fn entry_mut(&mut self, key: TimerKey) -> Option<&mut Entry> {
        match self.slab.get_mut(key.index as usize) {
            Some(e) if e.generation == key.generation && !matches!(e.state, State::Free) => Some(e),
            _ => None,
        }
    }

    fn alloc(&mut self, deadline: u64, waker: Waker) -> u32 {
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.slab[index as usize];
            self.free_head = entry.next;
            entry.deadline = deadline;
            entry.waker = Some(waker);
            entry.prev = NIL;
            entry.next = NIL;
            index
        } else {
            let index = u32::try_from(self.slab.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("too many timers");
            self.slab.push(Entry {
                deadline,
                waker: Some(waker),
                prev: NIL,
                next: NIL,
                generation: 0,
                state: State::Free,
            });
            index
        }
    }

    fn free(&mut self, index: u32) {
        let entry = &mut self.slab[index as usize];
        // Every caller took the waker out first (firing or `remove` did), so
        // nothing is dropped here, under the driver's lock.
        debug_assert!(entry.waker.is_none(), "a freed timer still held a waker");
        entry.state = State::Free;
        entry.generation = entry.generation.wrapping_add(1);
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
    }

    /// Links a pending entry into the slot its deadline maps to.
    fn place(&mut self, index: u32) {
        let deadline = self.slab[index as usize].deadline;
        debug_assert!(deadline > self.elapsed);
        let (level, slot) = slot_for(self.elapsed, deadline);
        let head = self.levels[level].heads[slot];
        {
            let entry = &mut self.slab[index as usize];
            entry.state = State::Pending {
                level: level as u8,
                slot: slot as u8,
            };
            entry.prev = NIL;
            entry.next = head;
        }
        if head != NIL {
            self.slab[head as usize].prev = index;
        }
        let lvl = &mut self.levels[level];
        lvl.heads[slot] = index;
        lvl.occupied |= 1u64 << slot;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.slab[index as usize];
            let State::Pending { level, slot } = e.state else {
                unreachable!("unlink of an entry that is not pending")
            };
            (e.prev, e.next, level as usize, slot as usize)
        };
        if prev == NIL {
            let lvl = &mut self.levels[level];
            lvl.heads[slot] = next;
            if next == NIL {
                lvl.occupied &= !(1u64 << slot);
            }
        } else {
            self.slab[prev as usize].next = next;
        }
        if next != NIL {
            self.slab[next as usize].prev = prev;
        }
    }

    /// The first occupied slot of the lowest non-empty level (invariant 2)
    /// and the time it starts.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for (level, lvl) in self.levels.iter().enumerate() {
            if lvl.occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let current = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let offset = lvl.occupied.rotate_right(current as u32).trailing_zeros() as u64;
            let slot = (current + offset as usize) & (SLOTS - 1);
            let start = ((self.elapsed >> shift) + offset) << shift;
            return Some((level, slot, start));
        }
        None
    }
}

/// Level and slot for `deadline` seen from `elapsed` (`deadline > elapsed`).
fn slot_for(elapsed: u64, deadline: u64) -> (usize, usize) {
    let deadline = deadline.min(elapsed + MAX_SPAN);
    let significant = 63 - ((elapsed ^ deadline) | (SLOTS as u64 - 1)).leading_zeros();
    let level = ((significant / SLOT_BITS) as usize).min(LEVELS - 1);
    let slot = ((deadline >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
    (level, slot)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that records the wheel time at which it was woken.
    struct Probe {
        clock: Arc<AtomicU64>,
        woken_at: AtomicU64,
    }
    impl Wake for Probe {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.woken_at
                .store(self.clock.load(Ordering::SeqCst), Ordering::SeqCst);
        }
    }

    fn probe(clock: &Arc<AtomicU64>) -> (Arc<Probe>, Waker) {
        let p = Arc::new(Probe {
            clock: clock.clone(),
            woken_at: AtomicU64::new(u64::MAX),
        });
        (p.clone(), Waker::from(p))
    }

    /// Advances one ms at a time, recording when each waker fired.
    fn run_until(wheel: &mut Wheel, clock: &Arc<AtomicU64>, end: u64) {
        let mut fired = Vec::new();
        let mut now = wheel.elapsed();
        while now < end {
            // Jump straight to the next expiration when there is one.
            now = wheel.next_expiration().unwrap_or(end).clamp(now + 1, end);
            clock.store(now, Ordering::SeqCst);
            wheel.advance(now, &mut fired);
            fired.drain(..).for_each(Waker::wake);
        }
    }

    #[test]
    fn fires_exactly_at_deadline_across_levels() {
        let clock = Arc::new(AtomicU64::new(0));
        let mut wheel = Wheel::new();
        let deadlines = [1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 300_000, 20_000_000];
        let mut probes = Vec::new();
        for &d in &deadlines {
            let (p, w) = probe(&clock);
            assert!(matches!(wheel.insert(d, &w), Insert::Inserted(_)));
            probes.push((d, p));
        }
        assert_eq!(wheel.len(), deadlines.len());
        run_until(&mut wheel, &clock, 30_000_000);
        for (d, p) in probes {
            assert_eq!(p.woken_at.load(Ordering::SeqCst), d, "deadline {d}");
        }
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn coarse_advance_never_fires_early_and_fires_everything_due() {
        let clock = Arc::new(AtomicU64::new(0));
        let mut wheel = Wheel::new();
        let mut probes = Vec::new();
        let mut x = 12345u64;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let d = 1 + (x >> 33) % 200_000;
            let (p, w) = probe(&clock);
            let _ = wheel.insert(d, &w);
            probes.push((d, p));
        }
        let mut fired = Vec::new();
        let mut now = 0;
        while now < 200_000 {
            now += 777; // advance in big, unaligned steps
            clock.store(now, Ordering::SeqCst);
            wheel.advance(now, &mut fired);
            fired.drain(..).for_each(Waker::wake);
            for (d, p) in &probes {
                let at = p.woken_at.load(Ordering::SeqCst);
                if *d <= now {
                    assert!(at != u64::MAX && at >= *d, "deadline {d} fired at {at}");
                } else {
                    assert_eq!(at, u64::MAX, "deadline {d} fired early at {now}");
                }
            }
        }
    }

    #[test]
    fn cancel_and_stale_keys() {
        let clock = Arc::new(AtomicU64::new(0));
        let mut wheel = Wheel::new();
        let (p1, w1) = probe(&clock);
        let (p2, w2) = probe(&clock);
        let Insert::Inserted(k1) = wheel.insert(10, &w1) else {
            panic!()
        };
        let Insert::Inserted(k2) = wheel.insert(10, &w2) else {
            panic!()
        };
        assert!(wheel.remove(k1).is_some());
        assert_eq!(wheel.len(), 1);
        // The freed slot is reused with a new generation; the old key is stale.
        let (_p3, w3) = probe(&clock);
        let Insert::Inserted(k3) = wheel.insert(5000, &w3) else {
            panic!()
        };
        assert_eq!(k3.index, k1.index);
        assert_ne!(k3, k1);
        assert!(wheel.remove(k1).is_none());
        assert_eq!(wheel.poll(k2, &w2).0, PollTimer::Pending);
        run_until(&mut wheel, &clock, 20);
        assert_eq!(p1.woken_at.load(Ordering::SeqCst), u64::MAX);
        assert_eq!(p2.woken_at.load(Ordering::SeqCst), 10);
        assert_eq!(wheel.poll(k2, &w2).0, PollTimer::Fired);
        assert_eq!(
            wheel.poll(k2, &w2).0,
            PollTimer::Fired,
            "stale key reads as fired"
        );
        assert_eq!(wheel.len(), 1);
        assert!(wheel.remove(k3).is_some());
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn past_deadlines_are_elapsed_and_far_future_is_clamped() {
        let clock = Arc::new(AtomicU64::new(0));
        let mut wheel = Wheel::new();
        let mut fired = Vec::new();
        wheel.advance(1000, &mut fired);
        let (_, w) = probe(&clock);
        assert_eq!(wheel.insert(1000, &w), Insert::Elapsed);
        assert_eq!(wheel.insert(3, &w), Insert::Elapsed);
        // Beyond level 5's span (~2.2 years) and near the end of time.
        let far = [MAX_SPAN * 3 + 17, u64::MAX / 2, u64::MAX];
        let mut keys = Vec::new();
        for &d in &far {
            let (p, w) = probe(&clock);
            let Insert::Inserted(k) = wheel.insert(d, &w) else {
                panic!()
            };
            keys.push((k, p));
            let next = wheel.next_expiration().unwrap();
            assert!(next > 1000 && next <= d);
        }
        // Advance in huge steps: nothing fires before its deadline.
        let mut now = 1000u64;
        for _ in 0..10 {
            now += MAX_SPAN;
            clock.store(now, Ordering::SeqCst);
            wheel.advance(now, &mut fired);
            fired.drain(..).for_each(Waker::wake);
        }
        let at = keys[0].1.woken_at.load(Ordering::SeqCst);
        assert!(at != u64::MAX && at >= far[0] && at < far[0] + MAX_SPAN);
        assert_eq!(keys[1].1.woken_at.load(Ordering::SeqCst), u64::MAX);
        assert_eq!(wheel.len(), 2);
        // Shutdown fires the rest.
        wheel.fire_all(&mut fired);
        assert_eq!(fired.len(), 2);
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn many_timers_in_one_slot_and_interleaved_removal() {
        let clock = Arc::new(AtomicU64::new(0));
        let mut wheel = Wheel::new();
        let mut keys = Vec::new();
        let mut probes = Vec::new();
        for i in 0..1000u64 {
            let (p, w) = probe(&clock);
            let Insert::Inserted(k) = wheel.insert(70 + i % 3, &w) else {
                panic!()
            };
            keys.push(k);
            probes.push(p);
        }
        for k in keys.iter().step_by(2) {
            let _ = wheel.remove(*k);
        }
        assert_eq!(wheel.len(), 500);
        run_until(&mut wheel, &clock, 100);
        for (i, p) in probes.iter().enumerate() {
            let at = p.woken_at.load(Ordering::SeqCst);
            if i % 2 == 0 {
                assert_eq!(at, u64::MAX);
            } else {
                assert_eq!(at, 70 + i as u64 % 3);
            }
        }
    }
}
