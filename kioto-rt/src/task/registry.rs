//! The set of live tasks of one runtime.
//!
//! # Why it exists
//!
//! A task that is idle (waiting on a waker) is owned by nobody the scheduler
//! can see: its only references are wakers held by channels, sockets and
//! timers, and possibly by itself (an actor holding its own address waits on
//! a mailbox that holds its waker). To shut a runtime down without leaking
//! such tasks, to abort a task from its `JoinHandle`, and to list the tasks
//! in `Handle::dump`, the runtime keeps one waker per live task here.
//!
//! # Protocol
//!
//! - Spawn inserts `(waker, &meta)` and stores the slot key in the metadata
//!   before the task is first scheduled. If the registry is already closed
//!   (the runtime is shutting down), insertion fails and the spawn cancels
//!   the task instead of scheduling it.
//! - The task harness removes its entry when the future is dropped
//!   (completion, abort or cancellation). The entry's waker keeps the task
//!   allocation, hence the metadata, alive while the entry exists, so code
//!   holding the shard lock may read the metadata behind the pointer.
//! - Shutdown closes the registry, then, shard by shard, clones the wakers
//!   under the lock and wakes them *after* releasing it: a woken task's
//!   future may be dropped, and its harness removes its entry under the
//!   same lock.
//!
//! Shards (by task id) keep spawns on different workers off one lock.
//!
//! The loom models at the bottom race an insert against `close_and_abort_all`
//! (it is refused or swept, never missed), and real spawns, completions and
//! a dump against the sweep (nothing stays registered).

use super::meta::{Kind, TaskMeta};
use super::Id;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::panic::Location;
use std::task::Waker;

#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    mask: usize,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Shard {
    slots: Vec<Slot>,
    /// Head of the free list threaded through vacant slots.
    free: Option<usize>,
    len: usize,
}

#[derive(Debug)]
enum Slot {
    Occupied(Entry),
    Vacant { next_free: Option<usize> },
}

#[derive(Debug)]
struct Entry {
    waker: Waker,
    meta: *const TaskMeta,
}

// SAFETY: `meta` points into a task allocation that `waker` keeps alive, and
// `TaskMeta` is `Sync`; the pointer is only dereferenced under the shard lock.
unsafe impl Send for Entry {}

/// What a dump reports for one task.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) id: Id,
    pub(crate) location: &'static Location<'static>,
    pub(crate) state: u8,
    pub(crate) polls: u64,
}

/// Spawn found the registry closed: the runtime is shutting down.
#[derive(Debug)]
pub(crate) struct Closed;

impl Registry {
    pub(crate) fn new(shards: usize) -> Registry {
        let n = shards.next_power_of_two().max(1);
        Registry {
            shards: (0..n).map(|_| CachePadded::new(Mutex::default())).collect(),
            mask: n - 1,
            closed: AtomicBool::new(false),
        }
    }

    fn shard(&self, id: Id) -> &Mutex<Shard> {
        &self.shards[(id.as_u64() as usize) & self.mask]
    }

    /// Registers a task; see the module docs.
    pub(crate) fn insert(&self, meta: &TaskMeta, waker: Waker) -> Result<(), Closed> {
        let mut shard = self.shard(meta.id).lock();
        // Checked under the lock: `close` sets the flag before sweeping the
        // shards, so an insert either sees it or is swept.
        if self.closed.load(Ordering::Acquire) {
            return Err(Closed);
        }
        let entry = Entry {
            waker,
            meta: meta as *const TaskMeta,
        };
        let key = match shard.free {
            Some(key) => {
                let Slot::Vacant { next_free } = shard.slots[key] else {
                    unreachable!("free list points at an occupied slot");
                };
                shard.free = next_free;
                shard.slots[key] = Slot::Occupied(entry);
                key
            }
            None => {
                shard.slots.push(Slot::Occupied(entry));
                shard.slots.len() - 1
            }
        };
        shard.len += 1;
        meta.set_registry_key(key);
        Ok(())
    }

    /// Removes a task's entry (called by the harness when the future drops).
    pub(crate) fn remove(&self, meta: &TaskMeta) {
        let key = meta.registry_key();
        let removed = {
            let mut shard = self.shard(meta.id).lock();
            match shard.slots.get(key) {
                Some(Slot::Occupied(e)) if std::ptr::eq(e.meta, meta) => {}
                _ => return,
            }
            let next_free = shard.free;
            let old = std::mem::replace(&mut shard.slots[key], Slot::Vacant { next_free });
            shard.free = Some(key);
            shard.len -= 1;
            old
        };
        // The waker is dropped outside the lock: dropping the last reference
        // of a task may run arbitrary code.
        drop(removed);
    }

    /// Wakes the task so it observes a flag set in its metadata (abort).
    pub(crate) fn wake(&self, meta: &TaskMeta) {
        let waker = {
            let shard = self.shard(meta.id).lock();
            match shard.slots.get(meta.registry_key()) {
                Some(Slot::Occupied(e)) if std::ptr::eq(e.meta, meta) => e.waker.clone(),
                _ => return,
            }
        };
        waker.wake();
    }

    /// A clone of the task's waker, if it is still live.
    pub(crate) fn waker(&self, meta: &TaskMeta) -> Option<Waker> {
        let shard = self.shard(meta.id).lock();
        match shard.slots.get(meta.registry_key()) {
            Some(Slot::Occupied(e)) if std::ptr::eq(e.meta, meta) => Some(e.waker.clone()),
            _ => None,
        }
    }

    /// Refuses new tasks and aborts every live one but blocking tasks: sets
    /// each one's abort flag and wakes it. Called at shutdown, when `schedule` only queues
    /// the woken tasks; the caller drains the queues and calls this again
    /// until nothing changes.
    pub(crate) fn close_and_abort_all(&self) {
        self.closed.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            let wakers: Vec<Waker> = {
                let shard = shard.lock();
                shard
                    .slots
                    .iter()
                    .filter_map(|slot| match slot {
                        Slot::Occupied(e) => {
                            // SAFETY: the entry's waker keeps the allocation
                            // holding the metadata alive, and we hold the
                            // shard lock, so the entry (and its waker) cannot
                            // be removed meanwhile.
                            let meta = unsafe { &*e.meta };
                            // Blocking work accepted before shutdown runs:
                            // the pool runs what is queued before its
                            // threads exit (see `blocking`).
                            if meta.kind == Kind::Blocking {
                                return None;
                            }
                            meta.set_aborted();
                            Some(e.waker.clone())
                        }
                        Slot::Vacant { .. } => None,
                    })
                    .collect()
            };
            // Outside the lock: waking may drop a task's future, whose
            // harness removes its entry under this same lock.
            for waker in wakers {
                waker.wake();
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    pub(crate) fn snapshot(&self) -> Vec<Snapshot> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for slot in &shard.slots {
                if let Slot::Occupied(e) = slot {
                    // SAFETY: as in `close_and_abort_all`: the waker keeps
                    // the metadata alive while we hold the lock.
                    let meta = unsafe { &*e.meta };
                    out.push(Snapshot {
                        id: meta.id,
                        location: meta.location,
                        state: meta.state(),
                        polls: meta.polls(),
                    });
                }
            }
        }
        out.sort_by_key(|s| s.id);
        out
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! Models of registration racing shutdown's sweep and dumps: no task
    //! may end up registered but neither refused nor aborted, and a task
    //! that finishes leaves nothing behind. The second model drives the
    //! real spawn path (`Shared::spawn`) and harness, playing the worker
    //! itself; loom's leak check on the runtime's state then also proves
    //! that no task outlived the model.

    use super::*;
    use crate::loom::sync::atomic::AtomicUsize;
    use crate::loom::sync::Arc as LoomArc;
    use crate::task::meta::Kind;
    use loom::thread;
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_an_insert_racing_close_is_refused_or_swept() {
        loom::model(|| {
            let shared = crate::runtime::model_shared();
            let registry = Arc::new(Registry::new(1));
            let meta = Arc::new(TaskMeta::new(
                Id::next(),
                Location::caller(),
                shared.clone(),
                Kind::Async,
            ));
            let wakes = Arc::new(CountWakes::default());
            let spawn = {
                let (registry, meta, wakes) = (registry.clone(), meta.clone(), wakes.clone());
                thread::spawn(move || registry.insert(&meta, Waker::from(wakes)).is_ok())
            };
            registry.close_and_abort_all();
            let inserted = spawn.join().unwrap();
            let woken = wakes.0.load(Ordering::SeqCst);
            if inserted {
                // Registered, so the sweep must have reached it.
                assert!(meta.is_aborted(), "a task slipped past the shutdown sweep");
                assert_eq!(woken, 1);
                assert_eq!(registry.len(), 1);
                registry.remove(&meta);
            } else {
                assert!(!meta.is_aborted());
                assert_eq!(woken, 0);
            }
            assert_eq!(registry.len(), 0);
        });
    }

    #[test]
    fn loom_spawns_completions_and_dumps_racing_a_close_leave_nothing() {
        loom::model(|| {
            let shared = crate::runtime::model_shared();
            let drops = LoomArc::new(AtomicUsize::new(0));
            let task = |drops: &LoomArc<AtomicUsize>| {
                let guard = DropCount(drops.clone());
                async move {
                    let _guard = guard;
                }
            };
            let first = shared.spawn(task(&drops), Location::caller());
            // The worker: runs whatever is queued when it looks.
            let worker = {
                let shared = shared.clone();
                thread::spawn(move || {
                    while let Some(runnable) = shared.pop_injected() {
                        runnable.run();
                    }
                })
            };
            // Shutdown's sweep, after a dump.
            let closer = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let dump = shared.registry().snapshot();
                    assert!(dump.len() <= 2);
                    shared.registry().close_and_abort_all();
                })
            };
            // A spawn racing both.
            let second = shared.spawn(task(&drops), Location::caller());
            worker.join().unwrap();
            closer.join().unwrap();
            // What the worker did not get to: run it here (a task aborted
            // by the sweep is cancelled when run).
            while let Some(runnable) = shared.pop_injected() {
                runnable.run();
            }
            assert_eq!(
                shared.registry().len(),
                0,
                "a finished task stayed registered"
            );
            assert_eq!(drops.load(Ordering::SeqCst), 2);
            for handle in [first, second] {
                assert!(handle.is_finished());
            }
        });
    }

    /// Counts its drop.
    struct DropCount(LoomArc<AtomicUsize>);

    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}
