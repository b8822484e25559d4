//! The fault matrix: every way an actor can end × every state a message can
//! be in when it does, plus a panic in every user callback, through the
//! public API only; the ends that are not about a supervisor run both alone
//! and under one, and the ends that kill the actor mid-handler run once
//! more with every drop panicking. One `#[test]` per row (so failures are
//! localised and rows run in parallel); each runs its six cells, each cell
//! on a fresh 2-worker system.
//!
//! # What every cell checks
//!
//! - every request resolves as the rules below say (`Ok` or
//!   `MailboxError::Closed`; never a hang: every wait is bounded by
//!   `within`), and the requester's task never panics;
//! - every message is dropped exactly once, handled or not: each carries a
//!   token, and tokens made == tokens dropped (checked again after a pause,
//!   so a double drop shows as well as a leak); so are the actor instances,
//!   stream items and timer closures, which carry tokens too;
//! - the watcher gets exactly one `Terminated`, with the expected reason,
//!   and so does one that starts watching after the end;
//! - a supervisor reports exactly one exit (`Failed`, `Exited` or `Stopped`)
//!   per instance its factory built;
//! - the runtime's alive-task count returns to its baseline (after a
//!   runtime drop: the dead runtime counts none);
//! - no panic other than the injected ones happens on a runtime thread
//!   (where a task's panic could go unnoticed), and the process never
//!   aborts (a panic during a panic would).
//!
//! # The cell
//!
//! One actor type, [`Subject`], configured by the cell. The actor blocks at
//! a *blocking point* — its first handler (`Hold`, a tell or an ask), or
//! `started` for the `StartedPanic` row — which first sets up the column's
//! streams and timers, then awaits a gate the test holds. Meanwhile the
//! test lines up the column's messages, then triggers the row's end
//! (usually by opening the gate, after which the blocking point stops,
//! terminates or panics as the row says).
//!
//! Columns (what is pending when the actor ends):
//!
//! - `QueuedTell`: 3 `try_send`s queued behind the blocking handler.
//! - `QueuedAsk`: 3 `send`s queued.
//! - `AskBeingHandled`: the blocking handler is itself a `send`.
//! - `SenderWaitingOnFull`: capacity 1 (2 beside the `Started` envelope of
//!   the panicking stream of `StreamPollPanic`: internal envelopes take
//!   places too), one `try_send` fills it, and a `send` and a `tell` wait
//!   for space (polled once, so they are in the wait list).
//! - `StreamItems`: a 3-item stream added at the blocking point; its first
//!   item is queued, the others are still in the stream.
//! - `TimersPending`: `notify_later`, `run_later` and `run_interval` of one
//!   hour, set at the blocking point, and a `notify` (queued at once; like
//!   the timers, an internal envelope of that instance: skipped by a
//!   restarted one).
//!
//! # The rules
//!
//! Each row alone (the ones about a supervisor: under it):
//!
//! ```text
//!  row (how it ends)          ask being handled  queued, waiting   Terminated          handled
//!  -------------------------  -----------------  ----------------  ------------------  --------
//!  Stop (ctx.stop)            Ok                 Closed            Normal              none
//!  AddrStop (Addr::stop)      Ok                 Closed            Normal              none
//!  Terminate                  Ok                 Closed            Killed              none
//!  AddrsDropped               Ok                 Ok                Normal              all (1)
//!  HandlerPanic               Closed             Closed            Panicked            none
//!  StartedPanic               - (2)              Closed            Panicked            none
//!  StoppingPanic              Ok                 Closed            Panicked            none
//!  StoppedPanic               Ok                 Closed            Panicked            none
//!  SupervisorRestart (3)      Closed             Ok                Normal (tree stop)  all sent
//!  StopDuringBackoff (3b)     Closed             Closed            Panicked            none
//!  GiveUp (3c)                Closed             Closed            Panicked            none
//!  ShutdownBrutal (4)         Closed             Closed            Killed              none
//!  ShutdownTimeout (4)        Closed             Closed            Killed              none
//!  ShutdownInfinity (5)       Ok                 Ok or Closed      Normal              unchecked
//!  RuntimeDrop (6)            Closed             Closed            Killed              none
//!  RuntimeDropSupervised (6)  Closed             Closed            Killed              none
//!  ActorDropPanic (7)         Ok                 Closed            Panicked            none
//!  MessageDropPanic (8)       Closed             Closed            Normal (8)          none
//!  ReplyDropPanic (9)         - (abandoned)      Closed            Panicked            none
//!  ReplyDropPanicAwaited (9)  Ok, then its drop  Closed            Normal              none
//!                             panics (caught)
//!  StreamPollPanic (10)       Ok                 Closed            Normal              none
//! ```
//!
//! Supervised (the `_supervised` tests; the rows from `SupervisorRestart`
//! to `RuntimeDropSupervised` are about the supervisor and always are): the
//! subject is a `Transient` child of a one-for-one supervisor, and only its
//! first instance has the row's fault. The ask being handled resolves as alone. After a failure
//! (a panic, `terminate`) the child is restarted, as in (3): queued and
//! waiting messages are handled by the next instance (asks `Ok`), then the
//! tree is stopped; exits `[Failed(reason), Stopped(Normal)]`, `Terminated`
//! `Normal`. After a normal exit (`Stop`, `AddrStop`, and the rows that end
//! with `ctx.stop`) the child is not restarted: queued `Closed`, exits
//! `[Exited(Normal)]`, `Terminated` `Normal`.
//!
//! Panicking drops (the `_panicking_drops` tests of `ShutdownBrutal`,
//! `ShutdownTimeout`, `RuntimeDrop` and `RuntimeDropSupervised`): the
//! message being handled, every queued and waiting message, two stream
//! items, the timer message and the actor itself panic when dropped, and
//! all of it is dropped on a kill or cancel path. The outcomes are those of
//! the clean row. (At most one panicking item sits in the stream's own
//! buffer: a collection whose second element panics while the first one's
//! panic unwinds aborts any program.)
//!
//! 1. Nobody can reach the actor, but it handles what is queued first: every
//!    queued and waiting message (the `notify` too), and the stream to its
//!    end (a stream or a timer keeps its actor alive, as in actix). The
//!    timers would keep it alive for an hour, so in that cell the blocking
//!    handler cancels them.
//! 2. No handler runs before `started`: the column's ask is queued, and
//!    resolves `Closed`.
//! 3. `HandlerPanic`, supervised: the blocking handler panics; the
//!    restarted instance keeps the address and the queue, so queued and
//!    waiting messages are handled by it (asks resolve `Ok`); the stream and
//!    timers of the crashed instance are gone (their queued envelopes are
//!    skipped and dropped). The tree is stopped once they are handled.
//!    3b. The same with a one-hour restart backoff: the tree is stopped
//!    while it waits, so no next instance is built; the mailbox closes
//!    with the last instance's reason. Exits `[Failed]`.
//!    3c. The same with an intensity of 0 restarts: the supervisor gives
//!    up and the root fails. Exits `[Failed]`.
//! 4. The tree is stopped while the handler is blocked, and the gate never
//!    opens: killed at once, or after a 50 ms shutdown timeout.
//! 5. The tree is stopped while the handler is blocked, and the gate opens
//!    50 ms later: the handler finishes, then the stop is seen, normally
//!    before the queued messages (the race either way is allowed).
//! 6. The system is dropped while the handler is blocked. Requests are held
//!    outside it (polled once inside) and resolved afterwards from a second
//!    system, which also hosts the watcher.
//! 7. The actor's `Drop` panics after a clean stop: the stop reason is that
//!    panic.
//! 8. A message whose `Drop` panics is in the column's state: one of the
//!    queued tells or asks, the waiting `send`, two of the stream's items,
//!    the `notify_later` and `notify` messages. The actor stops (`ctx.stop`); each
//!    panicking drop is contained. In the `AskBeingHandled` column it is
//!    the message being handled, dropped at the end of its own handler: a
//!    handler panic (`Closed`, `Panicked`).
//! 9. The blocking handler is an ask whose reply value panics when dropped:
//!    abandoned by its requester (so the actor side drops the reply, inside
//!    the handler: a handler panic), or awaited (the requester gets `Ok`, and
//!    dropping the value panics in the requester's own code).
//! 10. A stream whose `poll_next` panics at once is added at the blocking
//!     point: its task dies (its items are dropped), the actor goes on, and
//!     then stops (`ctx.stop`).

mod support;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::FutureExt as _;
use kioto_actor::address::Request;
use kioto_actor::prelude::*;
use kioto_actor::supervisor::{EventKind, SupervisorEvent};
use kioto_rt::sync::mpsc::UnboundedReceiver;
use kioto_rt::sync::oneshot;
use parking_lot::Mutex;
use support::{quiet_injected_panics, system, unexpected_panics, watch, within};

/// How the actor ends (the rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Stop,
    AddrStop,
    Terminate,
    AddrsDropped,
    HandlerPanic,
    StartedPanic,
    StoppingPanic,
    StoppedPanic,
    SupervisorRestart,
    /// The tree is stopped while the restart waits out its backoff.
    StopDuringBackoff,
    /// The supervisor allows no restart: it gives up, the root fails.
    GiveUp,
    ShutdownBrutal,
    ShutdownTimeout,
    ShutdownInfinity,
    RuntimeDrop,
    RuntimeDropSupervised,
    ActorDropPanic,
    MessageDropPanic,
    ReplyDropPanic,
    ReplyDropPanicAwaited,
    StreamPollPanic,
}

/// What is pending when it does (the columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// `TimersPending` reads as the column's name.
#[allow(clippy::enum_variant_names)]
enum Pending {
    QueuedTell,
    QueuedAsk,
    AskBeingHandled,
    SenderWaitingOnFull,
    StreamItems,
    TimersPending,
}

impl Pending {
    const ALL: [Pending; 6] = [
        Pending::QueuedTell,
        Pending::QueuedAsk,
        Pending::AskBeingHandled,
        Pending::SenderWaitingOnFull,
        Pending::StreamItems,
        Pending::TimersPending,
    ];
}

/// Whether the subject runs alone or as the (transient) child of a
/// one-for-one supervisor. Rows about the supervisor itself are always
/// supervised; `AddrsDropped` and `RuntimeDrop` only alone (a supervisor
/// keeps an address of its child; `RuntimeDropSupervised` is the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Alone,
    Supervised,
}

/// Whether every message, item, timer message and the actor itself panic
/// when dropped (for the rows that kill the actor mid-handler: every drop
/// then happens on a cancel path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drops {
    Clean,
    Panicking,
}

/// Cells skipped because they fail for a reason not fixed yet: `(row,
/// mode, drops, column, why)`.
const KNOWN: &[(End, Mode, Drops, Pending, &str)] = &[];

// ---------------------------------------------------------------------------
// Counting

/// What a cell counts.
#[derive(Default)]
struct Ledger {
    /// Tokens made: one per message, stream item, timer closure and actor
    /// instance.
    made: AtomicUsize,
    dropped: AtomicUsize,
    /// `Work` messages and stream items handled.
    handled: AtomicUsize,
    /// Actor instances built.
    built: AtomicUsize,
    /// Polls of the column's stream.
    polled: AtomicUsize,
}

impl Ledger {
    fn token(self: &Arc<Self>) -> Token {
        self.made.fetch_add(1, SeqCst);
        Token(self.clone())
    }
    fn made(&self) -> usize {
        self.made.load(SeqCst)
    }
    fn dropped(&self) -> usize {
        self.dropped.load(SeqCst)
    }
    fn handled(&self) -> usize {
        self.handled.load(SeqCst)
    }
}

/// Counts its drop in its ledger.
struct Token(Arc<Ledger>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

/// Part of a message whose `Drop` panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("injected: message drop");
    }
}

fn bomb(armed: bool) -> Option<Bomb> {
    armed.then(|| Bomb)
}

// ---------------------------------------------------------------------------
// The actor

/// A message the subject handles at once.
struct Work {
    _token: Token,
    _bomb: Option<Bomb>,
}
impl Message for Work {
    type Result = u32;
}

/// The blocking handler: sets up the column's items, says it has entered,
/// waits for the gate, then does what the row says.
struct Hold {
    go: oneshot::Receiver<()>,
    entered: oneshot::Sender<()>,
    reply_bomb: bool,
    _token: Token,
    _bomb: Option<Bomb>,
}
impl Message for Hold {
    type Result = Reply;
}

/// `Hold`'s reply; its `Drop` panics in the reply-drop rows.
struct Reply(#[allow(dead_code)] Option<ReplyBomb>);
struct ReplyBomb;
impl Drop for ReplyBomb {
    fn drop(&mut self) {
        panic!("injected: reply drop");
    }
}

/// A stream item.
struct Item {
    _token: Token,
    _bomb: Option<Bomb>,
}

/// A stream of items; `poll_next` panics at once if `panics`.
struct Items {
    items: VecDeque<Item>,
    polled: Option<Arc<Ledger>>,
    panics: bool,
}

impl futures_core::Stream for Items {
    type Item = Item;
    fn poll_next(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        if this.panics {
            panic!("injected: poll_next");
        }
        if let Some(ledger) = &this.polled {
            ledger.polled.fetch_add(1, SeqCst);
        }
        Poll::Ready(this.items.pop_front())
    }
}

/// What the blocking point does once the gate opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    Return,
    Stop,
    Terminate,
    Panic,
    CancelTimers,
}

type StartedGate = Arc<Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>>;

/// The subject's behaviour in one cell (cloned into a supervisor's factory).
#[derive(Clone)]
struct Config {
    ledger: Arc<Ledger>,
    pending: Pending,
    then: Then,
    /// If set, `started` is the blocking point (first instance only).
    started_gate: StartedGate,
    started_panic: bool,
    stopping_panic: bool,
    stopped_panic: bool,
    drop_panic: bool,
    /// The column's timer message carries a `Bomb`.
    bombs: bool,
    /// How many of the column's 3 stream items carry one (the first ones).
    item_bombs: usize,
    /// Add a stream whose `poll_next` panics at the blocking point.
    panicking_stream: bool,
}

struct Subject {
    cfg: Config,
    /// The first instance built in the cell: the only one with faults (a
    /// restarted one runs cleanly).
    first: bool,
    timers: Vec<SpawnHandle>,
    _token: Token,
}

impl Subject {
    fn new(cfg: Config) -> Self {
        let first = cfg.ledger.built.fetch_add(1, SeqCst) == 0;
        Subject {
            _token: cfg.ledger.token(),
            first,
            cfg,
            timers: Vec::new(),
        }
    }

    /// The blocking point (see the module docs).
    async fn block(
        &mut self,
        ctx: &mut Context<Self>,
        entered: oneshot::Sender<()>,
        go: oneshot::Receiver<()>,
    ) {
        let ledger = self.cfg.ledger.clone();
        let bombs = self.cfg.bombs;
        if self.cfg.pending == Pending::StreamItems {
            let items = (0..3)
                .map(|i| Item {
                    _token: ledger.token(),
                    _bomb: bomb(i < self.cfg.item_bombs),
                })
                .collect();
            ctx.add_stream(Items {
                items,
                polled: Some(ledger.clone()),
                panics: false,
            });
        }
        if self.cfg.panicking_stream {
            let items = (0..2)
                .map(|_| Item {
                    _token: ledger.token(),
                    _bomb: None,
                })
                .collect();
            ctx.add_stream(Items {
                items,
                polled: None,
                panics: true,
            });
        }
        if self.cfg.pending == Pending::TimersPending {
            let hour = Duration::from_secs(3600);
            let msg = Work {
                _token: ledger.token(),
                _bomb: bomb(bombs),
            };
            self.timers.push(ctx.notify_later(msg, hour));
            let token = ledger.token();
            self.timers
                .push(ctx.run_later(hour, move |_, _| drop(token)));
            let token = ledger.token();
            self.timers.push(ctx.run_interval(hour, move |_, _| {
                let _ = &token;
            }));
            // And a message to itself, queued at once.
            ctx.notify(Work {
                _token: ledger.token(),
                _bomb: bomb(bombs),
            });
        }
        let _ = entered.send(());
        let _ = go.await;
        match self.cfg.then {
            Then::Return => {}
            Then::Stop => ctx.stop(),
            Then::Terminate => ctx.terminate(),
            Then::Panic => panic!("injected: handler"),
            Then::CancelTimers => {
                for timer in self.timers.drain(..) {
                    ctx.cancel(timer);
                }
            }
        }
    }
}

impl Actor for Subject {
    async fn started(&mut self, ctx: &mut Context<Self>) {
        let gate = self.cfg.started_gate.lock().take();
        if let Some((entered, go)) = gate {
            self.block(ctx, entered, go).await;
        }
        if self.first && self.cfg.started_panic {
            panic!("injected: started");
        }
    }

    async fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        if self.first && self.cfg.stopping_panic {
            panic!("injected: stopping");
        }
        Running::Stop
    }

    async fn stopped(&mut self, _: &mut Context<Self>) {
        if self.first && self.cfg.stopped_panic {
            panic!("injected: stopped");
        }
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        if self.first && self.cfg.drop_panic {
            panic!("injected: actor drop");
        }
    }
}

impl Handler<Hold> for Subject {
    async fn handle(&mut self, msg: Hold, ctx: &mut Context<Self>) -> Reply {
        let Hold {
            go,
            entered,
            reply_bomb,
            _token,
            _bomb,
        } = msg;
        self.block(ctx, entered, go).await;
        Reply(reply_bomb.then(|| ReplyBomb))
    }
}

impl Handler<Work> for Subject {
    async fn handle(&mut self, _: Work, _: &mut Context<Self>) -> u32 {
        self.cfg.ledger.handled.fetch_add(1, SeqCst);
        1
    }
}

impl StreamHandler<Item> for Subject {
    async fn handle(&mut self, _: Item, _: &mut Context<Self>) {
        self.cfg.ledger.handled.fetch_add(1, SeqCst);
    }

    /// Keeps running: how the actor ends is the row's business.
    async fn finished(&mut self, _: &mut Context<Self>) {}
}

// ---------------------------------------------------------------------------
// Requests

/// How a request (or a waiting `tell`) resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// `Ok`, and dropping the reply value panicked (in the requester).
    OkThenReplyDropPanicked,
    Closed,
    Timeout,
    /// `tell` said `Full`: it never should, it waits.
    Full,
    /// The requester's task panicked.
    RequesterPanicked(String),
}

/// What a request must resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exp {
    Ok,
    OkThenReplyDropPanics,
    Closed,
    Either,
}

impl Exp {
    fn admits(self, outcome: &Outcome) -> bool {
        matches!(
            (self, outcome),
            (Exp::Ok, Outcome::Ok)
                | (Exp::OkThenReplyDropPanics, Outcome::OkThenReplyDropPanicked)
                | (Exp::Closed, Outcome::Closed)
                | (Exp::Either, Outcome::Ok | Outcome::Closed)
        )
    }
}

type BoxFut = Pin<Box<dyn Future<Output = Outcome> + Send>>;

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_owned())
}

/// A request's future, its reply value dropped (under `catch_unwind`) on
/// the requester's side.
fn ask<M>(req: Request<Subject, M>) -> BoxFut
where
    M: Message,
    Subject: Handler<M>,
{
    Box::pin(async move {
        match req.await {
            Ok(value) => match catch_unwind(AssertUnwindSafe(move || drop(value))) {
                Ok(()) => Outcome::Ok,
                Err(_) => Outcome::OkThenReplyDropPanicked,
            },
            Err(MailboxError::Closed) => Outcome::Closed,
            Err(MailboxError::Timeout) => Outcome::Timeout,
        }
    })
}

/// A `tell`'s future; a message handed back is dropped here.
fn tell(addr: &Addr<Subject>, msg: Work) -> BoxFut {
    let addr = addr.clone();
    Box::pin(async move {
        match addr.tell(msg).await {
            Ok(()) => Outcome::Ok,
            Err(SendError::Closed(msg)) => {
                drop(msg);
                Outcome::Closed
            }
            Err(SendError::Full(msg)) => {
                drop(msg);
                Outcome::Full
            }
        }
    })
}

/// Polls `fut` once, in the current task.
async fn poll_once(fut: &mut BoxFut) -> Poll<Outcome> {
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

/// A request the cell resolves at the end: spawned in the subject's
/// runtime, or held outside it (runtime-drop rows).
enum Req {
    Spawned(kioto_rt::task::JoinHandle<Outcome>),
    Held(BoxFut),
}

impl Req {
    async fn resolve(self) -> Outcome {
        match self {
            Req::Spawned(task) => match within(task).await {
                Ok(outcome) => outcome,
                Err(e) if e.is_panic() => Outcome::RequesterPanicked(panic_text(&*e.into_panic())),
                Err(e) => Outcome::RequesterPanicked(format!("{e:?}")),
            },
            Req::Held(fut) => match within(AssertUnwindSafe(fut).catch_unwind()).await {
                Ok(outcome) => outcome,
                Err(payload) => Outcome::RequesterPanicked(panic_text(&*payload)),
            },
        }
    }
}

struct Expected {
    what: &'static str,
    exp: Exp,
    req: Req,
}

// ---------------------------------------------------------------------------
// The plan of a cell: the rules of the module docs, as code

/// How the blocking handler is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HoldKind {
    /// No handler blocks: `started` does.
    None,
    Tell,
    Ask,
    /// An ask whose requester is dropped while it is handled.
    Abandoned,
}

struct Plan {
    supervised: bool,
    /// A row that exists only under a supervisor (its end is the tree's).
    tree_row: bool,
    /// The child is restarted after the first instance's end.
    restarted: bool,
    /// How the root ends (`None`: it fails, having given up).
    root: Option<StopReason>,
    /// Restarts wait an hour.
    backoff: bool,
    max_restarts: u32,
    runtime_drop: bool,
    capacity: usize,
    hold: HoldKind,
    reply_bomb: bool,
    hold_bomb: bool,
    /// Queued and waiting messages (not the waiting `tell`'s: it is handed
    /// back to the test) that carry a `Bomb`.
    queued_bombs: usize,
    /// Stream items that do.
    item_bombs: usize,
    bombs: bool,
    drop_panic: bool,
    shutdown: Shutdown,
    /// The `Terminated` the watcher gets.
    reason: StopReason,
    /// The exits the supervisor reports for the child, in order (`None`: not
    /// supervised, or the supervisor dies with its runtime and reports at
    /// most one per instance).
    exits: Option<Vec<EventKind>>,
    being_handled: Exp,
    queued: Exp,
    /// Messages and items handled by the end, if deterministic.
    handled: Option<usize>,
}

fn panicked(what: &str) -> StopReason {
    StopReason::Panicked(format!("injected: {what}"))
}

fn then_of(end: End, pending: Pending) -> Then {
    use End::*;
    match end {
        Stop
        | StoppingPanic
        | StoppedPanic
        | ActorDropPanic
        | MessageDropPanic
        | ReplyDropPanicAwaited
        | StreamPollPanic => Then::Stop,
        Terminate => Then::Terminate,
        HandlerPanic | SupervisorRestart | StopDuringBackoff | GiveUp => Then::Panic,
        AddrsDropped if pending == Pending::TimersPending => Then::CancelTimers,
        _ => Then::Return,
    }
}

fn plan(end: End, pending: Pending, mode: Mode, drops: Drops) -> Plan {
    use End::*;
    let panicking = drops == Drops::Panicking;
    assert!(
        !panicking
            || matches!(
                end,
                ShutdownBrutal | ShutdownTimeout | RuntimeDrop | RuntimeDropSupervised
            ),
        "panicking drops are for the rows that kill mid-handler"
    );
    // Rows that exist only under a supervisor.
    let tree_row = matches!(
        end,
        SupervisorRestart
            | StopDuringBackoff
            | GiveUp
            | ShutdownBrutal
            | ShutdownTimeout
            | ShutdownInfinity
            | RuntimeDropSupervised
    );
    let supervised = tree_row || mode == Mode::Supervised;
    let being_handled_bomb = end == MessageDropPanic && pending == Pending::AskBeingHandled;
    let hold = match end {
        StartedPanic => HoldKind::None,
        ReplyDropPanic => HoldKind::Abandoned,
        ReplyDropPanicAwaited => HoldKind::Ask,
        _ if pending == Pending::AskBeingHandled => HoldKind::Ask,
        _ => HoldKind::Tell,
    };
    // How the (first) instance ends.
    let first = match end {
        Stop
        | AddrStop
        | AddrsDropped
        | ShutdownInfinity
        | ReplyDropPanicAwaited
        | StreamPollPanic => StopReason::Normal,
        MessageDropPanic if being_handled_bomb => panicked("message drop"),
        MessageDropPanic => StopReason::Normal,
        Terminate | ShutdownBrutal | ShutdownTimeout | RuntimeDrop | RuntimeDropSupervised => {
            StopReason::Killed
        }
        HandlerPanic | SupervisorRestart | StopDuringBackoff | GiveUp => panicked("handler"),
        StartedPanic => panicked("started"),
        StoppingPanic => panicked("stopping"),
        StoppedPanic => panicked("stopped"),
        ActorDropPanic => panicked("actor drop"),
        ReplyDropPanic => panicked("reply drop"),
    };
    // A supervised child (transient) is restarted after a failure, and the
    // tree is stopped once the next instance has handled the queue; after a
    // normal exit it is not, and the tree is stopped then.
    let restarted = end == SupervisorRestart || (supervised && !tree_row && first.is_failure());
    let reason = if supervised
        && !matches!(
            end,
            ShutdownBrutal | ShutdownTimeout | RuntimeDropSupervised | StopDuringBackoff | GiveUp
        ) {
        StopReason::Normal
    } else {
        first.clone()
    };
    let exits = match end {
        RuntimeDropSupervised => None,
        // No next instance.
        StopDuringBackoff | GiveUp => Some(vec![EventKind::Failed {
            reason: first.clone(),
        }]),
        ShutdownBrutal | ShutdownTimeout | ShutdownInfinity => Some(vec![EventKind::Stopped {
            reason: first.clone(),
        }]),
        _ if !supervised => None,
        _ if restarted => Some(vec![
            EventKind::Failed {
                reason: first.clone(),
            },
            EventKind::Stopped {
                reason: StopReason::Normal,
            },
        ]),
        _ => Some(vec![EventKind::Exited {
            reason: StopReason::Normal,
        }]),
    };
    let being_handled = match end {
        HandlerPanic
        | SupervisorRestart
        | StopDuringBackoff
        | GiveUp
        | ShutdownBrutal
        | ShutdownTimeout
        | RuntimeDrop
        | RuntimeDropSupervised
        | StartedPanic => Exp::Closed,
        MessageDropPanic if being_handled_bomb => Exp::Closed,
        ReplyDropPanicAwaited => Exp::OkThenReplyDropPanics,
        _ => Exp::Ok,
    };
    let queued = match end {
        _ if restarted => Exp::Ok,
        AddrsDropped => Exp::Ok,
        ShutdownInfinity => Exp::Either,
        _ => Exp::Closed,
    };
    let sent = match pending {
        Pending::QueuedTell | Pending::QueuedAsk | Pending::SenderWaitingOnFull => 3,
        Pending::AskBeingHandled if end == StartedPanic => 1,
        _ => 0,
    };
    let handled = match end {
        _ if restarted => Some(sent),
        AddrsDropped if pending == Pending::StreamItems => Some(3),
        // The `notify`.
        AddrsDropped if pending == Pending::TimersPending => Some(1),
        AddrsDropped => Some(sent),
        ShutdownInfinity => None,
        _ => Some(0),
    };
    Plan {
        supervised,
        tree_row,
        root: match end {
            RuntimeDrop | RuntimeDropSupervised => Some(StopReason::Killed),
            GiveUp => None,
            _ => Some(StopReason::Normal),
        },
        backoff: end == StopDuringBackoff,
        max_restarts: if end == GiveUp { 0 } else { 5 },
        restarted,
        runtime_drop: matches!(end, RuntimeDrop | RuntimeDropSupervised),
        // Room for one message, beside the `Started` envelope of a
        // stream added at the blocking point (internal envelopes take
        // places too).
        capacity: match pending {
            Pending::SenderWaitingOnFull if end == StreamPollPanic => 2,
            Pending::SenderWaitingOnFull => 1,
            _ => 64,
        },
        hold,
        reply_bomb: matches!(end, ReplyDropPanic | ReplyDropPanicAwaited),
        hold_bomb: being_handled_bomb || panicking,
        queued_bombs: match end {
            _ if panicking => 3,
            MessageDropPanic => 1,
            _ => 0,
        },
        // The first item is queued, the others are still in the stream,
        // which drops them together: one bomb among them (two would make
        // the second panic during the first's unwinding, an abort in any
        // program).
        item_bombs: if panicking || end == MessageDropPanic {
            2
        } else {
            0
        },
        bombs: panicking || end == MessageDropPanic,
        drop_panic: panicking || end == ActorDropPanic,
        shutdown: match end {
            ShutdownBrutal => Shutdown::Brutal,
            ShutdownTimeout => Shutdown::Timeout(Duration::from_millis(50)),
            ShutdownInfinity => Shutdown::Infinity,
            _ => Shutdown::default(),
        },
        reason,
        exits,
        being_handled,
        queued,
        handled,
    }
}

// ---------------------------------------------------------------------------
// Running a cell

/// The supervisor of a supervised cell.
struct Tree {
    tree: SupervisorRef,
    events: UnboundedReceiver<SupervisorEvent>,
    /// Events read so far.
    seen: Vec<SupervisorEvent>,
}

const CHILD: &str = "root/subject";

impl Tree {
    /// Waits for an event matching `pred` (keeping every event read).
    async fn wait_for(&mut self, pred: impl Fn(&SupervisorEvent) -> bool) {
        within(async {
            loop {
                let event = self.events.recv().await.expect("event stream ended");
                let found = pred(&event);
                self.seen.push(event);
                if found {
                    return;
                }
            }
        })
        .await
    }

    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
    }

    /// Exits the supervisor reported for the subject.
    fn exits(&self) -> Vec<&EventKind> {
        self.seen
            .iter()
            .filter(|e| e.path == CHILD)
            .map(|e| &e.kind)
            .filter(|k| is_exit(k))
            .collect()
    }
}

/// Whether a supervisor event reports the end of an instance.
fn is_exit(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Failed { .. } | EventKind::Exited { .. } | EventKind::Stopped { .. }
    )
}

/// A request to resolve at the end: spawned in the subject's runtime, or
/// held outside it when that runtime is to be dropped.
fn expected(what: &'static str, exp: Exp, fut: BoxFut, held: bool) -> Expected {
    let req = if held {
        Req::Held(fut)
    } else {
        Req::Spawned(kioto_rt::spawn(fut))
    };
    Expected { what, exp, req }
}

/// Waits (at most 10 s: a bound on a hang) until `cond`, else panics with
/// `what()`.
async fn wait_until(mut cond: impl FnMut() -> bool, what: impl Fn() -> String) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        kioto_rt::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("not within 10 s: {}", what());
}

/// A pause before checking that nothing more happens (a second
/// `Terminated`, a second drop): not a timing assertion, a chance for a
/// bug to show.
async fn pause() {
    kioto_rt::time::sleep(Duration::from_millis(20)).await;
}

/// Runs one cell; panics with a message naming what failed.
fn run_cell(end: End, mode: Mode, drops: Drops, pending: Pending) {
    let plan = plan(end, pending, mode, drops);
    let ledger = Arc::new(Ledger::default());
    let panics_before = unexpected_panics();

    // The blocking point's two ends: in the config for `started`, in the
    // `Hold` message for a handler.
    let (go, go_rx) = oneshot::channel::<()>();
    let (entered_tx, entered) = oneshot::channel::<()>();
    let started_gate: StartedGate = Arc::default();
    let mut hold_gate = None;
    if plan.hold == HoldKind::None {
        *started_gate.lock() = Some((entered_tx, go_rx));
    } else {
        hold_gate = Some((entered_tx, go_rx));
    }
    let cfg = Config {
        ledger: ledger.clone(),
        pending,
        then: then_of(end, pending),
        started_gate,
        started_panic: end == End::StartedPanic,
        stopping_panic: end == End::StoppingPanic,
        stopped_panic: end == End::StoppedPanic,
        drop_panic: plan.drop_panic,
        bombs: plan.bombs,
        item_bombs: plan.item_bombs,
        panicking_stream: end == End::StreamPollPanic,
    };

    let mut sys = Some(system());
    let metrics = sys.as_ref().unwrap().handle().metrics();
    let baseline = metrics.num_alive_tasks();
    // Hosts the watcher, and resolves the requests once `sys` is gone.
    let observer = plan.runtime_drop.then(system);
    let plan = &plan;
    let ledger = &ledger;
    let metrics = &metrics;

    // Start the subject.
    let (addr, mut tree) = sys.as_ref().unwrap().block_on(async move {
        if plan.supervised {
            let spec = ChildSpec::new("subject", move || Subject::new(cfg.clone()))
                .restart(Restart::Transient)
                .capacity(plan.capacity)
                .shutdown(plan.shutdown);
            let mut builder = Supervisor::builder()
                .intensity(plan.max_restarts, Duration::from_secs(60))
                .child(spec);
            if plan.backoff {
                let hour = Duration::from_secs(3600);
                builder = builder.backoff(hour, hour);
            }
            let tree = builder.start();
            let events = tree.events();
            // Not `which_children`: it waits for `started`, which may be
            // the blocking point. The child's mailbox exists already.
            let addr = tree.child::<Subject>("subject").expect("the child");
            let tree = Tree {
                tree,
                events,
                seen: Vec::new(),
            };
            (addr, Some(tree))
        } else {
            let addr = Subject::start_with_capacity(Subject::new(cfg), plan.capacity);
            (addr, None)
        }
    });
    let mut deaths = observer
        .as_ref()
        .unwrap_or_else(|| sys.as_ref().unwrap())
        .block_on(async { watch(&addr) });

    // Block the subject, and line up the column's messages.
    let mut addr = Some(addr);
    let mut abandoned = None;
    let mut reqs = Vec::new();
    sys.as_ref().unwrap().block_on(async {
        let a = addr.as_ref().unwrap();
        let held = plan.runtime_drop;
        if let Some((entered_tx, go_rx)) = hold_gate.take() {
            let hold = Hold {
                go: go_rx,
                entered: entered_tx,
                reply_bomb: plan.reply_bomb,
                _token: ledger.token(),
                _bomb: bomb(plan.hold_bomb),
            };
            match plan.hold {
                HoldKind::Tell => a.do_send(hold),
                HoldKind::Ask => {
                    let req = ask(a.send(hold));
                    reqs.push(expected(
                        "the ask being handled",
                        plan.being_handled,
                        req,
                        held,
                    ));
                }
                HoldKind::Abandoned => abandoned = Some(a.send(hold)),
                HoldKind::None => unreachable!(),
            }
        }
        within(entered)
            .await
            .expect("the blocking point was not reached");
        let work = |armed| Work {
            _token: ledger.token(),
            _bomb: bomb(armed),
        };
        match pending {
            Pending::QueuedTell => {
                for i in 0..3 {
                    assert!(
                        a.try_send(work(i < plan.queued_bombs)).is_ok(),
                        "a tell was refused"
                    );
                }
            }
            Pending::QueuedAsk => {
                for i in 0..3 {
                    let req = ask(a.send(work(i < plan.queued_bombs)));
                    reqs.push(expected("a queued ask", plan.queued, req, held));
                }
            }
            Pending::AskBeingHandled => {
                if plan.hold == HoldKind::None {
                    let req = ask(a.send(work(false)));
                    reqs.push(expected(
                        "the ask queued before started",
                        plan.queued,
                        req,
                        held,
                    ));
                }
            }
            Pending::SenderWaitingOnFull => {
                assert!(
                    a.try_send(work(plan.queued_bombs > 1)).is_ok(),
                    "the last place was refused"
                );
                let mut send = ask(a.send(work(plan.queued_bombs > 0)));
                assert!(
                    poll_once(&mut send).await.is_pending(),
                    "the send did not wait"
                );
                let mut waiting = tell(a, work(false));
                assert!(
                    poll_once(&mut waiting).await.is_pending(),
                    "the tell did not wait"
                );
                reqs.push(expected("the waiting send", plan.queued, send, held));
                reqs.push(expected("the waiting tell", plan.queued, waiting, held));
            }
            Pending::StreamItems => {
                wait_until(
                    || ledger.polled.load(SeqCst) >= 1,
                    || "the stream was not polled".into(),
                )
                .await
            }
            Pending::TimersPending => {}
        }
    });

    // End it.
    let mut go = Some(go);
    let mut open = move || {
        let _ = go.take().expect("the gate opens once").send(());
    };
    let mut gate_kept = None;
    if plan.runtime_drop {
        drop(sys.take());
    } else {
        sys.as_ref().unwrap().block_on(async {
            match end {
                End::AddrStop => {
                    addr.as_ref().unwrap().stop();
                    open();
                }
                End::AddrsDropped => {
                    addr = None;
                    open();
                }
                End::ReplyDropPanic => {
                    abandoned = None;
                    open();
                }
                End::ShutdownBrutal | End::ShutdownTimeout => {
                    // The gate stays shut until the end of the cell.
                    gate_kept = Some(open);
                    tree.as_ref().unwrap().tree.stop();
                }
                End::ShutdownInfinity => {
                    tree.as_ref().unwrap().tree.stop();
                    kioto_rt::time::sleep(Duration::from_millis(50)).await;
                    open();
                }
                _ => open(),
            }
            // A supervised child's first instance has ended (or is about
            // to): wait for its exit and, after a failure, for the next
            // instance to handle the queue; then stop the tree.
            if plan.supervised && !plan.tree_row
                || matches!(end, End::SupervisorRestart | End::StopDuringBackoff)
            {
                let t = tree.as_mut().unwrap();
                t.wait_for(|e| e.path == CHILD && is_exit(&e.kind)).await;
                if plan.backoff {
                    t.wait_for(|e| {
                        e.path == CHILD && matches!(e.kind, EventKind::Restarting { .. })
                    })
                    .await;
                }
                if plan.restarted {
                    t.wait_for(|e| e.path == CHILD && e.kind == EventKind::Started { restarts: 1 })
                        .await;
                    let want = plan.handled.unwrap();
                    wait_until(
                        || ledger.handled() >= want,
                        || format!("{} of {want} handled", ledger.handled()),
                    )
                    .await;
                }
                t.tree.stop();
            }
        });
    }

    // Check.
    let checker = observer.as_ref().unwrap_or_else(|| sys.as_ref().unwrap());
    checker.block_on(async move {
        for Expected { what, exp, req } in reqs {
            let outcome = req.resolve().await;
            assert!(
                exp.admits(&outcome),
                "{what}: expected {exp:?}, got {outcome:?}"
            );
        }
        let t = within(deaths.recv()).await.expect("no Terminated");
        assert_eq!(t.reason, plan.reason, "the Terminated reason");
        // Watching an actor that has stopped: told at once.
        let mut late = addr.as_ref().map(watch);
        if let Some(late) = &mut late {
            let t = within(late.recv())
                .await
                .expect("no Terminated for a late watcher");
            assert_eq!(
                t.reason, plan.reason,
                "the late watcher's Terminated reason"
            );
        }
        drop(addr);
        drop(abandoned);
        if let Some(t) = tree.as_mut() {
            let root = within(t.tree.wait()).await;
            match &plan.root {
                Some(want) => assert_eq!(&root, want, "the root's end"),
                None => assert!(
                    matches!(root, StopReason::Failed(_)),
                    "the root's end: {root:?}"
                ),
            }
        }
        wait_until(
            || ledger.dropped() >= ledger.made(),
            || format!("{} of {} tokens dropped", ledger.dropped(), ledger.made()),
        )
        .await;
        pause().await;
        assert!(deaths.try_recv().is_none(), "a second Terminated");
        if let Some(late) = &mut late {
            assert!(
                late.try_recv().is_none(),
                "a second Terminated (late watcher)"
            );
        }
        assert_eq!(
            ledger.dropped(),
            ledger.made(),
            "tokens dropped vs made (above: a double drop)"
        );
        if let Some(want) = plan.handled {
            assert_eq!(ledger.handled(), want, "messages and items handled");
        }
        if let Some(mut t) = tree {
            t.drain();
            let built = ledger.built.load(SeqCst);
            let exits = t.exits();
            match &plan.exits {
                // The supervisor went down with its runtime.
                None => assert!(
                    exits.len() <= built,
                    "exits {exits:?} of {built} instance(s)"
                ),
                Some(want) => {
                    assert_eq!(exits.len(), built, "exits {exits:?} of {built} instance(s)");
                    assert_eq!(exits, want.iter().collect::<Vec<_>>(), "the exits reported");
                }
            }
        }
        drop((deaths, late));
        if !plan.runtime_drop {
            wait_until(
                || metrics.num_alive_tasks() == baseline,
                || {
                    format!(
                        "{} tasks alive, {baseline} before",
                        metrics.num_alive_tasks()
                    )
                },
            )
            .await;
        }
    });
    if plan.runtime_drop {
        assert_eq!(
            metrics.num_alive_tasks(),
            0,
            "tasks alive in a dropped runtime"
        );
    }
    drop(gate_kept);
    assert_eq!(
        unexpected_panics(),
        panics_before,
        "a panic on a runtime thread that was not injected (printed above)"
    );
}

// ---------------------------------------------------------------------------
// The rows

fn run_row(end: End, mode: Mode, drops: Drops) {
    quiet_injected_panics();
    let mut failures = Vec::new();
    for pending in Pending::ALL {
        if KNOWN
            .iter()
            .any(|(e, m, d, p, _)| *e == end && *m == mode && *d == drops && *p == pending)
        {
            continue;
        }
        if let Err(payload) = catch_unwind(|| run_cell(end, mode, drops, pending)) {
            failures.push(format!(
                "{end:?} ({mode:?}, {drops:?} drops) × {pending:?}: {}",
                panic_text(&*payload)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cell(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! rows {
    ($($name:ident: $end:ident, $mode:ident $(, $drops:ident)?;)*) => {
        $(
            #[test]
            fn $name() {
                run_row(End::$end, Mode::$mode, rows!(@drops $($drops)?));
            }
        )*
    };
    (@drops) => { Drops::Clean };
    (@drops $drops:ident) => { Drops::$drops };
}

rows! {
    stop: Stop, Alone;
    stop_supervised: Stop, Supervised;
    addr_stop: AddrStop, Alone;
    addr_stop_supervised: AddrStop, Supervised;
    terminate: Terminate, Alone;
    terminate_supervised: Terminate, Supervised;
    all_addresses_dropped: AddrsDropped, Alone;
    handler_panic: HandlerPanic, Alone;
    started_panic: StartedPanic, Alone;
    started_panic_supervised: StartedPanic, Supervised;
    stopping_panic: StoppingPanic, Alone;
    stopping_panic_supervised: StoppingPanic, Supervised;
    stopped_panic: StoppedPanic, Alone;
    stopped_panic_supervised: StoppedPanic, Supervised;
    supervisor_restart: SupervisorRestart, Supervised;
    supervisor_stop_during_backoff: StopDuringBackoff, Supervised;
    supervisor_gives_up: GiveUp, Supervised;
    supervisor_shutdown_brutal: ShutdownBrutal, Supervised;
    supervisor_shutdown_brutal_panicking_drops: ShutdownBrutal, Supervised, Panicking;
    supervisor_shutdown_timeout: ShutdownTimeout, Supervised;
    supervisor_shutdown_timeout_panicking_drops: ShutdownTimeout, Supervised, Panicking;
    supervisor_shutdown_infinity: ShutdownInfinity, Supervised;
    runtime_drop: RuntimeDrop, Alone;
    runtime_drop_panicking_drops: RuntimeDrop, Alone, Panicking;
    runtime_drop_supervised: RuntimeDropSupervised, Supervised;
    runtime_drop_supervised_panicking_drops: RuntimeDropSupervised, Supervised, Panicking;
    actor_drop_panic: ActorDropPanic, Alone;
    actor_drop_panic_supervised: ActorDropPanic, Supervised;
    message_drop_panic: MessageDropPanic, Alone;
    message_drop_panic_supervised: MessageDropPanic, Supervised;
    reply_drop_panic_abandoned: ReplyDropPanic, Alone;
    reply_drop_panic_abandoned_supervised: ReplyDropPanic, Supervised;
    reply_drop_panic_awaited: ReplyDropPanicAwaited, Alone;
    reply_drop_panic_awaited_supervised: ReplyDropPanicAwaited, Supervised;
    stream_poll_next_panic: StreamPollPanic, Alone;
    stream_poll_next_panic_supervised: StreamPollPanic, Supervised;
}
