//! spindle's work-stealing task scheduler.
//!
//! A [`Scheduler`] runs one OS thread per worker. Each worker owns a crossbeam-deque FIFO
//! deque and a LIFO slot; tasks spawned from outside go through a shared injector; idle
//! workers steal half of a random victim's deque; workers with nothing to do park through the
//! [`Park`] seam, under which a timer or an I/O driver can stack.
//!
//! ```
//! use spindle_scheduler::{Scheduler, ThreadParker};
//!
//! let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
//! let handles: Vec<_> = (1..=3).map(|n| scheduler.spawn(async move { n * 10 })).collect();
//! let results: Vec<_> = handles
//!     .into_iter()
//!     .map(|h| futures::executor::block_on(h).unwrap())
//!     .collect();
//! assert_eq!(results, [10, 20, 30]);
//! ```
//!
//! The modules, in the order a task meets them:
//!
//! - [`task`](crate::JoinHandle): the task allocation, its state machine, wakers, `JoinHandle`.
//! - `owned`: the registry of unfinished tasks, swept at shutdown, and walked by a
//!   [task dump](TaskDump).
//! - `queue`: the deques, stealers and injector.
//! - `worker`: the worker loop: where a worker looks for work, searching, parking.
//! - `idle`: which workers are parked or searching, and whom to wake.
//! - `local`: tasks pinned to one thread (`spawn_local`, [`LocalSet`]), whose futures need
//!   not be `Send`.
//! - `scheduler`: spawning, waking, shutdown.
//! - `builder`: the configuration, and the two phases of starting: set up, then spawn threads.
//! - `deterministic`: a second loop over the same queues, for seeded runs: every logical
//!   worker on one thread, each choice from a seeded generator.
//! - [`blocking`](BlockingPool): the pool of threads for blocking closures.
//! - [`metrics`](WorkerMetrics), [`dump`](TaskDump) and `slow_poll` ([`SlowPoll`]): what a
//!   runtime shows of itself.
//!
//! The parking seam ([`Park`], [`ThreadParker`]), the cooperative budget ([`coop`]) and the
//! loom switch come from `spindle-core`, which the timer and I/O crates share.

#[cfg(not(loom))]
mod blocking;
mod builder;
mod clock;
mod deterministic;
mod dump;
mod idle;
mod local;
mod metrics;
mod owned;
mod queue;
mod scheduler;
mod slow_poll;
#[cfg(not(loom))]
mod spin;
mod task;
mod worker;

#[cfg(not(loom))]
pub use blocking::{BlockingPool, BlockingPoolBuilder};
pub use spindle_core::{coop, Park, ThreadParker, ThreadUnparker, Unpark};

pub use builder::{default_worker_threads, Builder, PreparedScheduler};
pub use dump::{TaskDump, TaskInfo, TaskState};
pub use local::LocalSet;
pub use metrics::WorkerMetrics;
pub use scheduler::{BlockOnHooks, Scheduler, Spawner};
pub use slow_poll::SlowPoll;
mod loom {
    //! spindle-core's loom switch, and the lock of the scheduler's hot paths.
    pub(crate) use spindle_core::loom::*;

    /// The lock of the task registry's shards, taken twice per task (spawn and completion):
    /// a spin lock ([`crate::spin`]), whose lock is one atomic swap and whose unlock is a plain
    /// release store. std's mutex, behind `spindle_core::loom::sync::Mutex`, also checks and
    /// records poisoning and is not inlined here, which made every spawn measurably dearer
    /// (docs/benchmarks.md, "The base crate"); parking_lot's unlocks with a second atomic.
    /// Under loom it is the switch's mutex, so the models still see every lock.
    #[cfg(not(loom))]
    pub(crate) type HotMutex<T> = crate::spin::SpinLock<T>;
    #[cfg(loom)]
    pub(crate) type HotMutex<T> = sync::Mutex<T>;
}
pub use task::{try_current_task_id, Id, JoinError, JoinHandle};

#[cfg(all(test, loom))]
mod loom_tests;
