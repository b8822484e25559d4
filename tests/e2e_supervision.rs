//! Supervision trees through `kioto::prelude::*`: children that panic are
//! restarted behind the address everyone already holds.

use std::time::Duration;

use kioto::prelude::*;
use kioto::rt::time::{sleep, timeout};

/// A counter that can be made to crash.
#[derive(Default)]
struct Store {
    n: u64,
}

impl Actor for Store {}

#[kioto::messages]
impl Store {
    #[message]
    fn inc(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    #[message]
    fn crash(&mut self) {
        panic!("store crashed on purpose");
    }

    /// Crashes after a pause, so messages can queue up behind it.
    #[message]
    async fn crash_later(&mut self, pause_ms: u64) {
        sleep(Duration::from_millis(pause_ms)).await;
        panic!("store crashed later on purpose");
    }
}

/// A second kind of child, to show that siblings are left alone.
#[derive(Default)]
struct Api {
    calls: u64,
}

impl Actor for Api {}

#[kioto::messages]
impl Api {
    #[message]
    fn call(&mut self) -> u64 {
        self.calls += 1;
        self.calls
    }
}

async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match timeout(Duration::from_secs(10), fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out: {what}"),
    }
}

#[kioto::test]
async fn a_crashed_child_keeps_its_address_and_its_siblings_keep_their_state() {
    let tree = Supervisor::builder()
        .strategy(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::new("store", Store::default))
        .child(ChildSpec::new("api", Api::default).restart(Restart::Transient))
        .start();
    let store: Addr<Store> = tree.child("store").unwrap();
    let api: Addr<Api> = tree.child("api").unwrap();

    assert_eq!(store.send(Inc).await, Ok(1));
    assert_eq!(store.send(Inc).await, Ok(2));
    assert_eq!(api.send(Call).await, Ok(1));

    // The request being handled at the crash is lost...
    assert_eq!(store.send(Crash).await, Err(MailboxError::Closed));
    // ...but the address held before the crash reaches the new instance,
    // which starts from fresh state.
    assert_eq!(within("restarted store", store.send(Inc)).await, Ok(1));
    assert!(store.connected());
    assert_eq!(tree.child::<Store>("store"), Some(store.clone()));
    // One-for-one: the sibling was not restarted.
    assert_eq!(api.send(Call).await, Ok(2));

    tree.stop();
    assert_eq!(within("tree stop", tree.wait()).await, StopReason::Normal);
    assert!(!store.connected());
    assert_eq!(store.send(Inc).await, Err(MailboxError::Closed));
}

#[kioto::test]
async fn messages_queued_behind_a_crash_reach_the_next_instance() {
    let tree = Supervisor::builder()
        .child(ChildSpec::new("store", Store::default))
        .start();
    let store: Addr<Store> = tree.child("store").unwrap();

    let crash = store.send(CrashLater { pause_ms: 20 });
    // Queued while the first instance is still inside `crash_later`.
    let queued: Vec<_> = (0..3).map(|_| store.send(Inc)).collect();

    assert_eq!(crash.await, Err(MailboxError::Closed));
    let mut counts = Vec::new();
    for request in queued {
        counts.push(within("queued request", request).await.unwrap());
    }
    assert_eq!(counts, [1, 2, 3]);
}

#[kioto::test]
async fn nested_trees_restart_behind_stable_paths_and_names() {
    let tree = Supervisor::builder()
        .name("app")
        .intensity(5, Duration::from_secs(5))
        .child(ChildSpec::new("api", Api::default))
        .child(ChildSpec::supervisor(
            "db",
            Supervisor::builder()
                .strategy(Strategy::OneForAll)
                .intensity(5, Duration::from_secs(5))
                .child(ChildSpec::new("primary", Store::default))
                .child(ChildSpec::new("replica", Store::default)),
        ))
        .start();
    let primary: Addr<Store> = tree.child("db/primary").unwrap();
    let replica: Addr<Store> = tree.child("db/replica").unwrap();
    assert_eq!(tree.child::<Api>("db/primary"), None, "wrong type");
    assert_eq!(tree.child::<Store>("db/missing"), None);

    // Addresses can be published by name, and stay valid across restarts.
    let system = System::current();
    system.register("primary", &primary);

    assert_eq!(primary.send(Inc).await, Ok(1));
    assert_eq!(replica.send(Inc).await, Ok(1));
    assert_eq!(replica.send(Inc).await, Ok(2));

    // One-for-all inside `db`: the replica's crash restarts both.
    assert_eq!(replica.send(Crash).await, Err(MailboxError::Closed));
    assert_eq!(within("restarted replica", replica.send(Inc)).await, Ok(1));
    assert_eq!(within("restarted primary", primary.send(Inc)).await, Ok(1));

    let db = tree.supervisor("db").unwrap();
    assert_eq!(db.path(), "app/db");
    let children = db.which_children().await;
    let restarts: Vec<_> = children
        .iter()
        .map(|c| (c.name.as_str(), c.restarts))
        .collect();
    assert_eq!(restarts, [("primary", 1), ("replica", 1)]);

    assert_eq!(system.lookup::<Store>("primary"), Some(primary.clone()));
    tree.stop();
    assert_eq!(within("tree stop", tree.wait()).await, StopReason::Normal);
    assert_eq!(system.lookup::<Store>("primary"), None);
}

#[kioto::test]
async fn too_many_crashes_make_the_root_give_up() {
    let tree = Supervisor::builder()
        .intensity(1, Duration::from_secs(60))
        .child(ChildSpec::new("store", Store::default))
        .start();
    let store: Addr<Store> = tree.child("store").unwrap();

    // First crash: restarted (1 restart allowed per minute).
    assert_eq!(store.send(Crash).await, Err(MailboxError::Closed));
    assert_eq!(within("restarted store", store.send(Inc)).await, Ok(1));
    // Second crash within the period: the root stops its child and fails.
    assert_eq!(store.send(Crash).await, Err(MailboxError::Closed));
    let reason = within("root gives up", tree.wait()).await;
    assert!(matches!(reason, StopReason::Failed(_)), "{reason:?}");
    assert!(!tree.is_running());
    assert!(!store.connected());
    assert_eq!(tree.child::<Store>("store"), None);
}
