//! `Handle::dump`: what every live task is doing.

use crate::task::meta::{RUNNING, SCHEDULED};
use crate::task::registry::Snapshot;
use crate::task::Id;
use std::fmt;
use std::panic::Location;

/// A snapshot of a runtime's live tasks, ordered by id.
#[derive(Debug, Clone)]
pub struct Dump {
    tasks: Vec<TaskDump>,
}

/// One live task in a [`Dump`].
#[derive(Debug, Clone)]
pub struct TaskDump {
    id: Id,
    location: &'static Location<'static>,
    state: TaskState,
    polls: u64,
}

/// What a task was doing when the dump was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting to be woken.
    Idle,
    /// Queued, waiting for a worker.
    Scheduled,
    /// Being polled by a worker.
    Running,
}

impl Dump {
    pub(crate) fn new(snapshots: Vec<Snapshot>) -> Dump {
        Dump {
            tasks: snapshots
                .into_iter()
                .map(|s| TaskDump {
                    id: s.id,
                    location: s.location,
                    state: match s.state {
                        RUNNING => TaskState::Running,
                        SCHEDULED => TaskState::Scheduled,
                        _ => TaskState::Idle,
                    },
                    polls: s.polls,
                })
                .collect(),
        }
    }

    /// The live tasks.
    pub fn tasks(&self) -> &[TaskDump] {
        &self.tasks
    }
}

impl TaskDump {
    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What the task was doing.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// How many times it has been polled.
    pub fn polls(&self) -> u64 {
        self.polls
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} live task(s)", self.tasks.len())?;
        for t in &self.tasks {
            writeln!(
                f,
                "  task {:>6}  {:<9}  polls {:>8}  spawned at {}",
                t.id,
                format!("{:?}", t.state),
                t.polls,
                t.location
            )?;
        }
        Ok(())
    }
}
