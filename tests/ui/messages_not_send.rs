use kioto::prelude::*;

struct A;
impl Actor for A {}

async fn yield_once() {}

#[kioto::messages]
impl A {
    /// Holds an `Rc` across an await: the handler's future is not `Send`,
    /// and the error points at this method.
    #[message]
    async fn not_send(&mut self) -> u8 {
        let rc = std::rc::Rc::new(1u8);
        yield_once().await;
        *rc
    }
}

fn main() {}
