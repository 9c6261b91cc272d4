//! The task allocation: its layout, the handles that hold references to it, and the way from a
//! bare task pointer back to the task.
//!
//! A task is one `Box`ed [`Cell`]: the type-independent [`Header`] at offset 0, then the
//! scheduler and the stage of one concrete (future, scheduler) pair. Everything outside this
//! module sees only a `NonNull<Header>`; the header's [`Vtable`] (see [`vtable`]) is the one way
//! back to the concrete type.
//!
//! # Invariants
//!
//! 1. A task pointer is the address of a `Cell<F, S>` made by [`new_task::<F, S>`], and its
//!    header's vtable is that pair's. `repr(C)` keeps the header first, so the two pointers
//!    are one.
//! 2. The allocation lives while the state word counts a reference. [`Runnable`],
//!    [`JoinHandle`], [`TaskRef`] and every task [`Waker`](std::task::Waker) hold one each; whoever takes the
//!    count to zero frees the allocation (invariant 5 of the [task module](super)).
//! 3. The allocation is only ever reached through shared references: the fields that change
//!    are atomics or `UnsafeCell`s, whose access rules are the task module's invariants.
//!
//! # Why the pointer accessors are `unsafe`
//!
//! A `NonNull<Header>` carries no proof that its task is still allocated, so [`header`] and
//! [`cell`], which turn one into a reference, are `unsafe fn`s: each caller names the reference
//! it holds. The handles do carry that proof, so [`Runnable::header`] and
//! [`JoinHandle::header`](super::JoinHandle) are safe, the borrow of the handle bounding the
//! borrow of the header.

mod vtable;

use super::id::note_wake_of_running_task;
use super::site::SpawnSite;
use super::state::{Notify, State, ToShutdown};
use super::waker::JoinWaker;
use super::{Id, JoinError, JoinHandle, Schedule};
use crate::clock;
use crate::loom::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
pub(crate) use vtable::Vtable;

/// The type-independent head of every task allocation.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    /// The owned-task registry's links; guarded by the registry shard's lock.
    pub(crate) owned: UnsafeCell<OwnedLinks>,
    /// Written by the `JoinHandle` per invariant 4 of the task module.
    pub(crate) join_waker: UnsafeCell<JoinWaker>,
    pub(crate) id: Id,
    /// Where the task was spawned (`#[track_caller]` through every spawn function).
    pub(crate) site: SpawnSite,
    /// When the task was spawned: the spawning worker's clock reading at its last maintenance
    /// tick or wake-up (`WorkerContext::now_ms`); from outside the workers, the newest reading
    /// a worker published (`Shared::spawn_time_outside`), or [`clock::coarse_millis`].
    pub(crate) spawned_ms: u32,
}

/// Links of the registry's intrusive doubly linked list.
pub(crate) struct OwnedLinks {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
}

/// The whole allocation. `repr(C)` keeps the header at offset 0, so a `NonNull<Header>` and a
/// `NonNull<Cell<F, S>>` are the same pointer.
#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
}

/// The future while the task runs, then its output, then nothing. No tag says which (an enum
/// would add a word to many tasks); the state word and the handle do:
///
/// - the future is alive from spawn until the thread that owns it (`RUNNING`) drops it, just
///   before it sets `COMPLETE`;
/// - the output is stored just before `COMPLETE` if `JOIN_INTEREST` is set, and is alive until
///   the `JoinHandle` reads it (the handle remembers that it did) or drops it, or, if the
///   handle went away while the task completed, until the completing thread drops it;
/// - so once the last reference is gone, the stage holds the future if `COMPLETE` is unset,
///   and nothing otherwise.
union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Result<F::Output, JoinError>>,
}

/// The stage's transitions. Each is `unsafe`: the caller has exclusive access to the stage,
/// as the task module's invariant 3 grants it (the runner while `RUNNING`, the completing
/// thread, the `JoinHandle` once `COMPLETE`, or the last reference's holder), and knows what
/// the stage holds by the rules on [`Stage`].
impl<F: Future, S> Cell<F, S> {
    /// Polls the future.
    ///
    /// # Safety
    /// Exclusive access, and the future is alive.
    unsafe fn poll_future(&self, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.stage.with_mut(|stage| {
            // SAFETY: the future is alive (the caller's promise) and is never moved out of the
            // allocation (it is dropped in place), so pinning it is sound.
            unsafe { Pin::new_unchecked(&mut *(*stage).future) }.poll(cx)
        })
    }

    /// Drops the future in place. The stage is empty afterwards, even if the drop unwinds.
    ///
    /// # Safety
    /// Exclusive access, and the future is alive.
    unsafe fn drop_future(&self) {
        // SAFETY: the future is alive, and the caller's next step (completing the task, or
        // freeing it) makes the stage read as empty.
        self.stage
            .with_mut(|stage| unsafe { ManuallyDrop::drop(&mut (*stage).future) });
    }

    /// # Safety
    /// Exclusive access, and the stage is empty.
    unsafe fn store_output(&self, output: Result<F::Output, JoinError>) {
        // SAFETY: nothing alive is overwritten.
        self.stage
            .with_mut(|stage| unsafe { (*stage).output = ManuallyDrop::new(output) });
    }

    /// Moves the stored output out; the stage is empty afterwards.
    ///
    /// # Safety
    /// Exclusive access, and the output is alive; the caller makes sure it is not read again.
    unsafe fn take_output(&self) -> Result<F::Output, JoinError> {
        // SAFETY: the output is alive (the caller's promise) and read only here.
        self.stage
            .with_mut(|stage| unsafe { ManuallyDrop::take(&mut (*stage).output) })
    }
}

impl<F: Future, S> Drop for Cell<F, S> {
    /// Runs when the last reference is gone, which leaves the dropper the only accessor. A task
    /// freed before it completed (its future never finished, and nothing can wake it any
    /// more) still holds its future; a completed one holds nothing (see [`Stage`]).
    fn drop(&mut self) {
        if !self.header.state.load().is_complete() {
            // SAFETY: exclusive access, and the future of a task that never completed is alive.
            unsafe { self.drop_future() }
        }
    }
}

/// Permission to poll a task once. Holds one reference.
pub(crate) struct Runnable {
    ptr: NonNull<Header>,
}

// SAFETY: a `Runnable` is the unique right to touch the future (invariant 1 of the task
// module). The future is `Send` (the spawn functions require it), or the task is local, whose
// `Runnable` only passes through another thread on its way to the owner's queue, and is run or
// dropped only by the owner (invariant 1 of `local`).
unsafe impl Send for Runnable {}

/// A counted reference held by the owned-task registry, without `Drop`: the registry releases
/// it explicitly through [`TaskRef::shutdown`] or [`TaskRef::drop_ref`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a `TaskRef` only reaches the header's atomics and the registry links, which the
// registry guards with its shard lock.
unsafe impl Send for TaskRef {}

/// What a task dump shows of a task's birth.
pub(crate) struct Spawned {
    pub(crate) id: Id,
    pub(crate) site: SpawnSite,
    /// [`clock::coarse_millis`], or a worker's recent reading of it.
    pub(crate) at_ms: u32,
}

impl Spawned {
    /// A task spawned at `location` now, with a fresh id.
    pub(crate) fn now(location: &'static Location<'static>) -> Spawned {
        Spawned::at(location, clock::coarse_millis())
    }

    /// A task spawned at `location` at `at_ms` (a clock reading taken by someone else), with
    /// a fresh id from this thread's block.
    pub(crate) fn at(location: &'static Location<'static>, at_ms: u32) -> Spawned {
        Spawned {
            id: Id::next(),
            site: SpawnSite::of(location),
            at_ms,
        }
    }
}

/// Allocates a task. Returns its first `Runnable`, its `JoinHandle`, and the registry's
/// reference (three references in all).
#[inline]
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    spawned: Spawned,
) -> (Runnable, JoinHandle<F::Output>, TaskRef)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(3),
            vtable: Vtable::of::<F, S>(),
            owned: UnsafeCell::new(OwnedLinks {
                prev: None,
                next: None,
            }),
            join_waker: UnsafeCell::new(JoinWaker::empty()),
            id: spawned.id,
            site: spawned.site,
            spawned_ms: spawned.at_ms,
        },
        scheduler,
        stage: UnsafeCell::new(Stage {
            future: ManuallyDrop::new(future),
        }),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    // SAFETY: the three references were counted by `State::new(3)`, and `F::Output` is the
    // task's output type.
    unsafe { (Runnable { ptr }, JoinHandle::from_raw(ptr), TaskRef(ptr)) }
}

/// The header of the task at `ptr`.
///
/// # Safety
/// `ptr` is a task pointer (invariant 1), and the task stays allocated for all of `'a`: the
/// caller holds one of its counted references for that long, or has taken the count to zero
/// itself and frees the task only after its last use of the returned reference.
pub(crate) unsafe fn header<'a>(ptr: NonNull<Header>) -> &'a Header {
    // SAFETY: the allocation is live for `'a` (the caller's promise), and is only ever
    // reached through shared references (invariant 3).
    unsafe { ptr.as_ref() }
}

/// The whole allocation of the task at `ptr`.
///
/// # Safety
/// As for [`header`], and `ptr` was made by `new_task::<F, S>` with these very `F` and `S`:
/// reaching here through the task's own vtable guarantees that.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the header is at offset 0 of the `repr(C)` `Cell<F, S>` that `ptr` addresses
    // (the caller's promise), which is live for `'a` and only shared (invariant 3).
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

impl Header {
    pub(crate) fn vtable(&self) -> &'static Vtable {
        self.vtable
    }
}

impl Runnable {
    /// The task's header, kept allocated by this `Runnable`'s reference while it is borrowed.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: `self` holds a counted reference, released only by consuming `self`
        // (`run`, `into_raw`, drop), which the borrow of `self` rules out.
        unsafe { header(self.ptr) }
    }

    /// Polls the task once (or drops its future if it was cancelled). Returns the task back if
    /// it was woken during the poll and must run again.
    pub(crate) fn run(self) -> Option<Runnable> {
        let this = ManuallyDrop::new(self);
        let ptr = this.ptr;
        let vtable = this.header().vtable;
        // SAFETY: `this` is a `Runnable` for the task whose vtable this is; its reference passes
        // to `run` and comes back in the `Runnable` rebuilt below.
        let requeue = unsafe { vtable.run(ptr) };
        // Not `then_some`: building a `Runnable` eagerly would drop (cancel) it when false.
        requeue.then(|| Runnable { ptr })
    }

    /// Turns a pointer taken from [`Runnable::into_raw`] back into a `Runnable`.
    ///
    /// # Safety
    /// `ptr` came from `into_raw` and is converted back exactly once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Runnable {
        Runnable { ptr }
    }

    /// Gives up the `Runnable` as a bare pointer, keeping its reference.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }
}

impl Drop for Runnable {
    /// A `Runnable` dropped without running (its queue was drained at shutdown) drops the
    /// future and completes the task as cancelled.
    fn drop(&mut self) {
        let header = self.header();
        header.state.transition_to_running_cancelled();
        // SAFETY: the transition gave this thread the future; the `Runnable`'s reference passes
        // to `cancel`, and the vtable is the task's own.
        unsafe { header.vtable.cancel(self.ptr) }
    }
}

impl TaskRef {
    pub(crate) fn header(self) -> NonNull<Header> {
        self.0
    }

    /// # Safety
    /// `ptr` is a live task whose registry reference the caller takes over.
    pub(crate) unsafe fn from_header(ptr: NonNull<Header>) -> TaskRef {
        TaskRef(ptr)
    }

    /// Releases the registry's reference.
    pub(crate) fn drop_ref(self) {
        // SAFETY: a `TaskRef` given to `drop_ref` is the registry's counted reference, which
        // lasts until the `ref_dec` below.
        let header = unsafe { header(self.0) };
        let vtable = header.vtable;
        if header.state.ref_dec(1) {
            // SAFETY: that was the last reference; the vtable is the task's own.
            unsafe { vtable.dealloc(self.0) }
        }
    }

    /// Shutdown sweep: drops the future of an idle task here, or flags a busy one so that its
    /// holder does. Consumes the registry's reference.
    pub(crate) fn shutdown(self) {
        // SAFETY: a `TaskRef` given to `shutdown` is the registry's counted reference, which
        // lasts until `cancel` or `drop_ref` below releases it.
        let header = unsafe { header(self.0) };
        match header.state.transition_to_shutdown() {
            // SAFETY: the transition gave this thread the future; the registry's reference
            // passes to `cancel`, and the vtable is the task's own.
            ToShutdown::Claimed => unsafe { header.vtable.cancel(self.0) },
            ToShutdown::Flagged => self.drop_ref(),
        }
    }
}

/// A woken task: idle -> scheduled, and hand the new `Runnable` to the scheduler.
///
/// # Safety
/// `ptr` is a task pointer, and the caller holds one of its counted references for the call.
pub(crate) unsafe fn wake_by_ref(ptr: NonNull<Header>) {
    if note_wake_of_running_task(ptr) {
        return;
    }
    // SAFETY: the caller's reference lasts for the call.
    let header = unsafe { header(ptr) };
    if header.state.transition_to_notified_by_ref() == Notify::Submit {
        // SAFETY: the transition counted a new reference for the `Runnable`.
        unsafe { header.vtable.schedule(ptr) }
    }
}

/// Like [`wake_by_ref`], consuming the caller's reference.
///
/// # Safety
/// `ptr` is a task pointer, and the caller gives up one of its counted references.
pub(crate) unsafe fn wake_by_val(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference lasts until the transition below hands it on.
    let header = unsafe { header(ptr) };
    let vtable = header.vtable;
    match header.state.transition_to_notified_by_val() {
        // SAFETY: the caller's reference becomes the `Runnable`'s.
        Notify::Submit => unsafe { vtable.schedule(ptr) },
        // SAFETY: the caller's reference was the last.
        Notify::Dealloc => unsafe { vtable.dealloc(ptr) },
        Notify::Nothing => {}
    }
}

/// `JoinHandle::abort`.
///
/// # Safety
/// `ptr` is a task pointer, and the caller holds one of its counted references for the call.
pub(crate) unsafe fn abort(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference lasts for the call.
    let header = unsafe { header(ptr) };
    if header.state.transition_to_notified_and_cancel() == Notify::Submit {
        // SAFETY: the transition counted a new reference for the `Runnable`.
        unsafe { header.vtable.schedule(ptr) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
