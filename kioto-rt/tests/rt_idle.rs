//! An idle runtime stays asleep: with one worker parked in the driver and
//! the other on its condvar, nothing (a driver hand-off, a spurious unpark)
//! wakes them while no work arrives, and after a second of that the
//! monitor stops looking too. Counted through Linux's per-thread
//! context-switch counters, with generous bounds.
#![cfg(target_os = "linux")]

use kioto_rt::runtime::Builder;
use std::time::Duration;

const NAME: &str = "idle-probe";
/// The monitor's name, as Linux keeps it (15 bytes).
const MONITOR: &str = "idle-probe-moni";

/// Context switches so far of each thread of this process named `name`.
fn switches(name: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim_end() != name {
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

    let before = switches(NAME);
    std::thread::sleep(Duration::from_millis(500));
    let after = switches(NAME);
    assert_eq!(before.len(), 2, "{before:?}");
    for ((thread, b), (_, a)) in before.iter().zip(&after) {
        // Asleep means about zero; a wake-up per monitor look would be 50.
        assert!(
            a - b <= 5,
            "worker {thread} woke {} times in 500 ms of idleness",
            a - b
        );
    }

    // The monitor looks every 10 ms until it has seen a second of this;
    // then it sleeps too. (Under load its looks run late: give it time.)
    let mut windows = Vec::new();
    while windows.len() < 10 {
        let before = switches(MONITOR);
        std::thread::sleep(Duration::from_millis(500));
        let after = switches(MONITOR);
        assert_eq!(before.len(), 1, "{before:?}");
        windows.push(after[0].1 - before[0].1);
        if windows.last() <= Some(&5) {
            break;
        }
    }
    assert!(
        windows.last() <= Some(&5),
        "the monitor kept waking while the runtime idled: {windows:?} per 500 ms"
    );

    // And it wakes when work comes: a worker stuck right after this idle
    // spell still has the driver handed over from it (as in
    // `rt_driver_handoff.rs`), so the sleep below ends during the block.
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = released.clone();
    let ended_during_block = rt.block_on(async move {
        let blocker = kioto_rt::spawn(async move {
            kioto_rt::time::sleep(Duration::from_millis(20)).await;
            std::thread::sleep(Duration::from_millis(600));
            r.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        kioto_rt::time::sleep(Duration::from_millis(40)).await;
        let during = !released.load(std::sync::atomic::Ordering::SeqCst);
        blocker.await.unwrap();
        during
    });
    assert!(
        ended_during_block,
        "the driver waited for the blocked worker"
    );
    assert!(rt.metrics().driver_handoff_count() >= 1);
}
