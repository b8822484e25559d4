use kioto::prelude::*;

#[derive(Message)]
struct Ping;

struct A;
impl Actor for A {}

#[kioto::messages]
impl A {
    #[handler]
    fn nothing(&mut self) {}

    #[handler]
    fn too_many(&mut self, _msg: Ping, _ctx: &mut Context<Self>, _extra: u8) {}

    #[handler]
    fn first(&mut self, _msg: Ping) {}

    #[handler]
    fn second(&mut self, _msg: Ping) {}
}

fn main() {}
