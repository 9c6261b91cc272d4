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
//! - Tasks: [`spawn`], [`spawn_blocking`], [`JoinHandle`], [`JoinError`], [`yield_now`], [`JoinSet`].
//! - Many futures at once: [`join_all`], [`try_join_all`].
//! - Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`] (also at [`time`]).
//! - hyper 1.x (feature `hyper`): `compat::hyper::{HyperIo, HyperExecutor, HyperTimer}`.
//!
//! The facade composes the engine crates: `spindle-scheduler` (tasks, work-stealing workers,
//! the parking seam) and `spindle-timer` (a timing wheel per worker), which stacks under the
//! scheduler's parking seam.

mod block_on;
#[cfg(feature = "hyper")]
pub mod compat;
mod context;
mod io_park;
mod join;
mod join_set;
pub mod net;
mod runtime;
mod task;
pub mod time;

pub use join::{join_all, try_join_all, JoinAll, TryJoinAll};
pub use join_set::JoinSet;
pub use runtime::{Builder, Handle, Runtime};
pub use spindle_scheduler::{JoinError, JoinHandle};
pub use task::{spawn, spawn_blocking, yield_now, YieldNow};
pub use time::{interval, sleep, sleep_until, timeout, Elapsed, Interval, Sleep, Timeout};

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
