//! Helpers shared by the actor integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kioto_actor::System;

/// A system on a 2-worker runtime (the box has 2 cores).
pub fn system() -> System {
    let rt = kioto_rt::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    System::with_runtime(rt)
}

/// Counts drops of the values it hands out.
#[derive(Clone, Default, Debug)]
pub struct DropCounter(pub Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
pub struct DropToken(Arc<AtomicUsize>);
impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `cond` (yielding to the runtime with short sleeps) until it holds;
/// panics after 10 s so a bug fails instead of hanging. Not a timing
/// assertion: only a bound on a hang.
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        kioto_rt::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached within 10 s");
}
