//! The `JoinHandle`: the output side of a task.
//!
//! A handle holds one counted reference from spawn until it is dropped, so the task is
//! allocated for as long as the handle is borrowed. It alone reads the output and writes the
//! join waker (invariants 3 and 4 of the [task module](super)).

use super::raw::{abort, header, Header};
use super::{Id, JoinError};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or was cancelled.
/// Dropping it detaches the task, which keeps running.
///
/// # Examples
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(2).build(|_| ThreadParker::new()).unwrap();
/// let handle = scheduler.spawn(async { 6 * 7 });
/// assert_eq!(futures::executor::block_on(handle).unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    /// The task, with [`OUTPUT_READ`] set once this handle has read the output: the task
    /// keeps no mark of its own of whether its output is still there (see the task's stage).
    /// A task is word-aligned, so the low bit is otherwise clear.
    tagged: NonNull<Header>,
    _output: PhantomData<T>,
}

const OUTPUT_READ: usize = 1;

// SAFETY: the handle moves the output `T` to whichever thread polls it, hence `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: through `&JoinHandle` only `abort` and `is_finished` are reachable; both are atomic
// operations on the state word and never touch `T`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a task with output type `T`, and the caller hands over the handle's reference.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            tagged: raw,
            _output: PhantomData,
        }
    }

    fn raw(&self) -> NonNull<Header> {
        let raw = self
            .tagged
            .as_ptr()
            .map_addr(|address| address & !OUTPUT_READ);
        // SAFETY: clearing the tag gives back the task's pointer, which is not null.
        unsafe { NonNull::new_unchecked(raw) }
    }

    fn output_read(&self) -> bool {
        self.tagged.addr().get() & OUTPUT_READ != 0
    }

    /// The task's header, kept allocated by the handle's reference while it is borrowed.
    fn header(&self) -> &Header {
        // SAFETY: the handle holds a counted reference, released only by its drop, which the
        // borrow of `self` rules out.
        unsafe { header(self.raw()) }
    }

    /// Cancels the task: its future is dropped (on a worker, or here if the runtime is gone)
    /// and awaiting the handle gives a cancelled [`JoinError`]. A task that already finished
    /// keeps its output.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let handle = scheduler.spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(futures::executor::block_on(handle).unwrap_err().is_cancelled());
    /// ```
    pub fn abort(&self) {
        // SAFETY: the handle's reference lasts for the call.
        unsafe { abort(self.raw()) }
    }

    /// The task's id, the one [`try_current_task_id`](crate::try_current_task_id) returns
    /// inside it.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let (a, b) = (scheduler.spawn(async {}), scheduler.spawn(async {}));
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> Id {
        self.header().id
    }

    /// True once the task has completed, was cancelled, or panicked: awaiting it will not wait.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let handle = scheduler.spawn(std::future::pending::<()>());
    /// assert!(!handle.is_finished());
    /// handle.abort();
    /// while !handle.is_finished() { std::thread::yield_now(); }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            !self.output_read(),
            "JoinHandle polled after it returned Ready"
        );
        let spent = std::task::ready!(crate::coop::poll_spend(cx));
        let mut output: Poll<Result<T, JoinError>> = Poll::Pending;
        let dst = (&mut output as *mut Poll<Result<T, JoinError>>).cast::<()>();
        // SAFETY: this is the task's handle, which has not read the output, the vtable is the
        // task's own, and `dst` has the task's output type (`from_raw`'s contract).
        unsafe {
            self.header()
                .vtable()
                .try_read_output(self.raw(), dst, cx.waker())
        };
        if output.is_ready() {
            spent.made_progress();
            self.tagged = self.tagged.map_addr(|address| address | OUTPUT_READ);
        }
        output
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let vtable = self.header().vtable();
        // SAFETY: this is the task's handle, dropped once, and the vtable is the task's own.
        unsafe { vtable.drop_join_handle(self.raw(), self.output_read()) }
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
