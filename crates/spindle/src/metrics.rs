//! [`RuntimeMetrics`]: a snapshot of a runtime's counters, from [`Handle::metrics`].
//!
//! The scheduler's counters live per worker, each written only by its worker with plain
//! stores and read here with relaxed loads ([`WorkerMetrics`]); the task counts come from the
//! registry of live tasks, under the locks that spawning and completing take anyway. Nothing
//! on a hot path pays for a snapshot, and a snapshot costs a few dozen loads and locks per
//! worker: cheap enough to take every second. docs/observability.md explains each number.
//!
//! [`Handle::metrics`]: crate::Handle::metrics

use spindle_scheduler::WorkerMetrics;
use std::fmt;

/// A snapshot of a runtime's metrics, taken by [`Handle::metrics`](crate::Handle::metrics).
///
/// Each value was true at some moment during the call; counters only grow, so the
/// difference between two snapshots is the activity between them.
///
/// ```
/// let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
/// runtime.block_on(async {
///     let tasks: Vec<_> = (0..10).map(|n| spindle::spawn(async move { n })).collect();
///     spindle::join_all(tasks).await;
/// });
/// let metrics = runtime.handle().metrics();
/// assert_eq!(metrics.num_workers(), 2);
/// assert_eq!(metrics.spawned_tasks_count(), 10);
/// assert_eq!(metrics.num_alive_tasks(), 0);
/// // A worker publishes its poll count when it parks, after the tasks' outputs were handed
/// // over: the 10 polls show once both workers are idle.
/// let polls = || {
///     let metrics = runtime.handle().metrics();
///     (0..metrics.num_workers()).map(|i| metrics.worker(i).poll_count()).sum::<u64>()
/// };
/// for _ in 0..5_000 {
///     if polls() >= 10 {
///         break;
///     }
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// assert!(polls() >= 10);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) workers: Vec<WorkerMetrics>,
    pub(crate) num_alive_tasks: usize,
    pub(crate) spawned_tasks_count: u64,
    pub(crate) injector_depth: usize,
    pub(crate) blocking_threads: usize,
    pub(crate) armed_timers: usize,
    pub(crate) io_registrations: usize,
}

impl RuntimeMetrics {
    /// The number of worker threads.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(3).build().unwrap();
    /// assert_eq!(runtime.handle().metrics().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// Tasks spawned and not yet finished, cancelled or dropped: what a
    /// [`dump`](crate::Handle::dump) would list. `spawn_blocking` closures are not counted
    /// (see [`blocking_threads`](Self::blocking_threads)).
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// let task = runtime.spawn(std::future::pending::<()>());
    /// assert_eq!(runtime.handle().metrics().num_alive_tasks(), 1);
    /// task.abort();
    /// # let _ = runtime.block_on(task);
    /// assert_eq!(runtime.handle().metrics().num_alive_tasks(), 0);
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        self.num_alive_tasks
    }

    /// Tasks spawned since the runtime was built. Moves by one on every `spawn`, from
    /// anywhere (a spawn after shutdown, cancelled at once, does not count).
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// runtime.block_on(runtime.spawn(async {})).unwrap();
    /// assert_eq!(runtime.handle().metrics().spawned_tasks_count(), 1);
    /// ```
    pub fn spawned_tasks_count(&self) -> u64 {
        self.spawned_tasks_count
    }

    /// Tasks waiting in the injector: spawned or woken from outside the workers (from
    /// `block_on`, another thread, a blocking closure) and not yet taken by a worker. A depth
    /// that stays high means the workers cannot keep up.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// assert_eq!(runtime.handle().metrics().injector_depth(), 0);
    /// ```
    pub fn injector_depth(&self) -> usize {
        self.injector_depth
    }

    /// Threads alive in the blocking pool, busy or idle (an idle one exits after the
    /// [keep-alive](crate::Builder::thread_keep_alive)).
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// runtime.block_on(runtime.spawn_blocking(|| ())).unwrap();
    /// assert_eq!(runtime.handle().metrics().blocking_threads(), 1);
    /// ```
    pub fn blocking_threads(&self) -> usize {
        self.blocking_threads
    }

    /// Timers armed now: sleeps, timeouts and intervals registered and not yet fired or
    /// dropped.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// assert_eq!(runtime.handle().metrics().armed_timers(), 0);
    /// ```
    pub fn armed_timers(&self) -> usize {
        self.armed_timers
    }

    /// I/O sources registered with the reactor now: sockets, pipes, signal and process
    /// watchers.
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
    /// let registrations = runtime.block_on(async {
    ///     let _listener = spindle::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     spindle::Handle::current().metrics().io_registrations()
    /// });
    /// assert!(registrations >= 1);
    /// ```
    pub fn io_registrations(&self) -> usize {
        self.io_registrations
    }

    /// Worker `index`'s counters: polls, steals, parks, queue depth, busy time, forced yields
    /// (see [`WorkerMetrics`]).
    ///
    /// # Panics
    ///
    /// If `index` is not below [`num_workers`](Self::num_workers).
    ///
    /// ```
    /// let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
    /// let metrics = runtime.handle().metrics();
    /// for index in 0..metrics.num_workers() {
    ///     println!("worker {index}: {:?}", metrics.worker(index));
    /// }
    /// ```
    pub fn worker(&self, index: usize) -> WorkerMetrics {
        let workers = self.workers.len();
        self.workers.get(index).cloned().unwrap_or_else(|| {
            panic!("RuntimeMetrics::worker({index}): the runtime has {workers} workers")
        })
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_alive_tasks", &self.num_alive_tasks)
            .field("spawned_tasks_count", &self.spawned_tasks_count)
            .field("injector_depth", &self.injector_depth)
            .field("blocking_threads", &self.blocking_threads)
            .field("armed_timers", &self.armed_timers)
            .field("io_registrations", &self.io_registrations)
            .field("workers", &self.workers)
            .finish()
    }
}
