use kioto::prelude::*;

struct A;
impl Actor for A {}

#[kioto::messages]
impl A {
    #[message(nme = "Renamed")]
    fn a(&mut self) {}

    #[message(name = "not an ident")]
    fn b(&mut self) {}

    #[handler(name = "X")]
    fn c(&mut self, _msg: u8) {}

    #[message]
    #[handler]
    fn d(&mut self) {}

    #[message]
    const E: u8 = 1;
}

#[kioto::messages(krate = kioto)]
impl A {}

fn main() {}
