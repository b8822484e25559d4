//! Actor workloads of WORKLOADS.md, kioto (System on 2 workers) against actix
//! 0.13 (its own single-threaded System, as its users run it), side by side.
//!
//! Run: `cargo bench -p kioto-actor --bench actors -- --warm-up-time 1 --measurement-time 5 --sample-size 10`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use parking_lot::Mutex;
use tokio::sync::oneshot;

const TELL: u64 = 1_000_000;
const ASK: u64 = 100_000;
const SPAWN: usize = 100_000;
const PING_PONG: u32 = 200_000;
const FANOUT_WORKERS: usize = 1_000;
const FANOUT_ROUNDS: usize = 100;
const PAIRS: usize = 100;
const PAIR_BOUNCES: u32 = 10_000;

/// Fires a oneshot when `n` parties have called `hit`.
struct Done {
    left: AtomicUsize,
    tx: Mutex<Option<oneshot::Sender<()>>>,
}
impl Done {
    fn new(n: usize) -> (Arc<Done>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let done = Arc::new(Done {
            left: AtomicUsize::new(n),
            tx: Mutex::new(Some(tx)),
        });
        (done, rx)
    }
    fn hit(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.tx.lock().take().unwrap().send(());
        }
    }
}

mod k {
    use super::*;
    use kioto_actor::prelude::*;

    pub fn system() -> System {
        // 2 workers as WORKLOADS.md says; `KIOTO_BENCH_WORKERS` overrides it
        // for scaling experiments.
        let workers = std::env::var("KIOTO_BENCH_WORKERS")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(2);
        let rt = kioto_rt::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap();
        System::with_runtime(rt)
    }

    pub struct Counter(pub u64);
    impl Actor for Counter {}
    pub struct Inc;
    impl Message for Inc {
        type Result = ();
    }
    impl Handler<Inc> for Counter {
        async fn handle(&mut self, _: Inc, _: &mut Context<Self>) {
            self.0 += 1;
        }
    }
    pub struct Get;
    impl Message for Get {
        type Result = u64;
    }
    impl Handler<Get> for Counter {
        async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
            self.0
        }
    }

    pub struct Player {
        pub peer: Option<Addr<Player>>,
        pub done: Arc<Done>,
    }
    impl Actor for Player {}
    pub struct Peer(pub Addr<Player>);
    impl Message for Peer {
        type Result = ();
    }
    impl Handler<Peer> for Player {
        async fn handle(&mut self, msg: Peer, _: &mut Context<Self>) {
            self.peer = Some(msg.0);
        }
    }
    pub struct Ball(pub u32);
    impl Message for Ball {
        type Result = ();
    }
    impl Handler<Ball> for Player {
        async fn handle(&mut self, msg: Ball, ctx: &mut Context<Self>) {
            if msg.0 == 0 {
                self.done.hit();
                self.peer = None;
                ctx.stop();
            } else {
                self.peer.as_ref().unwrap().do_send(Ball(msg.0 - 1));
            }
        }
    }

    pub struct Collector {
        pub done: Arc<Done>,
    }
    impl Actor for Collector {}
    pub struct Ack;
    impl Message for Ack {
        type Result = ();
    }
    impl Handler<Ack> for Collector {
        async fn handle(&mut self, _: Ack, _: &mut Context<Self>) {
            self.done.hit();
        }
    }
    pub struct Worker(pub Addr<Collector>);
    impl Actor for Worker {}
    pub struct Work;
    impl Message for Work {
        type Result = ();
    }
    impl Handler<Work> for Worker {
        async fn handle(&mut self, _: Work, _: &mut Context<Self>) {
            self.0.do_send(Ack);
        }
    }

    pub async fn tell() {
        let c = Counter(0).start();
        for _ in 0..TELL {
            c.do_send(Inc);
        }
        assert_eq!(c.send(Get).await.unwrap(), TELL);
    }

    pub async fn ask() {
        let c = Counter(0).start();
        for _ in 0..ASK {
            c.send(Get).await.unwrap();
        }
    }

    pub async fn spawn() {
        let addrs: Vec<_> = (0..SPAWN).map(|_| Counter(0).start()).collect();
        let replies: Vec<_> = addrs.iter().map(|a| a.send(Get)).collect();
        for r in replies {
            r.await.unwrap();
        }
        for a in &addrs {
            a.stop();
        }
    }

    async fn pair(bounces: u32, done: Arc<Done>) {
        let a = Player {
            peer: None,
            done: done.clone(),
        }
        .start();
        let b = Player { peer: None, done }.start();
        a.send(Peer(b.clone())).await.unwrap();
        b.send(Peer(a.clone())).await.unwrap();
        a.do_send(Ball(bounces));
    }

    pub async fn ping_pong() {
        let (done, rx) = Done::new(1);
        pair(PING_PONG, done).await;
        rx.await.unwrap();
    }

    pub async fn pairs() {
        let (done, rx) = Done::new(PAIRS);
        for _ in 0..PAIRS {
            pair(PAIR_BOUNCES, done.clone()).await;
        }
        rx.await.unwrap();
    }

    pub async fn fanout() {
        let (done, rx) = Done::new(FANOUT_WORKERS * FANOUT_ROUNDS);
        let collector = Collector { done }.start();
        let workers: Vec<_> = (0..FANOUT_WORKERS)
            .map(|_| Worker(collector.clone()).start())
            .collect();
        for _ in 0..FANOUT_ROUNDS {
            for w in &workers {
                w.do_send(Work);
            }
        }
        rx.await.unwrap();
    }
}

mod a {
    use super::*;
    use actix::prelude::*;

    pub struct Counter(pub u64);
    impl Actor for Counter {
        type Context = Context<Self>;
    }
    pub struct Inc;
    impl Message for Inc {
        type Result = ();
    }
    impl Handler<Inc> for Counter {
        type Result = ();
        fn handle(&mut self, _: Inc, _: &mut Context<Self>) {
            self.0 += 1;
        }
    }
    pub struct Get;
    impl Message for Get {
        type Result = u64;
    }
    impl Handler<Get> for Counter {
        type Result = u64;
        fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
            self.0
        }
    }

    pub struct Player {
        pub peer: Option<Addr<Player>>,
        pub done: Arc<Done>,
    }
    impl Actor for Player {
        type Context = Context<Self>;
    }
    pub struct Peer(pub Addr<Player>);
    impl Message for Peer {
        type Result = ();
    }
    impl Handler<Peer> for Player {
        type Result = ();
        fn handle(&mut self, msg: Peer, _: &mut Context<Self>) {
            self.peer = Some(msg.0);
        }
    }
    pub struct Ball(pub u32);
    impl Message for Ball {
        type Result = ();
    }
    impl Handler<Ball> for Player {
        type Result = ();
        fn handle(&mut self, msg: Ball, ctx: &mut Context<Self>) {
            if msg.0 == 0 {
                self.done.hit();
                self.peer = None;
                ctx.stop();
            } else {
                self.peer.as_ref().unwrap().do_send(Ball(msg.0 - 1));
            }
        }
    }

    pub struct Collector {
        pub done: Arc<Done>,
    }
    impl Actor for Collector {
        type Context = Context<Self>;
    }
    pub struct Ack;
    impl Message for Ack {
        type Result = ();
    }
    impl Handler<Ack> for Collector {
        type Result = ();
        fn handle(&mut self, _: Ack, _: &mut Context<Self>) {
            self.done.hit();
        }
    }
    pub struct Worker(pub Addr<Collector>);
    impl Actor for Worker {
        type Context = Context<Self>;
    }
    pub struct Work;
    impl Message for Work {
        type Result = ();
    }
    impl Handler<Work> for Worker {
        type Result = ();
        fn handle(&mut self, _: Work, _: &mut Context<Self>) {
            self.0.do_send(Ack);
        }
    }

    pub async fn tell() {
        let c = Counter(0).start();
        for _ in 0..TELL {
            c.do_send(Inc);
        }
        assert_eq!(c.send(Get).await.unwrap(), TELL);
    }

    pub async fn ask() {
        let c = Counter(0).start();
        for _ in 0..ASK {
            c.send(Get).await.unwrap();
        }
    }

    pub async fn spawn() {
        let addrs: Vec<_> = (0..SPAWN).map(|_| Counter(0).start()).collect();
        let replies: Vec<_> = addrs.iter().map(|a| a.send(Get)).collect();
        for r in replies {
            r.await.unwrap();
        }
        // actix has no Addr::stop; dropping every address stops them.
        drop(addrs);
    }

    async fn pair(bounces: u32, done: Arc<Done>) {
        let a = Player {
            peer: None,
            done: done.clone(),
        }
        .start();
        let b = Player { peer: None, done }.start();
        a.send(Peer(b.clone())).await.unwrap();
        b.send(Peer(a.clone())).await.unwrap();
        a.do_send(Ball(bounces));
    }

    pub async fn ping_pong() {
        let (done, rx) = Done::new(1);
        pair(PING_PONG, done).await;
        rx.await.unwrap();
    }

    pub async fn pairs() {
        let (done, rx) = Done::new(PAIRS);
        for _ in 0..PAIRS {
            pair(PAIR_BOUNCES, done.clone()).await;
        }
        rx.await.unwrap();
    }

    pub async fn fanout() {
        let (done, rx) = Done::new(FANOUT_WORKERS * FANOUT_ROUNDS);
        let collector = Collector { done }.start();
        let workers: Vec<_> = (0..FANOUT_WORKERS)
            .map(|_| Worker(collector.clone()).start())
            .collect();
        for _ in 0..FANOUT_ROUNDS {
            for w in &workers {
                w.do_send(Work);
            }
        }
        rx.await.unwrap();
    }
}

macro_rules! workload {
    ($fn_name:ident, $name:literal) => {
        fn $fn_name(c: &mut Criterion) {
            let mut group = c.benchmark_group($name);
            {
                let sys = k::system();
                // The driver runs as a task on the runtime's workers, as
                // WORKLOADS.md asks (not on the `block_on` thread, which
                // would add a cross-thread wake-up per round trip).
                group.bench_function("kioto", |b| {
                    b.iter(|| sys.block_on(async { kioto_rt::spawn(k::$fn_name()).await.unwrap() }))
                });
            }
            {
                let sys = actix::System::new();
                group.bench_function("actix", |b| b.iter(|| sys.block_on(a::$fn_name())));
            }
            group.finish();
        }
    };
}

workload!(tell, "tell");
workload!(ask, "ask");
workload!(spawn, "spawn");
workload!(ping_pong, "ping_pong");
workload!(fanout, "fanout");
workload!(pairs, "pairs");

criterion_group!(benches, tell, ask, spawn, ping_pong, fanout, pairs);
criterion_main!(benches);
