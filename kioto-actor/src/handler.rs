//! [`Message`] and [`Handler`]: what an actor accepts and how it answers.

use std::future::Future;

use crate::actor::Actor;
use crate::context::Context;

/// A message: any `Send + 'static` type, with the type of its reply.
///
/// Usually derived: `#[derive(Message)]` with `#[rtype(result = "T")]`
/// (default `()`).
pub trait Message: Send + 'static {
    /// What the handler returns to the sender.
    type Result: Send + 'static;
}

/// An actor's handling of one message type.
///
/// Write it with `async fn`; the handler keeps `&mut self` across its awaits
/// and the actor handles nothing else meanwhile (other actors run).
///
/// ```
/// use kioto_actor::prelude::*;
///
/// struct Counter(u64);
/// impl Actor for Counter {}
///
/// struct Add(u64);
/// impl Message for Add {
///     type Result = u64;
/// }
///
/// impl Handler<Add> for Counter {
///     async fn handle(&mut self, msg: Add, _ctx: &mut Context<Self>) -> u64 {
///         self.0 += msg.0;
///         self.0
///     }
/// }
///
/// System::new().block_on(async {
///     let addr = Counter(0).start();
///     addr.do_send(Add(1));
///     assert_eq!(addr.send(Add(2)).await, Ok(3));
/// });
/// ```
pub trait Handler<M: Message>: Actor {
    /// Handles `msg`; the output is the reply.
    fn handle(&mut self, msg: M, ctx: &mut Context<Self>)
        -> impl Future<Output = M::Result> + Send;
}
