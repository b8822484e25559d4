//! Process signals: [`ctrl_c`] (SIGINT) and [`terminate`] (SIGTERM).
//!
//! # Design
//!
//! Signal handlers may only do async-signal-safe work, so the handler is
//! signal-hook's self-pipe: on a watched signal it writes a byte. One
//! process-wide thread (`kioto-signal`, started on the first `ctrl_c` or
//! `terminate` call) blocks on that pipe and, for each signal it reads,
//! bumps that signal's generation counter and wakes that signal's waiting
//! futures. Process-wide is the only correct scope: a signal disposition
//! belongs to the process, not to a runtime, so several runtimes (or none:
//! these futures work in any executor) share it.
//!
//! Every signal has the same state (a `Slot`) and the same future
//! (`Wait`); they differ only in the signal number. A signal's handler is
//! installed on the first call that waits for it, not before: a program
//! that never calls `terminate` keeps the default SIGTERM disposition
//! (the process dies), and one that never calls `ctrl_c` keeps SIGINT's.
//!
//! # Invariants (for each signal)
//!
//! 1. A future resolves when its signal's `generation` is greater than the
//!    value it read when created, and it is created after the handler is
//!    installed: only signals delivered after the call count.
//! 2. Waiters register their waker under the mutex and re-check the
//!    generation under it; the signal thread bumps the generation before
//!    taking the mutex to wake. No signal is lost.
//! 3. A future removes its waker when dropped, so abandoned waits do not
//!    accumulate.
//!
//! These statics use std types directly (loom cannot model process signals).

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

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
    wait(Kind::Interrupt)
}

/// Completes when the process receives SIGTERM after this call.
///
/// SIGTERM is how service managers (systemd, Docker, Kubernetes) ask a
/// process to stop. The first call installs a process-wide handler, so from
/// then on SIGTERM no longer terminates the process by default: the program
/// decides. Any number of tasks may wait at once; one signal completes all
/// of them.
///
/// A server usually stops on either signal:
///
/// ```no_run
/// use futures_util::future::select;
/// use std::pin::pin;
///
/// kioto_rt::Runtime::new().unwrap().block_on(async {
///     let interrupt = pin!(kioto_rt::signal::ctrl_c());
///     let terminate = pin!(kioto_rt::signal::terminate());
///     let (res, _) = select(interrupt, terminate).await.factor_first();
///     res.expect("listen for signals");
///     println!("shutting down");
/// });
/// ```
pub fn terminate() -> impl Future<Output = io::Result<()>> + Send + 'static {
    wait(Kind::Terminate)
}

/// The signals this module waits for; each indexes its [`Slot`] in [`SLOTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Interrupt = 0,
    Terminate = 1,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Interrupt, Kind::Terminate];

    fn number(self) -> libc::c_int {
        match self {
            Kind::Interrupt => SIGINT,
            Kind::Terminate => SIGTERM,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Interrupt => "SIGINT",
            Kind::Terminate => "SIGTERM",
        }
    }

    fn from_number(signal: libc::c_int) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.number() == signal)
    }

    fn slot(self) -> &'static Slot {
        &SLOTS[self as usize]
    }
}

/// One signal's state, shared by every future waiting for it.
struct Slot {
    /// Set once this signal's handler is installed, or to why it cannot be;
    /// no future for the signal exists before (invariant 1).
    installed: OnceLock<Result<(), String>>,
    /// Signals seen since the handler was installed (invariant 1).
    generation: AtomicU64,
    /// Waiting futures by id; the signal thread drains it.
    waiters: Mutex<BTreeMap<u64, Waker>>,
    next_id: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            installed: OnceLock::new(),
            generation: AtomicU64::new(0),
            waiters: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Called by the signal thread for each delivery (invariant 2).
    fn deliver(&self, kind: Kind) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|e| e.into_inner()));
        tracing::debug!(
            signal = kind.name(),
            waiters = waiters.len(),
            "signal received"
        );
        for (_, waker) in waiters {
            waker.wake();
        }
    }
}

static SLOTS: [Slot; Kind::ALL.len()] = [Slot::new(), Slot::new()];

/// The `kioto-signal` thread's handle, through which signals are added to
/// the set it watches.
static LISTENER: OnceLock<Result<Handle, String>> = OnceLock::new();

/// Starts the signal thread, watching no signal yet.
fn start() -> io::Result<Handle> {
    let mut signals = Signals::new::<[libc::c_int; 0], libc::c_int>([])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("kioto-signal".into())
        .spawn(move || {
            for signal in signals.forever() {
                if let Some(kind) = Kind::from_number(signal) {
                    kind.slot().deliver(kind);
                }
            }
        })?;
    Ok(handle)
}

/// Installs `kind`'s handler (and the signal thread) if not yet done.
fn listen(kind: Kind) -> io::Result<&'static Slot> {
    let slot = kind.slot();
    slot.installed
        .get_or_init(|| {
            let listener = LISTENER
                .get_or_init(|| start().map_err(|e| e.to_string()))
                .as_ref()
                .map_err(Clone::clone)?;
            listener
                .add_signal(kind.number())
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| io::Error::other(format!("cannot listen for {}: {e}", kind.name())))?;
    Ok(slot)
}

/// The future behind [`ctrl_c`] and [`terminate`]: the handler is installed
/// and the generation read now, at the call, not on first poll.
fn wait(kind: Kind) -> impl Future<Output = io::Result<()>> + Send + 'static {
    let state = listen(kind).map(|slot| Wait {
        slot,
        seen: slot.generation.load(Ordering::SeqCst),
        id: slot.next_id.fetch_add(1, Ordering::Relaxed),
        registered: false,
    });
    async move { state?.await }
}

struct Wait {
    slot: &'static Slot,
    seen: u64,
    id: u64,
    registered: bool,
}

impl Future for Wait {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let slot = this.slot;
        if slot.generation.load(Ordering::SeqCst) > this.seen {
            return Poll::Ready(Ok(()));
        }
        let mut waiters = slot.waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.insert(this.id, cx.waker().clone());
        this.registered = true;
        // Invariant 2: re-check under the lock.
        if slot.generation.load(Ordering::SeqCst) > this.seen {
            waiters.remove(&this.id);
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if self.registered {
            let mut waiters = self.slot.waiters.lock().unwrap_or_else(|e| e.into_inner());
            waiters.remove(&self.id);
        }
    }
}
