//! The macros against a stand-in for the actor API (`crate = crate::mock`),
//! so their expansions are compiled and run without the rest of Kioto.
//! The real thing is tested through the facade in the root `tests/macros_*.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

use kioto_macros::Message;

/// The shapes of the actor API the generated code names.
mod mock {
    use std::future::Future;
    use std::marker::PhantomData;
    use std::sync::Arc;
    use std::task::{Poll, Wake, Waker};

    pub trait Message: Send + 'static {
        type Result: Send + 'static;
    }

    pub trait Actor: Sized + Send + 'static {}

    pub struct Context<A>(PhantomData<A>);

    impl<A> Context<A> {
        pub fn new() -> Self {
            Context(PhantomData)
        }
    }

    pub trait Handler<M: Message>: Actor {
        fn handle(
            &mut self,
            msg: M,
            ctx: &mut Context<Self>,
        ) -> impl Future<Output = M::Result> + Send;
    }

    pub struct System(rt::runtime::Runtime);

    impl System {
        pub fn with_runtime(rt: rt::runtime::Runtime) -> Self {
            System(rt)
        }

        pub fn block_on<F: Future>(&self, f: F) -> F::Output {
            self.0.block_on(f)
        }
    }

    pub mod rt {
        pub mod runtime {
            use super::super::*;

            pub static LAST_WORKERS: std::sync::atomic::AtomicUsize =
                std::sync::atomic::AtomicUsize::new(0);

            pub struct Builder(usize);

            impl Builder {
                pub fn new_multi_thread() -> Self {
                    Builder(usize::MAX)
                }

                pub fn worker_threads(self, n: usize) -> Self {
                    Builder(n)
                }

                pub fn build(self) -> std::io::Result<Runtime> {
                    LAST_WORKERS.store(self.0, std::sync::atomic::Ordering::SeqCst);
                    Ok(Runtime)
                }
            }

            pub struct Runtime;

            struct Unpark(std::thread::Thread);

            impl Wake for Unpark {
                fn wake(self: Arc<Self>) {
                    self.0.unpark();
                }
            }

            impl Runtime {
                pub fn block_on<F: Future>(&self, f: F) -> F::Output {
                    let mut f = std::pin::pin!(f);
                    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
                    let mut cx = std::task::Context::from_waker(&waker);
                    loop {
                        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                            return out;
                        }
                        std::thread::park();
                    }
                }
            }
        }
    }
}

use mock::{Actor, Context, Handler};

async fn send<A: Handler<M>, M: mock::Message>(actor: &mut A, msg: M) -> M::Result {
    actor.handle(msg, &mut Context::new()).await
}

// ------------------------------------------------------------ derive --

#[derive(Message)]
#[kioto(crate = "crate::mock")]
#[rtype(result = "u64")]
struct Add(u64);

#[derive(Message)]
#[kioto(crate = "crate::mock")]
#[rtype(Option<String>)]
#[allow(dead_code)]
enum Lookup {
    ById(u32),
    ByName { name: String },
}

#[derive(Message)]
#[kioto(crate = "crate::mock")]
struct Ping;

#[derive(Message)]
#[kioto(crate = "crate::mock")]
#[rtype(result = "Vec<T>")]
struct Many<T: Clone>(T, usize);

#[derive(Message)]
#[kioto(crate = "crate::mock")]
#[rtype(usize)]
struct Text<'a>(#[allow(dead_code)] &'a str);

fn result_of<M: mock::Message>(_: &M) -> std::any::TypeId
where
    M::Result: 'static,
{
    std::any::TypeId::of::<M::Result>()
}

#[test]
fn derive_shapes() {
    use std::any::TypeId;
    assert_eq!(result_of(&Add(1)), TypeId::of::<u64>());
    assert_eq!(result_of(&Lookup::ById(1)), TypeId::of::<Option<String>>());
    assert_eq!(result_of(&Ping), TypeId::of::<()>());
    assert_eq!(result_of(&Many(1u8, 2)), TypeId::of::<Vec<u8>>());
    assert_eq!(result_of(&Text("static")), TypeId::of::<usize>());
    let _ = (
        Add(1).0,
        Lookup::ByName {
            name: String::new(),
        },
        Many(1, 1).1,
    );
}

// ---------------------------------------------------------- messages --

#[derive(Default)]
struct Counter {
    n: u64,
    pings: usize,
}

impl Actor for Counter {}

#[derive(Message)]
#[kioto(crate = "crate::mock")]
#[rtype(usize)]
struct CountPings;

#[kioto_macros::messages(crate = crate::mock)]
impl Counter {
    /// Adds `by` and returns the new count.
    #[message]
    pub async fn inc(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    #[message(name = "Get", derive(Debug, Clone, PartialEq))]
    fn current(&mut self, _ctx: &mut Context<Self>) -> u64 {
        self.n
    }

    #[message]
    async fn add_both(&mut self, mut a: u64, b: u64, ctx: &mut Context<Self>) {
        let _ = ctx;
        a += b;
        self.n += a;
    }

    #[handler]
    async fn on_ping(&mut self, _ping: Ping) {
        self.pings += 1;
    }

    #[handler]
    fn on_count(&mut self, CountPings: CountPings, _ctx: &mut Context<Self>) -> usize {
        self.pings
    }

    fn untouched(&self) -> u64 {
        self.n
    }
}

#[test]
fn messages_generate_structs_and_handlers() {
    let rt = mock::rt::runtime::Builder::new_multi_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = Counter::default();
        assert_eq!(send(&mut c, Inc { by: 2 }).await, 2);
        assert_eq!(send(&mut c, AddBoth { a: 1, b: 3 }).await, ());
        assert_eq!(send(&mut c, Get).await, 6);
        assert_eq!(Get.clone(), Get);
        send(&mut c, Ping).await;
        send(&mut c, Ping).await;
        assert_eq!(send(&mut c, CountPings).await, 2);
        // The methods are still there to call directly.
        assert_eq!(c.inc(1).await, 7);
        assert_eq!(c.untouched(), 7);
    });
}

struct Store<T> {
    items: Vec<T>,
}

impl<T: Send + 'static> Actor for Store<T> {}

#[derive(Message)]
#[kioto(crate = "crate::mock")]
#[rtype(result = "Option<T>")]
struct Take<T>(std::marker::PhantomData<T>);

#[kioto_macros::messages(crate = "crate::mock")]
impl<T: Send + 'static> Store<T> {
    #[message]
    fn len(&mut self) -> usize {
        self.items.len()
    }

    #[handler]
    async fn on_take(&mut self, _msg: Take<T>) -> Option<T> {
        self.items.pop()
    }
}

#[test]
fn generic_actor() {
    let rt = mock::rt::runtime::Builder::new_multi_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut s = Store {
            items: vec!["a".to_string()],
        };
        assert_eq!(send(&mut s, Len).await, 1);
        let taken = send(&mut s, Take(std::marker::PhantomData)).await;
        assert_eq!(taken.as_deref(), Some("a"));
        assert_eq!(send(&mut s, Len).await, 0);
    });
}

// ------------------------------------------------------ main / test --

static RAN: AtomicUsize = AtomicUsize::new(0);

#[kioto_macros::test(crate = crate::mock)]
async fn test_defaults_to_two_workers() {
    assert_eq!(mock::rt::runtime::LAST_WORKERS.load(Ordering::SeqCst), 2);
    RAN.fetch_add(1, Ordering::SeqCst);
}

#[kioto_macros::test(worker_threads = 1, crate = "crate::mock")]
async fn test_returns_result() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[kioto_macros::test(crate = crate::mock)]
#[should_panic(expected = "boom")]
async fn test_panics() {
    panic!("boom");
}

#[kioto_macros::test(crate = crate::mock)]
#[ignore = "checks that #[ignore] is kept"]
async fn test_ignored() {
    panic!("an ignored test ran");
}

mod entry_main {
    #[kioto_macros::main(crate = crate::mock, worker_threads = 3)]
    pub async fn main() -> Result<u32, String> {
        let v = async { 7 }.await;
        if v == 0 {
            return Err("zero".into());
        }
        Ok(v)
    }
}

#[test]
fn main_runs_its_body() {
    assert_eq!(entry_main::main(), Ok(7));
}
