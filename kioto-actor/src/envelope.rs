//! Envelopes: the type-erased items of a mailbox.
//!
//! A mailbox of actor `A` holds [`Envelope<A>`]: a thin pointer to a heap
//! node that starts with the queue's link and two function pointers that
//! know the body's type (run it against `&mut A`, or drop it), so one
//! allocation carries the message, its reply slot and the queue linkage. Running an
//! envelope builds the handler future in the actor's [`FutureSlot`] (no
//! second allocation) or, for internal work that needs no awaiting (timer
//! closures), just runs it and returns `None`.
//!
//! Dropping an envelope unhandled drops its reply sender, which resolves the
//! request to `MailboxError::Closed`: that is how a closed mailbox, a
//! panicked handler or a stopped actor answer requesters.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use crate::actor::Actor;
use crate::context::Context;
use crate::handler::{Handler, Message};
use crate::queue::{Link, Linked};
use crate::reply::ReplySender;
use crate::slot::{FutureSlot, SlotFuture};

/// One unit of work for actor `A`, by value (the concrete types below).
pub(crate) trait EnvelopeBody<A: Actor>: Send + 'static {
    /// Starts handling: returns the future to drive to completion, if any.
    fn run<'a>(
        self,
        act: &'a mut A,
        ctx: &'a mut Context<A>,
        slot: &'a mut FutureSlot,
    ) -> Option<SlotFuture<'a>>;
}

type RunFn<A> = for<'a> unsafe fn(
    NonNull<Link>,
    &'a mut A,
    &'a mut Context<A>,
    &'a mut FutureSlot,
) -> Option<SlotFuture<'a>>;

/// The type-independent start of every envelope node: the queue link and
/// the two operations that know the body's type.
#[repr(C)]
struct Header<A: Actor> {
    link: Link,
    run: RunFn<A>,
    drop: unsafe fn(NonNull<Link>),
}

/// An envelope's heap node: one allocation per message.
#[repr(C)]
struct Node<A: Actor, E> {
    header: Header<A>,
    body: E,
}

/// # Safety
///
/// `link` points at a live, exclusively owned `Node<A, E>`.
unsafe fn run_node<'a, A: Actor, E: EnvelopeBody<A>>(
    link: NonNull<Link>,
    act: &'a mut A,
    ctx: &'a mut Context<A>,
    slot: &'a mut FutureSlot,
) -> Option<SlotFuture<'a>> {
    // SAFETY: the caller's contract; `Link` is at offset 0 of the
    // `#[repr(C)]` node, so the pointer is the node's.
    let node = unsafe { Box::from_raw(link.as_ptr().cast::<Node<A, E>>()) };
    node.body.run(act, ctx, slot)
}

/// # Safety
///
/// As [`run_node`].
unsafe fn drop_node<A: Actor, E>(link: NonNull<Link>) {
    // SAFETY: as in `run_node`.
    drop(unsafe { Box::from_raw(link.as_ptr().cast::<Node<A, E>>()) });
}

/// What the mailbox stores: an owned, type-erased envelope node (a thin
/// pointer; the node carries its own "vtable").
pub(crate) struct Envelope<A: Actor> {
    node: NonNull<Header<A>>,
    _owns: PhantomData<Header<A>>,
}

// SAFETY: the node's body is `Send` (`EnvelopeBody: Send`) and the envelope
// owns it exclusively.
unsafe impl<A: Actor> Send for Envelope<A> {}

impl<A: Actor> Envelope<A> {
    pub(crate) fn new<E: EnvelopeBody<A>>(body: E) -> Self {
        let node = Box::new(Node {
            header: Header {
                link: Link::new(),
                run: run_node::<A, E>,
                drop: drop_node::<A, E>,
            },
            body,
        });
        Envelope {
            // SAFETY: `Box::into_raw` is never null.
            node: unsafe { NonNull::new_unchecked(Box::into_raw(node).cast::<Header<A>>()) },
            _owns: PhantomData,
        }
    }

    /// Starts handling the envelope (consuming it).
    pub(crate) fn run<'a>(
        self,
        act: &'a mut A,
        ctx: &'a mut Context<A>,
        slot: &'a mut FutureSlot,
    ) -> Option<SlotFuture<'a>> {
        let this = ManuallyDrop::new(self);
        // SAFETY: the node is live and ours (we own the envelope and do not
        // drop it: `run` consumes the node); `run` was set for its type.
        unsafe {
            let run = (*this.node.as_ptr()).run;
            run(this.node.cast::<Link>(), act, ctx, slot)
        }
    }
}

impl<A: Actor> Drop for Envelope<A> {
    fn drop(&mut self) {
        // SAFETY: the node is live and ours; `drop` was set for its type.
        unsafe {
            let drop_fn = (*self.node.as_ptr()).drop;
            drop_fn(self.node.cast::<Link>());
        }
    }
}

// SAFETY: the link is at offset 0 of the `#[repr(C)]` header, which is at
// offset 0 of the `#[repr(C)]` node; ownership passes through the pointer.
unsafe impl<A: Actor> Linked for Envelope<A> {
    fn into_link(self) -> NonNull<Link> {
        ManuallyDrop::new(self).node.cast::<Link>()
    }

    unsafe fn from_link(link: NonNull<Link>) -> Self {
        Envelope {
            node: link.cast::<Header<A>>(),
            _owns: PhantomData,
        }
    }
}

/// A user message, with the reply slot of its requester (if it has one).
pub(crate) struct MessageEnvelope<M: Message> {
    msg: M,
    reply: Option<ReplySender<M::Result>>,
}

impl<M: Message> MessageEnvelope<M> {
    pub(crate) fn new(msg: M, reply: Option<ReplySender<M::Result>>) -> Self {
        MessageEnvelope { msg, reply }
    }
}

impl<A, M> EnvelopeBody<A> for MessageEnvelope<M>
where
    A: Handler<M>,
    M: Message,
{
    fn run<'a>(
        self,
        act: &'a mut A,
        ctx: &'a mut Context<A>,
        slot: &'a mut FutureSlot,
    ) -> Option<SlotFuture<'a>> {
        let MessageEnvelope { msg, reply } = self;
        match reply {
            // The requester gave up (dropped or timed out): as in actix, the
            // message is not handled.
            Some(reply) if reply.is_closed() => None,
            Some(reply) => Some(slot.put(async move {
                let out = act.handle(msg, ctx).await;
                reply.send(out);
            })),
            None => Some(slot.put(async move {
                let _ = act.handle(msg, ctx).await;
            })),
        }
    }
}

/// Internal work that runs synchronously on the actor (timer callbacks).
pub(crate) struct FnEnvelope<F>(pub(crate) F);

impl<A, F> EnvelopeBody<A> for FnEnvelope<F>
where
    A: Actor,
    F: FnOnce(&mut A, &mut Context<A>) + Send + 'static,
{
    fn run<'a>(
        self,
        act: &'a mut A,
        ctx: &'a mut Context<A>,
        _slot: &'a mut FutureSlot,
    ) -> Option<SlotFuture<'a>> {
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
    fn run<'a>(
        self,
        act: &'a mut A,
        ctx: &'a mut Context<A>,
        slot: &'a mut FutureSlot,
    ) -> Option<SlotFuture<'a>> {
        if !ctx.check_item(self.guard) {
            return None;
        }
        self.inner.run(act, ctx, slot)
    }
}
