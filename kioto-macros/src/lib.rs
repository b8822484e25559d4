//! Kioto's procedural macros: `#[derive(Message)]`, `#[kioto::main]`,
//! `#[kioto::test]` and `#[kioto::messages]`.
//!
//! Use them through the `kioto` facade (or `kioto-actor`), which re-exports
//! them; this crate is an implementation detail with no stable API of its
//! own.
//!
//! The crate is split by phase and macro: this file holds only the
//! `proc_macro` entry points, which convert to `proc_macro2` at once;
//! `message.rs` is the derive, `entry.rs` main and test, `messages.rs` the
//! impl-block macro (parse, validate, expand), and `crate_path.rs` decides
//! how generated code names the runtime (`::kioto`, `::kioto_actor` or
//! `::kioto_rt`, whichever the user's `Cargo.toml` has; `crate = "path"`
//! overrides). Every macro that fails still emits the user's item next to
//! its error, so the rest of the crate and the IDE keep working.
//!
//! The examples below are marked `ignore`: they need the `kioto` facade,
//! which itself depends on this crate, so they cannot be doc tests here.
//! The same code runs as the facade's tests (`tests/macros_*.rs`).

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod crate_path;
mod entry;
mod errors;
mod message;
mod messages;

use proc_macro::TokenStream;

/// Implements `Message` for a struct or enum.
///
/// The result type is given as in actix, by `#[rtype(result = "Type")]` or
/// `#[rtype(Type)]`; without `#[rtype]` it is `()`. Generic types get
/// `Send + 'static` bounds on their type parameters (a message crosses to
/// the actor's task). `#[kioto(crate = "path")]` names the crate when it is
/// neither `kioto` nor `kioto-actor` in your `Cargo.toml`.
///
/// ```ignore
/// use kioto::Message;
///
/// #[derive(Message)]
/// #[rtype(result = "u64")]
/// struct Add(u64);
///
/// #[derive(Message)]
/// #[rtype(Option<String>)]
/// enum Lookup { ById(u32), ByName(String) }
///
/// #[derive(Message)] // `type Result = ();`
/// struct Ping;
/// ```
#[proc_macro_derive(Message, attributes(rtype, kioto))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    message::derive(input.into()).into()
}

/// Runs `async fn main` on a new multi-threaded runtime.
///
/// The body runs inside a `System` (so actors can be started) built with
/// `System::with_runtime`; if only `kioto-rt` is a dependency, on a plain
/// `Runtime`. `main` may return `()` or a `Result`.
///
/// Options: `worker_threads = N` (default: the runtime's, one per core) and
/// `crate = "path"` to name the crate explicitly.
///
/// ```ignore
/// use kioto::prelude::*;
///
/// #[kioto::main(worker_threads = 4)]
/// async fn main() -> Result<(), MailboxError> {
///     let addr = Counter::default().start();
///     println!("{}", addr.send(Inc { by: 2 }).await?);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on its own new runtime (two worker threads
/// unless `worker_threads = N` says otherwise).
///
/// It adds `#[test]` itself; other attributes such as `#[should_panic]` and
/// `#[ignore]` are kept. The test may return `()` or a `Result`; a panic
/// in the body fails the test. `crate = "path"` names the crate explicitly.
///
/// ```ignore
/// #[kioto::test(worker_threads = 4)]
/// async fn counts() -> Result<(), kioto::MailboxError> {
///     let addr = Counter::default().start();
///     assert_eq!(addr.send(Inc { by: 2 }).await?, 2);
///     Ok(())
/// }
///
/// #[kioto::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Kind::Test, args.into(), item.into()).into()
}

/// Generates messages and handlers from the methods of an actor's impl
/// block.
///
/// - `#[message]` on `async fn inc(&mut self, by: u64) -> u64` generates
///   `struct Inc { by: u64 }` (the method name in UpperCamelCase, with the
///   method's doc comments and visibility), `impl Message for Inc { type
///   Result = u64; }` and `impl Handler<Inc>` calling the method. The method
///   may be `async` or not, may omit the return type (`()`), and may take
///   `ctx: &mut Context<Self>` as its last parameter. Options:
///   `#[message(name = "Increment")]` renames the struct,
///   `#[message(derive(Debug, Clone))]` adds derives to it.
/// - `#[handler]` on `async fn on_ping(&mut self, msg: Ping, ctx: &mut
///   Context<Self>) -> Pong` (`ctx` optional) generates `impl Handler<Ping>`
///   calling the method; its return type must be `Ping`'s `Result`.
///
/// The methods stay in the impl block and can be called directly; unmarked
/// methods are left alone. Generics of the impl block carry through to the
/// `Handler` impls. `#[kioto::messages(crate = "path")]` names the crate
/// explicitly.
///
/// ```ignore
/// use kioto::prelude::*;
///
/// #[derive(Default)]
/// struct Counter { n: u64 }
/// impl Actor for Counter {}
///
/// #[kioto::messages]
/// impl Counter {
///     /// Adds `by` and returns the new count.
///     #[message]
///     pub async fn inc(&mut self, by: u64) -> u64 {
///         self.n += by;
///         self.n
///     }
///
///     #[handler]
///     async fn on_ping(&mut self, _ping: Ping) -> Pong {
///         Pong(self.n)
///     }
/// }
///
/// # #[derive(Message)] #[rtype(Pong)] struct Ping;
/// # struct Pong(u64);
/// #[kioto::main]
/// async fn main() {
///     let addr = Counter::default().start();
///     assert_eq!(addr.send(Inc { by: 2 }).await.unwrap(), 2);
/// }
/// ```
#[proc_macro_attribute]
pub fn messages(args: TokenStream, item: TokenStream) -> TokenStream {
    messages::messages(args.into(), item.into()).into()
}

/// Marks a method of a `#[kioto::messages]` impl block as a message; see
/// [`macro@messages`]. Used anywhere else it is an error.
#[proc_macro_attribute]
pub fn message(_args: TokenStream, item: TokenStream) -> TokenStream {
    messages::stray_marker("message", item.into()).into()
}

/// Marks a method of a `#[kioto::messages]` impl block as the handler of an
/// existing message type; see [`macro@messages`]. Used anywhere else it is
/// an error.
#[proc_macro_attribute]
pub fn handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    messages::stray_marker("handler", item.into()).into()
}
