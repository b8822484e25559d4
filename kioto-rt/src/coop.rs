//! Cooperative scheduling: a per-task budget that every leaf future spends.
//!
//! # Why
//!
//! An async task only gives its worker back when it returns `Pending`. A task
//! that loops over a source that is always ready never does:
//!
//! ```ignore
//! loop {
//!     let msg = rx.recv().await; // the channel always has data
//!     process(msg);
//! }
//! ```
//!
//! Every `recv` completes at once, the loop never returns `Pending`, and every
//! other task queued on that worker starves, timers and I/O included. The fix
//! is for the *leaf* futures (channel receive and send, socket readiness,
//! sleeps, join handles, actor mailboxes) to share a budget: each successful
//! operation spends one unit, and once the budget is spent they return
//! `Pending` after waking themselves, so the task goes to the back of the
//! queue and others run.
//!
//! # Why 128
//!
//! The budget is reset before each task poll. 128 is large enough that a task
//! doing ordinary work (a handful of awaits per poll) never hits it, so the
//! check costs one thread-local decrement on the fast path, and small enough
//! that a greedy task hands the worker back within tens of microseconds.
//! tokio measured the same trade-off and chose the same number.
//!
//! # Contract for leaf futures
//!
//! Call [`poll_proceed`] first. On `Pending`, return `Pending` (the waker has
//! already been woken). On `Ready(guard)`, try the operation; if it completes,
//! call `guard.made_progress()`; if it does not, drop the guard and the unit
//! is given back, so waiting does not cost budget.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Units a task may spend per poll before leaf futures force it to yield.
pub(crate) const INITIAL_BUDGET: u8 = 128;

/// The budget of the task being polled on this thread. `None` means
/// unconstrained: outside any task poll, or inside [`unconstrained`].
#[derive(Clone, Copy, Debug)]
struct Budget(Option<u8>);

thread_local! {
    static CURRENT: Cell<Budget> = const { Cell::new(Budget(None)) };
    /// Set when a leaf future was refused during the current task poll; the
    /// worker reads and clears it to count forced yields.
    static FORCED_YIELD: Cell<bool> = const { Cell::new(false) };
    /// Set when the task being polled asked to yield (`yield_now` or a
    /// forced yield): the scheduler then defers it behind other work. A
    /// task merely woken by someone else while it runs is not deferred.
    static YIELD_REQUESTED: Cell<bool> = const { Cell::new(false) };
}

/// Records that the current task yields on purpose.
pub(crate) fn request_yield() {
    let _ = YIELD_REQUESTED.try_with(|flag| flag.set(true));
}

/// Whether the current poll asked to yield.
pub(crate) fn yield_requested() -> bool {
    YIELD_REQUESTED.try_with(Cell::get).unwrap_or(false)
}

/// Clears the yield request (the worker does so after each poll).
pub(crate) fn clear_yield_request() {
    let _ = YIELD_REQUESTED.try_with(|flag| flag.set(false));
}

/// Runs `f` (one task poll) with a fresh budget, restoring the previous budget
/// afterwards so nested polls (`block_on` driving a future) stay correct.
pub(crate) fn budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Budget(Some(INITIAL_BUDGET)), f)
}

/// Runs `f` with no budget limit.
fn with_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Budget(None), f)
}

fn with_budget<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct Reset(Budget);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|cell| cell.set(self.0));
        }
    }
    let prev = CURRENT.with(|cell| cell.replace(budget));
    let _reset = Reset(prev);
    f()
}

/// Returns and clears whether a leaf future was refused by the budget since
/// the last call on this thread.
pub(crate) fn take_forced_yield() -> bool {
    FORCED_YIELD.with(|flag| flag.replace(false))
}

/// Whether the current task still has budget left (always true outside a
/// task or when unconstrained).
pub fn has_budget_remaining() -> bool {
    CURRENT.with(|cell| cell.get().0 != Some(0))
}

/// Spends one unit of the current task's budget, or, when it is exhausted,
/// wakes the task and returns `Pending` so it yields.
///
/// For leaf futures (futures that complete without awaiting others): call
/// it first; on `Pending` return `Pending` (the task was already woken); on
/// `Ready(guard)` try the operation and call `guard.made_progress()` if it
/// completed. Dropping the guard without that refunds the unit, so waiting
/// costs no budget.
///
/// ```
/// use std::task::{Context, Poll};
/// use kioto_rt::task::coop;
///
/// fn poll_next(queue: &mut Vec<u32>, cx: &mut Context<'_>) -> Poll<u32> {
///     let guard = std::task::ready!(coop::poll_proceed(cx));
///     match queue.pop() {
///         Some(v) => {
///             guard.made_progress();
///             Poll::Ready(v)
///         }
///         None => Poll::Pending, // a real leaf would register cx.waker()
///     }
/// }
/// # let mut q = vec![1];
/// # let mut cx = Context::from_waker(std::task::Waker::noop());
/// # assert_eq!(poll_next(&mut q, &mut cx), Poll::Ready(1));
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    CURRENT.with(|cell| {
        let mut budget = cell.get();
        match budget.0 {
            None => Poll::Ready(RestoreOnPending(Cell::new(budget))),
            Some(0) => {
                FORCED_YIELD.with(|flag| flag.set(true));
                request_yield();
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(n) => {
                let before = budget;
                budget.0 = Some(n - 1);
                cell.set(budget);
                Poll::Ready(RestoreOnPending(Cell::new(before)))
            }
        }
    })
}

/// Returned by [`poll_proceed`]: gives the budget unit back when dropped,
/// unless [`made_progress`](Self::made_progress) was called.
#[derive(Debug)]
pub struct RestoreOnPending(Cell<Budget>);

impl RestoreOnPending {
    /// The operation completed: keep the unit spent.
    #[inline]
    pub fn made_progress(&self) {
        self.0.set(Budget(None));
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        let restore = self.0.get();
        if restore.0.is_some() {
            let _ = CURRENT.try_with(|cell| cell.set(restore));
        }
    }
}

/// Spends one unit of budget, yielding to the scheduler if the budget is
/// exhausted.
///
/// Use it in loops that make progress without touching any kioto leaf future
/// (pure computation over in-memory data), so they still share the worker.
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let mut sum = 0u64;
/// for i in 0..10_000u64 {
///     kioto_rt::task::consume_budget().await;
///     sum += i;
/// }
/// assert_eq!(sum, 49_995_000);
/// # });
/// ```
pub async fn consume_budget() {
    let mut status = Poll::Pending;
    std::future::poll_fn(move |cx| {
        if status.is_ready() {
            return status;
        }
        status = poll_proceed(cx).map(|guard| guard.made_progress());
        status
    })
    .await
}

/// Runs a future with cooperative budgeting turned off.
///
/// Leaf futures inside it never force a yield. Use it only for futures known
/// to return `Pending` on their own often enough; otherwise they can starve
/// the other tasks on their worker.
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let v = kioto_rt::task::unconstrained(async { 5 }).await;
/// assert_eq!(v, 5);
/// # });
/// ```
pub fn unconstrained<F: Future>(inner: F) -> Unconstrained<F> {
    Unconstrained { inner }
}

/// Future returned by [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Unconstrained<F> {
    inner: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // `self`, and `Unconstrained` has no `Drop` impl or `Unpin` override.
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        with_unconstrained(|| inner.poll(cx))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_runs_out_after_128_units_and_refunds_unused_ones() {
        let mut cx = Context::from_waker(Waker::noop());
        budget(|| {
            // A refused-by-dropping guard gives its unit back.
            for _ in 0..1000 {
                let guard = poll_proceed(&mut cx);
                assert!(guard.is_ready());
            }
            for _ in 0..INITIAL_BUDGET {
                match poll_proceed(&mut cx) {
                    Poll::Ready(guard) => guard.made_progress(),
                    Poll::Pending => panic!("budget ran out early"),
                }
            }
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(take_forced_yield());
            assert!(!take_forced_yield());
            assert!(!has_budget_remaining());
        });
        // Outside a task poll the budget is unconstrained.
        assert!(has_budget_remaining());
    }

    #[test]
    fn nested_budgets_restore_the_outer_one() {
        let mut cx = Context::from_waker(Waker::noop());
        budget(|| {
            if let Poll::Ready(g) = poll_proceed(&mut cx) {
                g.made_progress();
            }
            budget(|| {
                for _ in 0..INITIAL_BUDGET {
                    if let Poll::Ready(g) = poll_proceed(&mut cx) {
                        g.made_progress();
                    }
                }
                assert!(!has_budget_remaining());
            });
            assert!(has_budget_remaining());
            with_unconstrained(|| {
                for _ in 0..1000 {
                    if let Poll::Ready(g) = poll_proceed(&mut cx) {
                        g.made_progress();
                    } else {
                        panic!("unconstrained futures are never refused");
                    }
                }
            });
        });
    }
}
