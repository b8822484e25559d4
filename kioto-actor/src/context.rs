//! [`Context`]: the actor's view of its own runtime state, handed to every
//! handler and hook.
//!
//! The context owns the actor's *items*: timers, streams and spawned futures.
//! Each item is a runtime task that holds a strong address of the actor
//! (so the actor does not stop as unreachable while it has work pending, as in
//! actix) and feeds the actor through its own mailbox with internal
//! envelopes, bypassing capacity. An internal envelope carries an
//! [`ItemGuard`]: it runs only if its item is still alive in the same
//! instance, so a cancelled timer never fires late, and a restarted actor
//! never sees its predecessor's timers. When the actor stops, every item's
//! task is aborted.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kioto_rt::task::AbortHandle;

use crate::actor::{Actor, ActorState};
use crate::address::Addr;
use crate::cell::{ActorCell, ActorId};
use crate::envelope::{Envelope, Guarded, ItemGuard, Tell};
use crate::handler::{Handler, Message};
use crate::stream::{self, StreamHandler};
use crate::system::System;
use crate::timer::{self, SpawnHandle};
use crate::watch::{StopReason, Terminated};

/// How the actor was asked to stop from inside.
#[derive(Debug)]
pub(crate) enum StopCmd {
    /// `stop()`: ask `stopping`, may be refused.
    Stop,
    /// `terminate()`: no asking.
    Terminate,
    /// `fail(reason)`: no asking; a failure for supervision.
    Fail(String),
}

/// The execution context of an actor; see the module docs.
pub struct Context<A: Actor> {
    pub(crate) cell: Arc<ActorCell<A>>,
    pub(crate) state: ActorState,
    pub(crate) stop: Option<StopCmd>,
    /// Which instance on this cell this context belongs to.
    pub(crate) generation: u64,
    /// Live items by id, to cancel them one by one or all at stop. A `Vec`:
    /// actors have few items, and an empty `Vec` is smaller than a map.
    items: Vec<Item>,
    next_item: u64,
    /// Finished spawned futures are pruned from `items` when it grows past
    /// this, keeping the map proportional to live items.
    prune_at: usize,
    /// The system the actor was started in, made current while it runs.
    pub(crate) system: Option<System>,
    /// Called once `started` has returned: a supervisor starts its children
    /// one after another (see `supervisor::child`).
    pub(crate) on_started: Option<Box<dyn FnOnce() + Send>>,
}

impl<A: Actor> Context<A> {
    /// A fresh context (a new instance) on `cell`.
    pub(crate) fn new(cell: Arc<ActorCell<A>>) -> Self {
        let generation = cell.next_generation();
        Context {
            cell,
            state: ActorState::Started,
            stop: None,
            generation,
            items: Vec::new(),
            next_item: 0,
            prune_at: 16,
            system: System::try_current(),
            on_started: None,
        }
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// A (strong) address of this actor. An actor that keeps its own strong
    /// address never stops for lack of addresses; keep a
    /// [`WeakAddr`](crate::WeakAddr) instead.
    pub fn address(&self) -> Addr<A> {
        Addr::from_cell(self.cell.clone())
    }

    /// Where the actor is in its life.
    pub fn state(&self) -> ActorState {
        self.state
    }

    /// Asks the actor to stop after the current handler; `stopping` may
    /// refuse.
    pub fn stop(&mut self) {
        if self.stop.is_none() && self.state != ActorState::Stopped {
            self.stop = Some(StopCmd::Stop);
        }
    }

    /// Stops the actor after the current handler without asking `stopping`
    /// ([`StopReason::Killed`]).
    pub fn terminate(&mut self) {
        self.stop = Some(StopCmd::Terminate);
    }

    /// Stops the actor after the current handler with a failure
    /// ([`StopReason::Failed`]), which a supervisor treats like a crash.
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.stop = Some(StopCmd::Fail(reason.into()));
    }

    /// Sends `msg` to this actor itself, bypassing the mailbox capacity. It is
    /// handled after the messages already queued.
    pub fn notify<M>(&mut self, msg: M)
    where
        A: Handler<M>,
        M: Message,
    {
        let guard = self.guard(None, false);
        let _ = self.cell.push_internal(Envelope::new(Guarded {
            guard,
            inner: Tell(msg),
        }));
    }

    /// Sends `msg` to this actor itself after `delay`, unless cancelled (or the
    /// actor has stopped) by then.
    pub fn notify_later<M>(&mut self, msg: M, delay: Duration) -> SpawnHandle
    where
        A: Handler<M>,
        M: Message,
    {
        timer::notify_later(self, msg, delay)
    }

    /// Runs `f` on the actor after `delay`, unless cancelled first.
    pub fn run_later<F>(&mut self, delay: Duration, f: F) -> SpawnHandle
    where
        F: FnOnce(&mut A, &mut Context<A>) + Send + 'static,
    {
        timer::run_later(self, delay, f)
    }

    /// Runs `f` on the actor every `period` (first after one period) until
    /// cancelled or the actor stops. Ticks that come while the previous one
    /// is still queued are skipped, so a busy actor does not pile them up.
    pub fn run_interval<F>(&mut self, period: Duration, f: F) -> SpawnHandle
    where
        F: FnMut(&mut A, &mut Context<A>) + Send + 'static,
    {
        let first = kioto_rt::time::Instant::now() + period;
        timer::run_interval(self, first, period, f)
    }

    /// [`run_interval`](Self::run_interval) with the first tick at `start`
    /// (at once if it has passed), then every `period` after it.
    pub fn run_interval_at<F>(
        &mut self,
        start: kioto_rt::time::Instant,
        period: Duration,
        f: F,
    ) -> SpawnHandle
    where
        F: FnMut(&mut A, &mut Context<A>) + Send + 'static,
    {
        timer::run_interval(self, start, period, f)
    }

    /// Cancels a timer, stream or spawned future. Returns whether it was
    /// still alive: false for a timer that has fired and run, a stream that
    /// has ended, or a spawned future that has finished.
    pub fn cancel(&mut self, handle: SpawnHandle) -> bool {
        match self.take_item(handle.0) {
            Some(item) => {
                // A timer or stream item lives until its last envelope has
                // run (which removes it); a spawned future is its task.
                let alive = !(item.ends_with_task && item.task.is_finished());
                item.task.abort();
                alive
            }
            None => false,
        }
    }

    /// Feeds the items of `stream` to the actor's [`StreamHandler`], one at a
    /// time (the next item is polled once the previous one is handled).
    /// `StreamHandler::started` runs first and `finished` after the last.
    pub fn add_stream<S>(&mut self, stream: S) -> SpawnHandle
    where
        S: futures_core::Stream + Send + 'static,
        S::Item: Send + 'static,
        A: StreamHandler<S::Item>,
    {
        stream::add_stream(self, stream)
    }

    /// Feeds the items of `stream` to the actor as messages, to its
    /// [`Handler`] for the item type, one at a time (the next item is
    /// polled once the previous one is handled); the handlers' results are
    /// dropped. Unlike [`add_stream`](Self::add_stream), no hook runs and
    /// the actor goes on when the stream ends (actix's
    /// `add_message_stream`).
    pub fn add_message_stream<S>(&mut self, stream: S) -> SpawnHandle
    where
        S: futures_core::Stream + Send + 'static,
        S::Item: Message,
        A: Handler<S::Item>,
    {
        stream::add_message_stream(self, stream)
    }

    /// Runs `fut` as a task tied to the actor: it is cancelled when the actor
    /// stops, and the actor does not stop as unreachable while it runs.
    pub fn spawn<F>(&mut self, fut: F) -> SpawnHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let keep_alive = self.keep_alive();
        let task = kioto_rt::spawn(async move {
            let _keep_alive = keep_alive;
            fut.await;
        });
        let id = self.next_item_id();
        self.push_item(Item {
            id,
            task: task.abort_handle(),
            ends_with_task: true,
        });
        SpawnHandle(id)
    }

    /// Delivers [`Terminated`] to this actor when the actor behind `addr`
    /// stops (at once if it already has).
    pub fn watch<B: Actor>(&mut self, addr: &Addr<B>)
    where
        A: Handler<Terminated>,
    {
        let me = Arc::downgrade(&self.cell);
        let guard = self.guard(None, false);
        addr.cell()
            .on_stop(Box::new(move |id, reason: &StopReason| {
                if let Some(me) = me.upgrade() {
                    let msg = Terminated {
                        id,
                        reason: reason.clone(),
                    };
                    let _ = me.push_internal(Envelope::new(Guarded {
                        guard,
                        inner: Tell(msg),
                    }));
                }
            }));
    }

    /// Changes the mailbox capacity (waiting senders are let in at once if
    /// it grows).
    pub fn set_mailbox_capacity(&mut self, capacity: usize) {
        self.cell.mailbox.set_capacity(capacity);
    }

    /// The mailbox capacity.
    pub fn mailbox_capacity(&self) -> usize {
        self.cell.mailbox.capacity()
    }

    /// Whether anyone but the actor itself can still reach it: an `Addr` or
    /// `Recipient` other than those its own timers, streams and spawned
    /// futures hold (as actix's `connected`). Those keep the actor alive on
    /// their own, so an actor with a [`run_interval`](Self::run_interval)
    /// runs on after its last address is gone; it checks this to stop
    /// itself. A supervised child counts its supervisor's address.
    pub fn connected(&self) -> bool {
        self.cell.mailbox.foreign_senders() > 0
    }

    /// A strong address for one of the actor's own timers, streams or
    /// spawned futures; see [`KeepAlive`].
    pub(crate) fn keep_alive(&self) -> KeepAlive<A> {
        KeepAlive::new(self.address())
    }

    pub(crate) fn next_item_id(&mut self) -> u64 {
        self.next_item += 1;
        self.next_item
    }

    pub(crate) fn guard(&self, item: Option<u64>, last: bool) -> ItemGuard {
        ItemGuard {
            generation: self.generation,
            item,
            last,
        }
    }

    /// Registers the task of a timer or stream item under `id`: it stays
    /// registered until its last envelope runs (or it is cancelled), even
    /// after its task has finished.
    pub(crate) fn insert_item(&mut self, id: u64, task: AbortHandle) {
        self.push_item(Item {
            id,
            task,
            ends_with_task: false,
        });
    }

    fn push_item(&mut self, item: Item) {
        if self.items.len() >= self.prune_at {
            // Only spawned futures end with their task; a timer whose task
            // has finished may still have its envelope queued.
            self.items
                .retain(|i| !(i.ends_with_task && i.task.is_finished()));
            self.prune_at = (self.items.len() * 2).max(16);
        }
        self.items.push(item);
    }

    fn take_item(&mut self, id: u64) -> Option<Item> {
        let i = self.items.iter().position(|item| item.id == id)?;
        Some(self.items.swap_remove(i))
    }

    /// Whether an internal envelope with `guard` may run now.
    pub(crate) fn check_item(&mut self, guard: ItemGuard) -> bool {
        if guard.generation != self.generation || self.state == ActorState::Stopped {
            return false;
        }
        match guard.item {
            None => true,
            Some(id) if guard.last => self.take_item(id).is_some(),
            Some(id) => self.items.iter().any(|item| item.id == id),
        }
    }

    /// Aborts every item (the actor is stopping).
    pub(crate) fn abort_items(&mut self) {
        for item in self.items.drain(..) {
            item.task.abort();
        }
    }
}

/// A strong address held by one of the actor's own timers, streams or
/// spawned futures: it keeps the actor reachable (the timer must be able to
/// deliver), but [`Context::connected`] does not count it.
pub(crate) struct KeepAlive<A: Actor>(Addr<A>);

impl<A: Actor> KeepAlive<A> {
    fn new(addr: Addr<A>) -> Self {
        addr.cell().mailbox.mark_own_sender();
        KeepAlive(addr)
    }

    pub(crate) fn addr(&self) -> &Addr<A> {
        &self.0
    }
}

impl<A: Actor> Drop for KeepAlive<A> {
    fn drop(&mut self) {
        // Unmarked before the address goes (see `mark_own_sender`).
        self.0.cell().mailbox.unmark_own_sender();
    }
}

/// A timer, stream or spawned future of the actor, by [`SpawnHandle`] id.
struct Item {
    id: u64,
    task: AbortHandle,
    /// A spawned future: alive exactly while its task runs. Timers and
    /// streams end when their last envelope has run instead.
    ends_with_task: bool,
}

impl<A: Actor> Drop for Context<A> {
    fn drop(&mut self) {
        self.abort_items();
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("actor", &std::any::type_name::<A>())
            .field("id", &self.cell.id)
            .field("state", &self.state)
            .field("items", &self.items.len())
            .finish()
    }
}
