//! Driving one future on a thread that is not a worker.

use super::{context, Handle};
use crate::coop;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Wakes the blocked thread; `notified` makes a wake that arrives before
/// the thread parks not get lost (`std::thread::park` may also return
/// spuriously, which the loop tolerates).
struct ThreadWaker {
    thread: Thread,
    notified: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.notified.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }
}

#[track_caller]
pub(super) fn block_on<F: Future>(handle: &Handle, future: F) -> F::Output {
    let Some(_forbid) = context::forbid_blocking() else {
        panic!(
            "cannot block on a runtime from inside a task or another block_on: \
             this would block a worker thread; `.await` the future instead"
        );
    };
    let _enter = context::enter(handle.clone());
    let parker = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        notified: AtomicBool::new(false),
    });
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = coop::budget(|| future.as_mut().poll(&mut cx)) {
            return v;
        }
        while !parker.notified.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}
