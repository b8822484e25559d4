//! An `Addr` kept after its runtime is gone pins nothing of that runtime:
//! the actor task is dropped at shutdown, its mailbox closes and lets go of
//! the task's waker, so the runtime's epoll and event fds are closed.
//!
//! One test alone in its binary: it counts the process's open file
//! descriptors, which other tests running beside it would change.

mod support;

use std::time::Duration;

use kioto_actor::prelude::*;

struct Echo;
impl Actor for Echo {}

struct Hi;
impl Message for Hi {
    type Result = u8;
}
impl Handler<Hi> for Echo {
    async fn handle(&mut self, _: Hi, _: &mut Context<Self>) -> u8 {
        1
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn an_addr_that_outlives_its_runtime_keeps_no_runtime_resources() {
    let before = open_fds();
    let system = support::system();
    let addr = system.block_on(async {
        let addr = Echo.start();
        // Handled once, so the actor sleeps with its waker registered.
        assert_eq!(addr.send(Hi).await, Ok(1));
        addr
    });
    assert!(open_fds() > before, "a runtime opens descriptors");
    drop(system);
    let mut now = open_fds();
    for _ in 0..1_000 {
        if now <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        now = open_fds();
    }
    assert_eq!(
        now, before,
        "the runtime's descriptors stay open while an Addr lives"
    );
    assert!(!addr.connected());
    // A later runtime still gets a clear answer from the dead address.
    let later = support::system();
    assert_eq!(later.block_on(addr.send(Hi)), Err(MailboxError::Closed));
}
