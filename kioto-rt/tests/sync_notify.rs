//! Notify: stored permits, broadcast, FIFO wake-ups, cancellation.

use kioto_rt::sync::{oneshot, Notify};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

mod support;
use std::time::Duration;
use support::{poll_once, poll_with, rt, waker_calling_on_drop, within};

#[test]
fn notify_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Notify>();
    send_sync::<kioto_rt::sync::Notified<'static>>();
}

#[test]
fn notify_one_before_waiting_is_kept_as_one_permit() {
    let notify = Notify::new();
    notify.notify_one();
    notify.notify_one();
    assert!(poll_once(pin!(notify.notified())).is_ready());
    assert!(poll_once(pin!(notify.notified())).is_pending());
}

#[test]
fn notify_one_wakes_waiters_in_order() {
    let notify = Notify::new();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    notify.notify_one();
    assert!(poll_once(b.as_mut()).is_pending());
    assert!(poll_once(a.as_mut()).is_ready());
    notify.notify_one();
    assert!(poll_once(b.as_mut()).is_ready());
}

#[test]
fn notify_waiters_wakes_every_waiting_task_and_stores_nothing() {
    const TASKS: usize = 16;
    let rt = rt(2);
    let woken = rt.block_on(async {
        let notify = Arc::new(Notify::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let mut ready = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..TASKS {
            let (notify, woken) = (notify.clone(), woken.clone());
            let (ready_tx, ready_rx) = oneshot::channel();
            ready.push(ready_rx);
            handles.push(kioto_rt::spawn(async move {
                let notified = notify.notified();
                // Registered for `notify_waiters` from creation on.
                ready_tx.send(()).unwrap();
                notified.await;
                woken.fetch_add(1, SeqCst);
            }));
        }
        for r in ready {
            r.await.unwrap();
        }
        notify.notify_waiters();
        for h in handles {
            h.await.unwrap();
        }
        assert!(poll_once(pin!(notify.notified())).is_pending());
        woken.load(SeqCst)
    });
    assert_eq!(woken, TASKS);
}

#[test]
fn each_notify_one_across_tasks_releases_exactly_one_task() {
    const TASKS: usize = 8;
    let rt = rt(2);
    rt.block_on(async {
        let notify = Arc::new(Notify::new());
        let (done_tx, mut done_rx) = kioto_rt::sync::mpsc::unbounded_channel();
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let (notify, done_tx) = (notify.clone(), done_tx.clone());
                kioto_rt::spawn(async move {
                    notify.notified().await;
                    done_tx.send(i).unwrap();
                })
            })
            .collect();
        drop(done_tx);
        // A notification either wakes a waiting task or is stored for the
        // next one to wait (permits do not pile up, so wait for each
        // release before notifying again).
        let mut released = [false; TASKS];
        for _ in 0..TASKS {
            notify.notify_one();
            let i = done_rx.recv().await.unwrap();
            assert!(!released[i], "task {i} released twice");
            released[i] = true;
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(done_rx.recv().await, None);
        assert!(released.iter().all(|r| *r));
    });
}

#[test]
fn a_cancelled_notified_waiter_passes_its_notification_on() {
    let notify = Notify::new();
    let mut second = pin!(notify.notified());
    {
        let mut first = pin!(notify.notified());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        notify.notify_one(); // to `first`, which is dropped unpolled
    }
    assert!(poll_once(second.as_mut()).is_ready());
    // Exactly one notification existed: none is left.
    assert!(poll_once(pin!(notify.notified())).is_pending());
}

#[test]
fn a_cancelled_waiter_with_nobody_behind_stores_the_permit() {
    let notify = Notify::new();
    {
        let mut only = pin!(notify.notified());
        assert!(poll_once(only.as_mut()).is_pending());
        notify.notify_one();
    }
    assert!(poll_once(pin!(notify.notified())).is_ready());
}

#[test]
fn a_cancelled_unnotified_waiter_takes_nothing() {
    let notify = Notify::new();
    {
        let mut gone = pin!(notify.notified());
        assert!(poll_once(gone.as_mut()).is_pending());
    }
    let mut next = pin!(notify.notified());
    assert!(poll_once(next.as_mut()).is_pending());
    notify.notify_one();
    assert!(poll_once(next.as_mut()).is_ready());
}

#[test]
fn a_replaced_waker_may_call_back_into_notify_when_dropped() {
    within(Duration::from_secs(10), || {
        let notify = Arc::new(Notify::new());
        let mut notified = pin!(notify.notified());
        let calls_back = {
            let notify = notify.clone();
            waker_calling_on_drop(move || notify.notify_waiters())
        };
        assert!(poll_with(notified.as_mut(), &calls_back).is_pending());
        // The waiter now holds the only clone: re-polling with another
        // waker drops it, and its `Drop` calls `notify_waiters`.
        drop(calls_back);
        while poll_once(notified.as_mut()).is_pending() {}
    });
}
