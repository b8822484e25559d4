//! Panics in destructors the runtime runs for the user: a task's output,
//! a panic payload, a future dropped by abort. None may abort the process
//! or unwind out of a runtime API; each value is dropped exactly once, and
//! the task's id is visible while it is.

use kioto_rt::task::{self, Id};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;
use support::{rt, wait_until, within, DropCounter, Tracked};

/// Panics when dropped, after counting the drop and noting the task id
/// visible at that moment.
struct PanicOnDrop {
    _count: Tracked,
    seen_id: Arc<Mutex<Vec<Option<Id>>>>,
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.seen_id.lock().unwrap().push(task::try_id());
        panic!("PanicOnDrop dropped");
    }
}

#[derive(Clone, Default)]
struct Probe {
    drops: DropCounter,
    ids: Arc<Mutex<Vec<Option<Id>>>>,
}

impl Probe {
    fn value(&self) -> PanicOnDrop {
        PanicOnDrop {
            _count: self.drops.track(),
            seen_id: self.ids.clone(),
        }
    }

    fn ids(&self) -> Vec<Option<Id>> {
        self.ids.lock().unwrap().clone()
    }
}

#[test]
fn a_detached_output_whose_drop_panics_is_contained() {
    // Before the fix async-task dropped this output under `abort_on_panic`:
    // the whole test binary died here.
    let probe = Probe::default();
    let rt = rt(2);
    let (tx, rx) = kioto_rt::sync::oneshot::channel::<()>();
    let p = probe.clone();
    let handle = rt.spawn(async move {
        let _ = rx.await;
        p.value()
    });
    let id = handle.id();
    drop(handle);
    tx.send(()).unwrap();
    assert!(wait_until(|| probe.drops.get() == 1));
    // The worker that dropped it still runs tasks.
    assert_eq!(
        rt.block_on(async { kioto_rt::spawn(async { 7 }).await })
            .unwrap(),
        7
    );
    drop(rt);
    assert_eq!(probe.drops.get(), 1);
    assert_eq!(probe.ids(), vec![Some(id)]);
}

#[test]
fn a_detached_blocking_output_whose_drop_panics_is_contained() {
    let probe = Probe::default();
    let rt = rt(1);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let p = probe.clone();
    let handle = rt.spawn_blocking(move || {
        rx.recv().unwrap();
        p.value()
    });
    let id = handle.id();
    drop(handle);
    tx.send(()).unwrap();
    assert!(wait_until(|| probe.drops.get() == 1));
    // The pool still runs closures.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
    drop(rt);
    assert_eq!(probe.drops.get(), 1);
    assert_eq!(probe.ids(), vec![Some(id)]);
}

#[test]
fn dropping_a_handle_whose_output_drop_panics_does_not_unwind() {
    let probe = Probe::default();
    let rt = rt(2);
    let p = probe.clone();
    let handle = rt.spawn(async move { p.value() });
    let id = handle.id();
    assert!(wait_until(|| handle.is_finished()));
    assert_eq!(
        probe.drops.get(),
        0,
        "a finished output waits for its handle"
    );
    let dropped = catch_unwind(AssertUnwindSafe(|| drop(handle)));
    assert!(
        dropped.is_ok(),
        "the output's panic escaped JoinHandle::drop"
    );
    assert_eq!(probe.drops.get(), 1);
    assert_eq!(probe.ids(), vec![Some(id)]);
    drop(rt);
    assert_eq!(probe.drops.get(), 1);
}

#[test]
fn a_detached_panic_payload_whose_drop_panics_is_contained() {
    let probe = Probe::default();
    let rt = rt(2);
    let (tx, rx) = kioto_rt::sync::oneshot::channel::<()>();
    let p = probe.clone();
    let handle = rt.spawn(async move {
        let _ = rx.await;
        std::panic::panic_any(p.value());
    });
    drop(handle);
    tx.send(()).unwrap();
    assert!(wait_until(|| probe.drops.get() == 1));
    assert_eq!(
        rt.block_on(async { kioto_rt::spawn(async { 1 }).await })
            .unwrap(),
        1
    );
    drop(rt);
    assert_eq!(probe.drops.get(), 1);
}

#[test]
fn an_aborted_task_whose_future_panics_on_drop_reports_the_panic() {
    let probe = Probe::default();
    let rt = rt(2);
    let p = probe.clone();
    let err = rt.block_on(async move {
        let value = p.value();
        let handle = kioto_rt::spawn(async move {
            let _value = value;
            std::future::pending::<()>().await;
        });
        task::yield_now().await;
        handle.abort();
        handle.await.unwrap_err()
    });
    assert!(err.is_panic(), "got {err:?}");
    assert_eq!(err.id(), probe.ids()[0].unwrap());
    let payload = err.into_panic();
    assert_eq!(support::panic_text(&*payload), "PanicOnDrop dropped");
    assert_eq!(probe.drops.get(), 1);
    drop(rt);
    assert_eq!(probe.drops.get(), 1);
}

#[test]
fn an_output_kept_past_the_runtime_is_dropped_once_without_unwinding() {
    let probe = Probe::default();
    let p = probe.clone();
    let handle = within(Duration::from_secs(30), move || {
        let rt = rt(1);
        let handle = rt.spawn(async move { p.value() });
        assert!(wait_until(|| handle.is_finished()));
        drop(rt);
        handle
    });
    let id = handle.id();
    assert!(catch_unwind(AssertUnwindSafe(|| drop(handle))).is_ok());
    assert_eq!(probe.drops.get(), 1);
    assert_eq!(probe.ids(), vec![Some(id)]);
}
