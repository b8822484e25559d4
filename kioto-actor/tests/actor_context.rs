//! Context features: timers, streams, spawned futures, watching, registry,
//! services, the current system.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kioto_actor::prelude::*;
use parking_lot::Mutex;
use support::{eventually, system};

#[derive(Default, Clone)]
struct Log(Arc<Mutex<Vec<String>>>);
impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().push(s.into());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().clone()
    }
    fn len(&self) -> usize {
        self.0.lock().len()
    }
}

struct Timers {
    log: Log,
    ticks: usize,
}
impl Actor for Timers {
    async fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_millis(5), |act, ctx| {
            act.ticks += 1;
            act.log.push(format!("tick {}", act.ticks));
            if act.ticks == 3 {
                ctx.stop();
            }
        });
        let cancelled = ctx.notify_later(Note("cancelled"), Duration::from_millis(1));
        assert!(ctx.cancel(cancelled));
        assert!(!ctx.cancel(cancelled));
        ctx.notify_later(Note("later"), Duration::from_millis(1));
        ctx.run_later(Duration::from_millis(2), |act, _| act.log.push("run_later"));
        ctx.notify(Note("now"));
    }
    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.log.push("stopped");
    }
}

struct Note(&'static str);
impl Message for Note {
    type Result = ();
}
impl Handler<Note> for Timers {
    async fn handle(&mut self, msg: Note, _: &mut Context<Self>) {
        self.log.push(msg.0);
    }
}

#[test]
fn timers_notify_and_interval() {
    let log = Log::default();
    system().block_on(async {
        let addr = Timers {
            log: log.clone(),
            ticks: 0,
        }
        .start();
        eventually(|| !addr.connected()).await;
        eventually(|| log.get().last().map(String::as_str) == Some("stopped")).await;
    });
    let got = log.get();
    assert_eq!(got[0], "now");
    assert!(got.contains(&"later".to_owned()));
    assert!(got.contains(&"run_later".to_owned()));
    assert!(!got.contains(&"cancelled".to_owned()));
    let ticks: Vec<_> = got.iter().filter(|s| s.starts_with("tick")).collect();
    assert_eq!(ticks, ["tick 1", "tick 2", "tick 3"]);
    assert_eq!(got.last().unwrap(), "stopped");
}

struct Sum {
    log: Log,
    total: u64,
}
impl Actor for Sum {}
impl StreamHandler<u64> for Sum {
    async fn started(&mut self, _: &mut Context<Self>) {
        self.log.push("stream started");
    }
    async fn handle(&mut self, item: u64, _: &mut Context<Self>) {
        // An async item handler: the next item waits for this one.
        kioto_rt::task::yield_now().await;
        self.total += item;
        self.log.push(format!("item {item}"));
    }
    async fn finished(&mut self, _: &mut Context<Self>) {
        self.log.push(format!("finished {}", self.total));
    }
}

struct Total;
impl Message for Total {
    type Result = u64;
}
impl Handler<Total> for Sum {
    async fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 {
        self.total
    }
}

#[test]
fn stream_items_in_order_then_finished() {
    let log = Log::default();
    system().block_on(async {
        let l = log.clone();
        let addr = Sum::create(move |ctx| {
            ctx.add_stream(futures_util::stream::iter(1..=100u64));
            Sum { log: l, total: 0 }
        });
        eventually(|| log.get().last().is_some_and(|s| s.starts_with("finished"))).await;
        // `finished` was overridden: the actor keeps running.
        assert_eq!(addr.send(Total).await, Ok(5050));
    });
    let got = log.get();
    assert_eq!(got[0], "stream started");
    let items: Vec<String> = (1..=100).map(|i| format!("item {i}")).collect();
    assert_eq!(got[1..101], items[..]);
    assert_eq!(got[101], "finished 5050");
    assert_eq!(got.len(), 102);
}

struct Watcher {
    log: Log,
}
impl Actor for Watcher {}
impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, msg: Terminated, _: &mut Context<Self>) {
        self.log.push(format!("{} {}", msg.id, msg.reason));
    }
}
struct Watch<A: Actor>(Addr<A>);
impl<A: Actor> Message for Watch<A> {
    type Result = ();
}
impl<A: Actor> Handler<Watch<A>> for Watcher {
    async fn handle(&mut self, msg: Watch<A>, ctx: &mut Context<Self>) {
        ctx.watch(&msg.0);
    }
}

struct Victim;
impl Actor for Victim {}
struct Die(bool);
impl Message for Die {
    type Result = ();
}
impl Handler<Die> for Victim {
    async fn handle(&mut self, msg: Die, ctx: &mut Context<Self>) {
        if msg.0 {
            panic!("died");
        }
        ctx.stop();
    }
}

#[test]
fn watch_delivers_terminated() {
    let log = Log::default();
    system().block_on(async {
        let watcher = Watcher { log: log.clone() }.start();
        let a = Victim.start();
        let b = Victim.start();
        watcher.send(Watch(a.clone())).await.unwrap();
        watcher.send(Watch(b.clone())).await.unwrap();
        let _ = a.send(Die(false)).await;
        eventually(|| log.len() == 1).await;
        let _ = b.send(Die(true)).await;
        eventually(|| log.len() == 2).await;
        // Watching an actor that has already stopped notifies at once.
        watcher.send(Watch(a.clone())).await.unwrap();
        eventually(|| log.len() == 3).await;
        assert_eq!(
            log.get(),
            [
                format!("{} stopped normally", a.id()),
                format!("{} panicked: died", b.id()),
                format!("{} stopped normally", a.id()),
            ]
        );
    });
}

#[test]
fn registry_lookup_and_removal_on_stop() {
    let sys = system();
    sys.block_on(async {
        let a = Victim.start();
        let system = System::current();
        system.register("victim", &a);
        assert_eq!(system.lookup::<Victim>("victim"), Some(a.clone()));
        assert_eq!(system.lookup::<Watcher>("victim"), None); // wrong type
        assert_eq!(system.lookup::<Victim>("nobody"), None);
        a.send(Die(false)).await.unwrap();
        eventually(|| !a.connected()).await;
        assert_eq!(system.lookup::<Victim>("victim"), None);
    });
}

#[derive(Default)]
struct Service {
    n: u32,
}
impl Actor for Service {}
impl SystemService for Service {}
struct Bump;
impl Message for Bump {
    type Result = u32;
}
impl Handler<Bump> for Service {
    async fn handle(&mut self, _: Bump, _: &mut Context<Self>) -> u32 {
        self.n += 1;
        self.n
    }
}

struct UsesService;
impl Actor for UsesService {}
impl Handler<Bump> for UsesService {
    async fn handle(&mut self, msg: Bump, _: &mut Context<Self>) -> u32 {
        // System::current works inside an actor, on a worker thread.
        Service::from_registry().send(msg).await.unwrap()
    }
}

#[test]
fn system_service_singleton_and_current_inside_actors() {
    system().block_on(async {
        assert_eq!(Service::from_registry().send(Bump).await, Ok(1));
        let user = UsesService.start();
        assert_eq!(user.send(Bump).await, Ok(2));
        assert_eq!(Service::from_registry().send(Bump).await, Ok(3));
    });
}

struct Spawner {
    done: Arc<AtomicUsize>,
}
impl Actor for Spawner {
    async fn started(&mut self, ctx: &mut Context<Self>) {
        let done = self.done.clone();
        ctx.spawn(async move {
            done.fetch_add(1, Ordering::SeqCst);
        });
        let done = self.done.clone();
        // Cancelled when the actor stops: never completes.
        ctx.spawn(async move {
            kioto_rt::time::sleep(Duration::from_secs(3600)).await;
            done.fetch_add(100, Ordering::SeqCst);
        });
    }
}
impl Handler<Die> for Spawner {
    async fn handle(&mut self, _: Die, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[test]
fn spawned_futures_tied_to_actor() {
    let done = Arc::new(AtomicUsize::new(0));
    let sys = system();
    sys.block_on(async {
        let before = kioto_rt::Handle::current().metrics().num_alive_tasks();
        let addr = Spawner { done: done.clone() }.start();
        eventually(|| done.load(Ordering::SeqCst) == 1).await;
        // The long future keeps the actor alive without addresses.
        let weak = addr.downgrade();
        drop(addr);
        kioto_rt::time::sleep(Duration::from_millis(20)).await;
        let addr = weak.upgrade().expect("still alive: a spawned future runs");
        addr.send(Die(false)).await.unwrap();
        eventually(|| !addr.connected()).await;
        eventually(|| kioto_rt::Handle::current().metrics().num_alive_tasks() == before).await;
    });
    assert_eq!(done.load(Ordering::SeqCst), 1);
}
