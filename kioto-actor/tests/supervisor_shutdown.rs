//! Shutdown: reverse start order, deadlines, brutal kills, nested trees,
//! and a runtime that shuts down under a running tree.

#[path = "support/supervisor.rs"]
mod sup;
mod support;

use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::supervisor::EventKind;
use sup::{probe, wait_event, within, Log, Ping, Probe};
use support::{eventually, system};

#[test]
fn children_stop_in_reverse_start_order() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .child(probe("a", &log))
            .child(probe("b", &log))
            .child(probe("c", &log))
            .child(probe("d", &log))
            .start();
        within(tree.which_children()).await;
        assert_eq!(log.take(), ["start a", "start b", "start c", "start d"]);
        tree.stop();
        assert_eq!(within(tree.wait()).await, StopReason::Normal);
        assert_eq!(
            log.take(),
            ["stop d", "drop d", "stop c", "drop c", "stop b", "drop b", "stop a", "drop a"]
        );
    })
}

#[test]
fn a_nested_tree_starts_depth_first_and_stops_in_reverse() {
    system().block_on(async {
        let log = Log::default();
        let mid = Supervisor::builder()
            .child(probe("b", &log))
            .child(probe("c", &log));
        let tree = Supervisor::builder()
            .child(probe("a", &log))
            .child(ChildSpec::supervisor("mid", mid))
            .child(probe("d", &log))
            .start();
        within(tree.which_children()).await;
        assert_eq!(log.take(), ["start a", "start b", "start c", "start d"]);
        tree.stop();
        within(tree.wait()).await;
        assert_eq!(
            log.take(),
            ["stop d", "drop d", "stop c", "drop c", "stop b", "drop b", "stop a", "drop a"]
        );
    })
}

/// Refuses every stop request.
struct Stubborn {
    log: Log,
}
impl Actor for Stubborn {
    async fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.log.push("refuse");
        Running::Continue
    }
    async fn stopped(&mut self, _: &mut Context<Self>) {
        self.log.push("stop stubborn");
    }
}
impl Drop for Stubborn {
    fn drop(&mut self) {
        self.log.push("drop stubborn");
    }
}

/// Never finishes handling it.
struct Hang;
impl Message for Hang {
    type Result = ();
}
impl Handler<Hang> for Stubborn {
    async fn handle(&mut self, _: Hang, _: &mut Context<Self>) {
        self.log.push("hang");
        std::future::pending::<()>().await;
    }
}

fn stubborn(log: &Log, shutdown: Shutdown) -> ChildSpec {
    let log = log.clone();
    ChildSpec::new("stubborn", move || Stubborn { log: log.clone() }).shutdown(shutdown)
}

#[test]
fn a_child_that_ignores_stop_past_its_timeout_is_killed() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .child(probe("a", &log))
            .child(stubborn(&log, Shutdown::Timeout(Duration::from_millis(50))))
            .start();
        within(tree.which_children()).await;
        let mut events = tree.events();
        log.take();
        tree.stop();
        within(tree.wait()).await;
        let e = wait_event(&mut events, |e| e.path == "root/stubborn").await;
        assert_eq!(
            e.kind,
            EventKind::Stopped {
                reason: StopReason::Killed
            }
        );
        assert_eq!(
            log.take(),
            ["refuse", "drop stubborn", "stop a", "drop a"],
            "killed: no stopped hook, and only then the next child stops"
        );
    })
}

#[test]
fn a_child_stuck_in_a_handler_is_killed_and_its_requester_gets_closed() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .child(stubborn(&log, Shutdown::Timeout(Duration::from_millis(50))))
            .start();
        within(tree.which_children()).await;
        let s = tree.child::<Stubborn>("stubborn").unwrap();
        let stuck = s.send(Hang);
        let queued = s.send(Hang);
        // Stuck in the first handler before the stop request comes.
        eventually(|| !log.snapshot().is_empty()).await;
        within(tree.stop_child("stubborn")).await.unwrap();
        assert_eq!(within(stuck).await, Err(MailboxError::Closed));
        assert_eq!(within(queued).await, Err(MailboxError::Closed));
        assert_eq!(s.stop_reason(), Some(StopReason::Killed));
        assert_eq!(
            log.take(),
            ["hang", "drop stubborn"],
            "the stop request was never seen"
        );
        tree.stop();
        within(tree.wait()).await;
    })
}

#[test]
fn brutal_kills_at_once() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .child(probe("a", &log).shutdown(Shutdown::Brutal))
            .child(stubborn(&log, Shutdown::Brutal))
            .start();
        within(tree.which_children()).await;
        log.take();
        tree.stop();
        within(tree.wait()).await;
        assert_eq!(log.take(), ["drop stubborn", "drop a"]);
    })
}

/// Takes a while to agree to stop.
struct Slow {
    log: Log,
}
impl Actor for Slow {
    async fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        kioto_rt::time::sleep(Duration::from_millis(30)).await;
        self.log.push("slow agreed");
        Running::Stop
    }
}

#[test]
fn infinity_waits_as_long_as_it_takes() {
    system().block_on(async {
        let log = Log::default();
        let slow_log = log.clone();
        let tree = Supervisor::builder()
            .child(probe("a", &log))
            .child(
                ChildSpec::new("slow", move || Slow {
                    log: slow_log.clone(),
                })
                .shutdown(Shutdown::Infinity),
            )
            .start();
        within(tree.which_children()).await;
        log.take();
        tree.stop();
        within(tree.wait()).await;
        assert_eq!(log.take(), ["slow agreed", "stop a", "drop a"]);
    })
}

#[test]
fn a_runtime_shutdown_closes_every_mailbox_of_the_tree() {
    let log = Log::default();
    let sys = system();
    let (a, b, tree) = sys.block_on(async {
        let mid = Supervisor::builder().child(probe("b", &log));
        let tree = Supervisor::builder()
            .child(probe("a", &log))
            .child(ChildSpec::supervisor("mid", mid))
            .start();
        within(tree.which_children()).await;
        let a = tree.child::<Probe>("a").unwrap();
        let b = tree.child::<Probe>("mid/b").unwrap();
        assert_eq!(b.send(Ping).await, Ok(1));
        (a, b, tree)
    });
    drop(sys);
    for addr in [&a, &b] {
        assert!(!addr.connected());
        assert_eq!(addr.stop_reason(), Some(StopReason::Killed));
    }
    assert!(!tree.is_running());
    let log = log.take();
    assert!(
        log.contains(&"drop a".to_owned()) && log.contains(&"drop b".to_owned()),
        "{log:?}"
    );
}
