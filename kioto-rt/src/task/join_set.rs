//! `JoinSet`: a collection of tasks awaited in completion order.
//!
//! Each spawned future is wrapped in a guard that, when the future is dropped
//! (completed, panicked, aborted, cancelled), pushes the task id onto a
//! shared ready queue and wakes the set. `join_next` then only polls handles
//! that are known to have finished, so joining n tasks costs O(n), not
//! O(n²).
//!
//! `join_next` spends the task's coop budget like any leaf future (through
//! the `JoinHandle` it polls); `try_join_next` never waits, so it checks the
//! handles with the budget off, as tokio does: a loop of `try_join_next`
//! sees every finished task, not just the first 128.

use super::{AbortHandle, Id, JoinError, JoinHandle};
use crate::coop;
use crossbeam_queue::SegQueue;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A set of tasks spawned on the runtime, joined in the order they finish.
///
/// Dropping the set aborts every task still in it.
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let mut set = kioto_rt::task::JoinSet::new();
/// for i in 0..10u32 {
///     set.spawn(async move { i * 2 });
/// }
/// let mut sum = 0;
/// while let Some(result) = set.join_next().await {
///     sum += result.unwrap();
/// }
/// assert_eq!(sum, 90);
/// # });
/// ```
pub struct JoinSet<T> {
    handles: HashMap<Id, JoinHandle<T>>,
    ready: Arc<ReadyQueue>,
}

#[derive(Default)]
struct ReadyQueue {
    ids: SegQueue<Id>,
    waker: Mutex<Option<Waker>>,
}

impl ReadyQueue {
    fn push(&self, id: Id) {
        self.ids.push(id);
        // Take the waker before waking: waking may run arbitrary code
        // (even drop this very set) that must not find the lock held.
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Whether polling the handles spends the task's coop budget.
#[derive(Clone, Copy, Debug)]
enum Budget {
    /// `join_next`: a completed join spends a unit, like any leaf future.
    Spend,
    /// `try_join_next`: never waits, so it must not be refused by the budget.
    Unconstrained,
}

/// Reports the task to its set when the future is dropped, however that
/// happens.
struct ReportOnDrop<F> {
    future: F,
    ready: Arc<ReadyQueue>,
}

impl<F: Future> Future for ReportOnDrop<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned; it is never moved.
        unsafe { self.map_unchecked_mut(|s| &mut s.future) }.poll(cx)
    }
}

impl<F> Drop for ReportOnDrop<F> {
    fn drop(&mut self) {
        if let Some(id) = super::try_id() {
            self.ready.push(id);
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            handles: HashMap::new(),
            ready: Arc::default(),
        }
    }

    /// Number of tasks in the set (finished but not yet joined included).
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// True if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Aborts every task in the set; they stay in it until joined.
    pub fn abort_all(&mut self) {
        for handle in self.handles.values() {
            handle.abort();
        }
    }

    /// Removes every task from the set without aborting them.
    pub fn detach_all(&mut self) {
        self.handles.clear();
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns a task into the set on the current runtime.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let ready = self.ready.clone();
        let handle = super::spawn(ReportOnDrop { future, ready });
        let abort = handle.abort_handle();
        self.handles.insert(handle.id(), handle);
        abort
    }

    /// Waits for the next task to finish and returns its result, or `None`
    /// when the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Returns the result of a finished task without waiting, if there is
    /// one.
    ///
    /// Spends no coop budget (it never waits, so it cannot hog a worker),
    /// and leaves the waker registered by an earlier
    /// [`poll_join_next`](Self::poll_join_next) in place.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        if self.handles.is_empty() {
            return None;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.take_finished(&mut cx, Budget::Unconstrained) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task; see [`join_next`](Self::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.handles.is_empty() {
            return Poll::Ready(None);
        }
        let old = {
            let mut slot = self.ready.waker.lock();
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => None,
                _ => slot.replace(cx.waker().clone()),
            }
        };
        // Dropped with the lock released: a waker's `Drop` may run code
        // that reports a task to this very queue.
        drop(old);
        self.take_finished(cx, Budget::Spend).map(Some)
    }

    /// Pops ready ids until one of their handles yields its output. Handles
    /// that are not published yet go back to the queue (they wake `cx`).
    fn take_finished(
        &mut self,
        cx: &mut Context<'_>,
        budget: Budget,
    ) -> Poll<Result<T, JoinError>> {
        let mut deferred = Vec::new();
        let mut out = Poll::Pending;
        while let Some(id) = self.ready.ids.pop() {
            let Some(handle) = self.handles.get_mut(&id) else {
                continue;
            };
            // The future is gone but the output may not be published yet;
            // the handle registers `cx` and wakes us when it is.
            let polled = match budget {
                Budget::Spend => Pin::new(handle).poll(cx),
                // `try_join_next` polls with a no-op waker: polling a handle
                // whose output is not yet published would replace the waker
                // an earlier `poll_join_next` left there, and its wake-up
                // would be lost. Such a handle just waits for its turn.
                Budget::Unconstrained if !handle.is_finished() => Poll::Pending,
                Budget::Unconstrained => Pin::new(&mut coop::unconstrained(handle)).poll(cx),
            };
            match polled {
                Poll::Ready(result) => {
                    self.handles.remove(&id);
                    out = Poll::Ready(result);
                    break;
                }
                Poll::Pending => deferred.push(id),
            }
        }
        for id in deferred {
            self.ready.ids.push(id);
        }
        out
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    ///
    /// Resumes the panic of the first task that panicked.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            match result {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    /// Aborts every task and waits for all of them to finish.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
