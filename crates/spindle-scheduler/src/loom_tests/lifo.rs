//! The LIFO slot hand-off ([`Remote::put_lifo`] / [`Remote::take_lifo`]) between a worker and
//! a searcher that takes over its slot, on the real `Remote`, the real tasks and the crate's
//! queue (its loom stand-in).
//!
//! The slot is an `AtomicPtr` holding a `Runnable` given up with `into_raw`: whoever swaps a
//! task out of it owns that `Runnable`. The owner puts tasks in (a task spawned or woken on
//! its worker) and takes them out after each poll; a searcher takes the slot's task when the
//! owner is stuck in a long poll, and the shutdown drain takes whatever is left.
//!
//! The second model is the watch for a task put alone in a slot (rule 6 of
//! [`crate::idle`]) against the only idle worker parking, on the real `Shared`.

use super::model;
use crate::loom::Arc;
use crate::queue::{local_queue, Steal};
use crate::scheduler::Shared;
use crate::task::{new_task, JoinHandle, Runnable, Schedule, Spawned, TaskRef};
use crate::worker::Remote;
use loom::thread;
use spindle_core::{Park, ThreadParker};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

/// Tasks that are never woken and are not in any registry. Holds a loom `Arc` so that a task
/// never freed (a `Runnable` lost in the slot) shows up as a leak.
#[derive(Clone)]
struct Unlisted(#[allow(dead_code)] Arc<()>);

impl Schedule for Unlisted {
    fn schedule(&self, _task: Runnable) {
        unreachable!("the model's tasks complete on their first poll and are never woken");
    }

    fn release(&self, _task: TaskRef) -> bool {
        false
    }
}

/// Counts its polls (std atomics: invisible to loom) and completes with `value` at once.
struct CountPolls {
    polls: std::sync::Arc<AtomicUsize>,
    value: usize,
}

impl Future for CountPolls {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<usize> {
        self.polls.fetch_add(1, SeqCst);
        Poll::Ready(self.value)
    }
}

/// Spawns a task as a worker does: unlisted here, so the registry's reference goes at once.
fn spawn(
    scheduler: &Unlisted,
    value: usize,
) -> (Runnable, JoinHandle<usize>, std::sync::Arc<AtomicUsize>) {
    let polls = std::sync::Arc::new(AtomicUsize::new(0));
    let future = CountPolls {
        polls: polls.clone(),
        value,
    };
    let (runnable, handle, registered) = new_task(
        future,
        scheduler.clone(),
        Spawned::now(std::panic::Location::caller()),
    );
    registered.drop_ref();
    (runnable, handle, polls)
}

/// Runs a task taken from a queue, or, with `cancel`, drops it unrun as the shutdown drain
/// does.
fn dispose(task: Runnable, cancel: bool) {
    if cancel {
        drop(task);
    } else {
        assert!(
            task.run().is_none(),
            "a task completing at once is not requeued"
        );
    }
}

/// The owner puts two tasks in its LIFO slot (they are spawned on its thread, so their
/// allocations are published only by the slot), the second displacing the first (if still
/// there) to the back of its deque, then takes the slot and pops its deque, as `run_task` and `next_task` do.
/// Meanwhile a searcher takes the slot (`take_lifo`) and steals from the deque. Each side
/// runs what it got; with `searcher_cancels`, the other side is the shutdown drain instead,
/// dropping what it takes unrun.
///
/// Catches: a task taken from the slot by both sides (polled twice, or its future touched
/// by two threads: loom reports the concurrent cell access), a displaced task lost between
/// the slot and the deque (its handle never finishes, and the task is never freed: loom
/// reports the leaked `Arc`), and swaps too weak to publish a task's allocation to the thread
/// that takes it from the slot (loom reports the unsynchronized access to its cells).
#[test]
fn lifo_slot_hand_off_runs_each_task_once() {
    for searcher_cancels in [false, true] {
        model(move || {
            let scheduler = Unlisted(Arc::new(()));
            let (local, stealer) = local_queue();
            let remote = Arc::new(Remote::new(stealer, ()));

            let owner = {
                let remote = remote.clone();
                thread::spawn(move || {
                    let (first, first_handle, first_polls) = spawn(&scheduler, 1);
                    let (second, second_handle, second_polls) = spawn(&scheduler, 2);
                    assert!(remote.put_lifo(first).is_none());
                    // `schedule_local`: the searcher may have taken the first task already.
                    if let Some(displaced) = remote.put_lifo(second) {
                        local.push(displaced);
                    }
                    while let Some(task) = remote.take_lifo().or_else(|| local.pop()) {
                        dispose(task, false);
                    }
                    [
                        (first_handle, first_polls, 1),
                        (second_handle, second_polls, 2),
                    ]
                })
            };
            let searcher = {
                let remote = remote.clone();
                thread::spawn(move || {
                    if let Some(task) = remote.take_lifo() {
                        dispose(task, searcher_cancels);
                    }
                    if let Steal::Success(task) = remote.stealer.steal() {
                        dispose(task, searcher_cancels);
                    }
                })
            };
            let tasks = owner.join().unwrap();
            searcher.join().unwrap();

            assert!(!remote.has_lifo(), "the owner emptied its slot");
            for (mut handle, polls, value) in tasks {
                assert!(handle.is_finished(), "task {value} was lost");
                let output = Pin::new(&mut handle).poll(&mut Context::from_waker(Waker::noop()));
                match output {
                    Poll::Ready(Ok(output)) => {
                        assert_eq!(output, value);
                        assert_eq!(polls.load(SeqCst), 1, "task {value} polled twice");
                    }
                    Poll::Ready(Err(err)) => {
                        assert!(searcher_cancels && err.is_cancelled(), "{err}");
                        assert_eq!(polls.load(SeqCst), 0, "a cancelled task was polled");
                    }
                    Poll::Pending => panic!("task {value} is finished but its handle pending"),
                }
            }
        });
    }
}

/// Rule 6 of `idle`: worker 0, running a task, puts a task alone in its LIFO slot and nudges
/// a watcher (`Shared::nudge_lifo_watcher`), then stays in its poll; worker 1, the only other
/// worker, searches in vain (a search does not take LIFO slots) and parks
/// (`transition_worker_to_parked`, `notify_if_work_pending`, then `claim_lifo_watch`). Its
/// parks are untimed unless it watches: the 2 ms timed park is a safety net that no runnable
/// task may need. Worker 1 must end up watching, and take the task (the owner never starts a
/// new poll here, so the watch finds it stuck).
///
/// Catches: a task in a LIFO slot of a busy worker left for a timed park to find (loom
/// reports the deadlock of the untimed park), which is what happens if the owner skips its
/// fence or does not nudge, or if a parking worker does not look at the slots. (Without the
/// parking side's fence the model still passes: loom orders that side's look after its SeqCst
/// update of the counts, which the C++ model, and so the real machine, does not promise.)
#[test]
fn lone_lifo_task_vs_the_last_searcher_parking() {
    model(|| {
        let scheduler = Unlisted(Arc::new(()));
        let (_owner_queue, owner_stealer) = local_queue();
        let (_idle_queue, idle_stealer) = local_queue();
        let owner_parker = ThreadParker::new();
        let mut idle_parker = ThreadParker::new();
        let shared = Arc::new(Shared::new(
            Box::new([
                Remote::new(owner_stealer, owner_parker.unparker()),
                Remote::new(idle_stealer, idle_parker.unparker()),
            ]),
            None,
            None,
        ));

        let owner = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (task, handle, polls) = spawn(&scheduler, 7);
                // `schedule_local` inside a poll that then runs on.
                assert!(shared.remotes[0].put_lifo(task).is_none());
                shared.nudge_lifo_watcher();
                (handle, polls)
            })
        };
        let idle = {
            let shared = shared.clone();
            thread::spawn(move || {
                // `Worker::search` finds nothing (slots are not stolen), then `Worker::park`.
                assert!(shared.idle.transition_worker_to_searching());
                if shared.idle.transition_worker_to_parked(1, true) {
                    shared.notify_if_work_pending();
                }
                let mut watching = shared.claim_lifo_watch(1);
                loop {
                    watching = watching || shared.is_lifo_watcher(1);
                    if watching {
                        // The timed watch (loom times out at once); the owner is still in
                        // its poll, so the watch takes its slot.
                        idle_parker.park_timeout(crate::worker::LIFO_WATCH_INTERVAL);
                        shared.end_lifo_watch(1);
                        break;
                    }
                    idle_parker.park();
                }
                assert!(shared.idle.unpark_worker_by_id(1).is_some());
                let task = shared.remotes[0]
                    .take_lifo()
                    .expect("watching, but the LIFO slot is empty");
                dispose(task, false);
            })
        };
        let (mut handle, polls) = owner.join().unwrap();
        idle.join().unwrap();

        let output = Pin::new(&mut handle).poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(output, Poll::Ready(Ok(7))));
        assert_eq!(polls.load(SeqCst), 1);
    });
}
