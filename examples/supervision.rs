//! A small supervision tree, narrated as it runs.
//!
//! ```text
//! cargo run --example supervision
//! ```
//!
//! ```text
//! app                 one-for-one, at most 5 restarts in 10 s
//! ├── cache           a key-value store (permanent)
//! ├── pool            a nested supervisor, one-for-all
//! │   ├── worker-1
//! │   └── worker-2
//! └── flaky           panics on every 4th job (transient, with backoff)
//! ```
//!
//! Watch for three things in the output:
//!
//! - the `flaky` worker crashes, and the job it was handling fails with
//!   `Closed`, but the jobs queued behind it are handled by the restarted
//!   instance, through the very same address;
//! - a crash in `pool/worker-1` restarts both pool workers (one-for-all) and
//!   leaves the cache alone (one-for-one at the root);
//! - stopping the tree stops the children in reverse start order.

use std::time::Duration;

use kioto::prelude::*;
use kioto::supervisor::SupervisorRef;

// ---- the cache -----------------------------------------------------------

#[derive(Default)]
struct Cache {
    entries: std::collections::HashMap<String, u64>,
}

impl Actor for Cache {
    async fn started(&mut self, _: &mut Context<Self>) {
        println!("  [cache] up");
    }
    async fn stopped(&mut self, _: &mut Context<Self>) {
        println!("  [cache] down, {} entries", self.entries.len());
    }
}

#[derive(Message)]
struct Put(String, u64);

impl Handler<Put> for Cache {
    async fn handle(&mut self, Put(key, value): Put, _: &mut Context<Self>) {
        self.entries.insert(key, value);
    }
}

#[derive(Message)]
#[rtype(result = "Option<u64>")]
struct Get(String);

impl Handler<Get> for Cache {
    async fn handle(&mut self, Get(key): Get, _: &mut Context<Self>) -> Option<u64> {
        self.entries.get(&key).copied()
    }
}

// ---- workers -------------------------------------------------------------

/// Squares numbers; crashes on a job of 0 (a "bug"), and when it is the
/// flaky one, on every 4th job.
struct Worker {
    name: &'static str,
    done: u64,
    flaky: bool,
}

impl Worker {
    fn new(name: &'static str) -> Self {
        Worker {
            name,
            done: 0,
            flaky: false,
        }
    }
}

impl Actor for Worker {
    async fn started(&mut self, _: &mut Context<Self>) {
        println!("  [{}] up", self.name);
    }
    async fn stopped(&mut self, _: &mut Context<Self>) {
        println!("  [{}] down after {} jobs", self.name, self.done);
    }
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Job(u64);

impl Handler<Job> for Worker {
    async fn handle(&mut self, Job(n): Job, _: &mut Context<Self>) -> u64 {
        self.done += 1;
        if n == 0 || (self.flaky && self.done % 4 == 0) {
            panic!("{} tripped over job {n}", self.name);
        }
        n * n
    }
}

// ---- the tree ------------------------------------------------------------

fn build() -> SupervisorRef {
    let pool = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(ChildSpec::new("worker-1", || Worker::new("worker-1")))
        .child(ChildSpec::new("worker-2", || Worker::new("worker-2")));
    Supervisor::builder()
        .name("app")
        .strategy(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(10))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .child(ChildSpec::new("cache", Cache::default))
        .child(ChildSpec::supervisor("pool", pool))
        .child(
            ChildSpec::new("flaky", || Worker {
                flaky: true,
                ..Worker::new("flaky")
            })
            .restart(Restart::Transient)
            .shutdown(Shutdown::Timeout(Duration::from_secs(1))),
        )
        .start()
}

#[kioto::main]
async fn main() {
    // Silence the default panic printout: the tree reports crashes itself.
    std::panic::set_hook(Box::new(|_| {}));

    println!("starting the tree");
    let tree = build();
    let mut events = tree.events();
    let narrator = kioto::rt::spawn(async move {
        while let Some(event) = events.recv().await {
            println!("  event  {event}");
        }
    });

    let cache = tree.child::<Cache>("cache").expect("cache");
    let flaky = tree.child::<Worker>("flaky").expect("flaky");
    let worker1 = tree.child::<Worker>("pool/worker-1").expect("worker-1");

    println!("\nsending 6 jobs to `flaky` at once (it trips on its 4th)");
    let jobs: Vec<_> = (1..=6).map(|n| (n, flaky.send(Job(n)))).collect();
    for (n, job) in jobs {
        match job.await {
            Ok(square) => {
                println!("  job {n} -> {square}");
                cache.do_send(Put(format!("sq{n}"), square));
            }
            Err(e) => println!("  job {n} lost: {e}"),
        }
    }

    println!("\nsending job 0 to `pool/worker-1` (a bug: it panics)");
    println!("  job 0: {:?}", worker1.send(Job(0)).await);
    // No need to wait for the restart: the job queues in worker-1's mailbox
    // and the new instance picks it up.
    println!(
        "  the same address works: job 7 -> {:?}",
        worker1.send(Job(7)).await
    );
    println!(
        "  the cache kept its state: sq5 = {:?}",
        cache.send(Get("sq5".into())).await
    );

    println!("\nthe tree now:");
    for child in tree.which_children().await {
        println!(
            "  {:<6} {:?}, restarted {} times{}",
            child.name,
            child.state,
            child.restarts,
            if child.supervisor {
                " (supervisor)"
            } else {
                ""
            }
        );
    }

    println!("\nstopping the tree");
    tree.stop();
    let reason = tree.wait().await;
    // The last handle gone, the event stream ends and the narrator finishes.
    drop(tree);
    let _ = kioto::rt::time::timeout(Duration::from_secs(1), narrator).await;
    println!("tree stopped: {reason}");
}
