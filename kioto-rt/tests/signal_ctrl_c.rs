//! `ctrl_c` resolves on SIGINT for several waiting tasks at once. This file
//! holds one test: it installs a process-wide SIGINT handler.

use kioto_rt::runtime::Builder;
use std::time::Duration;

#[test]
fn ctrl_c_wakes_every_waiting_task() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        // Futures created before the signal see it; make them first.
        let waits: Vec<_> = (0..3).map(|_| kioto_rt::signal::ctrl_c()).collect();
        let mut tasks = Vec::new();
        for w in waits {
            tasks.push(kioto_rt::spawn(w));
        }
        let dropped = kioto_rt::signal::ctrl_c();
        drop(dropped); // an abandoned wait is fine
        kioto_rt::time::sleep(Duration::from_millis(20)).await;
        // SAFETY: `raise` has no memory-safety preconditions; SIGINT has a
        // handler installed by `ctrl_c`, so it does not kill the process.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // A wait created afterwards needs a new signal.
        let later = kioto_rt::signal::ctrl_c();
        let polled = kioto_rt::time::timeout(Duration::from_millis(20), later).await;
        assert!(polled.is_err());
    });
}
