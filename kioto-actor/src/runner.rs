//! The actor loop: one task per actor, handling one envelope at a time.
//!
//! # Shape
//!
//! [`run_actor`] is an `async fn`; its state machine is the actor task's
//! state. It runs `started`, then loops: take the next envelope (or stop
//! request, or the news that nobody can reach the actor any more), build its
//! handler future in the per-actor [`FutureSlot`] and poll it once there
//! ([`FutureSlot::start`]: most handlers finish then, at the cost of one
//! typed call), await the rest, repeat. So when messages are queued the loop
//! handles a whole batch within one poll of the task; the
//! mailbox future spends one unit of the runtime's cooperative budget per
//! message, so a flooded actor still yields after a budget's worth and never
//! starves the other tasks of its worker.
//!
//! # Panics
//!
//! Every poll of a handler or hook future (and its construction and drop)
//! runs under `catch_unwind`. A panic ends the loop with
//! [`StopReason::Panicked`]: the handler future is dropped (its requester
//! gets `Closed`), no further hook runs, the actor is dropped.
//!
//! # Stopping
//!
//! [`run_actor`] returns the reason but leaves the mailbox open: see the
//! [`cell`](crate::cell) module docs for why (supervised restarts). [`spawn`]
//! is the unsupervised case: run once, then [`ActorCell::finish`].

use std::future::{poll_fn, Future};
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use tracing::Instrument;

use crate::actor::{Actor, ActorState, Running};
use crate::address::Addr;
use crate::cell::ActorCell;
use crate::context::{Context, StopCmd};
use crate::coop;
use crate::envelope::RunWith;
use crate::mailbox::Recv;
use crate::panic::{catch, CatchUnwind};
use crate::slot::{FutureSlot, SlotFuture};
use crate::system::System;
use crate::watch::StopReason;

/// Starts `act` as a task on the current runtime, unsupervised: when it
/// stops, the cell is finished (mailbox closed, watchers told).
pub(crate) fn spawn<A: Actor>(act: A, ctx: Context<A>) -> Addr<A> {
    let cell = ctx.cell.clone();
    let addr = Addr::from_cell(cell.clone());
    let system = ctx.system.clone();
    let span = tracing::trace_span!("actor", actor = std::any::type_name::<A>(), id = %cell.id);
    let task = Unsupervised {
        cell: Some(cell),
        run: run_actor(act, ctx),
    };
    kioto_rt::spawn(System::scope(system, task.instrument(span)));
    addr
}

/// The task of an unsupervised actor: runs the instance, then finishes the
/// cell with its reason; if dropped first (task cancelled, runtime shut
/// down), finishes it with `Killed`.
///
/// A hand-written future rather than an `async` block so the instance's state
/// machine is stored once, in place (an `async` block would keep both its
/// captured copy and the awaited one).
struct Unsupervised<A: Actor, F> {
    /// `Some` until the cell is finished.
    cell: Option<Arc<ActorCell<A>>>,
    run: F,
}

impl<A: Actor, F: Future<Output = StopReason>> Future for Unsupervised<A, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        // SAFETY: `run` is structurally pinned: it is never moved out of
        // `self` (not by `Drop` either, which only touches `cell`); `cell`
        // is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let run = unsafe { Pin::new_unchecked(&mut this.run) };
        let reason = ready!(run.poll(cx));
        if let Some(cell) = this.cell.take() {
            cell.finish(reason);
        }
        Poll::Ready(())
    }
}

impl<A: Actor, F> Drop for Unsupervised<A, F> {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            cell.finish(StopReason::Killed);
            cell.mailbox.forget_receiver();
        }
    }
}

/// Runs one instance of an actor on its cell until it stops; returns why.
/// Does not close the mailbox (see the module docs).
// Deliberately not `async fn` (see the comment inside).
#[allow(clippy::manual_async_fn)]
pub(crate) fn run_actor<A: Actor>(
    act: A,
    mut ctx: Context<A>,
) -> impl Future<Output = StopReason> + Send {
    let mut act = Instance(ManuallyDrop::new(act));
    // Not an `async fn`: its arguments would be stored twice in the state
    // machine (once as arguments, once as locals); the block below uses the
    // captured values in place. Idle actors are mostly this state.
    async move {
        let cell = ctx.cell.clone();
        let mut slot = FutureSlot::new();

        ctx.state = ActorState::Started;
        let (a, c, s) = (&mut act, &mut ctx, &mut slot);
        let started = with_cx(move |cx| catch(move || s.start(a.started(c), cx))).await;
        if let Err(panic) = drive(started, &cell).await {
            return panicked::<A>(panic);
        }
        if ctx.state == ActorState::Started {
            ctx.state = ActorState::Running;
        }
        if let Some(on_started) = ctx.on_started.take() {
            on_started();
        }

        // Set when `stopping` refused to stop an actor nobody can reach: do not
        // report idleness again (it would spin) until a message arrives.
        let mut idle_refused = false;
        let reason = loop {
            if let Some(cmd) = ctx.stop.take() {
                match cmd {
                    StopCmd::Terminate => break StopReason::Killed,
                    StopCmd::Fail(why) => break StopReason::Failed(why),
                    StopCmd::Stop => {
                        ctx.state = ActorState::Stopping;
                        let mut running = Running::Stop;
                        let (a, c, s, r) = (&mut act, &mut ctx, &mut slot, &mut running);
                        let started = with_cx(move |cx| {
                            catch(move || {
                                let stopping = a.stopping(c);
                                s.start(async move { *r = stopping.await }, cx)
                            })
                        })
                        .await;
                        if let Err(panic) = drive(started, &cell).await {
                            return panicked::<A>(panic);
                        }
                        match running {
                            Running::Stop => match ctx.stop.take() {
                                Some(StopCmd::Terminate) => break StopReason::Killed,
                                Some(StopCmd::Fail(why)) => break StopReason::Failed(why),
                                _ => break StopReason::Normal,
                            },
                            Running::Continue => {
                                // The stop request that led here was
                                // consumed when it was received; one made
                                // during the hook is still pending and runs
                                // `stopping` again.
                                ctx.state = ActorState::Running;
                                continue;
                            }
                        }
                    }
                }
            }

            // A block, so the batch (which borrows the actor) ends before
            // `ctx` is used below.
            let idle = {
                let batch = HandleReady {
                    cell: &cell,
                    with: Some((&mut act, &mut ctx, &mut slot)),
                    idle_refused: &mut idle_refused,
                }
                .await;
                match batch {
                    Batch::StopAsked => continue,
                    Batch::Suspended(fut) => {
                        if let Err(panic) = drive(Ok(Some(fut)), &cell).await {
                            break StopReason::Panicked(panic);
                        }
                        continue;
                    }
                    Batch::Panicked(panic) => break StopReason::Panicked(panic),
                    Batch::StopRequested => false,
                    Batch::Idle => true,
                }
            };
            idle_refused |= idle;
            if ctx.stop.is_none() {
                ctx.stop = Some(StopCmd::Stop);
            }
        };

        if let StopReason::Panicked(panic) = reason {
            return panicked::<A>(panic);
        }
        ctx.abort_items();
        ctx.state = ActorState::Stopped;
        let (a, c, s) = (&mut act, &mut ctx, &mut slot);
        let started = with_cx(move |cx| catch(move || s.start(a.stopped(c), cx))).await;
        if let Err(panic) = drive(started, &cell).await {
            return panicked::<A>(panic);
        }
        if let Err(panic) = act.drop_caught() {
            return panicked::<A>(panic);
        }
        reason
    }
}

/// The actor instance as `run_actor` owns it: dropped under `catch_unwind`
/// wherever the loop ends. On the normal path `drop_caught` reports a
/// panicking `Drop` as the stop reason; on every other path (an earlier
/// panic, the task aborted or shut down) the drop is caught here and
/// logged, so it can never unwind past the exit report a supervisor is
/// waiting for.
struct Instance<A>(ManuallyDrop<A>);

impl<A> Instance<A> {
    fn drop_caught(mut self) -> Result<(), String> {
        // SAFETY: the value is taken once: `self` is forgotten right after,
        // so `Drop` does not take it again.
        let act = unsafe { ManuallyDrop::take(&mut self.0) };
        std::mem::forget(self);
        catch(move || drop(act))
    }
}

impl<A> Drop for Instance<A> {
    fn drop(&mut self) {
        // SAFETY: `drop_caught` forgets `self` after taking the value, so
        // this runs only while the value is still here, and only once.
        let act = unsafe { ManuallyDrop::take(&mut self.0) };
        if let Err(panic) = catch(move || drop(act)) {
            tracing::error!(
                actor = std::any::type_name::<A>(),
                panic = %panic,
                "actor panicked while being dropped"
            );
        }
    }
}

impl<A> std::ops::Deref for Instance<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A> std::ops::DerefMut for Instance<A> {
    fn deref_mut(&mut self) -> &mut A {
        &mut self.0
    }
}

fn panicked<A: Actor>(panic: String) -> StopReason {
    tracing::error!(actor = std::any::type_name::<A>(), panic = %panic, "actor panicked");
    StopReason::Panicked(panic)
}

/// Drives a handler or hook future to completion under `catch_unwind`, its
/// drop included: `started` is what [`FutureSlot::start`] (under `catch`)
/// gave, so the future has been polled once and, if still there, will wake
/// the task. Hooks go through the slot like handlers, so the actor task's own
/// state stays small.
fn drive<'a, 'c, A: Actor>(
    started: Result<Option<SlotFuture<'a>>, String>,
    cell: &'c ActorCell<A>,
) -> Drive<'a, 'c, A> {
    let (fut, panic) = match started {
        Ok(fut) => (fut.map(CatchUnwind), None),
        Err(panic) => (None, Some(panic)),
    };
    Drive {
        fut,
        cell,
        resumed: false,
        panic,
    }
}

/// See [`drive`]. A hand-written future: this state is part of every idle
/// actor's task, and an `async fn` would store its argument and the locals
/// made of it side by side.
struct Drive<'a, 'c, A: Actor> {
    /// `None` once finished (or if it finished on its first poll).
    fut: Option<CatchUnwind<SlotFuture<'a>>>,
    cell: &'c ActorCell<A>,
    /// Polled here at least once (`start` polled it first).
    resumed: bool,
    /// Building or first polling the future panicked.
    panic: Option<String>,
}

impl<A: Actor> Future for Drive<'_, '_, A> {
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), String>> {
        let this = self.get_mut();
        if let Some(panic) = this.panic.take() {
            return Poll::Ready(Err(panic));
        }
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        // The first time, only wait: the poll in `start` registered our
        // waker.
        let res = if std::mem::replace(&mut this.resumed, true) {
            Pin::new(fut).poll(cx)
        } else {
            Poll::Pending
        };
        let Poll::Ready(res) = res else {
            // About to wait: give back the mailbox places taken so far.
            this.cell.mailbox.publish();
            return Poll::Pending;
        };
        let fut = this.fut.take();
        let dropped = catch(move || drop(fut));
        Poll::Ready(res.and(dropped))
    }
}

/// Calls `f` with the task's context on the first poll: synchronous work
/// that needs a `Context` (polling a handler once) from `async` code.
fn with_cx<R>(f: impl FnOnce(&mut TaskContext<'_>) -> R) -> impl Future<Output = R> {
    let mut f = Some(f);
    poll_fn(move |cx| match f.take() {
        Some(f) => Poll::Ready(f(cx)),
        // `run_actor` awaits it once and never polls it again.
        None => Poll::Pending,
    })
}

/// Where [`HandleReady`] stopped.
enum Batch<'a> {
    /// A handler asked the actor to stop (`ctx.stop` is set).
    StopAsked,
    /// A handler did not finish on its first poll: drive it to the end.
    Suspended(SlotFuture<'a>),
    /// A handler panicked.
    Panicked(String),
    /// `Addr::stop` was called.
    StopRequested,
    /// Nobody can reach the actor any more (`Recv::Idle`).
    Idle,
}

/// The actor loop's fast path: takes queued messages and runs their
/// handlers one after another, as long as each finishes on its first poll,
/// within one poll of the task: one unit of coop budget per message (the
/// mailbox is a leaf future), one `catch_unwind` per handler, and no other
/// machinery per message.
struct HandleReady<'a, A: Actor> {
    cell: &'a ActorCell<A>,
    /// `None` once handed out with a suspended handler.
    with: Option<RunWith<'a, A>>,
    /// See `run_actor`; cleared by any message.
    idle_refused: &'a mut bool,
}

impl<'a, A: Actor> Future for HandleReady<'a, A> {
    type Output = Batch<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Batch<'a>> {
        let this = self.get_mut();
        let Some((act, ctx, slot)) = this.with.as_mut() else {
            // `run_actor` awaits it once and never polls it again.
            return Poll::Pending;
        };
        loop {
            let budget = ready!(coop::poll_proceed(cx));
            let found = ready!(this.cell.mailbox.poll_recv(cx, !*this.idle_refused));
            budget.made_progress();
            let env = match found {
                Recv::Value(env) => env,
                Recv::Stop => return Poll::Ready(Batch::StopRequested),
                Recv::Idle => return Poll::Ready(Batch::Idle),
            };
            *this.idle_refused = false;
            let (act_ptr, ctx_ptr, slot_ptr): (*mut A, *mut Context<A>, *mut FutureSlot) =
                (&mut **act, &mut **ctx, &mut **slot);
            // SAFETY: borrows for `'a` of what `with` borrows for `'a`. They
            // are the only ones used while they live: if the handler is
            // suspended, they move out with it and `with` is dropped unused;
            // otherwise they are dead when `run` returns, before `ctx` is
            // used again below. (Returning a reborrow of `with` from this
            // loop is what today's borrow checker cannot express.)
            let with: RunWith<'a, A> = unsafe { (&mut *act_ptr, &mut *ctx_ptr, &mut *slot_ptr) };
            let cx = &mut *cx;
            match catch(move || env.run(with, cx)) {
                Ok(None) if ctx.stop.is_some() => return Poll::Ready(Batch::StopAsked),
                Ok(None) => {}
                Ok(Some(fut)) => {
                    this.with = None;
                    return Poll::Ready(Batch::Suspended(fut));
                }
                Err(panic) => return Poll::Ready(Batch::Panicked(panic)),
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod size_tests {
    //! Idle actors are mostly their cell and their task's state machine:
    //! these bounds keep memory per idle actor from regressing silently.
    use super::*;

    struct Idle;
    impl Actor for Idle {}

    #[test]
    fn idle_actor_layout() {
        let rt = kioto_rt::Runtime::new().unwrap();
        rt.block_on(async {
            let cell = ActorCell::<Idle>::new(64);
            let ctx = Context::new(cell.clone());
            assert!(std::mem::size_of::<ActorCell<Idle>>() <= 256);
            assert!(std::mem::size_of::<Context<Idle>>() <= 160);
            assert!(std::mem::size_of::<Option<System>>() <= 16);
            let fut = run_actor(Idle, ctx);
            assert!(
                std::mem::size_of_val(&fut) <= 400,
                "{}",
                std::mem::size_of_val(&fut)
            );
        });
    }
}
