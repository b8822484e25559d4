//! `terminate` resolves on SIGTERM for several waiting tasks at once, only
//! for signals after the call, and independently of `ctrl_c`. This file
//! holds one test: it installs process-wide SIGTERM and SIGINT handlers.

use futures_util::poll;
use kioto_rt::runtime::Builder;
use std::pin::pin;

fn raise_sigterm() {
    // SAFETY: `raise` has no memory-safety preconditions; SIGTERM has a
    // handler installed by `terminate` (called before every raise), so it
    // does not kill the process.
    assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
}

#[test]
fn terminate_wakes_every_waiting_task_once_per_signal() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        // Futures created before the signal see it; make them first.
        let waits: Vec<_> = (0..3).map(|_| kioto_rt::signal::terminate()).collect();
        let mut tasks = Vec::new();
        for w in waits {
            tasks.push(kioto_rt::spawn(w));
        }
        drop(kioto_rt::signal::terminate()); // an abandoned wait is fine
        let mut interrupt = pin!(kioto_rt::signal::ctrl_c());
        raise_sigterm();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // The signal has been handled (the tasks saw it), so a wait created
        // now must not count it, and SIGTERM is not SIGINT.
        let mut later = pin!(kioto_rt::signal::terminate());
        assert!(poll!(later.as_mut()).is_pending());
        assert!(poll!(interrupt.as_mut()).is_pending());
        // The next SIGTERM completes it.
        raise_sigterm();
        later.await.unwrap();
        assert!(poll!(interrupt.as_mut()).is_pending());
    });
}
