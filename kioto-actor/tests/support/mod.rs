//! Helpers shared by the actor integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kioto_actor::System;

/// A system on a 2-worker runtime (the box has 2 cores).
pub fn system() -> System {
    let rt = kioto_rt::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    System::with_runtime(rt)
}

/// Counts drops of the values it hands out.
#[derive(Clone, Default, Debug)]
pub struct DropCounter(pub Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
pub struct DropToken(Arc<AtomicUsize>);
impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `cond` (yielding to the runtime with short sleeps) until it holds;
/// panics after 10 s so a bug fails instead of hanging. Not a timing
/// assertion: only a bound on a hang.
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        kioto_rt::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached within 10 s");
}

/// Forwards every [`Terminated`](kioto_actor::Terminated) of the actors it
/// watches into a channel, so a test can count them.
pub struct Watcher {
    tx: kioto_rt::sync::mpsc::UnboundedSender<kioto_actor::Terminated>,
}

impl kioto_actor::Actor for Watcher {}

impl kioto_actor::Handler<kioto_actor::Terminated> for Watcher {
    async fn handle(&mut self, msg: kioto_actor::Terminated, _: &mut kioto_actor::Context<Self>) {
        let _ = self.tx.send(msg);
    }
}

/// The deaths a [`Watcher`] was told of; keeps the watcher reachable (an
/// actor nobody can reach stops).
pub struct Deaths {
    rx: kioto_rt::sync::mpsc::UnboundedReceiver<kioto_actor::Terminated>,
    _watcher: kioto_actor::Addr<Watcher>,
}

impl Deaths {
    /// The next `Terminated`.
    pub async fn recv(&mut self) -> Option<kioto_actor::Terminated> {
        self.rx.recv().await
    }

    /// A `Terminated` already delivered, if any.
    pub fn try_recv(&mut self) -> Option<kioto_actor::Terminated> {
        self.rx.try_recv().ok()
    }
}

/// Starts a [`Watcher`] of `addr`. Call inside a runtime.
pub fn watch<A: kioto_actor::Actor>(addr: &kioto_actor::Addr<A>) -> Deaths {
    use kioto_actor::Actor as _;
    let (tx, rx) = kioto_rt::sync::mpsc::unbounded_channel();
    let addr = addr.clone();
    let watcher = Watcher::create(move |ctx| {
        ctx.watch(&addr);
        Watcher { tx }
    });
    Deaths {
        rx,
        _watcher: watcher,
    }
}

/// Panics on runtime threads that were not injected on purpose, since
/// [`quiet_injected_panics`] was installed.
static UNEXPECTED_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Silences the panics tests cause on purpose (their payloads start with
/// "injected"); every other panic still prints, and one on a runtime
/// thread is counted ([`unexpected_panics`]).
pub fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str()));
            if !text.is_some_and(|t| t.starts_with("injected")) {
                let thread = std::thread::current();
                if thread.name().is_some_and(|n| n.starts_with("kioto")) {
                    UNEXPECTED_PANICS.fetch_add(1, Ordering::SeqCst);
                }
                default(info);
            }
        }));
    });
}

/// How many panics not injected on purpose happened on runtime threads
/// (named `kioto-*`: inside tasks, where a panic may go unnoticed) since
/// [`quiet_injected_panics`]. A test's own failed assertions are not
/// counted: they fail the test anyway.
pub fn unexpected_panics() -> usize {
    UNEXPECTED_PANICS.load(Ordering::SeqCst)
}

/// Awaits `fut` for at most 10 s: a hang fails the test instead of
/// hanging it. Not a timing assertion, only a bound on a hang.
pub async fn within<F: std::future::Future>(fut: F) -> F::Output {
    kioto_rt::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("did not finish within 10 s: something hangs")
}
