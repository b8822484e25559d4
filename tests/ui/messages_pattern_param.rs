use kioto::prelude::*;

struct A;
impl Actor for A {}

#[kioto::messages]
impl A {
    #[message]
    fn pair(&mut self, (_a, _b): (u8, u8)) {}

    #[message]
    fn ignored(&mut self, _: u8) {}
}

fn main() {}
