//! Stable addresses: a child's `Addr` and mailbox survive its restarts.

#[path = "support/supervisor.rs"]
mod sup;
mod support;

use std::time::Duration;

use kioto_actor::prelude::*;
use kioto_actor::supervisor::EventKind;
use sup::{probe, wait_event, wait_started, within, Boom, Log, Ping, Probe};
use support::system;

#[test]
fn a_client_keeps_talking_to_a_child_across_ten_restarts() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .intensity(100, Duration::from_secs(60))
            .child(probe("w", &log))
            .start();
        let w = tree.child::<Probe>("w").unwrap();
        let id = w.id();
        // A client task holding only its own clone of the address.
        let client = {
            let w = w.clone();
            kioto_rt::spawn(async move {
                let mut replies = Vec::new();
                for _ in 0..10 {
                    replies.push(w.send(Ping).await);
                    replies.push(w.send(Ping).await);
                    replies.push(w.send(Boom).await.map(|()| 0));
                }
                replies.push(w.send(Ping).await);
                replies
            })
        };
        let replies = within(client).await.unwrap();
        let mut expected = Vec::new();
        for _ in 0..10 {
            expected.extend([Ok(1), Ok(2), Err(MailboxError::Closed)]);
        }
        expected.push(Ok(1));
        assert_eq!(replies, expected);

        assert_eq!(tree.child::<Probe>("w").unwrap(), w, "same address");
        assert_eq!(w.id(), id);
        let info = &within(tree.which_children()).await[0];
        assert_eq!(info.restarts, 10);
        assert_eq!(info.id, id);
        tree.stop();
        within(tree.wait()).await;
        let drops = log.take().iter().filter(|e| e.starts_with("drop")).count();
        assert_eq!(drops, 11, "ten crashed instances and the last one");
    })
}

#[test]
fn messages_queued_behind_a_poison_message_survive_the_crash() {
    const N: u64 = 1_000;
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .child(probe("w", &log).capacity(2 * N as usize))
            .start();
        within(tree.which_children()).await;
        let w = tree.child::<Probe>("w").unwrap();
        // Enqueue the poison and everything behind it before the actor gets
        // a chance to run: `send` places the message at the call.
        let poison = w.send(Boom);
        let requests: Vec<_> = (0..N).map(|_| w.send(Ping)).collect();
        assert_eq!(within(poison).await, Err(MailboxError::Closed));
        let mut replies = Vec::new();
        for r in requests {
            replies.push(within(r).await.expect("handled by the new instance"));
        }
        assert_eq!(
            replies,
            (1..=N).collect::<Vec<_>>(),
            "in order, one instance"
        );
        tree.stop();
        within(tree.wait()).await;
        assert_eq!(
            log.take(),
            ["start w", "drop w", "start w", "stop w", "drop w"]
        );
    })
}

#[test]
fn messages_wait_in_the_mailbox_during_a_backoff() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder()
            .intensity(10, Duration::from_secs(60))
            .backoff(Duration::from_millis(50), Duration::from_millis(400))
            .child(probe("w", &log))
            .start();
        within(tree.which_children()).await;
        let mut events = tree.events();
        let w = tree.child::<Probe>("w").unwrap();
        let mut delays = Vec::new();
        for round in 1..=3u32 {
            let _ = w.send(Boom).await;
            let e = wait_event(&mut events, |e| {
                matches!(e.kind, EventKind::Restarting { .. })
            })
            .await;
            let EventKind::Restarting { restarts, delay } = e.kind else {
                unreachable!()
            };
            assert_eq!(restarts, round);
            delays.push(delay);
            // Sent during the backoff: waits in the mailbox.
            assert_eq!(within(w.send(Ping)).await, Ok(1));
        }
        assert_eq!(
            delays,
            [50, 100, 200].map(Duration::from_millis),
            "exponential backoff"
        );
        tree.stop();
        within(tree.wait()).await;
    })
}

#[test]
fn restart_child_keeps_the_address() {
    system().block_on(async {
        let log = Log::default();
        let tree = Supervisor::builder().child(probe("w", &log)).start();
        within(tree.which_children()).await;
        let w = tree.child::<Probe>("w").unwrap();
        assert_eq!(w.send(Ping).await, Ok(1));
        let mut events = tree.events();
        within(tree.restart_child("w")).await.unwrap();
        wait_started(&mut events, "root/w", 0).await;
        assert_eq!(
            w.send(Ping).await,
            Ok(1),
            "a fresh instance behind the same address"
        );
        assert_eq!(
            log.take(),
            ["start w", "stop w", "drop w", "start w"],
            "a graceful restart"
        );
        tree.stop();
        within(tree.wait()).await;
    })
}
