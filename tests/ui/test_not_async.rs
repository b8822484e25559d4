#[kioto::test]
fn not_async() {}

#[kioto::test]
#[test]
async fn test_twice() {}

fn main() {}
