//! Per-worker counters, and the snapshot of them that [`Spawner::worker_metrics`] returns.
//!
//! Each worker owns its counters: only that worker's thread writes them, each write a plain
//! load and store (never a read-modify-write, which would lock the cache line), and a snapshot
//! on any thread reads them with relaxed loads. A snapshot is therefore a set of values each
//! of which was true at some moment during the call, not one instant's; every counter only
//! grows, so two snapshots taken in turn never go backwards.
//!
//! [`Spawner::worker_metrics`]: crate::Spawner::worker_metrics

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// One worker's counters. std's atomics even under loom: statistics that no synchronization
/// depends on.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) steal_operations: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) busy_nanos: AtomicU64,
    pub(crate) forced_yields: AtomicU64,
}

/// Adds `n` to a counter that only the calling thread writes.
#[inline]
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self, local_queue_depth: usize) -> WorkerMetrics {
        WorkerMetrics {
            poll_count: self.polls.load(Relaxed),
            steal_count: self.steals.load(Relaxed),
            steal_operations: self.steal_operations.load(Relaxed),
            park_count: self.parks.load(Relaxed),
            local_queue_depth,
            busy_duration: Duration::from_nanos(self.busy_nanos.load(Relaxed)),
            budget_forced_yield_count: self.forced_yields.load(Relaxed),
        }
    }
}

/// A snapshot of one worker's counters, from its start until the snapshot was taken.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
/// let spawner = scheduler.spawner();
/// futures::executor::block_on(scheduler.spawn(async {})).unwrap();
/// let polls = || (0..2).map(|i| spawner.worker_metrics(i).poll_count()).sum::<u64>();
/// while polls() == 0 {
///     std::thread::yield_now(); // counted as the poll returns, just after the output
/// }
/// ```
#[derive(Clone)]
pub struct WorkerMetrics {
    poll_count: u64,
    steal_count: u64,
    steal_operations: u64,
    park_count: u64,
    local_queue_depth: usize,
    busy_duration: Duration,
    budget_forced_yield_count: u64,
}

impl WorkerMetrics {
    /// Task polls this worker made: each time the worker polls a task (or drops the future
    /// of a cancelled task it took from its queue). The worker counts them in its own fields
    /// and publishes the count when it parks and at its maintenance tick (every 61 polls, or
    /// 100 µs if that is longer), so a busy worker's count lags by that much.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// futures::executor::block_on(scheduler.spawn(async {})).unwrap();
    /// // Published when the worker parks, just after the output was handed over.
    /// while scheduler.spawner().worker_metrics(0).poll_count() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn poll_count(&self) -> u64 {
        self.poll_count
    }

    /// Tasks this worker took from other workers: from their deques (a steal takes about half
    /// of a victim's queue at once) and from the LIFO slot of a worker stuck in a long poll.
    /// Moves only when this worker ran out of work of its own.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// // A single worker has nobody to steal from.
    /// assert_eq!(scheduler.spawner().worker_metrics(0).steal_count(), 0);
    /// ```
    pub fn steal_count(&self) -> u64 {
        self.steal_count
    }

    /// Successful steal operations, each of which took one or more tasks
    /// ([`steal_count`](Self::steal_count) counts the tasks).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
    /// let m = scheduler.spawner().worker_metrics(1);
    /// assert!(m.steal_operations() <= m.steal_count());
    /// ```
    pub fn steal_operations(&self) -> u64 {
        self.steal_operations
    }

    /// Times this worker went to sleep in its park (through the timer and the I/O reactor, on
    /// a runtime). An idle worker keeping watch over busy ones parks with a short timeout
    /// (0.1 to 2 ms), and each of those counts, so an idle runtime's count moves fast for a
    /// few milliseconds after it was last busy, then stops.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// assert!(scheduler.spawner().worker_metrics(0).park_count() >= 1);
    /// ```
    pub fn park_count(&self) -> u64 {
        self.park_count
    }

    /// Tasks queued on this worker now: its deque and its LIFO slot.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(scheduler.spawner().worker_metrics(0).local_queue_depth(), 0);
    /// ```
    pub fn local_queue_depth(&self) -> usize {
        self.local_queue_depth
    }

    /// Time this worker spent out of its park: polling tasks, and looking for them. Brought up
    /// to date when the worker parks and at its maintenance tick (at most every 61 polls), so
    /// a worker in one long poll shows that poll only once it ends.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spin = scheduler.spawn(async { std::thread::sleep(std::time::Duration::from_millis(20)) });
    /// futures::executor::block_on(spin).unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(20)); // the worker parks again
    /// assert!(scheduler.spawner().worker_metrics(0).busy_duration().as_millis() >= 20);
    /// ```
    pub fn busy_duration(&self) -> Duration {
        self.busy_duration
    }

    /// Polls that ended with the task's cooperative budget spent (`coop`): the task completed
    /// 128 ready operations on spindle resources in one poll and was made to yield, or would
    /// have been at its next one. A high rate means tasks that always find their sockets,
    /// timers or join handles ready. Published with [`poll_count`](Self::poll_count).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(scheduler.spawner().worker_metrics(0).budget_forced_yield_count(), 0);
    /// ```
    pub fn budget_forced_yield_count(&self) -> u64 {
        self.budget_forced_yield_count
    }
}

impl fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerMetrics")
            .field("poll_count", &self.poll_count)
            .field("steal_count", &self.steal_count)
            .field("steal_operations", &self.steal_operations)
            .field("park_count", &self.park_count)
            .field("local_queue_depth", &self.local_queue_depth)
            .field("busy_duration", &self.busy_duration)
            .field("budget_forced_yield_count", &self.budget_forced_yield_count)
            .finish()
    }
}
