//! Stress: many tasks on two workers hammering channels, oneshots and
//! semaphores, with every value counted.
//!
//! The plain tests are sized to finish in a few seconds in debug builds; the
//! `#[ignore]`d `_heavy` variants run the same scenarios much larger:
//! `cargo test -p kioto-rt --release --test sync_stress -- --ignored`.

use kioto_rt::runtime::Builder;
use kioto_rt::sync::{mpsc, oneshot, Semaphore};
use kioto_rt::Runtime;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

fn rt() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A value that counts its drops.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// For each capacity 1..=8: `producers` tasks each send `per_producer`
/// distinct values through one bounded channel; the receiver must see every
/// value exactly once, and each producer's values in order.
fn bounded_channels_deliver_everything_once(producers: usize, per_producer: usize) {
    let rt = rt();
    rt.block_on(async {
        let mut consumers = Vec::new();
        for cap in 1..=8 {
            let (tx, mut rx) = mpsc::channel::<(usize, usize)>(cap);
            for p in 0..producers {
                let tx = tx.clone();
                kioto_rt::spawn(async move {
                    for i in 0..per_producer {
                        tx.send((p, i)).await.unwrap();
                    }
                });
            }
            drop(tx);
            consumers.push(kioto_rt::spawn(async move {
                let mut seen = vec![vec![false; per_producer]; producers];
                let mut next = vec![0; producers];
                let mut count = 0;
                while let Some((p, i)) = rx.recv().await {
                    assert!(!seen[p][i], "value ({p}, {i}) received twice");
                    assert_eq!(next[p], i, "producer {p} out of order");
                    seen[p][i] = true;
                    next[p] += 1;
                    count += 1;
                }
                (cap, count)
            }));
        }
        for c in consumers {
            let (cap, count) = c.await.unwrap();
            assert_eq!(count, producers * per_producer, "capacity {cap}");
        }
    });
}

#[test]
fn bounded_channels_deliver_everything_once_small() {
    bounded_channels_deliver_everything_once(8, 1_000);
}

#[test]
#[ignore = "heavy: run in release"]
fn bounded_channels_deliver_everything_once_heavy() {
    bounded_channels_deliver_everything_once(16, 20_000);
}

/// Receivers close mid-stream while producers keep sending: every value
/// ends up received, handed back in an error, or dropped with the
/// channel, exactly once.
fn closing_mid_stream_loses_nothing(rounds: usize) {
    let rt = rt();
    let created = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let received_total = rt.block_on(async {
        let mut received_total = 0;
        for round in 0..rounds {
            let (tx, mut rx) = mpsc::channel::<Counted>(1 + round % 8);
            let producers: Vec<_> = (0..4)
                .map(|_| {
                    let (tx, created, drops) = (tx.clone(), created.clone(), drops.clone());
                    kioto_rt::spawn(async move {
                        loop {
                            created.fetch_add(1, SeqCst);
                            if tx.send(Counted(drops.clone())).await.is_err() {
                                break; // the error (and its value) drops here
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            let stop_after = round % 50;
            let mut got = 0;
            while got < stop_after {
                drop(rx.recv().await.unwrap());
                got += 1;
            }
            if round % 2 == 0 {
                rx.close();
                while rx.recv().await.is_some() {
                    got += 1;
                }
            }
            drop(rx);
            for p in producers {
                p.await.unwrap();
            }
            received_total += got;
        }
        received_total
    });
    drop(rt);
    assert!(received_total > 0);
    assert_eq!(drops.load(SeqCst), created.load(SeqCst));
}

#[test]
fn closing_mid_stream_loses_nothing_small() {
    closing_mid_stream_loses_nothing(500);
}

#[test]
#[ignore = "heavy: run in release"]
fn closing_mid_stream_loses_nothing_heavy() {
    closing_mid_stream_loses_nothing(5_000);
}

/// Thousands of oneshots, sender and receiver in different tasks, some
/// senders dropped, some receivers dropped: outcomes add up and every value
/// is dropped once.
fn oneshot_storm(pairs: usize) {
    let rt = rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let (delivered, refused, sender_gone) = rt.block_on(async {
        let delivered = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let sender_gone = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::with_capacity(pairs * 2);
        for i in 0..pairs {
            let (tx, rx) = oneshot::channel::<Counted>();
            let (drops, refused) = (drops.clone(), refused.clone());
            handles.push(kioto_rt::spawn(async move {
                if i % 7 == 0 {
                    drop(tx);
                } else if let Err(v) = tx.send(Counted(drops)) {
                    refused.fetch_add(1, SeqCst);
                    drop(v);
                }
            }));
            let (delivered, sender_gone) = (delivered.clone(), sender_gone.clone());
            handles.push(kioto_rt::spawn(async move {
                if i % 5 == 0 {
                    drop(rx);
                } else {
                    match rx.await {
                        Ok(v) => {
                            delivered.fetch_add(1, SeqCst);
                            drop(v);
                        }
                        Err(_) => {
                            sender_gone.fetch_add(1, SeqCst);
                        }
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        (
            delivered.load(SeqCst),
            refused.load(SeqCst),
            sender_gone.load(SeqCst),
        )
    });
    let senders_that_sent = (0..pairs).filter(|i| i % 7 != 0).count();
    let awaiting_receivers = (0..pairs).filter(|i| i % 5 != 0).count();
    let awaiting_with_dropped_sender = (0..pairs).filter(|i| i % 5 != 0 && i % 7 == 0).count();
    // Every awaiting receiver got either the value or the error.
    assert_eq!(delivered + sender_gone, awaiting_receivers);
    assert_eq!(sender_gone, awaiting_with_dropped_sender);
    // A send fails only towards a dropped receiver.
    assert!(refused <= (0..pairs).filter(|i| i % 5 == 0 && i % 7 != 0).count());
    // Every value created was dropped exactly once.
    assert_eq!(drops.load(SeqCst), senders_that_sent);
}

#[test]
fn oneshot_storm_small() {
    oneshot_storm(20_000);
}

#[test]
#[ignore = "heavy: run in release"]
fn oneshot_storm_heavy() {
    oneshot_storm(200_000);
}

/// Tasks take 1..=3 permits at a time from a semaphore of `permits`; the
/// number held never exceeds it, and all come back.
fn semaphore_never_exceeds_its_permits(tasks: usize, rounds: usize) {
    const PERMITS: usize = 4;
    let rt = rt();
    let (max_held, acquisitions) = rt.block_on(async {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let held = Arc::new(AtomicUsize::new(0));
        let max_held = Arc::new(AtomicUsize::new(0));
        let acquisitions = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let (sem, held, max_held, acquisitions) = (
                    sem.clone(),
                    held.clone(),
                    max_held.clone(),
                    acquisitions.clone(),
                );
                kioto_rt::spawn(async move {
                    for r in 0..rounds {
                        let n = 1 + (t + r) % 3;
                        let permit = sem.acquire_many(n as u32).await.unwrap();
                        let now = held.fetch_add(n, SeqCst) + n;
                        max_held.fetch_max(now, SeqCst);
                        if r % 4 == 0 {
                            kioto_rt::task::yield_now().await;
                        }
                        held.fetch_sub(n, SeqCst);
                        drop(permit);
                        acquisitions.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(sem.available_permits(), PERMITS);
        (max_held.load(SeqCst), acquisitions.load(SeqCst))
    });
    assert!(max_held <= PERMITS, "{max_held} permits held at once");
    assert_eq!(acquisitions, tasks * rounds);
}

#[test]
fn semaphore_never_exceeds_its_permits_small() {
    semaphore_never_exceeds_its_permits(64, 300);
}

#[test]
#[ignore = "heavy: run in release"]
fn semaphore_never_exceeds_its_permits_heavy() {
    semaphore_never_exceeds_its_permits(512, 2_000);
}
