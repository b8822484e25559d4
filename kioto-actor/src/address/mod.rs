//! Addresses: how the rest of the program reaches an actor.
//!
//! [`Addr<A>`] is the typed handle; [`Recipient<M>`] the same handle erased
//! to "something that handles `M`". Both come in a strong form, which keeps
//! the actor alive (an actor with no strong handle left, nothing queued and
//! nothing running stops, as in actix) and a weak form ([`WeakAddr`],
//! [`WeakRecipient`]) which does not.
//!
//! # Sending
//!
//! | method | waits for space | reply | on a closed mailbox |
//! |---|---|---|---|
//! | `send(msg).await` | yes | `Ok(reply)` | `Err(MailboxError::Closed)` |
//! | `tell(msg).await` | yes | none | `Err(SendError::Closed(msg))` |
//! | `try_send(msg)` | no: `Err(SendError::Full(msg))` | none | `Err(SendError::Closed(msg))` |
//! | `do_send(msg)` | no: ignores the capacity | none | the message is dropped |
//!
//! A message's place in the mailbox is fixed when it enters: at the call for
//! `do_send`/`try_send`, and for `send`/`tell` at the call when there is
//! room, otherwise when space frees (waiting senders are served first come,
//! first served). So a sender that awaits each send sees its messages
//! handled in the order it sent them. `send` enqueues at the call even if the
//! returned [`Request`] is never awaited (as in actix); a request dropped
//! before the actor gets to it is skipped.

mod recipient;
mod request;

use std::fmt;
use std::future::poll_fn;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

pub use recipient::{Recipient, WeakRecipient};
pub use request::{RecipientRequest, Request};

use crate::actor::Actor;
use crate::cell::{ActorCell, ActorId};
use crate::envelope::Envelope;
use crate::error::SendError;
use crate::handler::{Handler, Message};
use crate::mailbox::{Reserve, WaitSlot};
use crate::reply::ReplySender;
use crate::watch::StopReason;

/// The typed, strong address of an actor. Cheap to clone; `Send + Sync`.
/// Equal (and hashing equal) when it addresses the same actor.
pub struct Addr<A: Actor> {
    cell: Arc<ActorCell<A>>,
}

impl<A: Actor> Addr<A> {
    /// A strong address of `cell` (counts as a sender).
    pub(crate) fn from_cell(cell: Arc<ActorCell<A>>) -> Self {
        cell.mailbox.add_sender();
        Addr { cell }
    }

    pub(crate) fn cell(&self) -> &Arc<ActorCell<A>> {
        &self.cell
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// Sends `msg` and returns a future of the reply. Waits for mailbox space
    /// (in FIFO order with other waiting senders). Resolves to
    /// `Err(MailboxError::Closed)` if the actor stops or panics before it
    /// replies.
    pub fn send<M>(&self, msg: M) -> Request<A, M>
    where
        A: Handler<M>,
        M: Message,
    {
        Request::new(request::start(&*self.cell, || self.cell.clone(), msg))
    }

    /// Sends `msg` without a reply, waiting for mailbox space. A closed
    /// mailbox hands the message back.
    pub async fn tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        tell(&*self.cell, msg).await
    }

    /// Sends `msg` without a reply if there is space now.
    pub fn try_send<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        MessageSender::try_send(&*self.cell, msg)
    }

    /// Sends `msg` without a reply and without waiting: **the mailbox
    /// capacity is ignored**, so a producer faster than the actor grows the
    /// mailbox without bound. Prefer `tell` or `try_send` for streams of
    /// messages. On a closed mailbox the message is dropped.
    pub fn do_send<M>(&self, msg: M)
    where
        A: Handler<M>,
        M: Message,
    {
        MessageSender::do_send(&*self.cell, msg);
    }

    /// This address erased to a [`Recipient`] of `M`.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        Recipient::new(self.cell.clone())
    }

    /// A weak address, which does not keep the actor alive.
    pub fn downgrade(&self) -> WeakAddr<A> {
        WeakAddr {
            cell: Arc::downgrade(&self.cell),
        }
    }

    /// Whether the actor still accepts messages.
    pub fn connected(&self) -> bool {
        !self.cell.mailbox.is_closed()
    }

    /// Asks the actor to stop after its current message (its `stopping` hook
    /// may refuse). Messages still queued are dropped when it stops.
    pub fn stop(&self) {
        self.cell.mailbox.request_stop();
    }

    /// Why the actor stopped, once it has.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.cell.stop_reason()
    }
}

impl<A: Actor> Clone for Addr<A> {
    fn clone(&self) -> Self {
        Addr::from_cell(self.cell.clone())
    }
}

impl<A: Actor> Drop for Addr<A> {
    fn drop(&mut self) {
        self.cell.mailbox.remove_sender();
    }
}

impl<A: Actor> PartialEq for Addr<A> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<A: Actor> Eq for Addr<A> {}

impl<A: Actor> Hash for Addr<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.cell.id.hash(state);
    }
}

impl<A: Actor> fmt::Debug for Addr<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addr")
            .field("actor", &std::any::type_name::<A>())
            .field("id", &self.cell.id)
            .field("connected", &self.connected())
            .finish()
    }
}

/// A weak address: does not keep the actor alive; upgrade it to send.
pub struct WeakAddr<A: Actor> {
    cell: Weak<ActorCell<A>>,
}

impl<A: Actor> WeakAddr<A> {
    /// A strong address, if the actor still accepts messages.
    pub fn upgrade(&self) -> Option<Addr<A>> {
        let cell = self.cell.upgrade()?;
        cell.mailbox.try_add_sender().then_some(Addr { cell })
    }

    /// Whether the actor still accepts messages.
    pub fn connected(&self) -> bool {
        self.cell.upgrade().is_some_and(|c| !c.mailbox.is_closed())
    }

    /// This weak address erased to a [`WeakRecipient`] of `M`.
    pub fn recipient<M>(&self) -> WeakRecipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        WeakRecipient::new(self.cell.clone())
    }
}

impl<A: Actor> Clone for WeakAddr<A> {
    fn clone(&self) -> Self {
        WeakAddr {
            cell: self.cell.clone(),
        }
    }
}

impl<A: Actor> PartialEq for WeakAddr<A> {
    fn eq(&self, other: &Self) -> bool {
        Weak::ptr_eq(&self.cell, &other.cell)
    }
}

impl<A: Actor> Eq for WeakAddr<A> {}

impl<A: Actor> Hash for WeakAddr<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Weak::as_ptr(&self.cell).hash(state);
    }
}

impl<A: Actor> fmt::Debug for WeakAddr<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakAddr")
            .field("actor", &std::any::type_name::<A>())
            .field("connected", &self.connected())
            .finish()
    }
}

/// The operations behind every address of a `M` handler, object-safe so a
/// [`Recipient`] can erase the actor type.
pub(crate) trait MessageSender<M: Message>: Send + Sync + 'static {
    fn try_reserve(&self) -> Reserve;
    fn poll_reserve(&self, cx: &mut Context<'_>, slot: &mut WaitSlot) -> Poll<Result<(), ()>>;
    fn cancel_wait(&self, slot: &mut WaitSlot);
    /// Pushes into a reserved place.
    fn push(&self, msg: M, reply: Option<ReplySender<M::Result>>);
    fn do_send(&self, msg: M);
    fn add_sender(&self);
    fn remove_sender(&self);
    fn try_add_sender(&self) -> bool;
    fn is_closed(&self) -> bool;
    fn request_stop(&self);
    fn id(&self) -> ActorId;

    fn try_send(&self, msg: M) -> Result<(), SendError<M>> {
        match self.try_reserve() {
            Reserve::Reserved => {
                self.push(msg, None);
                Ok(())
            }
            Reserve::Full => Err(SendError::Full(msg)),
            Reserve::Closed => Err(SendError::Closed(msg)),
        }
    }
}

impl<A, M> MessageSender<M> for ActorCell<A>
where
    A: Handler<M>,
    M: Message,
{
    fn try_reserve(&self) -> Reserve {
        self.mailbox.try_reserve(false)
    }

    fn poll_reserve(&self, cx: &mut Context<'_>, slot: &mut WaitSlot) -> Poll<Result<(), ()>> {
        self.mailbox.poll_reserve(cx, slot)
    }

    fn cancel_wait(&self, slot: &mut WaitSlot) {
        self.mailbox.cancel_wait(slot);
    }

    fn push(&self, msg: M, reply: Option<ReplySender<M::Result>>) {
        self.mailbox.push(Envelope::message(msg, reply));
    }

    fn do_send(&self, msg: M) {
        if self.mailbox.force_reserve() == Reserve::Reserved {
            self.push(msg, None);
        }
    }

    fn add_sender(&self) {
        self.mailbox.add_sender();
    }

    fn remove_sender(&self) {
        self.mailbox.remove_sender();
    }

    fn try_add_sender(&self) -> bool {
        self.mailbox.try_add_sender()
    }

    fn is_closed(&self) -> bool {
        self.mailbox.is_closed()
    }

    fn request_stop(&self) {
        self.mailbox.request_stop();
    }

    fn id(&self) -> ActorId {
        self.id
    }
}

/// Leaves the wait list when a waiting send is dropped or done.
struct WaitGuard<'a, M: Message, S: MessageSender<M> + ?Sized> {
    sender: &'a S,
    slot: WaitSlot,
    _msg: std::marker::PhantomData<fn(M)>,
}

impl<M: Message, S: MessageSender<M> + ?Sized> Drop for WaitGuard<'_, M, S> {
    fn drop(&mut self) {
        self.sender.cancel_wait(&mut self.slot);
    }
}

/// `tell` for any sender: wait for a place, then push.
pub(crate) async fn tell<M, S>(sender: &S, msg: M) -> Result<(), SendError<M>>
where
    M: Message,
    S: MessageSender<M> + ?Sized,
{
    match sender.try_reserve() {
        Reserve::Reserved => {
            sender.push(msg, None);
            return Ok(());
        }
        Reserve::Closed => return Err(SendError::Closed(msg)),
        Reserve::Full => {}
    }
    let mut guard = WaitGuard {
        sender,
        slot: WaitSlot::default(),
        _msg: std::marker::PhantomData,
    };
    match poll_fn(|cx| sender.poll_reserve(cx, &mut guard.slot)).await {
        Ok(()) => {
            sender.push(msg, None);
            Ok(())
        }
        Err(()) => Err(SendError::Closed(msg)),
    }
}
