//! `yield_now`: give the worker to other tasks once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields once to the scheduler.
///
/// The task is woken at once and goes to the *back* of its worker's queue
/// (never the LIFO slot), so every task queued before it runs first.
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// kioto_rt::task::yield_now().await;
/// # });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Woken while running, with the yield flagged: the scheduler defers
        // the task behind everything else runnable.
        crate::coop::request_yield();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
