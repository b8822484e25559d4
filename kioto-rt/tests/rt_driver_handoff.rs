//! A worker blocked inside one poll must not hold up everyone's timers and
//! I/O. There is no reactor thread: the driver is polled by a worker that
//! parks, or by a busy worker's maintenance tick. When the worker that held
//! the driver gets stuck in a poll while its sibling sleeps on the condvar,
//! nobody polls the driver until the stuck one comes back; the monitor must
//! hand the driver to the sleeper instead.
//!
//! Each round, with both workers idle (one parked in the driver, one on the
//! condvar), a waiter arms a timer and a UDP receive, then a blocker sits
//! in `std::thread::sleep` for `BLOCK`. The blocker is either woken by a
//! timer, so it runs on the worker that polled the driver (the one whose
//! absence is the bug), or spawned from outside (whichever worker is woken).
//! The waiter's timer comes due and its datagram arrives while the blocker
//! still blocks; both must complete before the blocker is released. Ordering
//! is asserted, not durations.

mod support;

use kioto_rt::net::UdpSocket;
use kioto_rt::time::sleep;
use kioto_rt::Runtime;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::ThreadId;
use std::time::Duration;

/// How long the blocker holds its worker: long against the monitor's
/// sampling period (10 ms), so a hand-off has every chance to happen first.
const BLOCK: Duration = Duration::from_millis(600);

/// When the timer-woken blocker's own timer fires.
const BLOCKER_WAKES: Duration = Duration::from_millis(20);

/// When the waiter's timer comes due: 10 ms into the block.
const WAITER_SLEEP: Duration = Duration::from_millis(30);

#[derive(Clone, Copy, Debug)]
enum Blocker {
    /// Woken by a timer: it runs on the worker that just polled the driver.
    TimerWoken,
    /// Spawned from outside the runtime: runs on whichever worker is woken.
    Remote,
}

#[derive(Default)]
struct Flags {
    /// The waiter's timer and UDP receive are registered.
    armed: AtomicBool,
    /// The blocker is inside `std::thread::sleep`.
    blocking: AtomicBool,
    /// The blocker has returned from it.
    released: AtomicBool,
}

/// What the waiter saw when each of its operations completed.
#[derive(Debug)]
struct Waiter {
    sleep_saw_released: bool,
    recv_saw_released: bool,
    thread: ThreadId,
}

fn round(rt: &Runtime, blocker: Blocker) {
    let flags = Arc::new(Flags::default());
    let socket = rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
    let addr = socket.local_addr().unwrap();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    let (waiter_tx, waiter_rx) = mpsc::channel();
    let f = flags.clone();
    rt.spawn(async move {
        let timer = async {
            sleep(WAITER_SLEEP).await;
            f.released.load(Ordering::SeqCst)
        };
        let echo = async {
            let mut buf = [0u8; 16];
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            socket.send_to(&buf[..n], from).await.unwrap();
            f.released.load(Ordering::SeqCst)
        };
        let both = futures_util::future::join(timer, echo);
        let mut both = std::pin::pin!(both);
        // Poll once to register the timer and the receive, then report it.
        let (sleep_saw_released, recv_saw_released) = std::future::poll_fn(|cx| {
            let poll = both.as_mut().poll(cx);
            f.armed.store(true, Ordering::SeqCst);
            poll
        })
        .await;
        let _ = waiter_tx.send(Waiter {
            sleep_saw_released,
            recv_saw_released,
            thread: std::thread::current().id(),
        });
    });
    assert!(support::wait_until(|| flags.armed.load(Ordering::SeqCst)));

    let f = flags.clone();
    let blocked = rt.spawn(async move {
        if let Blocker::TimerWoken = blocker {
            sleep(BLOCKER_WAKES).await;
        }
        f.blocking.store(true, Ordering::SeqCst);
        std::thread::sleep(BLOCK);
        f.released.store(true, Ordering::SeqCst);
        std::thread::current().id()
    });

    // The datagram leaves only once the blocker blocks: the receive can
    // complete only if some worker polls the driver meanwhile.
    assert!(support::wait_until(|| flags
        .blocking
        .load(Ordering::SeqCst)));
    peer.send_to(b"ping", addr).unwrap();
    let mut buf = [0u8; 16];
    let n = peer.recv(&mut buf).expect("no echo within 5 s");
    assert_eq!(&buf[..n], b"ping");

    let waiter = waiter_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the waiter did not finish");
    let blocker_thread = rt.block_on(blocked).unwrap();

    assert!(
        !waiter.sleep_saw_released,
        "{blocker:?}: a timer due during the block fired only after it: {waiter:?}"
    );
    assert!(
        !waiter.recv_saw_released,
        "{blocker:?}: a datagram sent during the block was received only after it: {waiter:?}"
    );
    // The waiter finished during the block, so on the other worker.
    assert_ne!(waiter.thread, blocker_thread);
}

#[test]
fn timers_and_io_run_while_the_driver_worker_is_blocked() {
    support::within(Duration::from_secs(30), || {
        let rt = support::rt(2);
        for blocker in [Blocker::TimerWoken, Blocker::TimerWoken, Blocker::Remote] {
            round(&rt, blocker);
        }
        // The timer-woken blocker stops the worker that polled the driver,
        // so the hand-off, not the other worker's own park, did the work.
        assert!(rt.metrics().driver_handoff_count() >= 1);
    });
}
