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
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
                Ordering,
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

            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                self.0.wait(guard);
            }

            pub(crate) fn wait_for<T>(
                &self,
                guard: &mut MutexGuard<'_, T>,
                timeout: std::time::Duration,
            ) {
                let _ = self.0.wait_for(guard, timeout);
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
        pub(crate) use std::thread::{current, yield_now};
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
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
                Ordering,
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
        pub(crate) struct Condvar(loom::sync::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Condvar(loom::sync::Condvar::new())
            }

            pub(crate) fn wait<'a, T>(&self, guard: &mut MutexGuard<'a, T>) {
                // loom's wait takes the guard by value; swap it through.
                replace_with(guard, |g| self.0.wait(g).unwrap());
            }

            pub(crate) fn wait_for<'a, T>(
                &self,
                guard: &mut MutexGuard<'a, T>,
                _timeout: std::time::Duration,
            ) {
                // loom has no time: a timed wait is modelled as a spurious
                // wake-up, which every caller must tolerate anyway.
                let _ = guard;
            }

            pub(crate) fn notify_one(&self) {
                self.0.notify_one();
            }

            pub(crate) fn notify_all(&self) {
                self.0.notify_all();
            }
        }

        fn replace_with<T>(slot: &mut T, f: impl FnOnce(T) -> T) {
            // SAFETY: `slot` is read out, transformed and written back with no
            // panic-able code in between that could observe the moved-from
            // value: loom aborts the model on panic rather than unwinding
            // through here.
            unsafe {
                let old = std::ptr::read(slot);
                let new = f(old);
                std::ptr::write(slot, new);
            }
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{current, yield_now};
    }

    pub(crate) mod hint {
        pub(crate) use loom::hint::spin_loop;
    }
}

#[allow(unused_imports)]
pub(crate) use imp::*;
