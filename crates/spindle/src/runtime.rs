//! `Runtime`, its `Builder`, the cloneable `Handle`, and the process-wide default runtime.

use crate::context;
use crate::panic_policy::Failure;
use crate::{RuntimeMetrics, TaskDump};
use crate::{SlowPoll, UnhandledPanic};
use spindle_core::{Park, ThreadParker, ThreadUnparker, Unpark};
use spindle_io::{IoParker, IoUnparker, Reactor};
use spindle_scheduler::{BlockOnHooks, BlockingPool, Scheduler, Spawner};
use spindle_timer::{Timer, TimerParker};
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Each worker's parking stack: the timer's layer, over the reactor's, over a thread parker.
type WorkerParker = TimerParker<IoParker<ThreadParker>>;

/// The wake-up handle of a worker's parking stack.
pub(crate) type Unparker = IoUnparker<ThreadUnparker>;

/// A multi-threaded, work-stealing runtime: one worker thread per core by default.
///
/// Dropping it stops the workers and cancels every task that has not finished: their futures
/// are dropped (destructors run) and their [`JoinHandle`](crate::JoinHandle)s resolve to a
/// cancelled [`JoinError`](crate::JoinError).
///
/// # Examples
///
/// ```
/// let runtime = spindle::Runtime::new().unwrap();
/// let answer = runtime.block_on(async {
///     let task = spindle::spawn(async { 21 * 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    /// `None` once shut down.
    scheduler: Option<Scheduler<Unparker>>,
    /// Built by [`Builder::new_current_thread`] or [`Builder::new_deterministic`]: no worker
    /// threads; `block_on` runs the tasks.
    current_thread: bool,
    /// Built by [`Builder::new_deterministic`].
    seed: Option<u64>,
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// let runtime = spindle::Builder::new()
///     .worker_threads(2)
///     .thread_name("my-app-worker")
///     .build()
///     .unwrap();
/// assert_eq!(runtime.block_on(async { 1 + 1 }), 2);
/// ```
pub struct Builder {
    current_thread: bool,
    /// [`Builder::new_deterministic`]'s seed.
    seed: Option<u64>,
    start_paused: bool,
    worker_threads: Option<usize>,
    thread_name: String,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    on_thread_start: Option<ThreadHook>,
    on_thread_stop: Option<ThreadHook>,
    unhandled_panic: UnhandledPanic,
    slow_poll_threshold: Option<Duration>,
    on_slow_poll: Option<SlowPollHook>,
}

/// A thread start or stop hook.
type ThreadHook = Arc<dyn Fn() + Send + Sync>;

/// A reporter of slow polls.
type SlowPollHook = Arc<dyn Fn(&SlowPoll) + Send + Sync>;

/// A cheap, cloneable reference to a runtime, for spawning from anywhere.
///
/// ```
/// let runtime = spindle::Runtime::new().unwrap();
/// let handle = runtime.handle();
/// let task = std::thread::spawn(move || handle.spawn(async { "from another thread" }))
///     .join()
///     .unwrap();
/// assert_eq!(runtime.block_on(task).unwrap(), "from another thread");
/// ```
#[derive(Clone)]
pub struct Handle {
    spawner: Spawner<Unparker>,
    timer: Arc<Timer>,
    reactor: Arc<Reactor>,
    blocking: BlockingPool,
    /// With `UnhandledPanic::ShutdownRuntime` only.
    failure: Option<Arc<Failure>>,
    /// A current-thread runtime's handle.
    current_thread: bool,
    /// The `block_on` calls running on threads that are not workers: a paused clock jumps
    /// only while each is parked and not woken (`time::pause`).
    block_ons: Arc<std::sync::Mutex<Vec<Arc<BlockOnState>>>>,
}

/// A `block_on` call in progress, as a paused clock sees it.
pub(crate) struct BlockOnState {
    /// Its thread waker's flag: set by a wake, until the thread polls again.
    woken: spindle_core::WokenFlag,
    /// Set while the thread parks with nothing to do.
    parked: std::sync::atomic::AtomicBool,
}

impl BlockOnState {
    fn is_idle(&self) -> bool {
        self.parked.load(SeqCst) && !self.woken.is_set()
    }
}

impl Runtime {
    /// A runtime with one worker thread per core.
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// assert_eq!(runtime.block_on(async { 5 }), 5);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    ///
    /// ```
    /// let runtime = spindle::Runtime::builder().worker_threads(1).build().unwrap();
    /// # drop(runtime);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `future` to completion on the calling thread, with this runtime as the current
    /// one: `spindle::spawn` inside it spawns onto this runtime's workers.
    ///
    /// # Panics
    ///
    /// On a worker thread of any spindle runtime, or inside another `block_on`: blocking there
    /// would stall or deadlock the runtime. Use `.await` instead.
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let sum = runtime.block_on(async {
    ///     let tasks: Vec<_> = (1..=4).map(|n| spindle::spawn(async move { n })).collect();
    ///     spindle::join_all(tasks).await.into_iter().map(Result::unwrap).sum::<i32>()
    /// });
    /// assert_eq!(sum, 10);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if self.current_thread {
            return self.block_on_current_thread(future);
        }
        let guard = context::enter_block_on(&self.handle);
        crate::block_on::run_to_completion(future, guard.budget(), &self.handle)
    }

    /// `block_on` of a current-thread runtime: this thread runs its worker meanwhile.
    fn block_on_current_thread<F: Future>(&self, future: F) -> F::Output {
        let _guard = context::enter_block_on(&self.handle);
        let failure = self.handle.failure.as_deref();
        let scheduler = self
            .scheduler
            .as_ref()
            .expect("a runtime is only shut down by its drop");
        let mut future = std::pin::pin!(future);
        let output = scheduler.block_on_with(
            std::future::poll_fn(|cx| {
                if let Some(failure) = failure {
                    failure.check();
                }
                future.as_mut().poll(cx)
            }),
            CurrentThreadCaller {
                handle: &self.handle,
                waiting: None,
            },
        );
        output.unwrap_or_else(|| {
            if let Some(failure) = failure {
                failure.check();
            }
            panic!("the runtime shut down while block_on was waiting on its future")
        })
    }

    /// Runs a blocking closure on this runtime's blocking pool; see [`Handle::spawn_blocking`].
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let task = runtime.spawn_blocking(|| std::fs::metadata("/").is_ok());
    /// assert!(runtime.block_on(task).unwrap());
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> crate::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Spawns a task onto this runtime; see [`Handle::spawn`].
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let task = runtime.spawn(async { 7 });
    /// assert_eq!(runtime.block_on(task).unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> crate::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// A [`Handle`] to this runtime.
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// assert_eq!(runtime.block_on(handle.spawn(async { 3 })).unwrap(), 3);
    /// ```
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The seed of a deterministic runtime ([`Builder::new_deterministic`]), `None` for any
    /// other.
    ///
    /// ```
    /// let runtime = spindle::Builder::new_deterministic(7).build().unwrap();
    /// assert_eq!(runtime.seed(), Some(7));
    /// assert_eq!(spindle::Runtime::new().unwrap().seed(), None);
    /// ```
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    pub(crate) fn handle_ref(&self) -> &Handle {
        &self.handle
    }

    /// Shuts the runtime down, waiting at most `timeout` for workers to finish the poll they
    /// are in. Every unfinished task is cancelled; a worker stuck in a long poll is detached
    /// and cancels what is left once that poll returns.
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let pending = runtime.spawn(std::future::pending::<()>());
    /// runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    /// assert!(spindle::block_on(pending).unwrap_err().is_cancelled());
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(timeout);
    }

    /// Runs once: `shutdown_timeout` followed by the drop must not wait again, unbounded.
    fn shutdown(&mut self, timeout: Duration) {
        let deadline = Instant::now().checked_add(timeout);
        let Some(scheduler) = self.scheduler.take() else {
            return;
        };
        if let Some(failure) = &self.handle.failure {
            failure.set_spawner(None);
        }
        scheduler.shutdown_timeout(timeout);
        let left = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        self.handle.blocking.shutdown_timeout(left);
        // Sockets that outlive the runtime fail their operations instead of hanging.
        self.handle.reactor.shutdown();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(Duration::MAX);
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: one worker per core, threads named `spindle-worker-N`.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().build().unwrap();
    /// # drop(runtime);
    /// ```
    pub fn new() -> Builder {
        Builder {
            current_thread: false,
            seed: None,
            start_paused: false,
            worker_threads: None,
            thread_name: "spindle-worker".into(),
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            on_thread_start: None,
            on_thread_stop: None,
            unhandled_panic: UnhandledPanic::Ignore,
            slow_poll_threshold: None,
            on_slow_poll: None,
        }
    }

    /// A builder of a current-thread runtime: no worker threads. [`Runtime::block_on`] runs
    /// the scheduler on the calling thread, with the timer and the I/O reactor parked under
    /// it, until its future completes; every task (`spawn` or `spawn_local`) runs on that
    /// thread, between polls of the future. Tasks not finished when `block_on` returns
    /// continue at the next `block_on`; dropping the runtime cancels them. `spawn_blocking`
    /// still runs closures on the blocking pool. As on asyncio's single thread, a task that
    /// blocks (a long computation, a blocking call) holds up all the others.
    ///
    /// [`worker_threads`](Self::worker_threads) does not apply; the thread hooks run on
    /// blocking-pool threads only. A `block_on` on a second thread while one runs waits for
    /// its own future alone and takes the scheduler over when the first returns; local tasks
    /// run only on the thread that spawned them, so call `block_on` from that thread while
    /// any is unfinished (elsewhere it panics), and drop the runtime there: dropped on another
    /// thread, it cannot drop their futures (they need not be `Send`), so it leaves them
    /// unfinished, says so on stderr, and their `JoinHandle`s never resolve.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let runtime = spindle::Builder::new_current_thread().build().unwrap();
    /// let here = std::thread::current().id();
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let tasks: Vec<_> = runtime.block_on(async {
    ///     (0..3)
    ///         .map(|n| {
    ///             let log = log.clone();
    ///             spindle::spawn_local(async move { log.borrow_mut().push((n, std::thread::current().id())) })
    ///         })
    ///         .collect()
    /// });
    /// // Spawned in one block_on, finished in the next.
    /// runtime.block_on(spindle::join_all(tasks));
    /// assert_eq!(*log.borrow(), [(0, here), (1, here), (2, here)]);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            current_thread: true,
            ..Builder::new()
        }
    }

    /// A builder of a deterministic runtime: [`worker_threads(n)`](Self::worker_threads)
    /// logical workers (4 unless set, whatever the machine, so that a seed replays anywhere),
    /// all run by the thread in [`Runtime::block_on`], with the clock paused. Every choice the
    /// scheduler makes (which worker polls next, its LIFO slot or its queue, the injector or
    /// a steal and from which victim, when the timer and the reactor get their maintenance
    /// poll) comes from a generator seeded with `seed`. The same program run with the same
    /// seed polls its tasks in the same order and sees the same [`time::now()`](crate::time::now)
    /// at each poll, relative to the runtime's start: a schedule that broke a test once can
    /// be replayed. Other seeds explore other schedules. madsim and shuttle do this as tools
    /// of their own; here the runtime's own tasks, queues and timers run under it.
    ///
    /// Like a current-thread runtime otherwise: `spawn` and `spawn_local` both work, tasks not
    /// finished when `block_on` returns continue at the next one, dropping the runtime
    /// cancels them.
    ///
    /// Outside the seed, and so not replayed: what other threads do and when (a
    /// `spawn_blocking` closure, a thread sending on a channel), real sockets and
    /// subprocesses (they work, but the kernel decides when their data arrives), and a clock
    /// resumed with [`time::resume`](crate::time::resume). `#[spindle::test(seed = N)]` runs a
    /// test this way (see the attribute for `SPINDLE_SEED`).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// fn finishing_order(seed: u64) -> Vec<u32> {
    ///     let runtime = spindle::Builder::new_deterministic(seed).worker_threads(3).build().unwrap();
    ///     assert_eq!(runtime.seed(), Some(seed));
    ///     let order = Arc::new(Mutex::new(Vec::new()));
    ///     runtime.block_on(async {
    ///         let tasks: Vec<_> = (0..10)
    ///             .map(|n| {
    ///                 let order = order.clone();
    ///                 spindle::spawn(async move {
    ///                     for _ in 0..n % 3 {
    ///                         spindle::yield_now().await;
    ///                     }
    ///                     order.lock().unwrap().push(n);
    ///                 })
    ///             })
    ///             .collect();
    ///         spindle::join_all(tasks).await;
    ///     });
    ///     let order = order.lock().unwrap().clone();
    ///     order
    /// }
    ///
    /// assert_eq!(finishing_order(42), finishing_order(42));
    /// ```
    pub fn new_deterministic(seed: u64) -> Builder {
        Builder {
            current_thread: true,
            seed: Some(seed),
            ..Builder::new()
        }
    }

    /// Starts the runtime with its clock paused (see [`time::pause`](crate::time::pause)):
    /// on every flavour, the multi-thread one included.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = spindle::Builder::new().worker_threads(2).start_paused(true).build().unwrap();
    /// let waited = runtime.block_on(async {
    ///     let start = spindle::time::now();
    ///     let tasks: Vec<_> = (1..=3u64)
    ///         .map(|h| spindle::spawn(spindle::sleep(Duration::from_secs(3600 * h))))
    ///         .collect();
    ///     spindle::join_all(tasks).await;
    ///     spindle::time::now() - start
    /// });
    /// assert!(waited >= Duration::from_secs(3 * 3600));
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// Reports every task poll that runs longer than `threshold` without yielding: asyncio's
    /// debug mode and its `slow_callback_duration`. A slow poll is reported while it still
    /// runs (a stall: the worker is stuck in it), within about twice the threshold, by another
    /// worker, and again when it ends, with its full duration; each report names the task and
    /// where it was spawned (see [`SlowPoll`]). A runtime with one worker reports only the end.
    ///
    /// Off by default, and then free. `SPINDLE_DEBUG=1` in the environment turns it on at
    /// 100 ms for every runtime built without an explicit threshold. While on, each poll
    /// reads a coarse clock twice.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = spindle::Builder::new()
    ///     .worker_threads(2)
    ///     .slow_poll_threshold(Duration::from_millis(20))
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     // Blocks its worker for 50 ms: one line on stderr while it runs, one when it ends,
    ///     // "spindle: task 1 spawned at src/main.rs:11:5 ran 50 ms in one poll ...".
    ///     spindle::spawn(async { std::thread::sleep(Duration::from_millis(50)) }).await.unwrap();
    /// });
    /// ```
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.slow_poll_threshold = Some(threshold);
        self
    }

    /// Replaces the reporter of slow polls (by default one line on stderr, `spindle: ` and
    /// the report). `f` runs on a worker thread: the slow task's own when the poll ends,
    /// another worker's while it runs. Keep it short; a panic in it is ignored.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let reports = Arc::new(Mutex::new(Vec::new()));
    /// let sink = reports.clone();
    /// let runtime = spindle::Builder::new()
    ///     .worker_threads(2)
    ///     .slow_poll_threshold(Duration::from_millis(20))
    ///     .on_slow_poll(move |report| sink.lock().unwrap().push(report.clone()))
    ///     .build()
    ///     .unwrap();
    /// let slow = runtime.spawn(async { std::thread::sleep(Duration::from_millis(60)) });
    /// let id = slow.id();
    /// runtime.block_on(slow).unwrap();
    /// drop(runtime); // the workers are done reporting
    /// let reports = reports.lock().unwrap();
    /// let end = reports.iter().find(|r| !r.still_running()).unwrap();
    /// assert_eq!(end.task(), id);
    /// assert!(end.duration() >= Duration::from_millis(60));
    /// ```
    pub fn on_slow_poll(&mut self, f: impl Fn(&SlowPoll) + Send + Sync + 'static) -> &mut Self {
        self.on_slow_poll = Some(Arc::new(f));
        self
    }

    /// Runs `f` on every thread of the runtime as it starts: each worker thread, before it
    /// runs any task, and each blocking-pool thread, before its first closure. For
    /// thread-local setup, tracing spans, CPU pinning. On a worker, the runtime is current
    /// already ([`Handle::current`] works).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let runtime = spindle::Builder::new()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || {
    ///         counter.fetch_add(1, SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(runtime.spawn_blocking(|| ())).unwrap();
    /// drop(runtime);
    /// assert_eq!(started.load(SeqCst), 3); // two workers, one blocking thread
    /// ```
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on every thread of the runtime as it stops: a worker after its last task,
    /// at shutdown; a blocking thread when it exits (idle past its keep-alive, or at
    /// shutdown).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = stopped.clone();
    /// let runtime = spindle::Builder::new()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || {
    ///         counter.fetch_add(1, SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// drop(runtime);
    /// assert_eq!(stopped.load(SeqCst), 2);
    /// ```
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// What to do when a task panics and nobody reads the panic (its `JoinHandle` was
    /// dropped, or is dropped unawaited): see [`UnhandledPanic`]. The default is
    /// [`Ignore`](UnhandledPanic::Ignore).
    ///
    /// ```
    /// use spindle::UnhandledPanic;
    ///
    /// let runtime = spindle::Builder::new()
    ///     .worker_threads(1)
    ///     .unhandled_panic(UnhandledPanic::ShutdownRuntime)
    ///     .build()
    ///     .unwrap();
    /// drop(runtime.spawn(async { panic!("nobody awaits this") }));
    /// let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     runtime.block_on(std::future::pending::<()>())
    /// }));
    /// let message = stopped.unwrap_err().downcast::<String>().unwrap();
    /// assert!(message.contains("nobody awaits this"));
    /// ```
    pub fn unhandled_panic(&mut self, policy: UnhandledPanic) -> &mut Self {
        self.unhandled_panic = policy;
        self
    }

    /// The most threads the blocking pool ([`spawn_blocking`](crate::spawn_blocking)) runs at
    /// once (default 512). More closures than that wait in a queue.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().max_blocking_threads(2).build().unwrap();
    /// let tasks: Vec<_> = (0..4).map(|n| runtime.spawn_blocking(move || n)).collect();
    /// let results: Vec<_> = runtime.block_on(spindle::join_all(tasks));
    /// assert_eq!(results.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 1, 2, 3]);
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits (default 10 s).
    ///
    /// ```
    /// let runtime = spindle::Builder::new()
    ///     .thread_keep_alive(std::time::Duration::from_millis(500))
    ///     .build()
    ///     .unwrap();
    /// # drop(runtime);
    /// ```
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Self {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// The number of worker threads. Zero is rejected by [`build`](Builder::build) with
    /// [`io::ErrorKind::InvalidInput`]. On a deterministic runtime
    /// ([`new_deterministic`](Self::new_deterministic)), the number of logical workers that
    /// its one thread runs.
    ///
    /// ```
    /// let err = spindle::Builder::new().worker_threads(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// The prefix of the worker threads' names (`{name}-{index}`).
    ///
    /// ```
    /// let runtime = spindle::Builder::new().thread_name("io").worker_threads(1).build().unwrap();
    /// let name = runtime
    ///     .block_on(spindle::spawn(async { std::thread::current().name().unwrap().to_owned() }));
    /// # let _ = name;
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Starts the runtime's worker threads.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for zero workers. Otherwise the OS error, with a message
    /// naming what failed: the I/O reactor (`cannot create the I/O reactor: ...`, out of file
    /// descriptors, say) or a worker thread (`cannot start worker thread 2 of 4
    /// (spindle-worker-2): ...`, at a thread limit, say). A failed build leaves no thread and
    /// no descriptor behind: the workers already started are stopped and joined first.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
    /// assert_eq!(runtime.block_on(async { "ok" }), "ok");
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        install_default_drivers();
        let reactor = Reactor::new().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot create the I/O reactor: {error}"),
            )
        })?;
        // A deterministic runtime's logical workers share one thread, and so one parking
        // stack (with the timer's one wheel).
        let (workers, parking_stacks_needed) = match (self.seed, self.current_thread) {
            (Some(_), _) => (self.worker_threads, 1),
            (None, true) => (Some(1), 1),
            (None, false) => {
                let workers = self
                    .worker_threads
                    .unwrap_or_else(spindle_scheduler::default_worker_threads);
                (Some(workers), workers)
            }
        };
        let (timer, mut parkers) = parking_stacks(&reactor, parking_stacks_needed);
        // Phase one: everything a handle holds, with no thread started.
        let mut scheduler_builder = spindle_scheduler::Builder::new();
        scheduler_builder.thread_name(self.thread_name.clone());
        if let Some(workers) = workers {
            scheduler_builder.worker_threads(workers);
        }
        if let Some(threshold) = self.slow_poll_threshold.or_else(debug_mode_threshold) {
            scheduler_builder.slow_poll_threshold(threshold);
        }
        if let Some(f) = self.on_slow_poll.clone() {
            scheduler_builder.on_slow_poll(move |report| f(report));
        }
        let failure = match self.unhandled_panic {
            UnhandledPanic::Ignore => None,
            UnhandledPanic::ShutdownRuntime => {
                let failure = Arc::new(Failure::new());
                let hook = failure.clone();
                scheduler_builder
                    .on_unhandled_panic(move |id, location, error| hook.fail(id, location, error));
                Some(failure)
            }
        };
        let mut scheduler = match self.seed {
            Some(seed) => scheduler_builder
                .prepare_deterministic(seed, parkers.next().expect("one parking stack"))?,
            None => scheduler_builder
                .prepare(|_| parkers.next().expect("one parking stack per worker"))?,
        };
        if let Some(failure) = &failure {
            failure.set_spawner(Some(scheduler.spawner()));
        }
        if self.start_paused || self.seed.is_some() {
            timer.pause();
        }
        let handle = Handle {
            spawner: scheduler.spawner(),
            blocking: self.blocking_pool(&timer),
            timer,
            reactor,
            failure,
            current_thread: self.current_thread,
            block_ons: Arc::new(std::sync::Mutex::new(Vec::new())),
        };
        let pool = handle.blocking.clone();
        handle
            .reactor
            .set_blocking_spawner(move |job| drop(pool.spawn(job)));
        // A paused clock jumps ahead only when no task can run and no blocking closure runs.
        let (spawner, pool) = (handle.spawner.clone(), handle.blocking.clone());
        let block_ons = handle.block_ons.clone();
        handle.timer.set_idle_probe(Box::new(move || {
            // The pool and the block_on calls first, then the queues, and the workers' word
            // around it all: one moment's answer (`Spawner::is_idle_with`).
            spawner.is_idle_with(|| {
                pool.busy() == 0
                    && block_ons
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .all(|state| state.is_idle())
            })
        }));
        if self.current_thread {
            return Ok(Runtime {
                handle,
                scheduler: Some(scheduler.start_on_caller()?),
                current_thread: true,
                seed: self.seed,
            });
        }
        // Phase two: the workers, each with the handle current for its whole life.
        let worker_handle = handle.clone();
        let on_start = self.on_thread_start.clone();
        let on_stop = self.on_thread_stop.clone();
        scheduler
            .on_thread_start(move |index| {
                context::enter_worker(worker_handle.clone(), index);
                if let Some(f) = &on_start {
                    f();
                }
            })
            .on_thread_stop(move |_| {
                if let Some(f) = &on_stop {
                    f();
                }
                context::exit_worker();
            });
        Ok(Runtime {
            handle,
            scheduler: Some(scheduler.start()?),
            current_thread: false,
            seed: None,
        })
    }

    fn blocking_pool(&self, timer: &Arc<Timer>) -> BlockingPool {
        let mut builder = BlockingPool::builder();
        // Weak: the timer's idle probe holds the pool.
        let timer = Arc::downgrade(timer);
        builder.on_idle(move || {
            if let Some(timer) = timer.upgrade() {
                timer.unpark_idle_workers();
            }
        });
        builder
            .max_threads(self.max_blocking_threads)
            .keep_alive(self.blocking_keep_alive)
            .thread_name(format!("{}-blocking", self.thread_name));
        if let Some(f) = self.on_thread_start.clone() {
            builder.on_thread_start(move || f());
        }
        if let Some(f) = self.on_thread_stop.clone() {
            builder.on_thread_stop(move || f());
        }
        builder.build()
    }
}

/// The timer of `workers` workers, and each worker's parking stack, bottom up: a thread
/// parker, the I/O layer on `reactor`, then the timer's layer.
fn parking_stacks(
    reactor: &Arc<Reactor>,
    workers: usize,
) -> (Arc<Timer>, impl Iterator<Item = WorkerParker>) {
    let io_parkers: Vec<_> = (0..workers)
        .map(|_| IoParker::new(ThreadParker::new(), reactor.clone()))
        .collect();
    let timer = Timer::new(
        io_parkers
            .iter()
            .map(|parker| {
                let unparker = parker.unparker();
                Box::new(move || unparker.unpark()) as Box<dyn Fn() + Send + Sync>
            })
            .collect(),
    );
    let worker_timer = timer.clone();
    let parkers = io_parkers
        .into_iter()
        .enumerate()
        .map(move |(index, io)| TimerParker::new(io, worker_timer.clone(), index));
    (timer, parkers)
}

impl Handle {
    /// The handle of the runtime this code runs in: a task's runtime, or the runtime whose
    /// `block_on` is on the stack.
    ///
    /// # Panics
    ///
    /// Outside any runtime. Use [`Handle::try_current`], or call it inside
    /// `Runtime::block_on` or a spawned task.
    ///
    /// ```
    /// spindle::block_on(async {
    ///     let handle = spindle::Handle::current();
    ///     assert_eq!(handle.spawn(async { 1 }).await.unwrap(), 1);
    /// });
    /// ```
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|| {
            panic!(
                "spindle::Handle::current() called outside a spindle runtime; call it from a \
                 spawned task or inside Runtime::block_on, or keep the Handle from \
                 Runtime::handle() and pass it where it is needed"
            )
        })
    }

    /// The current runtime's handle, or `None` outside any runtime.
    ///
    /// ```
    /// assert!(spindle::Handle::try_current().is_none());
    /// spindle::block_on(async { assert!(spindle::Handle::try_current().is_some()) });
    /// ```
    pub fn try_current() -> Option<Handle> {
        context::current()
    }

    /// Spawns `future` onto this handle's runtime, from any thread. It starts running at
    /// once, in parallel with the caller; awaiting the returned
    /// [`JoinHandle`](crate::JoinHandle) gives its output. If the runtime has shut down, the
    /// task is cancelled at once and its handle resolves to a cancelled `JoinError`.
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// drop(runtime);
    /// let late = handle.spawn(async { 1 });
    /// assert!(spindle::block_on(late).unwrap_err().is_cancelled());
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> crate::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawner.spawn(future)
    }

    pub(crate) fn spawner(&self) -> &Spawner<Unparker> {
        &self.spawner
    }

    pub(crate) fn is_current_thread(&self) -> bool {
        self.current_thread
    }

    pub(crate) fn failure(&self) -> Option<&Failure> {
        self.failure.as_deref()
    }

    /// Registers a `block_on` call whose thread waker sets `woken` (the guard deregisters
    /// it): a paused clock jumps only while it is [parked](BlockOnCall::parking) and not woken.
    pub(crate) fn block_on_call(&self, woken: &spindle_core::WokenFlag) -> BlockOnCall<'_> {
        let state = Arc::new(BlockOnState {
            woken: woken.clone(),
            parked: std::sync::atomic::AtomicBool::new(false),
        });
        self.block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(state.clone());
        BlockOnCall {
            handle: self,
            state,
        }
    }

    /// `spawn`, recording `location` as the spawn location.
    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> crate::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawner.spawn_at(future, location)
    }

    /// Runs the blocking closure `f` on this runtime's blocking pool, so that no worker
    /// blocks; see [`spawn_blocking`](crate::spawn_blocking).
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// let handle = runtime.handle();
    /// let task = handle.spawn_blocking(|| "read a file, say");
    /// assert_eq!(runtime.block_on(task).unwrap(), "read a file, say");
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> crate::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_blocking_at(f, Location::caller())
    }

    /// `spawn_blocking`, recording `location` as the spawn location.
    pub(crate) fn spawn_blocking_at<F, R>(
        &self,
        f: F,
        location: &'static Location<'static>,
    ) -> crate::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let handle = self.clone();
        let f = move || {
            let _current = context::enter_blocking(handle);
            f()
        };
        self.blocking.spawn_at(f, location)
    }

    /// A snapshot of the runtime's metrics: task counts, queue depths, and each worker's
    /// counters (see [`RuntimeMetrics`]). Cheap enough to call every second.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
    /// let handle = runtime.handle();
    /// let before = handle.metrics().spawned_tasks_count();
    /// runtime.block_on(async { spindle::spawn(async {}).await.unwrap() });
    /// assert_eq!(handle.metrics().spawned_tasks_count(), before + 1);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        let spawner = &self.spawner;
        RuntimeMetrics {
            workers: (0..spawner.num_workers())
                .map(|index| spawner.worker_metrics(index))
                .collect(),
            num_alive_tasks: spawner.num_alive_tasks(),
            spawned_tasks_count: spawner.spawned_tasks_count(),
            injector_depth: spawner.injector_depth(),
            blocking_threads: self.blocking.live_threads(),
            armed_timers: self.timer.len(),
            io_registrations: self.reactor.registrations(),
        }
    }

    /// Every live task of the runtime, now: its id, spawn location, state, age and polls
    /// (asyncio's `all_tasks`). Tasks waiting on sockets, timers, channels and join handles
    /// are listed like any other. It reads the registry of live tasks and never waits for a
    /// worker, so it completes while a worker is stuck in a long poll. `Display` prints one
    /// line per task, oldest first.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// let sleeper = runtime.spawn(spindle::sleep(std::time::Duration::from_secs(60)));
    /// let dump = runtime.handle().dump();
    /// assert_eq!(dump.tasks().len(), 1);
    /// assert_eq!(dump.tasks()[0].id(), sleeper.id());
    /// assert_eq!(dump.tasks()[0].location().file(), file!());
    /// println!("{dump}"); // task 1 idle 0.0s polls=1 spawned at src/main.rs:3:15
    /// ```
    pub fn dump(&self) -> TaskDump {
        self.spawner.dump()
    }

    /// The number of armed timers (sleeps, timeouts and intervals registered and not yet
    /// fired or dropped) on this runtime.
    ///
    /// ```
    /// let runtime = spindle::Runtime::new().unwrap();
    /// assert_eq!(runtime.handle().armed_timers(), 0);
    /// ```
    pub fn armed_timers(&self) -> usize {
        self.timer.len()
    }

    pub(crate) fn timer(&self) -> &Arc<Timer> {
        &self.timer
    }

    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }
}

/// A `block_on` call in progress ([`Handle::block_on_call`]).
pub(crate) struct BlockOnCall<'a> {
    handle: &'a Handle,
    state: Arc<BlockOnState>,
}

impl BlockOnCall<'_> {
    /// The thread is about to park with nothing to do: counted idle until it returns from
    /// [`parked`](Self::parked), unless woken. False if it was woken meanwhile: poll again.
    pub(crate) fn parking(&self) -> bool {
        // Before the store a probe can see: a probe that read this call busy earlier in the
        // same look (it spawned a task, or a blocking closure, and is parking now) answers
        // "not idle".
        self.handle.spawner.note_going_idle();
        self.state.parked.store(true, SeqCst);
        if self.state.woken.is_set() {
            self.state.parked.store(false, SeqCst);
            return false;
        }
        // Workers that found this call busy and parked untimed look again.
        self.handle.timer.unpark_idle_workers();
        true
    }

    /// The thread's park returned.
    pub(crate) fn parked(&self) {
        self.state.parked.store(false, SeqCst);
    }
}

impl Drop for BlockOnCall<'_> {
    fn drop(&mut self) {
        // Leaving is going idle too: a probe that read this call busy (it started a blocking
        // closure, or woke another block_on, just before returning) must not then find it
        // gone and answer "idle".
        self.handle.spawner.note_going_idle();
        self.handle
            .block_ons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|state| !Arc::ptr_eq(state, &self.state));
        self.handle.timer.unpark_idle_workers();
    }
}

/// A current-thread runtime's `block_on`, around its turn at running the worker and its
/// waits while another thread's `block_on` runs it.
struct CurrentThreadCaller<'a> {
    handle: &'a Handle,
    /// While it waits, the call is registered as any `block_on` is (`Handle::block_on_call`),
    /// so that a paused clock does not jump while it can still run.
    waiting: Option<BlockOnCall<'a>>,
}

impl BlockOnHooks for CurrentThreadCaller<'_> {
    type Driving = spindle_timer::EnterGuard;

    /// While this thread runs the worker, its sleeps go to the worker's wheel; while it only
    /// waits, to the timer's shared path, which wakes the worker.
    fn drive(&mut self) -> spindle_timer::EnterGuard {
        // The worker's own parks count for the probe from here on.
        self.waiting = None;
        spindle_timer::enter(self.handle.timer().clone(), Some(0))
    }

    fn waiting(&mut self, woken: &spindle_core::WokenFlag) {
        self.waiting = Some(self.handle.block_on_call(woken));
    }

    fn parking(&mut self) -> bool {
        self.waiting.as_ref().is_none_or(BlockOnCall::parking)
    }

    fn parked(&mut self) {
        if let Some(call) = &self.waiting {
            call.parked();
        }
    }
}

/// Makes timers and sockets used outside any runtime attach to the default runtime (which is
/// built only if one of them is actually used there).
pub(crate) fn install_default_drivers() {
    spindle_timer::set_default_timer(|| default_runtime().handle.timer.clone());
    spindle_io::set_default_reactor(|| default_runtime().handle.reactor.clone());
}

/// The process-wide runtime behind `spindle::block_on` and `spindle::spawn` outside any
/// runtime, built on first use.
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let mut builder = Builder::new();
        if let Some(n) = worker_threads_from_env() {
            builder.worker_threads(n);
        }
        builder
            .build()
            .unwrap_or_else(|err| panic!("spindle: cannot start the default runtime: {err}"))
    })
}

/// The slow-poll threshold of `SPINDLE_DEBUG=1` (asyncio's `PYTHONASYNCIODEBUG`): 100 ms, as
/// asyncio's `slow_callback_duration`. Any other value, or none, leaves it off.
fn debug_mode_threshold() -> Option<Duration> {
    let on = std::env::var("SPINDLE_DEBUG").is_ok_and(|value| value.trim() == "1");
    on.then_some(Duration::from_millis(100))
}

/// `SPINDLE_WORKER_THREADS`, if set.
fn worker_threads_from_env() -> Option<usize> {
    let value = std::env::var("SPINDLE_WORKER_THREADS").ok()?;
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!(
            "SPINDLE_WORKER_THREADS={value:?} is not a positive whole number; set it to the \
             number of worker threads the default runtime should start, or unset it"
        ),
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("current_thread", &self.current_thread)
            .field("seed", &self.seed)
            .field(
                "worker_threads",
                &self.scheduler.as_ref().map_or(0, |s| s.worker_threads()),
            )
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("current_thread", &self.current_thread)
            .field("seed", &self.seed)
            .field("start_paused", &self.start_paused)
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("unhandled_panic", &self.unhandled_panic)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}
