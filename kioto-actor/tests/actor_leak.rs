//! No leak: start and stop 100,000 actors; every actor is dropped and the
//! runtime's live task count returns to where it started.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kioto_actor::prelude::*;
use support::{eventually, system};

static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Tracked {
    handled: Arc<AtomicUsize>,
}
impl Tracked {
    fn new(handled: Arc<AtomicUsize>) -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Tracked { handled }
    }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}
impl Actor for Tracked {}

struct Ping;
impl Message for Ping {
    type Result = ();
}
impl Handler<Ping> for Tracked {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn start_and_stop_100k_actors() {
    const N: usize = 100_000;
    let handled = Arc::new(AtomicUsize::new(0));
    system().block_on(async {
        let metrics = kioto_rt::Handle::current().metrics();
        let start_tasks = metrics.num_alive_tasks();
        // In batches, half stopped explicitly, half by dropping addresses.
        for batch in 0..10 {
            let addrs: Vec<_> = (0..N / 10)
                .map(|_| Tracked::new(handled.clone()).start())
                .collect();
            for (i, a) in addrs.iter().enumerate() {
                a.send(Ping).await.unwrap();
                if i % 2 == 0 {
                    a.stop();
                }
            }
            drop(addrs);
            eventually(|| LIVE.load(Ordering::SeqCst) == 0).await;
            let _ = batch;
        }
        eventually(|| metrics.num_alive_tasks() == start_tasks).await;
        assert_eq!(metrics.num_alive_tasks(), start_tasks);
    });
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
    assert_eq!(handled.load(Ordering::Relaxed), N);
}
