//! Spawning, joining, aborting, panics, JoinSet, block_on rules, shutdown.

use kioto_rt::runtime::Builder;
use kioto_rt::task::{self, JoinSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod support;
use std::time::Duration;
use support::{panic_text, rt, wait_until, DropCounter};

#[test]
fn block_on_returns_the_output_of_spawned_tasks() {
    let rt = rt(2);
    let out = rt.block_on(async {
        let handles: Vec<_> = (0..100u64)
            .map(|i| kioto_rt::spawn(async move { i * i }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(out, (0..100u64).map(|i| i * i).sum::<u64>());
}

#[test]
fn spawn_through_a_handle_from_another_thread() {
    let rt = rt(2);
    let handle = rt.handle().clone();
    let v = std::thread::spawn(move || {
        let jh = handle.spawn(async { 5 });
        handle.block_on(jh).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(v, 5);
}

#[test]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    let err = std::panic::catch_unwind(|| {
        kioto_rt::spawn(async {});
    })
    .unwrap_err();
    let msg = panic_text(&*err);
    assert!(msg.contains("no Kioto runtime"), "message was {msg:?}");
}

#[test]
fn a_panicking_task_yields_a_join_error_and_the_worker_survives() {
    let rt = rt(1);
    rt.block_on(async {
        for _ in 0..10 {
            let err = kioto_rt::spawn(async { panic!("boom") }).await.unwrap_err();
            assert!(err.is_panic());
            assert!(!err.is_cancelled());
            let payload = err.into_panic();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        }
        // The single worker still runs tasks.
        assert_eq!(kioto_rt::spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn abort_drops_the_future_and_reports_cancellation() {
    let rt = rt(2);
    let drops = DropCounter::default();
    rt.block_on(async {
        let tracked = drops.track();
        let handle = kioto_rt::spawn(async move {
            let _t = tracked;
            std::future::pending::<()>().await;
        });
        task::yield_now().await;
        assert!(!handle.is_finished());
        handle.abort();
        let err = handle.await.unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(drops.get(), 1);
    });
}

#[test]
fn abort_handle_aborts_and_tracks_completion() {
    let rt = rt(2);
    rt.block_on(async {
        let handle = kioto_rt::spawn(std::future::pending::<()>());
        let abort = handle.abort_handle();
        assert_eq!(abort.id(), handle.id());
        assert!(!abort.is_finished());
        abort.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
        assert!(abort.is_finished());
        // Aborting a finished task is a no-op.
        let done = kioto_rt::spawn(async { 3 });
        let abort = done.abort_handle();
        assert_eq!(done.await.unwrap(), 3);
        abort.abort();
    });
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    let rt = rt(2);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async move {
        drop(kioto_rt::spawn(async move {
            task::yield_now().await;
            tx.send(42).unwrap();
        }));
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 42);
}

#[test]
fn task_ids_are_unique_and_visible_inside_the_task() {
    let rt = rt(2);
    rt.block_on(async {
        let handle = kioto_rt::spawn(async { task::id() });
        let id = handle.id();
        assert_eq!(handle.await.unwrap(), id);
        assert!(task::try_id().is_none(), "block_on is not a task");
    });
}

#[test]
fn join_set_joins_in_completion_order_and_aborts_on_drop() {
    let rt = rt(2);
    let drops = DropCounter::default();
    rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..100u32 {
            set.spawn(async move {
                for _ in 0..(i % 7) {
                    task::yield_now().await;
                }
                i
            });
        }
        assert_eq!(set.len(), 100);
        let mut seen = [false; 100];
        while let Some(r) = set.join_next().await {
            let i = r.unwrap() as usize;
            assert!(!seen[i]);
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert!(set.is_empty());

        let mut set = JoinSet::new();
        for _ in 0..10 {
            let t = drops.track();
            set.spawn(async move {
                let _t = t;
                std::future::pending::<()>().await;
            });
        }
        task::yield_now().await;
        drop(set);
        // Aborted tasks drop their futures at their next scheduling point.
        assert!(wait_until(|| drops.get() == 10), "dropped {}", drops.get());
    });
}

#[test]
fn join_set_reports_panics_and_abort_all() {
    let rt = rt(2);
    rt.block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("in a set") });
        assert!(set.join_next().await.unwrap().unwrap_err().is_panic());

        for _ in 0..5 {
            set.spawn(std::future::pending::<()>());
        }
        set.abort_all();
        let mut cancelled = 0;
        while let Some(r) = set.join_next().await {
            assert!(r.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, 5);
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn try_join_next_returns_every_finished_task_within_one_poll() {
    const TASKS: usize = 1000;
    // One worker, and the joining code runs as a task on it: every task in
    // the set runs to completion (output published) before this task is
    // polled again, so what follows is deterministic.
    let rt = rt(1);
    let joined = rt.block_on(rt.spawn(async {
        let finished = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for i in 0..TASKS {
            let finished = finished.clone();
            set.spawn(async move {
                finished.fetch_add(1, Ordering::SeqCst);
                i
            });
        }
        while finished.load(Ordering::SeqCst) < TASKS {
            task::yield_now().await;
        }
        // A non-blocking check must not spend the coop budget: within this
        // single poll, every finished task is there to take.
        let mut joined = 0;
        while let Some(r) = set.try_join_next() {
            r.unwrap();
            joined += 1;
        }
        joined
    }));
    assert_eq!(joined.unwrap(), TASKS);
}

#[test]
fn block_on_inside_a_task_panics_with_a_clear_message() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(async move { kioto_rt::spawn(async move { handle.block_on(async {}) }).await })
        .unwrap_err();
    let msg = panic_text(&*err.into_panic());
    assert!(
        msg.contains("cannot block on a runtime"),
        "message was {msg:?}"
    );
}

#[test]
fn nested_block_on_panics() {
    let rt = rt(1);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { rt.block_on(async {}) })
    }));
    assert!(result.is_err());
}

#[test]
fn dropping_the_runtime_drops_pending_tasks() {
    let drops = DropCounter::default();
    let rt = rt(2);
    for _ in 0..50 {
        let t = drops.track();
        rt.spawn(async move {
            let _t = t;
            std::future::pending::<()>().await;
        });
    }
    // Some never polled, some idle.
    rt.block_on(task::yield_now());
    drop(rt);
    assert_eq!(drops.get(), 50);
}

#[test]
fn shutdown_drops_tasks_that_hold_their_own_waker() {
    // A task that keeps its own waker alive would leak without the
    // registry: shutdown must still drop its future.
    let drops = DropCounter::default();
    let rt = rt(2);
    let t = drops.track();
    let slot: Arc<std::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
    rt.spawn(async move {
        let _t = t;
        std::future::poll_fn(move |cx| {
            *slot.lock().unwrap() = Some(cx.waker().clone());
            std::task::Poll::<()>::Pending
        })
        .await;
    });
    rt.block_on(task::yield_now());
    rt.shutdown_timeout(Duration::from_secs(5));
    assert_eq!(drops.get(), 1);
}

#[test]
fn join_handle_of_a_task_dropped_at_shutdown_is_cancelled() {
    let rt = rt(1);
    let handle = rt.spawn(std::future::pending::<()>());
    let other = kioto_rt::Runtime::new().unwrap();
    drop(rt);
    let err = other.block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
}

#[test]
fn spawn_blocking_runs_on_the_pool_and_reports_panics() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                task::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, 28);
        let err = task::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
        // Blocking closures can spawn onto the runtime.
        let v = task::spawn_blocking(|| kioto_rt::spawn(async { 9 }))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(v, 9);
    });
    assert!(rt.metrics().num_blocking_threads() <= 2);
}

#[test]
fn thread_hooks_and_names_apply_to_workers() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kioto-test-worker")
        .on_thread_start(move || {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let name = rt.block_on(async {
        kioto_rt::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap()
    });
    assert_eq!(name.as_deref(), Some("kioto-test-worker"));
    drop(rt);
    assert_eq!(started.load(Ordering::SeqCst), 2);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}

#[test]
fn metrics_count_spawns_and_alive_tasks() {
    let rt = rt(2);
    let before = rt.metrics().spawned_tasks_count();
    rt.block_on(async {
        let hs: Vec<_> = (0..10).map(|_| kioto_rt::spawn(async {})).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let m = rt.metrics();
    assert_eq!(m.spawned_tasks_count() - before, 10);
    assert_eq!(m.num_alive_tasks(), 0);
    let h = rt.spawn(std::future::pending::<()>());
    assert_eq!(rt.metrics().num_alive_tasks(), 1);
    h.abort();
    rt.block_on(async { assert!(h.await.unwrap_err().is_cancelled()) });
    assert_eq!(rt.metrics().num_alive_tasks(), 0);
}

#[test]
fn dump_lists_live_tasks_with_their_spawn_location() {
    let rt = rt(2);
    let h = rt.spawn(std::future::pending::<()>());
    let line = line!() - 1;
    rt.block_on(task::yield_now());
    let dump = rt.handle().dump();
    assert_eq!(dump.tasks().len(), 1);
    let t = &dump.tasks()[0];
    assert_eq!(t.id(), h.id());
    assert_eq!(t.location().line(), line);
    assert!(t.location().file().ends_with("rt_spawn.rs"));
    assert!(dump.to_string().contains("rt_spawn.rs"));
}

#[test]
fn absurd_worker_counts_are_an_error_not_a_panic() {
    let err = Builder::new_multi_thread()
        .worker_threads(70_000)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// Takes a while to drop: the task's output is published only after it.
struct SlowDrop;
impl Drop for SlowDrop {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Ready at once, but keeps its field until the future itself is dropped
/// (an `async` block would drop its captures as it returns): the task has
/// finished, and reported so, well before its output is published.
struct ReadyHolding(#[allow(dead_code)] SlowDrop);
impl std::future::Future for ReadyHolding {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

/// `try_join_next` in the same poll as a pending `poll_join_next` must not
/// take over the wake-up the latter registered on a task that has finished
/// but not yet published its output: the join would then never wake.
#[test]
fn try_join_next_keeps_the_wake_up_of_a_pending_join_next() {
    let rt = rt(2);
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let mut set = JoinSet::new();
        set.spawn(ReadyHolding(SlowDrop));
        let joined = std::future::poll_fn(|cx| {
            let polled = set.poll_join_next(cx);
            if polled.is_pending() {
                assert!(set.try_join_next().is_none());
            }
            polled
        })
        .await;
        let _ = tx.send(matches!(joined, Some(Ok(()))));
    });
    // Waited for from outside: nothing polls the join again unless its own
    // wake-up arrives.
    let joined = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(joined, Ok(true), "the join never woke");
}
