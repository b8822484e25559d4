//! A TCP echo server: every byte a client sends comes back to it.
//!
//! ```text
//! cargo run --example echo-server [-- --addr 127.0.0.1:7879]
//! nc 127.0.0.1 7879
//! ```
//!
//! One task per connection copies the socket's read half into its write half
//! with `futures_util::io::copy`; a `Stats` actor counts connections and
//! bytes, fed by those tasks. Logs go through `tracing-subscriber`: set
//! `RUST_LOG=debug` to see each connection; nothing is logged per byte.
//! Ctrl-C stops accepting, closes the open connections and logs the totals.

#[path = "common/addr_arg.rs"]
mod addr_arg;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::future;
use futures_util::io::AsyncWriteExt;
use kioto::prelude::*;
use kioto::rt::net::{TcpListener, TcpStream};
use kioto::rt::task::JoinSet;
use kioto::rt::time::sleep;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: echo-server [--addr HOST:PORT]   (default 127.0.0.1:7879)";

/// Connection and byte counts, kept by the [`Stats`] actor.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Connections open now (in the final totals: those closed by the
    /// shutdown).
    pub open: u64,
    /// Connections accepted so far.
    pub accepted: u64,
    /// Bytes echoed by connections that closed by themselves.
    pub bytes: u64,
}

/// Counts what the connection tasks report.
#[derive(Default)]
pub struct Stats {
    totals: Totals,
}

impl Actor for Stats {}

#[kioto::messages]
impl Stats {
    #[message]
    pub fn connection_opened(&mut self) {
        self.totals.open += 1;
        self.totals.accepted += 1;
    }

    #[message]
    pub fn connection_closed(&mut self, bytes: u64) {
        self.totals.open -= 1;
        self.totals.bytes += bytes;
    }

    #[message]
    pub fn snapshot(&mut self) -> Totals {
        self.totals
    }
}

/// Accepts connections on `listener` until `shutdown` resolves, echoing each
/// on its own task; then closes the connections still open and returns the
/// totals.
///
/// An accept error (out of file descriptors, a connection reset before it
/// was accepted) is logged and the loop goes on after a short pause: one bad
/// moment must not take the server down.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) -> Totals {
    let stats = Stats::default().start();
    let mut connections = JoinSet::new();
    let accept_loop = async {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            stats.do_send(ConnectionOpened);
            let stats = stats.clone();
            connections.spawn(async move {
                tracing::debug!(%peer, "connected");
                let (bytes, result) = echo(stream).await;
                match result {
                    Ok(()) => tracing::debug!(%peer, bytes, "closed"),
                    Err(e) => tracing::warn!(%peer, bytes, error = %e, "connection failed"),
                }
                stats.do_send(ConnectionClosed { bytes });
            });
            // Forget finished connections so the set only holds live ones.
            while connections.try_join_next().is_some() {}
        }
    };
    // The accept loop never ends by itself; `select` drops it (and its
    // borrow of `connections`) once `shutdown` resolves.
    future::select(pin!(accept_loop), pin!(shutdown)).await;
    // Aborts the open connections and waits until they are gone; they never
    // report, so `open` in the snapshot counts them.
    connections.shutdown().await;
    stats
        .send(Snapshot)
        .await
        .expect("the stats actor is running")
}

/// Echoes until the client closes its side; returns the bytes echoed.
async fn echo(mut stream: TcpStream) -> (u64, io::Result<()>) {
    let (reader, mut writer) = stream.split();
    match futures_util::io::copy(reader, &mut writer).await {
        // Half-close our side too, so the client sees end-of-stream.
        Ok(bytes) => (bytes, writer.close().await),
        Err(e) => (0, Err(e)),
    }
}

#[kioto::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let addr = match addr_arg::addr_arg("127.0.0.1:7879", USAGE) {
        Ok(addr) => addr,
        Err(code) => return code,
    };

    let listener = match TcpListener::bind(addr.as_str()).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("echo-server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => tracing::info!(addr = %local, "listening"),
        Err(_) => tracing::info!(%addr, "listening"),
    }

    let ctrl_c = async {
        match kioto::rt::signal::ctrl_c().await {
            Ok(()) => tracing::info!("Ctrl-C: shutting down"),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for Ctrl-C; stop with SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let totals = serve(listener, ctrl_c).await;
    tracing::info!(
        accepted = totals.accepted,
        closed_at_shutdown = totals.open,
        bytes = totals.bytes,
        "stopped"
    );
    ExitCode::SUCCESS
}
