//! Intervals under each `MissedTickBehavior`, with a task that deliberately
//! blocks its worker. Assertions compare the *scheduled* instants ticks
//! return (exact) and count ticks with tolerance only on the lower side.

use kioto_rt::runtime::Builder;
use kioto_rt::time::{interval, interval_at, Instant, MissedTickBehavior};
use std::time::Duration;

const PERIOD: Duration = Duration::from_millis(10);
const BLOCK: Duration = Duration::from_millis(55);
const WINDOW: Duration = Duration::from_millis(200);

/// Ticks once, blocks the worker for `BLOCK`, then ticks until `WINDOW`
/// after the start. Returns (start, time the block ended, scheduled instants).
fn run(behavior: MissedTickBehavior) -> (Instant, Instant, Vec<Instant>) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        kioto_rt::spawn(async move {
            let mut iv = interval(PERIOD);
            iv.set_missed_tick_behavior(behavior);
            assert_eq!(iv.missed_tick_behavior(), behavior);
            assert_eq!(iv.period(), PERIOD);
            let start = iv.tick().await; // the first tick is immediate
            std::thread::sleep(BLOCK); // deliberately block the worker
            let unblocked = Instant::now();
            let mut ticks = vec![start];
            loop {
                let t = iv.tick().await;
                if t > start + WINDOW {
                    break;
                }
                ticks.push(t);
            }
            (start, unblocked, ticks)
        })
        .await
        .unwrap()
    })
}

fn assert_on_schedule(start: Instant, ticks: &[Instant]) {
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(*t, start + PERIOD * i as u32, "tick {i}");
    }
}

#[test]
fn burst_catches_up_every_missed_tick() {
    let (start, unblocked, ticks) = run(MissedTickBehavior::Burst);
    // Every tick of the window is delivered, on the original schedule.
    assert_eq!(ticks.len(), 21);
    assert_on_schedule(start, &ticks);
    // All ticks scheduled during the block were delivered after it.
    let missed = ticks.iter().filter(|t| **t <= start + BLOCK).count();
    assert!(missed >= 6);
    assert!(unblocked >= start + BLOCK);
}

#[test]
fn delay_restarts_the_schedule_after_a_late_tick() {
    let (start, unblocked, ticks) = run(MissedTickBehavior::Delay);
    // The tick at 10 ms is delivered late; the ones at 20..50 are not.
    assert_eq!(ticks[1], start + PERIOD);
    assert!(
        ticks[2] >= unblocked + PERIOD,
        "next tick is a period after the late one"
    );
    for pair in ticks[2..].windows(2) {
        assert!(pair[1] - pair[0] >= PERIOD);
    }
    // At most 1 + 1 + (200 - 55) / 10 ticks fit; lower side generous.
    assert!(ticks.len() <= 2 + 15, "{}", ticks.len());
    // ~16 expected; only a wildly oversleeping block (> 135 ms) gives fewer than 3.
    assert!(ticks.len() >= 3, "{}", ticks.len());
}

#[test]
fn skip_drops_missed_ticks_and_keeps_the_phase() {
    let (start, unblocked, ticks) = run(MissedTickBehavior::Skip);
    assert_eq!(ticks[1], start + PERIOD);
    assert!(ticks[2] > unblocked, "missed ticks are skipped");
    for t in &ticks[2..] {
        let since = (*t - start).as_nanos();
        assert_eq!(since % PERIOD.as_nanos(), 0, "phase kept");
    }
    assert!(ticks.len() <= 2 + 15, "{}", ticks.len());
    // ~16 expected; only a wildly oversleeping block (> 135 ms) gives fewer than 3.
    assert!(ticks.len() >= 3, "{}", ticks.len());
}

#[test]
fn interval_at_and_resets() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(5);
        let mut iv = interval_at(start, PERIOD);
        assert_eq!(iv.tick().await, start);
        assert!(Instant::now() >= start);
        assert_eq!(iv.tick().await, start + PERIOD);
        let before = Instant::now();
        iv.reset();
        let t = iv.tick().await;
        assert!(t >= before + PERIOD);
        iv.reset_immediately();
        let t2 = iv.tick().await;
        assert!(t2 <= Instant::now());
        let at = Instant::now() + Duration::from_millis(3);
        iv.reset_at(at);
        assert_eq!(iv.tick().await, at);
        iv.reset_after(Duration::from_millis(1));
        iv.tick().await;
    });
}

#[test]
#[should_panic(expected = "non-zero")]
fn zero_period_panics() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = interval(Duration::ZERO);
    });
}

#[test]
fn an_interval_of_duration_max_ticks_once_then_waits() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut iv = interval(Duration::MAX);
        iv.tick().await; // immediate
        let second = std::future::poll_fn(|cx| std::task::Poll::Ready(iv.poll_tick(cx))).await;
        assert!(second.is_pending(), "the second tick is decades away");
        iv.reset();
        iv.reset_after(Duration::MAX);
        let mut iv = interval_at(Instant::now(), Duration::from_millis(1));
        iv.reset_after(Duration::MAX);
        let next = std::future::poll_fn(|cx| std::task::Poll::Ready(iv.poll_tick(cx))).await;
        assert!(next.is_pending());
    });
}
