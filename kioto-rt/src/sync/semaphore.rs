//! [`Semaphore`]: a counting semaphore for tasks, with first-come,
//! first-served waiters.
//!
//! The protocol (lock-free while nobody waits, a locked queue otherwise)
//! lives in `batch_semaphore.rs`; this file is the public face: permits as
//! RAII guards, owned variants for `Arc<Semaphore>`, and typed errors.

use crate::sync::batch_semaphore::{self as ll, TryAcquire};
use std::fmt;
// The owned API takes the user's `std::sync::Arc`; it is not part of any
// protocol (the shared state is all inside `batch_semaphore`).
use std::sync::Arc;

/// Limits how many tasks do something at once.
///
/// A semaphore holds a number of permits. [`acquire`](Self::acquire) waits
/// for one and returns it as a [`SemaphorePermit`] that gives it back when
/// dropped. Waiters are served in the order they started waiting: a task
/// asking for many permits is not overtaken by later tasks asking for few.
///
/// ```
/// use kioto_rt::sync::Semaphore;
/// use std::sync::Arc;
///
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let sem = Arc::new(Semaphore::new(2));
///     let mut handles = Vec::new();
///     for _ in 0..4 {
///         let permit = sem.clone().acquire_owned().await.unwrap();
///         handles.push(kioto_rt::spawn(async move {
///             // at most two of these run at once
///             drop(permit);
///         }));
///     }
///     for h in handles {
///         h.await.unwrap();
///     }
///     assert_eq!(sem.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    ll: ll::Semaphore,
}

/// The semaphore was closed while or before waiting for permits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("semaphore closed")]
pub struct AcquireError(());

/// Why [`Semaphore::try_acquire`] returned no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    #[error("semaphore closed")]
    Closed,
    /// Not enough permits are free right now (or other tasks are waiting
    /// ahead of this one).
    #[error("no permits available")]
    NoPermits,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = ll::MAX_PERMITS;

    /// Creates a semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            ll: ll::Semaphore::new(permits),
        }
    }

    /// Number of permits free right now.
    pub fn available_permits(&self) -> usize {
        self.ll.available_permits()
    }

    /// Adds `n` new permits, waking waiters they satisfy.
    ///
    /// # Panics
    ///
    /// If the total would exceed [`Semaphore::MAX_PERMITS`].
    pub fn add_permits(&self, n: usize) {
        self.ll.release(n);
    }

    /// Closes the semaphore: every waiting and future acquire fails with
    /// [`AcquireError`], as in tokio. That includes an acquire whose permits
    /// were assigned before the close but which had not been polled since:
    /// it fails too, and those permits go back to the semaphore. Permits
    /// already held (a returned [`SemaphorePermit`]) stay valid.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let sem = kioto_rt::sync::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.acquire().await.is_err());
    /// # });
    /// ```
    pub fn close(&self) {
        self.ll.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.ll.is_closed()
    }

    /// Waits for one permit.
    ///
    /// Cancel safe in the sense that dropping the future gives back
    /// anything it was partly granted, but it loses its place in the queue.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits at once.
    ///
    /// ```
    /// # kioto_rt::Runtime::new().unwrap().block_on(async {
    /// let sem = kioto_rt::sync::Semaphore::new(5);
    /// let permit = sem.acquire_many(3).await.unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// assert_eq!(permit.num_permits(), 3);
    /// # });
    /// ```
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        match self.ll.acquire(n as usize).await {
            Ok(()) => Ok(SemaphorePermit {
                sem: self,
                permits: n,
            }),
            Err(()) => Err(AcquireError(())),
        }
    }

    /// Takes one permit if one is free and nobody is waiting ahead.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is waiting ahead.
    ///
    /// ```
    /// use kioto_rt::sync::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(2);
    /// let two = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.try_acquire().err(), Some(TryAcquireError::NoPermits));
    /// drop(two);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self.ll.try_acquire(n as usize) {
            TryAcquire::Acquired => Ok(SemaphorePermit {
                sem: self,
                permits: n,
            }),
            TryAcquire::NoPermits => Err(TryAcquireError::NoPermits),
            TryAcquire::Closed => Err(TryAcquireError::Closed),
        }
    }

    /// Waits for one permit that keeps the semaphore alive, so it can move
    /// into a spawned task.
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// Waits for `n` permits that keep the semaphore alive.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        match self.ll.acquire(n as usize).await {
            Ok(()) => Ok(OwnedSemaphorePermit {
                sem: self,
                permits: n,
            }),
            Err(()) => Err(AcquireError(())),
        }
    }

    /// Takes one owned permit if one is free and nobody is waiting ahead.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Takes `n` owned permits if they are free and nobody is waiting ahead.
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        match self.ll.try_acquire(n as usize) {
            TryAcquire::Acquired => Ok(OwnedSemaphorePermit {
                sem: self,
                permits: n,
            }),
            TryAcquire::NoPermits => Err(TryAcquireError::NoPermits),
            TryAcquire::Closed => Err(TryAcquireError::Closed),
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: u32,
}

impl SemaphorePermit<'_> {
    /// Number of permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }

    /// Keeps the permits taken for good: they are not returned on drop.
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.ll.release(self.permits as usize);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits from an `Arc<Semaphore>`; dropping it gives them back.
#[must_use = "dropping the permit releases it at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: u32,
}

impl OwnedSemaphorePermit {
    /// Number of permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }

    /// The semaphore these permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Keeps the permits taken for good: they are not returned on drop.
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.ll.release(self.permits as usize);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn waiters_are_served_in_order_even_when_a_later_one_fits() {
        let sem = Semaphore::new(1);
        let mut cx = Context::from_waker(Waker::noop());
        let held = sem.try_acquire().unwrap();
        let mut big = pin!(sem.acquire_many(2));
        let mut small = pin!(sem.acquire());
        assert!(big.as_mut().poll(&mut cx).is_pending());
        assert!(small.as_mut().poll(&mut cx).is_pending());
        drop(held);
        // One permit free, but the head wants two: the small one waits.
        assert!(small.as_mut().poll(&mut cx).is_pending());
        assert_eq!(sem.try_acquire().err(), Some(TryAcquireError::NoPermits));
        sem.add_permits(2);
        let Poll::Ready(Ok(b)) = big.as_mut().poll(&mut cx) else {
            panic!("head not granted")
        };
        let Poll::Ready(Ok(s)) = small.as_mut().poll(&mut cx) else {
            panic!("second not granted")
        };
        assert_eq!((b.num_permits(), s.num_permits()), (2, 1));
        drop((b, s));
        assert_eq!(sem.available_permits(), 3);
    }

    #[test]
    fn dropping_a_partly_granted_waiter_returns_its_permits() {
        let sem = Semaphore::new(2);
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut big = pin!(sem.acquire_many(5));
            assert!(big.as_mut().poll(&mut cx).is_pending());
            assert_eq!(sem.available_permits(), 0);
            sem.add_permits(1);
            assert_eq!(sem.available_permits(), 0);
        }
        assert_eq!(sem.available_permits(), 3);
        assert!(sem.try_acquire_many(3).is_ok());
    }

    #[test]
    fn close_fails_a_granted_but_unobserved_acquire_and_takes_its_permits_back() {
        let sem = Semaphore::new(0);
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = pin!(sem.acquire_many(2));
        let mut b = pin!(sem.acquire());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        sem.add_permits(2); // `a` is granted and popped; `b` still queued
        let Poll::Ready(Ok(held)) = a.as_mut().poll(&mut cx) else {
            panic!("a grant observed before the close stands")
        };
        sem.add_permits(1); // granted to `b`, not yet observed
        sem.close();
        assert!(matches!(b.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
        assert_eq!(sem.available_permits(), 1);
        drop(held);
        assert_eq!(sem.available_permits(), 3);
    }

    #[test]
    fn close_returns_partial_grants_and_fails_waiters() {
        let sem = Semaphore::new(1);
        let mut cx = Context::from_waker(Waker::noop());
        let mut big = pin!(sem.acquire_many(4));
        assert!(big.as_mut().poll(&mut cx).is_pending());
        sem.close();
        assert!(matches!(big.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.try_acquire().err(), Some(TryAcquireError::Closed));
    }

    #[test]
    fn forget_keeps_permits_taken() {
        let sem = Semaphore::new(3);
        sem.try_acquire_many(2).unwrap().forget();
        assert_eq!(sem.available_permits(), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
    use crate::loom::sync::Arc;
    use std::future::Future;
    use std::task::Poll;

    #[test]
    fn permits_never_exceeded_and_all_return() {
        loom::model(|| {
            let sem = Arc::new(Semaphore::new(1));
            let inside = Arc::new(AtomicUsize::new(0));
            let ths: Vec<_> = (0..2)
                .map(|_| {
                    let (sem, inside) = (sem.clone(), inside.clone());
                    loom::thread::spawn(move || {
                        loom::future::block_on(async {
                            let permit = sem.acquire().await.unwrap();
                            assert_eq!(inside.fetch_add(1, SeqCst), 0);
                            inside.fetch_sub(1, SeqCst);
                            drop(permit);
                        })
                    })
                })
                .collect();
            loom::future::block_on(async {
                let permit = sem.acquire().await.unwrap();
                assert_eq!(inside.fetch_add(1, SeqCst), 0);
                inside.fetch_sub(1, SeqCst);
                drop(permit);
            });
            for th in ths {
                th.join().unwrap();
            }
            assert_eq!(sem.available_permits(), 1);
        });
    }

    #[test]
    fn a_cancelled_acquire_racing_a_release_loses_no_permit() {
        loom::model(|| {
            let sem = Arc::new(Semaphore::new(0));
            let th = {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.add_permits(1))
            };
            {
                let mut acquire = Box::pin(sem.acquire());
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                // Granted or not, dropping it must leave the permit free.
                let _ = std::future::Future::poll(acquire.as_mut(), &mut cx);
            }
            th.join().unwrap();
            assert_eq!(sem.available_permits(), 1);
        });
    }

    #[test]
    fn close_wakes_a_waiter() {
        loom::model(|| {
            let sem = Arc::new(Semaphore::new(0));
            let th = {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.close())
            };
            let res = loom::future::block_on(sem.acquire());
            assert!(res.is_err());
            th.join().unwrap();
        });
    }

    /// A queued waiter, then a grant and a close racing each other, then
    /// the waiter's next poll: whichever came first, the acquire fails (the
    /// semaphore is closed by the time it looks) and the permit granted to
    /// it, if any, goes back.
    #[test]
    fn close_races_a_grant_without_losing_permits() {
        loom::model(|| {
            let sem = Arc::new(Semaphore::new(0));
            let mut acquire = Box::pin(sem.acquire());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(acquire.as_mut().poll(&mut cx).is_pending());
            let granter = {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.add_permits(1))
            };
            let closer = {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.close())
            };
            granter.join().unwrap();
            closer.join().unwrap();
            match acquire.as_mut().poll(&mut cx) {
                Poll::Ready(res) => assert!(res.is_err(), "acquired after close"),
                Poll::Pending => panic!("a waiter was left waiting on a closed semaphore"),
            }
            drop(acquire);
            assert_eq!(sem.available_permits(), 1);
        });
    }

    #[test]
    fn add_permits_races_acquire_many() {
        loom::model(|| {
            let sem = Arc::new(Semaphore::new(1));
            let th = {
                let sem = sem.clone();
                loom::thread::spawn(move || sem.add_permits(1))
            };
            let p = loom::future::block_on(sem.acquire_many(2)).unwrap();
            assert_eq!(p.num_permits(), 2);
            drop(p);
            th.join().unwrap();
            assert_eq!(sem.available_permits(), 2);
        });
    }
}
