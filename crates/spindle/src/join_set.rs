//! `JoinSet`: a group of spawned tasks, joined in completion order (asyncio's `TaskGroup`
//! and `as_completed`).

use crate::join::WakeSet;
use crate::{JoinError, JoinHandle};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A set of tasks spawned on the current runtime, awaited in the order they finish.
/// Dropping the set aborts every task still in it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let finished = spindle::block_on(async {
///     let mut set = spindle::JoinSet::new();
///     for n in [3u64, 1, 2] {
///         set.spawn(async move {
///             spindle::sleep(Duration::from_millis(40 * n)).await;
///             n
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(result) = set.join_next().await {
///         order.push(result.unwrap());
///     }
///     order
/// });
/// assert_eq!(finished, [1, 2, 3]); // the order they finished in, not the order spawned
/// ```
///
/// Leaving the scope that owns the set aborts what is still running in it, as a `TaskGroup`
/// does when its block exits:
///
/// ```
/// use std::time::Duration;
///
/// let first = spindle::block_on(async {
///     let mut set = spindle::JoinSet::new();
///     set.spawn(async { "quick" });
///     set.spawn(async {
///         spindle::sleep(Duration::from_secs(60)).await;
///         "slow"
///     });
///     set.join_next().await.unwrap().unwrap()
/// }); // `set` is dropped here: the 60 s task is aborted, not waited for
/// assert_eq!(first, "quick");
/// ```
pub struct JoinSet<T> {
    handles: Vec<Option<JoinHandle<T>>>,
    free: Vec<usize>,
    wake_set: WakeSet,
    len: usize,
}

impl<T: Send + 'static> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set = spindle::JoinSet::<()>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            handles: Vec::new(),
            free: Vec::new(),
            wake_set: WakeSet::new(),
            len: 0,
        }
    }

    /// Spawns `future` with [`spindle::spawn`](crate::spawn) and adds it to the set.
    ///
    /// ```
    /// let mut set = spindle::JoinSet::new();
    /// set.spawn(async { 1 });
    /// assert_eq!(set.len(), 1);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let handle = crate::spawn(future);
        match self.free.pop() {
            Some(index) => {
                self.handles[index] = Some(handle);
                self.wake_set.rearm(index);
            }
            None => {
                self.wake_set.push();
                self.handles.push(Some(handle));
            }
        }
        self.len += 1;
    }

    /// Waits for the next task to finish and returns its result, or `None` once the set is
    /// empty.
    ///
    /// ```
    /// spindle::block_on(async {
    ///     let mut set = spindle::JoinSet::new();
    ///     set.spawn(async { 7 });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        while let Some((index, waker)) = self.wake_set.next_ready(cx) {
            let Some(handle) = self.handles[index].as_mut() else {
                continue;
            };
            if let Poll::Ready(result) = Pin::new(handle).poll(&mut Context::from_waker(&waker)) {
                self.handles[index] = None;
                self.free.push(index);
                self.len -= 1;
                return Poll::Ready(Some(result));
            }
            if !spindle_scheduler::coop::has_budget() {
                // The handle yielded for the cooperative budget and queued itself again;
                // polling on would spin. This task runs again after the others.
                cx.waker().wake_by_ref();
                break;
            }
        }
        Poll::Pending
    }

    /// The number of tasks in the set (finished but not yet joined ones included).
    ///
    /// ```
    /// let set = spindle::JoinSet::<u8>::new();
    /// assert_eq!(set.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the set holds no task.
    ///
    /// ```
    /// assert!(spindle::JoinSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Aborts every task in the set. They stay in it: `join_next` returns their results
    /// (cancelled, unless a task finished first).
    ///
    /// ```
    /// spindle::block_on(async {
    ///     let mut set = spindle::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.abort_all();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for handle in self.handles.iter().flatten() {
            handle.abort();
        }
    }
}

impl<T: Send + 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for handle in self.handles.iter().flatten() {
            handle.abort();
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}
