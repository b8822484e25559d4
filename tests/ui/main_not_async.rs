#[kioto::main]
fn main() {}
