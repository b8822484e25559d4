//! A multi-room TCP chat server built from actors (protocol: issue 7).
//!
//! ```text
//! cargo run --release --example chat-server [-- --addr 127.0.0.1:7878]
//! cargo run --example chat-client        # or: nc 127.0.0.1 7878
//! ```
//!
//! Logs go through `tracing-subscriber`; set `RUST_LOG` (default `info`).
//! Ctrl-C or SIGTERM tells every client `* server shutting down` and exits
//! with status 0.

#[path = "chat/mod.rs"]
mod chat;

#[path = "common/addr_arg.rs"]
mod addr_arg;

#[path = "common/stop_signal.rs"]
mod stop_signal;

use std::process::ExitCode;

use kioto::rt::net::TcpListener;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: chat-server [--addr HOST:PORT]   (default 127.0.0.1:7878)";

#[kioto::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let addr = match addr_arg::addr_arg("127.0.0.1:7878", USAGE) {
        Ok(addr) => addr,
        Err(code) => return code,
    };

    let listener = match TcpListener::bind(addr.as_str()).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("chat-server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Before saying "listening": from then on a signal is a clean stop.
    let stop = stop_signal::stop_signal();
    tracing::info!(addr = %listener.local_addr().map_or(addr, |a| a.to_string()), "listening");
    match chat::server::serve(listener, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
