//! [`TcpStream`]: a connected TCP socket.

use super::split::{split, ReadHalf, WriteHalf};
use super::split_owned::{split_owned, OwnedReadHalf, OwnedWriteHalf};
use crate::driver::DriverHandle;
use crate::io::poll_evented::PollEvented;
use crate::io::readiness::{Direction, Ready};
use crate::loom::sync::Arc;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A TCP connection.
///
/// Implements [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]
/// (`poll_flush` does nothing: writes go straight to the kernel;
/// `poll_close` shuts down the writing direction). Reading after the peer
/// closed returns `Ok(0)`.
///
/// ```
/// use kioto_rt::net::{TcpListener, TcpStream};
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = TcpStream::connect(addr).await.unwrap();
///     let (server, _) = listener.accept().await.unwrap();
///     client.writable().await.unwrap();
///     assert_eq!(client.try_write(b"ping").unwrap(), 4);
///     let mut buf = [0u8; 16];
///     loop {
///         server.readable().await.unwrap();
///         match server.try_read(&mut buf) {
///             Ok(n) => { assert_eq!(&buf[..n], b"ping"); break; }
///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
///             Err(e) => panic!("{e}"),
///         }
///     }
/// });
/// ```
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn.
    ///
    /// A closed port gives `ErrorKind::ConnectionRefused`.
    ///
    /// # Panics
    ///
    /// Outside a Kioto runtime.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::super::each_addr(addr, connect_addr).await
    }

    pub(crate) fn from_mio(
        stream: mio::net::TcpStream,
        handle: Arc<DriverHandle>,
    ) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new_with_handle(stream, handle)?,
        })
    }

    /// Wraps a connected std stream (switched to non-blocking mode here).
    ///
    /// # Panics
    ///
    /// Outside a Kioto runtime.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Self::from_mio(
            mio::net::TcpStream::from_std(stream),
            crate::runtime::context::driver(),
        )
    }

    /// The local address of this connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The remote address of this connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// The `TCP_NODELAY` option.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets the `IP_TTL` option.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The `IP_TTL` option.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Waits until the socket may be readable (data, EOF or an error).
    /// May wake spuriously: follow with [`try_read`](Self::try_read) and
    /// loop on `WouldBlock`.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.ready(Direction::Read).await.map(drop)
    }

    /// Waits until the socket may be writable. May wake spuriously: follow
    /// with [`try_write`](Self::try_write) and loop on `WouldBlock`.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.ready(Direction::Write).await.map(drop)
    }

    /// Reads what is available without waiting; `WouldBlock` if nothing is.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |mut s| s.read(buf))
    }

    /// Writes what fits without waiting; `WouldBlock` if nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |mut s| s.write(buf))
    }

    /// Reads into `buf`, waiting for data; `Ok(0)` at EOF.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.io.poll_read(cx, buf)).await
    }

    /// Writes some of `buf`, waiting for room; returns how much was written.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.io.poll_write(cx, buf)).await
    }

    /// Shuts down the reading, writing or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Splits into halves borrowing `self`, usable concurrently in one task.
    ///
    /// With `futures_util::io::AsyncReadExt` in scope, method syntax
    /// (`stream.split()`) resolves to that trait's by-value `split` (a
    /// lock-based split); write `TcpStream::split(&mut stream)` to get this
    /// one, or use [`into_split`](Self::into_split).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split(self)
    }

    /// Splits into owned halves that can move to different tasks.
    ///
    /// ```
    /// use kioto_rt::net::{TcpListener, TcpStream};
    /// use futures_util::io::{AsyncReadExt, AsyncWriteExt};
    /// kioto_rt::Runtime::new().unwrap().block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     let (mut rd, mut wr) = client.into_split();
    ///     let writer = kioto_rt::spawn(async move {
    ///         wr.write_all(b"hi").await.unwrap();
    ///     });
    ///     let (mut srd, mut swr) = server.into_split();
    ///     let mut buf = [0u8; 2];
    ///     srd.read_exact(&mut buf).await.unwrap();
    ///     swr.write_all(&buf).await.unwrap();
    ///     rd.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"hi");
    ///     writer.await.unwrap();
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Direction::Write, |mut s| s.write_vectored(bufs))
    }

    pub(crate) fn shutdown_write(&self) -> Poll<io::Result<()>> {
        match self.io.get_ref().shutdown(Shutdown::Write) {
            // Already closed by the peer: the direction is shut either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            res => Poll::Ready(res),
        }
    }
}

async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let sys = mio::net::TcpStream::connect(addr)?;
    let stream = TcpStream::from_mio(sys, crate::runtime::context::driver())?;
    loop {
        // Connection completion shows up as writability (or an error).
        let event = stream.io.ready(Direction::Write).await?;
        if let Some(e) = stream.io.get_ref().take_error()? {
            return Err(e);
        }
        match stream.io.get_ref().peer_addr() {
            Ok(_) => return Ok(stream),
            Err(e)
                if (e.kind() == io::ErrorKind::NotConnected
                    || e.raw_os_error() == Some(libc::EINPROGRESS))
                    && !event.ready.intersects(Ready::WRITE_CLOSED) =>
            {
                // Spurious wake-up: not connected yet.
                stream.io.clear_readiness(event);
            }
            Err(e) => return Err(e),
        }
    }
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, buf)
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
