//! Runtime identifiers.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// An opaque, process-unique identifier of a runtime.
///
/// Two handles with the same id drive the same runtime. Layers above the
/// runtime (an actor `System`) use it to find what belongs to the runtime a
/// task runs on.
///
/// ```
/// let a = kioto_rt::Runtime::new().unwrap();
/// let b = kioto_rt::Runtime::new().unwrap();
/// assert_eq!(a.handle().id(), a.handle().clone().id());
/// assert_ne!(a.handle().id(), b.handle().id());
/// ```
#[derive(Clone, Copy, Debug, Hash, Eq, PartialEq, Ord, PartialOrd)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        // Uniqueness is all that is needed; a static cannot hold a loom
        // atomic, and no protocol depends on this counter.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(n).expect("runtime id counter overflowed"))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
