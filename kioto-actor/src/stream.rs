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
use crate::envelope::{Envelope, EnvelopeBody, Guarded, RunWith};
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
    let id = ctx.next_item_id();
    let live = ctx.guard(Some(id), false);
    let last = ctx.guard(Some(id), true);
    let _ = ctx.cell.push_internal(Envelope::new(Guarded {
        guard: live,
        inner: StreamEnvelope::<S::Item>(StreamEvent::Started),
    }));
    let addr = ctx.address();
    let task = kioto_rt::spawn(async move {
        let mut stream = pin!(stream);
        while let Some(item) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            let (ack, done) = reply::channel();
            let env = Envelope::new(Guarded {
                guard: live,
                inner: StreamEnvelope(StreamEvent::Item(item, ack)),
            });
            if addr.cell().push_internal(env).is_err() || done.await.is_err() {
                return;
            }
        }
        let _ = addr.cell().push_internal(Envelope::new(Guarded {
            guard: last,
            inner: StreamEnvelope::<S::Item>(StreamEvent::Finished),
        }));
    });
    ctx.insert_item(id, task.abort_handle());
    SpawnHandle(id)
}
