//! An idle runtime stays asleep: with one worker parked in the driver and
//! the other on its condvar, nothing (a driver hand-off, a spurious unpark)
//! wakes them while no work arrives. Counted through Linux's per-thread
//! context-switch counters, with a generous bound.
#![cfg(target_os = "linux")]

use kioto_rt::runtime::Builder;
use std::time::Duration;

const NAME: &str = "idle-probe";

/// Context switches so far of each thread of this process named `NAME`
/// (the workers; the monitor's name is longer).
fn worker_switches() -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim_end() != NAME {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let switches = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        out.push((dir.display().to_string(), switches));
    }
    out.sort();
    out
}

#[test]
fn an_idle_runtime_does_not_wake_its_workers() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(NAME)
        .build()
        .unwrap();
    // Some work first, and a timer far off, so the driver has something to
    // sleep towards; then let everything settle.
    rt.block_on(async {
        for _ in 0..10 {
            kioto_rt::spawn(kioto_rt::time::sleep(Duration::from_millis(1)))
                .await
                .unwrap();
        }
    });
    let _far = rt.spawn(async { kioto_rt::time::sleep(Duration::from_secs(3600)).await });
    std::thread::sleep(Duration::from_millis(100));

    let before = worker_switches();
    std::thread::sleep(Duration::from_millis(500));
    let after = worker_switches();
    assert_eq!(before.len(), 2, "{before:?}");
    for ((thread, b), (_, a)) in before.iter().zip(&after) {
        // Asleep means about zero; a wake-up per monitor look would be 50.
        assert!(
            a - b <= 5,
            "worker {thread} woke {} times in 500 ms of idleness",
            a - b
        );
    }
}
