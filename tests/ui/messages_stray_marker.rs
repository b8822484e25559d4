use kioto::prelude::*;

struct A;

impl A {
    #[message]
    fn ping(&mut self) {}

    #[handler]
    fn on_ping(&mut self, _msg: u8) {}
}

fn main() {}
