//! The readiness of one registered I/O resource and the tasks waiting on it.
//!
//! # Design
//!
//! mio is edge-triggered: the kernel reports "readable" once, and it is up
//! to us to remember it until an operation on the socket says `WouldBlock`.
//! [`ScheduledIo`] is that memory. It is shared (by `Arc`) between the
//! driver's registry, which writes readiness when an event arrives, and the
//! resource (`TcpStream`, ...), which reads it before trying a syscall and
//! clears it when the syscall would block.
//!
//! # Invariants
//!
//! 1. The readiness word is one `AtomicU64`: bits `0..5` are [`Ready`] bits,
//!    bit 5 is `SHUTDOWN`, bits `16..48` are a *tick* that the driver
//!    increments on every event it dispatches to this resource.
//! 2. The driver only ever *sets* readiness bits (`dispatch`); resources only
//!    ever *clear* them (`clear_readiness`), and only through a
//!    compare-and-swap that checks the tick they observed when they read the
//!    readiness. So a clear can never erase an event that arrived after the
//!    caller looked (the ABA problem edge-triggered readiness otherwise has:
//!    "readable" observed, read says WouldBlock, a new event sets readable,
//!    the late clear wipes it, and the task sleeps forever).
//! 3. There is one waiter list per direction (reader, writer), behind a
//!    mutex. A waiter stores its waker under the lock and then re-reads the
//!    readiness under the lock; the driver sets readiness *before* taking the
//!    lock to collect wakers. Either the driver's lock comes after the
//!    waiter's (it finds the waker), or before (the waiter's re-read sees the
//!    new bits). No wake-up is lost.
//! 4. A list holds each distinct waker once (`will_wake` dedup), so a task
//!    re-polling costs no growth, and several tasks waiting on one direction
//!    (an `Arc<UdpSocket>` shared by receivers) are all woken by the event:
//!    no waiter displaces another, so nothing hangs or spins. A waker whose
//!    future was dropped stays until the next event or deregistration and
//!    is then woken spuriously, which wakers must tolerate. One waiter per
//!    direction, what owned halves give, never allocates more than once.
//! 5. After `SHUTDOWN` is set no waker is stored any more (a waiter that
//!    stored one and then sees `SHUTDOWN` takes it back out), so runtime
//!    shutdown breaks every `task -> resource -> waker -> task` cycle.

use crate::loom::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire};
use crate::loom::sync::Mutex;
use std::fmt;
use std::io;
use std::task::{Context, Poll, Waker};

/// A set of readiness bits, as reported by mio.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready(u8);

impl Ready {
    pub(crate) const EMPTY: Ready = Ready(0);
    /// Set when mio reports `is_readable`; cleared on a read's `WouldBlock`.
    pub(crate) const READABLE: Ready = Ready(1);
    /// Set when mio reports `is_writable`; cleared on a write's `WouldBlock`.
    pub(crate) const WRITABLE: Ready = Ready(2);
    /// The peer closed its write side: reads now return `Ok(0)`. Never cleared.
    pub(crate) const READ_CLOSED: Ready = Ready(4);
    /// Our write side is closed (reset, refused): writes now fail. Never cleared.
    pub(crate) const WRITE_CLOSED: Ready = Ready(8);
    /// The socket has a pending error; the next operation reports it.
    pub(crate) const ERROR: Ready = Ready(16);

    /// The bits a `clear_readiness` may remove (closed bits are sticky).
    const CLEARABLE: Ready = Ready(1 | 2 | 16);

    pub(crate) fn from_mio(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready = ready | Ready::READABLE;
        }
        if event.is_writable() {
            ready = ready | Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready = ready | Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready = ready | Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready = ready | Ready::ERROR;
        }
        ready
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl std::ops::BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, rhs: Ready) -> Ready {
        Ready(self.0 & rhs.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            "READABLE",
            "WRITABLE",
            "READ_CLOSED",
            "WRITE_CLOSED",
            "ERROR",
        ];
        let mut list = f.debug_set();
        for (bit, name) in names.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                list.entry(&format_args!("{name}"));
            }
        }
        list.finish()
    }
}

/// Which half of a resource an operation uses; picks the waker slot and
/// the readiness bits that let it proceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// Any of these bits means "an operation in this direction will not
    /// block": it will succeed, return EOF, or return the error.
    fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
        }
    }
}

/// The readiness a waiter observed, with the tick it observed it at; pass
/// it back to [`ScheduledIo::clear_readiness`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    tick: u32,
    pub(crate) ready: Ready,
}

const READY_MASK: u64 = 0x1f;
/// Set once by runtime shutdown; every wait then fails.
const SHUTDOWN: u64 = 1 << 5;
const TICK_SHIFT: u32 = 16;
const TICK_MASK: u64 = 0xffff_ffff << TICK_SHIFT;

fn tick_of(word: u64) -> u32 {
    ((word & TICK_MASK) >> TICK_SHIFT) as u32
}

fn ready_of(word: u64) -> Ready {
    Ready((word & READY_MASK) as u8)
}

pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("runtime is shutting down")
}

/// Readiness and waiters of one registered resource. See the module docs.
pub(crate) struct ScheduledIo {
    /// Ready bits | SHUTDOWN | tick (invariant 1).
    readiness: AtomicU64,
    /// The tasks waiting for each direction (invariant 3).
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    reader: Vec<Waker>,
    writer: Vec<Waker>,
}

impl ScheduledIo {
    pub(crate) fn new() -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicU64::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Records an event from the driver and moves the wakers of the
    /// directions it unblocks into `wakers` (woken by the caller, outside
    /// every lock).
    pub(crate) fn dispatch(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        let mut cur = self.readiness.load(Acquire);
        loop {
            let tick = tick_of(cur).wrapping_add(1);
            let new = (cur & !TICK_MASK) | u64::from(ready.0) | (u64::from(tick) << TICK_SHIFT);
            match self
                .readiness
                .compare_exchange_weak(cur, new, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let mut waiters = self.waiters.lock();
        if ready.intersects(Direction::Read.mask()) {
            wakers.append(&mut waiters.reader);
        }
        if ready.intersects(Direction::Write.mask()) {
            wakers.append(&mut waiters.writer);
        }
    }

    /// Marks the resource shut down and hands out every stored waker.
    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, AcqRel);
        self.take_wakers(wakers);
    }

    /// Hands out every stored waker (deregistration).
    pub(crate) fn take_wakers(&self, wakers: &mut Vec<Waker>) {
        let mut waiters = self.waiters.lock();
        wakers.append(&mut waiters.reader);
        wakers.append(&mut waiters.writer);
    }

    /// The current readiness for `direction`, without registering interest.
    pub(crate) fn ready_now(&self, direction: Direction) -> io::Result<Option<ReadyEvent>> {
        Self::check(self.readiness.load(Acquire), direction)
    }

    fn check(word: u64, direction: Direction) -> io::Result<Option<ReadyEvent>> {
        if word & SHUTDOWN != 0 {
            return Err(shutdown_error());
        }
        let ready = ready_of(word) & direction.mask();
        if ready.is_empty() {
            Ok(None)
        } else {
            Ok(Some(ReadyEvent {
                tick: tick_of(word),
                ready,
            }))
        }
    }

    /// Ready if an operation in `direction` will not block; otherwise
    /// registers `cx`'s waker for that direction. Spends no coop budget: the
    /// caller does (see `Registration::poll_io`).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        match Self::check(self.readiness.load(Acquire), direction) {
            Ok(Some(event)) => return Poll::Ready(Ok(event)),
            Err(e) => return Poll::Ready(Err(e)),
            Ok(None) => {}
        }
        let mut waiters = self.waiters.lock();
        let slot = match direction {
            Direction::Read => &mut waiters.reader,
            Direction::Write => &mut waiters.writer,
        };
        let added = !slot.iter().any(|w| w.will_wake(cx.waker()));
        if added {
            slot.push(cx.waker().clone());
        }
        // Invariant 3: re-read under the lock.
        let result = match Self::check(self.readiness.load(Acquire), direction) {
            Ok(None) => Poll::Pending,
            Ok(Some(event)) => Poll::Ready(Ok(event)),
            Err(e) => {
                // Invariant 5: store nothing after shutdown.
                if added {
                    drop(slot.pop());
                }
                Poll::Ready(Err(e))
            }
        };
        drop(waiters);
        result
    }

    /// Clears the readiness in `event` after an operation hit `WouldBlock`,
    /// unless a newer event arrived since it was observed (invariant 2).
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = u64::from((event.ready & Ready::CLEARABLE).0);
        let mut cur = self.readiness.load(Acquire);
        while tick_of(cur) == event.tick && cur & clear != 0 {
            match self
                .readiness
                .compare_exchange_weak(cur, cur & !clear, AcqRel, Acquire)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
}

impl fmt::Debug for ScheduledIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.readiness.load(Acquire);
        f.debug_struct("ScheduledIo")
            .field("ready", &ready_of(word))
            .field("tick", &tick_of(word))
            .field("shutdown", &(word & SHUTDOWN != 0))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn event_wakes_only_the_matching_direction() {
        let io = ScheduledIo::new();
        let r = Arc::new(Count(AtomicUsize::new(0)));
        let w = Arc::new(Count(AtomicUsize::new(0)));
        let rw = Waker::from(r.clone());
        let ww = Waker::from(w.clone());
        assert!(io
            .poll_ready(&mut Context::from_waker(&rw), Direction::Read)
            .is_pending());
        assert!(io
            .poll_ready(&mut Context::from_waker(&ww), Direction::Write)
            .is_pending());
        let mut wakers = Vec::new();
        io.dispatch(Ready::READABLE, &mut wakers);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(r.0.load(Ordering::SeqCst), 1);
        assert_eq!(w.0.load(Ordering::SeqCst), 0);
        let ev = match io.poll_ready(&mut Context::from_waker(&rw), Direction::Read) {
            Poll::Ready(Ok(ev)) => ev,
            other => panic!("{other:?}"),
        };
        // A newer event makes the stale clear a no-op.
        io.dispatch(Ready::READABLE, &mut wakers);
        io.clear_readiness(ev);
        assert!(io.ready_now(Direction::Read).unwrap().is_some());
        let ev = io.ready_now(Direction::Read).unwrap().unwrap();
        io.clear_readiness(ev);
        assert!(io.ready_now(Direction::Read).unwrap().is_none());
        // Shutdown wakes the writer and fails every later wait.
        io.shutdown(&mut wakers);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(w.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            io.poll_ready(&mut Context::from_waker(&rw), Direction::Read),
            Poll::Ready(Err(_))
        ));
    }

    #[test]
    fn every_waiter_of_a_direction_is_woken_once() {
        let io = ScheduledIo::new();
        let a = Arc::new(Count(AtomicUsize::new(0)));
        let b = Arc::new(Count(AtomicUsize::new(0)));
        let (aw, bw) = (Waker::from(a.clone()), Waker::from(b.clone()));
        for _ in 0..3 {
            // Re-polling with the same waker does not grow the list.
            assert!(io
                .poll_ready(&mut Context::from_waker(&aw), Direction::Read)
                .is_pending());
            assert!(io
                .poll_ready(&mut Context::from_waker(&bw), Direction::Read)
                .is_pending());
        }
        assert_eq!(a.0.load(Ordering::SeqCst), 0, "no waiter displaces another");
        let mut wakers = Vec::new();
        io.dispatch(Ready::READABLE, &mut wakers);
        assert_eq!(wakers.len(), 2);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(
            (a.0.load(Ordering::SeqCst), b.0.load(Ordering::SeqCst)),
            (1, 1)
        );
    }

    #[test]
    fn closed_bits_are_sticky() {
        let io = ScheduledIo::new();
        let mut wakers = Vec::new();
        io.dispatch(Ready::READABLE | Ready::READ_CLOSED, &mut wakers);
        let ev = io.ready_now(Direction::Read).unwrap().unwrap();
        io.clear_readiness(ev);
        assert!(io.ready_now(Direction::Read).unwrap().is_some());
        assert!(io.ready_now(Direction::Write).unwrap().is_none());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of invariants 2, 3 and 5.
    use super::*;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use loom::thread;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// A waiter racing an event either sees the readiness or gets woken.
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let io = crate::loom::sync::Arc::new(ScheduledIo::new());
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let driver = {
                let io = io.clone();
                thread::spawn(move || {
                    let mut wakers = Vec::new();
                    io.dispatch(Ready::READABLE, &mut wakers);
                    wakers.into_iter().for_each(Waker::wake);
                })
            };
            let waker = Waker::from(count.clone());
            let ready = io
                .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
                .is_ready();
            driver.join().unwrap();
            assert!(ready || count.0.load(SeqCst) == 1);
        });
    }

    /// Two waiters on one direction racing an event: neither is lost
    /// (invariant 4: no waiter displaces another).
    #[test]
    fn two_waiters_both_woken() {
        loom::model(|| {
            let io = crate::loom::sync::Arc::new(ScheduledIo::new());
            let other = {
                let io = io.clone();
                thread::spawn(move || {
                    let count = Arc::new(Count(AtomicUsize::new(0)));
                    let waker = Waker::from(count.clone());
                    let ready = io
                        .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
                        .is_ready();
                    (ready, count)
                })
            };
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let ready = io
                .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
                .is_ready();
            let mut wakers = Vec::new();
            io.dispatch(Ready::READABLE, &mut wakers);
            wakers.into_iter().for_each(Waker::wake);
            let (other_ready, other_count) = other.join().unwrap();
            assert!(ready || count.0.load(SeqCst) == 1);
            // The other thread may have polled after the dispatch (ready)
            // or before it (woken); never neither.
            assert!(other_ready || other_count.0.load(SeqCst) == 1);
        });
    }

    /// A clear based on a stale observation never erases a newer event.
    #[test]
    fn stale_clear_keeps_new_event() {
        loom::model(|| {
            let io = crate::loom::sync::Arc::new(ScheduledIo::new());
            let mut wakers = Vec::new();
            io.dispatch(Ready::READABLE, &mut wakers);
            let seen = io.ready_now(Direction::Read).unwrap().unwrap();
            let driver = {
                let io = io.clone();
                thread::spawn(move || {
                    let mut wakers = Vec::new();
                    io.dispatch(Ready::READABLE, &mut wakers);
                })
            };
            io.clear_readiness(seen);
            driver.join().unwrap();
            assert!(io.ready_now(Direction::Read).unwrap().is_some());
        });
    }

    /// Shutdown racing a waiter: the waiter fails or is woken, and no waker
    /// stays stored.
    #[test]
    fn shutdown_leaves_no_waker() {
        loom::model(|| {
            let io = crate::loom::sync::Arc::new(ScheduledIo::new());
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let closer = {
                let io = io.clone();
                thread::spawn(move || {
                    let mut wakers = Vec::new();
                    io.shutdown(&mut wakers);
                    wakers.into_iter().for_each(Waker::wake);
                })
            };
            let waker = Waker::from(count.clone());
            let res = io.poll_ready(&mut Context::from_waker(&waker), Direction::Write);
            closer.join().unwrap();
            match res {
                Poll::Ready(r) => assert!(r.is_err()),
                Poll::Pending => assert_eq!(count.0.load(SeqCst), 1),
            }
            drop(waker);
            // Only our `count` handle is left: nothing kept a waker.
            assert_eq!(Arc::strong_count(&count), 1);
        });
    }
}
