use kioto::prelude::*;

struct A;
impl Actor for A {}

#[kioto::messages]
impl A {
    #[message]
    fn put<T: Send + 'static>(&mut self, _item: T) {}

    #[message]
    fn show(&mut self, _item: impl std::fmt::Display) {}
}

fn main() {}
