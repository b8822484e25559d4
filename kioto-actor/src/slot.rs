//! A per-actor buffer that handler futures are built in, so handling a
//! message allocates nothing for its future.
//!
//! # Why
//!
//! The mailbox holds type-erased envelopes; the future a handler returns has
//! a type only the envelope knows, so the actor loop can only hold it as a
//! `dyn Future`. Boxing it would allocate and free once per message. An actor
//! runs one handler at a time, so one buffer per actor suffices: the envelope
//! writes its handler future into the buffer (growing it to the largest
//! handler future seen; it never shrinks) and polls it there once
//! ([`FutureSlot::start`]); the loop polls the rest of it, if any.
//!
//! # Invariants
//!
//! - The buffer is owned by [`FutureSlot`]; a [`SlotFuture`] borrows the slot
//!   mutably for as long as the future in the buffer lives, so nothing else
//!   can write the buffer meanwhile.
//! - The future is pinned in the buffer: it is dropped in place by
//!   `SlotFuture::drop`. If a `SlotFuture` is leaked, `occupied` stays set
//!   and the next `put` abandons (leaks) that buffer instead of reusing or
//!   freeing it, so pinned memory is never repurposed before its drop ran.

use std::alloc::{self, Layout};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// The reusable buffer; see the module docs.
pub(crate) struct FutureSlot {
    /// Start of the buffer; dangling while `layout.size() == 0`.
    buf: NonNull<u8>,
    /// What `buf` was allocated with.
    layout: Layout,
    /// A future lives in the buffer (set by `put`, cleared by its drop).
    occupied: bool,
}

// SAFETY: the slot owns a plain byte buffer; the futures put in it are
// `Send` (required by `put`), and a `SlotFuture` borrows the slot mutably.
unsafe impl Send for FutureSlot {}
// SAFETY: `&FutureSlot` gives no access to the buffer at all.
unsafe impl Sync for FutureSlot {}

impl FutureSlot {
    pub(crate) fn new() -> Self {
        FutureSlot {
            buf: NonNull::dangling(),
            layout: Layout::new::<()>(),
            occupied: false,
        }
    }

    /// Moves `fut` into the buffer and returns it, pinned there.
    fn put<'a, F>(&'a mut self, fut: F) -> SlotFuture<'a>
    where
        F: Future<Output = ()> + Send + 'a,
    {
        if self.occupied {
            // A previous `SlotFuture` was leaked: its future may still be
            // pinned in the buffer, so abandon the buffer (see invariants).
            self.buf = NonNull::dangling();
            self.layout = Layout::new::<()>();
        }
        let need = Layout::new::<F>();
        let ptr: *mut F = if need.size() == 0 {
            NonNull::<F>::dangling().as_ptr()
        } else {
            if need.size() > self.layout.size() || need.align() > self.layout.align() {
                let size = need.size().max(self.layout.size());
                let align = need.align().max(self.layout.align());
                let new_layout = Layout::from_size_align(size, align).expect("future layout");
                // SAFETY: `new_layout` has a non-zero size (`need.size() > 0`).
                let new = unsafe { alloc::alloc(new_layout) };
                let Some(new) = NonNull::new(new) else {
                    alloc::handle_alloc_error(new_layout)
                };
                self.free();
                self.buf = new;
                self.layout = new_layout;
            }
            self.buf.as_ptr().cast::<F>()
        };
        // SAFETY: `ptr` is valid for writes of `F` and aligned: (1) it is
        // dangling-but-aligned for a zero-sized `F`, or (2) the buffer is at
        // least `size_of::<F>()` bytes with at least `F`'s alignment, checked
        // just above; nothing lives in it (`occupied` was clear or the buffer
        // was abandoned).
        unsafe { ptr.write(fut) };
        self.occupied = true;
        let fut: *mut (dyn Future<Output = ()> + Send + 'a) = ptr;
        SlotFuture {
            // SAFETY: `ptr` is non-null (dangling or a live allocation).
            fut: unsafe { NonNull::new_unchecked(fut) },
            occupied: &mut self.occupied,
            _marker: PhantomData,
        }
    }

    /// Moves `fut` into the buffer and polls it once there: `None` if that
    /// finished it (it is dropped in place at once), else the pinned future
    /// to poll again. The common, synchronous handler thus costs one typed
    /// call instead of a `put`, a virtual poll and a virtual drop.
    pub(crate) fn start<'a, F>(&'a mut self, fut: F, cx: &mut Context<'_>) -> Option<SlotFuture<'a>>
    where
        F: Future<Output = ()> + Send + 'a,
    {
        // If the poll below panics, `handle` drops the future while
        // unwinding, as it would later.
        let handle = self.put(fut);
        let ptr = handle.fut.as_ptr().cast::<F>();
        // SAFETY: `put` wrote an `F` at `ptr` and pinned it there (see
        // `SlotFuture::poll`); `handle`, which keeps the slot borrowed,
        // holds only a raw pointer to it.
        if unsafe { Pin::new_unchecked(&mut *ptr) }.poll(cx).is_pending() {
            return Some(handle);
        }
        // The typed drop: `handle`'s own would go through the vtable.
        *handle.occupied = false;
        std::mem::forget(handle);
        // SAFETY: the future is finished but not dropped, and its handle is
        // gone, so nothing else drops it.
        unsafe { std::ptr::drop_in_place(ptr) };
        None
    }

    fn free(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: `buf` was allocated with `layout` (non-zero size) and is
            // not occupied (callers check or have abandoned it).
            unsafe { alloc::dealloc(self.buf.as_ptr(), self.layout) };
        }
    }
}

impl Drop for FutureSlot {
    fn drop(&mut self) {
        if !self.occupied {
            self.free();
        }
    }
}

impl fmt::Debug for FutureSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FutureSlot")
            .field("capacity", &self.layout.size())
            .field("occupied", &self.occupied)
            .finish()
    }
}

/// A handler future pinned in a [`FutureSlot`]; dropped in place.
pub(crate) struct SlotFuture<'a> {
    fut: NonNull<dyn Future<Output = ()> + Send + 'a>,
    occupied: &'a mut bool,
    _marker: PhantomData<&'a mut FutureSlot>,
}

// SAFETY: the future it points to is `Send` and exclusively owned by this
// handle (the slot is mutably borrowed for `'a`).
unsafe impl Send for SlotFuture<'_> {}

impl Future for SlotFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the future lives in the slot's buffer, which does not move
        // or get reused until `SlotFuture::drop` has dropped it in place, so
        // it is pinned; `&mut self` gives exclusive access.
        let fut = unsafe { Pin::new_unchecked(&mut *self.fut.as_ptr()) };
        fut.poll(cx)
    }
}

impl Drop for SlotFuture<'_> {
    fn drop(&mut self) {
        *self.occupied = false;
        // SAFETY: the future was written by `put` and not dropped yet; after
        // this the buffer is free (`occupied` cleared first so a panicking
        // destructor still leaves the slot reusable: drop has run).
        unsafe { std::ptr::drop_in_place(self.fut.as_ptr()) };
    }
}

impl fmt::Debug for SlotFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotFuture")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Waker;

    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn reuses_and_grows_and_drops() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut slot = FutureSlot::new();
        let mut cx = Context::from_waker(Waker::noop());
        for i in 0..10usize {
            let guard = CountDrop(drops.clone());
            let big = [i as u8; 256];
            let mut f = slot.put(async move {
                let _g = guard;
                assert_eq!(big[0] as usize, i);
            });
            assert!(Pin::new(&mut f).poll(&mut cx).is_ready());
        }
        assert_eq!(drops.load(Ordering::Relaxed), 10);
        // Dropped without being polled: still dropped exactly once.
        let guard = CountDrop(drops.clone());
        drop(slot.put(async move {
            let _g = guard;
        }));
        assert_eq!(drops.load(Ordering::Relaxed), 11);
        assert!(slot.layout.size() >= 256);
        // A leaked handle makes the next put abandon the buffer.
        let guard = CountDrop(drops.clone());
        std::mem::forget(slot.put(async move {
            let _g = guard;
        }));
        let mut f = slot.put(async {});
        assert!(Pin::new(&mut f).poll(&mut cx).is_ready());
        drop(f);
        assert_eq!(drops.load(Ordering::Relaxed), 11);
    }

    #[test]
    fn start_polls_once_and_drops_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut slot = FutureSlot::new();
        let mut cx = Context::from_waker(Waker::noop());

        // Finished on the first poll: dropped at once, nothing returned.
        let guard = CountDrop(drops.clone());
        assert!(slot
            .start(
                async move {
                    let _g = guard;
                },
                &mut cx
            )
            .is_none());
        assert_eq!(drops.load(Ordering::Relaxed), 1);

        // Not finished: handed back, finished by a later poll.
        let guard = CountDrop(drops.clone());
        let mut yielded = false;
        let fut = std::future::poll_fn(move |_| {
            let _ = &guard;
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let mut f = slot.start(fut, &mut cx).expect("pending after one poll");
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert!(Pin::new(&mut f).poll(&mut cx).is_ready());
        drop(f);
        assert_eq!(drops.load(Ordering::Relaxed), 2);

        // A panicking first poll drops the future while unwinding; the slot
        // stays usable.
        let guard = CountDrop(drops.clone());
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            slot.start(
                async move {
                    let _g = &guard;
                    panic!("in the handler");
                },
                &mut cx,
            )
            .is_none()
        }));
        assert!(res.is_err());
        assert_eq!(drops.load(Ordering::Relaxed), 3);
        assert!(slot.start(async {}, &mut cx).is_none());
    }
}
