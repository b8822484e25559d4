//! The [`Actor`] trait: lifecycle hooks and the ways to start one.

use std::future::Future;

use crate::address::Addr;
use crate::cell::ActorCell;
use crate::context::Context;
use crate::runner;

/// The default mailbox capacity: how many messages may wait before `send`
/// waits and `try_send` reports `Full`.
pub const DEFAULT_CAPACITY: usize = 64;

/// An actor: state owned by one task, changed only by the messages it handles.
///
/// Every hook has a default, so `impl Actor for MyActor {}` is a complete
/// implementation. Hooks are `async`: write `async fn started(&mut self, ctx:
/// &mut Context<Self>)`.
///
/// # Lifecycle
///
/// `started` runs before the first message. The actor then handles messages
/// one at a time until it is asked to stop ([`Context::stop`],
/// [`Addr::stop`], or every strong address dropped while it has nothing
/// queued and nothing running); `stopping` may refuse by returning
/// [`Running::Continue`]. Then its timers, streams and spawned futures are
/// cancelled, `stopped` runs once, and queued messages are dropped (their
/// requesters get [`MailboxError::Closed`](crate::MailboxError::Closed)).
///
/// A panic in a handler or hook stops the actor at once with
/// [`StopReason::Panicked`](crate::StopReason::Panicked): no further hook
/// runs (the state may be half-updated), only `Drop`.
///
/// ```
/// use kioto_actor::prelude::*;
///
/// struct Greeter;
/// impl Actor for Greeter {}
///
/// struct Greet(&'static str);
/// impl Message for Greet {
///     type Result = String;
/// }
///
/// impl Handler<Greet> for Greeter {
///     async fn handle(&mut self, msg: Greet, _ctx: &mut Context<Self>) -> String {
///         format!("hello, {}", msg.0)
///     }
/// }
///
/// let system = System::new();
/// system.block_on(async {
///     let addr = Greeter.start();
///     assert_eq!(addr.send(Greet("kioto")).await.unwrap(), "hello, kioto");
/// });
/// ```
pub trait Actor: Sized + Send + 'static {
    /// Runs once, before the first message.
    fn started(&mut self, _ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs when the actor is asked to stop; returning [`Running::Continue`]
    /// refuses (not possible for [`Context::terminate`], [`Context::fail`] or
    /// a panic).
    fn stopping(&mut self, _ctx: &mut Context<Self>) -> impl Future<Output = Running> + Send {
        async { Running::Stop }
    }

    /// Runs once, after the actor has stopped handling messages.
    fn stopped(&mut self, _ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Starts the actor as a task on the current runtime and returns its
    /// address.
    ///
    /// # Panics
    ///
    /// Outside a kioto runtime.
    fn start(self) -> Addr<Self> {
        Self::start_with_capacity(self, DEFAULT_CAPACITY)
    }

    /// [`start`](Actor::start) with a mailbox of `capacity` messages.
    fn start_with_capacity(self, capacity: usize) -> Addr<Self> {
        let cell = ActorCell::new(capacity);
        let ctx = Context::new(cell);
        runner::spawn(self, ctx)
    }

    /// Starts the actor after `configure` has set up its context (capacity,
    /// streams, timers), before `started` runs.
    fn start_with<F>(self, configure: F) -> Addr<Self>
    where
        F: FnOnce(&mut Context<Self>),
    {
        let mut ctx = Context::new(ActorCell::new(DEFAULT_CAPACITY));
        configure(&mut ctx);
        runner::spawn(self, ctx)
    }

    /// Builds the actor from its context (so it can keep its own address or
    /// add streams first), then starts it.
    ///
    /// ```
    /// use kioto_actor::prelude::*;
    ///
    /// struct Me {
    ///     me: WeakAddr<Me>,
    /// }
    /// impl Actor for Me {}
    ///
    /// struct WhoAmI;
    /// impl Message for WhoAmI {
    ///     type Result = Option<Addr<Me>>;
    /// }
    /// impl Handler<WhoAmI> for Me {
    ///     async fn handle(&mut self, _: WhoAmI, _: &mut Context<Self>) -> Option<Addr<Me>> {
    ///         self.me.upgrade()
    ///     }
    /// }
    ///
    /// System::new().block_on(async {
    ///     let addr = Me::create(|ctx| Me { me: ctx.address().downgrade() });
    ///     assert_eq!(addr.send(WhoAmI).await.unwrap(), Some(addr.clone()));
    /// });
    /// ```
    fn create<F>(f: F) -> Addr<Self>
    where
        F: FnOnce(&mut Context<Self>) -> Self,
    {
        let mut ctx = Context::new(ActorCell::new(DEFAULT_CAPACITY));
        let act = f(&mut ctx);
        runner::spawn(act, ctx)
    }
}

/// The answer of [`Actor::stopping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Running {
    /// Go on stopping.
    Stop,
    /// Refuse: keep handling messages.
    Continue,
}

/// Where an actor is in its life, from [`Context::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorState {
    /// Created; `started` has not finished.
    Started,
    /// Handling messages.
    Running,
    /// Asked to stop; `stopping` is running.
    Stopping,
    /// Stopped; `stopped` is running or has run.
    Stopped,
}
