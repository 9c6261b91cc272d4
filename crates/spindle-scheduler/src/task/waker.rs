//! The `RawWaker` over a task: its data pointer is the task's header, and every operation is
//! a state-word transition. Nothing here allocates.

use super::raw::{header, wake_by_ref, wake_by_val, Header};
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_ref, drop_waker);

fn ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: every RawWaker with this vtable was built from a task header pointer.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

/// A waker that borrows the runner's reference: the caller must not drop it (wrap it in
/// `ManuallyDrop`), and must keep the task referenced while it is in use.
pub(super) fn borrowed(task: NonNull<Header>) -> Waker {
    let raw = RawWaker::new(task.as_ptr() as *const (), &VTABLE);
    // SAFETY: the vtable's contract holds for a live task pointer: clone counts a reference,
    // wake consumes one, drop releases one.
    unsafe { Waker::from_raw(raw) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    header(ptr(data)).state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    wake_by_val(ptr(data));
}

unsafe fn wake_ref(data: *const ()) {
    wake_by_ref(ptr(data));
}

unsafe fn drop_waker(data: *const ()) {
    let task = ptr(data);
    let header = header(task);
    if header.state.ref_dec(1) {
        // SAFETY: that was the last reference.
        unsafe { header.vtable().dealloc(task) }
    }
}
