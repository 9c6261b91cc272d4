//! What a runtime does when a task panics and nobody awaits it: [`UnhandledPanic`].
//!
//! With [`UnhandledPanic::ShutdownRuntime`], the scheduler's unhandled-panic hook records the
//! first such panic in the runtime's [`Failure`], starts the shutdown, and wakes every thread
//! blocked in the runtime's `block_on`, which then panics with the recorded message. A thread
//! entering `block_on` registers itself, then checks for a failure, under the lock the
//! failing side takes after recording one: either it sees the failure, or it is woken.

use spindle_core::ThreadUnparker;
use spindle_io::IoUnparker;
use spindle_scheduler::{Id, JoinError, Spawner};
use std::panic::Location;
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};

/// What the runtime does when a task panics and its panic is never read: its
/// [`JoinHandle`](crate::JoinHandle) was dropped (the task was detached), or is dropped
/// without being awaited. Set with [`Builder::unhandled_panic`](crate::Builder::unhandled_panic).
///
/// ```
/// let runtime = spindle::Builder::new()
///     .unhandled_panic(spindle::UnhandledPanic::ShutdownRuntime)
///     .build()
///     .unwrap();
/// # drop(runtime);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnhandledPanic {
    /// The default: the panic is printed (by std's panic hook) and the runtime runs on.
    #[default]
    Ignore,
    /// The runtime shuts down: every task is cancelled, and every `block_on` on it panics
    /// with the task's panic message and spawn location. For programs where a task that dies
    /// unnoticed is worse than stopping (asyncio's "Task exception was never retrieved",
    /// made fatal).
    ShutdownRuntime,
}

/// A runtime stopped by an unhandled panic, for `ShutdownRuntime`.
pub(crate) struct Failure {
    message: OnceLock<String>,
    /// The threads in the runtime's `block_on` now.
    blocked: Mutex<Vec<Thread>>,
    /// The scheduler to stop, from its start to its shutdown: the scheduler holds this
    /// `Failure` (in its hook), so holding its spawner for longer would keep both alive.
    spawner: Mutex<Option<Spawner<IoUnparker<ThreadUnparker>>>>,
}

impl Failure {
    pub(crate) fn new() -> Failure {
        Failure {
            message: OnceLock::new(),
            blocked: Mutex::new(Vec::new()),
            spawner: Mutex::new(None),
        }
    }

    /// The scheduler to stop on failure, or `None` once it has shut down.
    pub(crate) fn set_spawner(&self, spawner: Option<Spawner<IoUnparker<ThreadUnparker>>>) {
        *self.spawner.lock().unwrap_or_else(|e| e.into_inner()) = spawner;
    }

    /// The scheduler's unhandled-panic hook: records the first failure, stops the runtime,
    /// and wakes the blocked threads.
    pub(crate) fn fail(&self, id: Id, location: &'static Location<'static>, error: &JoinError) {
        let message = format!(
            "spindle: task {id} spawned at {location} panicked and nobody awaited it; the \
             runtime was shut down (UnhandledPanic::ShutdownRuntime): {error}"
        );
        if self.message.set(message).is_err() {
            return;
        }
        if let Some(spawner) = &*self.spawner.lock().unwrap_or_else(|e| e.into_inner()) {
            spawner.begin_shutdown();
        }
        for thread in self
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            thread.unpark();
        }
    }

    /// Panics with the failure's message, if the runtime failed.
    pub(crate) fn check(&self) {
        if let Some(message) = self.message.get() {
            panic!("{message}");
        }
    }

    /// Registers this thread as blocked in `block_on` until the guard drops.
    pub(crate) fn block(&self) -> Blocked<'_> {
        let current = thread::current();
        let id = current.id();
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(current);
        Blocked { failure: self, id }
    }
}

/// A thread's registration in [`Failure::blocked`].
pub(crate) struct Blocked<'a> {
    failure: &'a Failure,
    id: thread::ThreadId,
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        let mut blocked = self
            .failure
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(index) = blocked.iter().position(|t| t.id() == self.id) {
            blocked.swap_remove(index);
        }
    }
}
