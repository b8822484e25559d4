//! [`Request`]: the future of a reply, returned by `send`.
//!
//! A request is in one of three states: *waiting* for mailbox space (holding
//! the message, a strong sender count so the actor does not stop under it,
//! and a place in the FIFO wait list), *replying* (the envelope is queued;
//! only the reply receiver is left), or *failed* (closed at the call). The
//! common case goes straight to *replying* inside `send`, so an awaited
//! request costs one envelope and one reply slot.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use kioto_rt::time::Sleep;

use super::MessageSender;
use crate::error::MailboxError;
use crate::handler::Message;
use crate::mailbox::{Reserve, WaitSlot};
use crate::panic::drop_contained;
use crate::reply::{self, ReplyReceiver};

pub(crate) enum State<M: Message> {
    Waiting(Waiting<M>),
    Replying(ReplyReceiver<M::Result>),
    Failed(MailboxError),
    Done,
}

pub(crate) struct Waiting<M: Message> {
    sender: Arc<dyn MessageSender<M>>,
    msg: Option<M>,
    slot: WaitSlot,
}

impl<M: Message> Drop for Waiting<M> {
    fn drop(&mut self) {
        self.sender.cancel_wait(&mut self.slot);
        self.sender.remove_sender();
        if let Some(msg) = self.msg.take() {
            // Given up on the requester's side (refused, released by a
            // close, timed out, dropped while waiting): a panicking `Drop`
            // must not unwind out of `send` or `poll`, so the request still
            // resolves.
            drop_contained(msg);
        }
    }
}

/// Starts a request: enqueue now if there is space, else prepare to wait.
/// `sender` is used directly on the fast path (statically dispatched for an
/// `Addr`); `to_arc` makes the owned handle a waiting request keeps.
pub(crate) fn start<M, S>(
    sender: &S,
    to_arc: impl FnOnce() -> Arc<dyn MessageSender<M>>,
    msg: M,
) -> State<M>
where
    M: Message,
    S: MessageSender<M> + ?Sized,
{
    match sender.try_reserve() {
        Reserve::Reserved => {
            let (tx, rx) = reply::channel();
            sender.push(msg, Some(tx));
            State::Replying(rx)
        }
        Reserve::Closed => {
            drop_contained(msg);
            State::Failed(MailboxError::Closed)
        }
        Reserve::Full => wait(to_arc(), msg),
    }
}

fn wait<M: Message>(sender: Arc<dyn MessageSender<M>>, msg: M) -> State<M> {
    sender.add_sender();
    State::Waiting(Waiting {
        sender,
        msg: Some(msg),
        slot: WaitSlot::default(),
    })
}

/// The state machine shared by [`Request`] and [`RecipientRequest`].
pub(crate) struct Core<M: Message> {
    state: State<M>,
    /// Set by `timeout`; boxed because `Sleep` is not `Unpin` and most
    /// requests have no deadline.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<M: Message> Core<M> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<M::Result, MailboxError>> {
        loop {
            match &mut self.state {
                State::Waiting(w) => match w.sender.poll_reserve(cx, &mut w.slot) {
                    Poll::Ready(Ok(())) => {
                        let (tx, rx) = reply::channel();
                        let msg = w.msg.take().expect("request message");
                        w.sender.push(msg, Some(tx));
                        self.state = State::Replying(rx);
                    }
                    Poll::Ready(Err(())) => {
                        self.state = State::Done;
                        return Poll::Ready(Err(MailboxError::Closed));
                    }
                    Poll::Pending => break,
                },
                State::Replying(rx) => match Pin::new(rx).poll(cx) {
                    Poll::Ready(res) => {
                        self.state = State::Done;
                        return Poll::Ready(res.map_err(|()| MailboxError::Closed));
                    }
                    Poll::Pending => break,
                },
                State::Failed(e) => {
                    let e = *e;
                    self.state = State::Done;
                    return Poll::Ready(Err(e));
                }
                State::Done => panic!("request polled after completion"),
            }
        }
        if let Some(deadline) = &mut self.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                // Dropping the state leaves the wait list or abandons the
                // reply slot, so the actor skips the message if it has not
                // started on it.
                self.state = State::Done;
                return Poll::Ready(Err(MailboxError::Timeout));
            }
        }
        Poll::Pending
    }

    fn set_timeout(&mut self, after: Duration) {
        self.deadline = Some(Box::pin(kioto_rt::time::sleep(after)));
    }
}

/// The future of a reply from an [`Addr`](crate::Addr): resolves to the
/// handler's result, `Err(MailboxError::Closed)` if the actor stopped before
/// replying, or `Err(MailboxError::Timeout)` after [`timeout`](Self::timeout).
#[must_use = "the message is sent, but the reply is only received by awaiting the request"]
pub struct Request<A, M: Message> {
    core: Core<M>,
    _actor: PhantomData<fn() -> A>,
}

impl<A, M: Message> Request<A, M> {
    pub(crate) fn new(state: State<M>) -> Self {
        Request {
            core: Core {
                state,
                deadline: None,
            },
            _actor: PhantomData,
        }
    }

    /// Gives up with `MailboxError::Timeout` if no reply came within
    /// `after` (counting from now). A message not yet handled by then is
    /// skipped by the actor.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.core.set_timeout(after);
        self
    }
}

// Nothing in a request is structurally pinned: the message is moved out,
// never polled, and the deadline is boxed.
impl<A, M: Message> Unpin for Request<A, M> {}

impl<A, M: Message> Future for Request<A, M> {
    type Output = Result<M::Result, MailboxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().core.poll(cx)
    }
}

impl<A, M: Message> fmt::Debug for Request<A, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

/// The future of a reply from a [`Recipient`](crate::Recipient); as
/// [`Request`].
#[must_use = "the message is sent, but the reply is only received by awaiting the request"]
pub struct RecipientRequest<M: Message> {
    core: Core<M>,
}

impl<M: Message> RecipientRequest<M> {
    pub(crate) fn new(state: State<M>) -> Self {
        RecipientRequest {
            core: Core {
                state,
                deadline: None,
            },
        }
    }

    /// As [`Request::timeout`].
    pub fn timeout(mut self, after: Duration) -> Self {
        self.core.set_timeout(after);
        self
    }
}

impl<M: Message> Unpin for RecipientRequest<M> {}

impl<M: Message> Future for RecipientRequest<M> {
    type Output = Result<M::Result, MailboxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().core.poll(cx)
    }
}

impl<M: Message> fmt::Debug for RecipientRequest<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipientRequest")
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}
