//! `JoinHandle` (await a task's output, abort it) and `AbortHandle` (abort
//! only).

use super::error::JoinError;
use super::meta::TaskMeta;
use super::output::TaskOutput;
use super::Id;
use crate::coop;
use async_task::FallibleTask;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// An owned permission to join a task: await its output, or abort it.
///
/// Awaiting a `JoinHandle` yields `Ok(output)`, or a [`JoinError`] if the
/// task panicked or was cancelled. Dropping the handle *detaches* the task:
/// it keeps running and its output is dropped (with the task's id as
/// [`task::try_id`](super::try_id); a panic in the output's `Drop` is
/// caught and logged, never propagated).
///
/// ```
/// # kioto_rt::Runtime::new().unwrap().block_on(async {
/// let handle = kioto_rt::spawn(async { 1 + 1 });
/// assert_eq!(handle.await.unwrap(), 2);
///
/// let handle = kioto_rt::spawn(async { panic!("boom") });
/// assert!(handle.await.unwrap_err().is_panic());
/// # });
/// ```
pub struct JoinHandle<T> {
    /// `None` only after the handle was detached by `Drop`.
    task: Option<FallibleTask<TaskOutput<T>, TaskMeta>>,
    /// The task's metadata, inside the allocation that `task` keeps alive.
    meta: NonNull<TaskMeta>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out (requires `T: Send` to cross
// threads, as the task type does) and reads `TaskMeta`, which is `Sync`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` gives no access to `T` (only `&mut`/owned poll
// does), and the metadata is `Sync`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<TaskOutput<T>, TaskMeta>) -> Self {
        let meta = NonNull::from(task.metadata());
        JoinHandle {
            task: Some(task.fallible()),
            meta,
            _output: PhantomData,
        }
    }

    fn meta(&self) -> &TaskMeta {
        // SAFETY: `self.task` holds a reference to the task allocation for
        // as long as `self` lives (it is only taken in `Drop`), and the
        // metadata is dropped only when the allocation is freed.
        unsafe { self.meta.as_ref() }
    }

    /// Aborts the task: its future is dropped the next time it would be
    /// polled (at once if it is idle), and awaiting this handle then yields
    /// a [`JoinError`] whose `is_cancelled()` is true, or `is_panic()` if
    /// the future panicked while being dropped. A task that already
    /// finished is unaffected.
    pub fn abort(&self) {
        abort(self.meta());
    }

    /// True once the task has completed, panicked or been cancelled; when
    /// it completed, awaiting the handle then returns at once.
    pub fn is_finished(&self) -> bool {
        // The harness marks `done` when the future is dropped, a moment
        // before async-task publishes the output; both must hold.
        self.meta().is_done() && self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// A handle that can abort the task but not join it.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle::new(self.meta())
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.meta().id
    }
}

pub(super) fn abort(meta: &TaskMeta) {
    if !meta.is_done() {
        meta.set_aborted();
        meta.shared.registry().wake(meta);
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let id = self.id();
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after it was dropped");
        match Pin::new(task).poll(cx) {
            Poll::Ready(Some(output)) => {
                coop.made_progress();
                Poll::Ready(output.into_inner())
            }
            // The runnable was dropped without running to completion: the
            // runtime shut down (or the task was refused at spawn).
            Poll::Ready(None) => {
                coop.made_progress();
                Poll::Ready(Err(JoinError::cancelled(id)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // A finished output is dropped inside `detach`; `TaskOutput`'s own
        // `Drop` keeps a panic there from unwinding out of this one.
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// Aborts a task without being able to await it. Cheap to clone.
///
/// Obtained from [`JoinHandle::abort_handle`] or `JoinSet::spawn`.
#[derive(Clone)]
pub struct AbortHandle {
    /// `None` when the task had already finished when the handle was made.
    /// The waker keeps the task allocation (and so `meta`) alive.
    waker: Option<Waker>,
    meta: NonNull<TaskMeta>,
    id: Id,
}

// SAFETY: a `Waker` is `Send + Sync`, and `meta` points at `Sync` metadata
// kept alive by that waker; without the waker it is never dereferenced.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    pub(crate) fn new(meta: &TaskMeta) -> AbortHandle {
        AbortHandle {
            waker: meta.shared.registry().waker(meta),
            meta: NonNull::from(meta),
            id: meta.id,
        }
    }

    fn meta(&self) -> Option<&TaskMeta> {
        // SAFETY: with a waker present the task allocation is alive (see the
        // field docs); without one we never dereference.
        self.waker.as_ref().map(|_| unsafe { self.meta.as_ref() })
    }

    /// Aborts the task; see [`JoinHandle::abort`].
    pub fn abort(&self) {
        if let (Some(meta), Some(waker)) = (self.meta(), &self.waker) {
            if !meta.is_done() {
                meta.set_aborted();
                waker.wake_by_ref();
            }
        }
    }

    /// True once the task's future is gone (completed, panicked or
    /// cancelled). Its output may be published to the `JoinHandle` a moment
    /// later.
    pub fn is_finished(&self) -> bool {
        self.meta().is_none_or(TaskMeta::is_done)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle").field("id", &self.id).finish()
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! Models of abort racing completion, the handle's drop and a joiner,
    //! on the real spawn path, harness and handles; the models play the
    //! worker. Each checks that the future and the output are dropped
    //! exactly once and that a joiner is woken. Every model keeps an
    //! `AbortHandle` until its threads are joined, so the task is freed on
    //! the main thread: async-task's reference count is invisible to loom.

    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::Arc as LoomArc;
    use crate::scheduler::Shared;
    use loom::thread;
    use std::panic::Location;
    use std::sync::Arc;

    /// Counts its drop.
    struct DropCount(LoomArc<AtomicUsize>);

    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> LoomArc<AtomicUsize> {
        LoomArc::new(AtomicUsize::new(0))
    }

    fn count(c: &LoomArc<AtomicUsize>) -> usize {
        c.load(Ordering::SeqCst)
    }

    /// Spawns a task that never finishes, counting its future's drop, and
    /// polls it once: it is then idle, waiting for a wake-up.
    fn spawn_idle(shared: &Arc<Shared>, futures: &LoomArc<AtomicUsize>) -> super::JoinHandle<()> {
        let f = DropCount(futures.clone());
        let handle = shared.spawn(
            async move {
                let _f = f;
                std::future::pending::<()>().await;
            },
            Location::caller(),
        );
        run_queued(shared);
        handle
    }

    /// Runs whatever is queued right now, as a worker would.
    fn run_queued(shared: &Shared) {
        while let Some(runnable) = shared.pop_injected() {
            runnable.run();
        }
    }

    fn spawn_worker(shared: &Arc<Shared>) -> thread::JoinHandle<()> {
        let shared = shared.clone();
        thread::spawn(move || run_queued(&shared))
    }

    #[test]
    fn loom_abort_racing_completion_drops_future_and_output_once() {
        loom::model(|| {
            let shared = crate::runtime::model_shared();
            let (futures, outputs) = (counter(), counter());
            let (f, o) = (DropCount(futures.clone()), outputs.clone());
            let handle = shared.spawn(
                async move {
                    let _f = f;
                    DropCount(o)
                },
                Location::caller(),
            );
            let keep = handle.abort_handle();
            let worker = spawn_worker(&shared);
            // Aborts through the JoinHandle, then joins it.
            let joiner = thread::spawn(move || {
                handle.abort();
                loom::future::block_on(handle)
            });
            let result = joiner.join().unwrap();
            worker.join().unwrap();
            run_queued(&shared);
            match result {
                Ok(output) => {
                    assert_eq!(count(&outputs), 0);
                    drop(output);
                    assert_eq!(count(&outputs), 1);
                }
                Err(e) => {
                    assert!(e.is_cancelled(), "{e:?}");
                    assert_eq!(count(&outputs), 0);
                }
            }
            assert_eq!(count(&futures), 1);
            assert!(keep.is_finished());
            assert_eq!(shared.registry().len(), 0);
        });
    }

    #[test]
    fn loom_abort_of_an_idle_task_racing_its_handle_drop_drops_the_future_once() {
        loom::model(|| {
            let shared = crate::runtime::model_shared();
            let futures = counter();
            let handle = spawn_idle(&shared, &futures);
            let keep = handle.abort_handle();
            let abort = handle.abort_handle();
            let aborter = thread::spawn(move || abort.abort());
            let dropper = thread::spawn(move || drop(handle));
            let worker = spawn_worker(&shared);
            aborter.join().unwrap();
            dropper.join().unwrap();
            worker.join().unwrap();
            run_queued(&shared);
            assert_eq!(count(&futures), 1);
            assert!(keep.is_finished());
            assert_eq!(shared.registry().len(), 0);
        });
    }

    #[test]
    fn loom_abort_wakes_a_task_awaiting_the_handle() {
        loom::model(|| {
            let shared = crate::runtime::model_shared();
            let futures = counter();
            let handle = spawn_idle(&shared, &futures);
            let keep = handle.abort_handle();
            let abort = handle.abort_handle();
            let aborter = thread::spawn(move || abort.abort());
            // The abort queues the task exactly once; run it when it comes.
            let worker = {
                let shared = shared.clone();
                thread::spawn(move || loop {
                    if let Some(runnable) = shared.pop_injected() {
                        runnable.run();
                        return;
                    }
                    thread::yield_now();
                })
            };
            let err = loom::future::block_on(handle).unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
            aborter.join().unwrap();
            worker.join().unwrap();
            assert_eq!(count(&futures), 1);
            assert!(keep.is_finished());
            assert_eq!(shared.registry().len(), 0);
        });
    }
}
