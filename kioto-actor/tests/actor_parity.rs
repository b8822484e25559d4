//! Behaviours actix's own tests pin down, through Kioto's public API:
//! `cancel` of a finished spawned future, supervised `SystemService`s that
//! keep their address, `Context::connected`, `run_interval_at`,
//! `add_message_stream`, weak recipients, and timers that fire while many
//! items are registered.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::{SystemService, WeakRecipient};
use support::{eventually, system, watch, within};

/// Answers whether `ctx.cancel` found the item alive.
struct Canceller {
    handle: Option<kioto_actor::SpawnHandle>,
}
impl Actor for Canceller {}

struct SpawnDone(Arc<AtomicBool>);
impl Message for SpawnDone {
    type Result = ();
}
impl Handler<SpawnDone> for Canceller {
    async fn handle(&mut self, SpawnDone(done): SpawnDone, ctx: &mut Context<Self>) {
        self.handle = Some(ctx.spawn(async move { done.store(true, Ordering::SeqCst) }));
    }
}

struct SpawnPending;
impl Message for SpawnPending {
    type Result = ();
}
impl Handler<SpawnPending> for Canceller {
    async fn handle(&mut self, _: SpawnPending, ctx: &mut Context<Self>) {
        self.handle = Some(ctx.spawn(std::future::pending()));
    }
}

struct Cancel;
impl Message for Cancel {
    type Result = bool;
}
impl Handler<Cancel> for Canceller {
    async fn handle(&mut self, _: Cancel, ctx: &mut Context<Self>) -> bool {
        ctx.cancel(self.handle.take().expect("a handle"))
    }
}

#[test]
fn cancel_says_whether_a_spawned_future_was_still_running() {
    system().block_on(async {
        let addr = Canceller { handle: None }.start();
        let alive = || kioto_rt::Handle::current().metrics().num_alive_tasks();
        let baseline = alive();
        let done = Arc::new(AtomicBool::new(false));
        addr.send(SpawnDone(done.clone())).await.unwrap();
        // Its task has ended once it has left the runtime's task registry.
        eventually(|| done.load(Ordering::SeqCst) && alive() <= baseline).await;
        assert_eq!(addr.send(Cancel).await, Ok(false), "it had finished");
        addr.send(SpawnPending).await.unwrap();
        assert_eq!(addr.send(Cancel).await, Ok(true), "it was running");
    });
}

/// Registers many one-shot timers, then (while they fire) a spawned
/// future, which prunes finished items: the timers' queued callbacks must
/// still run.
struct Timers {
    fired: Arc<AtomicUsize>,
}
impl Actor for Timers {}

struct Arm(u32);
impl Message for Arm {
    type Result = ();
}
impl Handler<Arm> for Timers {
    async fn handle(&mut self, Arm(n): Arm, ctx: &mut Context<Self>) {
        for _ in 0..n {
            ctx.run_later(Duration::ZERO, |act, _| {
                act.fired.fetch_add(1, Ordering::SeqCst);
            });
        }
        // The timers fire and queue their callbacks while this handler
        // waits; their tasks finish.
        kioto_rt::time::sleep(Duration::from_millis(50)).await;
        // Enough new items that the registry prunes while the timers'
        // callbacks are still queued.
        for _ in 0..2 * n {
            ctx.spawn(async {});
        }
    }
}

#[test]
fn fired_timers_run_even_when_items_are_pruned() {
    system().block_on(async {
        let fired = Arc::new(AtomicUsize::new(0));
        let addr = Timers {
            fired: fired.clone(),
        }
        .start();
        addr.send(Arm(20)).await.unwrap();
        eventually(|| fired.load(Ordering::SeqCst) == 20).await;
    });
}

/// A service that panics on request.
#[derive(Default)]
struct Flaky {
    handled: u32,
}
impl Actor for Flaky {}
impl SystemService for Flaky {}

struct Crash;
impl Message for Crash {
    type Result = ();
}
impl Handler<Crash> for Flaky {
    async fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("injected: service crash");
    }
}

struct Count;
impl Message for Count {
    type Result = u32;
}
impl Handler<Count> for Flaky {
    async fn handle(&mut self, _: Count, _: &mut Context<Self>) -> u32 {
        self.handled += 1;
        self.handled
    }
}

#[test]
fn a_system_service_is_restarted_behind_its_address() {
    std::panic::set_hook(Box::new(|info| {
        if !info.to_string().contains("injected") {
            eprintln!("{info}");
        }
    }));
    system().block_on(async {
        let addr = Flaky::from_registry();
        assert_eq!(within(addr.send(Count)).await, Ok(1));
        assert_eq!(within(addr.send(Crash)).await, Err(MailboxError::Closed));
        // The same address, a fresh instance.
        assert_eq!(within(addr.send(Count)).await, Ok(1));
        assert_eq!(Flaky::from_registry(), addr);
    });
}

/// Ticks until nobody else can reach it, then stops.
struct Ticker {
    ticks: Arc<AtomicU32>,
}
impl Actor for Ticker {
    async fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_millis(2), |act, ctx| {
            act.ticks.fetch_add(1, Ordering::SeqCst);
            if !ctx.connected() {
                ctx.stop();
            }
        });
    }
}

#[test]
fn connected_tells_an_actor_its_last_address_is_gone() {
    system().block_on(async {
        let ticks = Arc::new(AtomicU32::new(0));
        let addr = Ticker {
            ticks: ticks.clone(),
        }
        .start();
        let mut died = watch(&addr);
        eventually(|| ticks.load(Ordering::SeqCst) >= 3).await;
        assert!(addr.connected());
        // Only the watcher's weak link and the interval's own handle are
        // left: the actor notices and stops.
        drop(addr);
        let t = within(died.recv()).await.expect("Terminated");
        assert_eq!(t.reason, StopReason::Normal);
    });
}

/// Records when its interval ticks.
struct At {
    first: Option<kioto_rt::sync::oneshot::Sender<kioto_rt::time::Instant>>,
}
impl Actor for At {}

struct StartAt(kioto_rt::time::Instant);
impl Message for StartAt {
    type Result = ();
}
impl Handler<StartAt> for At {
    async fn handle(&mut self, StartAt(start): StartAt, ctx: &mut Context<Self>) {
        ctx.run_interval_at(start, Duration::from_secs(3600), |act, _| {
            if let Some(tx) = act.first.take() {
                let _ = tx.send(kioto_rt::time::Instant::now());
            }
        });
    }
}

#[test]
fn run_interval_at_ticks_first_at_its_start() {
    system().block_on(async {
        let (tx, rx) = kioto_rt::sync::oneshot::channel();
        let addr = At { first: Some(tx) }.start();
        let start = kioto_rt::time::Instant::now() + Duration::from_millis(20);
        addr.send(StartAt(start)).await.unwrap();
        // Well before the first period (an hour) would have passed.
        let first = within(rx).await.unwrap();
        assert!(first >= start);
    });
}

/// Sums the messages of a stream.
struct Summer {
    sum: Arc<AtomicU32>,
}
impl Actor for Summer {}

struct Add(u32);
impl Message for Add {
    type Result = u32;
}
impl Handler<Add> for Summer {
    async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u32 {
        self.sum.fetch_add(n, Ordering::SeqCst) + n
    }
}

struct Get;
impl Message for Get {
    type Result = u32;
}
impl Handler<Get> for Summer {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u32 {
        self.sum.load(Ordering::SeqCst)
    }
}

#[test]
fn a_message_stream_goes_to_the_handler_and_the_actor_goes_on() {
    system().block_on(async {
        let sum = Arc::new(AtomicU32::new(0));
        let addr = Summer::create(|ctx| {
            ctx.add_message_stream(futures_util::stream::iter((1..=10).map(Add)));
            Summer { sum: sum.clone() }
        });
        eventually(|| sum.load(Ordering::SeqCst) == 55).await;
        // Unlike `add_stream`, the end of the stream does not stop it.
        assert_eq!(within(addr.send(Get)).await, Ok(55));
    });
}

#[test]
fn weak_recipients_from_weak_addresses_and_recipients() {
    system().block_on(async {
        let sum = Arc::new(AtomicU32::new(0));
        let addr = Summer { sum }.start();
        let weak: WeakRecipient<Add> = addr.downgrade().recipient();
        assert_eq!(weak.upgrade().unwrap().send(Add(2)).await, Ok(2));
        let from_weak: WeakRecipient<Add> = addr.downgrade().into();
        let from_strong: WeakRecipient<Add> = addr.recipient::<Add>().into();
        assert!(from_weak.connected() && from_strong.connected());
        addr.stop();
        drop(addr);
        eventually(|| !weak.connected()).await;
        assert!(from_weak.upgrade().is_none() && from_strong.upgrade().is_none());
    });
}
