//! A mio source registered with the current runtime's driver.
//!
//! `PollEvented` owns the mio source, its token in the driver's registry and
//! the shared [`ScheduledIo`]. Every socket type is a thin wrapper around
//! one. The operation loop is always the same: wait for readiness in one
//! direction, try the syscall, and on `WouldBlock` clear the readiness
//! observed (with its tick) and wait again.
//!
//! Dropping it deregisters the source from mio *before* the slab entry is
//! released, and the `ScheduledIo` is reference counted, so an event the
//! driver already pulled out of `epoll_wait` for this token either finds
//! the old entry alive (and wakes nobody) or finds the slot's generation
//! changed (and is ignored). No raw pointers cross threads.

use super::readiness::{Direction, ReadyEvent, ScheduledIo};
use crate::coop;
use crate::driver::DriverHandle;
use crate::loom::sync::Arc;
use std::fmt;
use std::io::{self, Read, Write};
use std::task::{Context, Poll};

pub(crate) struct PollEvented<E: mio::event::Source> {
    /// `None` only after `into_inner`, so `Drop` knows not to deregister.
    io: Option<E>,
    /// Where the readiness lives; shared with the driver's registry.
    shared: Arc<ScheduledIo>,
    /// Key of `shared` in the driver's registry, needed to release it.
    token: mio::Token,
    /// The driver this source is registered with (not necessarily the
    /// current runtime's when the resource moved to another runtime).
    handle: Arc<DriverHandle>,
}

impl<E: mio::event::Source> PollEvented<E> {
    /// Registers `io` for reads and writes with the current runtime.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    pub(crate) fn new(io: E) -> io::Result<Self> {
        Self::new_with_handle(io, crate::runtime::context::driver())
    }

    pub(crate) fn new_with_handle(mut io: E, handle: Arc<DriverHandle>) -> io::Result<Self> {
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        let (token, shared) = handle.register(&mut io, interest)?;
        Ok(PollEvented {
            io: Some(io),
            shared,
            token,
            handle,
        })
    }

    pub(crate) fn get_ref(&self) -> &E {
        self.io.as_ref().expect("I/O source already taken")
    }

    pub(crate) fn handle(&self) -> &Arc<DriverHandle> {
        &self.handle
    }

    /// Waits for readiness in `direction`, spending coop budget.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let res = std::task::ready!(self.shared.poll_ready(cx, direction));
        coop.made_progress();
        Poll::Ready(res)
    }

    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<ReadyEvent> {
        std::future::poll_fn(|cx| self.poll_ready(cx, direction)).await
    }

    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.shared.clear_readiness(event);
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for
    /// readiness in `direction` between attempts. Spends one unit of coop
    /// budget, kept only when the operation completes.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: impl FnMut(&E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_until_drained(cx, direction, op, |_| false)
    }

    /// `poll_io`, also clearing the readiness when `drained` says a
    /// successful result emptied the socket buffer (a short read or write),
    /// which saves the `WouldBlock` syscall the next attempt would make.
    /// Safe against a racing event: a new edge bumps the readiness tick, and
    /// clearing only applies to the tick observed.
    fn poll_io_until_drained<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&E) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        loop {
            let event = match std::task::ready!(self.shared.poll_ready(cx, direction)) {
                Ok(event) => event,
                Err(e) => {
                    coop.made_progress();
                    return Poll::Ready(Err(e));
                }
            };
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.shared.clear_readiness(event);
                }
                res => {
                    if res.as_ref().is_ok_and(&drained) {
                        self.shared.clear_readiness(event);
                    }
                    coop.made_progress();
                    return Poll::Ready(res);
                }
            }
        }
    }

    /// Async form of [`poll_io`](Self::poll_io).
    pub(crate) async fn async_io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_io(cx, direction, &mut op)).await
    }

    /// One attempt without waiting: `WouldBlock` unless the resource is known
    /// ready, in which case `op` runs (and a `WouldBlock` from it clears the
    /// readiness).
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        op: impl FnOnce(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        let Some(event) = self.shared.ready_now(direction)? else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        match op(self.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.shared.clear_readiness(event);
                Err(e)
            }
            res => res,
        }
    }
}

impl<E> PollEvented<E>
where
    E: mio::event::Source,
    for<'a> &'a E: Read + Write,
{
    /// Reads into `buf`; a short read clears the read readiness (see
    /// `poll_io_until_drained`).
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_io_until_drained(
            cx,
            Direction::Read,
            |mut io| io.read(buf),
            |&n| n > 0 && n < len,
        )
    }

    /// Writes from `buf`; a short write clears the write readiness.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_io_until_drained(
            cx,
            Direction::Write,
            |mut io| io.write(buf),
            |&n| n > 0 && n < buf.len(),
        )
    }
}

impl<E: mio::event::Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.handle.deregister(&mut io, self.token);
        }
    }
}

impl<E: mio::event::Source + fmt::Debug> fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollEvented")
            .field("io", &self.io)
            .field("readiness", &self.shared)
            .finish()
    }
}
