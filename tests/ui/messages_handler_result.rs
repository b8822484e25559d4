use kioto::prelude::*;

#[derive(Message)]
#[rtype(result = "u64")]
struct Get;

struct Wrong;

struct A;
impl Actor for A {}

#[kioto::messages]
impl A {
    #[handler]
    async fn on_get(&mut self, _msg: Get) -> Wrong {
        Wrong
    }
}

struct B;
impl Actor for B {}

#[kioto::messages]
impl B {
    #[handler]
    fn on_get(&mut self, _msg: Get) {}
}

fn main() {}
