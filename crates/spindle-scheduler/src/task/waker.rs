//! The `RawWaker` over a task: its data pointer is the task's header, and every operation is
//! a state-word transition. Nothing here allocates.
//!
//! Every waker made with [`VTABLE`] keeps its task allocated while it lives: a cloned waker by
//! its own counted reference, the runner's [`borrowed`] waker by the runner's. The vtable's
//! functions rely on that, which is std's contract for them: they are only called on a live
//! waker made with this vtable.

use super::raw::{header, wake_by_ref, wake_by_val, Header};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_ref, drop_waker);

/// The task behind a waker's data pointer.
///
/// # Safety
/// `data` is the data pointer of a `RawWaker` made with [`VTABLE`]: a task's header pointer,
/// so not null.
unsafe fn task(data: *const ()) -> NonNull<Header> {
    // SAFETY: a header pointer is never null (the caller's promise).
    unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) }
}

/// A waker that borrows the runner's reference, so it must not be dropped: it comes wrapped in
/// `ManuallyDrop`. Its clones count references of their own.
///
/// # Safety
/// `task` is a task pointer, and the caller holds one of its counted references for as long as
/// the returned waker is used.
pub(super) unsafe fn borrowed(task: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(task.as_ptr().cast_const().cast::<()>(), &VTABLE);
    // SAFETY: the vtable's contract holds for a referenced task: clone counts a reference,
    // wake consumes one, drop releases one, and the caller never drops this waker.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live waker's (std's contract), so a task pointer whose task the
    // waker keeps allocated for this call.
    let header = unsafe { header(task(data)) };
    header.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is a live waker's (std's contract), which gives up its reference here.
    unsafe { wake_by_val(task(data)) }
}

unsafe fn wake_ref(data: *const ()) {
    // SAFETY: `data` is a live waker's (std's contract), which keeps the task allocated for
    // this call.
    unsafe { wake_by_ref(task(data)) }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: `data` is a live waker's (std's contract), so a task pointer.
    let task = unsafe { task(data) };
    // SAFETY: the waker's reference keeps the task allocated until the `ref_dec` below.
    let header = unsafe { header(task) };
    let vtable = header.vtable();
    if header.state.ref_dec(1) {
        // SAFETY: that was the last reference; the vtable is the task's own.
        unsafe { vtable.dealloc(task) }
    }
}
