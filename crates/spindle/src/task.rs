//! Tasks: spawning, yielding, and which task is running (asyncio's `current_task`).
//!
//! Every task has an [`Id`], unique in the process, and remembers where it was spawned: the
//! spawn functions are `#[track_caller]`, so a [task dump](crate::Handle::dump) names the
//! line of the `spawn` call.
//!
//! ```
//! spindle::block_on(async {
//!     let task = spindle::spawn(async { spindle::task::id() });
//!     let id = task.id();
//!     assert_eq!(task.await.unwrap(), id);
//! });
//! ```

use crate::context;
use crate::JoinHandle;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use spindle_scheduler::Id;

/// The id of the task this code runs in (a spawned task, or a `spawn_blocking` closure).
///
/// # Panics
///
/// Outside any task, as in the future given to `block_on` itself, which is not a task. Use
/// [`try_id`] there.
///
/// ```
/// spindle::block_on(async {
///     let id = spindle::spawn(async { spindle::task::id() }).await.unwrap();
///     println!("the task was {id}");
/// });
/// ```
#[track_caller]
pub fn id() -> Id {
    try_id().unwrap_or_else(|| {
        panic!(
            "spindle::task::id() called outside a task (the future given to block_on is not a task); call it inside a spawned task, or use spindle::task::try_id()"
        )
    })
}

/// The id of the task this code runs in, or `None` outside any task.
///
/// ```
/// assert_eq!(spindle::task::try_id(), None);
/// let inside = spindle::block_on(spindle::spawn(async { spindle::task::try_id() }));
/// assert!(inside.unwrap().is_some());
/// ```
pub fn try_id() -> Option<Id> {
    spindle_scheduler::try_current_task_id()
}

/// Spawns `future` as a task that runs in parallel on the runtime's workers.
///
/// Inside a runtime (in a task, or under `block_on`) it spawns onto that runtime; anywhere
/// else onto the process-wide default runtime. Awaiting the returned [`JoinHandle`] gives the
/// output, or a [`JoinError`](crate::JoinError) if the task panicked or was cancelled;
/// dropping the handle lets the task run on, detached.
///
/// ```
/// let handle = spindle::spawn(async { 40 + 2 });
/// assert_eq!(spindle::block_on(handle).unwrap(), 42);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = Location::caller();
    context::with_current(|current| match current {
        Some(handle) => handle.spawn_at(future, location),
        None => crate::runtime::default_runtime()
            .handle_ref()
            .spawn_at(future, location),
    })
}

/// Spawns `future`, which need not be `Send`, as a task pinned to the calling thread: the
/// way to share `Rc<RefCell<_>>` state between tasks, as asyncio's single thread allows.
///
/// - On a runtime's worker (inside a task), the task is pinned to that worker: only it polls
///   the task, which is never stolen, and a wake from another thread queues the task there.
///   It is cancelled when the worker stops (at runtime shutdown), its destructor running on
///   the worker.
/// - Inside `block_on`, the task runs on the `block_on` thread, polled between polls of the
///   future given to `block_on`. Tasks still pending when `block_on` returns are cancelled on
///   that thread, and their [`JoinHandle`]s resolve to a cancelled [`JoinError`](crate::JoinError).
///
/// The returned [`JoinHandle`] can be awaited from any task or thread when the output is
/// `Send` (the handle is `Send` exactly then).
///
/// # Panics
///
/// Outside those two places (a plain thread, a `spawn_blocking` closure), where no thread
/// would poll the task: use [`spawn`] for a `Send` future, or call it inside `block_on`.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = spindle::block_on(async {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|n| {
///             let log = log.clone();
///             spindle::spawn_local(async move {
///                 spindle::yield_now().await;
///                 log.borrow_mut().push(n);
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     Rc::try_unwrap(log).unwrap().into_inner()
/// });
/// assert_eq!(log, [0, 1, 2]);
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    // On a worker, the task is pinned to it: a worker thread's, or the worker that a
    // current-thread runtime's `block_on` runs on its caller.
    let pinned = context::with_current(|current| match current {
        Some(handle) if handle.spawner().is_worker_thread() => {
            Ok(handle.spawner().spawn_local_at(future, location))
        }
        _ => Err(future),
    });
    let future = match pinned {
        Ok(handle) => return handle,
        Err(future) => future,
    };
    let waiting_on_current_thread =
        context::with_current(|current| current.is_some_and(|h| h.is_current_thread()));
    match context::role() {
        context::ThreadRole::BlockOn if waiting_on_current_thread => panic!(
            "spindle::spawn_local called in a block_on that waits while another thread's \
             block_on runs the same current-thread runtime, where no thread would poll the \
             task; call it on the thread that runs the runtime, or use spindle::spawn"
        ),
        context::ThreadRole::BlockOn => {
            context::with_block_on_locals(|set| set.spawn_at(future, location))
        }
        context::ThreadRole::Worker | context::ThreadRole::Outside => panic!(
            "spindle::spawn_local called outside a runtime's tasks and outside block_on, where no \
             thread would poll the task; call it from a spawned task or inside block_on, or use \
             spindle::spawn for a Send future"
        ),
    }
}

/// Runs the blocking closure `f` on the runtime's blocking pool and returns its result through
/// a [`JoinHandle`]: asyncio's `to_thread`. Use it for work that blocks (file I/O, a C
/// library, heavy computation), so that no worker, and no task behind it, waits.
///
/// The pool grows on demand (up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads))
/// and idle threads exit after a keep-alive. Inside a runtime it uses that runtime's pool;
/// anywhere else the default runtime's. A running closure cannot be interrupted: aborting its
/// handle only cancels a closure that has not started, and runtime shutdown waits for running
/// closures (bounded by [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout)).
/// On a blocking thread, `spindle::block_on` and `spindle::spawn` work.
///
/// Never panics. When the pool needs a new thread and the OS will not start one (a thread
/// limit such as `RLIMIT_NPROC`, no memory), `f` waits for one of the pool's existing threads,
/// as it would at the cap; if the pool has no thread at all, `f` never runs and the handle
/// resolves at once to a cancelled [`JoinError`](crate::JoinError), with the OS error on
/// stderr.
///
/// ```
/// spindle::block_on(async {
///     let digest = spindle::spawn_blocking(|| {
///         std::thread::sleep(std::time::Duration::from_millis(10)); // stands in for real work
///         (1..=20u64).product::<u64>() % 1_000_007
///     });
///     let ticks = spindle::sleep(std::time::Duration::from_millis(1)); // the runtime goes on
///     ticks.await;
///     assert!(digest.await.unwrap() < 1_000_007);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = Location::caller();
    context::with_current(|current| match current {
        Some(handle) => handle.spawn_blocking_at(f, location),
        None => crate::runtime::default_runtime()
            .handle_ref()
            .spawn_blocking_at(f, location),
    })
}

/// Gives the worker to other tasks once: the current task goes to the back of its worker's
/// queue and resumes when its turn comes again (asyncio's `await asyncio.sleep(0)`).
///
/// ```
/// spindle::block_on(async {
///     spindle::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// ```
/// let yielding: spindle::YieldNow = spindle::yield_now();
/// spindle::block_on(yielding);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl fmt::Debug for YieldNow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YieldNow")
            .field("yielded", &self.yielded)
            .finish()
    }
}
