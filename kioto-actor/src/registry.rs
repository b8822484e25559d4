//! The system's name registry and its [`SystemService`] singletons.
//!
//! Names map to *weak* addresses, and each registration watches its actor:
//! when the actor stops, its entry is removed, so a lookup never returns a
//! dead actor's address. Services are kept by *strong* address (a service
//! lives as long as the system, as in actix) and restarted on the next
//! `from_registry` if they have stopped.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::actor::Actor;
use crate::address::{Addr, WeakAddr};
use crate::cell::ActorId;
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
        // Built and started without the lock held: `default` is user code
        // and may itself look up services.
        let fresh = Self::default().start();
        let mut services = registry.services.lock();
        let current = services
            .get(&TypeId::of::<Self>())
            .and_then(|a| a.downcast_ref::<Addr<Self>>())
            .filter(|a| a.connected())
            .cloned();
        match current {
            // Lost a race: ours stops as soon as `fresh` is dropped.
            Some(addr) => addr,
            None => {
                services.insert(TypeId::of::<Self>(), Box::new(fresh.clone()));
                fresh
            }
        }
    }
}
