//! Shutdown and handle edge cases found in review: each test pins a bug
//! that once hung, crashed or leaked.

use futures_util::FutureExt;
use kioto_rt::runtime::Builder;
use kioto_rt::task::{self, JoinSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod support;
use support::{rt, within, DropCounter};

#[test]
fn dropping_the_runtime_while_a_task_waits_in_join_next_does_not_deadlock() {
    within(Duration::from_secs(60), || {
        for _ in 0..20 {
            let rt = rt(2);
            rt.spawn(async {
                let mut set = JoinSet::new();
                for _ in 0..4 {
                    set.spawn(std::future::pending::<()>());
                }
                set.join_next().await;
            });
            rt.block_on(task::yield_now());
            drop(rt);
        }
    });
}

#[test]
fn a_long_chain_of_idle_tasks_is_dropped_at_shutdown_without_recursion() {
    // Each task owns the sender the next one waits on: dropping one wakes
    // the next. Dropped inline inside each wake this used to recurse once
    // per task and overflow the stack.
    const N: usize = 100_000;
    let drops = DropCounter::default();
    let d = drops.clone();
    within(Duration::from_secs(120), move || {
        let rt = rt(2);
        rt.block_on(async {
            let (first_tx, mut rx) = kioto_rt::sync::mpsc::unbounded_channel::<()>();
            for _ in 0..N {
                let (tx, next_rx) = kioto_rt::sync::mpsc::unbounded_channel::<()>();
                let t = d.track();
                kioto_rt::spawn(async move {
                    let _t = t;
                    let _tx = tx;
                    rx.recv().await;
                });
                rx = next_rx;
            }
            drop(rx);
            std::mem::forget(first_tx); // the head never fires
        });
        drop(rt);
    });
    assert_eq!(drops.get(), N);
}

#[test]
fn a_runtime_dropped_inside_spawn_blocking_does_not_wait_for_itself() {
    within(Duration::from_secs(60), || {
        let rt = rt(1);
        let handle = rt.handle().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        handle.spawn_blocking(move || {
            drop(rt);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
    });
}

#[test]
fn is_finished_means_the_output_is_ready() {
    let rt = rt(2);
    // Unconstrained: 20,000 polls in one go would otherwise spend the
    // cooperative budget and make `now_or_never` see `Pending` by design.
    rt.block_on(task::unconstrained(async {
        for _ in 0..20_000 {
            let h = kioto_rt::spawn(async { 7u8 });
            while !h.is_finished() {
                std::hint::spin_loop();
            }
            assert_eq!(
                h.now_or_never().expect("finished but not ready").unwrap(),
                7
            );
        }
    }));
}

#[test]
fn spawns_racing_a_runtime_drop_leak_nothing() {
    within(Duration::from_secs(120), || {
        for _ in 0..200 {
            let rt = rt(2);
            let made = Arc::new(AtomicUsize::new(0));
            let drops = DropCounter::default();
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let handle = rt.handle().clone();
                    let (made, drops) = (made.clone(), drops.clone());
                    std::thread::spawn(move || {
                        for _ in 0..50 {
                            let t = drops.track();
                            made.fetch_add(1, Ordering::SeqCst);
                            handle.spawn(async move {
                                let _t = t;
                                std::future::pending::<()>().await;
                            });
                        }
                    })
                })
                .collect();
            drop(rt);
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(drops.get(), made.load(Ordering::SeqCst));
        }
    });
}

#[test]
fn idle_workers_do_not_spin_while_a_busy_worker_holds_a_lifo_task() {
    // A task spawns a child (into its LIFO slot) then computes for a while.
    // The idle sibling must go to sleep, not bounce between searching and
    // notifying itself (that once made 1.5 million parks in 8 ms).
    let rt = rt(2);
    let parks_before: u64 = (0..2).map(|w| rt.metrics().worker_park_count(w)).sum();
    rt.block_on(async {
        kioto_rt::spawn(async {
            let child = kioto_rt::spawn(async {});
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_millis(8) {
                std::hint::spin_loop();
            }
            child.await.unwrap();
        })
        .await
        .unwrap();
    });
    let parks: u64 = (0..2)
        .map(|w| rt.metrics().worker_park_count(w))
        .sum::<u64>()
        - parks_before;
    assert!(parks < 1_000, "{parks} parks: an idle worker is spinning");
}

#[test]
fn a_yielded_task_is_not_stuck_behind_a_blocked_worker() {
    // X yields (deferred on its worker); then Y, on the same worker, blocks
    // the thread until X has run again. Only the sibling can run X.
    let rt = rt(2);
    within(Duration::from_secs(60), move || {
        rt.block_on(async {
            kioto_rt::spawn(async {
                let resumed = Arc::new(AtomicUsize::new(0));
                let r = resumed.clone();
                let x = kioto_rt::spawn(async move {
                    task::yield_now().await;
                    r.store(1, Ordering::SeqCst);
                });
                let r = resumed.clone();
                let y = kioto_rt::spawn(async move {
                    while r.load(Ordering::SeqCst) == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                });
                x.await.unwrap();
                y.await.unwrap();
            })
            .await
            .unwrap();
        });
    });
}

#[test]
fn a_panicking_thread_start_hook_does_not_hang_the_runtime_drop() {
    // The blocking thread died in the hook while still counted, and the
    // drop waited for it forever.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    within(Duration::from_secs(60), move || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .on_thread_start(|| panic!("on_thread_start hook"))
            .build()
            .unwrap();
        let handle = rt.spawn_blocking(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        drop(rt);
        drop(handle);
    });
    // Either it ran before the drop or the drop cancelled it: never twice.
    assert!(ran.load(Ordering::SeqCst) <= 1);
}

#[test]
fn a_blocking_closure_runs_even_when_its_thread_start_hook_panics() {
    // Workers start (and pass the hook) first; only then is it armed, so
    // only blocking threads panic in it. Their closures still run.
    let armed = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (a, s, t) = (armed.clone(), started.clone(), stopped.clone());
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(move || {
            if a.load(Ordering::SeqCst) {
                panic!("on_thread_start hook on a blocking thread");
            }
            s.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    assert!(support::wait_until(|| started.load(Ordering::SeqCst) == 1));
    armed.store(true, Ordering::SeqCst);
    let out = within(Duration::from_secs(60), move || {
        let out = rt.block_on(async {
            let a = task::spawn_blocking(|| 1).await.unwrap();
            let b = task::spawn_blocking(|| 2).await.unwrap();
            a + b
        });
        drop(rt);
        out
    });
    assert_eq!(out, 3);
    // Every thread that started also ran its stop hook: the worker and
    // each blocking thread.
    assert!(stopped.load(Ordering::SeqCst) >= 2);
}

/// What a task's `Drop` saw of the runtime while shutdown dropped it.
#[derive(Default)]
struct SeenInDrop {
    had_context: AtomicBool,
    spawn_cancelled: AtomicBool,
    dropped: AtomicBool,
}

struct ProbeOnDrop(Arc<SeenInDrop>);

impl Drop for ProbeOnDrop {
    fn drop(&mut self) {
        let seen = &self.0;
        seen.had_context
            .store(kioto_rt::Handle::try_current().is_ok(), Ordering::SeqCst);
        // As in tokio: spawning from cleanup code during shutdown gives a
        // handle whose task never runs, instead of a panic.
        let spawned = std::panic::catch_unwind(|| kioto_rt::spawn(async {}));
        if let Ok(handle) = spawned {
            let joined = handle.now_or_never();
            seen.spawn_cancelled.store(
                matches!(joined, Some(Err(ref e)) if e.is_cancelled()),
                Ordering::SeqCst,
            );
        }
        seen.dropped.store(true, Ordering::SeqCst);
    }
}

/// Idle tasks are dropped at shutdown inside their runtime's context, so
/// the cleanup code in their `Drop` (an actor's, say) can still reach it.
#[test]
fn idle_tasks_dropped_at_shutdown_still_see_their_runtime() {
    let seen = Arc::new(SeenInDrop::default());
    let rt = rt(2);
    let probe = ProbeOnDrop(seen.clone());
    let (started_tx, started) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let _probe = probe;
        let _ = started_tx.send(());
        std::future::pending::<()>().await;
    });
    started.recv().unwrap();
    drop(rt);
    assert!(seen.dropped.load(Ordering::SeqCst));
    assert!(
        seen.had_context.load(Ordering::SeqCst),
        "no runtime context in Drop"
    );
    assert!(
        seen.spawn_cancelled.load(Ordering::SeqCst),
        "spawn in Drop was not cancelled"
    );
}

/// Blocking work accepted before shutdown runs: a closure handed to
/// `spawn_blocking` just before `shutdown_timeout` is not cancelled because
/// its thread had not yet picked it up.
#[test]
fn spawn_blocking_just_before_shutdown_still_runs() {
    let ran = Arc::new(AtomicUsize::new(0));
    const ROUNDS: usize = 100;
    for _ in 0..ROUNDS {
        let rt = rt(1);
        let ran = ran.clone();
        drop(rt.spawn_blocking(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        }));
        rt.shutdown_timeout(Duration::from_secs(10));
    }
    assert_eq!(ran.load(Ordering::SeqCst), ROUNDS);
}

/// A runtime dropped where blocking is not allowed (inside a task or a
/// `block_on` of another runtime) shuts down in the background instead of
/// holding that thread while its workers finish: here its worker is held
/// until after the drop returns, so waiting for it would never end.
#[test]
fn a_runtime_dropped_inside_another_runtime_shuts_down_in_the_background() {
    within(Duration::from_secs(60), || {
        let outer = rt(1);
        let inner = rt(1);
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let drops = DropCounter::default();
        let token = drops.track();
        inner.spawn(async move {
            let _token = token;
            let _ = entered_tx.send(());
            // Holds the inner runtime's only worker.
            let _ = held.recv();
        });
        entered.recv().unwrap();
        outer.block_on(async move {
            drop(inner);
        });
        release.send(()).unwrap();
        assert!(
            support::wait_until(|| drops.get() == 1),
            "the inner task was never dropped"
        );
    });
}

/// A `thread_name_fn` that panics when the blocking pool starts a thread:
/// `spawn_blocking` neither unwinds nor loses the thread it counted, the
/// closure runs, and the runtime's drop does not wait forever.
#[test]
fn a_panicking_thread_name_callback_does_not_hang_the_blocking_pool() {
    let armed = Arc::new(AtomicBool::new(false));
    let a = armed.clone();
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name_fn(move || {
            if a.load(Ordering::SeqCst) {
                panic!("thread_name_fn for a blocking thread");
            }
            "kioto-worker".to_owned()
        })
        .build()
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    let out = within(Duration::from_secs(60), move || {
        let out = rt.block_on(async { task::spawn_blocking(|| 7).await.unwrap() });
        drop(rt);
        out
    });
    assert_eq!(out, 7);
}
