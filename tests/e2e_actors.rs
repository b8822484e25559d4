//! Actors end to end through `kioto::prelude::*` only: async handlers that
//! hold `&mut self` across awaits, recipients, timeouts, watching a crash.

use std::time::Duration;

use kioto::prelude::*;
use kioto::rt::sync::oneshot;
use kioto::rt::time::{sleep, timeout};

/// Holds a value; `slow_add` awaits in the middle of changing it.
#[derive(Default)]
struct Account {
    balance: u64,
    log: Vec<u64>,
}

impl Actor for Account {}

#[kioto::messages]
impl Account {
    /// Reads, awaits, then writes: safe, because the actor handles nothing
    /// else until this returns.
    #[message]
    async fn slow_add(&mut self, amount: u64, pause_ms: u64) -> u64 {
        let before = self.balance;
        sleep(Duration::from_millis(pause_ms)).await;
        self.balance = before + amount;
        self.log.push(amount);
        self.balance
    }

    /// Adds `amount` once `gate` opens: the actor is stuck in this handler
    /// until then.
    #[message]
    async fn add_when_open(&mut self, amount: u64, gate: oneshot::Receiver<()>) -> u64 {
        let _ = gate.await;
        self.balance += amount;
        self.balance
    }

    #[message]
    fn history(&mut self) -> Vec<u64> {
        self.log.clone()
    }

    #[message]
    fn explode(&mut self) {
        panic!("account exploded");
    }
}

#[derive(Message)]
#[rtype(u32)]
struct Echo(u32);

struct Echoer;

impl Actor for Echoer {}

impl Handler<Echo> for Echoer {
    async fn handle(&mut self, msg: Echo, _ctx: &mut Context<Self>) -> u32 {
        msg.0
    }
}

#[kioto::test]
async fn an_awaiting_handler_holds_its_state_in_order() {
    let account = Account::default().start();
    // Ten requests queued at once, each awaiting in the middle of its
    // read-modify-write: none is lost, and they run in the order sent.
    let requests: Vec<_> = (1..=10)
        .map(|i| {
            account.send(SlowAdd {
                amount: i,
                pause_ms: 2,
            })
        })
        .collect();
    let mut balances = Vec::new();
    for request in requests {
        balances.push(request.await.unwrap());
    }
    let expected: Vec<u64> = (1..=10)
        .scan(0, |sum, i| {
            *sum += i;
            Some(*sum)
        })
        .collect();
    assert_eq!(balances, expected);
    assert_eq!(
        account.send(History).await.unwrap(),
        (1..=10).collect::<Vec<_>>()
    );
}

#[kioto::test]
async fn an_awaiting_handler_blocks_only_its_own_actor() {
    let account = Account::default().start();
    let echoer = Echoer.start();
    let (open, gate) = oneshot::channel();
    let stuck = account.send(AddWhenOpen { amount: 5, gate });
    let behind = account.send(SlowAdd {
        amount: 1,
        pause_ms: 0,
    });

    // The account is stuck until the gate opens; the echoer is not.
    let answer = timeout(Duration::from_secs(10), echoer.send(Echo(7))).await;
    assert_eq!(answer.expect("the echoer is not held up"), Ok(7));

    open.send(()).unwrap();
    assert_eq!(stuck.await, Ok(5));
    assert_eq!(behind.await, Ok(6));
}

#[kioto::test]
async fn request_timeout_does_not_break_the_actor() {
    let account = Account::default().start();
    let (open, gate) = oneshot::channel();
    let stuck = account
        .send(AddWhenOpen { amount: 1, gate })
        .timeout(Duration::from_millis(10));
    // The requester gives up; the handler is still waiting on the gate.
    assert_eq!(stuck.await, Err(MailboxError::Timeout));
    open.send(()).unwrap();
    // The handler ran to completion anyway, and the actor keeps serving.
    let next = account.send(SlowAdd {
        amount: 2,
        pause_ms: 0,
    });
    assert_eq!(next.await, Ok(3));
}

#[kioto::test]
async fn recipients_erase_the_actor_type() {
    let a = Echoer.start();
    let b = Echoer.start();
    let recipients: Vec<Recipient<Echo>> = vec![a.recipient(), b.recipient()];
    let mut sum = 0;
    for (i, r) in recipients.iter().enumerate() {
        sum += r.send(Echo(i as u32 + 1)).await.unwrap();
    }
    assert_eq!(sum, 3);
}

/// Watches another actor and reports its death.
struct Watcher {
    seen: Option<oneshot::Sender<StopReason>>,
}

impl Actor for Watcher {}

#[kioto::messages]
impl Watcher {
    #[message]
    fn watch_account(&mut self, account: Addr<Account>, ctx: &mut Context<Self>) {
        ctx.watch(&account);
    }

    #[handler]
    fn on_terminated(&mut self, msg: Terminated) {
        if let Some(seen) = self.seen.take() {
            let _ = seen.send(msg.reason);
        }
    }
}

#[kioto::test]
async fn a_panicking_handler_stops_its_actor_and_watchers_hear_why() {
    let (tx, rx) = oneshot::channel();
    let watcher = Watcher { seen: Some(tx) }.start();
    let account = Account::default().start();
    watcher
        .send(WatchAccount {
            account: account.clone(),
        })
        .await
        .unwrap();

    // The request being handled at the crash gets `Closed`, never a hang.
    assert_eq!(account.send(Explode).await, Err(MailboxError::Closed));
    let reason = timeout(Duration::from_secs(5), rx).await.unwrap().unwrap();
    assert!(
        matches!(&reason, StopReason::Panicked(m) if m.contains("account exploded")),
        "{reason:?}"
    );
    assert!(!account.connected());
    assert_eq!(account.send(History).await, Err(MailboxError::Closed));
    // Other actors are untouched.
    assert!(watcher.connected());
}
