//! [`Supervisor`]: the actor that runs a child table — starts children in
//! order, reacts to their exits per restart type and strategy, counts
//! restarts, gives up and escalates, stops children in reverse order.
//!
//! Every decision runs in the supervisor's own handlers and hooks, one at a
//! time (see `control`). Decisions that wait — for a child's `started` hook,
//! for a child to stop within its shutdown — wait inside the handler, as an
//! OTP supervisor does: exits that arrive meanwhile queue in the mailbox
//! and are handled next. Backoff is the exception: it is a timer, not a wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kioto_rt::sync::oneshot;

use super::builder::SupervisorBuilder;
use super::child::{InFlight, Run};
use super::control::Internal;
use super::core::{Child, Core, Status};
use super::error::SupervisorError;
use super::events::EventKind;
use super::intensity::{Intensity, Verdict};
use super::spec::{ChildSpec, Restart};
use crate::actor::Actor;
use crate::context::Context;
use crate::envelope::Envelope;
use crate::watch::StopReason;

/// A supervisor: an actor whose job is to keep its children running.
/// Build one with [`Supervisor::builder`]; see the [module docs](super) for
/// the semantics.
///
/// `Addr<Supervisor>` (from [`SupervisorRef::addr`](super::SupervisorRef::addr))
/// can be watched and stopped like any address; requests go through the
/// [`SupervisorRef`](super::SupervisorRef).
pub struct Supervisor {
    core: Arc<Core>,
    /// This instance's restart history (a restarted supervisor starts with
    /// a clean one, as in OTP).
    intensity: Intensity,
}

/// Source of instance tokens and backoff tickets (process-unique).
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Supervisor {
    /// A builder for a supervisor (OTP defaults: one-for-one, at most 1
    /// restart in 5 s, no backoff).
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder::default()
    }

    /// A new instance on `core` (its first start, or a restart by its
    /// parent).
    pub(super) fn instance(core: Arc<Core>) -> Self {
        let intensity = Intensity::new(core.config.max_restarts, core.config.period);
        Supervisor { core, intensity }
    }

    /// Handles one internal envelope.
    pub(super) async fn handle(&mut self, msg: Internal, ctx: &mut Context<Self>) {
        match msg {
            Internal::Exit { token, reason } => self.on_exit(token, reason, ctx).await,
            Internal::RestartDue { ticket } => {
                for name in self
                    .names(|c| matches!(c.status, Status::Restarting { ticket: t } if t == ticket))
                {
                    self.start_instance(&name).await;
                }
            }
            Internal::StartChild(spec, reply) => {
                let _ = reply.send(self.start_child(spec).await);
            }
            Internal::StopChild(name, reply) => {
                let _ = reply.send(self.stop_child(&name).await);
            }
            Internal::RestartChild(name, reply) => {
                let _ = reply.send(self.restart_child(&name).await);
            }
            Internal::DeleteChild(name, reply) => {
                let _ = reply.send(self.delete_child(&name));
            }
            Internal::WhichChildren(reply) => {
                let _ = reply.send(Ok(self.core.infos()));
            }
        }
    }

    /// An instance ended on its own: apply the restart type, the intensity
    /// and the strategy.
    async fn on_exit(&mut self, token: u64, reason: StopReason, ctx: &mut Context<Self>) {
        let found = {
            let mut table = self.core.table.lock();
            table.iter_mut().find_map(|c| match &c.status {
                Status::Running { token: t, .. } if *t == token => {
                    let Status::Running { handle, .. } =
                        std::mem::replace(&mut c.status, Status::Down)
                    else {
                        unreachable!()
                    };
                    c.last_reason = Some(reason.clone());
                    Some((c.spec.name.clone(), c.spec.restart, handle))
                }
                _ => None,
            })
        };
        // Not the current instance: one this supervisor stopped itself.
        let Some((name, restart, handle)) = found else {
            return;
        };
        // The task sent this report as its last act; let it finish, so
        // exactly one instance ever runs on the cell.
        InFlight::new(handle, self.core.clone()).join().await;

        let failed = reason.is_failure();
        let kind = if failed {
            EventKind::Failed {
                reason: reason.clone(),
            }
        } else {
            EventKind::Exited {
                reason: reason.clone(),
            }
        };
        self.core.emit(&name, kind);

        let restart = match restart {
            Restart::Permanent => true,
            Restart::Transient => failed,
            Restart::Temporary => false,
        };
        if !restart {
            self.retire(&name, reason);
            return;
        }
        if self.intensity.record(Instant::now()) == Verdict::GiveUp {
            self.give_up(&name, reason, ctx).await;
            return;
        }
        self.restart_group(&name, ctx).await;
    }

    /// Restarts `failed` and, per the strategy, the children it takes down
    /// with it.
    async fn restart_group(&mut self, failed: &str, ctx: &mut Context<Self>) {
        let config = self.core.config;
        let (group, delay) = {
            let mut table = self.core.table.lock();
            let Some(at) = table.iter().position(|c| c.spec.name == failed) else {
                return;
            };
            let group: Vec<(String, Restart)> = table[config.strategy.group(at, table.len())]
                .iter()
                .filter(|c| !matches!(c.status, Status::Stopped))
                .map(|c| (c.spec.name.clone(), c.spec.restart))
                .collect();
            let child = &mut table[at];
            let now = Instant::now();
            let consecutive = child
                .last_restart
                .is_some_and(|t| now.saturating_duration_since(t) < config.period);
            child.streak = if consecutive { child.streak + 1 } else { 1 };
            child.last_restart = Some(now);
            let delay = config
                .backoff
                .map_or(Duration::ZERO, |b| b.delay(child.streak));
            (group, delay)
        };

        // The others go down in reverse start order...
        for (name, _) in group.iter().rev() {
            if name != failed {
                self.stop_instance(name).await;
            }
        }
        // ...temporary ones for good...
        let mut restart = Vec::with_capacity(group.len());
        for (name, kind) in group {
            if kind == Restart::Temporary && name != failed {
                let reason = self.last_reason(&name);
                self.retire(&name, reason);
            } else {
                restart.push(name);
            }
        }
        // ...and the rest come back in start order.
        for name in &restart {
            let restarts = {
                let mut table = self.core.table.lock();
                table.iter_mut().find(|c| &c.spec.name == name).map(|c| {
                    c.restarts += 1;
                    c.restarts
                })
            };
            if let Some(restarts) = restarts {
                self.core
                    .emit(name, EventKind::Restarting { restarts, delay });
            }
        }
        if delay.is_zero() {
            for name in restart {
                self.start_instance(&name).await;
            }
            return;
        }
        let ticket = next_id();
        {
            let mut table = self.core.table.lock();
            for c in table.iter_mut().filter(|c| restart.contains(&c.spec.name)) {
                c.status = Status::Restarting { ticket };
            }
        }
        let me = Arc::downgrade(&self.core.cell);
        ctx.spawn(async move {
            kioto_rt::time::sleep(delay).await;
            if let Some(me) = me.upgrade() {
                let _ = me.push_internal(Envelope::new(Internal::RestartDue { ticket }));
            }
        });
    }

    /// Too many restarts: stop everything and fail, so the parent decides.
    async fn give_up(&mut self, name: &str, reason: StopReason, ctx: &mut Context<Self>) {
        let config = self.core.config;
        self.core.hub.emit(
            &self.core.path,
            EventKind::GaveUp {
                max_restarts: config.max_restarts,
                period: config.period,
                reason: reason.clone(),
            },
        );
        self.stop_all().await;
        let why = format!(
            "supervisor `{}` gave up after more than {} restarts in {:?}; last: `{}` {}",
            self.core.path, config.max_restarts, config.period, name, reason
        );
        if self.core.nested {
            self.core.hub.emit(
                &self.core.path,
                EventKind::Escalated {
                    reason: why.clone(),
                },
            );
        }
        ctx.fail(why);
    }

    /// Spawns an instance of `name` and waits until its `started` hook has
    /// returned (or it ended trying).
    async fn start_instance(&mut self, name: &str) {
        let found = {
            let table = self.core.table.lock();
            table
                .iter()
                .find(|c| c.spec.name == name)
                .map(|c| (c.slot.clone(), c.restarts))
        };
        let Some((slot, restarts)) = found else {
            return;
        };
        let token = next_id();
        let (started, up) = oneshot::channel();
        let handle = slot.spawn(Run {
            token,
            report: Arc::downgrade(&self.core.cell),
            started,
            path: self.core.child_path(name),
        });
        {
            let mut table = self.core.table.lock();
            match table.iter_mut().find(|c| c.spec.name == name) {
                Some(c) => c.status = Status::Running { token, handle },
                None => handle.abort(),
            }
        }
        if up.await.is_ok() {
            self.core.emit(name, EventKind::Started { restarts });
        }
    }

    /// Stops the running instance of `name` per its shutdown policy (or
    /// cancels its pending restart). Leaves it `Down`.
    async fn stop_instance(&mut self, name: &str) -> Option<StopReason> {
        let found = {
            let mut table = self.core.table.lock();
            let c = table.iter_mut().find(|c| c.spec.name == name)?;
            match std::mem::replace(&mut c.status, Status::Down) {
                Status::Running { handle, .. } => Some((handle, c.slot.clone(), c.spec.shutdown)),
                Status::Restarting { .. } | Status::Down => None,
                Status::Stopped => {
                    c.status = Status::Stopped;
                    None
                }
            }
        };
        let (handle, slot, shutdown) = found?;
        let reason = InFlight::new(handle, self.core.clone())
            .shutdown(&*slot, shutdown)
            .await;
        {
            let mut table = self.core.table.lock();
            if let Some(c) = table.iter_mut().find(|c| c.spec.name == name) {
                c.last_reason = Some(reason.clone());
            }
        }
        self.core.emit(
            name,
            EventKind::Stopped {
                reason: reason.clone(),
            },
        );
        Some(reason)
    }

    /// Stops every child, in reverse start order.
    async fn stop_all(&mut self) {
        let mut names = self.names(|c| !matches!(c.status, Status::Stopped));
        names.reverse();
        for name in names {
            self.stop_instance(&name).await;
        }
    }

    /// A child that will not be restarted: its mailbox closes; a
    /// `Temporary` one is forgotten.
    fn retire(&mut self, name: &str, reason: StopReason) {
        let slot = {
            let mut table = self.core.table.lock();
            let Some(at) = table.iter().position(|c| c.spec.name == name) else {
                return;
            };
            if table[at].spec.restart == Restart::Temporary {
                table.remove(at).slot
            } else {
                table[at].status = Status::Stopped;
                table[at].slot.clone()
            }
        };
        slot.finish(reason);
    }

    fn last_reason(&self, name: &str) -> StopReason {
        let table = self.core.table.lock();
        table
            .iter()
            .find(|c| c.spec.name == name)
            .and_then(|c| c.last_reason.clone())
            .unwrap_or(StopReason::Normal)
    }

    /// The names of the children matching `pred`, in start order.
    fn names(&self, pred: impl Fn(&Child) -> bool) -> Vec<String> {
        let table = self.core.table.lock();
        table
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.spec.name.clone())
            .collect()
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<(), SupervisorError> {
        let name = spec.name.clone();
        {
            let mut table = self.core.table.lock();
            if table.iter().any(|c| c.spec.name == name) {
                return Err(SupervisorError::AlreadyExists(name));
            }
            table.push(Child::new(spec, &self.core.path, &self.core.hub));
        }
        self.start_instance(&name).await;
        Ok(())
    }

    async fn stop_child(&mut self, name: &str) -> Result<(), SupervisorError> {
        if self.core.slot(name).is_none() {
            return Err(SupervisorError::NotFound(name.to_owned()));
        }
        self.stop_instance(name).await;
        let reason = self.last_reason(name);
        self.retire(name, reason);
        Ok(())
    }

    async fn restart_child(&mut self, name: &str) -> Result<(), SupervisorError> {
        let stopped = {
            let mut table = self.core.table.lock();
            let Some(c) = table.iter_mut().find(|c| c.spec.name == name) else {
                return Err(SupervisorError::NotFound(name.to_owned()));
            };
            let stopped = matches!(c.status, Status::Stopped);
            if stopped {
                // The old mailbox is closed for good: a fresh one.
                *c = Child::new(c.spec.clone(), &self.core.path, &self.core.hub);
            }
            stopped
        };
        if !stopped {
            self.stop_instance(name).await;
        }
        self.start_instance(name).await;
        Ok(())
    }

    fn delete_child(&mut self, name: &str) -> Result<(), SupervisorError> {
        let mut table = self.core.table.lock();
        let Some(at) = table.iter().position(|c| c.spec.name == name) else {
            return Err(SupervisorError::NotFound(name.to_owned()));
        };
        if !matches!(table[at].status, Status::Stopped) {
            return Err(SupervisorError::Running(name.to_owned()));
        }
        table.remove(at);
        Ok(())
    }
}

impl Actor for Supervisor {
    /// Starts the children in order, each once the previous one's `started`
    /// hook has returned. On a restart, first waits for whatever the
    /// previous instance left running.
    async fn started(&mut self, _ctx: &mut Context<Self>) {
        let mut leftovers = self.core.take_zombies();
        {
            let mut table = self.core.table.lock();
            for c in table.iter_mut() {
                match std::mem::replace(&mut c.status, Status::Down) {
                    Status::Running { handle, .. } => {
                        handle.abort();
                        leftovers.push(handle);
                    }
                    Status::Stopped => c.status = Status::Stopped,
                    Status::Restarting { .. } | Status::Down => {}
                }
            }
        }
        // As `InFlight`s: if this instance is killed while it waits, the
        // ones not yet awaited are parked again for the next instance.
        let leftovers: Vec<InFlight> = leftovers
            .into_iter()
            .map(|handle| InFlight::new(handle, self.core.clone()))
            .collect();
        for task in leftovers {
            task.join().await;
        }
        for name in self.names(|c| matches!(c.status, Status::Down)) {
            self.start_instance(&name).await;
        }
        if !self.core.nested {
            self.core
                .hub
                .emit(&self.core.path, EventKind::Started { restarts: 0 });
        }
    }

    /// Stops the children in reverse start order, each per its shutdown
    /// policy. Their mailboxes stay open: a parent may restart this
    /// supervisor, which restarts them behind the same addresses.
    async fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.stop_all().await;
    }
}

impl Drop for Supervisor {
    /// A killed supervisor (aborted, or panicked) takes its running children
    /// down with it; the next instance awaits them (see `started`).
    fn drop(&mut self) {
        let table = self.core.table.lock();
        for c in table.iter() {
            if let Status::Running { handle, .. } = &c.status {
                handle.abort();
            }
        }
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("path", &self.core.path)
            .field("intensity", &self.intensity)
            .finish()
    }
}
