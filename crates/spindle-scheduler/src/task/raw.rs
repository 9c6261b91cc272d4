//! The task allocation and the type-erased functions that operate on it.
//!
//! Everything here works on a `NonNull<Header>`; the vtable, made once per (future, scheduler)
//! type pair, recovers the concrete [`Cell`]. This is the crate's unsafe core: each function
//! states which reference or ownership bit its caller holds.

use super::state::{Notify, State, ToIdle, ToRunning};
use super::{JoinError, JoinHandle, Schedule};
use crate::loom::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};

/// The type-independent head of every task allocation.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    /// The owned-task registry's links; guarded by the registry shard's lock.
    pub(crate) owned: UnsafeCell<OwnedLinks>,
    /// Written by the `JoinHandle` per invariant 4 of the module doc.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

/// Links of the registry's intrusive doubly linked list.
pub(crate) struct OwnedLinks {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
}

pub(crate) struct Vtable {
    /// Caller holds a `Runnable`. Returns true if the task must be requeued (the caller keeps
    /// the reference as a new `Runnable`).
    run: unsafe fn(NonNull<Header>) -> bool,
    /// Caller owns the future (`RUNNING` set by it, with `CANCELLED`) and one reference, which
    /// this consumes.
    cancel: unsafe fn(NonNull<Header>),
    /// Caller holds one reference, which becomes the new `Runnable`'s.
    schedule: unsafe fn(NonNull<Header>),
    /// Caller dropped the last reference.
    dealloc: unsafe fn(NonNull<Header>),
    /// Caller is the `JoinHandle`; `dst` points at a `Poll<Result<T, JoinError>>`.
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Caller is the `JoinHandle`, being dropped.
    drop_join_handle: unsafe fn(NonNull<Header>),
}

/// The whole allocation. `repr(C)` keeps the header at offset 0, so a `NonNull<Header>` and a
/// `NonNull<Cell<F, S>>` are the same pointer.
#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// Permission to poll a task once. Holds one reference.
pub(crate) struct Runnable {
    ptr: NonNull<Header>,
}

// SAFETY: a `Runnable` is the unique right to touch the future (invariant 1), and the future is
// `Send` (required by `new_task`), so the right may move between threads.
unsafe impl Send for Runnable {}

/// A counted reference held by the owned-task registry, without `Drop`: the registry releases
/// it explicitly through [`TaskRef::shutdown`] or [`TaskRef::drop_ref`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a `TaskRef` only reaches the header's atomics and the registry links, which the
// registry guards with its shard lock.
unsafe impl Send for TaskRef {}

/// Allocates a task. Returns its first `Runnable`, its `JoinHandle`, and the registry's
/// reference (three references in all).
pub(crate) fn new_task<F, S>(future: F, scheduler: S) -> (Runnable, JoinHandle<F::Output>, TaskRef)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(3),
            vtable: vtable::<F, S>(),
            owned: UnsafeCell::new(OwnedLinks {
                prev: None,
                next: None,
            }),
            join_waker: UnsafeCell::new(None),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    // SAFETY: the three references were counted by `State::new(3)`.
    unsafe { (Runnable { ptr }, JoinHandle::from_raw(ptr), TaskRef(ptr)) }
}

fn vtable<F, S>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
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

impl Header {
    pub(crate) fn vtable(&self) -> &'static Vtable {
        self.vtable
    }
}

impl Vtable {
    /// # Safety
    /// The caller dropped the last reference to `ptr`'s task.
    pub(crate) unsafe fn dealloc(&self, ptr: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.dealloc)(ptr) }
    }

    /// # Safety
    /// The caller is `ptr`'s `JoinHandle`; `dst` points at a `Poll<Result<T, JoinError>>` of
    /// the task's output type.
    pub(crate) unsafe fn try_read_output(&self, ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.try_read_output)(ptr, dst, waker) }
    }

    /// # Safety
    /// The caller is `ptr`'s `JoinHandle`, being dropped.
    pub(crate) unsafe fn drop_join_handle(&self, ptr: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.drop_join_handle)(ptr) }
    }
}

impl Runnable {
    /// Polls the task once (or drops its future if it was cancelled). Returns the task back if
    /// it was woken during the poll and must run again.
    pub(crate) fn run(self) -> Option<Runnable> {
        let this = ManuallyDrop::new(self);
        let ptr = this.ptr;
        // SAFETY: `this` is a `Runnable`, the precondition of `run`; its reference passes to it.
        let requeue = unsafe { (header(ptr).vtable.run)(ptr) };
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
        let header = header(self.ptr);
        header.state.transition_to_running_cancelled();
        // SAFETY: the transition gave this thread the future; the `Runnable`'s reference passes
        // to `cancel`.
        unsafe { (header.vtable.cancel)(self.ptr) }
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
        let header = header(self.0);
        if header.state.ref_dec(1) {
            // SAFETY: that was the last reference.
            unsafe { (header.vtable.dealloc)(self.0) }
        }
    }

    /// Shutdown sweep: drops the future of an idle task here, or flags a busy one so that its
    /// holder does. Consumes the registry's reference.
    pub(crate) fn shutdown(self) {
        let header = header(self.0);
        match header.state.transition_to_shutdown() {
            // SAFETY: the transition gave this thread the future; the registry's reference
            // passes to `cancel`.
            super::state::ToShutdown::Claimed => unsafe { (header.vtable.cancel)(self.0) },
            super::state::ToShutdown::Flagged => self.drop_ref(),
        }
    }
}

/// The header behind a live task pointer.
pub(crate) fn header<'a>(ptr: NonNull<Header>) -> &'a Header {
    // SAFETY: every caller holds a reference to the task, so the allocation is live, and the
    // header is only accessed through shared references.
    unsafe { ptr.as_ref() }
}

fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: `ptr` was made by `new_task::<F, S>` (the vtable that led here is that pair's),
    // the header is the first field of the `repr(C)` cell, and the caller holds a reference.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// # Safety
/// The caller holds a `Runnable` for `ptr`.
unsafe fn run<F, S>(ptr: NonNull<Header>) -> bool
where
    F: Future + Send + 'static,
    S: Schedule,
{
    let cell = cell::<F, S>(ptr);
    if cell.header.state.transition_to_running() == ToRunning::Cancel {
        // SAFETY: RUNNING is ours; the `Runnable`'s reference passes to `cancel`.
        unsafe { cancel::<F, S>(ptr) };
        return false;
    }
    let waker = ManuallyDrop::new(super::waker::borrowed(ptr));
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives exclusive access to the stage.
            match unsafe { &mut *stage } {
                Stage::Running(future) => {
                    // SAFETY: the future is never moved out of the allocation while in
                    // `Stage::Running` (it is dropped in place), so pinning it is sound.
                    unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
                }
                _ => unreachable!("a runnable task always holds its future"),
            }
        })
    }));
    let output = match polled {
        Ok(Poll::Pending) => {
            return match cell.header.state.transition_to_idle() {
                ToIdle::Idle => false,
                ToIdle::Notified => true,
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
    // SAFETY: RUNNING is ours and the runner's reference passes to `complete`.
    unsafe { complete::<F, S>(ptr, output) };
    false
}

/// Drops the future in place and marks the stage consumed, even if the drop panics.
///
/// # Safety
/// The caller owns the future (`RUNNING`).
unsafe fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    struct MarkConsumed<F: Future>(*mut Stage<F>);
    impl<F: Future> Drop for MarkConsumed<F> {
        fn drop(&mut self) {
            // SAFETY: the old stage was just dropped in place (or its drop unwound, which also
            // ends its life); writing without dropping it again is what is wanted.
            unsafe { ptr::write(self.0, Stage::Consumed) }
        }
    }
    cell.stage.with_mut(|stage| {
        catch_unwind(AssertUnwindSafe(|| {
            let _mark = MarkConsumed(stage);
            // SAFETY: exclusive access (RUNNING); `_mark` rewrites the slot afterwards.
            unsafe { ptr::drop_in_place(stage) }
        }))
    })
}

/// Drops a cancelled task's future and completes it with `JoinError::Cancelled` (or `Panic`, if
/// the future's destructor panicked).
///
/// # Safety
/// The caller owns the future (`RUNNING`, with `CANCELLED`) and passes one reference.
unsafe fn cancel<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    S: Schedule,
{
    let cell = cell::<F, S>(ptr);
    // SAFETY: forwarded from the caller.
    let output = match unsafe { drop_future(cell) } {
        Ok(()) => Err(JoinError::cancelled()),
        Err(payload) => Err(JoinError::panic(payload)),
    };
    // SAFETY: forwarded from the caller.
    unsafe { complete::<F, S>(ptr, output) }
}

/// Stores the output, publishes `COMPLETE`, wakes the joiner, and releases the references.
///
/// Takes the task as a pointer, not as a `&Cell`: it may free the cell before returning, and a
/// reference argument must stay valid for the whole call (Miri reports freeing it as UB).
///
/// # Safety
/// The caller owns the future slot (`RUNNING`), which is already `Consumed`, and passes one
/// reference.
unsafe fn complete<F, S>(ptr: NonNull<Header>, output: Result<F::Output, JoinError>)
where
    F: Future + Send + 'static,
    S: Schedule,
{
    let cell = cell::<F, S>(ptr);
    // SAFETY: exclusive access (RUNNING); the slot is `Consumed`, so nothing is leaked.
    cell.stage
        .with_mut(|stage| unsafe { ptr::write(stage, Stage::Finished(output)) });
    let prev = cell.header.state.transition_to_complete();
    if !prev.is_join_interested() {
        // Invariant 3: nobody will read it.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the handle is gone, so the completing thread keeps exclusive access.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed })
        }));
    } else if prev.is_join_waker_set() {
        cell.header.join_waker.with(|waker| {
            // SAFETY: JOIN_WAKER is set, so the handle does not write the field (invariant 4).
            if let Some(waker) = unsafe { &*waker } {
                // The joiner's waker may be anyone's code. Its panic must not unwind out of
                // here: the task would stay half-complete (JOIN_WAKER set, its references
                // and its registry entry held for good) and the worker would die. The panic
                // hook has already reported it.
                let _ = catch_unwind(AssertUnwindSafe(|| waker.wake_by_ref()));
            }
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
                .with_mut(|waker| unsafe { *waker = None });
        }
    }
    let registry_ref = cell.scheduler.release(TaskRef(ptr));
    if cell.header.state.ref_dec(1 + usize::from(registry_ref)) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// # Safety
/// The caller holds one reference, which becomes the `Runnable`'s.
unsafe fn schedule<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    S: Schedule,
{
    cell::<F, S>(ptr).scheduler.schedule(Runnable { ptr });
}

/// # Safety
/// The caller dropped the last reference.
unsafe fn dealloc<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    S: Schedule,
{
    // loom cannot see a `Box` being freed: touch every cell mutably first, so that it checks
    // the deallocation happens after every other thread's last access to the task.
    #[cfg(loom)]
    {
        let cell = cell::<F, S>(ptr);
        cell.stage.with_mut(|_| ());
        cell.header.join_waker.with_mut(|_| ());
        cell.header.owned.with_mut(|_| ());
    }
    // SAFETY: no reference is left, so nothing else can reach the allocation; it was made by
    // `Box::new` in `new_task::<F, S>`.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) });
}

/// # Safety
/// The caller is the task's `JoinHandle`; `dst` points at a `Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker)
where
    F: Future + Send + 'static,
    S: Schedule,
{
    let cell = cell::<F, S>(ptr);
    if !can_read_output(&cell.header, waker) {
        return;
    }
    let output = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE with JOIN_INTEREST: the handle owns the stage (invariant 3).
        match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
            Stage::Finished(output) => output,
            _ => panic!("JoinHandle polled after it returned Ready"),
        }
    });
    // SAFETY: the caller's `dst` has this type.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(output) };
}

/// True once the output may be read; otherwise registers `waker` to be woken at completion.
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
            unsafe { &*current }
                .as_ref()
                .is_some_and(|w| w.will_wake(waker))
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

fn set_join_waker(
    header: &Header,
    waker: Waker,
) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is unset and the caller is the handle: exclusive access (invariant 4).
    header
        .join_waker
        .with_mut(|slot| unsafe { *slot = Some(waker) });
    let result = header.state.set_join_waker();
    if result.is_err() {
        // SAFETY: publishing failed, so the field is still the handle's alone.
        header.join_waker.with_mut(|slot| unsafe { *slot = None });
    }
    result
}

/// # Safety
/// The caller is the task's `JoinHandle`, being dropped; its reference is released here.
unsafe fn drop_join_handle<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    S: Schedule,
{
    let cell = cell::<F, S>(ptr);
    let cleanup = cell.header.state.transition_to_join_handle_dropped();
    if cleanup.drop_output {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: complete, with the handle's interest: the handle owns the stage.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed })
        }));
    }
    if cleanup.drop_waker {
        // SAFETY: JOIN_WAKER is unset: the field is the handle's.
        cell.header
            .join_waker
            .with_mut(|slot| unsafe { *slot = None });
    }
    if cell.header.state.ref_dec(1) {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// A woken task: idle -> scheduled, and hand the new `Runnable` to the scheduler.
pub(crate) fn wake_by_ref(ptr: NonNull<Header>) {
    let header = header(ptr);
    if header.state.transition_to_notified_by_ref() == Notify::Submit {
        // SAFETY: the transition counted a new reference for the `Runnable`.
        unsafe { (header.vtable.schedule)(ptr) }
    }
}

/// Like [`wake_by_ref`], consuming the caller's reference.
pub(crate) fn wake_by_val(ptr: NonNull<Header>) {
    let header = header(ptr);
    match header.state.transition_to_notified_by_val() {
        // SAFETY: the caller's reference becomes the `Runnable`'s.
        Notify::Submit => unsafe { (header.vtable.schedule)(ptr) },
        // SAFETY: the caller's reference was the last.
        Notify::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
        Notify::Nothing => {}
    }
}

/// `JoinHandle::abort`.
pub(crate) fn abort(ptr: NonNull<Header>) {
    let header = header(ptr);
    if header.state.transition_to_notified_and_cancel() == Notify::Submit {
        // SAFETY: the transition counted a new reference for the `Runnable`.
        unsafe { (header.vtable.schedule)(ptr) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    /// Counts the drops of the [`Tracked`] values made from it.
    #[derive(Clone, Default)]
    struct DropCount(Arc<AtomicUsize>);

    impl DropCount {
        fn tracked(&self) -> Tracked {
            Tracked(self.clone())
        }
        fn get(&self) -> usize {
            self.0.load(SeqCst)
        }
    }

    struct Tracked(DropCount);

    impl Drop for Tracked {
        fn drop(&mut self) {
            (self.0).0.fetch_add(1, SeqCst);
        }
    }

    /// A scheduler that is never asked to schedule, and holds no registry. It lives in the
    /// task allocation, so it is dropped when the allocation is freed.
    struct Unscheduled {
        _allocation: Tracked,
    }

    impl Schedule for Unscheduled {
        fn schedule(&self, _task: Runnable) {
            unreachable!("nothing wakes these tasks");
        }
        fn release(&self, _task: TaskRef) -> bool {
            false
        }
    }

    /// A future that completes on its first poll with a new [`Tracked`] output.
    struct ReadyAtOnce {
        _future: Tracked,
        outputs: DropCount,
    }

    impl Future for ReadyAtOnce {
        type Output = Tracked;
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Tracked> {
            Poll::Ready(self.outputs.tracked())
        }
    }

    /// How many times a task's future, its output and its allocation were dropped.
    #[derive(Debug, PartialEq)]
    struct Drops {
        future: usize,
        output: usize,
        allocation: usize,
    }

    /// Counts the drops of one task's future, output and allocation.
    #[derive(Default)]
    struct TaskDropCounts {
        future: DropCount,
        output: DropCount,
        allocation: DropCount,
    }

    impl TaskDropCounts {
        /// A detached task (no handle, no registry, no waker): only its `Runnable` is left.
        fn detached_task(&self) -> Runnable {
            let future = ReadyAtOnce {
                _future: self.future.tracked(),
                outputs: self.output.clone(),
            };
            let scheduler = Unscheduled {
                _allocation: self.allocation.tracked(),
            };
            let (runnable, handle, registered) = new_task(future, scheduler);
            registered.drop_ref();
            drop(handle);
            assert_eq!(header(runnable.ptr).state.load().ref_count(), 1);
            assert_eq!(self.drops(), drops(0, 0, 0));
            runnable
        }

        fn drops(&self) -> Drops {
            drops(self.future.get(), self.output.get(), self.allocation.get())
        }
    }

    fn drops(future: usize, output: usize, allocation: usize) -> Drops {
        Drops {
            future,
            output,
            allocation,
        }
    }

    /// A detached task is freed inside `complete`, by its runner, which also drops the
    /// future and the output nobody will read. Under Miri this caught `complete` freeing the
    /// cell while a `&Cell` argument was still live.
    #[test]
    fn detached_task_is_freed_by_its_completion() {
        let counts = TaskDropCounts::default();
        let runnable = counts.detached_task();
        assert!(runnable.run().is_none());
        assert_eq!(counts.drops(), drops(1, 1, 1));
    }

    /// The same, on the cancellation path: a detached task's `Runnable` dropped unrun drops
    /// the future, never polled, so there is no output.
    #[test]
    fn detached_task_is_freed_by_its_cancellation() {
        let counts = TaskDropCounts::default();
        let runnable = counts.detached_task();
        drop(runnable);
        assert_eq!(counts.drops(), drops(1, 0, 1));
    }
}

#[cfg(all(test, not(loom)))]
mod size_tests {
    use super::*;

    /// One pointer, like the runtime's `Arc<Shared>`.
    struct NoScheduler(#[allow(dead_code)] std::sync::Arc<()>);
    impl Schedule for NoScheduler {
        fn schedule(&self, _task: Runnable) {}
        fn release(&self, _task: TaskRef) -> bool {
            false
        }
    }

    /// A task parked on a small future (the idle-task memory benchmark's) stays small: every
    /// byte here is paid per task by a program holding a million of them.
    #[test]
    fn an_idle_task_allocation_stays_small() {
        fn cell_size<F: Future>(_: &F) -> usize {
            std::mem::size_of::<Cell<F, NoScheduler>>()
        }
        let future = async { std::future::pending::<()>().await };
        println!("header {} bytes", std::mem::size_of::<Header>());
        println!("idle task cell {} bytes", cell_size(&future));
        // 72 bytes is a 80-byte malloc chunk: header 48, scheduler 8, stage 16.
        assert!(cell_size(&future) <= 72, "{}", cell_size(&future));
    }
}
