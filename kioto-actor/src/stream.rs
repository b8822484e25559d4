//! Streams attached to an actor: [`StreamHandler`] and
//! [`Context::add_stream`](crate::Context::add_stream).
//!
//! A stream is polled by its own runtime task, which hands each item to the
//! actor as a guarded internal envelope and waits for it to be handled
//! before polling the next: the actor sees the items in order, one at a time,
//! interleaved with its messages, and a slow actor slows the stream down
//! instead of buffering it.

use std::future::{poll_fn, Future};
use std::pin::pin;

use futures_core::Stream;

use std::task::Context as TaskContext;

use crate::actor::Actor;
use crate::context::Context;
use crate::envelope::{Ask, Envelope, EnvelopeBody, Guarded, RunWith};
use crate::handler::{Handler, Message};
use crate::reply::{self, ReplySender};
use crate::slot::SlotFuture;
use crate::timer::SpawnHandle;

/// How an actor handles the items of a stream added with
/// [`Context::add_stream`].
///
/// ```
/// use kioto_actor::prelude::*;
///
/// struct Sum(u64, Option<kioto_actor::rt::sync::oneshot::Sender<u64>>);
/// impl Actor for Sum {}
///
/// impl StreamHandler<u64> for Sum {
///     async fn handle(&mut self, item: u64, _ctx: &mut Context<Self>) {
///         self.0 += item;
///     }
///     async fn finished(&mut self, ctx: &mut Context<Self>) {
///         let _ = self.1.take().unwrap().send(self.0);
///         ctx.stop();
///     }
/// }
///
/// System::new().block_on(async {
///     let (tx, rx) = kioto_actor::rt::sync::oneshot::channel();
///     let items = futures_util::stream::iter(1..=4u64);
///     let _addr = Sum::create(|ctx| {
///         ctx.add_stream(items);
///         Sum(0, Some(tx))
///     });
///     assert_eq!(rx.await.unwrap(), 10);
/// });
/// ```
pub trait StreamHandler<I: Send + 'static>: Actor {
    /// Handles one item.
    fn handle(&mut self, item: I, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send;

    /// Runs before the first item.
    fn started(&mut self, _ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs after the last item. The default stops the actor, as in actix;
    /// override it to keep running.
    fn finished(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        ctx.stop();
        async {}
    }
}

enum StreamEvent<I> {
    Started,
    Item(I, ReplySender<()>),
    Finished,
}

struct StreamEnvelope<I>(StreamEvent<I>);

impl<A, I> EnvelopeBody<A> for StreamEnvelope<I>
where
    A: StreamHandler<I>,
    I: Send + 'static,
{
    fn run<'a>(
        self,
        (act, ctx, slot): RunWith<'a, A>,
        cx: &mut TaskContext<'_>,
    ) -> Option<SlotFuture<'a>> {
        match self.0 {
            StreamEvent::Started => slot.start(StreamHandler::<I>::started(act, ctx), cx),
            StreamEvent::Item(item, ack) => slot.start(
                async move {
                    StreamHandler::handle(act, item, ctx).await;
                    ack.send(());
                },
                cx,
            ),
            StreamEvent::Finished => slot.start(StreamHandler::<I>::finished(act, ctx), cx),
        }
    }
}

pub(crate) fn add_stream<A, S>(ctx: &mut Context<A>, stream: S) -> SpawnHandle
where
    A: StreamHandler<S::Item>,
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    let started = StreamEnvelope::<S::Item>(StreamEvent::Started);
    let finished = StreamEnvelope::<S::Item>(StreamEvent::Finished);
    feed(
        ctx,
        stream,
        Some(started),
        |item, ack| StreamEnvelope(StreamEvent::Item(item, ack)),
        Some(finished),
    )
}

/// `Context::add_message_stream`: each item is a message for the actor's
/// `Handler`, handled like a `send` whose reply nobody reads; no hooks run,
/// and the actor goes on when the stream ends.
pub(crate) fn add_message_stream<A, S>(ctx: &mut Context<A>, stream: S) -> SpawnHandle
where
    A: Handler<S::Item>,
    S: Stream + Send + 'static,
    S::Item: Message,
{
    feed::<A, S, _, _, Ask<S::Item>>(ctx, stream, None, Ask::new, None)
}

/// Polls `stream` in a task of its own and hands each item to the actor as
/// the envelope `item(value, ack)`, waiting for the ack (or its drop)
/// before polling the next; `started` is queued first and `finished` after
/// the last item, which ends the context item.
fn feed<A, S, R, B, E>(
    ctx: &mut Context<A>,
    stream: S,
    started: Option<E>,
    item: impl Fn(S::Item, ReplySender<R>) -> B + Send + 'static,
    finished: Option<E>,
) -> SpawnHandle
where
    A: Actor,
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    R: Send + 'static,
    B: EnvelopeBody<A>,
    E: EnvelopeBody<A>,
{
    let id = ctx.next_item_id();
    let live = ctx.guard(Some(id), false);
    let last = ctx.guard(Some(id), true);
    if let Some(started) = started {
        let _ = ctx.cell.push_internal(Envelope::new(Guarded {
            guard: live,
            inner: started,
        }));
    }
    let addr = ctx.keep_alive();
    let task = kioto_rt::spawn(async move {
        let mut stream = pin!(stream);
        while let Some(value) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            let (ack, done) = reply::channel();
            let env = Envelope::new(Guarded {
                guard: live,
                inner: item(value, ack),
            });
            if addr.addr().cell().push_internal(env).is_err() || done.await.is_err() {
                return;
            }
        }
        if let Some(finished) = finished {
            let _ = addr.addr().cell().push_internal(Envelope::new(Guarded {
                guard: last,
                inner: finished,
            }));
        }
    });
    ctx.insert_item(id, task.abort_handle());
    SpawnHandle(id)
}
