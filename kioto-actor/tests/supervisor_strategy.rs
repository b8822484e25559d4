//! Each strategy × each restart type, with a middle child that panics on a
//! message: which children restart, in which order (from the probes' own
//! hooks and drops), and that the others keep their state.

#[path = "support/supervisor.rs"]
mod sup;
mod support;

use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::supervisor::{ChildState, EventKind};
use sup::{probe, wait_event, wait_started, within, Boom, Fail, Log, Ping, Probe, Quit};
use support::system;

/// Runs the a, b, c scenario; returns the log from the crash on, and the
/// ping counts of `a` and `c` after one more ping each (2 = state kept,
/// 1 = restarted).
fn crash_b(strategy: Strategy, restart: Restart) -> (Vec<String>, Vec<String>, u64, u64) {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .strategy(strategy)
            .intensity(10, Duration::from_secs(60))
            .child(probe("a", &log).restart(restart))
            .child(probe("b", &log).restart(restart))
            .child(probe("c", &log).restart(restart))
            .start();
        // Answered once every child's `started` has returned.
        within(tree.which_children()).await;
        assert_eq!(log.take(), ["start a", "start b", "start c"]);

        let a = tree.child::<Probe>("a").unwrap();
        let b = tree.child::<Probe>("b").unwrap();
        let c = tree.child::<Probe>("c").unwrap();
        assert_eq!(a.send(Ping).await, Ok(1));
        assert_eq!(c.send(Ping).await, Ok(1));

        let mut events = tree.events();
        assert_eq!(b.send(Boom).await, Err(MailboxError::Closed));
        if restart == Restart::Temporary {
            wait_event(&mut events, |e| {
                e.path == "root/b" && matches!(e.kind, EventKind::Failed { .. })
            })
            .await;
        } else {
            let last = match strategy {
                Strategy::OneForOne => "root/b",
                _ => "root/c",
            };
            wait_started(&mut events, last, 1).await;
        }
        let children: Vec<String> = within(tree.which_children())
            .await
            .into_iter()
            .filter(|c| c.state == ChildState::Running)
            .map(|c| c.name)
            .collect();
        let crash_log = log.take();
        let pa = a.send(Ping).await.unwrap();
        let pc = c.send(Ping).await.unwrap();

        tree.stop();
        assert_eq!(within(tree.wait()).await, StopReason::Normal);
        assert_eq!(
            log.take().iter().filter(|e| e.starts_with("drop")).count(),
            children.len(),
            "every running child is dropped at shutdown"
        );
        (crash_log, children, pa, pc)
    })
}

const ALL: [&str; 3] = ["a", "b", "c"];

#[test]
fn one_for_one_restarts_only_the_failed_child() {
    for restart in [Restart::Permanent, Restart::Transient] {
        let (log, running, pa, pc) = crash_b(Strategy::OneForOne, restart);
        assert_eq!(log, ["drop b", "start b"], "{restart:?}");
        assert_eq!(running, ALL);
        assert_eq!((pa, pc), (2, 2), "a and c keep their state");
    }
}

#[test]
fn one_for_all_stops_the_others_in_reverse_and_restarts_all_in_order() {
    for restart in [Restart::Permanent, Restart::Transient] {
        let (log, running, pa, pc) = crash_b(Strategy::OneForAll, restart);
        assert_eq!(
            log,
            ["drop b", "stop c", "drop c", "stop a", "drop a", "start a", "start b", "start c"],
            "{restart:?}"
        );
        assert_eq!(running, ALL);
        assert_eq!((pa, pc), (1, 1), "a and c are fresh instances");
    }
}

#[test]
fn rest_for_one_restarts_the_failed_child_and_the_younger_ones() {
    for restart in [Restart::Permanent, Restart::Transient] {
        let (log, running, pa, pc) = crash_b(Strategy::RestForOne, restart);
        assert_eq!(
            log,
            ["drop b", "stop c", "drop c", "start b", "start c"],
            "{restart:?}"
        );
        assert_eq!(running, ALL);
        assert_eq!((pa, pc), (2, 1), "a keeps its state, c is fresh");
    }
}

#[test]
fn temporary_children_are_never_restarted_whatever_the_strategy() {
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        let (log, running, pa, pc) = crash_b(strategy, Restart::Temporary);
        assert_eq!(log, ["drop b"], "{strategy:?}");
        assert_eq!(running, ["a", "c"], "{strategy:?}: b is forgotten");
        assert_eq!((pa, pc), (2, 2), "{strategy:?}: nobody else is touched");
    }
}

#[test]
fn normal_exits_restart_only_permanent_children() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .intensity(10, Duration::from_secs(60))
            .child(probe("perm", &log).restart(Restart::Permanent))
            .child(probe("trans", &log).restart(Restart::Transient))
            .child(probe("temp", &log).restart(Restart::Temporary))
            .start();
        within(tree.which_children()).await;
        let mut events = tree.events();

        let perm = tree.child::<Probe>("perm").unwrap();
        perm.tell(Quit).await.unwrap();
        wait_started(&mut events, "root/perm", 1).await;
        assert_eq!(perm.send(Ping).await, Ok(1), "same address, new instance");

        let trans = tree.child::<Probe>("trans").unwrap();
        trans.tell(Quit).await.unwrap();
        let e = wait_event(&mut events, |e| e.path == "root/trans").await;
        assert_eq!(
            e.kind,
            EventKind::Exited {
                reason: StopReason::Normal
            }
        );
        assert_eq!(within(trans.send(Ping)).await, Err(MailboxError::Closed));
        assert_eq!(trans.stop_reason(), Some(StopReason::Normal));

        let temp = tree.child::<Probe>("temp").unwrap();
        temp.tell(Quit).await.unwrap();
        wait_event(&mut events, |e| e.path == "root/temp").await;

        let infos = within(tree.which_children()).await;
        let states: Vec<_> = infos.iter().map(|c| (c.name.as_str(), c.state)).collect();
        assert_eq!(
            states,
            [
                ("perm", ChildState::Running),
                ("trans", ChildState::Stopped)
            ]
        );
        assert_eq!(infos[0].restarts, 1);
        assert_eq!(infos[1].restarts, 0);
        tree.stop();
        within(tree.wait()).await;
    })
}

#[test]
fn a_transient_child_that_fails_is_restarted() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .child(probe("t", &log).restart(Restart::Transient))
            .start();
        within(tree.which_children()).await;
        let mut events = tree.events();
        let t = tree.child::<Probe>("t").unwrap();
        t.tell(Fail).await.unwrap();
        let e = wait_event(&mut events, |e| matches!(e.kind, EventKind::Failed { .. })).await;
        assert_eq!(
            e.kind,
            EventKind::Failed {
                reason: StopReason::Failed("asked to fail".into())
            }
        );
        wait_started(&mut events, "root/t", 1).await;
        assert_eq!(t.send(Ping).await, Ok(1));
        tree.stop();
        within(tree.wait()).await;
        assert_eq!(
            log.take(),
            ["start t", "stop t", "drop t", "start t", "stop t", "drop t"],
            "ctx.fail runs the stopped hook, unlike a panic"
        );
    })
}

#[test]
fn a_group_restart_after_a_backoff_keeps_the_start_order() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .strategy(Strategy::OneForAll)
            .backoff(Duration::from_millis(10), Duration::from_millis(10))
            .child(probe("a", &log))
            .child(probe("b", &log))
            .child(probe("c", &log))
            .start();
        within(tree.which_children()).await;
        log.take();
        let mut events = tree.events();
        let b = tree.child::<Probe>("b").unwrap();
        assert_eq!(b.send(Boom).await, Err(MailboxError::Closed));
        wait_started(&mut events, "root/c", 1).await;
        assert_eq!(
            log.take(),
            ["drop b", "stop c", "drop c", "stop a", "drop a", "start a", "start b", "start c"]
        );
        tree.stop();
        within(tree.wait()).await;
    })
}

#[test]
fn stopping_during_a_backoff_cancels_the_restart() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .backoff(Duration::from_secs(3600), Duration::from_secs(3600))
            .child(probe("a", &log))
            .child(probe("b", &log))
            .start();
        within(tree.which_children()).await;
        let mut events = tree.events();
        let b = tree.child::<Probe>("b").unwrap();
        let _ = b.send(Boom).await;
        wait_event(&mut events, |e| {
            matches!(e.kind, EventKind::Restarting { .. })
        })
        .await;
        let states: Vec<_> = within(tree.which_children())
            .await
            .into_iter()
            .map(|c| c.state)
            .collect();
        assert_eq!(states, [ChildState::Running, ChildState::Restarting]);
        let queued = b.send(Ping);
        tree.stop();
        assert_eq!(within(tree.wait()).await, StopReason::Normal);
        assert_eq!(within(queued).await, Err(MailboxError::Closed));
        assert_eq!(
            log.take(),
            ["start a", "start b", "drop b", "stop a", "drop a"]
        );
    })
}
