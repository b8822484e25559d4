//! [`Recipient`]: an address erased to one message type.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use super::request::{self, RecipientRequest};
use super::{Addr, MessageSender, WeakAddr};
use crate::cell::ActorId;
use crate::error::SendError;
use crate::handler::{Handler, Message};

/// A strong address of some actor that handles `M`, whatever its type.
///
/// ```
/// use kioto_actor::prelude::*;
///
/// struct Ping;
/// impl Message for Ping {
///     type Result = &'static str;
/// }
///
/// struct A;
/// impl Actor for A {}
/// impl Handler<Ping> for A {
///     async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> &'static str {
///         "a"
///     }
/// }
///
/// System::new().block_on(async {
///     let r: Recipient<Ping> = A.start().recipient();
///     assert_eq!(r.send(Ping).await, Ok("a"));
/// });
/// ```
pub struct Recipient<M: Message> {
    sender: Arc<dyn MessageSender<M>>,
}

impl<M: Message> Recipient<M> {
    pub(crate) fn new(sender: Arc<dyn MessageSender<M>>) -> Self {
        sender.add_sender();
        Recipient { sender }
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.sender.id()
    }

    /// As [`Addr::send`].
    pub fn send(&self, msg: M) -> RecipientRequest<M> {
        RecipientRequest::new(request::start(&*self.sender, || self.sender.clone(), msg))
    }

    /// As [`Addr::tell`].
    pub async fn tell(&self, msg: M) -> Result<(), SendError<M>> {
        super::tell(&*self.sender, msg).await
    }

    /// As [`Addr::try_send`].
    pub fn try_send(&self, msg: M) -> Result<(), SendError<M>> {
        self.sender.try_send(msg)
    }

    /// As [`Addr::do_send`]: **ignores the mailbox capacity**.
    pub fn do_send(&self, msg: M) {
        self.sender.do_send(msg);
    }

    /// A weak recipient, which does not keep the actor alive.
    pub fn downgrade(&self) -> WeakRecipient<M> {
        WeakRecipient {
            sender: Arc::downgrade(&self.sender),
        }
    }

    /// Whether the actor still accepts messages.
    pub fn connected(&self) -> bool {
        !self.sender.is_closed()
    }

    /// As [`Addr::stop`].
    pub fn stop(&self) {
        self.sender.request_stop();
    }
}

impl<A: Handler<M>, M: Message> From<Addr<A>> for Recipient<M> {
    fn from(addr: Addr<A>) -> Self {
        addr.recipient()
    }
}

impl<M: Message> Clone for Recipient<M> {
    fn clone(&self) -> Self {
        Recipient::new(self.sender.clone())
    }
}

impl<M: Message> Drop for Recipient<M> {
    fn drop(&mut self) {
        self.sender.remove_sender();
    }
}

impl<M: Message> PartialEq for Recipient<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<M: Message> Eq for Recipient<M> {}

impl<M: Message> Hash for Recipient<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<M: Message> fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipient")
            .field("message", &std::any::type_name::<M>())
            .field("id", &self.id())
            .finish()
    }
}

/// A weak [`Recipient`]: does not keep the actor alive.
pub struct WeakRecipient<M: Message> {
    sender: Weak<dyn MessageSender<M>>,
}

impl<M: Message> WeakRecipient<M> {
    pub(crate) fn new(sender: Weak<dyn MessageSender<M>>) -> Self {
        WeakRecipient { sender }
    }

    /// A strong recipient, if the actor still accepts messages.
    pub fn upgrade(&self) -> Option<Recipient<M>> {
        let sender = self.sender.upgrade()?;
        sender.try_add_sender().then_some(Recipient { sender })
    }

    /// Whether the actor still accepts messages.
    pub fn connected(&self) -> bool {
        self.sender.upgrade().is_some_and(|s| !s.is_closed())
    }
}

impl<A: Handler<M>, M: Message> From<WeakAddr<A>> for WeakRecipient<M> {
    fn from(addr: WeakAddr<A>) -> Self {
        addr.recipient()
    }
}

impl<M: Message> From<Recipient<M>> for WeakRecipient<M> {
    fn from(recipient: Recipient<M>) -> Self {
        recipient.downgrade()
    }
}

impl<M: Message> Clone for WeakRecipient<M> {
    fn clone(&self) -> Self {
        WeakRecipient {
            sender: self.sender.clone(),
        }
    }
}

impl<M: Message> fmt::Debug for WeakRecipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakRecipient")
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}
