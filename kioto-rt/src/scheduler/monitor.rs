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
//! worker that held them may be the stuck one. While every worker is
//! parked it has nothing to watch, and after `QUIET_AFTER` of that it
//! sleeps until a worker unparks (`monitor_sleep.rs`).
//!
//! With `Builder::stall_threshold(d)` set, the monitor also emits one
//! `tracing::warn!` per stall longer than `d`, naming the worker, the task
//! id and the task's spawn location.

use super::handoff::DriverWatch;
use super::Shared;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the monitor samples when no stall threshold asks for finer.
const DEFAULT_PERIOD: Duration = Duration::from_millis(10);

/// How long the driver may go unpolled, with a worker asleep on its
/// condvar, before the monitor hands it to that worker. Whatever the
/// sampling period, no shorter: a busy worker polls the driver only every
/// `event_interval` ticks, and a hand-off is a wake-up.
const HANDOFF_AFTER: Duration = Duration::from_millis(10);

/// How long the monitor sees every worker parked before it sleeps until
/// one unparks (`monitor_sleep.rs`). Long enough that a runtime between
/// requests keeps it looking, so the worker that takes the next request
/// rarely pays for the wake-up.
pub(super) const QUIET_AFTER: Duration = Duration::from_secs(1);

struct Observation {
    seq: u64,
    since: Instant,
    reported: bool,
}

/// Starts the monitor thread for `shared`.
pub(crate) fn spawn(shared: Arc<Shared>, name: String) -> std::io::Result<JoinHandle<()>> {
    let threshold = shared.config.stall_threshold;
    let period = match threshold {
        Some(t) => (t / 4).clamp(Duration::from_millis(1), DEFAULT_PERIOD),
        None => DEFAULT_PERIOD,
    };
    let looks = move |d: Duration| {
        u32::try_from(d.as_nanos().div_ceil(period.as_nanos())).unwrap_or(u32::MAX)
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
        let mut watch = DriverWatch::new(looks(HANDOFF_AFTER));
        // Since when every look found every worker parked.
        let mut all_parked_since = None;
        let sleep = &shared.monitor;
        while sleep.sleep(period) {
            sample(&shared, &mut seen, threshold);
            hand_off_driver(&shared, &mut watch);
            if !shared.idle.all_parked() {
                all_parked_since = None;
                continue;
            }
            let since = *all_parked_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= QUIET_AFTER {
                all_parked_since = None;
                tracing::trace!("every worker parked; the monitor sleeps until one unparks");
                if !sleep.sleep_while_idle(|| shared.idle.all_parked()) {
                    break;
                }
            }
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
