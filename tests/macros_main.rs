//! `#[kioto::main]` and `#[kioto::test]` through the facade.

use std::sync::atomic::{AtomicUsize, Ordering};

use kioto::prelude::*;

#[derive(Message)]
#[rtype(u32)]
struct Get;

struct Answer;

impl Actor for Answer {}

impl Handler<Get> for Answer {
    async fn handle(&mut self, _msg: Get, _ctx: &mut Context<Self>) -> u32 {
        42
    }
}

#[kioto::test]
async fn default_test_runs_actors_and_tasks() {
    let addr = Answer.start();
    assert_eq!(addr.send(Get).await.unwrap(), 42);
    let joined = kioto::rt::spawn(async { 6 * 7 }).await.unwrap();
    assert_eq!(joined, 42);
}

#[kioto::test(worker_threads = 4)]
async fn worker_threads_option() {
    let handles: Vec<_> = (0..8).map(|i| kioto::rt::spawn(async move { i })).collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    assert_eq!(sum, 28);
}

#[kioto::test(worker_threads = 1)]
async fn returns_ok() -> Result<(), MailboxError> {
    let addr = Answer.start();
    assert_eq!(addr.send(Get).await?, 42);
    Ok(())
}

#[kioto::test]
#[should_panic(expected = "boom")]
async fn panic_fails_the_test() {
    panic!("boom");
}

static IGNORED_RAN: AtomicUsize = AtomicUsize::new(0);

#[kioto::test]
#[ignore = "checks that #[ignore] is kept"]
async fn ignored() {
    IGNORED_RAN.fetch_add(1, Ordering::SeqCst);
}

mod app {
    use kioto::prelude::*;

    /// An entry point returning a `Result`, with `?` and an early return.
    #[kioto::main(worker_threads = 2)]
    pub async fn main() -> Result<u32, MailboxError> {
        let addr = super::Answer.start();
        let answer = addr.send(super::Get).await?;
        if answer == 0 {
            return Ok(0);
        }
        Ok(answer + 1)
    }
}

mod plain {
    /// An entry point returning `()`, with the runtime's default workers.
    #[kioto::main]
    pub async fn main() {
        let value = kioto::rt::spawn(async { 1 }).await.unwrap();
        assert_eq!(value, 1);
    }
}

#[test]
fn main_builds_a_system_and_runs_the_body() {
    assert_eq!(app::main(), Ok(43));
    plain::main();
    assert_eq!(IGNORED_RAN.load(Ordering::SeqCst), 0);
}
