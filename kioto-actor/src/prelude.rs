//! Everything an actor author needs, in one `use kioto_actor::prelude::*;`.

pub use crate::actor::{Actor, ActorState, Running};
pub use crate::cell::ActorId;
pub use crate::address::{Addr, Recipient, WeakAddr, WeakRecipient};
pub use crate::context::Context;
pub use crate::error::{MailboxError, SendError};
pub use crate::handler::{Handler, Message};
pub use crate::registry::SystemService;
pub use crate::stream::StreamHandler;
pub use crate::system::System;
pub use crate::timer::{SpawnHandle, TimerHandle};
pub use crate::watch::{StopReason, Terminated};

// The derive shares its name with the trait (as serde's do), so
// `#[derive(Message)]` works with this one import.
pub use kioto_macros::{handler, message, messages, Message};

// Supervision (Supervisor, Strategy, ChildSpec, Restart) is re-exported here
// by the `supervisor` module's author.
pub use crate::supervisor::{ChildSpec, Restart, Shutdown, Strategy, Supervisor, SupervisorRef};
