//! TCP and UDP sockets driven by the runtime's reactor.
//!
//! Every socket is registered with the current runtime's mio poll when it
//! is created and deregistered when dropped. Operations wait for readiness
//! in one direction (read or write), try the syscall, and wait again on
//! `WouldBlock`; each wait spends one unit of the task's cooperative budget.
//!
//! Addresses are anything that implements [`std::net::ToSocketAddrs`].
//! Resolving a host name (rather than an IP literal) uses the system
//! resolver and blocks the calling worker for the lookup; resolve ahead of
//! time (or in `spawn_blocking`) where that matters.
//!
//! ```
//! use kioto_rt::net::{TcpListener, TcpStream};
//! use futures_util::io::{AsyncReadExt, AsyncWriteExt};
//! kioto_rt::Runtime::new().unwrap().block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     kioto_rt::spawn(async move {
//!         let (mut sock, _) = listener.accept().await.unwrap();
//!         let mut buf = [0u8; 5];
//!         sock.read_exact(&mut buf).await.unwrap();
//!         sock.write_all(&buf).await.unwrap();
//!     });
//!     let mut client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello").await.unwrap();
//!     let mut buf = [0u8; 5];
//!     client.read_exact(&mut buf).await.unwrap();
//!     assert_eq!(&buf, b"hello");
//! });
//! ```

pub mod tcp;
mod udp;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr` and runs `f` on each address until one succeeds,
/// returning the last error otherwise.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last_err = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}
