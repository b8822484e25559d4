//! Per-task metadata, stored by `async-task` in the task's single allocation.
//!
//! # Who touches what
//!
//! - `id`, `location`, `shared`, `kind`: written once at spawn, read-only after.
//! - `state`: written by the scheduler (SCHEDULED when queued, RUNNING while a
//!   worker polls it, IDLE after a poll that returned `Pending`), read by
//!   `Handle::dump` and the stall watchdog. Advisory only: no decision is
//!   taken on it, so relaxed ordering suffices.
//! - `polls`: incremented by the worker that polls the task (only one at a
//!   time, since async-task guarantees a single runner), read by dumps.
//! - `aborted`: set by `JoinHandle::abort`/`AbortHandle::abort` and by
//!   runtime shutdown; read by the task harness before each poll. Release on
//!   set, acquire on read, so the harness sees the flag that preceded the
//!   wake-up that scheduled it.
//! - `registry_key`: written by spawn after inserting the task in the
//!   registry and before the first schedule; read by the harness on drop and
//!   by abort. The queue hand-off orders the write before every read.
//!
//! The metadata lives exactly as long as the allocation, which outlives the
//! future (async-task drops the future first), so the harness may borrow it.
//! Its atomics come from `crate::loom`, so the abort/join models in
//! `join.rs` explore every order of these reads and writes.

use super::Id;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::scheduler::Shared;
use std::panic::Location;
use std::sync::Arc;

/// Where a task runs: on the workers, or on the blocking pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Async,
    Blocking,
}

/// Task state as shown in dumps.
pub(crate) const IDLE: u8 = 0;
/// In a run queue (or the LIFO slot), waiting for a worker.
pub(crate) const SCHEDULED: u8 = 1;
/// Being polled right now.
pub(crate) const RUNNING: u8 = 2;
/// The future has been dropped (completed, panicked, aborted or cancelled).
pub(crate) const DONE: u8 = 3;

#[derive(Debug)]
pub(crate) struct TaskMeta {
    pub(crate) id: Id,
    pub(crate) location: &'static Location<'static>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) kind: Kind,
    state: AtomicU8,
    polls: AtomicU64,
    aborted: AtomicBool,
    registry_key: AtomicUsize,
}

impl TaskMeta {
    pub(crate) fn new(
        id: Id,
        location: &'static Location<'static>,
        shared: Arc<Shared>,
        kind: Kind,
    ) -> TaskMeta {
        TaskMeta {
            id,
            location,
            shared,
            kind,
            state: AtomicU8::new(SCHEDULED),
            polls: AtomicU64::new(0),
            aborted: AtomicBool::new(false),
            registry_key: AtomicUsize::new(usize::MAX),
        }
    }

    pub(crate) fn set_state(&self, state: u8) {
        self.state.store(state, Ordering::Relaxed);
    }

    /// Records that the future is gone; pairs with `is_done`.
    pub(crate) fn mark_done(&self) {
        self.state.store(DONE, Ordering::Release);
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Relaxed)
    }

    /// Counts one poll. Only the single runner of the task calls this, so a
    /// load + store is enough (no read-modify-write on the hot path).
    pub(crate) fn count_poll(&self) {
        let n = self.polls.load(Ordering::Relaxed);
        self.polls.store(n + 1, Ordering::Relaxed);
    }

    pub(crate) fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    pub(crate) fn set_aborted(&self) {
        self.aborted.store(true, Ordering::Release);
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    pub(crate) fn set_registry_key(&self, key: usize) {
        self.registry_key.store(key, Ordering::Relaxed);
    }

    pub(crate) fn registry_key(&self) -> usize {
        self.registry_key.load(Ordering::Relaxed)
    }
}
