//! A waker that unparks a thread: what a `block_on` that parks its thread between polls
//! needs.

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread::Thread;

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
    Waker::from(Arc::new(ThreadWaker(thread)))
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
