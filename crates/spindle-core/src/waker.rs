//! A waker that unparks a thread: what a `block_on` that parks its thread between polls
//! needs.
//!
//! Its vtable is one static ([`thread_waker_vtable`]), so that a scheduler can recognize such
//! a waker and keep it in one word, as its data pointer, where it would otherwise box it (a
//! task's join waker: the future given to `block_on` often awaits a task).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};
use std::thread::Thread;

static THREAD_WAKER: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// Wakes by unparking `thread` (std's per-thread token: a wake before the park is not lost).
///
/// ```
/// use std::future::Future;
/// use std::task::{Context, Poll};
///
/// // A minimal block_on: poll, park until woken, poll again.
/// let waker = spindle_core::thread_waker(std::thread::current());
/// let mut cx = Context::from_waker(&waker);
/// let mut future = std::pin::pin!(async { 7 });
/// let out = loop {
///     if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
///         break out;
///     }
///     std::thread::park();
/// };
/// assert_eq!(out, 7);
/// ```
pub fn thread_waker(thread: Thread) -> Waker {
    thread_waker_with_flag(thread).0
}

/// A [`thread_waker`], and a flag that each of its wakes sets: a `block_on` that finds it set
/// after a poll knows its future woke itself (`yield_now`, a budget spent) and polls again
/// without parking.
///
/// ```
/// let (waker, woken) = spindle_core::thread_waker_with_flag(std::thread::current());
/// assert!(!woken.take());
/// waker.wake_by_ref();
/// assert!(woken.take());
/// assert!(!woken.take());
/// # std::thread::park(); // the wake's token
/// ```
pub fn thread_waker_with_flag(thread: Thread) -> (Waker, WokenFlag) {
    let inner = Arc::new(ThreadWaker {
        thread,
        woken: AtomicBool::new(false),
    });
    let data = Arc::into_raw(inner.clone()).cast::<()>();
    // SAFETY: the data pointer is an `Arc<ThreadWaker>`'s, with the reference the waker owns,
    // and the vtable's functions treat it as exactly that.
    let waker = unsafe { Waker::from_raw(RawWaker::new(data, &THREAD_WAKER)) };
    (waker, WokenFlag(inner))
}

/// The flag of a [`thread_waker_with_flag`].
#[derive(Clone)]
pub struct WokenFlag(Arc<ThreadWaker>);

impl WokenFlag {
    /// True if the waker woke since the flag was last [taken](Self::take); leaves it as is.
    ///
    /// ```
    /// let (waker, woken) = spindle_core::thread_waker_with_flag(std::thread::current());
    /// waker.wake_by_ref();
    /// assert!(woken.is_set() && woken.is_set());
    /// # std::thread::park();
    /// ```
    pub fn is_set(&self) -> bool {
        self.0.woken.load(Ordering::SeqCst)
    }

    /// True if the waker woke since the last call; clears the flag.
    ///
    /// ```
    /// let (waker, woken) = spindle_core::thread_waker_with_flag(std::thread::current());
    /// waker.wake();
    /// assert!(woken.take());
    /// # std::thread::park();
    /// ```
    pub fn take(&self) -> bool {
        self.0.woken.swap(false, Ordering::SeqCst)
    }
}

impl std::fmt::Debug for WokenFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WokenFlag").finish_non_exhaustive()
    }
}

/// What a thread waker's data pointer points at.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl ThreadWaker {
    fn wake(&self) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// The vtable of every [`thread_waker`]: a waker with this vtable has, as its data pointer, an
/// `Arc` (from `Arc::into_raw`, so aligned to at least 8) holding one reference.
///
/// ```
/// let waker = spindle_core::thread_waker(std::thread::current());
/// assert!(std::ptr::eq(waker.vtable(), spindle_core::thread_waker_vtable()));
/// ```
pub fn thread_waker_vtable() -> &'static RawWakerVTable {
    &THREAD_WAKER
}

/// The waker state behind a live thread waker's data pointer, borrowed.
///
/// # Safety
/// `data` is the data pointer of a live waker made with [`THREAD_WAKER`].
unsafe fn state<'a>(data: *const ()) -> &'a ThreadWaker {
    // SAFETY: the waker's reference keeps the `Arc<ThreadWaker>` alive while it is used.
    unsafe { &*data.cast::<ThreadWaker>() }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live thread waker's (std's contract): an `Arc<ThreadWaker>` pointer.
    unsafe { Arc::increment_strong_count(data.cast::<ThreadWaker>()) };
    RawWaker::new(data, &THREAD_WAKER)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is a live thread waker's, which gives up its reference here.
    let state = unsafe { Arc::from_raw(data.cast::<ThreadWaker>()) };
    state.wake();
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live thread waker's, kept alive for this call.
    unsafe { state(data) }.wake();
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: `data` is a live thread waker's, which gives up its reference here.
    drop(unsafe { Arc::from_raw(data.cast::<ThreadWaker>()) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_wake_and_drop_without_leaking_the_thread() {
        let waker = thread_waker(std::thread::current());
        let clones: Vec<Waker> = (0..3).map(|_| waker.clone()).collect();
        assert!(clones.iter().all(|c| c.will_wake(&waker)));
        for clone in clones {
            clone.wake();
        }
        waker.wake_by_ref();
        // The token from the wakes: this returns at once.
        std::thread::park();
        let data = waker.data().cast::<ThreadWaker>();
        // SAFETY: the waker is alive, so its `Arc` is.
        let count = unsafe {
            Arc::increment_strong_count(data);
            let arc = Arc::from_raw(data);
            Arc::strong_count(&arc) - 1
        };
        assert_eq!(count, 1, "only the original waker holds the thread");
    }
}
