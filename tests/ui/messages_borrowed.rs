use kioto::prelude::*;

struct A {
    name: String,
}
impl Actor for A {}

#[kioto::messages]
impl A {
    #[message]
    fn rename(&mut self, name: &str) {
        self.name = name.to_string();
    }

    #[message]
    fn name(&mut self) -> &str {
        &self.name
    }
}

fn main() {}
