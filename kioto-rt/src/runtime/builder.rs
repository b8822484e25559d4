//! `Builder`: configures and builds a [`Runtime`].

use super::{Config, Runtime};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

type Callback = Arc<dyn Fn() + Send + Sync>;

/// The scheduler's idle accounting packs worker counts in 16 bits.
const MAX_WORKERS: usize = 0xFFFF;

/// Builds a [`Runtime`] with custom settings.
///
/// ```
/// use std::time::Duration;
///
/// let rt = kioto_rt::runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .stall_threshold(Duration::from_millis(100))
///     .build()
///     .unwrap();
/// assert_eq!(rt.metrics().num_workers(), 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    thread_stack_size: Option<usize>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    global_queue_interval: u32,
    event_interval: u32,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
    stall_threshold: Option<Duration>,
}

impl Builder {
    /// A builder for the multi-threaded work-stealing runtime (the only
    /// flavour kioto has), with defaults: one worker per CPU, at most 512
    /// blocking threads, global queue checked every 61 ticks, I/O polled
    /// every 61 ticks when busy, no stall detection.
    pub fn new_multi_thread() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: Arc::new(|| "kioto-worker".to_string()),
            thread_stack_size: None,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            global_queue_interval: 61,
            event_interval: 61,
            on_thread_start: None,
            on_thread_stop: None,
            stall_threshold: None,
        }
    }

    /// Number of worker threads (default: the number of CPUs).
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "worker_threads must be at least 1");
        self.worker_threads = Some(n);
        self
    }

    /// Name of the runtime's threads (workers and blocking pool).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.thread_name = Arc::new(move || name.clone());
        self
    }

    /// A function naming each new thread, e.g. with a counter.
    pub fn thread_name_fn(&mut self, f: impl Fn() -> String + Send + Sync + 'static) -> &mut Self {
        self.thread_name = Arc::new(f);
        self
    }

    /// Stack size of the runtime's threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Most threads the blocking pool may run at once (default 512).
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "max_blocking_threads must be at least 1");
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread lives (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.blocking_keep_alive = d;
        self
    }

    /// Ticks between checks of the global queue when local work exists
    /// (default 61).
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    pub fn global_queue_interval(&mut self, n: u32) -> &mut Self {
        assert!(n > 0, "global_queue_interval must be at least 1");
        self.global_queue_interval = n;
        self
    }

    /// Ticks between non-blocking polls of the I/O driver and timers by a
    /// busy worker (default 61).
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    #[track_caller]
    pub fn event_interval(&mut self, n: u32) -> &mut Self {
        assert!(n > 0, "event_interval must be at least 1");
        self.event_interval = n;
        self
    }

    /// Runs `f` on each runtime thread (worker or blocking) when it starts.
    ///
    /// If `f` panics, the panic is caught and logged with `tracing::error!`
    /// and the thread starts anyway: a worker still runs tasks, a blocking
    /// thread still runs the closure it was started for.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each runtime thread before it exits. A panic in `f` is
    /// caught and logged, as for [`on_thread_start`](Self::on_thread_start).
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Warns (through `tracing`) when a worker spends longer than `d` inside
    /// a single task poll, naming the task and where it was spawned.
    pub fn stall_threshold(&mut self, d: Duration) -> &mut Self {
        self.stall_threshold = Some(d);
        self
    }

    /// Accepted for tokio compatibility: I/O and time are always enabled.
    pub fn enable_all(&mut self) -> &mut Self {
        self
    }

    /// Builds the runtime, starting its worker threads.
    ///
    /// Fails if a thread cannot be started or the I/O driver cannot be
    /// created, or if more than 65,535 workers were asked for.
    pub fn build(&mut self) -> io::Result<Runtime> {
        Runtime::start(self.config()?)
    }

    /// The settings, checked.
    pub(crate) fn config(&self) -> io::Result<Config> {
        let worker_threads = self.worker_threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        if worker_threads > MAX_WORKERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("worker_threads is {worker_threads}; at most {MAX_WORKERS} are supported"),
            ));
        }
        let config = Config {
            worker_threads,
            global_queue_interval: self.global_queue_interval,
            event_interval: self.event_interval,
            stall_threshold: self.stall_threshold,
            max_blocking_threads: self.max_blocking_threads,
            blocking_keep_alive: self.blocking_keep_alive,
            thread_name: self.thread_name.clone(),
            thread_stack_size: self.thread_stack_size,
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
        };
        Ok(config)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new_multi_thread()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("event_interval", &self.event_interval)
            .field("stall_threshold", &self.stall_threshold)
            .finish_non_exhaustive()
    }
}
