//! Timers of an actor: `run_later`, `notify_later`, `run_interval`.
//!
//! Each timer is a small runtime task that sleeps on `kioto_rt::time` and
//! then queues a guarded internal envelope into the actor's own mailbox (see
//! the [`context`](crate::context) module docs). Cancelling removes the item
//! from the context, so an envelope already queued finds its guard dead and
//! does nothing, and aborts the task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::actor::Actor;
use crate::context::Context;
use crate::envelope::{Envelope, EnvelopeBody, FnEnvelope, Guarded, Tell};
use crate::handler::{Handler, Message};

/// Identifies a timer, stream or spawned future of an actor, for
/// [`Context::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpawnHandle(pub(crate) u64);

/// The handle of a timer ([`Context::notify_later`], [`Context::run_later`],
/// [`Context::run_interval`]); the same type as [`SpawnHandle`].
pub type TimerHandle = SpawnHandle;

pub(crate) fn run_later<A, F>(ctx: &mut Context<A>, delay: Duration, f: F) -> SpawnHandle
where
    A: Actor,
    F: FnOnce(&mut A, &mut Context<A>) + Send + 'static,
{
    deliver_later(ctx, delay, FnEnvelope(f))
}

pub(crate) fn notify_later<A, M>(ctx: &mut Context<A>, msg: M, delay: Duration) -> SpawnHandle
where
    A: Handler<M>,
    M: Message,
{
    deliver_later(ctx, delay, Tell(msg))
}

/// The one-shot timer behind `run_later` and `notify_later`: after `delay`,
/// queue `body` into the actor's mailbox behind a guard that `cancel` kills.
fn deliver_later<A, B>(ctx: &mut Context<A>, delay: Duration, body: B) -> SpawnHandle
where
    A: Actor,
    B: EnvelopeBody<A>,
{
    let id = ctx.next_item_id();
    let guard = ctx.guard(Some(id), true);
    let addr = ctx.keep_alive();
    let task = kioto_rt::spawn(async move {
        kioto_rt::time::sleep(delay).await;
        let _ = addr.addr().cell().push_internal(Envelope::new(Guarded { guard, inner: body }));
    });
    ctx.insert_item(id, task.abort_handle());
    SpawnHandle(id)
}

pub(crate) fn run_interval<A, F>(
    ctx: &mut Context<A>,
    first: kioto_rt::time::Instant,
    period: Duration,
    f: F,
) -> SpawnHandle
where
    A: Actor,
    F: FnMut(&mut A, &mut Context<A>) + Send + 'static,
{
    let id = ctx.next_item_id();
    let guard = ctx.guard(Some(id), false);
    let addr = ctx.keep_alive();
    let f = Arc::new(Mutex::new(f));
    // Set while a tick is queued and not yet run: later ticks are skipped.
    let queued = Arc::new(AtomicBool::new(false));
    let task = kioto_rt::spawn(async move {
        let mut next = first;
        loop {
            kioto_rt::time::sleep_until(next).await;
            next += period;
            if queued.swap(true, Ordering::AcqRel) {
                continue;
            }
            let f = f.clone();
            let queued = queued.clone();
            let tick = FnEnvelope(move |act: &mut A, ctx: &mut Context<A>| {
                queued.store(false, Ordering::Release);
                (f.lock())(act, ctx);
            });
            if addr
                .addr()
                .cell()
                .push_internal(Envelope::new(Guarded { guard, inner: tick }))
                .is_err()
            {
                return;
            }
        }
    });
    ctx.insert_item(id, task.abort_handle());
    SpawnHandle(id)
}
