//! Restart intensity and escalation in a three-level tree:
//! root → mid (a nested supervisor) → workers.

#[path = "support/supervisor.rs"]
mod sup;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::supervisor::{ChildState, EventKind, SupervisorEvent};
use sup::{probe, wait_event, wait_started, within, Boom, Log, Ping, Probe};
use support::system;

fn tree(log: &Log) -> kioto_actor::supervisor::SupervisorRef {
    let mid = Supervisor::builder()
        .intensity(2, Duration::from_secs(60))
        .child(probe("stable", log))
        .child(probe("bad", log));
    Supervisor::builder()
        .intensity(1, Duration::from_secs(60))
        .child(probe("sibling", log))
        .child(ChildSpec::supervisor("mid", mid))
        .start()
}

fn is_give_up_or_escalation(e: &SupervisorEvent) -> bool {
    matches!(
        e.kind,
        EventKind::GaveUp { .. } | EventKind::Escalated { .. }
    )
}

#[test]
fn exhaustion_escalates_and_a_second_one_at_the_root_stops_the_tree() {
    system().block_on(async {
        let log = Log::default();
        let tree = tree(&log);
        within(tree.which_children()).await;
        assert_eq!(log.snapshot(), ["start sibling", "start stable", "start bad"]);
        let mut events = tree.events();
        let mut escalations = tree.events();

        let stable = tree.child::<Probe>("mid/stable").unwrap();
        let bad = tree.child::<Probe>("mid/bad").unwrap();
        let sibling = tree.child::<Probe>("sibling").unwrap();
        assert_eq!(stable.send(Ping).await, Ok(1));
        assert_eq!(sibling.send(Ping).await, Ok(1));

        // Two restarts are within mid's intensity...
        for n in 1..=2 {
            assert_eq!(bad.send(Boom).await, Err(MailboxError::Closed));
            wait_started(&mut events, "root/mid/bad", n).await;
        }
        assert_eq!(stable.send(Ping).await, Ok(2), "one-for-one: stable untouched");
        // ...the third is not: mid gives up, escalates, root restarts it.
        assert_eq!(bad.send(Boom).await, Err(MailboxError::Closed));
        wait_started(&mut events, "root/mid", 1).await;
        let e = wait_event(&mut escalations, is_give_up_or_escalation).await;
        assert_eq!(e.path, "root/mid");
        assert!(matches!(
            e.kind,
            EventKind::GaveUp { max_restarts: 2, ref reason, .. } if reason.to_string().contains("boom in bad")
        ));
        let e = wait_event(&mut escalations, is_give_up_or_escalation).await;
        assert!(matches!(e.kind, EventKind::Escalated { .. }), "{e}");

        // The whole subtree came back behind the same addresses.
        assert_eq!(tree.child::<Probe>("mid/stable").unwrap(), stable);
        assert_eq!(stable.send(Ping).await, Ok(1), "stable was restarted with mid");
        assert_eq!(bad.send(Ping).await, Ok(1));
        assert_eq!(sibling.send(Ping).await, Ok(2), "root is one-for-one");
        let mid = tree.supervisor("mid").unwrap();
        let infos = within(mid.which_children()).await;
        assert_eq!(infos[1].restarts, 2);
        assert!(infos.iter().all(|c| c.state == ChildState::Running));

        // A second exhaustion of mid is one restart too many for root.
        for n in 3..=4 {
            assert_eq!(bad.send(Boom).await, Err(MailboxError::Closed));
            wait_started(&mut events, "root/mid/bad", n).await;
        }
        assert_eq!(bad.send(Boom).await, Err(MailboxError::Closed));
        let reason = within(tree.wait()).await;
        let StopReason::Failed(why) = &reason else {
            panic!("expected a failure, got {reason:?}");
        };
        assert!(why.contains("supervisor `root` gave up"), "{why}");
        assert!(why.contains("supervisor `root/mid` gave up"), "{why}");

        let mut seen = Vec::new();
        while let Ok(e) = escalations.try_recv() {
            if is_give_up_or_escalation(&e) {
                seen.push(e.path);
            }
        }
        assert_eq!(seen, ["root/mid", "root/mid", "root"]);

        // Everything is down for good.
        for addr in [&stable, &bad, &sibling] {
            assert!(!addr.connected());
            assert!(addr.stop_reason().is_some());
        }
        assert!(!tree.is_running());
        assert_eq!(within(bad.send(Ping)).await, Err(MailboxError::Closed));
        assert!(tree.child::<Probe>("mid/stable").is_none());
        let log = log.take();
        for name in ["sibling", "stable", "bad"] {
            let starts = log.iter().filter(|e| **e == format!("start {name}")).count();
            let drops = log.iter().filter(|e| **e == format!("drop {name}")).count();
            assert_eq!(starts, drops, "{name}: every instance dropped");
        }
        // sibling: once; stable: twice (with each mid); bad: 3 + 3 crashes.
        let drops = |name: &str| log.iter().filter(|e| **e == format!("drop {name}")).count();
        assert_eq!((drops("sibling"), drops("stable"), drops("bad")), (1, 2, 6));
    })
}

/// Panics in `started`: every instance fails before handling anything.
struct Doomed;
impl Actor for Doomed {
    async fn started(&mut self, _: &mut Context<Self>) {
        panic!("doomed from the start");
    }
}

#[test]
fn a_worker_that_always_fails_brings_the_tree_down_with_the_reason() {
    let built = Arc::new(AtomicUsize::new(0));
    let reason = system().block_on(async {
        let counter = built.clone();
        let mid = Supervisor::builder()
            .intensity(2, Duration::from_secs(60))
            .child(ChildSpec::new("doomed", move || {
                counter.fetch_add(1, Ordering::SeqCst);
                Doomed
            }));
        let tree = Supervisor::builder()
            .name("app")
            .intensity(1, Duration::from_secs(60))
            .child(ChildSpec::supervisor("mid", mid))
            .start();
        within(tree.wait()).await
    });
    // Each mid instance: 1 start + 2 restarts; root restarts mid once.
    assert_eq!(built.load(Ordering::SeqCst), 6);
    let StopReason::Failed(why) = reason else {
        panic!("expected a failure, got {reason:?}");
    };
    assert!(why.contains("`app/mid`"), "{why}");
    assert!(why.contains("doomed from the start"), "{why}");
}

#[test]
fn a_failing_factory_counts_as_a_failure() {
    let reason = system().block_on(async {
        let tree = Supervisor::builder()
            .intensity(3, Duration::from_secs(60))
            .child(ChildSpec::new("nope", || -> Probe {
                panic!("cannot build")
            }))
            .start();
        within(tree.wait()).await
    });
    assert!(
        matches!(&reason, StopReason::Failed(why) if why.contains("cannot build")),
        "{reason:?}"
    );
}
