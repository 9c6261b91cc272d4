//! Shared helpers for the benchmarks: every contender built the same way, with the same worker
//! count, behind one small interface so each workload is written once.
//!
//! # Contenders
//!
//! | name | built as | root future (`block_on`) runs on | spawn inside the runtime |
//! | --- | --- | --- | --- |
//! | `spindle` | `spindle::Builder::new().worker_threads(W)` | the calling (bench) thread | `spindle::spawn` |
//! | `tokio` | `tokio::runtime::Builder::new_multi_thread().worker_threads(W).enable_time()` | the calling (bench) thread | `tokio::spawn` |
//! | `smol` | an `async_executor::Executor<'static>` run by W threads, each in `async_io::block_on` | a task on the executor; the bench thread blocks on its `Task` | `Executor::spawn` |
//!
//! W is [`worker_count`]: the `BENCH_WORKERS` environment variable if set, else the number of
//! cores. Each runtime is built once, outside any timed region, and every workload is generic
//! over [`Contender`], so the three run exactly the same code apart from the runtime calls.
//!
//! # Timers
//!
//! Each runtime's own timer, behind [`Spawner::sleep`], [`Spawner::sleep_until`] and
//! [`Spawner::timeout`]:
//!
//! | name | timer | `timeout(d, f)` is |
//! | --- | --- | --- |
//! | `spindle` | per-worker timing wheels, ticks of `spindle_timer::TICK` (10 µs) | `spindle::timeout(d, f)` |
//! | `tokio` | the time driver (`enable_time`), sharded wheels, 1 ms ticks | `tokio::time::timeout(d, f)` |
//! | `smol` | async-io's reactor: a `BTreeMap` of deadlines behind a queue of timer operations | `futures_lite::future::or(f, async_io::Timer::after(d))`: `f` polled first, as the other two do |
//!
//! smol's worker threads run the executor inside `async_io::block_on`, as smol's own
//! multi-threaded setup (`smol::spawn`'s global executor) does, so an idle worker drives the
//! reactor (and with it the timers) instead of leaving that to async-io's fallback thread.
//!
//! # Invariants
//!
//! - No contender turns the bench thread into a worker: smol's root future is spawned onto the
//!   executor and the bench thread only waits for its `Task` (a plain
//!   `futures_lite::future::block_on(task)`), so smol has W executor threads, like the others.
//! - A [`Spawner`] is what a task captures to spawn more tasks. For spindle and tokio it is a
//!   zero-sized marker (their `spawn` finds the runtime through a thread-local, as user code
//!   does); for smol it is a `&'static Executor`, copied without touching a reference count.
//! - [`Spawner::Task`] resolves to the task's output: spindle's and tokio's `JoinError` is
//!   unwrapped (a benchmark task never panics or gets cancelled), so awaiting a handle costs the
//!   same poll in all three.
//!
//! # Why smol's executor is leaked
//!
//! Tasks need to spawn from inside the runtime, and smol has no thread-local "current
//! executor". A `&'static Executor<'static>` (one small allocation per [`SmolRuntime`], kept for
//! the life of the process) gives them that without an `Arc` clone per spawn, which the other
//! two do not pay either.

pub mod io;
pub mod one_thread;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// The number of worker threads every contender gets: `BENCH_WORKERS` if set, else the number
/// of cores.
///
/// # Panics
///
/// If `BENCH_WORKERS` is set to something other than a positive whole number.
pub fn worker_count() -> usize {
    match std::env::var("BENCH_WORKERS") {
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!(
                "BENCH_WORKERS={value:?} is not a positive whole number; set it to the number \
                 of worker threads each runtime should get, or unset it to use one per core"
            ),
        },
        Err(_) => thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// A bench binary's `main`: `paired(rounds)` when the environment variable `var` asks for
/// paired rounds (see the `io` and `http` benches), criterion's `group` otherwise.
///
/// # Panics
///
/// If `var` is set to something other than a positive whole number.
pub fn paired_rounds_or_criterion(var: &str, paired: fn(usize), group: fn()) {
    match std::env::var(var) {
        Ok(rounds) => match rounds.trim().parse::<usize>() {
            Ok(n) if n > 0 => paired(n),
            _ => panic!("{var}={rounds:?} is not a positive whole number of rounds"),
        },
        Err(_) => {
            group();
            criterion::Criterion::default()
                .configure_from_args()
                .final_summary();
        }
    }
}

/// The `q` quantile of `values` (nearest rank), for the paired-round reports; sorts them.
///
/// # Panics
///
/// If `values` is empty.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// A way to spawn tasks from inside a runtime, cheap to copy into every task.
pub trait Spawner: Copy + Send + Sync + 'static {
    /// The handle of a spawned task; awaiting it gives the task's output.
    type Task<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// Spawns `future` and returns its handle.
    fn spawn<F>(self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `future` without keeping a handle: the task runs on, detached.
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's own `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// The runtime's own sleep for `duration`; the deadline is taken when this is called.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static;

    /// The runtime's own sleep until `deadline`.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static;

    /// The runtime's own timeout: `Ok(output)` if `future` finishes within `duration`,
    /// otherwise `Err(())` and `future` is dropped. `future` is polled before the timer.
    fn timeout<F>(
        duration: Duration,
        future: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send
    where
        F: Future + Send;
}

/// A runtime under test.
pub trait Contender {
    /// The name criterion reports it under.
    const NAME: &'static str;

    /// How its tasks spawn more tasks.
    type Spawner: Spawner;

    /// The spawner to capture into the root future and its tasks.
    fn spawner(&self) -> Self::Spawner;

    /// Runs `future` to completion and returns its output; the calling thread blocks.
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `future` from outside the runtime (the bench thread), through its handle.
    fn spawn_remote<F>(&self, future: F) -> <Self::Spawner as Spawner>::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// A join handle whose `Result<T, E>` output is unwrapped, so spindle's and tokio's handles
/// resolve to `T` like smol's `Task<T>`.
#[derive(Debug)]
pub struct Unwrapped<H>(H);

impl<H, T, E> Future for Unwrapped<H>
where
    H: Future<Output = Result<T, E>> + Unpin,
    E: std::fmt::Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(value),
            Poll::Ready(Err(err)) => panic!("a benchmark task failed: {err:?}"),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// spindle

/// A spindle [`Runtime`](spindle::Runtime) with W workers, and its handle for remote spawns.
#[derive(Debug)]
pub struct SpindleRuntime {
    runtime: spindle::Runtime,
    handle: spindle::Handle,
}

impl SpindleRuntime {
    /// `spindle::Builder::new().worker_threads(workers).build()`.
    ///
    /// # Panics
    ///
    /// If the runtime cannot start its threads.
    pub fn new(workers: usize) -> SpindleRuntime {
        let runtime = spindle::Builder::new()
            .worker_threads(workers)
            .build()
            .unwrap_or_else(|err| panic!("cannot build the spindle runtime: {err}"));
        let handle = runtime.handle();
        SpindleRuntime { runtime, handle }
    }

    /// The runtime itself.
    pub fn runtime(&self) -> &spindle::Runtime {
        &self.runtime
    }

    /// The handle used for spawns from outside the runtime.
    pub fn handle(&self) -> &spindle::Handle {
        &self.handle
    }
}

/// Spawns with `spindle::spawn` (the current runtime, found through the thread-local context).
#[derive(Debug, Clone, Copy)]
pub struct SpindleSpawner;

impl Spawner for SpindleSpawner {
    type Task<T: Send + 'static> = Unwrapped<spindle::JoinHandle<T>>;

    #[inline]
    fn spawn<F>(self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(spindle::spawn(future))
    }

    #[inline]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(spindle::spawn(future));
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + Send {
        spindle::yield_now()
    }

    #[inline]
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        spindle::sleep(duration)
    }

    #[inline]
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        spindle::sleep_until(deadline)
    }

    #[inline]
    fn timeout<F>(
        duration: Duration,
        future: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send
    where
        F: Future + Send,
    {
        let timeout = spindle::timeout(duration, future);
        async move { timeout.await.map_err(drop) }
    }
}

impl Contender for SpindleRuntime {
    const NAME: &'static str = "spindle";
    type Spawner = SpindleSpawner;

    fn spawner(&self) -> SpindleSpawner {
        SpindleSpawner
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.block_on(future)
    }

    #[inline]
    fn spawn_remote<F>(&self, future: F) -> Unwrapped<spindle::JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(self.handle.spawn(future))
    }
}

// ---------------------------------------------------------------------------------------------
// tokio

/// A tokio multi-thread [`Runtime`](tokio::runtime::Runtime) with W workers.
#[derive(Debug)]
pub struct TokioRuntime {
    runtime: tokio::runtime::Runtime,
}

impl TokioRuntime {
    /// `tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_time()
    /// .build()`: the time driver, as spindle has timers; no I/O driver (spindle has none yet).
    ///
    /// # Panics
    ///
    /// If the runtime cannot start its threads.
    pub fn new(workers: usize) -> TokioRuntime {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the tokio runtime: {err}"));
        TokioRuntime { runtime }
    }

    /// [`new`](Self::new) plus tokio's I/O driver (`enable_io`), for the I/O benchmarks: a
    /// tokio runtime without it cannot create sockets.
    ///
    /// # Panics
    ///
    /// If the runtime cannot start its threads.
    pub fn with_io(workers: usize) -> TokioRuntime {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .enable_io()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the tokio runtime: {err}"));
        TokioRuntime { runtime }
    }

    /// The runtime itself.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

/// Spawns with `tokio::spawn` (the current runtime, found through the thread-local context).
#[derive(Debug, Clone, Copy)]
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    type Task<T: Send + 'static> = Unwrapped<tokio::task::JoinHandle<T>>;

    #[inline]
    fn spawn<F>(self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(tokio::spawn(future))
    }

    #[inline]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(future));
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    #[inline]
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(duration)
    }

    #[inline]
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    #[inline]
    fn timeout<F>(
        duration: Duration,
        future: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send
    where
        F: Future + Send,
    {
        let timeout = tokio::time::timeout(duration, future);
        async move { timeout.await.map_err(drop) }
    }
}

impl Contender for TokioRuntime {
    const NAME: &'static str = "tokio";
    type Spawner = TokioSpawner;

    fn spawner(&self) -> TokioSpawner {
        TokioSpawner
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.block_on(future)
    }

    #[inline]
    fn spawn_remote<F>(&self, future: F) -> Unwrapped<tokio::task::JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(self.runtime.handle().spawn(future))
    }
}

// ---------------------------------------------------------------------------------------------
// smol

/// smol's multi-threaded setup: one `async_executor::Executor<'static>` that W threads run,
/// each in `async_io::block_on(executor.run(shutdown))`, as `smol::spawn`'s global executor
/// does (`smol::block_on` is `async_io::block_on`): an idle worker drives async-io's reactor,
/// which fires `async_io::Timer`s.
///
/// Dropping it signals the shutdown future (closes a channel) and joins the threads. The
/// executor itself is leaked (see the crate docs).
#[derive(Debug)]
pub struct SmolRuntime {
    executor: &'static async_executor::Executor<'static>,
    shutdown: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl SmolRuntime {
    /// Starts `workers` threads running one executor.
    ///
    /// # Panics
    ///
    /// If a thread cannot be started.
    pub fn new(workers: usize) -> SmolRuntime {
        let executor: &'static async_executor::Executor<'static> =
            Box::leak(Box::new(async_executor::Executor::new()));
        let (shutdown, stop) = async_channel::bounded::<()>(1);
        let threads = (0..workers)
            .map(|index| {
                let stop = stop.clone();
                thread::Builder::new()
                    .name(format!("smol-worker-{index}"))
                    .spawn(move || {
                        // `recv` fails once the sender is dropped: that ends `run`.
                        let _ = async_io::block_on(executor.run(stop.recv()));
                    })
                    .unwrap_or_else(|err| panic!("cannot start a smol worker thread: {err}"))
            })
            .collect();
        SmolRuntime {
            executor,
            shutdown: Some(shutdown),
            threads,
        }
    }

    /// The executor.
    pub fn executor(&self) -> &'static async_executor::Executor<'static> {
        self.executor
    }
}

impl Drop for SmolRuntime {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Spawns with `Executor::spawn` on the runtime's (leaked, `'static`) executor.
#[derive(Debug, Clone, Copy)]
pub struct SmolSpawner(&'static async_executor::Executor<'static>);

impl Spawner for SmolSpawner {
    type Task<T: Send + 'static> = async_executor::Task<T>;

    #[inline]
    fn spawn<F>(self, future: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(future)
    }

    #[inline]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping a smol `Task` cancels it; `detach` is smol's "drop the JoinHandle".
        self.0.spawn(future).detach();
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    #[inline]
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        let timer = async_io::Timer::after(duration);
        async move {
            timer.await;
        }
    }

    #[inline]
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        let timer = async_io::Timer::at(deadline);
        async move {
            timer.await;
        }
    }

    /// smol has no `timeout` combinator; this is the usual way to write one: race the future
    /// against an `async_io::Timer` with `futures_lite::future::or`, which polls its first
    /// argument first.
    #[inline]
    fn timeout<F>(
        duration: Duration,
        future: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send
    where
        F: Future + Send,
    {
        let timer = async_io::Timer::after(duration);
        futures_lite::future::or(async move { Ok(future.await) }, async move {
            timer.await;
            Err(())
        })
    }
}

impl Contender for SmolRuntime {
    const NAME: &'static str = "smol";
    type Spawner = SmolSpawner;

    fn spawner(&self) -> SmolSpawner {
        SmolSpawner(self.executor)
    }

    /// Spawns `future` as the root task and blocks the calling thread on its `Task`: the calling
    /// thread never runs executor work.
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(self.executor.spawn(future))
    }

    #[inline]
    fn spawn_remote<F>(&self, future: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }
}

/// Reads this process's resident set size (`VmRSS` in `/proc/self/status`), in KiB.
///
/// # Errors
///
/// If the file cannot be read or has no `VmRSS` line (not Linux).
pub fn rss_kib() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no parsable VmRSS line in /proc/self/status",
            )
        })
}
