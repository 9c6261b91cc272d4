//! Building a [`Scheduler`]: its configuration, the two phases (set up, then start the
//! threads), and what each worker thread runs around the worker loop.
//!
//! A runtime that composes the scheduler with other parts needs a [`Spawner`] before any
//! worker runs: a worker's start hook makes the runtime's handle current on its thread, and
//! that handle holds the spawner. [`Builder::prepare`] makes the queues and the shared state
//! with no thread started; [`PreparedScheduler::start`] spawns the threads. A worker thread
//! waits for a go from `start` before it runs its start hook or any task, so a thread that
//! cannot be spawned fails the start with no user code run on the others.

use crate::coop;
use crate::deterministic::DeterministicCore;
use crate::loom::Arc;
use crate::queue::{local_queue, LocalQueue};
use crate::scheduler::{PanicHook, Scheduler, Shared, Spawner};
use crate::slow_poll::{SlowPoll, SlowPollHook, Watch};
use crate::task::{Id, JoinError};
use crate::worker::{self, CallerCore, Remote};
use spindle_core::Park;
use std::fmt;
use std::io;
use std::io::Write;
use std::panic::Location;
use std::sync::mpsc;
use std::time::Duration;

/// A thread start/stop hook. Always std's `Arc`: the hooks are user code, not part of the
/// synchronization loom models, and loom's `Arc` cannot hold a `dyn Fn`.
type Callback = std::sync::Arc<dyn Fn(usize) + Send + Sync>;

/// Configures a [`Scheduler`]: [`build`](Builder::build) starts it at once, or
/// [`prepare`](Builder::prepare) sets it up so that a [`Spawner`] exists before any worker
/// thread starts.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .build(|_index| ThreadParker::new())
///     .unwrap();
/// assert_eq!(scheduler.worker_threads(), 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    on_unhandled_panic: Option<PanicHook>,
    slow_poll_threshold: Option<Duration>,
    on_slow_poll: Option<SlowPollHook>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Defaults: one worker per available core, threads named `spindle-worker-N`.
    ///
    /// ```
    /// let builder = spindle_scheduler::Builder::new();
    /// # drop(builder);
    /// ```
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: "spindle-worker".into(),
            on_unhandled_panic: None,
            slow_poll_threshold: None,
            on_slow_poll: None,
        }
    }

    /// Reports every task poll that runs longer than `threshold` (see [`SlowPoll`]): while it
    /// still runs, within about twice the threshold, if another worker is there to see it,
    /// and when it ends, with its full duration. Off by default; while off, a poll pays
    /// nothing for it. While on, a poll costs two reads of a coarse clock and a few stores.
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder()
    ///     .slow_poll_threshold(std::time::Duration::from_millis(100))
    ///     .build(|_| ThreadParker::new())
    ///     .unwrap();
    /// # drop(scheduler);
    /// ```
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.slow_poll_threshold = Some(threshold);
        self
    }

    /// What reports a slow poll (see [`slow_poll_threshold`](Self::slow_poll_threshold)): by
    /// default one line on stderr, `spindle: ` and the report's `Display`. `f` runs on a
    /// worker thread: the slow poll's own after it ends, another one while it runs. A panic
    /// in it is ignored.
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder()
    ///     .slow_poll_threshold(std::time::Duration::from_millis(100))
    ///     .on_slow_poll(|report| eprintln!("slow: {report}"))
    ///     .build(|_| ThreadParker::new())
    ///     .unwrap();
    /// # drop(scheduler);
    /// ```
    pub fn on_slow_poll(&mut self, f: impl Fn(&SlowPoll) + Send + Sync + 'static) -> &mut Self {
        self.on_slow_poll = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f(id, location, error)` when a task panicked and nobody will read the panic: its
    /// `JoinHandle` was dropped before it finished, or is dropped unawaited after. It runs on
    /// the thread that drops the output (the worker that ran the task, or the handle's), must
    /// not block, and its own panic is ignored. By default nothing runs (std's panic hook has
    /// already printed the panic).
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// use std::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// let scheduler = Scheduler::builder()
    ///     .worker_threads(1)
    ///     .on_unhandled_panic(move |id, location, error| {
    ///         let _ = tx.lock().unwrap().send(format!("task {id} at {location}: {error}"));
    ///     })
    ///     .build(|_| ThreadParker::new())
    ///     .unwrap();
    /// drop(scheduler.spawn(async { panic!("boom") })); // detached
    /// assert!(rx.recv().unwrap().ends_with("task panicked with message \"boom\""));
    /// ```
    pub fn on_unhandled_panic(
        &mut self,
        f: impl Fn(Id, &'static Location<'static>, &JoinError) + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_unhandled_panic = Some(std::sync::Arc::new(f));
        self
    }

    /// The number of worker threads. Zero makes [`build`](Builder::build) fail.
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// let err = Scheduler::builder().worker_threads(0).build(|_| ThreadParker::new()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// The worker threads' name prefix; each thread is named `{prefix}-{index}`.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().thread_name("w").build(|_| ThreadParker::new()).unwrap();
    /// let name = futures::executor::block_on(scheduler.spawn(async {
    ///     std::thread::current().name().unwrap().to_string()
    /// })).unwrap();
    /// assert!(name.starts_with("w-"));
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Starts the workers: [`prepare`](Builder::prepare), then
    /// [`start`](PreparedScheduler::start).
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(3).build(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(scheduler.worker_threads(), 3);
    /// ```
    pub fn build<P: Park>(
        &mut self,
        make_park: impl FnMut(usize) -> P,
    ) -> io::Result<Scheduler<P::Unparker>> {
        self.prepare(make_park)?.start()
    }

    /// Sets the scheduler up without starting a thread: the queues, and `make_park(i)` for
    /// worker `i`'s [`Park`] (the seam a timer or an I/O driver stacks under). Its
    /// [`Spawner`] works at once (tasks wait in the injector until the workers start), so a
    /// runtime can build everything that holds one before its threads run.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for zero workers.
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// let prepared = Scheduler::builder().worker_threads(2).prepare(|_| ThreadParker::new()).unwrap();
    /// let early = prepared.spawner().spawn(async { "queued before the workers started" });
    /// let scheduler = prepared.start().unwrap();
    /// assert!(futures::executor::block_on(early).is_ok());
    /// # drop(scheduler);
    /// ```
    pub fn prepare<P: Park>(
        &mut self,
        mut make_park: impl FnMut(usize) -> P,
    ) -> io::Result<PreparedScheduler<P>> {
        let workers = self.worker_threads.unwrap_or_else(default_worker_threads);
        if workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "worker_threads(0): a runtime needs at least one worker thread",
            ));
        }
        let mut parks = Vec::with_capacity(workers);
        let mut locals = Vec::with_capacity(workers);
        let mut remotes = Vec::with_capacity(workers);
        for index in 0..workers {
            let park = make_park(index);
            let (local, stealer) = local_queue();
            remotes.push(Remote::new(stealer, park.unparker()));
            parks.push(park);
            locals.push(local);
        }
        Ok(PreparedScheduler {
            shared: self.shared(remotes),
            workers: parks.into_iter().zip(locals).collect(),
            deterministic: None,
            thread_name: self.thread_name.clone(),
            on_thread_start: None,
            on_thread_stop: None,
        })
    }

    /// Sets up a deterministic scheduler: `worker_threads(n)` logical workers (4 unless set),
    /// all run by the one thread that calls [`Scheduler::block_on`], which parks in `park`.
    /// Every choice the loop makes (which worker polls next, from which of its queues, which
    /// victim it steals from, when the driver under the park gets its maintenance poll) comes
    /// from a generator seeded with `seed`, so the same program polls its tasks in the same
    /// order on every run. Start it with [`PreparedScheduler::start_on_caller`].
    ///
    /// What is outside the seed: wakes from other threads (a `spawn_blocking` closure
    /// finishing, a socket becoming ready, a timer on a running clock) arrive when they
    /// arrive. A timer on a paused clock is inside it.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for zero workers.
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// use std::sync::{Arc, Mutex};
    ///
    /// fn run(seed: u64) -> Vec<u32> {
    ///     let scheduler = Scheduler::builder()
    ///         .worker_threads(3)
    ///         .prepare_deterministic(seed, ThreadParker::new())
    ///         .unwrap()
    ///         .start_on_caller()
    ///         .unwrap();
    ///     let order = Arc::new(Mutex::new(Vec::new()));
    ///     let tasks: Vec<_> = (0..8)
    ///         .map(|n| {
    ///             let order = order.clone();
    ///             scheduler.spawn(async move { order.lock().unwrap().push(n) })
    ///         })
    ///         .collect();
    ///     scheduler.block_on(async {
    ///         for task in tasks {
    ///             task.await.unwrap();
    ///         }
    ///     });
    ///     let order = order.lock().unwrap().clone();
    ///     order
    /// }
    ///
    /// assert_eq!(run(7), run(7));
    /// ```
    pub fn prepare_deterministic<P: Park>(
        &mut self,
        seed: u64,
        park: P,
    ) -> io::Result<PreparedScheduler<P>> {
        let workers = self.worker_threads.unwrap_or(DETERMINISTIC_WORKERS);
        if workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "worker_threads(0): a deterministic scheduler needs at least one logical worker",
            ));
        }
        let (locals, remotes): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| {
                let (local, stealer) = local_queue();
                (local, Remote::new(stealer, park.unparker()))
            })
            .unzip();
        Ok(PreparedScheduler {
            shared: self.shared(remotes),
            workers: Vec::new(),
            deterministic: Some(DeterministicParts { seed, park, locals }),
            thread_name: self.thread_name.clone(),
            on_thread_start: None,
            on_thread_stop: None,
        })
    }

    fn shared<U: spindle_core::Unpark>(&self, remotes: Vec<Remote<U>>) -> Arc<Shared<U>> {
        Arc::new(Shared::new(
            remotes.into_boxed_slice(),
            self.on_unhandled_panic.clone(),
            self.slow_poll_threshold.map(|threshold| {
                let hook = self.on_slow_poll.clone().unwrap_or_else(|| {
                    std::sync::Arc::new(|report: &SlowPoll| {
                        // Not `eprintln!`, which panics if stderr is gone.
                        let _ = writeln!(std::io::stderr(), "spindle: {report}");
                    })
                });
                Watch::new(threshold, hook)
            }),
        ))
    }
}

/// The logical workers of a deterministic scheduler when the builder does not say: not the
/// core count, so that a seed replays the same schedule on any machine.
const DETERMINISTIC_WORKERS: usize = 4;

/// What [`Builder::prepare_deterministic`] sets up besides the shared state.
struct DeterministicParts<P> {
    seed: u64,
    park: P,
    locals: Vec<LocalQueue>,
}

/// A scheduler set up by [`Builder::prepare`], its threads not yet started.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
/// let prepared = Scheduler::builder().worker_threads(1).prepare(|_| ThreadParker::new()).unwrap();
/// let spawner = prepared.spawner();
/// let mut prepared = prepared;
/// prepared.on_thread_start(move |_index| { let _ = &spawner; });
/// let scheduler = prepared.start().unwrap();
/// # drop(scheduler);
/// ```
pub struct PreparedScheduler<P: Park> {
    shared: Arc<Shared<P::Unparker>>,
    workers: Vec<(P, LocalQueue)>,
    deterministic: Option<DeterministicParts<P>>,
    thread_name: String,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
}

impl<P: Park> PreparedScheduler<P> {
    /// A handle that spawns onto the scheduler, already before it starts.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let prepared = Scheduler::builder().prepare(|_| ThreadParker::new()).unwrap();
    /// let spawner = prepared.spawner();
    /// # drop((spawner, prepared));
    /// ```
    pub fn spawner(&self) -> Spawner<P::Unparker> {
        Spawner::new(self.shared.clone())
    }

    /// Runs `f(index)` on each worker thread as it starts, before it runs any task: a hook
    /// may hold the [`Spawner`] (a runtime's context, say), which exists by now.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let mut prepared = Scheduler::builder().prepare(|_| ThreadParker::new()).unwrap();
    /// prepared.on_thread_start(|index| println!("worker {index} up"));
    /// # drop(prepared.start().unwrap());
    /// ```
    pub fn on_thread_start(&mut self, f: impl Fn(usize) + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f(index)` on each worker thread as it stops, after its last task.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let mut prepared = Scheduler::builder().prepare(|_| ThreadParker::new()).unwrap();
    /// prepared.on_thread_stop(|_index| {});
    /// # drop(prepared.start().unwrap());
    /// ```
    pub fn on_thread_stop(&mut self, f: impl Fn(usize) + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(std::sync::Arc::new(f));
        self
    }

    /// Starts one thread per worker.
    ///
    /// # Errors
    ///
    /// If a worker thread cannot be spawned: the OS error's kind, with a message naming the
    /// thread (`cannot start worker thread 2 of 4 (spindle-worker-2): ...`). The threads
    /// already spawned then return without running the start hook or any task, and are joined
    /// before `start` returns, so a failed start leaves no thread behind.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let prepared = Scheduler::builder().worker_threads(2).prepare(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(prepared.start().unwrap().worker_threads(), 2);
    /// ```
    pub fn start(self) -> io::Result<Scheduler<P::Unparker>> {
        if self.deterministic.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "start: a deterministic scheduler has no worker threads; start it with \
                 start_on_caller",
            ));
        }
        let workers = self.workers.len();
        // Each thread waits for the go before it runs its start hook or any task: a thread
        // that cannot be spawned then fails the start while no hook has run, and the threads
        // already up are told to return, and joined, before `start` does.
        let mut threads = Vec::with_capacity(workers);
        let mut gos = Vec::with_capacity(workers);
        for (index, (park, local)) in self.workers.into_iter().enumerate() {
            let name = format!("{}-{index}", self.thread_name);
            let thread = WorkerThread {
                shared: self.shared.clone(),
                index,
                park,
                local,
                on_start: self.on_thread_start.clone(),
                on_stop: self.on_thread_stop.clone(),
            };
            let (go, wait_for_go) = mpsc::channel::<()>();
            let spawned = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    if wait_for_go.recv().is_ok() {
                        thread.run();
                    }
                });
            match spawned {
                Ok(handle) => {
                    threads.push(handle);
                    gos.push(go);
                }
                Err(err) => {
                    drop(gos);
                    for handle in threads {
                        // The thread returns as soon as it sees its go dropped: it ran no
                        // user code that could have panicked.
                        let _ = handle.join();
                    }
                    return Err(io::Error::new(
                        err.kind(),
                        format!("cannot start worker thread {index} of {workers} ({name}): {err}"),
                    ));
                }
            }
        }
        for go in gos {
            // Cannot fail: every thread holds its receiver until it gets the go.
            let _ = go.send(());
        }
        Ok(Scheduler::from_parts(self.shared, threads))
    }
}

impl<P: Park> PreparedScheduler<P> {
    /// Starts the scheduler without a thread of its own: its one worker runs on the thread
    /// that calls [`Scheduler::block_on`], while the call lasts (a current-thread runtime).
    /// Tasks spawned from elsewhere in between wait for the next `block_on`. The thread hooks
    /// do not run: there is no worker thread. A scheduler from
    /// [`Builder::prepare_deterministic`] starts here too, its logical workers all run by
    /// `block_on`'s thread.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] unless the scheduler was prepared with exactly one
    /// worker (or deterministic).
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    ///
    /// let prepared = Scheduler::builder().worker_threads(1).prepare(|_| ThreadParker::new()).unwrap();
    /// let scheduler = prepared.start_on_caller().unwrap();
    /// let task = scheduler.spawn(async { 6 * 7 });
    /// assert!(!task.is_finished(), "nothing runs until block_on");
    /// assert_eq!(scheduler.block_on(task).unwrap().unwrap(), 42);
    /// ```
    pub fn start_on_caller(self) -> io::Result<Scheduler<P::Unparker>> {
        if let Some(DeterministicParts { seed, park, locals }) = self.deterministic {
            let core = DeterministicCore::new(self.shared.clone(), park, locals, seed);
            return Ok(Scheduler::on_caller(self.shared, Box::new(core)));
        }
        if self.workers.len() != 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "start_on_caller: a scheduler run by its caller has exactly one worker, \
                     not {}; prepare it with worker_threads(1)",
                    self.workers.len()
                ),
            ));
        }
        let (park, local) = self.workers.into_iter().next().expect("one worker");
        let core = CallerCore::new(self.shared.clone(), park, local);
        Ok(Scheduler::on_caller(self.shared, Box::new(core)))
    }
}

impl<P: Park> fmt::Debug for PreparedScheduler<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedScheduler")
            .field("worker_threads", &self.workers.len())
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

/// What one worker thread runs: its hooks around the worker loop.
struct WorkerThread<P: Park> {
    shared: Arc<Shared<P::Unparker>>,
    index: usize,
    park: P,
    local: LocalQueue,
    on_start: Option<Callback>,
    on_stop: Option<Callback>,
}

impl<P: Park> WorkerThread<P> {
    fn run(self) {
        // Installed before the start hook, so the hook can share it (`coop`).
        let budget = coop::Budget::new(std::cell::Cell::new(coop::BUDGET_PER_POLL));
        coop::set_budget(Some(budget.clone()));
        if let Some(f) = &self.on_start {
            f(self.index);
        }
        worker::run(self.shared, self.index, self.park, self.local, budget);
        if let Some(f) = &self.on_stop {
            f(self.index);
        }
    }
}

/// One worker per core the process may use, as `num_cpus::get` counts them: the cores of its
/// CPU affinity mask, fewer under a cgroup CPU quota (a container's `--cpus`), with a
/// fractional quota rounded up (1.5 CPUs get 2 workers, so that the quota can be used in
/// full; `std::thread::available_parallelism` rounds down).
///
/// ```
/// assert_eq!(spindle_scheduler::default_worker_threads(), num_cpus::get());
/// ```
pub fn default_worker_threads() -> usize {
    num_cpus::get()
}
