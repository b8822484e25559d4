//! Helpers shared by the runtime's integration tests.
//!
//! Each test binary includes this with `mod support;` and uses what it
//! needs, hence the `dead_code` allowance.
#![allow(dead_code)]

use kioto_rt::runtime::Builder;
use kioto_rt::Runtime;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A runtime with `workers` worker threads.
pub fn rt(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// Runs `f` on another thread (with a main-thread-sized stack) and fails,
/// instead of hanging, if it does not finish within `limit`: a lost
/// wake-up shows up as a hang.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    rx.recv_timeout(limit)
        .expect("did not finish in time: a wake-up was lost or a task starved")
}

/// Polls a future once with a no-op waker.
pub fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// Waits (on a non-worker thread) until `cond` holds, for at most 10 s.
pub fn wait_until(cond: impl Fn() -> bool) -> bool {
    for _ in 0..10_000 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

/// The message of a panic payload (`&str` or `String`).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Counts drops, to prove futures and values are dropped exactly once.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

/// Increments its counter when dropped.
pub struct Tracked(DropCounter);

impl Drop for Tracked {
    fn drop(&mut self) {
        (self.0).0.fetch_add(1, Ordering::SeqCst);
    }
}

impl DropCounter {
    /// A value whose drop is counted.
    pub fn track(&self) -> Tracked {
        Tracked(self.clone())
    }

    /// Drops so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A waker that runs `on_drop` when its last clone is dropped; waking it
/// does nothing. Built to re-enter a primitive from a waker's `Drop`: a
/// primitive that drops a replaced waker while holding its own lock
/// deadlocks on it.
pub fn waker_calling_on_drop(on_drop: impl FnOnce() + Send + 'static) -> std::task::Waker {
    struct OnDrop(std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>);

    impl std::task::Wake for OnDrop {
        fn wake(self: Arc<Self>) {}
    }

    impl Drop for OnDrop {
        fn drop(&mut self) {
            let f = self.0.get_mut().unwrap().take();
            if let Some(f) = f {
                f();
            }
        }
    }

    std::task::Waker::from(Arc::new(OnDrop(std::sync::Mutex::new(Some(Box::new(
        on_drop,
    ))))))
}

/// Polls a future once with `waker`.
pub fn poll_with<F: std::future::Future>(
    fut: std::pin::Pin<&mut F>,
    waker: &std::task::Waker,
) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(waker))
}
