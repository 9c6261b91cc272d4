//! Tasks: one allocation per spawned future, a state word, and the handles onto it.
//!
//! A task is a single heap block (a [`Cell`](raw)) holding a [`Header`] (the state word, which
//! also counts polls, the vtable, the owned-task links, the join waker, and what else a task
//! dump shows: the task's id, spawn site and spawn time), the scheduler it belongs to, and the
//! *stage*: the future while it runs, then its output, then nothing. Three kinds of handle
//! point at it, each holding one counted reference:
//!
//! - [`Runnable`]: permission to poll it once. At most one exists at any time.
//! - [`JoinHandle`]: the right to the output, `abort`, `is_finished`.
//! - a [`Waker`](std::task::Waker): the right to make a `Runnable`. Cloning, waking and
//!   dropping a waker touch only the state word; none of them allocates.
//!
//! The scheduler's owned-task registry holds one more reference from spawn until just before
//! completion, so that shutdown can reach a task that nothing else would ever wake.
//!
//! # State machine
//!
//! `RUNNING`, `SCHEDULED`, `COMPLETE`, `CANCELLED` describe the future; `JOIN_INTEREST` and
//! `JOIN_WAKER` describe the handle (see [`state`]). The named states are:
//!
//! | state | bits |
//! | --- | --- |
//! | idle | none of RUNNING, SCHEDULED, COMPLETE |
//! | scheduled | SCHEDULED |
//! | running | RUNNING |
//! | notified-while-running | RUNNING, SCHEDULED |
//! | complete | COMPLETE |
//! | cancelled | CANCELLED (with SCHEDULED or RUNNING until the future is dropped, then COMPLETE) |
//!
//! | from | event | to | who does what |
//! | --- | --- | --- | --- |
//! | idle | wake | scheduled | waker makes a `Runnable` (+1 ref) and hands it to the scheduler |
//! | scheduled | wake | scheduled | nothing: the existing `Runnable` will poll |
//! | scheduled | `run` | running | the runner owns the future |
//! | running | wake (any other) | notified-while-running | nothing now |
//! | running | `wake_by_ref` on the thread running it, by its own poll | running | noted in a thread-local, not the word |
//! | running | poll → `Pending` | idle | runner drops its ref |
//! | notified-while-running, or running and noted | poll → `Pending` | scheduled | runner requeues its `Runnable` at the back |
//! | running | poll → `Ready` / panic | complete | runner stores the output or `JoinError::Panic` |
//! | idle | abort | scheduled + cancelled | a `Runnable` is made; whoever runs it drops the future |
//! | scheduled, running | abort | + cancelled | the runner drops the future instead of (or after) polling |
//! | idle | shutdown sweep | running + cancelled | the sweeper drops the future itself |
//! | scheduled | `Runnable` dropped unrun | running + cancelled | the dropper drops the future |
//! | complete | anything but handle drop | complete | nothing |
//!
//! # Invariants
//!
//! 1. A `Runnable` exists exactly while `SCHEDULED` is set with `RUNNING` unset, or while its
//!    holder runs the task. So at most one thread ever touches the future.
//! 2. `COMPLETE` is set once, by the thread that owns the future, after it wrote the final stage.
//! 3. The output is dropped by the completing thread if `JOIN_INTEREST` was unset when
//!    `COMPLETE` was set (a detached task, seen unset before, never stores it at all);
//!    otherwise by the `JoinHandle` (read or dropped).
//! 4. The join waker field is written only by the `JoinHandle`, and only while `JOIN_WAKER` is
//!    unset. While it is set, the completing thread may read it (to wake it). After waking it,
//!    the completing thread unsets `JOIN_WAKER`; if `JOIN_INTEREST` is gone by then, it drops
//!    the waker, otherwise the handle does.
//! 5. The allocation is freed by whoever drops the last reference; references are counted in
//!    the same word as the flags, so "complete and unreferenced" is decided by one atomic.
//!
//! # Why
//!
//! One word for flags and count makes every hand-off a single compare-and-swap, and lets a
//! wake of an already scheduled task cost one read-modify-write. Wakes during a poll never
//! push a second copy of the task: the runner requeues it once, at the back, which is also
//! how `yield_now` reaches the end of the queue instead of the LIFO slot. A task that wakes
//! itself (`yield_now`, a spent budget) does so on the thread that runs it, which notes the
//! wake in a thread-local (`id::RunningHere`) instead of the word: the compare-and-swap that
//! ends the poll then sets `SCHEDULED` itself, so a yield costs two read-modify-writes, not
//! three. The same thread-local says which task the thread runs (`try_current_task_id`).

mod error;
mod id;
mod join;
mod raw;
mod site;
pub(crate) mod state;
mod waker;

pub use error::JoinError;
pub use id::{try_current_task_id, Id};
pub use join::JoinHandle;
pub(crate) use raw::{new_task, Header, OwnedLinks, Runnable, Spawned, TaskRef};
pub(crate) use site::SpawnSite;

/// What a task needs from the scheduler that owns it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// A task was woken (or aborted) while idle: queue it to run.
    fn schedule(&self, task: Runnable);

    /// The task was woken during its own poll and must run again. `Some` hands it back to
    /// the worker that polled it, which queues it at the back of its deque; a scheduler that
    /// keeps its tasks elsewhere (a local task's, `local`) queues it itself and returns `None`.
    #[inline]
    fn requeue(&self, task: Runnable) -> Option<Runnable> {
        Some(task)
    }

    /// The task completed: remove it from the owned-task registry. Returns true when it was
    /// still registered, in which case the registry's reference now belongs to the caller.
    fn release(&self, task: TaskRef) -> bool;

    /// The task panicked and its output is being dropped unread: nobody awaited it.
    fn unhandled_panic(&self, _task: &Header, _error: &JoinError) {}
}
