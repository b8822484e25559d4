use kioto::Message;

#[derive(Message)]
#[rtype]
struct Empty;

#[derive(Message)]
#[rtype(result = u64)]
struct Unquoted;

#[derive(Message)]
#[rtype(reslt = "u64")]
struct Misspelled;

#[derive(Message)]
#[rtype(result = "not a type")]
struct NotAType;

#[derive(Message)]
#[rtype(u64)]
#[rtype(u32)]
struct Twice;

fn main() {}
