//! Ordering, fairness, backpressure and scale of the mailbox.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kioto_actor::prelude::*;
use support::{eventually, system};

/// Records, per sender, the sequence numbers it saw.
#[derive(Default)]
struct Recorder {
    seen: HashMap<u32, Vec<u32>>,
}
impl Actor for Recorder {}

struct Seq {
    sender: u32,
    n: u32,
}
impl Message for Seq {
    type Result = ();
}
impl Handler<Seq> for Recorder {
    async fn handle(&mut self, msg: Seq, _: &mut Context<Self>) {
        self.seen.entry(msg.sender).or_default().push(msg.n);
    }
}

struct Dump;
impl Message for Dump {
    type Result = HashMap<u32, Vec<u32>>;
}
impl Handler<Dump> for Recorder {
    async fn handle(&mut self, _: Dump, _: &mut Context<Self>) -> HashMap<u32, Vec<u32>> {
        std::mem::take(&mut self.seen)
    }
}

#[test]
fn per_sender_order_under_load() {
    const SENDERS: u32 = 16;
    const EACH: u32 = 2_000;
    let sys = system();
    sys.block_on(async {
        let addr = Recorder::default().start_with_capacity(8);
        let mut tasks = Vec::new();
        for s in 0..SENDERS {
            let addr = addr.clone();
            tasks.push(kioto_rt::spawn(async move {
                for n in 0..EACH {
                    // Mix the three sending styles; each waits for its place.
                    match n % 3 {
                        0 => addr.send(Seq { sender: s, n }).await.unwrap(),
                        1 => addr.tell(Seq { sender: s, n }).await.unwrap(),
                        _ => addr.do_send(Seq { sender: s, n }),
                    }
                }
            }));
        }
        // Senders on plain OS threads too.
        let mut threads = Vec::new();
        for s in SENDERS..SENDERS + 4 {
            let addr = addr.clone();
            threads.push(std::thread::spawn(move || {
                for n in 0..EACH {
                    let mut msg = Seq { sender: s, n };
                    loop {
                        match addr.try_send(msg) {
                            Ok(()) => break,
                            Err(SendError::Full(m)) => {
                                msg = m;
                                std::thread::yield_now();
                            }
                            Err(SendError::Closed(_)) => panic!("closed"),
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        let seen = addr.send(Dump).await.unwrap();
        assert_eq!(seen.len(), (SENDERS + 4) as usize);
        for (_, ns) in seen {
            assert_eq!(ns, (0..EACH).collect::<Vec<_>>());
        }
    });
}

struct Counter {
    n: u32,
    total: Arc<AtomicUsize>,
}
impl Actor for Counter {}

struct Inc;
impl Message for Inc {
    type Result = ();
}
impl Handler<Inc> for Counter {
    async fn handle(&mut self, _: Inc, _: &mut Context<Self>) {
        self.n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
    }
}

struct Get;
impl Message for Get {
    type Result = u32;
}
impl Handler<Get> for Counter {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u32 {
        self.n
    }
}

#[test]
fn ten_thousand_actors_hundred_messages_each() {
    const ACTORS: usize = 10_000;
    const MSGS: u32 = 100;
    let total = Arc::new(AtomicUsize::new(0));
    system().block_on(async {
        let addrs: Vec<_> = (0..ACTORS)
            .map(|_| {
                Counter {
                    n: 0,
                    total: total.clone(),
                }
                .start()
            })
            .collect();
        for _ in 0..MSGS {
            for a in &addrs {
                a.tell(Inc).await.unwrap();
            }
        }
        for a in &addrs {
            assert_eq!(a.send(Get).await, Ok(MSGS));
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), ACTORS * MSGS as usize);
}

struct Sleeper {
    log: Arc<parking_lot::Mutex<Vec<&'static str>>>,
}
impl Actor for Sleeper {}

struct Nap;
impl Message for Nap {
    type Result = ();
}
impl Handler<Nap> for Sleeper {
    async fn handle(&mut self, _: Nap, _: &mut Context<Self>) {
        self.log.lock().push("nap start");
        kioto_rt::time::sleep(Duration::from_millis(50)).await;
        self.log.lock().push("nap end");
    }
}
struct Poke;
impl Message for Poke {
    type Result = ();
}
impl Handler<Poke> for Sleeper {
    async fn handle(&mut self, _: Poke, _: &mut Context<Self>) {
        self.log.lock().push("poke");
    }
}

#[test]
fn awaiting_handler_blocks_only_its_actor() {
    let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let other_done = Arc::new(AtomicUsize::new(0));
    system().block_on(async {
        let sleeper = Sleeper { log: log.clone() }.start();
        let other = Counter {
            n: 0,
            total: other_done.clone(),
        }
        .start();
        let nap = sleeper.send(Nap);
        eventually(|| log.lock().len() == 1).await; // the nap has started
        let poke = sleeper.send(Poke); // must wait its turn
                                       // Meanwhile another actor handles many messages.
        for _ in 0..100 {
            other.send(Inc).await.unwrap();
        }
        // The nap is still in progress iff the poke has not run: either way,
        // the poke never runs before the nap ends.
        nap.await.unwrap();
        poke.await.unwrap();
        assert_eq!(*log.lock(), ["nap start", "nap end", "poke"]);
    });
    assert_eq!(other_done.load(Ordering::Relaxed), 100);
}

/// Holds every message until released, to fill the mailbox.
struct Gate {
    open: Arc<tokio_like::Gate>,
    got: Vec<u32>,
}
mod tokio_like {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// A flag the actor polls (with sleeps) until set.
    #[derive(Default)]
    pub struct Gate(AtomicBool);
    impl Gate {
        pub fn open(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
        pub async fn wait(&self) {
            while !self.0.load(Ordering::SeqCst) {
                kioto_rt::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}
impl Actor for Gate {}

struct Item(u32);
impl Message for Item {
    type Result = ();
}
impl Handler<Item> for Gate {
    async fn handle(&mut self, msg: Item, _: &mut Context<Self>) {
        self.open.wait().await;
        self.got.push(msg.0);
    }
}
struct Items;
impl Message for Items {
    type Result = Vec<u32>;
}
impl Handler<Items> for Gate {
    async fn handle(&mut self, _: Items, _: &mut Context<Self>) -> Vec<u32> {
        self.got.clone()
    }
}

#[test]
fn backpressure_capacity_four() {
    system().block_on(async {
        let gate = Arc::new(tokio_like::Gate::default());
        let addr = Gate {
            open: gate.clone(),
            got: Vec::new(),
        }
        .start_with_capacity(4);
        // The first message is taken by the actor (blocked in its handler);
        // wait until the mailbox is empty again, then fill it.
        addr.try_send(Item(0)).unwrap();
        let mut next = 1;
        // Fill: exactly 4 more fit, whatever the actor has taken so far, once
        // it is blocked on message 0.
        eventually(|| match addr.try_send(Item(next)) {
            Ok(()) => {
                next += 1;
                false
            }
            Err(SendError::Full(Item(n))) => n == next,
            Err(SendError::Closed(_)) => panic!("closed"),
        })
        .await;
        assert_eq!(next, 5, "capacity 4 plus the one being handled");
        // A waiting send and a waiting tell.
        let waiting_send = {
            let addr = addr.clone();
            kioto_rt::spawn(async move { addr.send(Item(5)).await })
        };
        let waiting_tell = {
            let addr = addr.clone();
            kioto_rt::spawn(async move { addr.tell(Item(6)).await.map_err(|_| ()) })
        };
        kioto_rt::time::sleep(Duration::from_millis(40)).await;
        assert!(matches!(
            addr.try_send(Item(99)),
            Err(SendError::Full(Item(99)))
        ));
        gate.open();
        assert_eq!(waiting_send.await.unwrap(), Ok(()));
        assert_eq!(waiting_tell.await.unwrap(), Ok(()));
        let mut got = addr.send(Items).await.unwrap();
        // 0..=4 were queued in order; 5 and 6 waited (their relative order
        // depends on which waiter queued first). Nothing was lost.
        assert_eq!(got[..5], [0, 1, 2, 3, 4]);
        got.sort_unstable();
        assert_eq!(got, (0..=6).collect::<Vec<_>>());
    });
}

#[test]
fn waiting_senders_see_closed_when_actor_stops() {
    system().block_on(async {
        let gate = Arc::new(tokio_like::Gate::default());
        let addr = Gate {
            open: gate.clone(),
            got: Vec::new(),
        }
        .start_with_capacity(1);
        addr.do_send(Item(0));
        addr.do_send(Item(1)); // bypasses capacity
        let waiting = {
            let addr = addr.clone();
            kioto_rt::spawn(async move { addr.send(Item(2)).await })
        };
        kioto_rt::time::sleep(Duration::from_millis(20)).await;
        addr.stop();
        gate.open();
        assert_eq!(waiting.await.unwrap(), Err(MailboxError::Closed));
    });
}

/// Takes messages of every shape the mailbox stores differently: a word or
/// less (stored in the mailbox itself), larger, and over-aligned (boxed).
#[derive(Default)]
struct Shapes {
    order: Vec<u32>,
    handled: Arc<AtomicUsize>,
    /// `Hold` says it has begun here, then waits for the gate.
    entered: Option<kioto_rt::sync::oneshot::Sender<()>>,
    gate: Option<kioto_rt::sync::oneshot::Receiver<()>>,
}
impl Actor for Shapes {}

struct Tiny(u32);
struct Wide {
    n: u32,
    _token: support::DropToken,
    _pad: [u64; 3],
}
struct Aligned {
    n: u32,
    _wide: u128,
}
struct TinyToken(#[allow(dead_code)] support::DropToken);
struct Hold;
struct Order;

impl Message for Tiny {
    type Result = ();
}
impl Message for Wide {
    type Result = ();
}
impl Message for Aligned {
    type Result = ();
}
impl Message for TinyToken {
    type Result = ();
}
impl Message for Hold {
    type Result = ();
}
impl Message for Order {
    type Result = Vec<u32>;
}

impl Handler<Tiny> for Shapes {
    async fn handle(&mut self, msg: Tiny, _: &mut Context<Self>) {
        self.order.push(msg.0);
    }
}
impl Handler<Wide> for Shapes {
    async fn handle(&mut self, msg: Wide, _: &mut Context<Self>) {
        self.order.push(msg.n);
        self.handled.fetch_add(1, Ordering::SeqCst);
    }
}
impl Handler<Aligned> for Shapes {
    async fn handle(&mut self, msg: Aligned, _: &mut Context<Self>) {
        self.order.push(msg.n);
    }
}
impl Handler<TinyToken> for Shapes {
    async fn handle(&mut self, _: TinyToken, _: &mut Context<Self>) {
        self.handled.fetch_add(1, Ordering::SeqCst);
    }
}
impl Handler<Hold> for Shapes {
    async fn handle(&mut self, _: Hold, _: &mut Context<Self>) {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
        }
        if let Some(gate) = self.gate.take() {
            let _ = gate.await;
        }
    }
}
impl Handler<Order> for Shapes {
    async fn handle(&mut self, _: Order, _: &mut Context<Self>) -> Vec<u32> {
        std::mem::take(&mut self.order)
    }
}

#[test]
fn messages_of_every_size_keep_order_and_queued_ones_drop_once_at_stop() {
    let sys = system();
    sys.block_on(async {
        // In order, whatever their size; each large one dropped once handled.
        let wide_drops = support::DropCounter::default();
        let addr = Shapes::default().start();
        for n in 0..3_000 {
            match n % 3 {
                0 => addr.do_send(Tiny(n)),
                1 => addr.do_send(Wide {
                    n,
                    _token: wide_drops.token(),
                    _pad: [0; 3],
                }),
                _ => addr.do_send(Aligned { n, _wide: 0 }),
            }
        }
        assert_eq!(
            addr.send(Order).await.unwrap(),
            (0..3_000).collect::<Vec<_>>()
        );
        assert_eq!(wide_drops.get(), 1_000);

        // Queued behind a handler that waits, then stopped: every queued
        // message, small or large, is dropped exactly once and none is
        // handled.
        let (open, gate) = kioto_rt::sync::oneshot::channel();
        let (entered, is_in) = kioto_rt::sync::oneshot::channel();
        let handled = Arc::new(AtomicUsize::new(0));
        let addr = Shapes {
            handled: handled.clone(),
            entered: Some(entered),
            gate: Some(gate),
            ..Default::default()
        }
        .start();
        addr.do_send(Hold);
        is_in.await.unwrap();
        let drops = support::DropCounter::default();
        for n in 0..200 {
            if n % 2 == 0 {
                addr.do_send(TinyToken(drops.token()));
            } else {
                addr.do_send(Wide {
                    n,
                    _token: drops.token(),
                    _pad: [0; 3],
                });
            }
        }
        addr.stop();
        open.send(()).unwrap();
        eventually(|| !addr.connected()).await;
        assert_eq!(drops.get(), 200);
        assert_eq!(handled.load(Ordering::SeqCst), 0);
    });
}
