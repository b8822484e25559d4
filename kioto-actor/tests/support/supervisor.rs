//! Helpers for the `supervisor_*` tests: a probe actor that records its
//! life in a shared log, and waiting on the event stream with a deadline.
//!
//! Include with `#[path = "support/supervisor.rs"] mod sup;` next to
//! `mod support;`.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::rt::sync::mpsc::UnboundedReceiver;
use kioto_actor::supervisor::{EventKind, SupervisorEvent};
use parking_lot::Mutex;

/// A shared, ordered record of what happened.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().push(entry.into());
    }
    /// Everything so far, and clears it.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
    pub fn snapshot(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

/// An actor that logs `start X` (started hook), `stop X` (stopped hook) and
/// `drop X` (Drop), and counts the pings it has handled.
pub struct Probe {
    pub name: &'static str,
    pub log: Log,
    pub pings: u64,
}

impl Probe {
    pub fn new(name: &'static str, log: Log) -> Self {
        Probe {
            name,
            log,
            pings: 0,
        }
    }
}

impl Actor for Probe {
    async fn started(&mut self, _: &mut Context<Self>) {
        self.log.push(format!("start {}", self.name));
    }
    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.log.push(format!("stop {}", self.name));
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.name));
    }
}

/// Handled: returns the number of pings this instance has handled.
pub struct Ping;
impl Message for Ping {
    type Result = u64;
}
impl Handler<Ping> for Probe {
    async fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u64 {
        self.pings += 1;
        self.pings
    }
}

/// Panics in the handler.
pub struct Boom;
impl Message for Boom {
    type Result = ();
}
impl Handler<Boom> for Probe {
    async fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("boom in {}", self.name);
    }
}

/// Stops the actor cleanly (`ctx.stop()`).
pub struct Quit;
impl Message for Quit {
    type Result = ();
}
impl Handler<Quit> for Probe {
    async fn handle(&mut self, _: Quit, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Fails the actor (`ctx.fail(..)`).
pub struct Fail;
impl Message for Fail {
    type Result = ();
}
impl Handler<Fail> for Probe {
    async fn handle(&mut self, _: Fail, ctx: &mut Context<Self>) {
        ctx.fail("asked to fail");
    }
}

/// A spec of a `Probe` named `name` logging into `log`.
pub fn probe(name: &'static str, log: &Log) -> ChildSpec {
    let log = log.clone();
    ChildSpec::new(name, move || Probe::new(name, log.clone()))
}

/// The next event matching `pred`, skipping others; panics after 10 s (a
/// bound on a hang, not a timing assertion) or if the stream ends.
pub async fn wait_event(
    events: &mut UnboundedReceiver<SupervisorEvent>,
    mut pred: impl FnMut(&SupervisorEvent) -> bool,
) -> SupervisorEvent {
    let deadline = Duration::from_secs(10);
    let found = kioto_actor::rt::time::timeout(deadline, async {
        while let Some(event) = events.recv().await {
            if pred(&event) {
                return Some(event);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => event,
        Ok(None) => panic!("event stream ended"),
        Err(_) => panic!("expected event not seen within 10 s"),
    }
}

/// Waits for `Started` at `path` with the given restart count.
pub async fn wait_started(
    events: &mut UnboundedReceiver<SupervisorEvent>,
    path: &str,
    restarts: u32,
) {
    wait_event(events, |e| {
        e.path == path && e.kind == EventKind::Started { restarts }
    })
    .await;
}

/// One bound on hangs for every test binary (see `support`).
#[allow(unused_imports)]
pub use crate::support::within;
