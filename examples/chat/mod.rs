//! The chat server of `examples/chat-server.rs`, shared with `tests/chat.rs`
//! (both include this module by `#[path]`, so the test runs the code users
//! run).

pub mod protocol;
pub mod server;
