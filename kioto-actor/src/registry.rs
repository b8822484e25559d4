//! The system's name registry and its [`SystemService`] singletons.
//!
//! Names map to *weak* addresses, and each registration watches its actor:
//! when the actor stops, its entry is removed, so a lookup never returns a
//! dead actor's address. Services are kept by *strong* address (a service
//! lives as long as the system, as in actix), each under a supervisor of
//! its own that restarts it behind the same address; one whose supervisor
//! gave up is started anew on the next `from_registry`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::actor::Actor;
use crate::address::{Addr, WeakAddr};
use crate::cell::ActorId;
use crate::supervisor::{ChildSpec, Restart, Supervisor};
use crate::system::{Shared, System};

/// A registered address (a `WeakAddr<A>` behind `Any`) and its actor's id.
type Entry = (ActorId, Box<dyn Any + Send + Sync>);

#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<HashMap<String, Entry>>,
    services: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl Registry {
    pub(crate) fn register<A: Actor>(shared: &Arc<Shared>, name: String, addr: &Addr<A>) {
        let id = addr.id();
        shared
            .registry
            .names
            .lock()
            .insert(name.clone(), (id, Box::new(addr.downgrade())));
        let system: Weak<Shared> = Arc::downgrade(shared);
        addr.cell().on_stop(Box::new(move |stopped, _| {
            if let Some(system) = system.upgrade() {
                let mut names = system.registry.names.lock();
                if names.get(&name).is_some_and(|(id, _)| *id == stopped) {
                    names.remove(&name);
                }
            }
        }));
    }

    pub(crate) fn lookup<A: Actor>(&self, name: &str) -> Option<Addr<A>> {
        let names = self.names.lock();
        let (_, entry) = names.get(name)?;
        entry.downcast_ref::<WeakAddr<A>>()?.upgrade()
    }

    fn service<S: SystemService>(&self) -> Option<Addr<S>> {
        let services = self.services.lock();
        let addr = services
            .get(&TypeId::of::<S>())?
            .downcast_ref::<Addr<S>>()?;
        addr.connected().then(|| addr.clone())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.names.lock().len())
            .field("services", &self.services.lock().len())
            .finish()
    }
}

/// A singleton actor of the current [`System`], started on first use.
///
/// A service is supervised, as in actix: it runs as the `Permanent` child
/// of a supervisor of its own, so if it panics, fails or stops it is
/// restarted behind the same address (messages queued meanwhile wait for
/// the new instance; only the one being handled is lost, its sender gets
/// [`MailboxError::Closed`](crate::MailboxError::Closed)). Past
/// [`intensity`](SystemService::intensity) restarts the supervisor gives up,
/// the address closes for good, and the next `from_registry` starts a
/// fresh service on a new address.
///
/// ```
/// use kioto_actor::prelude::*;
///
/// #[derive(Default)]
/// struct Config(u32);
/// impl Actor for Config {}
/// impl SystemService for Config {}
///
/// struct Get;
/// impl Message for Get {
///     type Result = u32;
/// }
/// impl Handler<Get> for Config {
///     async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u32 {
///         self.0
///     }
/// }
///
/// System::new().block_on(async {
///     let a = Config::from_registry();
///     assert_eq!(a, Config::from_registry());
///     assert_eq!(a.send(Get).await, Ok(0));
/// });
/// ```
pub trait SystemService: Actor + Default {
    /// How many restarts within how long the service's supervisor allows
    /// before it gives up (see the trait docs). Default: 10 in 10 s.
    fn intensity() -> (u32, Duration) {
        (10, Duration::from_secs(10))
    }

    /// The service's address in the current system, starting it if it is
    /// not running.
    ///
    /// # Panics
    ///
    /// Outside a system.
    fn from_registry() -> Addr<Self> {
        let system = System::current();
        let registry = &system.shared.registry;
        if let Some(addr) = registry.service::<Self>() {
            return addr;
        }
        // Started without the lock held: `default` and `started` are user
        // code and may themselves look up services.
        let (max_restarts, period) = Self::intensity();
        let tree = Supervisor::builder()
            .name(format!("service:{}", std::any::type_name::<Self>().replace('/', ":")))
            .intensity(max_restarts, period)
            .child(ChildSpec::new("service", Self::default).restart(Restart::Permanent))
            .start();
        let fresh: Addr<Self> = tree
            .child("service")
            .expect("a supervisor's child exists as soon as it is started");
        let mut services = registry.services.lock();
        let current = services
            .get(&TypeId::of::<Self>())
            .and_then(|a| a.downcast_ref::<Addr<Self>>())
            .filter(|a| a.connected())
            .cloned();
        match current {
            // Lost a race: ours is not needed.
            Some(addr) => {
                tree.stop();
                addr
            }
            None => {
                services.insert(TypeId::of::<Self>(), Box::new(fresh.clone()));
                fresh
            }
        }
    }
}
