//! The `RawWaker` over a task: its data pointer is the task's header, and every operation is
//! a state-word transition. Nothing here allocates.
//!
//! Every waker made with [`VTABLE`] keeps its task allocated while it lives: a cloned waker by
//! its own counted reference, the runner's [`borrowed`] waker by the runner's. The vtable's
//! functions rely on that, which is std's contract for them: they are only called on a live
//! waker made with this vtable.
//!
//! [`JoinWaker`] keeps a `JoinHandle`'s waker in one word: a task's waker (the usual joiner is
//! another task) as its data pointer alone, since its vtable is known; the two wakers a
//! `block_on` polls its future with (a thread waker, and a caller-run worker's) as their data
//! pointer with a tag that names their vtable; any other waker boxed.

use super::raw::{header, wake_by_ref, wake_by_val, Header};
use crate::worker::CALLER_WAKER_VTABLE;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_ref, drop_waker);

/// A `JoinHandle`'s waker, or none, in one word (a task header holds one, so a word saved here
/// is saved on every task). Null when empty; a task waker's data pointer, which carries the
/// waker's counted reference; the data pointer of a waker with a [known vtable](known),
/// tagged with its [`Tag`] in the low bits; or a `Box<Waker>` for any other waker, tagged
/// [`BOXED`]. Every one of these pointers is aligned to at least 4 (a task header, an `Arc`'s
/// allocation, a box of a `Waker`), so the two low bits are free.
pub(crate) struct JoinWaker(*const ());

/// The low bits of a [`JoinWaker`]'s pointer: what it points at.
type Tag = usize;
const TAG_MASK: Tag = 0b11;
const TASK: Tag = 0;
const BOXED: Tag = 1;
const THREAD: Tag = 2;
const CALLER: Tag = 3;

/// The vtable of the wakers kept under `tag`, for the two tags of known vtables.
fn known(tag: Tag) -> &'static RawWakerVTable {
    match tag {
        THREAD => spindle_core::thread_waker_vtable(),
        _ => &CALLER_WAKER_VTABLE,
    }
}

// SAFETY: a `JoinWaker` owns either a `Waker` (which is `Send` and `Sync`), boxed or as its
// data pointer with a known vtable, or, as a bare pointer, what a task waker is: a counted
// reference to a task, whose operations are atomics.
unsafe impl Send for JoinWaker {}
// SAFETY: as above; through `&JoinWaker` the waker is only woken by reference or compared.
unsafe impl Sync for JoinWaker {}

impl JoinWaker {
    pub(crate) const fn empty() -> JoinWaker {
        JoinWaker(std::ptr::null())
    }

    fn tag(&self) -> Tag {
        self.0.addr() & TAG_MASK
    }

    fn untagged(&self) -> *const () {
        self.0.map_addr(|addr| addr & !TAG_MASK)
    }

    /// Replaces the waker with `waker`.
    #[inline]
    pub(crate) fn set(&mut self, waker: Waker) {
        self.clear();
        let vtable = waker.vtable();
        let tag = if std::ptr::eq(vtable, &VTABLE) {
            TASK
        } else if std::ptr::eq(vtable, known(THREAD)) {
            THREAD
        } else if std::ptr::eq(vtable, known(CALLER)) {
            CALLER
        } else {
            BOXED
        };
        self.0 = if tag == BOXED {
            Box::into_raw(Box::new(waker))
                .cast_const()
                .cast::<()>()
                .map_addr(|addr| addr | BOXED)
        } else {
            // The waker's reference passes to the slot; `clear` releases it.
            let data = ManuallyDrop::new(waker).data();
            debug_assert_eq!(data.addr() & TAG_MASK, 0);
            data.map_addr(|addr| addr | tag)
        };
    }

    /// The waker of a known vtable, rebuilt from its data pointer, not to be dropped.
    fn known_waker(&self) -> Option<ManuallyDrop<Waker>> {
        let tag = self.tag();
        if tag != THREAD && tag != CALLER {
            return None;
        }
        // SAFETY: a pointer tagged with a known vtable's tag is the data pointer of a waker
        // made with that vtable, whose reference this slot holds; the `ManuallyDrop` keeps
        // that reference with the slot.
        Some(ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(self.untagged(), known(tag)))
        }))
    }

    /// Wakes the waker, if there is one, without dropping it. A task's waker is woken by a
    /// direct call, not through its vtable.
    #[inline]
    pub(crate) fn wake_by_ref(&self) {
        if let Some(waker) = self.boxed() {
            waker.wake_by_ref();
        } else if let Some(waker) = self.known_waker() {
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
        if let Some(boxed) = self.boxed() {
            return boxed.will_wake(waker);
        }
        if let Some(known) = self.known_waker() {
            return known.will_wake(waker);
        }
        !self.0.is_null()
            && std::ptr::eq(waker.vtable(), &VTABLE)
            && std::ptr::eq(waker.data(), self.0)
    }

    /// The waker, if the slot holds a boxed one.
    fn boxed(&self) -> Option<&Waker> {
        if self.tag() != BOXED {
            return None;
        }
        // SAFETY: a pointer tagged `BOXED` is a `Box<Waker>` that this slot owns.
        Some(unsafe { &*self.untagged().cast::<Waker>() })
    }

    /// Drops the waker, if there is one.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if self.0.is_null() {
            return;
        }
        let tag = self.tag();
        let ptr =
            std::mem::replace(&mut self.0, std::ptr::null()).map_addr(|addr| addr & !TAG_MASK);
        match tag {
            // SAFETY: a pointer tagged `BOXED` is a `Box<Waker>` that this slot owned and now
            // gives up.
            BOXED => drop(unsafe { Box::from_raw(ptr.cast::<Waker>().cast_mut()) }),
            // SAFETY: an untagged pointer is a task waker's data pointer with its reference,
            // which this slot owned and now gives up: rebuilding the waker and dropping it
            // releases that reference. A tagged one is a known vtable's, the same way.
            TASK => drop(unsafe { Waker::from_raw(RawWaker::new(ptr, &VTABLE)) }),
            // SAFETY: as for a task waker, with the vtable its tag names.
            known_tag => drop(unsafe { Waker::from_raw(RawWaker::new(ptr, known(known_tag))) }),
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    /// Counts its wakes; any waker std builds from an `Arc`, so the slot boxes it.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_thread_waker_is_kept_unboxed_woken_and_released() {
        let waker = spindle_core::thread_waker(std::thread::current());
        let mut slot = JoinWaker::empty();
        slot.set(waker.clone());
        assert_eq!(slot.tag(), THREAD);
        assert!(slot.will_wake(&waker));
        slot.wake_by_ref();
        // The wake left a token: this returns at once.
        std::thread::park();
        slot.clear();
        assert!(slot.0.is_null());
        // Only `waker` holds the thread now: a clone and a drop balance (Miri checks leaks).
        drop(waker);
    }

    #[test]
    fn another_waker_is_boxed_and_woken() {
        let counting = Arc::new(Counting(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(counting.clone());
        let mut slot = JoinWaker::empty();
        slot.set(waker.clone());
        assert_eq!(slot.tag(), BOXED);
        slot.wake_by_ref();
        slot.wake_by_ref();
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Replacing it drops the box and its waker.
        slot.set(spindle_core::thread_waker(std::thread::current()));
        assert_eq!(Arc::strong_count(&counting), 2);
        assert!(!slot.will_wake(&waker));
    }
}
