//! Per-worker counters.
//!
//! Each worker writes only its own counters, with a relaxed load and store
//! (no read-modify-write, no lock prefix); the scheduler keeps each worker's
//! struct on cache lines of its own (`CachePadded`), and
//! readers on other threads see values that are at most slightly stale.

use crate::loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) polls: Counter,
    pub(crate) steals: Counter,
    pub(crate) steal_operations: Counter,
    pub(crate) global_queue_takes: Counter,
    pub(crate) parks: Counter,
    pub(crate) overflows: Counter,
    pub(crate) lifo_hits: Counter,
    pub(crate) forced_yields: Counter,
    pub(crate) spawned: Counter,
    pub(crate) busy_nanos: Counter,
    pub(crate) local_queue_depth: Gauge,
}

/// A counter written by one thread only.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A value published by one thread for others to read.
#[derive(Debug, Default)]
pub(crate) struct Gauge(AtomicUsize);

impl Gauge {
    pub(crate) fn set(&self, n: usize) {
        self.0.store(n, Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Relaxed)
    }
}
