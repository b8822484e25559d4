//! Process signals: [`ctrl_c`].
//!
//! # Design
//!
//! Signal handlers may only do async-signal-safe work, so the handler is
//! signal-hook's self-pipe: on SIGINT it writes a byte. One process-wide
//! thread (`kioto-signal`, started on the first `ctrl_c` call) blocks on
//! that pipe, bumps a generation counter and wakes every waiting future.
//! Process-wide is the only correct scope: a signal disposition belongs to
//! the process, not to a runtime, so several runtimes (or none: `ctrl_c`
//! works in any executor) share it.
//!
//! # Invariants
//!
//! 1. A `CtrlC` future resolves when `generation` is greater than the value
//!    it read when created: only signals delivered after the call count.
//! 2. Waiters register their waker under the mutex and re-check the
//!    generation under it; the signal thread bumps the generation before
//!    taking the mutex to wake. No signal is lost.
//! 3. A future removes its waker when dropped, so abandoned waits do not
//!    accumulate.
//!
//! These statics use std types directly (loom cannot model process signals).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

struct Globals {
    /// SIGINTs seen since the listener started (invariant 1).
    generation: AtomicU64,
    /// Waiting futures by id; the signal thread drains it.
    waiters: Mutex<HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

static GLOBALS: OnceLock<Result<Globals, String>> = OnceLock::new();

fn globals() -> io::Result<&'static Globals> {
    GLOBALS
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| io::Error::other(format!("cannot listen for SIGINT: {e}")))
}

fn start() -> io::Result<Globals> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])?;
    std::thread::Builder::new()
        .name("kioto-signal".into())
        .spawn(move || {
            for _ in signals.forever() {
                let Some(Ok(g)) = GLOBALS.get() else {
                    continue;
                };
                g.generation.fetch_add(1, Ordering::SeqCst);
                let waiters =
                    std::mem::take(&mut *g.waiters.lock().unwrap_or_else(|e| e.into_inner()));
                tracing::debug!(waiters = waiters.len(), "SIGINT received");
                for (_, waker) in waiters {
                    waker.wake();
                }
            }
        })?;
    Ok(Globals {
        generation: AtomicU64::new(0),
        waiters: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
    })
}

/// Completes when the process receives SIGINT (Ctrl-C) after this call.
///
/// The first call installs a process-wide handler, so from then on SIGINT no
/// longer terminates the process by default: the program decides. Any
/// number of tasks may wait at once; one signal completes all of them.
///
/// ```no_run
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     kioto_rt::signal::ctrl_c().await.expect("listen for Ctrl-C");
///     println!("shutting down");
/// });
/// ```
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let state = globals().map(|g| CtrlC {
        globals: g,
        seen: g.generation.load(Ordering::SeqCst),
        id: g.next_id.fetch_add(1, Ordering::Relaxed),
        registered: false,
    });
    async move { state?.await }
}

struct CtrlC {
    globals: &'static Globals,
    seen: u64,
    id: u64,
    registered: bool,
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let g = this.globals;
        if g.generation.load(Ordering::SeqCst) > this.seen {
            return Poll::Ready(Ok(()));
        }
        let mut waiters = g.waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.insert(this.id, cx.waker().clone());
        this.registered = true;
        // Invariant 2: re-check under the lock.
        if g.generation.load(Ordering::SeqCst) > this.seen {
            waiters.remove(&this.id);
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        if self.registered {
            let mut waiters = self
                .globals
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            waiters.remove(&self.id);
        }
    }
}
