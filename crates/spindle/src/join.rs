//! Joining many futures on the current task: `join_all`, `try_join_all`, and the ready set
//! that `JoinSet` shares.
//!
//! Each child future gets its own waker, which records the child's index in a shared ready
//! list and wakes the parent. A poll of the parent polls only the children on that list, so
//! joining N futures costs O(N) polls in all, however they complete, instead of O(N) per wake.

use parking_lot::Mutex;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// The indices of children woken since the parent last looked, and the parent's waker.
struct ReadyList {
    ready: Mutex<ReadyState>,
}

struct ReadyState {
    indices: Vec<usize>,
    parent: Option<Waker>,
}

/// One child's waker: queues the child's index once until the child is polled again.
struct ChildWaker {
    index: usize,
    queued: AtomicBool,
    list: Arc<ReadyList>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let parent = {
            let mut state = self.list.ready.lock();
            state.indices.push(self.index);
            state.parent.clone()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

/// A set of child slots, each with its own waker, and the list of those woken.
pub(crate) struct WakeSet {
    list: Arc<ReadyList>,
    children: Vec<Arc<ChildWaker>>,
    /// Indices taken from the ready list and not yet handed out.
    batch: Vec<usize>,
}

impl WakeSet {
    pub(crate) fn new() -> WakeSet {
        WakeSet {
            list: Arc::new(ReadyList {
                ready: Mutex::new(ReadyState {
                    indices: Vec::new(),
                    parent: None,
                }),
            }),
            children: Vec::new(),
            batch: Vec::new(),
        }
    }

    /// Adds a child slot at index `self.len()`, ready to be polled.
    pub(crate) fn push(&mut self) -> usize {
        let index = self.children.len();
        self.children.push(Arc::new(ChildWaker {
            index,
            queued: AtomicBool::new(true),
            list: self.list.clone(),
        }));
        self.batch.push(index);
        index
    }

    /// Re-arms slot `index` for a new child (a `JoinSet` reusing a free slot).
    pub(crate) fn rearm(&mut self, index: usize) {
        self.children[index].queued.store(true, Ordering::Release);
        self.batch.push(index);
    }

    /// The next child to poll, if any was woken; otherwise records the parent's waker and
    /// returns `None`.
    pub(crate) fn next_ready(&mut self, cx: &Context<'_>) -> Option<(usize, Waker)> {
        if self.batch.is_empty() {
            let mut state = self.list.ready.lock();
            if state.indices.is_empty() {
                match &state.parent {
                    Some(parent) if parent.will_wake(cx.waker()) => {}
                    _ => state.parent = Some(cx.waker().clone()),
                }
                return None;
            }
            mem::swap(&mut self.batch, &mut state.indices);
        }
        let index = self.batch.pop()?;
        let child = &self.children[index];
        child.queued.store(false, Ordering::Release);
        Some((index, Waker::from(child.clone())))
    }
}

enum Slot<F: Future> {
    Pending(F),
    Done(F::Output),
    Taken,
}

/// The future returned by [`join_all`].
///
/// ```
/// let all: spindle::JoinAll<_> = spindle::join_all((1..=2).map(|n| async move { n }));
/// assert_eq!(spindle::block_on(all), [1, 2]);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
    wake_set: WakeSet,
    remaining: usize,
}

/// Waits for every future in `futures`, polling them concurrently on the current task, and
/// returns their outputs in input order: asyncio's `gather`.
///
/// To run the futures in parallel on every core, [`spawn`](crate::spawn) them and join the
/// handles: each output is then a `Result` that says whether the task panicked.
///
/// ```
/// let results = spindle::block_on(async {
///     let handles: Vec<_> = (1..=3)
///         .map(|n| spindle::spawn(async move { format!("task {n} done") }))
///         .collect();
///     spindle::join_all(handles).await
/// });
/// let results: Vec<String> = results.into_iter().map(Result::unwrap).collect();
/// assert_eq!(results, ["task 1 done", "task 2 done", "task 3 done"]);
/// ```
pub fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let mut wake_set = WakeSet::new();
    let slots: Vec<_> = futures
        .into_iter()
        .map(|future| {
            wake_set.push();
            Slot::Pending(future)
        })
        .collect();
    JoinAll {
        remaining: slots.len(),
        slots,
        wake_set,
    }
}

impl<F: Future> JoinAll<F> {
    /// Polls the woken children; returns the index of one that failed `is_err`, if any.
    fn poll_children(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        is_err: impl Fn(&F::Output) -> bool,
    ) -> Option<usize> {
        // SAFETY: the slots are never moved once the vector is built (it is never resized),
        // so a pinned `JoinAll` keeps every child future pinned in place.
        let this = unsafe { self.get_unchecked_mut() };
        let mut budget = this.slots.len().max(1);
        while let Some((index, waker)) = this.wake_set.next_ready(cx) {
            let Slot::Pending(future) = &mut this.slots[index] else {
                continue;
            };
            // SAFETY: see above; the future stays in its slot until it is replaced by `Done`.
            let future = unsafe { Pin::new_unchecked(future) };
            match future.poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(output) => {
                    let failed = is_err(&output);
                    this.slots[index] = Slot::Done(output);
                    this.remaining -= 1;
                    if failed {
                        return Some(index);
                    }
                }
                // The task's cooperative budget is spent: every further child would only
                // yield. This one queued itself again; the parent runs again after others.
                Poll::Pending if !spindle_scheduler::coop::has_budget() => {
                    cx.waker().wake_by_ref();
                    break;
                }
                Poll::Pending => {}
            }
            budget -= 1;
            if budget == 0 {
                // Polled as many children as there are; let the scheduler run others.
                cx.waker().wake_by_ref();
                break;
            }
        }
        None
    }

    fn take_outputs(&mut self) -> Vec<F::Output> {
        mem::take(&mut self.slots)
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(output) => output,
                _ => unreachable!("every child completed"),
            })
            .collect()
    }
}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        self.as_mut().poll_children(cx, |_| false);
        if self.remaining > 0 {
            return Poll::Pending;
        }
        // SAFETY: every child is done; no pinned future is left to move.
        Poll::Ready(unsafe { self.get_unchecked_mut() }.take_outputs())
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.slots.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// The future returned by [`try_join_all`].
///
/// ```
/// let all: spindle::TryJoinAll<_> =
///     spindle::try_join_all((1..=2).map(|n| async move { Ok::<_, ()>(n) }));
/// assert_eq!(spindle::block_on(all), Ok(vec![1, 2]));
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TryJoinAll<F: Future> {
    inner: JoinAll<F>,
}

/// Like [`join_all`] for futures that return `Result`: the outputs in input order if all
/// succeed, or the first error to happen, in which case the other futures are dropped.
///
/// ```
/// let all_ok: Result<Vec<u32>, String> =
///     spindle::block_on(spindle::try_join_all((1..=3).map(|n| async move { Ok(n) })));
/// assert_eq!(all_ok, Ok(vec![1, 2, 3]));
///
/// let one_failed: Result<Vec<u32>, String> = spindle::block_on(spindle::try_join_all(
///     (1..=3).map(|n| async move { if n == 2 { Err(format!("{n} failed")) } else { Ok(n) } }),
/// ));
/// assert_eq!(one_failed, Err("2 failed".to_string()));
/// ```
pub fn try_join_all<I, T, E>(futures: I) -> TryJoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    TryJoinAll {
        inner: join_all(futures),
    }
}

impl<F, T, E> Future for TryJoinAll<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, E>> {
        // SAFETY: structural pinning of the only field.
        let mut inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        if let Some(failed) = inner.as_mut().poll_children(cx, Result::is_err) {
            // SAFETY: the pending children are dropped in place, never moved.
            let inner = unsafe { inner.get_unchecked_mut() };
            let slot = mem::replace(&mut inner.slots[failed], Slot::Taken);
            inner.slots.clear();
            inner.remaining = 0;
            return match slot {
                Slot::Done(Err(err)) => Poll::Ready(Err(err)),
                _ => unreachable!("the failed child holds its error"),
            };
        }
        if inner.remaining > 0 {
            return Poll::Pending;
        }
        // SAFETY: every child is done.
        let outputs = unsafe { inner.get_unchecked_mut() }.take_outputs();
        Poll::Ready(outputs.into_iter().collect())
    }
}

impl<F: Future> fmt::Debug for TryJoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryJoinAll")
            .field("len", &self.inner.slots.len())
            .field("remaining", &self.inner.remaining)
            .finish()
    }
}
