use kioto::prelude::*;

struct Stack<T> {
    items: Vec<T>,
}
impl<T: Send + 'static> Actor for Stack<T> {}

#[kioto::messages]
impl<T: Send + 'static> Stack<T> {
    #[message]
    fn push(&mut self, item: T) {
        self.items.push(item);
    }

    #[message]
    fn snapshot(&mut self) -> Self {
        todo!()
    }
}

fn main() {}
