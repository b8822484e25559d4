use kioto::prelude::*;

struct A;
impl Actor for A {}

#[kioto::messages]
impl A {
    #[message]
    fn shared(&self) {}

    #[message]
    fn no_receiver() {}

    #[handler]
    fn by_value(self, _msg: Ping) {}
}

#[derive(Message)]
struct Ping;

fn main() {}
