//! Misuse panics point at the caller's line, not at a line inside
//! kioto-rt (`#[track_caller]` all the way to the panic), and dropping
//! `EnterGuard`s out of order panics instead of leaving the wrong runtime
//! current.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use kioto_rt::runtime::Builder;
use kioto_rt::Handle;

mod support;
use support::rt;

thread_local! {
    static LAST: Cell<Option<(&'static str, u32)>> = const { Cell::new(None) };
}

/// Runs `f`, which must panic, and returns the file and line the panic
/// reported.
fn panic_location(f: impl FnOnce()) -> (&'static str, u32) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Some(l) = info.location() {
                // `file()` of a `Location` is `&'static str` only for
                // `Location::caller`; leak the copy (tests only).
                let file: &'static str = Box::leak(l.file().to_owned().into_boxed_str());
                LAST.with(|c| c.set(Some((file, l.line()))));
            }
        }));
    });
    LAST.with(|c| c.set(None));
    assert!(catch_unwind(AssertUnwindSafe(f)).is_err(), "did not panic");
    LAST.with(|c| c.get()).expect("no location")
}

const HERE: &str = file!();

#[test]
fn handle_current_outside_a_runtime_points_at_the_caller() {
    let (file, line) = panic_location(|| {
        let _ = Handle::current();
    });
    assert_eq!((file, line), (HERE, line!() - 2));
}

#[test]
fn spawn_outside_a_runtime_points_at_the_caller() {
    let (file, line) = panic_location(|| {
        drop(kioto_rt::spawn(async {}));
    });
    assert_eq!((file, line), (HERE, line!() - 2));
    let (file, line) = panic_location(|| {
        drop(kioto_rt::task::spawn_blocking(|| ()));
    });
    assert_eq!((file, line), (HERE, line!() - 2));
}

#[test]
fn into_panic_of_a_cancellation_points_at_the_caller() {
    let rt = rt(1);
    let err = rt.block_on(async {
        let h = kioto_rt::spawn(std::future::pending::<()>());
        h.abort();
        h.await.unwrap_err()
    });
    assert!(err.is_cancelled());
    let (file, line) = panic_location(move || {
        drop(err.into_panic());
    });
    assert_eq!((file, line), (HERE, line!() - 2));
}

#[test]
fn builder_argument_checks_point_at_the_caller() {
    type Check = fn(&mut Builder);
    let checks: [(Check, u32); 4] = [
        (|b| _ = b.worker_threads(0), line!()),
        (|b| _ = b.max_blocking_threads(0), line!()),
        (|b| _ = b.global_queue_interval(0), line!()),
        (|b| _ = b.event_interval(0), line!()),
    ];
    for (check, at) in checks {
        let (file, line) = panic_location(|| check(&mut Builder::new_multi_thread()));
        assert_eq!((file, line), (HERE, at));
    }
}

#[test]
fn enter_guards_dropped_out_of_order_panic() {
    let (a, b) = (rt(1), rt(1));
    let first = a.enter();
    let second = b.enter();
    let out_of_order = catch_unwind(AssertUnwindSafe(move || drop(first)));
    assert!(
        out_of_order.is_err(),
        "dropping the outer guard first must panic"
    );
    drop(second);
    // However they were dropped, no runtime stays current.
    assert!(Handle::try_current().is_err());
}

#[test]
fn enter_guards_dropped_in_order_restore_each_runtime() {
    let (a, b) = (rt(1), rt(1));
    let first = a.enter();
    assert_eq!(Handle::current().id(), a.handle().id());
    let second = b.enter();
    assert_eq!(Handle::current().id(), b.handle().id());
    drop(second);
    assert_eq!(Handle::current().id(), a.handle().id());
    drop(first);
    assert!(Handle::try_current().is_err());
}
