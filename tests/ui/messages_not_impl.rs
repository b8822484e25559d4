#[kioto::messages]
struct A;

#[kioto::messages]
fn free() {}

fn main() {}
