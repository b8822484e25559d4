//! Scheduler behaviour under load: every task runs exactly once, stealing
//! happens, budgets keep one task from starving another, a blocked worker's
//! queue and LIFO slot are stolen, and cross-thread wake storms lose nothing.

use kioto_rt::runtime::Builder;
use kioto_rt::task;
use kioto_rt::Runtime;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

mod support;
use support::{rt, within};

/// A million tasks spawned from one worker spread across both workers.
///
/// The spawning worker's local queue overflows into the global queue, and
/// its idle sibling takes work from there as well as by stealing, so the
/// test asserts what matters (each task ran once, and the sibling ran a
/// good share of them) rather than which path the work took. Which worker
/// runs more depends on the machine: the spawner is busy spawning while the
/// sibling runs, so on a loaded machine the sibling may run nearly all of
/// them, and otherwise the spawner catches up once it is done. The bound is
/// the one that holds either way: the sibling runs at least a tenth (it ran
/// 20% to 98% in measurements, idle and loaded).
#[test]
fn a_million_tasks_each_run_exactly_once_and_both_workers_share_them() {
    const N: usize = 1_000_000;
    let rt = rt(2);
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let on_sibling = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let runs = runs.clone();
        let on_sibling = on_sibling.clone();
        let done = done.clone();
        rt.spawn(async move {
            let spawner = std::thread::current().id();
            for i in 0..N {
                let runs = runs.clone();
                let on_sibling = on_sibling.clone();
                let done = done.clone();
                let tx = tx.clone();
                kioto_rt::spawn(async move {
                    runs[i].fetch_add(1, Ordering::Relaxed);
                    if std::thread::current().id() != spawner {
                        on_sibling.fetch_add(1, Ordering::Relaxed);
                    }
                    if done.fetch_add(1, Ordering::AcqRel) + 1 == N {
                        tx.send(()).unwrap();
                    }
                });
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(120))
        .expect("tasks did not all run");
    assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
    let m = rt.metrics();
    assert!(m.spawned_tasks_count() >= N as u64);
    let per_worker = |f: &dyn Fn(usize) -> u64| (0..2).map(f).collect::<Vec<u64>>();
    let polls = per_worker(&|w| m.worker_poll_count(w));
    let steals = per_worker(&|w| m.worker_steal_count(w));
    let global = per_worker(&|w| m.worker_global_queue_count(w));
    let on_sibling = on_sibling.load(Ordering::Relaxed) as u64;
    let why = format!("polls {polls:?}, steals {steals:?}, from the global queue {global:?}");
    assert!(polls.iter().sum::<u64>() > N as u64, "{why}");
    assert!(
        on_sibling >= N as u64 / 10,
        "the sibling ran {on_sibling} of {N} tasks: {why}"
    );
    // Every task the sibling ran reached it through a path the metrics
    // count: a steal or the global queue (the spawner's overflow).
    let moved = steals.iter().sum::<u64>() + global.iter().sum::<u64>();
    assert!(
        moved >= on_sibling,
        "the sibling ran {on_sibling} tasks, the metrics show {moved} moved: {why}"
    );
}

#[test]
fn an_always_ready_loop_is_forced_to_yield_on_one_worker() {
    let rt = rt(1);
    within(Duration::from_secs(60), move || {
        rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let spins = Arc::new(AtomicUsize::new(0));
            let greedy = {
                let (stop, spins) = (stop.clone(), spins.clone());
                // Never awaits anything that is not ready: only the budget
                // can make it give the worker back.
                kioto_rt::spawn(async move {
                    let finished = kioto_rt::spawn(async {});
                    let mut finished = Some(finished);
                    while !stop.load(Ordering::Acquire) {
                        if let Some(h) = finished.take() {
                            h.await.unwrap();
                        }
                        task::consume_budget().await;
                        spins.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            // This task needs the single worker while the greedy one spins.
            let other = {
                let stop = stop.clone();
                kioto_rt::spawn(async move {
                    stop.store(true, Ordering::Release);
                })
            };
            other.await.unwrap();
            greedy.await.unwrap();
            assert!(spins.load(Ordering::Relaxed) > 0);
        });
        assert!(rt.metrics().budget_forced_yield_count() > 0);
    });
}

#[test]
fn yield_now_lets_every_other_queued_task_run_first() {
    // One worker; ten tasks queued before any runs. Each records a first
    // step, yields, records a second step. A yielded task goes to the back
    // of the queue (never the LIFO slot), so every first step precedes
    // every second step.
    let rt = rt(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    rt.block_on(async move {
        kioto_rt::spawn(async move {
            let handles: Vec<_> = (0..10)
                .map(|i| {
                    let o = o.clone();
                    kioto_rt::spawn(async move {
                        o.lock().unwrap().push((i, 1));
                        task::yield_now().await;
                        o.lock().unwrap().push((i, 2));
                    })
                })
                .collect();
            handles
        })
        .await
        .unwrap()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while order.lock().unwrap().len() < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 20);
    let last_first = order.iter().rposition(|&(_, step)| step == 1).unwrap();
    let first_second = order.iter().position(|&(_, step)| step == 2).unwrap();
    assert!(last_first < first_second, "order {order:?}");
}

#[test]
fn a_blocked_worker_has_its_queue_and_lifo_slot_stolen() {
    // Worker A's task spawns tasks (the last one sits in A's LIFO slot),
    // then blocks the thread until all of them have run. Only the other
    // worker can run them, including the LIFO one.
    let rt = rt(2);
    within(Duration::from_secs(60), move || {
        rt.block_on(async {
            kioto_rt::spawn(async {
                const N: usize = 8;
                let ran = Arc::new(AtomicUsize::new(0));
                for _ in 0..N {
                    let ran = ran.clone();
                    kioto_rt::spawn(async move {
                        ran.fetch_add(1, Ordering::SeqCst);
                    });
                }
                // Block this worker thread (what a task must never do) until
                // the others ran: it returns only if they were stolen.
                while ran.load(Ordering::SeqCst) < N {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
            .await
            .unwrap();
        });
    });
}

#[test]
fn a_lone_lifo_task_behind_a_blocked_worker_is_stolen() {
    // Only one spawned task: it sits in the LIFO slot, no queue push ever
    // wakes the sibling. The monitor must notice the stuck worker.
    let rt = rt(2);
    within(Duration::from_secs(60), move || {
        rt.block_on(async {
            kioto_rt::spawn(async {
                let ran = Arc::new(AtomicBool::new(false));
                let r = ran.clone();
                kioto_rt::spawn(async move { r.store(true, Ordering::SeqCst) });
                while !ran.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
            .await
            .unwrap();
        });
    });
}

/// A one-shot-per-round signal between two tasks, built only from std, so
/// the storm test exercises the scheduler's wake path and nothing else.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn raise(&self) {
        self.set.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await
    }
}

fn wake_storm(rt: &Runtime, pairs: usize, rounds: usize) -> usize {
    let total = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..pairs {
            let ping = Arc::new(Signal::default());
            let pong = Arc::new(Signal::default());
            let (p1, q1, t1) = (ping.clone(), pong.clone(), total.clone());
            handles.push(kioto_rt::spawn(async move {
                for _ in 0..rounds {
                    p1.raise();
                    q1.wait().await;
                    t1.fetch_add(1, Ordering::Relaxed);
                }
            }));
            let (p2, q2, t2) = (ping, pong, total.clone());
            handles.push(kioto_rt::spawn(async move {
                for _ in 0..rounds {
                    p2.wait().await;
                    t2.fetch_add(1, Ordering::Relaxed);
                    q2.raise();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    total.load(Ordering::Relaxed)
}

#[test]
fn cross_thread_wake_storm_loses_no_wake_up() {
    // 100 pairs × 500 rounds × 2 = 100,000 wake-ups across 2 workers.
    let rt = rt(2);
    let total = within(Duration::from_secs(120), move || wake_storm(&rt, 100, 500));
    assert_eq!(total, 100_000);
}

#[test]
#[ignore = "heavy: run in release by .ci/stress"]
fn cross_thread_wake_storm_many_iterations() {
    for i in 0..1_000 {
        let rt = rt(2);
        let total = within(Duration::from_secs(120), move || wake_storm(&rt, 100, 500));
        assert_eq!(total, 100_000, "iteration {i}");
    }
}

#[test]
fn wakes_from_foreign_threads_reach_parked_workers() {
    // Wakers fired from plain threads go through the injector and must
    // unpark a sleeping worker every time.
    let rt = rt(2);
    let total = within(Duration::from_secs(60), move || {
        let mut n = 0;
        for _ in 0..2_000 {
            let signal = Arc::new(Signal::default());
            let s = signal.clone();
            let h = rt.spawn(async move { s.wait().await });
            let s = signal.clone();
            std::thread::spawn(move || s.raise()).join().unwrap();
            rt.block_on(h).unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(total, 2_000);
}

#[test]
fn global_queue_is_served_while_workers_are_busy_with_local_work() {
    // One worker, a task that keeps re-spawning local work forever: a task
    // injected from outside must still run (global_queue_interval).
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .global_queue_interval(31)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    rt.spawn(async move {
        fn respawn(stop: Arc<AtomicBool>) {
            if !stop.load(Ordering::Acquire) {
                kioto_rt::spawn(async move { respawn(stop) });
            }
        }
        respawn(s);
    });
    let remote = rt.spawn(async {});
    within(Duration::from_secs(60), move || {
        rt.block_on(remote).unwrap();
        stop.store(true, Ordering::Release);
    });
}

#[test]
fn a_task_woken_twice_before_it_runs_is_polled_once() {
    // One worker, held busy by a task that spins until released, so two
    // wake-ups land while the target task waits in the queue.
    let rt = rt(1);
    let polls = Arc::new(AtomicUsize::new(0));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let target = {
        let (polls, waker) = (polls.clone(), waker.clone());
        rt.spawn(async move {
            let mut first = true;
            poll_fn(|cx| {
                polls.fetch_add(1, Ordering::SeqCst);
                *waker.lock().unwrap() = Some(cx.waker().clone());
                if std::mem::take(&mut first) {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while polls.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(polls.load(Ordering::SeqCst), 1);
    let release = Arc::new(AtomicBool::new(false));
    let (blocker_started_tx, blocker_started) = std::sync::mpsc::channel();
    let r = release.clone();
    let blocker = rt.spawn(async move {
        blocker_started_tx.send(()).unwrap();
        while !r.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    blocker_started
        .recv_timeout(Duration::from_secs(30))
        .unwrap();
    let w = waker.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake();
    release.store(true, Ordering::SeqCst);
    within(Duration::from_secs(30), move || {
        rt.block_on(async {
            target.await.unwrap();
            blocker.await.unwrap();
        })
    });
    assert_eq!(
        polls.load(Ordering::SeqCst),
        2,
        "two wakes must schedule one poll"
    );
}

/// Set when dropped.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task's `JoinHandle` resolves only after the task's future has been
/// dropped, however it ends: completed at once, completed after a yield,
/// or aborted (from another thread) while pending or while queued.
/// kioto-actor builds on this (a supervisor awaits an instance's task
/// before it lets another consume the same mailbox).
fn join_resolves_after_the_future_is_dropped(rounds: usize) {
    let rt = rt(2);
    within(Duration::from_secs(300), move || {
        rt.block_on(async {
            for i in 0..rounds {
                let dropped = Arc::new(AtomicBool::new(false));
                let flag = DropFlag(dropped.clone());
                let handle = match i % 4 {
                    0 => kioto_rt::spawn(async move {
                        let _flag = flag;
                    }),
                    1 => kioto_rt::spawn(async move {
                        let _flag = flag;
                        task::yield_now().await;
                    }),
                    _ => kioto_rt::spawn(async move {
                        let _flag = flag;
                        std::future::pending::<()>().await;
                    }),
                };
                if i % 4 >= 2 {
                    let abort = handle.abort_handle();
                    if i % 4 == 2 {
                        task::yield_now().await;
                    }
                    std::thread::spawn(move || abort.abort());
                }
                let _ = handle.await;
                assert!(
                    dropped.load(Ordering::SeqCst),
                    "round {i}: the handle resolved before the future was dropped"
                );
            }
        })
    });
}

#[test]
fn a_join_handle_resolves_only_after_its_future_is_dropped() {
    join_resolves_after_the_future_is_dropped(2_000);
}

#[test]
#[ignore = "heavy: run in release by .ci/stress"]
fn a_join_handle_resolves_only_after_its_future_is_dropped_many_rounds() {
    join_resolves_after_the_future_is_dropped(200_000);
}
