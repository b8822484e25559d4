//! The mailbox's share of the runtime's cooperative budget.
//!
//! The actor mailbox is a leaf future: when messages keep coming, the actor
//! loop never sees `Pending` from it, so without a budget a flooded actor
//! would hold its worker forever. It spends kioto-rt's per-task budget like
//! every kioto-rt leaf (see `kioto_rt::task::coop`): one unit per message
//! taken, given back when nothing was taken.

pub(crate) use kioto_rt::task::coop::poll_proceed;
