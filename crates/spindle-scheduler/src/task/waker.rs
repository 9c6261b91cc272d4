//! The `RawWaker` over a task: its data pointer is the task's header, and every operation is
//! a state-word transition. Nothing here allocates.
//!
//! Every waker made with [`VTABLE`] keeps its task allocated while it lives: a cloned waker by
//! its own counted reference, the runner's [`borrowed`] waker by the runner's. The vtable's
//! functions rely on that, which is std's contract for them: they are only called on a live
//! waker made with this vtable.
//!
//! [`JoinWaker`] keeps a `JoinHandle`'s waker in one word: a task's waker (the usual joiner is
//! another task) as its data pointer alone, since its vtable is known, any other waker boxed.

use super::raw::{header, wake_by_ref, wake_by_val, Header};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_ref, drop_waker);

/// A `JoinHandle`'s waker, or none, in one word (a task header holds one, so a word saved here
/// is saved on every task). Null when empty; a task waker's data pointer, which carries the
/// waker's counted reference; or a `Box<Waker>` for any other waker, tagged with [`BOXED`] in
/// its low bit (a box of a `Waker` is word-aligned, so the bit is free).
pub(crate) struct JoinWaker(*const ());

const BOXED: usize = 1;

// SAFETY: a `JoinWaker` owns either a `Waker` (which is `Send` and `Sync`) or, as a bare
// pointer, what a task waker is: a counted reference to a task, whose operations are atomics.
unsafe impl Send for JoinWaker {}
// SAFETY: as above; through `&JoinWaker` the waker is only woken by reference or compared.
unsafe impl Sync for JoinWaker {}

impl JoinWaker {
    pub(crate) const fn empty() -> JoinWaker {
        JoinWaker(std::ptr::null())
    }

    /// Replaces the waker with `waker`.
    #[inline]
    pub(crate) fn set(&mut self, waker: Waker) {
        self.clear();
        self.0 = if std::ptr::eq(waker.vtable(), &VTABLE) {
            // The waker's reference passes to the slot; `clear` releases it.
            ManuallyDrop::new(waker).data()
        } else {
            Box::into_raw(Box::new(waker))
                .cast_const()
                .cast::<()>()
                .map_addr(|addr| addr | BOXED)
        };
    }

    /// Wakes the waker, if there is one, without dropping it. A task's waker is woken by a
    /// direct call, not through its vtable.
    #[inline]
    pub(crate) fn wake_by_ref(&self) {
        if let Some(waker) = self.boxed() {
            waker.wake_by_ref();
        } else if let Some(task) = NonNull::new(self.0.cast_mut().cast::<Header>()) {
            // SAFETY: an untagged pointer is a task waker's data pointer, whose reference this
            // slot holds: the task is allocated for the call.
            unsafe { wake_by_ref(task) }
        }
    }

    /// True if waking the slot's waker would wake the same task as `waker`.
    #[inline]
    pub(crate) fn will_wake(&self, waker: &Waker) -> bool {
        match self.boxed() {
            Some(boxed) => boxed.will_wake(waker),
            None => {
                !self.0.is_null()
                    && std::ptr::eq(waker.vtable(), &VTABLE)
                    && std::ptr::eq(waker.data(), self.0)
            }
        }
    }

    /// The waker, if the slot holds a boxed one.
    fn boxed(&self) -> Option<&Waker> {
        if self.0.addr() & BOXED == 0 {
            return None;
        }
        // SAFETY: a tagged pointer is a `Box<Waker>` that this slot owns.
        Some(unsafe { &*self.0.map_addr(|addr| addr & !BOXED).cast::<Waker>() })
    }

    /// Drops the waker, if there is one.
    #[inline]
    pub(crate) fn clear(&mut self) {
        let ptr = std::mem::replace(&mut self.0, std::ptr::null());
        if ptr.is_null() {
            return;
        }
        if ptr.addr() & BOXED != 0 {
            // SAFETY: a tagged pointer is a `Box<Waker>` that this slot owned and now gives up.
            drop(unsafe {
                Box::from_raw(
                    ptr.map_addr(|addr| addr & !BOXED)
                        .cast::<Waker>()
                        .cast_mut(),
                )
            });
        } else {
            // SAFETY: an untagged pointer is a task waker's data pointer with its reference,
            // which this slot owned and now gives up: rebuilding the waker and dropping it
            // releases that reference.
            drop(unsafe { Waker::from_raw(RawWaker::new(ptr, &VTABLE)) });
        }
    }
}

impl Drop for JoinWaker {
    fn drop(&mut self) {
        self.clear();
    }
}

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
