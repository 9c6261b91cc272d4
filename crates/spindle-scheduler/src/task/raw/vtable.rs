//! The vtable: the operations on a task that need its concrete type.
//!
//! One static [`Vtable`] exists per (future, scheduler) type pair. Each entry recovers the
//! task's `Cell<F, S>` and drives the state machine on it: poll, cancel, complete, schedule,
//! free, and the `JoinHandle`'s read and drop. Each is an `unsafe fn` whose `# Safety` names
//! the reference or ownership bit its caller holds.
//!
//! # Invariants
//!
//! 1. An entry is only ever given the task whose header holds this vtable, so the `Cell<F, S>`
//!    it recovers is the real one (invariant 1 of [`raw`](super)).
//! 2. The stage is touched by the thread that owns the future (`RUNNING`) until `COMPLETE`,
//!    then by the completing thread or the `JoinHandle` (invariant 3 of the task module), and
//!    last by whoever frees the task; the join waker by the rules of invariant 4.
//! 3. An entry that may free the task takes it as a pointer, never as a `&Cell`: a reference
//!    argument must stay valid for the whole call, so freeing it inside is undefined behaviour
//!    (Miri reports it).

use super::{cell, Cell, Header, Runnable, TaskRef};
use crate::task::id::RunningHere;
use crate::task::state::{Snapshot, ToIdle, ToRunning};
use crate::task::{waker, JoinError, Schedule};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// The type-erased entry points of the tasks of one (future, scheduler) pair.
pub(crate) struct Vtable {
    run: unsafe fn(NonNull<Header>) -> bool,
    cancel: unsafe fn(NonNull<Header>),
    schedule: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle: unsafe fn(NonNull<Header>, bool),
}

impl Vtable {
    /// The vtable of the tasks made of an `F` and an `S`.
    pub(super) fn of<F, S>() -> &'static Vtable
    where
        F: Future + 'static,
        F::Output: 'static,
        S: Schedule,
    {
        &Vtable {
            run: run::<F, S>,
            cancel: cancel::<F, S>,
            schedule: schedule::<F, S>,
            dealloc: dealloc::<F, S>,
            try_read_output: try_read_output::<F, S>,
            drop_join_handle: drop_join_handle::<F, S>,
        }
    }

    /// Polls the task once, or drops its future if it was cancelled. True if the task must be
    /// requeued: the caller then keeps the reference, as a new `Runnable`.
    ///
    /// # Safety
    /// `ptr` is the task whose header holds this vtable, and the caller holds its `Runnable`,
    /// whose reference passes to this call.
    pub(super) unsafe fn run(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { (self.run)(ptr) }
    }

    /// Drops the future and completes the task as cancelled.
    ///
    /// # Safety
    /// `ptr` is the task whose header holds this vtable; the caller owns its future (`RUNNING`
    /// set by it, with `CANCELLED`) and passes one reference, which this consumes.
    pub(super) unsafe fn cancel(&self, ptr: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.cancel)(ptr) }
    }

    /// Hands the task to its scheduler as a new `Runnable`.
    ///
    /// # Safety
    /// `ptr` is the task whose header holds this vtable, and the caller passes one reference,
    /// counted for the `Runnable` by the transition that set `SCHEDULED`.
    pub(super) unsafe fn schedule(&self, ptr: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.schedule)(ptr) }
    }

    /// Frees the task.
    ///
    /// # Safety
    /// `ptr` is the task whose header holds this vtable, and the caller dropped its last
    /// reference.
    pub(crate) unsafe fn dealloc(&self, ptr: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.dealloc)(ptr) }
    }

    /// Writes the output to `dst` if the task has completed; otherwise registers `waker` to be
    /// woken when it does.
    ///
    /// # Safety
    /// `ptr` is the task whose header holds this vtable, the caller is its `JoinHandle`, which
    /// has not read the output yet, and `dst` points at a `Poll<Result<T, JoinError>>` of the
    /// task's output type `T`.
    pub(crate) unsafe fn try_read_output(&self, ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.try_read_output)(ptr, dst, waker) }
    }

    /// Gives up the `JoinHandle`'s interest and reference, and drops the output unless the
    /// handle has read it (`output_read`).
    ///
    /// # Safety
    /// `ptr` is the task whose header holds this vtable, and the caller is its `JoinHandle`,
    /// being dropped.
    pub(crate) unsafe fn drop_join_handle(&self, ptr: NonNull<Header>, output_read: bool) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.drop_join_handle)(ptr, output_read) }
    }
}

/// # Safety
/// `ptr` is an (`F`, `S`) task, and the caller holds its `Runnable`.
unsafe fn run<F, S>(ptr: NonNull<Header>) -> bool
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: an (`F`, `S`) task; the `Runnable`'s reference keeps it allocated until that
    // reference is released or handed on below, after the last use of `cell`.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_running() == ToRunning::Cancel {
        // SAFETY: RUNNING is ours; the `Runnable`'s reference passes to `cancel`.
        unsafe { cancel::<F, S>(ptr) };
        return false;
    }
    let running = RunningHere::enter(ptr);
    // SAFETY: the `Runnable`'s reference lasts for the whole poll.
    let waker = unsafe { waker::borrowed(ptr) };
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: RUNNING gives exclusive access to the stage, and a task that is not complete
        // holds its future.
        unsafe { cell.poll_future(&mut cx) }
    }));
    let output = match polled {
        Ok(Poll::Pending) => {
            let woke_itself = running.leave();
            return match cell.header.state.transition_to_idle(woke_itself) {
                ToIdle::Idle => false,
                // The `Runnable` handed back keeps the runner's reference.
                ToIdle::Notified => cell
                    .scheduler
                    .requeue(Runnable { ptr })
                    .map(Runnable::into_raw)
                    .is_some(),
                ToIdle::IdleDealloc => {
                    // SAFETY: the runner's reference was the last.
                    unsafe { dealloc::<F, S>(ptr) };
                    false
                }
                ToIdle::Cancel => {
                    // SAFETY: RUNNING is still ours; the reference passes to `cancel`.
                    unsafe { cancel::<F, S>(ptr) };
                    false
                }
            };
        }
        Ok(Poll::Ready(output)) => Ok(output),
        Err(payload) => Err(JoinError::panic(payload)),
    };
    // SAFETY: RUNNING is ours.
    let output = match unsafe { drop_future(cell) } {
        Ok(()) => output,
        Err(payload) => Err(JoinError::panic(payload)),
    };
    // Before `complete` gives up the reference that keeps the task allocated.
    running.leave();
    // SAFETY: RUNNING is ours and the runner's reference passes to `complete`.
    unsafe { complete::<F, S>(ptr, output) };
    false
}

/// Drops the future in place, catching a panic from its destructor; the stage is empty
/// afterwards either way.
///
/// # Safety
/// The caller owns the future (`RUNNING`).
unsafe fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    // SAFETY: RUNNING gives exclusive access, and the future is still there.
    catch_unwind(AssertUnwindSafe(|| unsafe { cell.drop_future() }))
}

/// Drops a cancelled task's future and completes it with `JoinError::Cancelled` (or `Panic`, if
/// the future's destructor panicked).
///
/// # Safety
/// `ptr` is an (`F`, `S`) task; the caller owns its future (`RUNNING`, with `CANCELLED`) and
/// passes one reference.
unsafe fn cancel<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: an (`F`, `S`) task; the caller's reference keeps it allocated until it passes
    // to `complete`, after the last use of `cell`.
    let cell = unsafe { cell::<F, S>(ptr) };
    // The future's destructor runs as the task (`try_current_task_id`), until `complete`
    // gives up the reference.
    let running = RunningHere::enter(ptr);
    // SAFETY: RUNNING is the caller's.
    let output = match unsafe { drop_future(cell) } {
        Ok(()) => Err(JoinError::cancelled()),
        Err(payload) => Err(JoinError::panic(payload)),
    };
    running.leave();
    // SAFETY: RUNNING is the caller's, the stage is now empty, and the caller's reference
    // passes on.
    unsafe { complete::<F, S>(ptr, output) }
}

/// Stores the output, publishes `COMPLETE`, wakes the joiner, and releases the references.
///
/// The task leaves the registry first, so a shutdown sweep never meets it half complete. A
/// task whose `JoinHandle` is gone (a detached spawn) drops its output here, and completes and
/// releases its references in one atomic step: `JOIN_INTEREST` is never set again once clear,
/// so nobody can come to read the output or to wake.
///
/// # Safety
/// `ptr` is an (`F`, `S`) task; the caller owns its stage (`RUNNING`), which is already
/// empty, and passes one reference.
unsafe fn complete<F, S>(ptr: NonNull<Header>, output: Result<F::Output, JoinError>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: an (`F`, `S`) task; the caller's reference keeps it allocated until the
    // `ref_dec` at the end, and only the thread that takes the count to zero frees it.
    let cell = unsafe { cell::<F, S>(ptr) };
    let refs = 1 + usize::from(cell.scheduler.release(TaskRef(ptr)));
    if !cell.header.state.load().is_join_interested() {
        // Invariant 3 of the task module: nobody will read it.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            report_unread_panic(cell, &output);
            drop(output)
        }));
        if cell.header.state.transition_to_complete_and_release(refs) {
            // SAFETY: those were the last references.
            unsafe { dealloc::<F, S>(ptr) }
        }
        return;
    }
    // SAFETY: exclusive access (RUNNING), and the stage is empty.
    unsafe { cell.store_output(output) };
    let prev = cell.header.state.transition_to_complete();
    if !prev.is_join_interested() {
        // The handle was dropped after the check above: nobody will read it.
        // SAFETY: the handle is gone, so the completing thread keeps exclusive access.
        unsafe { drop_unread_output(cell) };
    } else if prev.is_join_waker_set() {
        cell.header.join_waker.with(|waker| {
            // SAFETY: JOIN_WAKER is set, so the handle does not write the field (invariant 4).
            let waker = unsafe { &*waker };
            // The joiner's waker may be anyone's code. Its panic must not unwind out of here:
            // the task would stay half-complete (JOIN_WAKER set, its references held for
            // good) and the worker would die. The panic hook has already reported it.
            let _ = catch_unwind(AssertUnwindSafe(|| waker.wake_by_ref()));
        });
        if !cell
            .header
            .state
            .unset_join_waker_after_complete()
            .is_join_interested()
        {
            // SAFETY: the handle was dropped while JOIN_WAKER was set: the waker is ours.
            cell.header
                .join_waker
                .with_mut(|waker| unsafe { (*waker).clear() });
        }
    }
    if cell.header.state.ref_dec(refs) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// Drops the stored output, which nobody read, reporting a panic in it. A panic from the
/// report (the user's hook) or from the output's destructor is caught: the caller still has
/// references to release.
///
/// # Safety
/// The caller has exclusive access to the stage (invariant 3 of the task module), and the
/// output is there.
#[inline]
unsafe fn drop_unread_output<F: Future, S: Schedule>(cell: &Cell<F, S>) {
    // SAFETY: the caller's exclusive access, to an output that is there.
    let output = unsafe { cell.take_output() };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        report_unread_panic(cell, &output);
        drop(output)
    }));
}

/// Tells the scheduler about a panic that nobody will read: the task's output is about to be
/// dropped unread (its handle was dropped, or is being dropped unawaited).
fn report_unread_panic<F: Future, S: Schedule>(
    cell: &Cell<F, S>,
    output: &Result<F::Output, JoinError>,
) {
    if let Err(error) = output {
        if error.is_panic() {
            cell.scheduler.unhandled_panic(&cell.header, error);
        }
    }
}

/// # Safety
/// `ptr` is an (`F`, `S`) task, and the caller passes one reference, which becomes the
/// `Runnable`'s.
unsafe fn schedule<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: an (`F`, `S`) task, kept allocated by the reference the `Runnable` takes over.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.schedule(Runnable { ptr });
}

/// # Safety
/// `ptr` is an (`F`, `S`) task, and the caller dropped its last reference.
unsafe fn dealloc<F, S>(ptr: NonNull<Header>)
where
    F: Future + 'static,
    S: Schedule,
{
    // loom cannot see a `Box` being freed: touch every cell mutably first, so that it checks
    // the deallocation happens after every other thread's last access to the task.
    #[cfg(loom)]
    {
        // SAFETY: an (`F`, `S`) task, not freed until the `Box` below is dropped.
        let cell = unsafe { cell::<F, S>(ptr) };
        cell.stage.with_mut(|_| ());
        cell.header.join_waker.with_mut(|_| ());
        cell.header.owned.with_mut(|_| ());
    }
    // SAFETY: no reference is left, so nothing else can reach the allocation; it was made by
    // `Box::new` in `new_task::<F, S>`.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) });
}

/// # Safety
/// `ptr` is an (`F`, `S`) task, the caller is its `JoinHandle`, which has not read the output
/// yet, and `dst` points at a `Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: an (`F`, `S`) task, kept allocated by the handle's reference for the call.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !can_read_output(&cell.header, waker) {
        return;
    }
    // SAFETY: COMPLETE with JOIN_INTEREST: the handle owns the stage (invariant 3), and the
    // output is there, as the handle has not read it (the caller's promise).
    let output = unsafe { cell.take_output() };
    // SAFETY: the caller's `dst` has this type.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(output) };
}

/// True once the output may be read; otherwise registers `waker` to be woken at completion.
/// Called by the `JoinHandle` only.
fn can_read_output(header: &Header, waker: &Waker) -> bool {
    let snapshot = header.state.load();
    if snapshot.is_complete() {
        return true;
    }
    let registered = if !snapshot.is_join_waker_set() {
        set_join_waker(header, waker.clone())
    } else {
        let same = header.join_waker.with(|current| {
            // SAFETY: JOIN_WAKER is set: reading is shared with the completing thread.
            unsafe { &*current }.will_wake(waker)
        });
        if same {
            return false;
        }
        header
            .state
            .unset_join_waker()
            .and_then(|_| set_join_waker(header, waker.clone()))
    };
    match registered {
        Ok(_) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

/// Publishes the `JoinHandle`'s waker. Called by the handle only, with `JOIN_WAKER` unset.
fn set_join_waker(header: &Header, waker: Waker) -> Result<Snapshot, Snapshot> {
    // SAFETY: JOIN_WAKER is unset and the caller is the handle: exclusive access (invariant 4).
    header
        .join_waker
        .with_mut(|slot| unsafe { (*slot).set(waker) });
    let result = header.state.set_join_waker();
    if result.is_err() {
        // SAFETY: publishing failed, so the field is still the handle's alone.
        header
            .join_waker
            .with_mut(|slot| unsafe { (*slot).clear() });
    }
    result
}

/// # Safety
/// `ptr` is an (`F`, `S`) task, and the caller is its `JoinHandle`, being dropped; its
/// reference is released here. `output_read`: the handle has read the output.
unsafe fn drop_join_handle<F, S>(ptr: NonNull<Header>, output_read: bool)
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: an (`F`, `S`) task; the handle's reference keeps it allocated until the
    // `ref_dec` at the end.
    let cell = unsafe { cell::<F, S>(ptr) };
    let cleanup = cell.header.state.transition_to_join_handle_dropped();
    if cleanup.released {
        if cleanup.dealloc {
            // SAFETY: the transition released the last reference.
            unsafe { dealloc::<F, S>(ptr) }
        }
        return;
    }
    if cleanup.drop_output && !output_read {
        // SAFETY: complete, with the handle's interest: the handle owns the stage, and the
        // output it did not read is there.
        unsafe { drop_unread_output(cell) };
    }
    if cleanup.drop_waker {
        // SAFETY: JOIN_WAKER is unset: the field is the handle's.
        cell.header
            .join_waker
            .with_mut(|slot| unsafe { (*slot).clear() });
    }
    if cell.header.state.ref_dec(1) {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) }
    }
}
