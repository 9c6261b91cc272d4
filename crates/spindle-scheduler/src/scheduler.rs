//! The scheduler: its shared state, spawning, waking, and shutdown.
//!
//! # A task's path
//!
//! `spawn` allocates the task, lists it in the owned-task registry, and schedules it: on a
//! worker thread of this scheduler into that worker's LIFO slot (displacing the previous
//! occupant to the back of the worker's deque), anywhere else into the injector. Waking an
//! idle task schedules it the same way. A push to a deque or the injector wakes a parked
//! worker only if nobody is searching ([`crate::idle`]). The task then runs on whichever
//! worker pops or steals it, until it completes and leaves the registry.
//!
//! # Shutdown
//!
//! 1. The shutdown flag is set (SeqCst) and every worker is unparked.
//! 2. Each worker finishes its current poll, leaves its loop, and drops the tasks in its LIFO
//!    slot and deque (dropping a `Runnable` cancels its task).
//! 3. The last worker out closes the registry (later spawns are cancelled on the spot), drains
//!    the injector and every other queue, and sweeps the registry: idle tasks are cancelled
//!    right there, busy ones are flagged and cancelled by whoever holds them.
//! 4. A wake racing with all this pushes into the injector, then re-reads the flag (SeqCst) and
//!    drains the injector itself if set: either it or the sweep sees the task.
//!
//! Cancelled tasks' `JoinHandle`s resolve to a cancelled `JoinError`; a handle awaited after
//! the scheduler is gone still resolves, as the task's state lives in the task.

use crate::builder::Builder;
use crate::dump::TaskDump;
use crate::idle::{Idle, ToWake};
use crate::local::{LocalSet, LocalTasks, PinnedToWorker, ThreadLocalTasks};
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};
use crate::loom::sync::Mutex;
use crate::loom::Arc;
use crate::metrics::WorkerMetrics;
use crate::owned::OwnedTasks;
use crate::queue::{steal_until_settled, Injector, LocalQueue};
use crate::slow_poll::Watch;
use crate::task::{
    new_task, Header, Id, JoinError, JoinHandle, Runnable, Schedule, SpawnSite, Spawned, TaskRef,
};
use crate::worker::{DriveCore, Remote};
use crossbeam_utils::CachePadded;
use spindle_core::Unpark;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

/// State shared by the workers, the handles, and every task (each task holds an `Arc` to it).
pub(crate) struct Shared<U> {
    pub(crate) remotes: Box<[Remote<U>]>,
    pub(crate) injector: Injector,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    /// The worker watching LIFO slots (rule 6 of `idle`), as its index + 1; 0 for none.
    lifo_watcher: AtomicUsize,
    /// The spawn time of tasks spawned outside the workers ([`Shared::spawn_time_outside`]):
    /// a recent clock reading of a worker ([`crate::clock::coarse_millis`]'s scale) with
    /// [`RECENT_VALID`] set, or 0 while it may be old.
    recent_ms: CachePadded<AtomicU64>,
    shutdown: AtomicBool,
    pub(crate) workers_running: AtomicUsize,
    pub(crate) on_unhandled_panic: Option<PanicHook>,
    /// The slow-poll watch, if a threshold is set.
    pub(crate) slow_poll: Option<Watch>,
    /// The live [`LocalSet`](crate::LocalSet)s, whose tasks the dump and metrics count.
    local_sets: Mutex<Vec<std::sync::Arc<ThreadLocalTasks>>>,
    /// Tasks spawned into local sets that are gone, for `spawned_tasks_count`.
    retired_local_spawns: AtomicU64,
    /// A caller-run worker's `block_on` woken flag, which [`Spawner::is_idle`] reads. The flag
    /// alone: the rest of its `CallerWake` holds this `Shared`, which would make a cycle.
    pub(crate) caller_woken: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The flag on [`Shared::recent_ms`] that says it holds a reading.
const RECENT_VALID: u64 = 1 << 32;

/// What [`Builder::on_unhandled_panic`] runs: std's `Arc`, as for the thread hooks.
pub(crate) type PanicHook =
    std::sync::Arc<dyn Fn(Id, &'static Location<'static>, &JoinError) + Send + Sync>;

/// What a worker thread publishes about itself in [`CONTEXT`].
pub(crate) struct WorkerContext {
    /// The `Shared` this worker belongs to, as an address to compare.
    pub(crate) shared: *const (),
    pub(crate) index: usize,
    pub(crate) local: LocalQueue,
    /// True while the worker is inside its `Park` (a driver under the seam is waking tasks
    /// on this thread): tasks it schedules then wake nobody, since the worker runs them on
    /// return. It is still on the sleepers list then, so a notify could even pick itself, and
    /// in the reactor that costs an eventfd write per event.
    pub(crate) in_park: Cell<bool>,
    /// A notify skipped while `in_park`, owed once the worker is back.
    pub(crate) notify_owed: Cell<bool>,
    /// The worker's last clock reading ([`crate::clock::coarse_millis`]'s scale), from its
    /// maintenance tick or its last wake-up: the spawn time of the tasks it spawns, so a spawn
    /// reads no clock. Behind by at most the maintenance interval, or by the poll in progress.
    pub(crate) now_ms: Cell<u32>,
    /// The rest of this worker's block of task ids ([`Id::next_in`]).
    pub(crate) ids: Cell<(u64, u64)>,
}

#[cfg(not(loom))]
std::thread_local! {
    pub(crate) static CONTEXT: Cell<*const WorkerContext> = const { Cell::new(std::ptr::null()) };
}
#[cfg(loom)]
loom::thread_local! {
    pub(crate) static CONTEXT: Cell<*const WorkerContext> = Cell::new(std::ptr::null());
}

impl WorkerContext {
    /// Worker `index`'s context, before its first poll.
    pub(crate) fn new<U>(shared: &Arc<Shared<U>>, index: usize, local: LocalQueue) -> Self {
        WorkerContext {
            shared: Arc::as_ptr(shared) as *const (),
            index,
            local,
            in_park: Cell::new(false),
            notify_owed: Cell::new(false),
            now_ms: Cell::new(crate::clock::coarse_millis()),
            ids: Cell::new((0, 0)),
        }
    }
}

impl<U: Unpark> Shared<U> {
    /// The state of a scheduler with one worker per entry of `remotes`, none started yet.
    pub(crate) fn new(
        remotes: Box<[Remote<U>]>,
        on_unhandled_panic: Option<PanicHook>,
        slow_poll: Option<Watch>,
    ) -> Shared<U> {
        let workers = remotes.len();
        Shared {
            remotes,
            injector: Injector::new(),
            idle: Idle::new(workers, num_cpus::get()),
            owned: OwnedTasks::new(workers * 4),
            lifo_watcher: AtomicUsize::new(0),
            recent_ms: CachePadded::new(AtomicU64::new(0)),
            shutdown: AtomicBool::new(false),
            workers_running: AtomicUsize::new(workers),
            on_unhandled_panic,
            slow_poll,
            local_sets: Mutex::new(Vec::new()),
            retired_local_spawns: AtomicU64::new(0),
            caller_woken: std::sync::OnceLock::new(),
        }
    }

    /// A worker read the clock: at its maintenance tick, on waking, or keeping watch over a
    /// worker that is busy. Stored only when the millisecond changes, so that a thread
    /// spawning from outside finds the line in its cache most of the time.
    ///
    /// Every worker that publishes runs [`forget_recent_ms_if_all_parked`] after it, before
    /// it can block: a worker when it parks, a watcher right after its store. So a reading
    /// outlives the last unparked worker only by the time between that worker's park and its
    /// check (the two are in `Worker::sleep`, one after the other). The exception is
    /// shutdown, where a worker leaves without the check; no spawn is accepted then.
    ///
    /// [`forget_recent_ms_if_all_parked`]: Shared::forget_recent_ms_if_all_parked
    pub(crate) fn publish_recent_ms(&self, ms: u32) {
        let recent = u64::from(ms) | RECENT_VALID;
        if self.recent_ms.load(Relaxed) != recent {
            self.recent_ms.store(recent, Relaxed);
        }
    }

    /// With every worker parked, nobody keeps the reading up to date: spawns from outside
    /// read the clock until a worker publishes again. Called by a worker after it parks, and
    /// by a watcher after it publishes.
    ///
    /// The fence orders the caller's own publish and park against the other callers': of
    /// the last worker to park and a watcher publishing at that moment, one runs its fence
    /// second, and it either reads the counts with the park in them (and forgets) or stores
    /// its 0 after the other's reading in the modification order (loom model
    /// `the_last_worker_parking_vs_a_watcher_publishing_the_spawn_time`).
    pub(crate) fn forget_recent_ms_if_all_parked(&self) {
        fence(SeqCst);
        if self.idle.num_unparked() == 0 {
            self.recent_ms.store(0, Relaxed);
        }
    }

    /// A caller-run worker's drive ended: until the next, no worker runs to publish.
    pub(crate) fn forget_recent_ms(&self) {
        self.recent_ms.store(0, Relaxed);
    }

    /// Whether spawns from outside take a worker's reading now, rather than the clock.
    #[cfg(all(loom, test))]
    pub(crate) fn has_recent_ms(&self) -> bool {
        self.recent_ms.load(Relaxed) & RECENT_VALID != 0
    }

    /// The spawn time of a task spawned outside the workers: a worker's recent reading while
    /// one is unparked (published at least once per maintenance interval by a worker that is
    /// not stuck, and every [`STRANDED_CHECK_INTERVAL`] by the one keeping watch over a worker
    /// that is), else the clock. Reading the clock is about as costly as the rest of a
    /// spawn's bookkeeping.
    ///
    /// [`STRANDED_CHECK_INTERVAL`]: crate::worker::STRANDED_CHECK_INTERVAL
    fn spawn_time_outside(&self) -> u32 {
        let recent = self.recent_ms.load(Relaxed);
        if recent & RECENT_VALID != 0 {
            recent as u32
        } else {
            crate::clock::coarse_millis()
        }
    }

    pub(crate) fn register_local_set(&self, set: &std::sync::Arc<ThreadLocalTasks>) {
        self.local_sets.lock().push(set.clone());
    }

    pub(crate) fn deregister_local_set(&self, set: &std::sync::Arc<ThreadLocalTasks>) {
        let mut sets = self.local_sets.lock();
        sets.retain(|s| !std::sync::Arc::ptr_eq(s, set));
        self.retired_local_spawns
            .fetch_add(set.tasks.spawned(), Relaxed);
    }

    /// Every registry of unfinished tasks: the shared one, each worker's pinned tasks, and
    /// each local set's.
    fn for_each_registry(&self, mut f: impl FnMut(Registry<'_>)) {
        self.for_each_shared_and_pinned(&mut f);
        for set in self.local_sets.lock().iter() {
            f(Registry::Local(&set.tasks));
        }
    }

    /// The shared registry and each worker's pinned tasks.
    fn for_each_shared_and_pinned(&self, mut f: impl FnMut(Registry<'_>)) {
        f(Registry::Shared(&self.owned));
        for remote in self.remotes.iter() {
            f(Registry::Local(&remote.pinned));
        }
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        let mut alive = 0;
        self.for_each_registry(|registry| {
            alive += match registry {
                Registry::Shared(owned) => owned.len(),
                Registry::Local(tasks) => tasks.len(),
            }
        });
        alive
    }

    pub(crate) fn spawned_tasks_count(&self) -> u64 {
        // Read under the lock that a retiring set adds its count under, so that its tasks are
        // counted once, there or here.
        let sets = self.local_sets.lock();
        let mut spawned = self.retired_local_spawns.load(Relaxed)
            + sets.iter().map(|set| set.tasks.spawned()).sum::<u64>();
        drop(sets);
        self.for_each_shared_and_pinned(|registry| {
            spawned += match registry {
                Registry::Shared(owned) => owned.inserted(),
                Registry::Local(tasks) => tasks.spawned(),
            }
        });
        spawned
    }

    pub(crate) fn for_each_task(&self, f: &mut dyn FnMut(&Header)) {
        self.for_each_registry(|registry| match registry {
            Registry::Shared(owned) => owned.for_each(f),
            Registry::Local(tasks) => tasks.for_each(f),
        });
    }

    pub(crate) fn unhandled_panic(&self, task: &Header, error: &JoinError) {
        if let Some(hook) = &self.on_unhandled_panic {
            hook(task.id, task.site.location(), error);
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Relaxed)
    }

    /// Runs `f` with this thread's worker context, if this thread is one of our workers.
    fn with_worker<R>(&self, f: impl FnOnce(Option<&WorkerContext>) -> R) -> R {
        CONTEXT.with(|c| {
            let ptr = c.get();
            // SAFETY: a non-null context points at the worker's stack frame, which outlives every
            // call made on that thread while it is set.
            let context = unsafe { ptr.as_ref() };
            f(context.filter(|cx| std::ptr::eq(cx.shared, self as *const Self as *const ())))
        })
    }

    fn schedule_remote(&self, task: Runnable) {
        self.injector.push(task);
        // Rule 4 of `idle`, and step 4 of shutdown: the push must be visible before we read
        // the counts and the flag.
        fence(SeqCst);
        if self.shutdown.load(SeqCst) {
            self.drain_injector();
        } else {
            self.notify_parked();
        }
    }

    /// Into the LIFO slot, the displaced task to the back of the deque. A worker in its park
    /// (a driver under the seam woke the task) runs the slot on return and owes a notify only
    /// for a displaced task; a worker inside a poll notifies either way (rule 6 of `idle`).
    fn schedule_local(&self, cx: &WorkerContext, task: Runnable) {
        let displaced = self.remotes[cx.index].put_lifo(task);
        let displaced_any = displaced.is_some();
        if let Some(displaced) = displaced {
            cx.local.push(displaced);
        }
        if cx.in_park.get() {
            if displaced_any {
                cx.notify_owed.set(true);
            }
        } else if displaced_any {
            self.notify_parked_after_push();
        } else {
            self.nudge_lifo_watcher();
        }
    }

    /// Wakes one parked worker if nobody is searching.
    pub(crate) fn notify_parked(&self) {
        if let Some(wake) = self.idle.worker_to_notify() {
            self.wake(wake);
        }
    }

    /// [`notify_parked`](Self::notify_parked) after this thread pushed to a deque: fenced, per
    /// rule 4 of `idle`.
    pub(crate) fn notify_parked_after_push(&self) {
        if let Some(wake) = self.idle.worker_to_notify_after_push() {
            self.wake(wake);
        }
    }

    fn wake(&self, wake: ToWake) {
        self.remotes[wake.worker].unpark.unpark();
        if let Some(watcher) = wake.watcher_to_nudge {
            self.remotes[watcher].unpark.unpark();
        }
    }

    /// Called by the last searcher after it parked (rule 4 of `idle`): wakes a worker if the
    /// injector or a deque has work. A LIFO slot does not count: its owner runs it next, and
    /// one behind a long poll is watched for instead (rule 6, [`claim_lifo_watch`]). The fence
    /// orders these reads after the caller's SeqCst update of the counts, as the producer's
    /// fence orders its push before its read of them.
    ///
    /// [`claim_lifo_watch`]: Self::claim_lifo_watch
    pub(crate) fn notify_if_work_pending(&self) {
        fence(SeqCst);
        let pending =
            !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    /// Rule 6 of `idle`, the owner's half: after putting a task alone in its LIFO slot, nudge
    /// a parked worker into watching the slots, unless one already does. The nudged worker
    /// stays parked (it is not taken off the sleepers list, so it does not search or steal);
    /// it only watches. The fence pairs with the one in [`claim_lifo_watch`]: either the owner
    /// finds the worker parked, or the worker, parking, finds the slot full.
    ///
    /// [`claim_lifo_watch`]: Self::claim_lifo_watch
    pub(crate) fn nudge_lifo_watcher(&self) {
        fence(SeqCst);
        if self.lifo_watcher.load(Relaxed) != 0 {
            return;
        }
        if let Some(worker) = self.idle.a_parked_worker() {
            if self
                .lifo_watcher
                .compare_exchange(0, worker + 1, AcqRel, Relaxed)
                .is_ok()
            {
                self.remotes[worker].unpark.unpark();
            }
        }
    }

    /// Rule 6 of `idle`, the parked worker's half, called once it is on the sleepers list:
    /// true if it is (now) the one watching LIFO slots, because another worker's slot is full
    /// and nobody else watches.
    pub(crate) fn claim_lifo_watch(&self, worker: usize) -> bool {
        fence(SeqCst);
        let slot_full = self
            .remotes
            .iter()
            .enumerate()
            .any(|(index, remote)| index != worker && remote.has_lifo());
        slot_full
            && match self
                .lifo_watcher
                .compare_exchange(0, worker + 1, AcqRel, Relaxed)
            {
                Ok(_) => true,
                Err(current) => current == worker + 1,
            }
    }

    /// True if `worker` was nudged into watching LIFO slots.
    pub(crate) fn is_lifo_watcher(&self, worker: usize) -> bool {
        self.lifo_watcher.load(Acquire) == worker + 1
    }

    /// `worker`'s watch is over: another may be nudged.
    pub(crate) fn end_lifo_watch(&self, worker: usize) {
        let _ = self
            .lifo_watcher
            .compare_exchange(worker + 1, 0, AcqRel, Relaxed);
    }

    fn drain_injector(&self) {
        while let Some(task) = steal_until_settled(|| self.injector.steal()) {
            drop(task);
        }
    }

    /// Step 3 of shutdown. Idempotent.
    pub(crate) fn drain_all(&self) {
        self.owned.close();
        self.drain_injector();
        for remote in self.remotes.iter() {
            while let Some(task) = remote.take_lifo() {
                drop(task);
            }
            while let Some(task) = steal_until_settled(|| remote.stealer.steal()) {
                drop(task);
            }
        }
        while let Some(task) = self.owned.pop() {
            task.shutdown();
        }
    }

    fn begin_shutdown(&self) {
        self.shutdown.store(true, SeqCst);
        for remote in self.remotes.iter() {
            remote.unpark.unpark();
        }
    }
}

impl<U: Unpark> Schedule for Arc<Shared<U>> {
    fn schedule(&self, task: Runnable) {
        self.with_worker(|cx| match cx {
            Some(cx) => self.schedule_local(cx, task),
            None => self.schedule_remote(task),
        })
    }

    #[inline]
    fn release(&self, task: TaskRef) -> bool {
        self.owned.remove(task)
    }

    fn unhandled_panic(&self, task: &Header, error: &JoinError) {
        Shared::unhandled_panic(self, task, error);
    }
}

/// One registry of unfinished tasks.
enum Registry<'a> {
    Shared(&'a OwnedTasks),
    Local(&'a LocalTasks),
}

fn spawn_on<U: Unpark, F>(
    shared: &Arc<Shared<U>>,
    future: F,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // One look at the thread's worker context serves the id, the spawn time and the queue.
    shared.with_worker(|cx| {
        let spawned = match cx {
            Some(cx) => Spawned {
                id: Id::next_in(&cx.ids),
                site: SpawnSite::of(location),
                at_ms: cx.now_ms.get(),
            },
            None => Spawned::at(location, shared.spawn_time_outside()),
        };
        let (runnable, handle, registered) = new_task(future, shared.clone(), spawned);
        if !shared.owned.insert(registered) {
            // Shut down: the task never runs; dropping its `Runnable` completes it as cancelled.
            registered.drop_ref();
            drop(runnable);
        } else if let Some(cx) = cx {
            shared.schedule_local(cx, runnable);
        } else {
            shared.schedule_remote(runnable);
        }
        handle
    })
}

/// A running set of worker threads. Dropping it shuts it down: see [`Scheduler::shutdown_timeout`].
///
/// # Examples
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
/// let handles: Vec<_> = (0..10u64).map(|i| scheduler.spawn(async move { i * i })).collect();
/// let sum: u64 = handles.into_iter().map(|h| futures::executor::block_on(h).unwrap()).sum();
/// assert_eq!(sum, 285);
/// ```
pub struct Scheduler<U: Unpark> {
    shared: Arc<Shared<U>>,
    threads: Vec<ThreadHandle<()>>,
    /// Started on its caller ([`PreparedScheduler::start_on_caller`]): the worker that
    /// [`block_on`](Scheduler::block_on) runs.
    ///
    /// [`PreparedScheduler::start_on_caller`]: crate::PreparedScheduler::start_on_caller
    caller: Option<CallerSlot>,
}

/// The worker of a scheduler run by its caller, while no `block_on` runs it, and the threads
/// whose `block_on` waits for it.
struct CallerSlot {
    core: std::sync::Mutex<Option<Box<dyn DriveCore>>>,
    waiting: std::sync::Mutex<Vec<std::thread::Thread>>,
}

impl CallerSlot {
    fn take(&self) -> Option<Box<dyn DriveCore>> {
        self.core.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Puts the worker back, and wakes the `block_on`s waiting for it.
    fn put_back(&self, core: Box<dyn DriveCore>) {
        *self.core.lock().unwrap_or_else(|e| e.into_inner()) = Some(core);
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        waiting.iter().for_each(std::thread::Thread::unpark);
    }

    fn wait(&self) {
        let me = std::thread::current();
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if !waiting.iter().any(|thread| thread.id() == me.id()) {
            waiting.push(me);
        }
    }
}

/// Gives the worker back to its slot when a `block_on` ends, by unwinding too.
struct Driving<'a> {
    slot: &'a CallerSlot,
    core: Option<Box<dyn DriveCore>>,
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        if let Some(core) = self.core.take() {
            self.slot.put_back(core);
        }
    }
}

/// What a [`Scheduler::block_on_with`] call does around its turns at running the scheduler's
/// worker and its waits while another thread's `block_on` runs it. A closure `FnMut() -> G`
/// is hooks that only [`drive`](Self::drive).
///
/// ```
/// use spindle_scheduler::{BlockOnHooks, Scheduler, ThreadParker};
/// use std::cell::Cell;
///
/// /// Counts this thread's turns at running the worker and its parks while waiting.
/// struct Counting<'a> {
///     drives: &'a Cell<usize>,
///     parks: &'a Cell<usize>,
/// }
/// impl BlockOnHooks for Counting<'_> {
///     type Driving = ();
///     fn drive(&mut self) {
///         self.drives.set(self.drives.get() + 1);
///     }
///     fn parking(&mut self) -> bool {
///         self.parks.set(self.parks.get() + 1);
///         true
///     }
/// }
///
/// let prepared = Scheduler::builder().worker_threads(1).prepare(|_| ThreadParker::new()).unwrap();
/// let scheduler = prepared.start_on_caller().unwrap();
/// let (drives, parks) = (Cell::new(0), Cell::new(0));
/// let hooks = Counting { drives: &drives, parks: &parks };
/// assert_eq!(scheduler.block_on_with(async { 5 }, hooks), Some(5));
/// // The worker was free: this thread ran it, and never waited.
/// assert_eq!((drives.get(), parks.get()), (1, 0));
/// ```
pub trait BlockOnHooks {
    /// What [`drive`](Self::drive) returns; dropped when this thread stops running the worker.
    type Driving;

    /// This thread starts running the scheduler's worker (it stops when the call returns).
    fn drive(&mut self) -> Self::Driving;

    /// This thread waits: another thread's `block_on` runs the worker, and this one polls its
    /// future alone, parking in between. Called once, before its first such poll; `woken` is
    /// set by every wake of the waker those polls get.
    fn waiting(&mut self, woken: &spindle_core::WokenFlag) {
        let _ = woken;
    }

    /// A waiting call is about to park, its future not woken. False: poll it again instead.
    fn parking(&mut self) -> bool {
        true
    }

    /// A waiting call's park returned.
    fn parked(&mut self) {}
}

impl<G, F: FnMut() -> G> BlockOnHooks for F {
    type Driving = G;

    fn drive(&mut self) -> G {
        self()
    }
}

/// A cloneable handle that spawns onto a [`Scheduler`], from any thread.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let spawner = scheduler.spawner();
/// let handle = std::thread::spawn(move || spawner.spawn(async { 1 })).join().unwrap();
/// assert_eq!(futures::executor::block_on(handle).unwrap(), 1);
/// ```
pub struct Spawner<U: Unpark> {
    shared: Arc<Shared<U>>,
}

impl<U: Unpark> Clone for Spawner<U> {
    fn clone(&self) -> Self {
        Spawner {
            shared: self.shared.clone(),
        }
    }
}

impl Scheduler<crate::ThreadUnparker> {
    /// A builder with the defaults of [`Builder::new`].
    ///
    /// ```
    /// let scheduler = spindle_scheduler::Scheduler::builder()
    ///     .worker_threads(1)
    ///     .build(|_| spindle_scheduler::ThreadParker::new())
    ///     .unwrap();
    /// # drop(scheduler);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<U: Unpark> Scheduler<U> {
    /// A scheduler whose worker `threads` run on `shared`.
    pub(crate) fn from_parts(shared: Arc<Shared<U>>, threads: Vec<ThreadHandle<()>>) -> Self {
        Scheduler {
            shared,
            threads,
            caller: None,
        }
    }

    pub(crate) fn on_caller(shared: Arc<Shared<U>>, core: Box<dyn DriveCore>) -> Self {
        Scheduler {
            shared,
            threads: Vec::new(),
            caller: Some(CallerSlot {
                core: std::sync::Mutex::new(Some(core)),
                waiting: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `future` to completion on this thread, blocking it, and returns its output.
    ///
    /// On a scheduler started on its caller ([`PreparedScheduler::start_on_caller`]), this
    /// thread runs the scheduler's worker meanwhile: the tasks run here, between polls of
    /// `future`, and the worker parks (through its [`Park`](crate::Park)) when there is
    /// nothing to do. Tasks not finished when `future` is continue at the next `block_on`. If
    /// another thread's `block_on` runs the worker, this one waits for its future alone, and
    /// takes the worker over when that call returns. On a scheduler with worker threads, the
    /// thread just parks until `future` is woken.
    ///
    /// Returns `None` if the scheduler shut down before `future` completed (a panic policy
    /// that stops it, say).
    ///
    /// # Panics
    ///
    /// If `future` panics; when called from inside one of this scheduler's tasks (where it
    /// would wait on the very worker it blocks); and on a scheduler run by its caller, when
    /// called from another thread than the one that spawned its unfinished local tasks
    /// (`spawn_local`), which can only run there.
    ///
    /// [`PreparedScheduler::start_on_caller`]: crate::PreparedScheduler::start_on_caller
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    ///
    /// let prepared = Scheduler::builder().worker_threads(1).prepare(|_| ThreadParker::new()).unwrap();
    /// let scheduler = prepared.start_on_caller().unwrap();
    /// let caller = std::thread::current().id();
    /// let task = scheduler.spawn(async { std::thread::current().id() });
    /// assert_eq!(scheduler.block_on(task).unwrap().unwrap(), caller);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> Option<F::Output> {
        self.block_on_with(future, || ())
    }

    /// [`block_on`](Self::block_on), with `hooks` told when this thread starts running the
    /// scheduler's worker ([`BlockOnHooks::drive`]; a closure is hooks that do only that) and
    /// when it waits and parks while another thread's `block_on` runs it: a runtime makes its
    /// worker-side context current while this thread drives (as a worker thread's start hook
    /// does), and counts a waiting call as busy for a paused clock unless it is parked.
    ///
    /// # Panics
    ///
    /// As [`block_on`](Self::block_on).
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// use std::cell::Cell;
    ///
    /// let prepared = Scheduler::builder().worker_threads(1).prepare(|_| ThreadParker::new()).unwrap();
    /// let scheduler = prepared.start_on_caller().unwrap();
    /// let drives = Cell::new(0);
    /// let out = scheduler.block_on_with(async { 5 }, || drives.set(drives.get() + 1));
    /// assert_eq!((out, drives.get()), (Some(5), 1));
    /// ```
    pub fn block_on_with<F: Future>(
        &self,
        future: F,
        mut hooks: impl BlockOnHooks,
    ) -> Option<F::Output> {
        assert!(
            !self.shared.with_worker(|cx| cx.is_some()),
            "Scheduler::block_on called from inside one of its own tasks, which would wait on \
             the worker it blocks; use .await there"
        );
        let mut future = std::pin::pin!(future);
        let mut waiting: Option<(std::task::Waker, spindle_core::WokenFlag)> = None;
        loop {
            let taken = self.caller.as_ref().map(|slot| (slot, slot.take()));
            if let Some((slot, Some(core))) = taken {
                let mut driving = Driving {
                    slot,
                    core: Some(core),
                };
                let _entered = hooks.drive();
                let core = driving.core.as_mut().expect("taken above");
                let waker = core.waker();
                let mut cx = std::task::Context::from_waker(&waker);
                let mut output = None;
                core.run_until(&mut || match future.as_mut().poll(&mut cx) {
                    std::task::Poll::Ready(value) => {
                        output = Some(value);
                        true
                    }
                    std::task::Poll::Pending => false,
                });
                return output;
            }
            if let Some((slot, None)) = taken {
                // Registered before the poll: a worker given back after it unparks us.
                slot.wait();
            }
            let (waker, woken) = waiting.get_or_insert_with(|| {
                let (waker, woken) = spindle_core::thread_waker_with_flag(std::thread::current());
                hooks.waiting(&woken);
                (waker, woken)
            });
            // A poll of its own, with a full budget, as a task's would have.
            if let Some(budget) = crate::coop::budget() {
                budget.set(crate::coop::BUDGET_PER_POLL);
            }
            woken.take();
            let mut cx = std::task::Context::from_waker(waker);
            if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return Some(value);
            }
            if self.caller.as_ref().is_some_and(|slot| {
                slot.core
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_some()
            }) {
                continue;
            }
            if woken.is_set() || !hooks.parking() {
                continue;
            }
            std::thread::park();
            hooks.parked();
        }
    }

    /// Spawns a task; see [`Spawner::spawn`].
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(futures::executor::block_on(scheduler.spawn(async { "hi" })).unwrap(), "hi");
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future, Location::caller())
    }

    /// A handle for spawning from anywhere.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// # drop(spawner);
    /// ```
    pub fn spawner(&self) -> Spawner<U> {
        Spawner {
            shared: self.shared.clone(),
        }
    }

    /// How many worker threads run tasks.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(scheduler.worker_threads(), 2);
    /// ```
    pub fn worker_threads(&self) -> usize {
        self.shared.remotes.len()
    }

    /// Stops the workers and cancels every unfinished task (their futures are dropped, their
    /// handles resolve to a cancelled `JoinError`). Waits for workers to finish the poll they
    /// are in, up to `timeout`; a worker still busy then is detached, and cancels what is left
    /// when its poll returns. Dropping the scheduler is `shutdown_timeout(Duration::MAX)`.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let pending = scheduler.spawn(std::future::pending::<()>());
    /// scheduler.shutdown_timeout(std::time::Duration::from_secs(1));
    /// assert!(futures::executor::block_on(pending).unwrap_err().is_cancelled());
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(timeout);
    }

    fn shutdown(&mut self, timeout: Duration) {
        self.shared.begin_shutdown();
        if let Some(core) = self.caller.as_ref().and_then(CallerSlot::take) {
            // No `block_on` runs it (`&mut self`): its worker stops here.
            core.exit();
        }
        let deadline = Instant::now().checked_add(timeout);
        let current = std::thread::current().id();
        let mut all_joined = true;
        for thread in self.threads.drain(..) {
            if thread.thread().id() == current {
                // Dropped from inside one of our own tasks: this worker exits after the poll.
                all_joined = false;
                continue;
            }
            if let Some(deadline) = deadline {
                while !thread.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_micros(200));
                }
                if !thread.is_finished() {
                    all_joined = false;
                    continue;
                }
            }
            if thread.join().is_err() {
                all_joined = false;
            }
        }
        if all_joined {
            self.shared.drain_all();
        }
    }
}

impl<U: Unpark> Drop for Scheduler<U> {
    fn drop(&mut self) {
        let caller_core = self.caller.as_ref().is_some_and(|slot| {
            slot.core
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
        });
        if !self.threads.is_empty() || caller_core {
            self.shutdown(Duration::MAX);
        }
    }
}

impl<U: Unpark> Spawner<U> {
    pub(crate) fn new(shared: Arc<Shared<U>>) -> Spawner<U> {
        Spawner { shared }
    }

    /// Spawns `future` as a task. On one of the scheduler's workers it goes to that worker's
    /// LIFO slot and runs next; from anywhere else it goes to the injector. After shutdown the
    /// task is cancelled at once: its handle resolves to a cancelled `JoinError`.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// drop(scheduler);
    /// let late = spawner.spawn(async { 1 });
    /// assert!(futures::executor::block_on(late).unwrap_err().is_cancelled());
    /// ```
    ///
    /// The task's spawn location (in a task dump) is the caller's: this is `#[track_caller]`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future, Location::caller())
    }

    /// [`spawn`](Self::spawn), recording `location` as the spawn location: for a spawn
    /// function of a runtime built on this scheduler, which takes its caller's location where
    /// `#[track_caller]` cannot reach (through a closure, say).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let here = std::panic::Location::caller();
    /// let task = scheduler.spawner().spawn_at(async { 1 }, here);
    /// assert_eq!(futures::executor::block_on(task).unwrap(), 1);
    /// ```
    pub fn spawn_at<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future, location)
    }

    /// How many worker threads the scheduler runs.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(3).build(|_| ThreadParker::new()).unwrap();
    /// assert_eq!(scheduler.spawner().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.shared.remotes.len()
    }

    /// A snapshot of worker `index`'s counters (see [`WorkerMetrics`]).
    ///
    /// # Panics
    ///
    /// If `index` is not below [`num_workers`](Self::num_workers).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// futures::executor::block_on(scheduler.spawn(async {})).unwrap();
    /// // The worker counts the poll as it returns, just after the output was handed over.
    /// while scheduler.spawner().worker_metrics(0).poll_count() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn worker_metrics(&self, index: usize) -> WorkerMetrics {
        let workers = self.num_workers();
        let remote = self.shared.remotes.get(index).unwrap_or_else(|| {
            panic!(
                "worker_metrics({index}): the scheduler has {workers} workers, 0 to {}",
                workers - 1
            )
        });
        remote.metrics()
    }

    /// Tasks spawned and not yet finished or cancelled (blocking-pool closures are not
    /// counted: they are not tasks of this scheduler).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let pending = scheduler.spawn(std::future::pending::<()>());
    /// assert_eq!(scheduler.spawner().num_alive_tasks(), 1);
    /// # drop(pending);
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        self.shared.num_alive_tasks()
    }

    /// Tasks spawned since the scheduler was built (those refused after shutdown excluded).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// futures::executor::block_on(scheduler.spawn(async {})).unwrap();
    /// assert_eq!(scheduler.spawner().spawned_tasks_count(), 1);
    /// ```
    pub fn spawned_tasks_count(&self) -> u64 {
        self.shared.spawned_tasks_count()
    }

    /// Tasks waiting in the injector, the queue of tasks scheduled from outside the workers.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let prepared = Scheduler::builder().worker_threads(1).prepare(|_| ThreadParker::new()).unwrap();
    /// let spawner = prepared.spawner();
    /// let early = spawner.spawn(async {}); // no worker runs yet
    /// assert_eq!(spawner.injector_depth(), 1);
    /// # drop((early, prepared.start()));
    /// ```
    pub fn injector_depth(&self) -> usize {
        self.shared.injector.len()
    }

    /// Every live task, now; see [`TaskDump`]. Never waits for a worker, so it completes
    /// while workers are stuck in long polls.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let pending = scheduler.spawn(std::future::pending::<()>());
    /// assert_eq!(scheduler.spawner().dump().tasks()[0].id(), pending.id());
    /// ```
    pub fn dump(&self) -> TaskDump {
        TaskDump::collect(|f| self.shared.for_each_task(f))
    }

    /// Starts shutting the scheduler down, without waiting: the workers stop after their
    /// current poll and the last one out cancels every task left. The [`Scheduler`] (its
    /// drop, or [`Scheduler::shutdown_timeout`]) still joins the threads. For a runtime that
    /// must stop from inside a task or a hook.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let pending = scheduler.spawn(std::future::pending::<()>());
    /// scheduler.spawner().begin_shutdown();
    /// assert!(futures::executor::block_on(pending).unwrap_err().is_cancelled());
    /// ```
    pub fn begin_shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// Spawns `future`, which need not be `Send`, pinned to the worker thread that calls this:
    /// only that worker polls it (it is never stolen), and a wake from another thread queues
    /// it there and unparks that worker. Awaiting the returned [`JoinHandle`] (from anywhere,
    /// if the output is `Send`) gives its output. The task is cancelled when the worker stops,
    /// its destructor running on the worker.
    ///
    /// # Panics
    ///
    /// Anywhere but on one of this scheduler's workers: there is no worker to pin the task
    /// to. Use [`spawn`](Self::spawn) for a `Send` future, or a [`LocalSet`] on this thread.
    ///
    /// ```
    /// use spindle_scheduler::{Scheduler, ThreadParker};
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// // A `Send` task gets onto a worker; the local tasks it spawns there share an `Rc`.
    /// let total = scheduler.spawn(async move {
    ///     let inner = spawner.clone();
    ///     let total = spawner.spawn_local(async move {
    ///         let sum = Rc::new(RefCell::new(0));
    ///         let tasks: Vec<_> = (1..=4)
    ///             .map(|n| {
    ///                 let sum = sum.clone();
    ///                 inner.spawn_local(async move { *sum.borrow_mut() += n })
    ///             })
    ///             .collect();
    ///         for task in tasks {
    ///             task.await.unwrap();
    ///         }
    ///         let total = *sum.borrow();
    ///         total
    ///     });
    ///     total.await.unwrap()
    /// });
    /// assert_eq!(futures::executor::block_on(total).unwrap(), 10);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_local_at(future, Location::caller())
    }

    /// `spawn_local`, recording `location` as the spawn location.
    ///
    /// # Panics
    ///
    /// As [`spawn_local`](Self::spawn_local): anywhere but on one of this scheduler's workers.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// let here = std::panic::Location::caller();
    /// let task = scheduler.spawn(async move { spawner.spawn_local_at(async { 7 }, here).await });
    /// assert_eq!(futures::executor::block_on(task).unwrap().unwrap(), 7);
    /// ```
    pub fn spawn_local_at<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let worker = self.shared.with_worker(|cx| cx.map(|cx| cx.index));
        let Some(worker) = worker else {
            panic!(
                "spawn_local called outside this scheduler's worker threads, where no worker \
                 can own the task; call it from a task running on the scheduler, use spawn for a \
                 Send future, or run the task in a LocalSet on this thread"
            )
        };
        PinnedToWorker {
            shared: self.shared.clone(),
            worker,
        }
        .spawn(future, location)
    }

    /// A [`LocalSet`] owned by the calling thread, for tasks that are not `Send` on a thread
    /// that is not a worker (the facade's `block_on` makes one for `spawn_local`).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let local = scheduler.spawner().local_set();
    /// let task = local.spawn(async { std::rc::Rc::new(3) });
    /// local.run_ready(1);
    /// assert!(task.is_finished());
    /// ```
    pub fn local_set(&self) -> LocalSet<U> {
        self.local_set_woken_by(spindle_core::thread_waker(std::thread::current()))
    }

    /// A [`LocalSet`] owned by the calling thread whose tasks, woken from another thread,
    /// wake the owner with `wake_owner` (a `block_on`'s own waker, say, so that it sees the
    /// wake as its future's) instead of unparking its thread.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let waker = spindle_core::thread_waker(std::thread::current());
    /// let local = scheduler.spawner().local_set_woken_by(waker);
    /// let task = local.spawn(async { 1 });
    /// local.run_ready(1);
    /// assert!(task.is_finished());
    /// ```
    pub fn local_set_woken_by(&self, wake_owner: std::task::Waker) -> LocalSet<U> {
        LocalSet::new(self.shared.clone(), wake_owner)
    }

    /// True if no task can run: every worker is parked, and no queue holds a task (the
    /// injector, every worker's deque, LIFO slot and pinned tasks). A paused clock jumps to
    /// its next deadline only then: a runtime with a task still runnable somewhere is not
    /// idle, even if the worker asking is.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// // The worker parks once it finds nothing to do.
    /// while !spawner.is_idle() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// ```
    pub fn is_idle(&self) -> bool {
        self.is_idle_with(|| true)
    }

    /// [`is_idle`](Self::is_idle), and `others()` (what else a runtime counts as busy: a
    /// blocking pool's closures, a `block_on` that is not parked), all true at one moment. A
    /// hand-off from one of those to another (a blocking closure queuing the task that awaits
    /// it, then counting itself done; a `block_on` spawning a task, then parking) must never
    /// let a reading that sees neither side pass for idle:
    ///
    /// - `others()` is asked before the queues are read, so whatever it hands to the queues
    ///   before it goes idle is found there;
    /// - the workers' counts are read before and after (one word, [`note_going_idle`] moves
    ///   it too); any worker parking or waking, or anything noting that it goes idle, in
    ///   between makes the answer false. So a hand-off the other way (a worker or a `block_on`
    ///   starting a blocking closure, then parking) cannot slip between two reads either.
    ///
    /// [`note_going_idle`]: Self::note_going_idle
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// while !spawner.is_idle_with(|| true) {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert!(!spawner.is_idle_with(|| false));
    /// ```
    pub fn is_idle_with(&self, others: impl FnOnce() -> bool) -> bool {
        let shared = &self.shared;
        let before = shared.idle.snapshot();
        if before.num_unparked() != 0 || !others() {
            return false;
        }
        // Every worker counted parked first: a worker that queued a task did so before it
        // parked, and the queues are read after.
        fence(SeqCst);
        let queues_empty = shared
            .caller_woken
            .get()
            .is_none_or(|woken| !woken.load(SeqCst))
            && shared.injector.is_empty()
            && shared.remotes.iter().all(|remote| {
                !remote.has_lifo() && remote.stealer.is_empty() && remote.pinned.is_empty()
            });
        // The queue reads above are partly relaxed: fenced, so that none of them can be
        // ordered after the second reading of the word.
        fence(SeqCst);
        queues_empty && shared.idle.snapshot() == before
    }

    /// Something that [`is_idle_with`](Self::is_idle_with)'s `others` looks at is about to
    /// go idle (a `block_on` about to park, say): call this first, so that a probe reading
    /// across the change answers "not idle" rather than missing what it handed off.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// while !spawner.is_idle() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// let mut noted = false;
    /// assert!(!spawner.is_idle_with(|| {
    ///     spawner.note_going_idle(); // a change while the probe reads
    ///     noted = true;
    ///     true
    /// }));
    /// assert!(noted);
    /// ```
    pub fn note_going_idle(&self) {
        self.shared.idle.note_going_idle();
    }

    /// True if the calling thread is one of this scheduler's workers.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// assert!(!spawner.is_worker_thread());
    /// let inside = spawner.clone();
    /// let on_worker = futures::executor::block_on(scheduler.spawn(async move { inside.is_worker_thread() }));
    /// assert!(on_worker.unwrap());
    /// ```
    pub fn is_worker_thread(&self) -> bool {
        self.shared.with_worker(|cx| cx.is_some())
    }

    /// True once the scheduler has begun shutting down.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let spawner = scheduler.spawner();
    /// assert!(!spawner.is_shutdown());
    /// drop(scheduler);
    /// assert!(spawner.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }
}

impl<U: Unpark> fmt::Debug for Scheduler<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("worker_threads", &self.worker_threads())
            .finish_non_exhaustive()
    }
}

impl<U: Unpark> fmt::Debug for Spawner<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}
