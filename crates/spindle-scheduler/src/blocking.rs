//! The blocking pool: threads for closures that block (file I/O, DNS, a C library, heavy
//! computation), so that no worker ever does. asyncio's `to_thread`.
//!
//! A closure becomes a task like any other (one allocation, a [`JoinHandle`], panics caught as
//! a [`JoinError`](crate::JoinError)), whose future runs the closure in its one poll and whose
//! scheduler is this pool: a FIFO queue under a mutex, and threads that take from it.
//!
//! # Invariants
//!
//! 1. A queued task never waits for a thread that will not come: when one is queued, either an
//!    idle thread is notified (`idle > notified`), or a new thread starts (`live < max`), or all
//!    `max` threads are busy and the first to finish takes it. If a new thread cannot start
//!    (the OS refuses one), the pool acts as if `max` were the threads it has: the task waits
//!    for one of them, or, with none live, is cancelled at once.
//! 2. A thread idle for `keep_alive` with nothing queued exits; the pool shrinks back to zero.
//! 3. After [`BlockingPool::shutdown_timeout`], nothing new runs: queued and later-spawned
//!    tasks are cancelled (their handles say so), and threads exit once their closure returns.
//!
//! # Why no registry, no stealing
//!
//! A blocking task is polled exactly once and never waits, so it is never idle: it is queued,
//! running, or done. Shutdown only has to empty the queue; a running closure cannot be
//! interrupted, so shutdown waits for it (up to its timeout, then detaches the thread). The
//! pool is a plain mutex and condvar: a closure that blocks costs far more than the lock, and
//! no atomics protocol here needs a loom model.

use crate::task::{new_task, Runnable, Schedule, Spawned, TaskRef};
use crate::JoinHandle;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// A thread start/stop hook of the pool.
type Callback = Arc<dyn Fn() + Send + Sync>;

/// A pool of threads for blocking closures, growing on demand up to a cap and shrinking when
/// idle. Cloning it gives another handle to the same pool.
///
/// ```
/// use spindle_scheduler::BlockingPool;
///
/// let pool = BlockingPool::builder().max_threads(4).build();
/// let handles: Vec<_> = (0..4)
///     .map(|n| pool.spawn(move || {
///         std::thread::sleep(std::time::Duration::from_millis(10));
///         n * 2
///     }))
///     .collect();
/// let results: Vec<_> =
///     handles.into_iter().map(|h| futures::executor::block_on(h).unwrap()).collect();
/// assert_eq!(results, [0, 2, 4, 6]);
/// pool.shutdown_timeout(std::time::Duration::from_secs(1));
/// ```
#[derive(Clone)]
pub struct BlockingPool {
    inner: Arc<Inner>,
}

/// Configures a [`BlockingPool`].
///
/// ```
/// use std::time::Duration;
///
/// let pool = spindle_scheduler::BlockingPool::builder()
///     .max_threads(16)
///     .keep_alive(Duration::from_secs(1))
///     .thread_name("my-blocking")
///     .build();
/// assert_eq!(futures::executor::block_on(pool.spawn(|| "done")).unwrap(), "done");
/// # pool.shutdown_timeout(Duration::MAX);
/// ```
pub struct BlockingPoolBuilder {
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
    on_idle: Option<Callback>,
}

struct Inner {
    state: Mutex<State>,
    work_queued: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
    /// Closures spawned and not finished (queued or running).
    busy: std::sync::atomic::AtomicUsize,
    on_idle: Option<Callback>,
}

struct State {
    queue: VecDeque<Runnable>,
    /// Threads alive (running a closure, or waiting for one).
    live: usize,
    /// Threads waiting on `work_queued`.
    idle: usize,
    /// Notifications sent to idle threads and not yet taken up (invariant 1).
    notified: usize,
    shutdown: bool,
    /// Threads not yet joined; finished ones are pruned when a thread starts.
    threads: Vec<thread::JoinHandle<()>>,
}

/// The future of a blocking task: runs the closure in its first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("a blocking task is polled once");
        Poll::Ready(f())
    }
}

impl Default for BlockingPoolBuilder {
    fn default() -> Self {
        BlockingPoolBuilder {
            max_threads: 512,
            keep_alive: Duration::from_secs(10),
            thread_name: "spindle-blocking".into(),
            on_thread_start: None,
            on_thread_stop: None,
            on_idle: None,
        }
    }
}

impl BlockingPoolBuilder {
    /// The most threads the pool runs at once (default 512; at least 1). Closures beyond it
    /// queue until a thread is free.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().max_threads(1).build();
    /// # drop(pool);
    /// ```
    pub fn max_threads(&mut self, n: usize) -> &mut Self {
        self.max_threads = n.max(1);
        self
    }

    /// How long a thread with nothing to do waits before it exits (default 10 s).
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder()
    ///     .keep_alive(std::time::Duration::from_millis(100))
    ///     .build();
    /// # drop(pool);
    /// ```
    pub fn keep_alive(&mut self, keep_alive: Duration) -> &mut Self {
        self.keep_alive = keep_alive;
        self
    }

    /// The name of the pool's threads (default `spindle-blocking`).
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().thread_name("files").build();
    /// let name = futures::executor::block_on(
    ///     pool.spawn(|| std::thread::current().name().unwrap().to_owned()),
    /// );
    /// assert_eq!(name.unwrap(), "files");
    /// # pool.shutdown_timeout(std::time::Duration::MAX);
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Runs `f` on each pool thread as it starts, before its first closure.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder()
    ///     .on_thread_start(|| println!("blocking thread up"))
    ///     .build();
    /// # drop(pool);
    /// ```
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each pool thread as it exits.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder()
    ///     .on_thread_stop(|| println!("blocking thread down"))
    ///     .build();
    /// # drop(pool);
    /// ```
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Runs `f` each time the pool's last unfinished closure finishes (its task completed,
    /// its joiner woken): a runtime with a paused clock looks again then whether it may jump
    /// ahead, which it does not while a closure runs ([`BlockingPool::busy`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let idle = Arc::new(AtomicUsize::new(0));
    /// let count = idle.clone();
    /// let pool = spindle_scheduler::BlockingPool::builder()
    ///     .on_idle(move || drop(count.fetch_add(1, Ordering::SeqCst)))
    ///     .build();
    /// futures::executor::block_on(pool.spawn(|| ())).unwrap();
    /// # pool.shutdown_timeout(std::time::Duration::MAX);
    /// assert_eq!(idle.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_idle(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_idle = Some(Arc::new(f));
        self
    }

    /// The pool. It starts no thread until the first closure arrives.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// assert_eq!(pool.live_threads(), 0);
    /// ```
    pub fn build(&mut self) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    live: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                    threads: Vec::new(),
                }),
                work_queued: Condvar::new(),
                max_threads: self.max_threads,
                keep_alive: self.keep_alive,
                thread_name: self.thread_name.clone(),
                on_thread_start: self.on_thread_start.clone(),
                on_thread_stop: self.on_thread_stop.clone(),
                busy: std::sync::atomic::AtomicUsize::new(0),
                on_idle: self.on_idle.clone(),
            }),
        }
    }
}

impl BlockingPool {
    /// A builder with the defaults: up to 512 threads, 10 s keep-alive.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// # drop(pool);
    /// ```
    pub fn builder() -> BlockingPoolBuilder {
        BlockingPoolBuilder::default()
    }

    /// Runs `f` on a pool thread. Its result (or its panic, as a [`JoinError`](crate::JoinError))
    /// comes back through the handle. Aborting the handle before the closure starts cancels
    /// it; once it runs, it runs to the end. After shutdown, the handle resolves to a
    /// cancelled `JoinError` at once.
    ///
    /// Never panics. If the pool needs a new thread and the OS will not start one (a thread
    /// limit, no memory), `f` waits for one of the pool's threads, as it would at
    /// `max_threads`; if the pool has no thread, `f` never runs: its handle resolves to a
    /// cancelled `JoinError` at once, and a line on stderr gives the OS error.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// let sum = pool.spawn(|| (1..=10).sum::<u32>());
    /// assert_eq!(futures::executor::block_on(sum).unwrap(), 55);
    /// # pool.shutdown_timeout(std::time::Duration::MAX);
    /// ```
    #[track_caller]
    pub fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_at(f, Location::caller())
    }

    /// [`spawn`](Self::spawn), recording `location` as the task's spawn location instead of
    /// the caller's.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// let task = pool.spawn_at(|| 2, std::panic::Location::caller());
    /// assert_eq!(futures::executor::block_on(task).unwrap(), 2);
    /// # pool.shutdown_timeout(std::time::Duration::MAX);
    /// ```
    pub fn spawn_at<F, R>(&self, f: F, location: &'static Location<'static>) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (runnable, handle, registered) = new_task(
            BlockingTask(Some(f)),
            self.inner.clone(),
            Spawned::now(location),
        );
        // No registry: a blocking task is never idle (module docs).
        registered.drop_ref();
        self.inner.busy.fetch_add(1, SeqCst);
        self.inner.schedule(runnable);
        handle
    }

    /// Closures spawned and not finished: queued, or running. A closure dropped unrun (the
    /// pool shut down, or no thread could start) counts as finished.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// assert_eq!(pool.busy(), 0);
    /// futures::executor::block_on(pool.spawn(|| ())).unwrap();
    /// pool.shutdown_timeout(std::time::Duration::MAX);
    /// assert_eq!(pool.busy(), 0);
    /// let late = pool.spawn(|| ()); // cancelled: the pool is shut down
    /// assert!(futures::executor::block_on(late).unwrap_err().is_cancelled());
    /// assert_eq!(pool.busy(), 0);
    /// ```
    pub fn busy(&self) -> usize {
        self.inner.busy.load(SeqCst)
    }

    /// Threads alive in the pool now, busy or idle.
    ///
    /// ```
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// futures::executor::block_on(pool.spawn(|| ())).unwrap();
    /// assert_eq!(pool.live_threads(), 1);
    /// # pool.shutdown_timeout(std::time::Duration::MAX);
    /// ```
    pub fn live_threads(&self) -> usize {
        self.inner.state.lock().live
    }

    /// Stops the pool: cancels queued closures, lets running ones finish, and waits for the
    /// threads to exit, at most `timeout`; threads still running a closure then are left to
    /// finish (a later call waits for them again). A pool thread calling this does not wait
    /// for itself.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = spindle_scheduler::BlockingPool::builder().build();
    /// let (started, has_started) = std::sync::mpsc::channel();
    /// let slow = pool.spawn(move || {
    ///     started.send(()).unwrap();
    ///     std::thread::sleep(Duration::from_millis(300));
    /// });
    /// has_started.recv().unwrap();
    /// pool.shutdown_timeout(Duration::from_millis(10)); // returns with `slow` still running
    /// let late = pool.spawn(|| 1);
    /// assert!(futures::executor::block_on(late).unwrap_err().is_cancelled());
    /// assert!(futures::executor::block_on(slow).is_ok()); // it ran to its end
    /// pool.shutdown_timeout(Duration::MAX); // and this waits for its thread to exit
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) {
        let deadline = Instant::now().checked_add(timeout);
        let (queued, threads) = {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            (
                std::mem::take(&mut state.queue),
                std::mem::take(&mut state.threads),
            )
        };
        self.inner.work_queued.notify_all();
        // Dropping a `Runnable` that never ran cancels its task.
        let cancelled = queued.len();
        drop(queued);
        self.inner.finished(cancelled);
        let current = thread::current().id();
        let mut still_running = Vec::new();
        for thread in threads {
            if thread.thread().id() == current {
                continue;
            }
            if let Some(deadline) = deadline {
                while !thread.is_finished() && Instant::now() < deadline {
                    thread::sleep(Duration::from_micros(500));
                }
                if !thread.is_finished() {
                    still_running.push(thread);
                    continue;
                }
            }
            // A closure's panic was caught in its task; the thread itself does not panic.
            let _ = thread.join();
        }
        // A later call waits for these again; dropping the pool detaches them.
        self.inner.state.lock().threads.extend(still_running);
    }
}

impl Schedule for Arc<Inner> {
    fn schedule(&self, task: Runnable) {
        let mut state = self.state.lock();
        if state.shutdown {
            drop(state);
            drop(task);
            self.finished(1);
            return;
        }
        state.queue.push_back(task);
        if state.idle > state.notified {
            state.notified += 1;
            self.work_queued.notify_one();
        } else if state.live < self.max_threads {
            if let Err(error) = self.start_thread(&mut state) {
                if state.live == 0 {
                    // Invariant 1 would break: no thread will ever take the task. Cancel it.
                    let orphan = state.queue.pop_back();
                    drop(state);
                    drop(orphan);
                    self.finished(1);
                    // Not `eprintln!`, which panics if stderr is gone: `spawn` never panics.
                    let _ = writeln!(
                        std::io::stderr(),
                        "spindle: cannot start a blocking thread, and the pool has none: the \
                         closure is cancelled ({error})"
                    );
                }
            }
        }
    }

    fn release(&self, _task: TaskRef) -> bool {
        false
    }
}

impl Inner {
    /// `n` closures counted [`busy`](BlockingPool::busy) are done: run, or dropped unrun
    /// (cancelled). Called after their tasks completed, which woke their joiners: a runtime
    /// looking at both the count and its queues sees one or the other. The last one out runs
    /// the `on_idle` hook.
    fn finished(&self, n: usize) {
        if n > 0 && self.busy.fetch_sub(n, SeqCst) == n {
            if let Some(f) = &self.on_idle {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f()));
            }
        }
    }

    fn start_thread(self: &Arc<Self>, state: &mut State) -> std::io::Result<()> {
        state.threads.retain(|thread| !thread.is_finished());
        let inner = self.clone();
        let thread = thread::Builder::new()
            .name(self.thread_name.clone())
            .spawn(move || inner.run_thread())?;
        state.live += 1;
        state.threads.push(thread);
        Ok(())
    }

    fn run_thread(&self) {
        if let Some(f) = &self.on_thread_start {
            f();
        }
        let mut state = self.state.lock();
        loop {
            if let Some(task) = state.queue.pop_front() {
                drop(state);
                if let Some(requeued) = task.run() {
                    // A blocking task completes in its one poll; it cannot be woken to rerun.
                    drop(requeued);
                }
                // After the completion, which queued its joiner: a runtime looking at both
                // sees one or the other.
                self.finished(1);
                state = self.state.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let timed_out = self
                .work_queued
                .wait_for(&mut state, self.keep_alive)
                .timed_out();
            state.idle -= 1;
            if state.notified > 0 {
                state.notified -= 1;
            } else if timed_out && state.queue.is_empty() {
                break;
            }
        }
        state.live -= 1;
        drop(state);
        if let Some(f) = &self.on_thread_stop {
            f();
        }
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("BlockingPool")
            .field("live_threads", &state.live)
            .field("queued", &state.queue.len())
            .field("max_threads", &self.inner.max_threads)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BlockingPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPoolBuilder")
            .field("max_threads", &self.max_threads)
            .field("keep_alive", &self.keep_alive)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}
