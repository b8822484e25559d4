//! Requests, lifecycle and failure through the public API.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kioto_actor::prelude::*;
use support::{eventually, system, DropCounter, DropToken};

struct Echo;
impl Actor for Echo {}

struct Say(u32);
impl Message for Say {
    type Result = u32;
}
impl Handler<Say> for Echo {
    async fn handle(&mut self, msg: Say, _: &mut Context<Self>) -> u32 {
        msg.0
    }
}

struct Boom;
impl Message for Boom {
    type Result = ();
}
impl Handler<Boom> for Echo {
    async fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("boom");
    }
}

struct Slow(Duration);
impl Message for Slow {
    type Result = ();
}
impl Handler<Slow> for Echo {
    async fn handle(&mut self, msg: Slow, _: &mut Context<Self>) {
        kioto_rt::time::sleep(msg.0).await;
    }
}

struct StopMe;
impl Message for StopMe {
    type Result = ();
}
impl Handler<StopMe> for Echo {
    async fn handle(&mut self, _: StopMe, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[test]
fn send_gets_reply() {
    system().block_on(async {
        let addr = Echo.start();
        for i in 0..100 {
            assert_eq!(addr.send(Say(i)).await, Ok(i));
        }
        let r = addr.recipient::<Say>();
        assert_eq!(r.send(Say(7)).await, Ok(7));
    });
}

#[test]
fn send_to_stopped_actor_is_closed() {
    system().block_on(async {
        let addr = Echo.start();
        addr.send(StopMe).await.unwrap();
        eventually(|| !addr.connected()).await;
        assert_eq!(addr.send(Say(1)).await, Err(MailboxError::Closed));
        assert!(matches!(
            addr.try_send(Say(2)),
            Err(SendError::Closed(Say(2)))
        ));
        assert!(matches!(
            addr.tell(Say(3)).await,
            Err(SendError::Closed(Say(3)))
        ));
        assert_eq!(addr.stop_reason(), Some(StopReason::Normal));
    });
}

#[test]
fn request_in_flight_when_actor_panics_is_closed() {
    system().block_on(async {
        let addr = Echo.start();
        // Queued behind the panicking message: these must resolve too.
        let boom = addr.send(Boom);
        let after: Vec<_> = (0..10).map(|i| addr.send(Say(i))).collect();
        assert_eq!(boom.await, Err(MailboxError::Closed));
        for req in after {
            assert_eq!(req.await, Err(MailboxError::Closed));
        }
        eventually(|| !addr.connected()).await;
        assert_eq!(
            addr.stop_reason(),
            Some(StopReason::Panicked("boom".into()))
        );
        // The runtime and other actors are unaffected.
        let other = Echo.start();
        assert_eq!(other.send(Say(5)).await, Ok(5));
    });
}

#[test]
fn request_timeout() {
    system().block_on(async {
        let addr = Echo.start();
        let slow = addr.send(Slow(Duration::from_millis(200)));
        let res = addr.send(Say(1)).timeout(Duration::from_millis(10)).await;
        assert_eq!(res, Err(MailboxError::Timeout));
        slow.await.unwrap();
        // The actor is still fine.
        assert_eq!(
            addr.send(Say(2)).timeout(Duration::from_secs(10)).await,
            Ok(2)
        );
    });
}

#[derive(Default)]
struct Log(Arc<Mutex<Vec<String>>>);
impl Log {
    fn push(&self, s: &str) {
        self.0.lock().unwrap().push(s.to_owned());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Life {
    log: Log,
    refuse: usize,
}
impl Actor for Life {
    async fn started(&mut self, ctx: &mut Context<Self>) {
        assert_eq!(ctx.state(), ActorState::Started);
        self.log.push("started");
    }
    async fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        assert_eq!(ctx.state(), ActorState::Stopping);
        self.log.push("stopping");
        if self.refuse > 0 {
            self.refuse -= 1;
            Running::Continue
        } else {
            Running::Stop
        }
    }
    async fn stopped(&mut self, ctx: &mut Context<Self>) {
        assert_eq!(ctx.state(), ActorState::Stopped);
        self.log.push("stopped");
    }
}
impl Handler<Say> for Life {
    async fn handle(&mut self, msg: Say, ctx: &mut Context<Self>) -> u32 {
        assert_eq!(ctx.state(), ActorState::Running);
        self.log.push("msg");
        msg.0
    }
}

#[test]
fn lifecycle_order_and_refusal() {
    system().block_on(async {
        let log = Log::default();
        let addr = Life {
            log: Log(log.0.clone()),
            refuse: 1,
        }
        .start();
        assert_eq!(addr.send(Say(1)).await, Ok(1));
        addr.stop(); // refused once
        assert_eq!(addr.send(Say(2)).await, Ok(2));
        assert!(addr.connected());
        addr.stop();
        eventually(|| !addr.connected()).await;
        eventually(|| addr.stop_reason().is_some()).await;
        assert_eq!(
            log.get(),
            ["started", "msg", "stopping", "msg", "stopping", "stopped"]
        );
    });
}

#[test]
fn stops_when_all_addresses_dropped() {
    system().block_on(async {
        let log = Log::default();
        let addr = Life {
            log: Log(log.0.clone()),
            refuse: 0,
        }
        .start();
        let weak = addr.downgrade();
        let addr2 = addr.clone();
        addr.do_send(Say(1));
        drop(addr);
        assert!(weak.upgrade().is_some());
        drop(addr2);
        eventually(|| !weak.connected()).await;
        eventually(|| log.get().last().map(String::as_str) == Some("stopped")).await;
        assert_eq!(log.get(), ["started", "msg", "stopping", "stopped"]);
        assert!(weak.upgrade().is_none());
    });
}

struct Dropped(#[allow(dead_code)] DropToken);
impl Actor for Dropped {}
impl Handler<Say> for Dropped {
    async fn handle(&mut self, msg: Say, _: &mut Context<Self>) -> u32 {
        msg.0
    }
}

#[test]
fn actor_dropped_once_after_stop() {
    let drops = DropCounter::default();
    system().block_on(async {
        let addr = Dropped(drops.token()).start();
        assert_eq!(addr.send(Say(1)).await, Ok(1));
        addr.stop();
        eventually(|| drops.get() == 1).await;
    });
    assert_eq!(drops.get(), 1);
}

struct CountHooks(Arc<AtomicUsize>);
impl Actor for CountHooks {
    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
impl Handler<StopMe> for CountHooks {
    async fn handle(&mut self, _: StopMe, ctx: &mut Context<Self>) {
        ctx.stop();
        ctx.stop();
    }
}

#[test]
fn stopped_runs_once() {
    let n = Arc::new(AtomicUsize::new(0));
    system().block_on(async {
        let addr = CountHooks(n.clone()).start();
        addr.do_send(StopMe);
        addr.do_send(StopMe);
        addr.stop();
        eventually(|| !addr.connected()).await;
        eventually(|| n.load(Ordering::SeqCst) > 0).await;
    });
    assert_eq!(n.load(Ordering::SeqCst), 1);
}

struct Failer;
impl Actor for Failer {}
impl Handler<StopMe> for Failer {
    async fn handle(&mut self, _: StopMe, ctx: &mut Context<Self>) {
        ctx.fail("bad input");
    }
}

#[test]
fn fail_and_terminate_reasons() {
    system().block_on(async {
        let addr = Failer.start();
        addr.send(StopMe).await.unwrap();
        eventually(|| addr.stop_reason().is_some()).await;
        assert_eq!(
            addr.stop_reason(),
            Some(StopReason::Failed("bad input".into()))
        );
    });
}

struct PanicInStarted;
impl Actor for PanicInStarted {
    async fn started(&mut self, _: &mut Context<Self>) {
        panic!("in started");
    }
}
impl Handler<Say> for PanicInStarted {
    async fn handle(&mut self, msg: Say, _: &mut Context<Self>) -> u32 {
        msg.0
    }
}

#[test]
fn panic_in_hook_stops_actor() {
    system().block_on(async {
        let addr = PanicInStarted.start();
        assert_eq!(addr.send(Say(1)).await, Err(MailboxError::Closed));
        eventually(|| addr.stop_reason().is_some()).await;
        assert_eq!(
            addr.stop_reason(),
            Some(StopReason::Panicked("in started".into()))
        );
    });
}

#[test]
// `Addr` hashes by actor id, which never changes; clippy cannot know that.
#[allow(clippy::mutable_key_type)]
fn addr_equality_and_hash() {
    use std::collections::HashSet;
    system().block_on(async {
        let a = Echo.start();
        let b = Echo.start();
        assert_eq!(a, a.clone());
        assert_ne!(a, b);
        let set: HashSet<_> = [a.clone(), a.clone(), b.clone()].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(a.recipient::<Say>(), a.recipient::<Say>());
        assert!(format!("{a:?}").contains("Echo"));
    });
}
