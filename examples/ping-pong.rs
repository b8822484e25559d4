//! Two actors bouncing a ball: how fast do messages go back and forth?
//!
//! ```text
//! cargo run --release --example ping-pong [-- ROUNDS]     (default 100000)
//! ```
//!
//! `Pinger` serves `ROUNDS` times; each serve is a [`Ping`] to `Ponger`,
//! which answers with a [`Pong`] back to `Pinger`'s address. Only one ball
//! is in flight, so the rate is the latency of one actor-to-actor hop
//! (enqueue, wake, schedule, handle), not throughput under load.
//!
//! Both kinds of message definition appear: `Ping` is derived by hand with
//! `#[derive(Message)]`, while `Serve` and `Pong` are generated from methods
//! by `#[kioto::messages]`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kioto::prelude::*;
use kioto::rt::sync::oneshot;

const DEFAULT_ROUNDS: u64 = 100_000;

/// The ball on its way to the `Ponger`; `left` serves remain after this one.
#[derive(Message)]
struct Ping {
    left: u64,
    reply_to: Addr<Pinger>,
}

/// Sends every ball straight back.
struct Ponger {
    hits: u64,
}

impl Actor for Ponger {}

#[kioto::messages]
impl Ponger {
    #[handler]
    async fn on_ping(&mut self, ping: Ping) {
        self.hits += 1;
        // `tell` waits for mailbox space instead of growing it (`do_send`
        // would not wait); with one ball in flight it never has to.
        let _ = ping.reply_to.tell(Pong { left: ping.left }).await;
    }

    /// How many balls it has returned.
    #[message]
    fn hits(&mut self) -> u64 {
        self.hits
    }
}

/// Serves, counts the returns, and reports when the rally is over.
struct Pinger {
    ponger: Addr<Ponger>,
    started: Option<Instant>,
    done: Option<oneshot::Sender<Duration>>,
}

impl Actor for Pinger {}

#[kioto::messages]
impl Pinger {
    /// Starts a rally of `rounds` serves; the receiver gets its duration.
    #[message]
    async fn serve(&mut self, rounds: u64, ctx: &mut Context<Self>) -> oneshot::Receiver<Duration> {
        let (tx, rx) = oneshot::channel();
        self.done = Some(tx);
        self.started = Some(Instant::now());
        self.hit(rounds, ctx).await;
        rx
    }

    /// The ball came back.
    #[message]
    async fn pong(&mut self, left: u64, ctx: &mut Context<Self>) {
        self.hit(left, ctx).await;
    }

    async fn hit(&mut self, left: u64, ctx: &mut Context<Self>) {
        if left == 0 {
            let elapsed = self.started.map_or(Duration::ZERO, |t| t.elapsed());
            if let Some(done) = self.done.take() {
                let _ = done.send(elapsed);
            }
            return;
        }
        let ping = Ping {
            left: left - 1,
            reply_to: ctx.address(),
        };
        let _ = self.ponger.tell(ping).await;
    }
}

#[kioto::main]
async fn main() -> ExitCode {
    let rounds = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => DEFAULT_ROUNDS,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: ping-pong [ROUNDS]   (a positive integer, default {DEFAULT_ROUNDS})");
            return ExitCode::FAILURE;
        }
    };

    let ponger = Ponger { hits: 0 }.start();
    let pinger = Pinger {
        ponger: ponger.clone(),
        started: None,
        done: None,
    }
    .start();

    let finished = pinger
        .send(Serve { rounds })
        .await
        .expect("pinger is running");
    let elapsed = finished.await.expect("the rally finishes");
    assert_eq!(ponger.send(Hits).await, Ok(rounds));

    // Two messages per round: the ping and the pong.
    let messages = rounds * 2;
    let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "{rounds} rounds, {messages} messages in {:.3} s: {:.0} msg/s, {:.0} ns per hop",
        secs,
        messages as f64 / secs,
        elapsed.as_nanos() as f64 / messages as f64,
    );
    ExitCode::SUCCESS
}
