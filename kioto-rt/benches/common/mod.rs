//! The two runtimes every kioto-rt bench compares, configured alike.

/// kioto-rt, multi-thread, 2 workers (WORKLOADS.md).
pub fn kioto() -> kioto_rt::Runtime {
    kioto_rt::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// tokio, multi-thread, 2 workers, I/O and time enabled.
pub fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
