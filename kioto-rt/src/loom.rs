//! One place that picks the synchronization primitives: `std`/`parking_lot`
//! in normal builds, `loom`'s instrumented twins under `--cfg loom`.
//!
//! Every atomic, mutex, condvar and `UnsafeCell` that takes part in a
//! protocol we wrote ourselves is imported from here, so the loom models in
//! `tests/loom_*.rs` and in the crate explore exactly the code that ships.

#[cfg(not(loom))]
mod imp {
    pub(crate) mod sync {
        pub(crate) use std::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
            };
        }

        /// A mutex whose `lock` never fails (poisoning is not a concern:
        /// no code of ours panics while holding one).
        #[derive(Debug, Default)]
        pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);

        pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Mutex(parking_lot::Mutex::new(value))
            }

            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                self.0.lock()
            }

            pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
                self.0.try_lock()
            }
        }

        /// A condition variable paired with [`Mutex`].
        #[derive(Debug, Default)]
        pub(crate) struct Condvar(parking_lot::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Condvar(parking_lot::Condvar::new())
            }

            /// Waits for a notification (or a spurious wake-up); takes and
            /// returns the guard, as loom's condvar does.
            pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
                self.0.wait(&mut guard);
                guard
            }

            /// `wait` with a timeout.
            pub(crate) fn wait_for<'a, T>(
                &self,
                mut guard: MutexGuard<'a, T>,
                timeout: std::time::Duration,
            ) -> MutexGuard<'a, T> {
                let _ = self.0.wait_for(&mut guard, timeout);
                guard
            }

            /// `wait` with a timeout that says whether it timed out. A
            /// time-out may race a notification: the caller must decide
            /// from the state it guards, not from this flag alone.
            pub(crate) fn wait_timeout<'a, T>(
                &self,
                mut guard: MutexGuard<'a, T>,
                timeout: std::time::Duration,
            ) -> (MutexGuard<'a, T>, bool) {
                let timed_out = self.0.wait_for(&mut guard, timeout).timed_out();
                (guard, timed_out)
            }

            pub(crate) fn notify_one(&self) {
                self.0.notify_one();
            }

            pub(crate) fn notify_all(&self) {
                self.0.notify_all();
            }
        }
    }

    pub(crate) mod cell {
        /// `UnsafeCell` with loom's closure-based access API, so the same
        /// code compiles against both.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(data: T) -> Self {
                UnsafeCell(std::cell::UnsafeCell::new(data))
            }

            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::{current, yield_now, Builder};
    }

    pub(crate) mod hint {
        pub(crate) use std::hint::spin_loop;
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) mod sync {
        pub(crate) use loom::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
            };
        }

        /// loom's mutex behind the same never-failing API as the std build.
        #[derive(Debug, Default)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Mutex(loom::sync::Mutex::new(value))
            }

            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                self.0.lock().unwrap()
            }

            pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
                self.0.try_lock().ok()
            }
        }

        /// loom's condvar behind the std build's API.
        #[derive(Debug, Default)]
        pub(crate) struct Condvar(loom::sync::Condvar, ModelClock);

        /// loom has no time, so a model says when it passes: each
        /// `expire_timeouts` ends every `wait_timeout` in progress.
        #[derive(Debug, Default)]
        struct ModelClock(loom::sync::atomic::AtomicUsize);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Condvar(loom::sync::Condvar::new(), ModelClock::default())
            }

            pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
                self.0.wait(guard).unwrap()
            }

            /// A wait that ends with a notification (reporting no time-out)
            /// or when the model calls [`expire_timeouts`](Self::expire_timeouts)
            /// (reporting one). Waits begun after that call are not ended
            /// by it: each needs time to pass again.
            pub(crate) fn wait_timeout<'a, T>(
                &self,
                guard: MutexGuard<'a, T>,
                _timeout: std::time::Duration,
            ) -> (MutexGuard<'a, T>, bool) {
                use loom::sync::atomic::Ordering::SeqCst;
                let started = (self.1).0.load(SeqCst);
                let guard = self.0.wait(guard).unwrap();
                let timed_out = (self.1).0.load(SeqCst) != started;
                (guard, timed_out)
            }

            /// Lets the keep-alive of every `wait_timeout` in progress run
            /// out: each wakes and reports a time-out, like a timer firing.
            /// Call it with the waiters' mutex held, so that no waiter is
            /// between reading the clock and starting to wait.
            pub(crate) fn expire_timeouts(&self) {
                (self.1)
                    .0
                    .fetch_add(1, loom::sync::atomic::Ordering::SeqCst);
                self.0.notify_all();
            }

            pub(crate) fn wait_for<'a, T>(
                &self,
                guard: MutexGuard<'a, T>,
                _timeout: std::time::Duration,
            ) -> MutexGuard<'a, T> {
                // loom has no time: a timed wait is modelled as a spurious
                // wake-up, which every caller must tolerate anyway.
                guard
            }

            pub(crate) fn notify_one(&self) {
                self.0.notify_one();
            }

            pub(crate) fn notify_all(&self) {
                self.0.notify_all();
            }
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{current, yield_now, Builder};
    }

    pub(crate) mod hint {
        pub(crate) use loom::hint::spin_loop;
    }
}

#[allow(unused_imports)]
pub(crate) use imp::*;
