//! `#[kioto::messages]` through the facade: an actor written only with
//! `#[message]`/`#[handler]` methods, driven by its generated messages.

use kioto::prelude::*;

#[derive(Default)]
struct Counter {
    n: u64,
    pings: usize,
}

impl Actor for Counter {}

/// A message written by hand, handled with `#[handler]`.
#[derive(Message)]
#[rtype(result = "Pong")]
struct Ping;

#[derive(Debug, PartialEq)]
struct Pong(usize);

#[derive(Message)]
#[rtype(u64)]
struct Double;

#[kioto::messages]
impl Counter {
    /// Adds `by` and returns the new count.
    #[message]
    pub async fn inc(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// Not async, no return type.
    #[message]
    pub fn reset(&mut self) {
        self.n = 0;
    }

    /// A renamed message with derives; takes the context.
    #[message(name = "Current", derive(Debug, Clone, PartialEq))]
    fn get(&mut self, _ctx: &mut Context<Self>) -> u64 {
        self.n
    }

    /// Several fields, `mut` binding, and the actor's own address back.
    #[message]
    async fn add_two(&mut self, mut a: u64, b: u64, ctx: &mut Context<Self>) -> Addr<Self> {
        a += b;
        self.n += a;
        ctx.address()
    }

    #[handler]
    async fn on_ping(&mut self, _ping: Ping, _ctx: &mut Context<Self>) -> Pong {
        self.pings += 1;
        Pong(self.pings)
    }

    #[handler]
    fn on_double(&mut self, Double: Double) -> u64 {
        self.n *= 2;
        self.n
    }

    /// Left alone by the macro.
    fn peek(&self) -> u64 {
        self.n
    }
}

#[kioto::test]
async fn generated_messages_round_trip() {
    let addr = Counter::default().start();
    assert_eq!(addr.send(Inc { by: 2 }).await.unwrap(), 2);
    assert_eq!(addr.send(Inc { by: 3 }).await.unwrap(), 5);
    assert_eq!(addr.send(Current).await.unwrap(), 5);
    let me = addr.send(AddTwo { a: 1, b: 2 }).await.unwrap();
    assert!(me == addr, "the actor's own address comes back");
    assert_eq!(addr.send(Current).await.unwrap(), 8);
    assert_eq!(addr.send(Double).await.unwrap(), 16);
    assert_eq!(addr.send(Ping).await.unwrap(), Pong(1));
    assert_eq!(addr.send(Ping).await.unwrap(), Pong(2));
    addr.send(Reset).await.unwrap();
    assert_eq!(addr.send(Current).await.unwrap(), 0);
    assert_eq!(Current.clone(), Current);
}

#[kioto::test]
async fn methods_stay_callable() {
    let mut counter = Counter::default();
    assert_eq!(counter.inc(4).await, 4);
    counter.reset();
    assert_eq!(counter.peek(), 0);
}

mod visibility {
    use kioto::prelude::*;

    #[derive(Default)]
    pub struct Store {
        pub items: Vec<String>,
    }

    impl Actor for Store {}

    #[kioto::messages]
    impl Store {
        /// Public method: public struct and fields.
        #[message]
        pub fn put(&mut self, item: String) -> usize {
            self.items.push(item);
            self.items.len()
        }
    }
}

#[kioto::test]
async fn public_messages_are_usable_outside_their_module() {
    let addr = visibility::Store::default().start();
    let put = visibility::Put { item: "x".into() };
    assert_eq!(put.item, "x");
    assert_eq!(addr.send(put).await.unwrap(), 1);
}

/// A generic actor: the impl block's generics carry to the handlers.
struct Stack<T> {
    items: Vec<T>,
}

impl<T: Send + 'static> Actor for Stack<T> {}

#[derive(Message)]
#[rtype(result = "Option<T>")]
struct Pop<T>(std::marker::PhantomData<T>);

#[kioto::messages]
impl<T> Stack<T>
where
    T: Send + 'static,
{
    #[message]
    fn depth(&mut self) -> usize {
        self.items.len()
    }

    #[handler]
    async fn on_pop(&mut self, _msg: Pop<T>) -> Option<T> {
        self.items.pop()
    }
}

#[kioto::test]
async fn generic_actor() {
    let addr = Stack {
        items: vec![1u32, 2],
    }
    .start();
    assert_eq!(addr.send(Depth).await.unwrap(), 2);
    assert_eq!(
        addr.send(Pop(std::marker::PhantomData)).await.unwrap(),
        Some(2)
    );
    assert_eq!(addr.send(Depth).await.unwrap(), 1);
}
