//! Envelopes: the type-erased items of a mailbox.
//!
//! A mailbox of actor `A` holds [`Envelope<A>`]s side by side in its queue's
//! blocks: two words each, one function pointer that knows the body's type
//! (run it against `&mut A`, or drop it) and one word of payload. A small
//! body (a message of up to a word sent without a reply, or a request whose
//! message has no data, both common) is stored in the payload itself, so
//! sending it allocates nothing; a larger one is boxed and the payload holds
//! the box. Two words, because the envelope is moved a few times on its way
//! from the queue to the handler, and each move of a two-word value is one
//! 16-byte load and store.
//!
//! Running an envelope builds the handler future in the actor's
//! [`FutureSlot`] (no allocation either) and polls it once, or, for internal
//! work that needs no awaiting (timer closures), just runs it and returns
//! `None`.
//!
//! Dropping an envelope unhandled drops its reply sender, which resolves the
//! request to `MailboxError::Closed`: that is how a closed mailbox, a
//! panicked handler or a stopped actor answer requesters.

use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::ptr::NonNull;
use std::task::Context as TaskContext;

use crate::actor::Actor;
use crate::context::Context;
use crate::handler::{Handler, Message};
use crate::queue::SlotValue;
use crate::reply::ReplySender;
use crate::slot::{FutureSlot, SlotFuture};

/// One unit of work for actor `A`, by value (the concrete types below).
pub(crate) trait EnvelopeBody<A: Actor>: Send + 'static {
    /// Starts handling, polling the handler once (with
    /// [`FutureSlot::start`]): returns the future still to drive to
    /// completion, if any.
    fn run<'a>(self, run: RunWith<'a, A>, cx: &mut TaskContext<'_>) -> Option<SlotFuture<'a>>;
}

/// Where a body lives: in place when it fits, else a `Box<E>`'s pointer.
type Payload = MaybeUninit<usize>;

/// What running an envelope borrows: the actor, its context, and the slot
/// its handler future is built in.
pub(crate) type RunWith<'a, A> = (&'a mut A, &'a mut Context<A>, &'a mut FutureSlot);

/// Takes the body out of the payload and runs it (`Some`) or drops it
/// (`None`).
type OpFn<A> = for<'a, 'c, 'w> unsafe fn(
    &mut Payload,
    Option<(RunWith<'a, A>, &'c mut TaskContext<'w>)>,
) -> Option<SlotFuture<'a>>;

/// Whether a body of type `E` is stored in place (a constant per type).
const fn fits_in_place<E>() -> bool {
    mem::size_of::<E>() <= mem::size_of::<Payload>()
        && mem::align_of::<E>() <= mem::align_of::<Payload>()
}

/// The [`OpFn`] of body type `E`.
///
/// # Safety
///
/// `payload` holds a live `E` as [`Envelope::new`] stored it, and is not
/// used again after this call (the body is moved out).
unsafe fn op<'a, A: Actor, E: EnvelopeBody<A>>(
    payload: &mut Payload,
    run: Option<(RunWith<'a, A>, &mut TaskContext<'_>)>,
) -> Option<SlotFuture<'a>> {
    // SAFETY: the caller's contract; `new` chose the same representation
    // from the same constant.
    let body: E = unsafe {
        if fits_in_place::<E>() {
            payload.as_ptr().cast::<E>().read()
        } else {
            *Box::from_raw(payload.as_ptr().cast::<*mut E>().read())
        }
    };
    match run {
        Some((with, cx)) => body.run(with, cx),
        None => {
            drop(body);
            None
        }
    }
}

/// What the mailbox stores: an owned, type-erased body (see the module
/// docs).
pub(crate) struct Envelope<A: Actor> {
    op: OpFn<A>,
    payload: Payload,
}

// SAFETY: the body is `Send` (`EnvelopeBody: Send`) and owned by the
// envelope alone.
unsafe impl<A: Actor> Send for Envelope<A> {}

impl<A: Actor> Envelope<A> {
    pub(crate) fn new<E: EnvelopeBody<A>>(body: E) -> Self {
        let mut payload = Payload::uninit();
        // SAFETY: a body that fits is written in place (size and alignment
        // checked by `fits_in_place`); otherwise the box's pointer, which
        // always fits. `op::<A, E>` reads it back the same way.
        unsafe {
            if fits_in_place::<E>() {
                payload.as_mut_ptr().cast::<E>().write(body);
            } else {
                payload
                    .as_mut_ptr()
                    .cast::<*mut E>()
                    .write(Box::into_raw(Box::new(body)));
            }
        }
        Envelope {
            op: op::<A, E>,
            payload,
        }
    }

    /// Starts handling the envelope (consuming it), polling its handler
    /// once: returns the handler future if that did not finish it.
    pub(crate) fn run<'a>(
        self,
        with: RunWith<'a, A>,
        cx: &mut TaskContext<'_>,
    ) -> Option<SlotFuture<'a>> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: the payload holds the body `op` was made for; `this` is
        // never dropped, so the body is taken exactly once.
        unsafe { (this.op)(&mut this.payload, Some((with, cx))) }
    }
}

// SAFETY: an envelope is its operation (a function pointer: never null) and
// its payload, and both words are given back as they were taken.
unsafe impl<A: Actor> SlotValue for Envelope<A> {
    fn into_words(self) -> (NonNull<()>, MaybeUninit<usize>) {
        let this = ManuallyDrop::new(self);
        // SAFETY: a function pointer is never null.
        let op = unsafe { NonNull::new_unchecked(this.op as *mut ()) };
        (op, this.payload)
    }

    unsafe fn from_words(tag: NonNull<()>, payload: MaybeUninit<usize>) -> Self {
        Envelope {
            // SAFETY: the caller's contract: `tag` is an `OpFn<A>` from
            // `into_words`, and a pointer of the same size.
            op: unsafe { mem::transmute::<*mut (), OpFn<A>>(tag.as_ptr()) },
            payload,
        }
    }
}

impl<A: Actor> Drop for Envelope<A> {
    fn drop(&mut self) {
        // SAFETY: as in `run`; after `drop` the payload is not touched.
        unsafe { (self.op)(&mut self.payload, None) };
    }
}

/// A user message nobody awaits a reply to (`do_send`, `tell`, `notify`).
pub(crate) struct Tell<M>(pub(crate) M);

/// A user message with the reply slot of its requester (`send`).
pub(crate) struct Ask<M: Message> {
    msg: M,
    reply: ReplySender<M::Result>,
}

impl<M: Message> Ask<M> {
    pub(crate) fn new(msg: M, reply: ReplySender<M::Result>) -> Self {
        Ask { msg, reply }
    }
}

impl<A: Actor> Envelope<A> {
    /// The envelope of a user message, with its requester's reply slot if
    /// it has one.
    pub(crate) fn message<M>(msg: M, reply: Option<ReplySender<M::Result>>) -> Self
    where
        A: Handler<M>,
        M: Message,
    {
        match reply {
            Some(reply) => Envelope::new(Ask::new(msg, reply)),
            None => Envelope::new(Tell(msg)),
        }
    }
}

impl<A, M> EnvelopeBody<A> for Tell<M>
where
    A: Handler<M>,
    M: Message,
{
    fn run<'a>(self, (act, ctx, slot): RunWith<'a, A>, cx: &mut TaskContext<'_>) -> Option<SlotFuture<'a>> {
        let msg = self.0;
        slot.start(
            async move {
                let _ = act.handle(msg, ctx).await;
            },
            cx,
        )
    }
}

impl<A, M> EnvelopeBody<A> for Ask<M>
where
    A: Handler<M>,
    M: Message,
{
    fn run<'a>(self, (act, ctx, slot): RunWith<'a, A>, cx: &mut TaskContext<'_>) -> Option<SlotFuture<'a>> {
        let Ask { msg, reply } = self;
        if reply.is_closed() {
            // The requester gave up (dropped or timed out): as in actix, the
            // message is not handled.
            return None;
        }
        slot.start(
            async move {
                let out = act.handle(msg, ctx).await;
                reply.send(out);
            },
            cx,
        )
    }
}

/// Internal work that runs synchronously on the actor (timer callbacks).
pub(crate) struct FnEnvelope<F>(pub(crate) F);

impl<A, F> EnvelopeBody<A> for FnEnvelope<F>
where
    A: Actor,
    F: FnOnce(&mut A, &mut Context<A>) + Send + 'static,
{
    fn run<'a>(self, (act, ctx, _): RunWith<'a, A>, _: &mut TaskContext<'_>) -> Option<SlotFuture<'a>> {
        (self.0)(act, ctx);
        None
    }
}

/// An envelope that only runs if the context item it belongs to is still
/// alive in the same actor instance (a cancelled timer, a stream of an
/// instance that has since been restarted).
pub(crate) struct Guarded<E> {
    pub(crate) guard: ItemGuard,
    pub(crate) inner: E,
}

/// What [`Guarded`] checks, see [`Context::check_item`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemGuard {
    /// The instance (context generation) that created the item.
    pub(crate) generation: u64,
    /// The item; `None` for "any item of this instance".
    pub(crate) item: Option<u64>,
    /// Whether running this envelope ends the item (one-shot timers).
    pub(crate) last: bool,
}

impl<A, E> EnvelopeBody<A> for Guarded<E>
where
    A: Actor,
    E: EnvelopeBody<A>,
{
    fn run<'a>(self, with: RunWith<'a, A>, cx: &mut TaskContext<'_>) -> Option<SlotFuture<'a>> {
        if !with.1.check_item(self.guard) {
            return None;
        }
        self.inner.run(with, cx)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_are_stored_in_place() {
        struct Ping;
        impl Message for Ping {
            type Result = u64;
        }
        struct Big(#[allow(dead_code)] [u64; 4]);
        impl Message for Big {
            type Result = ();
        }
        assert!(fits_in_place::<Tell<Ping>>());
        assert!(fits_in_place::<Tell<u32>>());
        assert!(fits_in_place::<Ask<Ping>>());
        assert!(!fits_in_place::<Tell<Big>>());
        assert!(!fits_in_place::<Tell<u128>>());
        assert_eq!(mem::size_of::<Envelope<crate::supervisor::Supervisor>>(), 16);
    }
}
