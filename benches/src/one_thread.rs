//! The one-thread contenders: each runtime's way to run every task on the calling thread.
//!
//! | name | built as | runs tasks |
//! | --- | --- | --- |
//! | `spindle` | `spindle::Builder::new_current_thread()` | on the bench thread, inside `Runtime::block_on` |
//! | `tokio` | `tokio::runtime::Builder::new_current_thread().enable_time()` | on the bench thread, inside `Runtime::block_on` |
//! | `smol` | an `async_executor::LocalExecutor`, one per thread | on the bench thread, inside `futures_lite::future::block_on(executor.run(root))` |
//!
//! Tasks spawn through the same [`Spawner`]s as the multi-thread contenders (a thread-local
//! finds the runtime); smol's local executor, which has no thread-local of its own, is this
//! thread's [`LocalExecutor`](async_executor::LocalExecutor), leaked like the multi-thread
//! one. A spawn from the bench thread outside `block_on` (`spawn_remote`) queues the task;
//! the next `block_on` runs it.

use crate::{Contender, SmolSpawner, Spawner, SpindleSpawner, TokioSpawner, Unwrapped};
use std::future::Future;
use std::time::{Duration, Instant};

/// A spindle current-thread runtime.
#[derive(Debug)]
pub struct SpindleCurrentThread {
    runtime: spindle::Runtime,
}

impl SpindleCurrentThread {
    /// `spindle::Builder::new_current_thread().build()`; `_workers` is ignored (one thread).
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built.
    pub fn new(_workers: usize) -> SpindleCurrentThread {
        let runtime = spindle::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the spindle runtime: {err}"));
        SpindleCurrentThread { runtime }
    }
}

impl Contender for SpindleCurrentThread {
    const NAME: &'static str = "spindle";
    type Spawner = SpindleSpawner;

    fn spawner(&self) -> SpindleSpawner {
        SpindleSpawner
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.block_on(future)
    }

    #[inline]
    fn spawn_remote<F>(&self, future: F) -> Unwrapped<spindle::JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(self.runtime.spawn(future))
    }
}

/// A tokio current-thread runtime, with its time driver.
#[derive(Debug)]
pub struct TokioCurrentThread {
    runtime: tokio::runtime::Runtime,
}

impl TokioCurrentThread {
    /// `tokio::runtime::Builder::new_current_thread().enable_time().build()`; `_workers` is
    /// ignored (one thread).
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built.
    pub fn new(_workers: usize) -> TokioCurrentThread {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the tokio runtime: {err}"));
        TokioCurrentThread { runtime }
    }
}

impl Contender for TokioCurrentThread {
    const NAME: &'static str = "tokio";
    type Spawner = TokioSpawner;

    fn spawner(&self) -> TokioSpawner {
        TokioSpawner
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.block_on(future)
    }

    #[inline]
    fn spawn_remote<F>(&self, future: F) -> Unwrapped<tokio::task::JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(self.runtime.handle().spawn(future))
    }
}

std::thread_local! {
    /// This thread's local executor, leaked so that tasks can reach it for the process's life.
    static LOCAL_EXECUTOR: &'static async_executor::LocalExecutor<'static> =
        Box::leak(Box::new(async_executor::LocalExecutor::new()));
}

/// smol's one-thread executor: this thread's `LocalExecutor`, run by
/// `futures_lite::future::block_on`.
#[derive(Debug)]
pub struct SmolLocal;

impl SmolLocal {
    /// This thread's local executor; `_workers` is ignored (one thread).
    pub fn new(_workers: usize) -> SmolLocal {
        SmolLocal
    }
}

/// Spawns onto the calling thread's local executor.
#[derive(Debug, Clone, Copy)]
pub struct SmolLocalSpawner;

impl Spawner for SmolLocalSpawner {
    type Task<T: Send + 'static> = async_executor::Task<T>;

    #[inline]
    fn spawn<F>(self, future: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        LOCAL_EXECUTOR.with(|executor| executor.spawn(future))
    }

    #[inline]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        LOCAL_EXECUTOR.with(|executor| executor.spawn(future).detach());
    }

    #[inline]
    fn yield_now() -> impl Future<Output = ()> + Send {
        SmolSpawner::yield_now()
    }

    #[inline]
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        SmolSpawner::sleep(duration)
    }

    #[inline]
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        SmolSpawner::sleep_until(deadline)
    }

    #[inline]
    fn timeout<F>(
        duration: Duration,
        future: F,
    ) -> impl Future<Output = Result<F::Output, ()>> + Send
    where
        F: Future + Send,
    {
        SmolSpawner::timeout(duration, future)
    }
}

impl Contender for SmolLocal {
    const NAME: &'static str = "smol";
    type Spawner = SmolLocalSpawner;

    fn spawner(&self) -> SmolLocalSpawner {
        SmolLocalSpawner
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        LOCAL_EXECUTOR.with(|executor| futures_lite::future::block_on(executor.run(future)))
    }

    #[inline]
    fn spawn_remote<F>(&self, future: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        SmolLocalSpawner.spawn(future)
    }
}
