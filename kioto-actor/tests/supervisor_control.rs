//! Run-time control (`start_child`, `stop_child`, `restart_child`,
//! `delete_child`, `which_children`), lookup by path, the event stream, and
//! watching a tree like any actor.

#[path = "support/supervisor.rs"]
mod sup;
mod support;

use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::supervisor::{ChildState, EventKind, SupervisorError};
use sup::{probe, wait_event, wait_started, within, Boom, Log, Ping, Probe};
use support::{eventually, system};

#[test]
fn children_can_be_added_stopped_restarted_and_deleted() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder().child(probe("a", &log)).start();
        within(tree.which_children()).await;

        within(tree.start_child(probe("b", &log))).await.unwrap();
        assert_eq!(
            within(tree.start_child(probe("b", &log))).await,
            Err(SupervisorError::AlreadyExists("b".into()))
        );
        let b = tree.child::<Probe>("b").unwrap();
        assert_eq!(b.send(Ping).await, Ok(1));
        let names: Vec<_> = within(tree.which_children())
            .await
            .into_iter()
            .map(|c| (c.name, c.state))
            .collect();
        assert_eq!(
            names,
            [
                ("a".to_owned(), ChildState::Running),
                ("b".to_owned(), ChildState::Running)
            ]
        );

        within(tree.stop_child("b")).await.unwrap();
        assert!(!b.connected(), "stopped for good: the mailbox is closed");
        assert_eq!(b.stop_reason(), Some(StopReason::Normal));
        assert!(tree.child::<Probe>("b").is_none());
        assert_eq!(
            within(tree.which_children()).await[1].state,
            ChildState::Stopped
        );
        assert_eq!(
            within(tree.stop_child("zzz")).await,
            Err(SupervisorError::NotFound("zzz".into()))
        );

        // A stopped child comes back on a new mailbox.
        within(tree.restart_child("b")).await.unwrap();
        let b2 = tree.child::<Probe>("b").unwrap();
        assert_ne!(b2, b);
        assert_eq!(b2.send(Ping).await, Ok(1));

        assert_eq!(
            within(tree.delete_child("b")).await,
            Err(SupervisorError::Running("b".into()))
        );
        within(tree.stop_child("b")).await.unwrap();
        within(tree.delete_child("b")).await.unwrap();
        assert_eq!(within(tree.which_children()).await.len(), 1);

        tree.stop();
        within(tree.wait()).await;
        assert_eq!(
            within(tree.start_child(probe("c", &log))).await,
            Err(SupervisorError::Stopped)
        );
        assert_eq!(
            log.take(),
            [
                "start a", "start b", "stop b", "drop b", "start b", "stop b", "drop b", "stop a",
                "drop a"
            ]
        );
    })
}

#[test]
fn events_carry_tree_paths() {
    system().block_on(async {
        let log = Log::default();
        let pool = Supervisor::builder()
            .intensity(5, Duration::from_secs(60))
            .child(probe("pool-3", &log));
        let db = Supervisor::builder().child(ChildSpec::supervisor("pool", pool));
        let tree = Supervisor::builder()
            .name("app")
            .child(ChildSpec::supervisor("db", db))
            .start();
        within(tree.which_children()).await;
        let mut all = tree.events();
        let db_ref = tree.supervisor("db").unwrap();
        assert_eq!(db_ref.path(), "app/db");
        let mut below_db = db_ref.events();
        let w = tree.child::<Probe>("db/pool/pool-3").unwrap();
        assert_eq!(db_ref.child::<Probe>("pool/pool-3"), Some(w.clone()));
        assert!(
            tree.child::<Watcher>("db/pool/pool-3").is_none(),
            "wrong type"
        );
        assert!(tree.child::<Probe>("db/nope").is_none());

        let _ = w.send(Boom).await;
        wait_started(&mut all, "app/db/pool/pool-3", 1).await;
        let mut seen = Vec::new();
        wait_event(&mut below_db, |e| {
            seen.push(e.to_string());
            matches!(e.kind, EventKind::Started { .. })
        })
        .await;
        assert_eq!(
            seen,
            [
                "app/db/pool/pool-3: failed: panicked: boom in pool-3",
                "app/db/pool/pool-3: restarting (restart 1, in 0ns)",
                "app/db/pool/pool-3: started (restarts: 1)"
            ]
        );
        tree.stop();
        let e = wait_event(&mut all, |e| e.path == "app").await;
        assert_eq!(
            e.kind,
            EventKind::Stopped {
                reason: StopReason::Normal
            }
        );
    })
}

/// Watches a tree and records its end.
struct Watcher {
    seen: Log,
}
impl Actor for Watcher {}
impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, msg: Terminated, _: &mut Context<Self>) {
        self.seen.push(msg.reason.to_string());
    }
}

#[test]
fn a_tree_can_be_watched_like_any_actor() {
    system().block_on(async {
        let log = Log::default();
        let seen = Log::default();
        let tree = Supervisor::builder()
            .intensity(0, Duration::from_secs(60))
            .child(probe("w", &log))
            .start();
        let addr = tree.addr().clone();
        let _watcher = Watcher::create(|ctx| {
            ctx.watch(&addr);
            Watcher { seen: seen.clone() }
        });
        within(tree.which_children()).await;
        let w = tree.child::<Probe>("w").unwrap();
        let _ = w.send(Boom).await;
        let reason = within(tree.wait()).await;
        assert!(matches!(reason, StopReason::Failed(_)));
        eventually(|| seen.snapshot().len() == 1).await;
        assert_eq!(seen.take(), [reason.to_string()]);
    })
}

#[test]
fn dropping_every_handle_does_not_stop_the_tree() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder().child(probe("w", &log)).start();
        within(tree.which_children()).await;
        let w = tree.child::<Probe>("w").unwrap().downgrade();
        let addr = tree.addr().downgrade();
        drop(tree);
        for _ in 0..10 {
            kioto_rt::task::yield_now().await;
        }
        let w = w.upgrade().expect("the child still runs");
        assert_eq!(w.send(Ping).await, Ok(1));
        addr.upgrade().expect("the supervisor still runs").stop();
        eventually(|| !w.connected()).await;
    })
}
