//! Semaphore: limits, fairness, closing, owned permits.

use kioto_rt::sync::{Semaphore, TryAcquireError};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

mod support;
use std::time::Duration;
use support::{poll_once, poll_with, rt, waker_calling_on_drop, within};

#[test]
fn semaphore_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Semaphore>();
    send_sync::<kioto_rt::sync::SemaphorePermit<'static>>();
    send_sync::<kioto_rt::sync::OwnedSemaphorePermit>();
}

#[test]
fn never_more_holders_than_permits() {
    const PERMITS: usize = 3;
    let rt = rt(2);
    let (max_seen, total) = rt.block_on(async {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let inside = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let (sem, inside, max_seen, total) =
                    (sem.clone(), inside.clone(), max_seen.clone(), total.clone());
                kioto_rt::spawn(async move {
                    for _ in 0..20 {
                        let _permit = sem.acquire().await.unwrap();
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        max_seen.fetch_max(now, SeqCst);
                        kioto_rt::task::yield_now().await;
                        inside.fetch_sub(1, SeqCst);
                        total.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(sem.available_permits(), PERMITS);
        (max_seen.load(SeqCst), total.load(SeqCst))
    });
    assert!(max_seen <= PERMITS, "{max_seen} holders at once");
    assert_eq!(total, 32 * 20);
}

#[test]
fn try_acquire_and_add_permits() {
    let sem = Semaphore::new(1);
    let p = sem.try_acquire().unwrap();
    assert_eq!(p.num_permits(), 1);
    assert_eq!(sem.try_acquire().err(), Some(TryAcquireError::NoPermits));
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 2);
    drop(p);
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.try_acquire_many(3).unwrap().num_permits(), 3);
}

#[test]
fn acquire_many_is_not_overtaken_by_smaller_requests() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut big = pin!(sem.acquire_many(2));
    let mut small = pin!(sem.acquire());
    assert!(poll_once(big.as_mut()).is_pending());
    assert!(poll_once(small.as_mut()).is_pending());
    drop(held);
    assert!(poll_once(small.as_mut()).is_pending());
    let Poll::Ready(Ok(big_permit)) = poll_once(big.as_mut()) else {
        panic!("the head waiter must be served first");
    };
    assert!(poll_once(small.as_mut()).is_pending());
    drop(big_permit);
    assert!(matches!(poll_once(small.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn close_fails_waiters_and_later_acquires_but_not_held_permits() {
    rt(2).block_on(async {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.clone().acquire_owned().await.unwrap();
        let waiter = {
            let sem = sem.clone();
            kioto_rt::spawn(async move { sem.acquire().await.is_err() })
        };
        // Whether the waiter queued before the close or polls after it,
        // the only way for it to finish is with an error.
        sem.close();
        assert!(waiter.await.unwrap());
        assert!(sem.is_closed());
        assert!(sem.acquire().await.is_err());
        assert_eq!(sem.try_acquire().err(), Some(TryAcquireError::Closed));
        assert_eq!(held.num_permits(), 1);
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn owned_permits_move_into_tasks() {
    let rt = rt(2);
    let ran = rt.block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let ran = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..10 {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let ran = ran.clone();
            handles.push(kioto_rt::spawn(async move {
                ran.fetch_add(1, SeqCst);
                drop(permit);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
        let many = sem.clone().acquire_many_owned(2).await.unwrap();
        assert!(Arc::ptr_eq(many.semaphore(), &sem));
        assert!(sem.clone().try_acquire_owned().is_err());
        drop(many);
        assert!(sem.clone().try_acquire_many_owned(2).is_ok());
        ran.load(SeqCst)
    });
    assert_eq!(ran, 10);
}

#[test]
fn forgotten_permits_stay_taken() {
    let sem = Semaphore::new(4);
    sem.try_acquire_many(3).unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn a_cancelled_acquire_does_not_block_the_queue() {
    let sem = Semaphore::new(0);
    let mut second = pin!(sem.acquire());
    {
        let mut first = pin!(sem.acquire_many(5));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        sem.add_permits(1); // partly granted to `first`...
    }
    // ...and handed on when it was dropped.
    assert!(matches!(poll_once(second.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn a_replaced_waker_may_call_back_into_the_semaphore_when_dropped() {
    within(Duration::from_secs(10), || {
        let sem = Arc::new(Semaphore::new(0));
        let mut acquire = pin!(sem.acquire());
        let calls_back = {
            let sem = sem.clone();
            waker_calling_on_drop(move || sem.close())
        };
        assert!(poll_with(acquire.as_mut(), &calls_back).is_pending());
        // The queued waiter holds the only clone: re-polling with another
        // waker drops it, and its `Drop` closes the semaphore.
        drop(calls_back);
        let result = loop {
            if let Poll::Ready(result) = poll_once(acquire.as_mut()) {
                break result;
            }
        };
        assert!(result.is_err());
    });
}

#[test]
fn an_acquire_granted_before_close_but_polled_after_fails_and_returns_its_permits() {
    let sem = Semaphore::new(0);
    let mut acquire = pin!(sem.acquire_many(2));
    assert!(poll_once(acquire.as_mut()).is_pending());
    sem.add_permits(2); // granted to `acquire`, which has not seen it yet
    assert_eq!(sem.available_permits(), 0);
    sem.close();
    assert!(matches!(poll_once(acquire.as_mut()), Poll::Ready(Err(_))));
    assert_eq!(sem.available_permits(), 2, "the granted permits came back");
}
