//! Sleeps and timeouts through the public API. Only lower bounds on time
//! are asserted (a timer must never fire early); machines are noisy.

use kioto_rt::time::{self, error::Elapsed, sleep, sleep_until, timeout, Instant};
use rand::Rng;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

mod support;
use support::{panic_text, poll_once, poll_with, rt, wait_until, waker_calling_on_drop, within};

#[test]
fn ten_thousand_random_sleeps_complete_no_earlier_than_their_deadline() {
    let rt = rt(2);
    rt.block_on(async {
        let mut rng = rand::thread_rng();
        let mut handles = Vec::new();
        for _ in 0..10_000 {
            let ms = rng.gen_range(1..=50);
            handles.push(kioto_rt::spawn(async move {
                let deadline = Instant::now() + Duration::from_millis(ms);
                sleep_until(deadline).await;
                let woke = Instant::now();
                assert!(woke >= deadline, "woke {:?} early", deadline - woke);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn sleep_from_block_on_and_zero_duration() {
    let rt = rt(1);
    rt.block_on(async {
        let start = Instant::now();
        sleep(Duration::from_millis(15)).await;
        assert!(start.elapsed() >= Duration::from_millis(15));
        sleep(Duration::ZERO).await;
        sleep_until(start).await; // in the past: completes at once
                                  // Far future does not overflow.
        let far = sleep(Duration::MAX);
        assert!(!far.is_elapsed());
    });
}

#[test]
fn timeout_of_pending_is_elapsed_and_of_ready_is_ok() {
    let rt = rt(2);
    rt.block_on(async {
        let start = Instant::now();
        let r = timeout(Duration::from_millis(10), std::future::pending::<()>()).await;
        let _: Elapsed = r.unwrap_err();
        assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert_eq!(timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
        let io_err: std::io::Error = r.unwrap_err().into();
        assert_eq!(io_err.kind(), std::io::ErrorKind::TimedOut);
        // A future finishing before the deadline wins.
        let r = timeout(Duration::from_secs(5), sleep(Duration::from_millis(5))).await;
        assert!(r.is_ok());
    });
}

/// Counts how often it is polled; ready on the first poll.
struct CountPolls(Arc<AtomicUsize>);
impl Future for CountPolls {
    type Output = u8;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u8> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(1)
    }
}

#[test]
fn timeout_fast_path_polls_once_and_registers_no_timer() {
    let rt = rt(1);
    rt.block_on(async {
        let polls = Arc::new(AtomicUsize::new(0));
        for _ in 0..1000 {
            assert_eq!(
                timeout(Duration::from_secs(1), CountPolls(polls.clone())).await,
                Ok(1)
            );
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1000);
    });
    // Outside any runtime a timeout over a ready future still works: the
    // wheel (and so the runtime) is never touched.
    let polls = Arc::new(AtomicUsize::new(0));
    let out = futures_util::FutureExt::now_or_never(timeout(
        Duration::from_secs(1),
        CountPolls(polls.clone()),
    ));
    assert_eq!(out, Some(Ok(1)));
}

#[test]
fn dropping_and_resetting_sleeps() {
    let rt = rt(2);
    rt.block_on(async {
        // Register many sleeps then drop them: nothing fires, nothing hangs.
        let metrics = || kioto_rt::Handle::current().metrics();
        let mut held = Vec::new();
        for _ in 0..1000 {
            let mut s = Box::pin(sleep(Duration::from_secs(3600)));
            assert!(futures_util::poll!(s.as_mut()).is_pending());
            held.push(s);
        }
        assert_eq!(metrics().num_timers(), 1000);
        drop(held);
        assert_eq!(
            metrics().num_timers(),
            0,
            "dropping a Sleep removes its entry"
        );
        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(futures_util::poll!(s.as_mut()).is_pending());
        let deadline = Instant::now() + Duration::from_millis(10);
        s.as_mut().reset(deadline);
        assert_eq!(s.deadline(), deadline);
        s.as_mut().await;
        assert!(Instant::now() >= deadline);
        assert!(s.is_elapsed());
        // Reset after completion re-arms it.
        let again = Instant::now() + Duration::from_millis(5);
        s.as_mut().reset(again);
        s.as_mut().await;
        assert!(Instant::now() >= again);
    });
}

/// Timers complete in deadline order. What the runtime guarantees is the
/// order in which sleeps become ready, not the order in which separate
/// tasks get a core afterwards (the OS may hold one worker back while the
/// other runs), so one task polls all four sleeps, earliest deadline first,
/// and records each as it becomes ready: a later sleep can only be ready
/// once every earlier one is, however late the polls come.
#[test]
fn sleeps_become_ready_in_deadline_order() {
    let rt = rt(2);
    rt.block_on(async {
        let start = Instant::now();
        let mut sleeps: Vec<(u64, Pin<Box<time::Sleep>>)> = [40u64, 10, 30, 20]
            .into_iter()
            .map(|ms| (ms, Box::pin(sleep_until(start + Duration::from_millis(ms)))))
            .collect();
        sleeps.sort_by_key(|(ms, _)| *ms);
        let mut order = Vec::new();
        std::future::poll_fn(|cx| {
            for (ms, s) in sleeps.iter_mut() {
                if !order.contains(ms) && s.as_mut().poll(cx).is_ready() {
                    assert!(Instant::now() >= start + Duration::from_millis(*ms));
                    order.push(*ms);
                }
            }
            if order.len() == sleeps.len() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        assert_eq!(order, vec![10, 20, 30, 40]);
    });
}

#[test]
#[should_panic(expected = "no Kioto runtime")]
fn sleep_outside_a_runtime_panics_clearly() {
    drop(time::sleep(Duration::from_millis(1)));
}

#[test]
fn a_replaced_waker_may_drop_another_sleep_when_dropped() {
    // The runtime lives inside the bounded closure: on a deadlock it stays
    // stuck there instead of hanging this thread's shutdown.
    within(Duration::from_secs(10), || {
        let rt = rt(1);
        let _enter = rt.enter();
        let mut first = Box::pin(sleep(Duration::from_secs(3600)));
        let mut second = Box::pin(sleep(Duration::from_secs(3600)));
        // Registered in the wheel.
        assert!(poll_once(second.as_mut()).is_pending());
        // Dropping this waker drops (deregisters) the second sleep.
        let calls_back = waker_calling_on_drop(move || drop(second));
        assert!(poll_with(first.as_mut(), &calls_back).is_pending());
        // The wheel holds the only clone: re-polling with another waker
        // drops it.
        drop(calls_back);
        assert!(poll_once(first.as_mut()).is_pending());
    });
}

#[test]
fn is_elapsed_is_false_until_the_sleep_is_polled_or_fired() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let _enter = handle.enter();
    // Due already, but nothing observed it yet (as tokio).
    let mut due = Box::pin(sleep(Duration::ZERO));
    assert!(!due.is_elapsed());
    assert!(poll_once(due.as_mut()).is_ready());
    assert!(due.is_elapsed());
    // Registered by a poll, then fired by the driver without being polled
    // again: elapsed (as tokio).
    let mut soon = Box::pin(sleep(Duration::from_millis(1)));
    assert!(!soon.is_elapsed());
    if poll_once(soon.as_mut()).is_pending() {
        assert!(wait_until(|| soon.is_elapsed()), "the timer never fired");
    }
    assert!(soon.is_elapsed());
    // Moving the deadline makes it pending again.
    soon.as_mut()
        .reset(Instant::now() + Duration::from_secs(3600));
    assert!(!soon.is_elapsed());
}

/// Runs `f` and returns its panic message; fails if it did not panic.
fn panic_message_of(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("expected a panic, but it returned");
    panic_text(&*payload)
}

#[test]
fn timers_on_a_shut_down_runtime_panic_instead_of_completing() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    // Registered in the wheel before the shutdown.
    let mut registered = {
        let _enter = handle.enter();
        Box::pin(sleep(Duration::from_millis(300)))
    };
    assert!(poll_once(registered.as_mut()).is_pending());
    rt.shutdown_timeout(Duration::from_secs(5));

    let msg =
        panic_message_of(|| handle.block_on(async { sleep(Duration::from_millis(300)).await }));
    assert!(msg.contains("shut down"), "message was {msg:?}");
    let msg = panic_message_of(|| handle.block_on(registered.as_mut()));
    assert!(msg.contains("shut down"), "message was {msg:?}");
    assert!(!registered.is_elapsed());
    let msg = panic_message_of(|| {
        let _ = handle.block_on(timeout(
            Duration::from_millis(300),
            std::future::pending::<()>(),
        ));
    });
    assert!(msg.contains("shut down"), "message was {msg:?}");
    let msg = panic_message_of(|| {
        handle.block_on(async {
            let mut i = time::interval(Duration::from_millis(300));
            i.tick().await;
        })
    });
    assert!(msg.contains("shut down"), "message was {msg:?}");
    // A future that is ready on its first poll never needs the timer.
    assert_eq!(
        handle.block_on(timeout(Duration::from_millis(300), async { 5 })),
        Ok(5)
    );
}

#[test]
fn a_sleep_polled_by_a_task_during_shutdown_does_not_complete() {
    // The task's sleep is registered, then the runtime shuts down: the task
    // is dropped, never resumed as though its sleep had elapsed.
    let rt = rt(1);
    let resumed = Arc::new(AtomicUsize::new(0));
    let r = resumed.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let _task = rt.spawn(async move {
        let s = sleep(Duration::from_secs(3600));
        started_tx.send(()).unwrap();
        s.await;
        r.fetch_add(1, Ordering::SeqCst);
    });
    started_rx.recv().unwrap();
    rt.shutdown_timeout(Duration::from_secs(5));
    assert_eq!(resumed.load(Ordering::SeqCst), 0);
}

/// A deadline too far to count in the wheel's milliseconds means "never":
/// it must not wrap around and fire early (about 585 million years wraps
/// to 384 ms after the runtime's start).
#[test]
fn a_deadline_beyond_the_wheel_range_never_fires() {
    let rt = rt(2);
    rt.block_on(async {
        let far = Duration::from_secs(18_446_744_073_709_552);
        let r = timeout(far, sleep(Duration::from_millis(600))).await;
        assert_eq!(r, Ok(()), "the far timeout fired first");
    });
}

/// A sleep whose timer fired before the runtime shut down stays elapsed
/// and completes when polled; only a sleep still waiting at shutdown
/// panics (its time never came).
#[test]
fn a_sleep_fired_before_shutdown_stays_elapsed() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    // The sleep is returned out of `block_on` on purpose, to be polled
    // after the shutdown.
    #[allow(clippy::async_yields_async)]
    let mut fired = rt.block_on(async {
        let mut s = Box::pin(sleep(Duration::from_millis(5)));
        // Registered with the wheel, then fired while nobody polls it.
        assert!(support::poll_once(s.as_mut()).is_pending());
        for _ in 0..10_000 {
            if s.is_elapsed() {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        s
    });
    assert!(fired.is_elapsed(), "the wheel never fired it");
    rt.shutdown_timeout(Duration::from_secs(10));
    assert!(
        fired.is_elapsed(),
        "a fired sleep became not elapsed at shutdown"
    );
    let _enter = handle.enter();
    assert!(support::poll_once(fired.as_mut()).is_ready());
}
