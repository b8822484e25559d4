use kioto::prelude::*;

struct A;

#[kioto::messages]
impl Actor for A {
    #[message]
    fn ping(&mut self) {}
}

fn main() {}
