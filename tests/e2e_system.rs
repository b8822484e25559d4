//! `System`, the name registry and `SystemService` through the facade only,
//! from `#[kioto::test]`, from a plain `#[test]` with `System::new()`, and
//! from inside actors and plain tasks.

use std::time::Duration;

use kioto::prelude::*;
use kioto::rt::time::sleep;

#[derive(Default)]
struct Store {
    items: Vec<String>,
}

impl Actor for Store {}

#[kioto::messages]
impl Store {
    #[message]
    fn put(&mut self, item: String) -> usize {
        self.items.push(item);
        self.items.len()
    }

    /// Which system the actor sees while it runs.
    #[message]
    fn system_id(&mut self) -> u64 {
        System::current().id()
    }

    /// Uses the system's `Counter` service from inside a handler.
    #[message]
    async fn bump_counter(&mut self) -> u64 {
        Counter::from_registry().send(Bump).await.unwrap()
    }

    /// Looks a peer up by name from inside a handler.
    #[message]
    async fn forward(&mut self, to: String, item: String) -> Option<usize> {
        let peer = System::current().lookup::<Store>(&to)?;
        peer.send(Put { item }).await.ok()
    }
}

/// Waits (bounded) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        sleep(Duration::from_millis(2)).await;
    }
    panic!("timed out waiting until {what}");
}

#[kioto::test]
async fn current_system_is_the_same_in_tests_and_actors() {
    let system = System::current();
    let store = Store::default().start();
    assert_eq!(store.send(SystemId).await, Ok(system.id()));
}

/// In a plain task (`kioto::rt::spawn`), `System::current()` is the system
/// whose runtime runs the task, not merely the newest one: with two systems
/// alive (parallel `#[kioto::test]`s are exactly that) a task must not see
/// the other's registry.
#[test]
fn current_system_in_a_plain_task_is_the_tasks_own() {
    let older = System::new();
    let _newer = System::new();
    let seen = older.block_on(async {
        kioto::rt::spawn(async { System::current().id() })
            .await
            .unwrap()
    });
    assert_eq!(seen, older.id());
}

#[kioto::test]
async fn register_and_lookup_by_name() {
    let system = System::current();
    let a = Store::default().start();
    let b = Store::default().start();
    system.register("a", &a);
    system.register("b", &b);

    assert_eq!(system.lookup::<Store>("a"), Some(a.clone()));
    assert_eq!(system.lookup::<Store>("missing"), None);
    // The wrong type is a miss, not a panic.
    assert_eq!(system.lookup::<Counter>("a"), None);

    // One actor finds the other by name from its handler.
    let forwarded = a.send(Forward {
        to: "b".into(),
        item: "x".into(),
    });
    assert_eq!(forwarded.await, Ok(Some(1)));
    assert_eq!(b.send(Put { item: "y".into() }).await, Ok(2));

    // Registering again replaces the entry.
    system.register("a", &b);
    assert_eq!(system.lookup::<Store>("a"), Some(b.clone()));
}

#[kioto::test]
async fn a_stopped_actor_leaves_the_registry() {
    let system = System::current();
    let store = Store::default().start();
    system.register("store", &store);
    store.stop();
    eventually("the store has stopped", || store.stop_reason().is_some()).await;
    assert_eq!(store.stop_reason(), Some(StopReason::Normal));
    assert_eq!(system.lookup::<Store>("store"), None);
}

/// A counter shared by the whole system.
#[derive(Default)]
struct Counter {
    n: u64,
}

impl Actor for Counter {}
impl SystemService for Counter {}

#[kioto::messages]
impl Counter {
    #[message]
    fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }
}

#[kioto::test]
async fn system_service_is_one_actor_per_system() {
    let first = Counter::from_registry();
    assert_eq!(first.send(Bump).await, Ok(1));
    // From an actor's handler, the same instance.
    let store = Store::default().start();
    assert_eq!(store.send(BumpCounter).await, Ok(2));
    assert_eq!(Counter::from_registry(), first);
}

#[test]
fn systems_are_separate() {
    let one = System::new();
    let two = System::new();
    let (id_one, n_one) = one.block_on(async {
        let n = Counter::from_registry().send(Bump).await.unwrap();
        (System::current().id(), n)
    });
    let (id_two, n_two) = two.block_on(async {
        let n = Counter::from_registry().send(Bump).await.unwrap();
        (System::current().id(), n)
    });
    assert_eq!((id_one, id_two), (one.id(), two.id()));
    assert_ne!(id_one, id_two);
    // Each system has its own service instance.
    assert_eq!((n_one, n_two), (1, 1));
}

#[test]
fn block_on_runs_until_stopped() {
    let system = System::new();
    let store = system.block_on(async { Store::default().start() });
    let handle = system.clone();
    system.handle().spawn(async move {
        sleep(Duration::from_millis(10)).await;
        handle.stop();
    });
    // The actix "run until stopped" loop; actors keep serving meanwhile.
    system.block_on(async {
        assert_eq!(store.send(Put { item: "x".into() }).await, Ok(1));
        System::current().stopped().await;
    });
    assert!(system.is_stopped());
    drop(system);
    // Dropping the owning `System` shut the runtime down: the actor is gone.
    assert!(!store.connected());
    assert_eq!(store.stop_reason(), Some(StopReason::Killed));
}
