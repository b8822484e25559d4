//! `#[derive(Message)]` through the facade: every shape, both `rtype` forms,
//! generics, and real round trips through an actor.

use std::any::TypeId;

use kioto::prelude::*;

/// The `Result` type of `M`, to compare with the expected one.
fn result_of<M: Message>() -> TypeId {
    TypeId::of::<M::Result>()
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Add(u64);

#[derive(Message)]
#[rtype(String)]
struct Greet {
    name: String,
}

#[derive(Message)]
struct Ping;

#[derive(Message)]
#[rtype(result = "Option<u64>")]
enum Query {
    Current,
    Plus { by: u64 },
}

#[derive(Message)]
#[rtype(Vec<T>)]
struct Repeat<T: Clone> {
    item: T,
    times: usize,
}

#[derive(Message)]
#[rtype(usize)]
struct Len<'a>(&'a str);

/// The derive is also reachable as `kioto::Message` without the prelude.
#[derive(kioto::Message)]
#[rtype(result = "()")]
struct Qualified;

#[test]
fn result_types() {
    assert_eq!(result_of::<Add>(), TypeId::of::<u64>());
    assert_eq!(result_of::<Greet>(), TypeId::of::<String>());
    assert_eq!(result_of::<Ping>(), TypeId::of::<()>());
    assert_eq!(result_of::<Query>(), TypeId::of::<Option<u64>>());
    assert_eq!(result_of::<Repeat<u8>>(), TypeId::of::<Vec<u8>>());
    assert_eq!(result_of::<Len<'static>>(), TypeId::of::<usize>());
    assert_eq!(result_of::<Qualified>(), TypeId::of::<()>());
}

#[derive(Default)]
struct Echo {
    total: u64,
    pings: usize,
}

impl Actor for Echo {}

impl Handler<Add> for Echo {
    async fn handle(&mut self, msg: Add, _ctx: &mut Context<Self>) -> u64 {
        self.total += msg.0;
        self.total
    }
}

impl Handler<Greet> for Echo {
    async fn handle(&mut self, msg: Greet, _ctx: &mut Context<Self>) -> String {
        format!("hello, {}", msg.name)
    }
}

impl Handler<Ping> for Echo {
    async fn handle(&mut self, _msg: Ping, _ctx: &mut Context<Self>) {
        self.pings += 1;
    }
}

impl Handler<Query> for Echo {
    async fn handle(&mut self, msg: Query, _ctx: &mut Context<Self>) -> Option<u64> {
        match msg {
            Query::Current => Some(self.total),
            Query::Plus { by } => self.total.checked_add(by),
        }
    }
}

impl Handler<Repeat<String>> for Echo {
    async fn handle(&mut self, msg: Repeat<String>, _ctx: &mut Context<Self>) -> Vec<String> {
        vec![msg.item; msg.times]
    }
}

impl Handler<Len<'static>> for Echo {
    async fn handle(&mut self, msg: Len<'static>, _ctx: &mut Context<Self>) -> usize {
        msg.0.len()
    }
}

#[kioto::test]
async fn derived_messages_round_trip() {
    let addr = Echo::default().start();
    assert_eq!(addr.send(Add(2)).await.unwrap(), 2);
    assert_eq!(addr.send(Add(3)).await.unwrap(), 5);
    assert_eq!(
        addr.send(Greet {
            name: "kioto".into()
        })
        .await
        .unwrap(),
        "hello, kioto"
    );
    addr.send(Ping).await.unwrap();
    assert_eq!(addr.send(Query::Current).await.unwrap(), Some(5));
    assert_eq!(addr.send(Query::Plus { by: 1 }).await.unwrap(), Some(6));
    let repeated = addr
        .send(Repeat {
            item: "a".to_string(),
            times: 3,
        })
        .await
        .unwrap();
    assert_eq!(repeated, ["a", "a", "a"]);
    assert_eq!(addr.send(Len("four")).await.unwrap(), 4);
}
