//! Catching a panic out of a handler or hook, so it stops one actor instead of
//! unwinding through the worker.
//!
//! `futures-util`'s `FutureExt::catch_unwind` does the same; it is not a
//! dependency of ours, and the wrapper is a few lines.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls the inner future inside `catch_unwind`; a panic becomes
/// `Ready(Err(message))`.
///
/// `AssertUnwindSafe` is right here: after a panic the actor is stopped and
/// its state is never observed by a handler again (no hook runs after a panic,
/// only `Drop`).
#[derive(Debug)]
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
        }
    }
}

/// The text of a panic payload (`panic!("..")` gives `&str` or `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into `Err(message)`.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

/// Drops a value whose `Drop` is user code (a queued message, a request's
/// message it gives up) without letting a panic in it unwind into the
/// mailbox or the sender: a half-finished drain would leave values queued,
/// senders waiting and watchers untold. The panic is logged.
pub(crate) fn drop_contained<T>(value: T) {
    if let Err(panic) = catch(move || drop(value)) {
        tracing::error!(
            value_type = std::any::type_name::<T>(),
            panic = %panic,
            "a message panicked while being dropped; the mailbox goes on"
        );
    }
}
