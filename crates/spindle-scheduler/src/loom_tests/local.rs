//! Local tasks (`local`): a wake from another thread against the owner parking, and against
//! the owner stopping, on the real code: a worker's [`LocalTasks`](crate::local::LocalTasks)
//! reached through the real `PinnedToWorker` scheduler of a real `Shared`, and the real
//! [`ThreadParker`] that the wake unparks.
//!
//! The task's future hands its waker to the other thread on its first poll and checks, when
//! it is dropped, that it is dropped on the owner thread (invariant 1 of `local`).

use super::model;
use crate::local::PinnedToWorker;
use crate::loom::sync::Mutex;
use crate::loom::Arc;
use crate::queue::local_queue;
use crate::scheduler::Shared;
use crate::task::JoinHandle;
use crate::worker::Remote;
use loom::thread;
use spindle_core::{Park, ThreadParker, ThreadUnparker};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

/// Pending on its first poll (publishing its waker), ready on the next.
struct WakeMeOnce {
    shared: Arc<Shared<ThreadUnparker>>,
    waker: Arc<Mutex<Option<Waker>>>,
    polls: usize,
    drops: Arc<AtomicUsize>,
}

impl Future for WakeMeOnce {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.polls == 1 {
            *self.waker.lock() = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(self.polls)
        }
    }
}

impl Drop for WakeMeOnce {
    fn drop(&mut self) {
        assert!(
            self.shared.remotes[0].pinned.is_owner_thread(),
            "a local task's future was dropped off its owner thread"
        );
        self.drops.fetch_add(1, SeqCst);
    }
}

/// A one-worker `Shared` whose worker is the calling thread, and a local task pinned to it,
/// polled once: it now waits on the returned waker slot.
#[allow(clippy::type_complexity)]
fn pinned_task_waiting(
    parker: &ThreadParker,
) -> (
    Arc<Shared<ThreadUnparker>>,
    JoinHandle<usize>,
    Arc<Mutex<Option<Waker>>>,
    Arc<AtomicUsize>,
) {
    let (_queue, stealer) = local_queue();
    let shared = Arc::new(Shared::new(
        Box::new([Remote::new(stealer, parker.unparker())]),
        None,
        None,
    ));
    shared.remotes[0].pinned.set_owner_to_this_thread();
    let waker = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let future = WakeMeOnce {
        shared: shared.clone(),
        waker: waker.clone(),
        polls: 0,
        drops: drops.clone(),
    };
    let handle = PinnedToWorker {
        shared: shared.clone(),
        worker: 0,
    }
    .spawn(future, std::panic::Location::caller());
    let task = shared.remotes[0]
        .pinned
        .pop()
        .expect("spawned tasks are queued");
    assert!(task.run().is_none());
    (shared, handle, waker, drops)
}

/// Wakes the task from another thread, if its waker is still there.
fn wake_from_another_thread(waker: Arc<Mutex<Option<Waker>>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        if let Some(waker) = waker.lock().take() {
            waker.wake();
        }
    })
}

/// A lost wake-up: the owner finds its queue empty and parks just as the other thread pushes
/// and unparks. The push must be seen after the park, or the park must return (loom reports a
/// deadlock otherwise); and the task must run on the owner.
#[test]
fn wake_from_another_thread_vs_the_owner_parking() {
    model(|| {
        let mut parker = ThreadParker::new();
        let (shared, mut handle, waker, drops) = pinned_task_waiting(&parker);
        let waking = wake_from_another_thread(waker);
        let pinned = &shared.remotes[0].pinned;
        loop {
            if let Some(task) = pinned.pop() {
                assert!(
                    task.run().is_none(),
                    "a local task is requeued by its scheduler"
                );
                break;
            }
            // `Worker::park` looks at its queues before it parks.
            if pinned.is_empty() {
                parker.park();
            }
        }
        waking.join().unwrap();
        let output = Pin::new(&mut handle).poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(output, Poll::Ready(Ok(2))));
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// The owner stops (its worker exits) while the other thread wakes the task: the wake's
/// `Runnable` may still be on its way to the queue when the owner drains it. The task must
/// still be cancelled, its future dropped on the owner thread, and every reference released
/// (a leaked task leaks its loom `Arc` of `Shared`).
#[test]
fn wake_from_another_thread_vs_the_owner_stopping() {
    model(|| {
        let parker = ThreadParker::new();
        let (shared, mut handle, waker, drops) = pinned_task_waiting(&parker);
        let waking = wake_from_another_thread(waker.clone());
        shared.remotes[0].pinned.stop();
        assert_eq!(
            drops.load(SeqCst),
            1,
            "stop returned before the future was dropped"
        );
        waking.join().unwrap();
        // The waker may still be in its slot, if the owner stopped first: it wakes nothing.
        drop(waker.lock().take());
        let output = Pin::new(&mut handle).poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(output, Poll::Ready(Err(ref e)) if e.is_cancelled()));
    });
}
