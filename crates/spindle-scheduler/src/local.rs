//! Local tasks: futures that need not be `Send`, each pinned to the thread that spawned it.
//!
//! Two kinds of thread own local tasks: a worker (its tasks run between its other tasks, and
//! are never stolen), and a thread running a [`LocalSet`] (the facade's `block_on`, which
//! polls them between polls of its own future). Either owns a [`LocalTasks`]: a run queue,
//! and a registry of its unfinished tasks like the scheduler's own (`owned`), but swept only
//! by its owner. The task dump and the metrics read these registries too.
//!
//! # Invariants
//!
//! 1. A local task's future is polled and dropped only on its owner thread. Its `Runnable`
//!    may pass through another thread (a wake there pushes it onto the owner's queue), but
//!    only the owner runs or drops it. A task woken during its own poll is queued again here,
//!    never handed back to the worker's deque ([`Schedule::requeue`]).
//! 2. The owner, stopping, cancels every task it still lists, on its own thread, then drains
//!    its queue until its count of unfinished tasks is zero. A `Runnable` that another thread
//!    was still pushing as the owner drained belongs to an unfinished task, so it reaches the
//!    queue, and is dropped there, before the count can reach zero. So no local task outlives
//!    its owner unfinished, and a task freed later on another thread holds no future; its
//!    output was dropped by the owner or is held by a `JoinHandle`, `Send` only if the output
//!    is.
//! 3. Once stopped, the registry is closed: a later `spawn_local` (say, from a destructor run
//!    by the stop) is cancelled on the spot, on the owner thread.
//! 4. A wake on the owner thread pushes and returns (the owner looks at its queue before it
//!    parks); a wake elsewhere pushes, then unparks the owner, whose park returns at once if
//!    the unpark came first.

use crate::loom::sync::atomic::{AtomicU64, AtomicUsize};
use crate::loom::HotMutex as Mutex;
use crate::owned::OwnedTasks;
use crate::scheduler::{PanicHook, Shared};
use crate::task::{new_task, Header, JoinError, JoinHandle, Runnable, Schedule, Spawned, TaskRef};
use spindle_core::Unpark;
use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// The last number given to a thread by [`this_thread`].
static THREADS_NUMBERED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cfg(not(loom))]
std::thread_local! {
    static THREAD_NUMBER: usize = THREADS_NUMBERED.fetch_add(1, Relaxed) + 1;
}
#[cfg(loom)]
loom::thread_local! {
    static THREAD_NUMBER: usize = THREADS_NUMBERED.fetch_add(1, Relaxed) + 1;
}

/// A number unique to the calling thread for the life of the process, never 0. Not a
/// thread-local's address, which a thread started after this one exits may get again: a local
/// task must never be taken for another thread's.
pub(crate) fn this_thread() -> usize {
    THREAD_NUMBER.with(|number| *number)
}

/// One owner's local tasks: its run queue and its registry.
pub(crate) struct LocalTasks {
    /// [`this_thread`] of the owner; 0 before a worker starts.
    owner: AtomicUsize,
    queue: Mutex<VecDeque<Runnable>>,
    /// The queue's length, kept under its lock, read without it.
    queued: AtomicUsize,
    owned: OwnedTasks,
    /// Spawned and not yet complete (invariant 2).
    unfinished: AtomicUsize,
    /// Tasks spawned here, for `spawned_tasks_count`.
    spawned: AtomicU64,
}

impl LocalTasks {
    pub(crate) fn new(owner: usize) -> LocalTasks {
        LocalTasks {
            owner: AtomicUsize::new(owner),
            queue: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            owned: OwnedTasks::new(1),
            unfinished: AtomicUsize::new(0),
            spawned: AtomicU64::new(0),
        }
    }

    /// Makes the calling thread the owner: a worker, as it starts.
    pub(crate) fn set_owner_to_this_thread(&self) {
        self.owner.store(this_thread(), Relaxed);
    }

    pub(crate) fn is_owner_thread(&self) -> bool {
        self.owner.load(Relaxed) == this_thread()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued.load(Relaxed) == 0
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        if self.is_empty() {
            return None;
        }
        let mut queue = self.queue.lock();
        let task = queue.pop_front();
        self.queued.store(queue.len(), Relaxed);
        task
    }

    fn push(&self, task: Runnable) {
        let mut queue = self.queue.lock();
        queue.push_back(task);
        self.queued.store(queue.len(), Relaxed);
    }

    /// Allocates and queues a task owned by this thread; `scheduler` is the task's way back
    /// here. Must be called on the owner thread.
    fn spawn<F, S>(
        &self,
        future: F,
        scheduler: S,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
        S: Schedule,
    {
        debug_assert!(self.is_owner_thread());
        let (runnable, handle, registered) = new_task(future, scheduler, Spawned::now(location));
        self.unfinished.fetch_add(1, Relaxed);
        if self.owned.insert(registered) {
            self.spawned.fetch_add(1, Relaxed);
            self.push(runnable);
        } else {
            // Stopped (invariant 3): cancelled here, on the owner thread.
            registered.drop_ref();
            drop(runnable);
        }
        handle
    }

    /// The completion of one of these tasks: its `Schedule::release`.
    fn release(&self, task: TaskRef) -> bool {
        let listed = self.owned.remove(task);
        self.unfinished.fetch_sub(1, AcqRel);
        listed
    }

    /// Cancels every task still here, on the owner thread (invariants 2 and 3).
    pub(crate) fn stop(&self) {
        debug_assert!(self.is_owner_thread() || !self.has_unfinished());
        self.owned.close();
        while let Some(task) = self.owned.pop() {
            task.shutdown();
        }
        loop {
            while let Some(task) = self.pop() {
                drop(task);
            }
            if self.unfinished.load(Acquire) == 0 {
                return;
            }
            // Another thread woke a task and is pushing its `Runnable` here.
            crate::loom::thread::yield_now();
        }
    }

    pub(crate) fn has_unfinished(&self) -> bool {
        self.unfinished.load(Acquire) != 0
    }

    /// [`stop`](Self::stop) on the owner thread (or with no task left). Elsewhere (a
    /// current-thread runtime dropped on another thread than the one that ran its local
    /// tasks) the futures cannot be dropped, as they need not be `Send`: the tasks are left
    /// unfinished, their memory with them, and a line on stderr says so.
    pub(crate) fn stop_or_abandon(&self) {
        if self.is_owner_thread() || !self.has_unfinished() {
            return self.stop();
        }
        self.owned.close();
        let queued: Vec<Runnable> = self.queue.lock().drain(..).collect();
        self.queued.store(0, Relaxed);
        // Dropping a `Runnable` would drop its future here (invariant 1).
        queued.into_iter().for_each(std::mem::forget);
        let _ = writeln!(
            std::io::stderr(),
            "spindle: {} local tasks (spawn_local) left unfinished and leaked: their runtime \
             was dropped on a thread other than the one they belong to, where their futures \
             (not Send) cannot be dropped; drop the runtime on that thread",
            self.unfinished.load(Acquire)
        );
    }

    pub(crate) fn for_each(&self, f: &mut dyn FnMut(&Header)) {
        self.owned.for_each(f);
    }

    pub(crate) fn len(&self) -> usize {
        self.owned.len()
    }

    pub(crate) fn spawned(&self) -> u64 {
        self.spawned.load(Relaxed)
    }
}

/// The scheduler of a task pinned to a worker: its queue is the worker's [`LocalTasks`].
pub(crate) struct PinnedToWorker<U> {
    pub(crate) shared: crate::loom::Arc<Shared<U>>,
    pub(crate) worker: usize,
}

impl<U: Unpark> PinnedToWorker<U> {
    fn tasks(&self) -> &LocalTasks {
        &self.shared.remotes[self.worker].pinned
    }

    /// Spawns a task pinned to this worker. Must be called on the worker's thread.
    pub(crate) fn spawn<F>(
        self,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let shared = self.shared.clone();
        shared.remotes[self.worker]
            .pinned
            .spawn(future, self, location)
    }
}

impl<U: Unpark> Schedule for PinnedToWorker<U> {
    fn schedule(&self, task: Runnable) {
        let tasks = self.tasks();
        tasks.push(task);
        if !tasks.is_owner_thread() {
            self.shared.remotes[self.worker].unpark.unpark();
        }
    }

    fn requeue(&self, task: Runnable) -> Option<Runnable> {
        self.tasks().push(task);
        None
    }

    fn release(&self, task: TaskRef) -> bool {
        self.tasks().release(task)
    }

    fn unhandled_panic(&self, task: &Header, error: &JoinError) {
        self.shared.unhandled_panic(task, error);
    }
}

/// The part of a [`LocalSet`] its tasks hold: the queue, and how to wake the owner.
pub(crate) struct ThreadLocalTasks {
    pub(crate) tasks: LocalTasks,
    /// Wakes the owner thread for a task queued from another thread.
    wake_owner: std::task::Waker,
    /// True while [`LocalSet::run_ready`] polls a task: a drop of the set then would wait on
    /// that very task.
    running: std::sync::atomic::AtomicBool,
    on_unhandled_panic: Option<PanicHook>,
}

/// The scheduler of a task in a [`LocalSet`].
struct InLocalSet(std::sync::Arc<ThreadLocalTasks>);

impl Schedule for InLocalSet {
    fn schedule(&self, task: Runnable) {
        self.0.tasks.push(task);
        if !self.0.tasks.is_owner_thread() {
            self.0.wake_owner.wake_by_ref();
        }
    }

    fn requeue(&self, task: Runnable) -> Option<Runnable> {
        self.0.tasks.push(task);
        None
    }

    fn release(&self, task: TaskRef) -> bool {
        self.0.tasks.release(task)
    }

    fn unhandled_panic(&self, task: &Header, error: &JoinError) {
        if let Some(hook) = &self.0.on_unhandled_panic {
            hook(task.id, task.site.location(), error);
        }
    }
}

/// Tasks pinned to the thread that made this set, which polls them itself, between other
/// work: the facade's `block_on` runs one, so that `spawn_local` works under it. Their
/// futures need not be `Send`. A wake from another thread queues the task here and unparks
/// the owner thread ([`std::thread::Thread::unpark`], or the waker given to
/// [`Spawner::local_set_woken_by`](crate::Spawner::local_set_woken_by)), so an owner with
/// nothing to do waits in [`std::thread::park`]. Dropping the set cancels the tasks still in it, on this thread:
/// their destructors run here, and their [`JoinHandle`]s resolve to a cancelled
/// [`JoinError`].
///
/// The set belongs to a scheduler ([`Spawner::local_set`](crate::Spawner::local_set)): its
/// tasks count in that scheduler's metrics and show in its task dump.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let local = scheduler.spawner().local_set();
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let handles: Vec<_> = (0..3)
///     .map(|n| {
///         let seen = seen.clone();
///         local.spawn(async move { seen.borrow_mut().push(n) })
///     })
///     .collect();
/// while local.run_ready(64) {}
/// assert_eq!(*seen.borrow(), [0, 1, 2]);
/// assert!(handles.iter().all(|h| h.is_finished()));
/// ```
pub struct LocalSet<U: Unpark> {
    shared: crate::loom::Arc<Shared<U>>,
    inner: std::sync::Arc<ThreadLocalTasks>,
    /// The set and its tasks stay on this thread.
    _not_send: PhantomData<*const ()>,
}

impl<U: Unpark> LocalSet<U> {
    pub(crate) fn new(
        shared: crate::loom::Arc<Shared<U>>,
        wake_owner: std::task::Waker,
    ) -> LocalSet<U> {
        let inner = std::sync::Arc::new(ThreadLocalTasks {
            tasks: LocalTasks::new(this_thread()),
            running: std::sync::atomic::AtomicBool::new(false),
            wake_owner,
            on_unhandled_panic: shared.on_unhandled_panic.clone(),
        });
        shared.register_local_set(&inner);
        LocalSet {
            shared,
            inner,
            _not_send: PhantomData,
        }
    }

    /// Spawns `future` into this set. It runs when [`run_ready`](Self::run_ready) is next
    /// called; awaiting the returned [`JoinHandle`] (from anywhere, if the output is `Send`)
    /// gives its output.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// # let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let local = scheduler.spawner().local_set();
    /// let shared = std::rc::Rc::new(5);
    /// let task = local.spawn(async move { *shared * 2 });
    /// local.run_ready(1);
    /// assert_eq!(futures::executor::block_on(task).unwrap(), 10);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_at(future, Location::caller())
    }

    /// `spawn`, recording `location` as the spawn location (for a facade's `#[track_caller]`
    /// entry points).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// # let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let local = scheduler.spawner().local_set();
    /// let here = std::panic::Location::caller();
    /// let task = local.spawn_at(async { 1 }, here);
    /// assert_eq!(scheduler.spawner().dump().tasks()[0].location(), here);
    /// # drop(task);
    /// ```
    pub fn spawn_at<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.inner
            .tasks
            .spawn(future, InLocalSet(self.inner.clone()), location)
    }

    /// Polls up to `max` queued tasks, in the order they were woken. Returns true if tasks
    /// are still queued (woken since, or beyond `max`): call again before parking.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// # let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let local = scheduler.spawner().local_set();
    /// let tasks: Vec<_> = (0..3).map(|_| local.spawn(async {})).collect();
    /// assert!(local.run_ready(2));
    /// assert!(!local.run_ready(2));
    /// assert!(tasks.iter().all(|t| t.is_finished()));
    /// ```
    pub fn run_ready(&self, max: usize) -> bool {
        let budget = crate::coop::budget();
        let running = &self.inner.running;
        running.store(true, Relaxed);
        let _done = Finally(|| running.store(false, Relaxed));
        for _ in 0..max {
            let Some(task) = self.inner.tasks.pop() else {
                break;
            };
            if let Some(budget) = &budget {
                budget.set(crate::coop::BUDGET_PER_POLL);
            }
            // A local task is queued again by its scheduler, never returned (invariant 1).
            let requeued = task.run();
            debug_assert!(requeued.is_none());
        }
        !self.inner.tasks.is_empty()
    }

    /// True if no task of this set is queued to run.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// # let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let local = scheduler.spawner().local_set();
    /// assert!(local.is_idle());
    /// let _task = local.spawn(async {});
    /// assert!(!local.is_idle());
    /// ```
    pub fn is_idle(&self) -> bool {
        self.inner.tasks.is_empty()
    }
}

/// Runs its closure when dropped, unwinding included.
struct Finally<F: FnMut()>(F);

impl<F: FnMut()> Drop for Finally<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

impl<U: Unpark> Drop for LocalSet<U> {
    fn drop(&mut self) {
        assert!(
            !self.inner.running.load(Relaxed),
            "a LocalSet dropped by one of its own tasks, which would wait for itself; drop it \
             outside run_ready"
        );
        self.inner.tasks.stop();
        self.shared.deregister_local_set(&self.inner);
    }
}

impl<U: Unpark> std::fmt::Debug for LocalSet<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSet")
            .field("unfinished", &self.inner.tasks.unfinished.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::{Scheduler, ThreadParker};
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::mpsc;
    use std::task::Poll;

    fn scheduler() -> Scheduler<crate::ThreadUnparker> {
        Scheduler::builder()
            .worker_threads(1)
            .build(|_| ThreadParker::new())
            .unwrap()
    }

    /// Counts its drops, in an `Rc`: not `Send`.
    struct Dropped(Rc<Cell<usize>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn a_thread_started_after_another_exits_is_never_taken_for_it() {
        let numbers: Vec<usize> = (0..8)
            .map(|_| std::thread::spawn(super::this_thread).join().unwrap())
            .collect();
        let mut distinct = numbers.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), numbers.len(), "{numbers:?}");
        assert!(!numbers.contains(&super::this_thread()));
    }

    #[test]
    fn a_wake_from_another_thread_queues_the_task_here_and_unparks_this_thread() {
        let scheduler = scheduler();
        let local = scheduler.spawner().local_set();
        let (waker_tx, waker_rx) = mpsc::channel();
        let polls = Rc::new(Cell::new(0));
        let counted = polls.clone();
        let task = local.spawn(std::future::poll_fn(move |cx| {
            counted.set(counted.get() + 1);
            if counted.get() == 1 {
                waker_tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            } else {
                Poll::Ready(counted.get())
            }
        }));
        assert!(!local.run_ready(8));
        assert!(local.is_idle());
        let waker = waker_rx.recv().unwrap();
        std::thread::spawn(move || waker.wake()).join().unwrap();
        // The unpark came first: this park returns at once.
        std::thread::park();
        assert!(!local.is_idle());
        local.run_ready(8);
        assert_eq!(futures::executor::block_on(task).unwrap(), 2);
    }

    #[test]
    fn dropping_the_set_cancels_its_tasks_here() {
        let scheduler = scheduler();
        let dropped = Rc::new(Cell::new(0));
        let local = scheduler.spawner().local_set();
        // One polled and waiting, one never polled, one woken and queued.
        let waiting = {
            let guard = Dropped(dropped.clone());
            local.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
        };
        local.run_ready(8);
        let never_polled = {
            let guard = Dropped(dropped.clone());
            local.spawn(async move { drop(guard) })
        };
        assert_eq!(scheduler.spawner().num_alive_tasks(), 2);
        drop(local);
        assert_eq!(dropped.get(), 2);
        assert_eq!(scheduler.spawner().num_alive_tasks(), 0);
        assert_eq!(scheduler.spawner().spawned_tasks_count(), 2);
        for task in [waiting, never_polled] {
            assert!(futures::executor::block_on(task)
                .unwrap_err()
                .is_cancelled());
        }
    }

    #[test]
    fn a_task_that_yields_is_queued_again_in_its_set() {
        let scheduler = scheduler();
        let local = scheduler.spawner().local_set();
        let task = local.spawn(async {
            for _ in 0..3 {
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
            }
            "done"
        });
        let mut turns = 0;
        while local.run_ready(1) {
            turns += 1;
        }
        assert_eq!(turns, 3);
        assert_eq!(futures::executor::block_on(task).unwrap(), "done");
    }

    #[test]
    fn spawn_local_off_the_workers_panics_naming_the_fix() {
        let scheduler = scheduler();
        let spawner = scheduler.spawner();
        let spawn = std::panic::AssertUnwindSafe(move || drop(spawner.spawn_local(async {})));
        let payload = std::panic::catch_unwind(spawn).unwrap_err();
        let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(message.contains("LocalSet"), "{message}");
    }

    #[test]
    fn tasks_pinned_to_a_worker_are_cancelled_on_it_when_the_scheduler_stops() {
        let scheduler = scheduler();
        let spawner = scheduler.spawner();
        let (tx, rx) = mpsc::channel();
        let outer = scheduler.spawn(async move {
            let worker = std::thread::current().id();
            struct OnDrop(mpsc::Sender<std::thread::ThreadId>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    let _ = self.0.send(std::thread::current().id());
                }
            }
            let guard = (OnDrop(tx), Rc::new(()));
            let inner = spawner.spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            (worker, inner)
        });
        let (worker, inner) = futures::executor::block_on(outer).unwrap();
        drop(scheduler);
        assert_eq!(rx.recv().unwrap(), worker);
        assert!(futures::executor::block_on(inner)
            .unwrap_err()
            .is_cancelled());
    }
}
