//! The runtime rows of WORKLOADS.md, kioto-rt and tokio side by side in one
//! run, both multi-threaded with 2 workers. Ratios (kioto / tokio) are what
//! we report; absolute times on a shared 2-core machine mean little.

mod common;

use common::{kioto, tokio};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const SPAWN_N: usize = 10_000;
const YIELD_TASKS: usize = 100;
const YIELDS: usize = 1_000;
const PING_PONGS: usize = 1_000;
const CHAIN: usize = 1_000;
const ROUND_TRIPS: usize = 1_000;

/// Writes the same workload once per runtime: `$rt` is the runtime value,
/// `$spawn` the crate path whose `spawn`, `task::yield_now` and
/// `sync::{oneshot, mpsc}` are used.
macro_rules! workloads {
    ($name:ident, $krate:ident) => {
        mod $name {
            use super::*;
            use $krate as k;

            pub fn spawn_many_local(rt: &k::runtime::Runtime) {
                let (tx, rx) = mpsc::sync_channel(1);
                let rem = Arc::new(AtomicUsize::new(SPAWN_N));
                rt.spawn(async move {
                    for _ in 0..SPAWN_N {
                        let rem = rem.clone();
                        let tx = tx.clone();
                        k::spawn(async move {
                            if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                                tx.send(()).unwrap();
                            }
                        });
                    }
                });
                rx.recv().unwrap();
            }

            pub fn spawn_many_remote_idle(rt: &k::runtime::Runtime) {
                let handles: Vec<_> = (0..SPAWN_N).map(|_| rt.spawn(async {})).collect();
                rt.block_on(async {
                    for h in handles {
                        h.await.unwrap();
                    }
                });
            }

            /// Two background tasks loop on yield + 10 µs spin meanwhile.
            pub fn spawn_many_remote_busy(rt: &k::runtime::Runtime, iters: u64) -> Duration {
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                for _ in 0..2 {
                    let stop = stop.clone();
                    rt.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            k::task::yield_now().await;
                            let t = Instant::now();
                            while t.elapsed() < Duration::from_micros(10) {
                                std::hint::spin_loop();
                            }
                        }
                    });
                }
                let start = Instant::now();
                for _ in 0..iters {
                    spawn_many_remote_idle(rt);
                }
                let elapsed = start.elapsed();
                stop.store(true, Ordering::Relaxed);
                elapsed
            }

            pub fn yield_many(rt: &k::runtime::Runtime) {
                let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
                for _ in 0..YIELD_TASKS {
                    let tx = tx.clone();
                    rt.spawn(async move {
                        for _ in 0..YIELDS {
                            k::task::yield_now().await;
                        }
                        tx.send(()).unwrap();
                    });
                }
                for _ in 0..YIELD_TASKS {
                    rx.recv().unwrap();
                }
            }

            pub fn ping_pong(rt: &k::runtime::Runtime) {
                let (done_tx, done_rx) = mpsc::sync_channel(1);
                let rem = Arc::new(AtomicUsize::new(PING_PONGS));
                rt.spawn(async move {
                    for _ in 0..PING_PONGS {
                        let rem = rem.clone();
                        let done_tx = done_tx.clone();
                        k::spawn(async move {
                            let (tx1, rx1) = k::sync::oneshot::channel::<()>();
                            let (tx2, rx2) = k::sync::oneshot::channel::<()>();
                            k::spawn(async move {
                                rx1.await.unwrap();
                                tx2.send(()).unwrap();
                            });
                            tx1.send(()).unwrap();
                            rx2.await.unwrap();
                            if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                                done_tx.send(()).unwrap();
                            }
                        });
                    }
                });
                done_rx.recv().unwrap();
            }

            pub fn chained_spawn(rt: &k::runtime::Runtime) {
                fn iter(done: mpsc::SyncSender<()>, n: usize) {
                    if n == 0 {
                        done.send(()).unwrap();
                    } else {
                        k::spawn(async move { iter(done, n - 1) });
                    }
                }
                let (tx, rx) = mpsc::sync_channel(1);
                rt.spawn(async move { iter(tx, CHAIN) });
                rx.recv().unwrap();
            }

            pub fn request_reply(rt: &k::runtime::Runtime) {
                rt.block_on(async {
                    let (tx, mut rx) =
                        k::sync::mpsc::channel::<(u64, k::sync::oneshot::Sender<u64>)>(10);
                    let server = k::spawn(async move {
                        while let Some((v, reply)) = rx.recv().await {
                            let _ = reply.send(v + 1);
                        }
                    });
                    k::spawn(async move {
                        for i in 0..ROUND_TRIPS as u64 {
                            let (rtx, rrx) = k::sync::oneshot::channel();
                            tx.send((i, rtx)).await.unwrap();
                            assert_eq!(rrx.await.unwrap(), i + 1);
                        }
                    })
                    .await
                    .unwrap();
                    server.await.unwrap();
                });
            }
        }
    };
}

workloads!(on_kioto, kioto_rt);
workloads!(on_tokio, tokio);

fn bench(c: &mut Criterion) {
    let kioto = kioto();
    let tokio = tokio();
    let mut g = c.benchmark_group("rt");
    macro_rules! row {
        ($row:literal, $f:ident) => {
            g.bench_function(BenchmarkId::new($row, "kioto"), |b| {
                b.iter(|| on_kioto::$f(&kioto))
            });
            g.bench_function(BenchmarkId::new($row, "tokio"), |b| {
                b.iter(|| on_tokio::$f(&tokio))
            });
        };
    }
    row!("spawn_many_local", spawn_many_local);
    row!("spawn_many_remote_idle", spawn_many_remote_idle);
    g.bench_function(BenchmarkId::new("spawn_many_remote_busy", "kioto"), |b| {
        b.iter_custom(|iters| on_kioto::spawn_many_remote_busy(&kioto, iters))
    });
    g.bench_function(BenchmarkId::new("spawn_many_remote_busy", "tokio"), |b| {
        b.iter_custom(|iters| on_tokio::spawn_many_remote_busy(&tokio, iters))
    });
    row!("yield_many", yield_many);
    row!("ping_pong", ping_pong);
    row!("chained_spawn", chained_spawn);
    row!("request_reply", request_reply);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
