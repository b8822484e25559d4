//! What stops a server example: Ctrl-C (SIGINT) at a terminal, or SIGTERM,
//! which is how service managers (systemd, Docker, Kubernetes) stop a
//! process. Both are one future, so the server has one shutdown path and a
//! client cannot tell which signal it was.

use std::future::Future;
use std::io;
use std::pin::pin;

use futures_util::future;
use kioto::rt::signal;

/// Completes on the first SIGINT or SIGTERM after this call.
///
/// Both handlers are installed by this call, not when the future is first
/// polled: from here on neither signal kills the process before the server
/// has had its say. A signal that cannot be listened for is logged, and the
/// other still stops the server.
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    // Arguments are evaluated now: `ctrl_c()` and `terminate()` install
    // their handlers at the call.
    let interrupt = received("SIGINT", signal::ctrl_c());
    let terminate = received("SIGTERM", signal::terminate());
    async move {
        future::select(pin!(interrupt), pin!(terminate)).await;
    }
}

/// Waits for `signal`; never completes if it cannot be listened for.
async fn received(name: &'static str, signal: impl Future<Output = io::Result<()>>) {
    match signal.await {
        Ok(()) => tracing::info!(signal = name, "received: shutting down"),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for {name}");
            future::pending::<()>().await;
        }
    }
}
