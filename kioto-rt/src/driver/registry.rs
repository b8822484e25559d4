//! The driver's table of registered I/O resources: mio token -> readiness.
//!
//! # Invariants
//!
//! 1. A token is `index | generation << INDEX_BITS`. The generation of a
//!    slot is bumped when its entry is released, so an event carrying a
//!    token from before the release (pulled out of `epoll_wait` before the
//!    resource was dropped) does not match and is ignored.
//! 2. Entries are `Arc<ScheduledIo>`: a resource and the registry each own
//!    a reference, so dispatching to an entry that is being dropped on
//!    another thread touches live memory.
//! 3. After `shutdown` no entry is added: registering fails, and every entry
//!    present at shutdown has been marked shut down and had its wakers taken.

use crate::io::readiness::{Ready, ScheduledIo};
use crate::loom::sync::Arc;
use std::task::Waker;

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// The token of the driver's own `mio::Waker`; never a valid slab token
/// because indices stop below `INDEX_MASK`.
pub(super) const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

#[derive(Debug, Default)]
struct Slot {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

#[derive(Debug, Default)]
pub(super) struct IoSlab {
    slots: Vec<Slot>,
    free: Vec<usize>,
    len: usize,
    is_shutdown: bool,
}

impl IoSlab {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds `io`; `None` after shutdown (invariant 3).
    pub(super) fn insert(&mut self, io: Arc<ScheduledIo>) -> Option<mio::Token> {
        if self.is_shutdown {
            return None;
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                assert!(self.slots.len() < INDEX_MASK, "too many I/O resources");
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.io = Some(io);
        self.len += 1;
        Some(mio::Token(index | (slot.generation << INDEX_BITS)))
    }

    /// Releases the entry of `token`, returning it (to drop outside the lock).
    pub(super) fn remove(&mut self, token: mio::Token) -> Option<Arc<ScheduledIo>> {
        let index = token.0 & INDEX_MASK;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation_of(token) || slot.io.is_none() {
            return None;
        }
        let io = slot.io.take();
        slot.generation = (slot.generation + 1) & (usize::MAX >> INDEX_BITS);
        self.free.push(index);
        self.len -= 1;
        io
    }

    /// Routes one event (invariant 1); returns whether it matched.
    pub(super) fn dispatch(
        &self,
        token: mio::Token,
        ready: Ready,
        wakers: &mut Vec<Waker>,
    ) -> bool {
        match self.slots.get(token.0 & INDEX_MASK) {
            Some(Slot {
                generation,
                io: Some(io),
            }) if *generation == generation_of(token) => {
                io.dispatch(ready, wakers);
                true
            }
            _ => false,
        }
    }

    pub(super) fn shutdown(&mut self, wakers: &mut Vec<Waker>) {
        self.is_shutdown = true;
        for io in self.slots.iter().filter_map(|s| s.io.as_ref()) {
            io.shutdown(wakers);
        }
    }
}

fn generation_of(token: mio::Token) -> usize {
    token.0 >> INDEX_BITS
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stale_tokens_are_ignored() {
        let mut slab = IoSlab::default();
        let a = Arc::new(ScheduledIo::new());
        let t1 = slab.insert(a.clone()).unwrap();
        assert!(slab.remove(t1).is_some());
        let t2 = slab.insert(Arc::new(ScheduledIo::new())).unwrap();
        assert_eq!(t1.0 & INDEX_MASK, t2.0 & INDEX_MASK);
        assert_ne!(t1, t2);
        let mut wakers = Vec::new();
        assert!(!slab.dispatch(t1, Ready::READABLE, &mut wakers));
        assert!(slab.dispatch(t2, Ready::READABLE, &mut wakers));
        assert!(slab.remove(t1).is_none());
        assert_eq!(slab.len(), 1);
        slab.shutdown(&mut wakers);
        assert!(slab.insert(a).is_none());
    }
}
