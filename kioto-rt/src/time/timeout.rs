//! [`timeout`]: bound how long a future may take.
//!
//! The inner future is polled first, and the timer is only registered when
//! it returns `Pending`, so a future that completes on its first poll never
//! touches the wheel (no lock, no slab entry).

use super::error::Elapsed;
use super::sleep::Sleep;
use super::Instant;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Requires `future` to complete within `duration`.
///
/// Returns `Err(Elapsed)` if it does not; the future is then dropped. The
/// clock starts now, at the call.
///
/// # Panics
///
/// When polled on a runtime that has shut down, once `future` returns
/// `Pending` (the timer can no longer fire; see [`sleep`](super::sleep)).
///
/// ```
/// use std::time::Duration;
/// use kioto_rt::time::timeout;
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
///     let never = std::future::pending::<()>();
///     assert!(timeout(Duration::from_millis(5), never).await.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        deadline: Instant::now().checked_add(duration),
        delay: None,
    }
}

/// Requires `future` to complete before `deadline`.
///
/// # Panics
///
/// As [`timeout`]: when polled on a runtime that has shut down, once
/// `future` returns `Pending`.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        deadline: Some(deadline),
        delay: None,
    }
}

/// Future returned by [`timeout`] and [`timeout_at`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timeout<F> {
    future: F,
    /// `None` when the duration overflowed `Instant`: never times out.
    deadline: Option<Instant>,
    /// Created on the first `Pending` from `future`.
    delay: Option<Sleep>,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwraps the future.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of a
        // pinned `Timeout` (`into_inner` takes `self` by value, which needs
        // `Unpin` once pinned), and `Timeout` implements neither `Drop` nor
        // `Unpin` by hand. The other fields are not pinned and are only
        // accessed through `&mut`, never pinned references.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above: `this.future` stays where it is.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(v) = future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        let delay = this
            .delay
            .get_or_insert_with(|| Sleep::new(crate::runtime::context::driver(), deadline));
        // The inner future already spent budget for this poll, so the timer
        // is checked without spending more: an inner future that always
        // exhausts the budget still times out.
        match delay.poll_elapsed(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("deadline", &self.deadline)
            .finish()
    }
}
