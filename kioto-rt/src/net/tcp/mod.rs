//! TCP: [`TcpListener`], [`TcpStream`] and the halves a stream splits into.
//!
//! [`TcpStream::split`] borrows the stream and gives a [`ReadHalf`] and a
//! [`WriteHalf`] usable concurrently in one task (e.g. in `join!`).
//! [`TcpStream::into_split`] gives an [`OwnedReadHalf`] and an
//! [`OwnedWriteHalf`] that can move to different tasks; the socket is closed
//! when both are dropped, and dropping the write half shuts down the
//! writing direction (the peer reads EOF).

mod listener;
mod split;
mod split_owned;
mod stream;

pub use listener::TcpListener;
pub use split::{ReadHalf, WriteHalf};
pub use split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::TcpStream;
