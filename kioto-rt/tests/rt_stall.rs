//! Stall detection: a worker stuck in one poll longer than the threshold
//! is reported once through `tracing::warn!`, naming the task and where it
//! was spawned. (Its own test binary: it installs a global subscriber.)

use kioto_rt::runtime::Builder;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Records the fields of every WARN event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            let mut line = String::new();
            event.record(&mut Fields(&mut line));
            self.0.lock().unwrap().push(line);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_worker_stuck_past_the_threshold_is_reported_once_with_the_task() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();

    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .stall_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    let stuck = rt.spawn(async {
        // Blocks its worker far longer than the threshold.
        std::thread::sleep(Duration::from_millis(300));
        kioto_rt::task::id()
    });
    let spawn_line = line!() - 5;
    let id = rt.block_on(stuck).unwrap();

    let lines = capture.0.lock().unwrap().clone();
    let reports: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("stall threshold"))
        .collect();
    assert_eq!(
        reports.len(),
        1,
        "expected exactly one report, got {lines:#?}"
    );
    let report = reports[0];
    assert!(
        report.contains(&format!("task.id={}", id.as_u64())),
        "{report}"
    );
    assert!(
        report.contains(&format!("rt_stall.rs:{spawn_line}")),
        "report should name the spawn location: {report}"
    );
}
