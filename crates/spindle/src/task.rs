//! Spawning and yielding.

use crate::context;
use crate::JoinHandle;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns `future` as a task that runs in parallel on the runtime's workers.
///
/// Inside a runtime (in a task, or under `block_on`) it spawns onto that runtime; anywhere
/// else onto the process-wide default runtime. Awaiting the returned [`JoinHandle`] gives the
/// output, or a [`JoinError`](crate::JoinError) if the task panicked or was cancelled;
/// dropping the handle lets the task run on, detached.
///
/// ```
/// let handle = spindle::spawn(async { 40 + 2 });
/// assert_eq!(spindle::block_on(handle).unwrap(), 42);
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::with_current(|current| match current {
        Some(handle) => handle.spawn(future),
        None => crate::runtime::default_runtime().spawn(future),
    })
}

/// Gives the worker to other tasks once: the current task goes to the back of its worker's
/// queue and resumes when its turn comes again (asyncio's `await asyncio.sleep(0)`).
///
/// ```
/// spindle::block_on(async {
///     spindle::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// ```
/// let yielding: spindle::YieldNow = spindle::yield_now();
/// spindle::block_on(yielding);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl fmt::Debug for YieldNow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YieldNow")
            .field("yielded", &self.yielded)
            .finish()
    }
}
