//! spindle: a work-stealing, multi-threaded async runtime.
//!
//! Write what asyncio lets you write (`async fn` and `.await`, run until complete, gather
//! many tasks and get their results in order, catch errors from awaited work) and it runs on
//! every core.
//!
//! ```
//! async fn task(n: u64) -> String {
//!     spindle::yield_now().await;
//!     format!("task {n} done")
//! }
//!
//! let results = spindle::block_on(async {
//!     let handles: Vec<_> = (1..=3).map(|n| spindle::spawn(task(n))).collect();
//!     spindle::join_all(handles).await
//! });
//! let results: Vec<String> = results.into_iter().map(Result::unwrap).collect();
//! assert_eq!(results, ["task 1 done", "task 2 done", "task 3 done"]);
//! ```
//!
//! - Running: [`block_on`], [`Runtime`], [`Builder`], [`Handle`].
//! - Tasks: [`spawn`], [`spawn_local`], [`spawn_blocking`], [`JoinHandle`], [`JoinError`], [`yield_now`], [`JoinSet`],
//!   task ids ([`task::id`]).
//! - Seeing inside a runtime: [`Handle::metrics`] ([`RuntimeMetrics`], [`WorkerMetrics`]),
//!   [`Handle::dump`] ([`TaskDump`]), slow polls and stalls ([`Builder::slow_poll_threshold`],
//!   `SPINDLE_DEBUG=1`), thread hooks, [`UnhandledPanic`]; docs/observability.md.
//! - Many futures at once: [`join_all`], [`try_join_all`].
//! - Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`] (also at [`time`]).
//! - Subprocesses and signals: [`process`] (`Command`, `Child`), [`signal`] (`ctrl_c`).
//! - `async fn main` and async tests: [`#[spindle::main]`](macro@main),
//!   [`#[spindle::test]`](macro@test).
//! - hyper 1.x (feature `hyper`): `compat::hyper::{HyperIo, HyperExecutor, HyperTimer}`.
//!
//! The facade composes the engine crates, which do not depend on each other:
//! `spindle-scheduler` (tasks, work-stealing workers, the blocking pool), `spindle-timer` (a
//! timing wheel per worker) and `spindle-io` (the mio reactor and the sockets of [`net`]).
//! Each worker parks through a stack of layers on `spindle-core`'s parking seam: the timer's,
//! over the reactor's, over a thread parker. `spindle-core` also holds the cooperative budget
//! that the three engines share.

mod block_on;
#[cfg(feature = "hyper")]
pub mod compat;
mod context;
pub mod io;
mod join;
mod join_set;
mod metrics;
pub mod net;
mod panic_policy;
pub mod process;
mod runtime;
#[doc(hidden)]
pub mod seeded_test;
pub mod signal;
pub mod task;
pub mod time;

pub use join::{join_all, try_join_all, JoinAll, TryJoinAll};
pub use join_set::JoinSet;
pub use metrics::RuntimeMetrics;
pub use panic_policy::UnhandledPanic;
pub use runtime::{Builder, Handle, Runtime};
pub use spindle_scheduler::{
    JoinError, JoinHandle, SlowPoll, TaskDump, TaskInfo, TaskState, WorkerMetrics,
};
pub use task::{spawn, spawn_blocking, spawn_local, yield_now, YieldNow};
pub use time::{interval, sleep, sleep_until, timeout, Elapsed, Interval, Sleep, Timeout};

/// Runs `async fn main` on spindle: the attribute turns it into a plain `fn main` whose body
/// runs, as an `async move` block, to completion on the process-wide default runtime (see
/// [`block_on`]: one worker per core, `SPINDLE_WORKER_THREADS` overrides the count).
/// `#[spindle::main(worker_threads = N)]` runs it instead on a [`Runtime`] of its own with `N`
/// workers, dropped (cancelling the tasks still running) when the function returns.
///
/// ```
/// #[spindle::main]
/// async fn main() {
///     let tasks: Vec<_> = (1..=3).map(|n| spindle::spawn(async move { n * 10 })).collect();
///     let results: Vec<u32> = spindle::join_all(tasks)
///         .await
///         .into_iter()
///         .map(Result::unwrap)
///         .collect();
///     assert_eq!(results, [10, 20, 30]);
/// }
/// ```
///
/// The return type passes through, so `main` can return a `Result` and use `?`:
///
/// ```
/// #[spindle::main(worker_threads = 2)]
/// async fn main() -> Result<(), std::num::ParseIntError> {
///     let worker = spindle::spawn(async { std::thread::current().name().map(str::to_owned) });
///     assert!(worker.await.unwrap().unwrap().starts_with("spindle-worker-"));
///     let answer: u32 = "42".parse()?;
///     assert_eq!(answer, 42);
///     Ok(())
/// }
/// ```
///
/// It also works on a function with another name, which becomes a blocking function; its
/// arguments move into the future. Misuse is a compile error pointing at the code to change:
/// a plain `fn`, arguments on `main`, an option other than `worker_threads`, `flavor`,
/// `start_paused` and `seed`, or a `worker_threads` that is not a positive integer literal. The generated code names
/// `::spindle` paths, so the crate must be a dependency under that name.
pub use spindle_macros::main;
/// Makes an `async fn` a test that runs on a fresh [`Runtime`] of its own: 2 worker threads,
/// or `N` with `#[spindle::test(worker_threads = N)]`. The runtime is dropped when the test
/// ends, cancelling the tasks the test left running, so tests running in parallel share
/// neither workers nor leftovers.
///
/// The attribute adds `#[test]` itself and keeps the function's other attributes, so
/// `#[should_panic]` and `#[ignore]` work as on a plain test, and a test may return
/// `Result<(), E>`:
///
/// ```
/// #[spindle::test]
/// async fn spawned_tasks_finish() {
///     assert_eq!(spindle::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
///
/// #[spindle::test(worker_threads = 4)]
/// #[should_panic(expected = "boom")]
/// async fn a_panic_fails_the_test() {
///     spindle::spawn(async { panic!("boom") }).await.unwrap();
/// }
///
/// #[spindle::test]
/// async fn errors_fail_the_test() -> Result<(), std::num::ParseIntError> {
///     assert_eq!("7".parse::<u8>()?, 7);
///     Ok(())
/// }
/// ```
///
/// Other options: `flavor = "current_thread"` (every task on the test's thread),
/// `start_paused = true` (the clock paused: an hour of sleeps in microseconds), and
/// `seed = N`: a deterministic runtime ([`Builder::new_deterministic`]) whose tasks interleave
/// in an order fixed by `N`. `SPINDLE_SEED=M` in the environment runs such a test with seed `M`
/// instead, and a seeded test that fails prints `spindle: seed N` next to the failure, so the
/// schedule that broke it can be run again (docs/testing.md):
///
/// ```
/// #[spindle::test(seed = 7)]
/// async fn replays_one_schedule() {
///     let here = std::thread::current().id();
///     let task = spindle::spawn(async { std::thread::current().id() });
///     assert_eq!(task.await.unwrap(), here); // every logical worker runs on this thread
/// }
/// ```
///
/// A doctest is built without the test harness, which drops every `#[test]` function, so these
/// examples check only that the attributes expand; `cargo test` runs such tests.
pub use spindle_macros::test;

use std::future::Future;

/// Runs `future` to completion on the calling thread, on the process-wide default runtime
/// (one worker per core; `SPINDLE_WORKER_THREADS` overrides the count), and returns its
/// output: asyncio's `asyncio.run`.
///
/// If a runtime's [`Handle`] is current here (this is a task's thread, or inside another
/// `block_on`), `spindle::block_on` panics instead: blocking there would stall or deadlock
/// the runtime. Use `.await` instead.
///
/// ```
/// let answer = spindle::block_on(async {
///     let task = spindle::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime::default_runtime().block_on(future)
}
