//! The monitor thread: notices workers stuck inside one poll.
//!
//! A task that blocks its worker (a `std::thread::sleep`, a synchronous
//! lock, a long computation) holds up everything queued on that worker. The
//! queue itself is stealable, but a parked sibling has no reason to wake up,
//! and the LIFO slot is normally reserved for its owner. Every few
//! milliseconds the monitor samples each worker's poll sequence (odd while a
//! poll runs, no clock read on the hot path); a worker seen in the *same*
//! poll twice in a row is marked `stuck`, which lets siblings steal its LIFO
//! task, and a sleeping sibling is woken if the stuck worker has queued
//! work.
//!
//! The monitor also hands the I/O driver and the timer wheel to a sleeping
//! worker when nobody has polled them for a while (`handoff.rs`): the
//! worker that held them may be the stuck one.
//!
//! With `Builder::stall_threshold(d)` set, the monitor also emits one
//! `tracing::warn!` per stall longer than `d`, naming the worker, the task
//! id and the task's spawn location.

use super::handoff::DriverWatch;
use super::Shared;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the monitor samples when no stall threshold asks for finer.
const DEFAULT_PERIOD: Duration = Duration::from_millis(10);

/// How long the driver may go unpolled, with a worker asleep on its
/// condvar, before the monitor hands it to that worker. Whatever the
/// sampling period, no shorter: a busy worker polls the driver only every
/// `event_interval` ticks, and a hand-off is a wake-up.
const HANDOFF_AFTER: Duration = Duration::from_millis(10);

/// Lets the runtime stop the monitor promptly at shutdown.
#[derive(Debug, Default)]
pub(crate) struct MonitorStop {
    stopped: Mutex<bool>,
    condvar: Condvar,
}

impl MonitorStop {
    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.condvar.notify_all();
    }

    /// Sleeps for `period`; returns false once stopped.
    fn sleep(&self, period: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .condvar
            .wait_timeout_while(guard, period, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        !*guard
    }
}

struct Observation {
    seq: u64,
    since: Instant,
    reported: bool,
}

/// Starts the monitor thread for `shared`.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    stop: Arc<MonitorStop>,
    name: String,
) -> std::io::Result<JoinHandle<()>> {
    let threshold = shared.config.stall_threshold;
    let period = match threshold {
        Some(t) => (t / 4).clamp(Duration::from_millis(1), DEFAULT_PERIOD),
        None => DEFAULT_PERIOD,
    };
    std::thread::Builder::new().name(name).spawn(move || {
        let now = Instant::now();
        let mut seen: Vec<Observation> = (0..shared.num_workers())
            .map(|_| Observation {
                seq: 0,
                since: now,
                reported: false,
            })
            .collect();
        let looks = HANDOFF_AFTER.as_nanos().div_ceil(period.as_nanos());
        let mut watch = DriverWatch::new(u32::try_from(looks).unwrap_or(u32::MAX));
        while stop.sleep(period) {
            sample(&shared, &mut seen, threshold);
            hand_off_driver(&shared, &mut watch);
        }
    })
}

/// Wakes a condvar sleeper to poll the driver if nobody does (`handoff.rs`).
fn hand_off_driver(shared: &Shared, watch: &mut DriverWatch) {
    let parkers = shared.remotes.iter().map(|r| &r.parker);
    if let Some(worker) = watch.look(parkers, || shared.driver_handle.turns()) {
        tracing::trace!(worker, "nobody polls the driver; handing it over");
        // Only this thread writes the counter: no read-modify-write.
        let n = shared.driver_handoffs.load(Ordering::Relaxed);
        shared.driver_handoffs.store(n + 1, Ordering::Relaxed);
        shared.remotes[worker].parker.unpark(&shared.driver_handle);
    }
}

fn sample(shared: &Shared, seen: &mut [Observation], threshold: Option<Duration>) {
    let now = Instant::now();
    for (index, obs) in seen.iter_mut().enumerate() {
        let remote = &shared.remotes[index];
        let seq = remote.poll_seq.load(Ordering::Acquire);
        let in_poll = seq % 2 == 1;
        if !in_poll || seq != obs.seq {
            *obs = Observation {
                seq,
                since: now,
                reported: false,
            };
            continue;
        }
        // Same poll as last sample: stuck for at least one period.
        if !remote.stuck.swap(true, Ordering::Relaxed) {
            tracing::trace!(
                worker = index,
                "worker stuck in a poll; its LIFO slot is now stealable"
            );
        }
        if remote.has_stealable_work() {
            shared.notify_parked();
        }
        if let Some(threshold) = threshold {
            let stalled = now - obs.since;
            if stalled >= threshold && !obs.reported {
                obs.reported = true;
                let task_id = remote.current_task.load(Ordering::Relaxed);
                let location = remote.current_location.load(Ordering::Relaxed);
                // Locations are `&'static`, so a stale pointer still points
                // at a valid location (of an earlier task at worst).
                let location: Option<&'static Location<'static>> = if location.is_null() {
                    None
                } else {
                    // SAFETY: the pointer was made from a
                    // `&'static Location<'static>` in `Core::poll`.
                    Some(unsafe { &*location })
                };
                tracing::warn!(
                    worker = index,
                    task.id = task_id,
                    task.spawned_at = %location.map_or_else(|| "<unknown>".to_string(), |l| l.to_string()),
                    stalled_ms = stalled.as_millis() as u64,
                    "a worker has been stuck in one task poll longer than the stall threshold; \
                     blocking code belongs in spawn_blocking"
                );
            }
        }
    }
}
