//! Misuse of tasks at the scheduler's level, where Miri can run it (`scripts/miri.sh`): no
//! sockets, only the task allocation, raw wakers, `JoinHandle`s and the registry, on real
//! worker threads. The facade's versions of these cases are in `crates/spindle/tests`.

use futures::executor::block_on;
use spindle_scheduler::{JoinError, Scheduler, ThreadParker, ThreadUnparker};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};

/// Task counts: Miri interprets every step, so it runs the same tests on fewer tasks.
const ROUNDS: usize = if cfg!(miri) { 8 } else { 500 };

fn scheduler(workers: usize) -> Scheduler<ThreadUnparker> {
    Scheduler::builder()
        .worker_threads(workers)
        .build(|_| ThreadParker::new())
        .unwrap()
}

struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

fn panic_message(err: JoinError) -> String {
    let payload = err.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Pending forever, after leaving a clone of its waker in `slot`.
fn stash_waker(slot: &Arc<Mutex<Option<Waker>>>) -> impl Future<Output = ()> + Send + 'static {
    let slot = slot.clone();
    std::future::poll_fn(move |cx| {
        *slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    })
}

/// A task's waker outlives its scheduler: waking it (by reference, by value, from another
/// thread), cloning and dropping it do nothing, and the last drop frees the task. Miri
/// reports a use after free or a leak if the waker touches the scheduler's queues or the
/// task's memory wrongly.
#[test]
fn a_waker_outliving_its_scheduler_is_a_no_op() {
    let scheduler = scheduler(2);
    let slot = Arc::new(Mutex::new(None));
    let task = scheduler.spawn(stash_waker(&slot));
    let waker = loop {
        if let Some(waker) = slot.lock().unwrap().take() {
            break waker;
        }
        std::thread::yield_now();
    };
    drop(scheduler);
    waker.wake_by_ref();
    let copy = waker.clone();
    std::thread::spawn(move || copy.wake()).join().unwrap();
    assert!(block_on(task).unwrap_err().is_cancelled());
    waker.wake();
}

/// A future whose destructor panics: after it completed, when aborted, and at shutdown, its
/// handle carries the destructor's panic, and the worker lives on.
#[test]
fn a_future_panicking_in_drop_becomes_a_join_error() {
    let scheduler = scheduler(1);
    let completed = scheduler.spawn(async {
        let _bomb = PanicOnDrop("after completing");
        1
    });
    assert_eq!(
        panic_message(block_on(completed).unwrap_err()),
        "after completing"
    );

    let bomb = PanicOnDrop("by abort");
    let aborted = scheduler.spawn(async move {
        let _bomb = bomb;
        std::future::pending::<()>().await
    });
    aborted.abort();
    assert_eq!(panic_message(block_on(aborted).unwrap_err()), "by abort");

    assert_eq!(block_on(scheduler.spawn(async { 2 })).unwrap(), 2);

    let bomb = PanicOnDrop("at shutdown");
    let at_shutdown = scheduler.spawn(async move {
        let _bomb = bomb;
        std::future::pending::<()>().await
    });
    drop(scheduler);
    assert_eq!(
        panic_message(block_on(at_shutdown).unwrap_err()),
        "at shutdown"
    );
}

/// A task panics while holding, or while awaiting, another task's `JoinHandle`: the other
/// task is detached, runs to completion, and its output is dropped. The handle's drop during
/// the unwind races the other task's completion on the second worker.
#[test]
fn a_task_panicking_with_anothers_join_handle_detaches_it() {
    let scheduler = scheduler(2);
    let spawner = scheduler.spawner();
    let outputs = Arc::new(AtomicUsize::new(0));
    let (ran_tx, ran_rx) = mpsc::channel();
    for round in 0..ROUNDS {
        let (release_tx, release_rx) = futures::channel::oneshot::channel::<()>();
        let (output, ran_tx) = (DropCount(outputs.clone()), ran_tx.clone());
        let held = spawner.spawn(async move {
            release_rx.await.unwrap();
            ran_tx.send(round).unwrap();
            output
        });
        let panicking = scheduler.spawn(async move {
            release_tx.send(()).unwrap();
            let mut held = Box::pin(held);
            if round % 2 == 0 {
                std::future::poll_fn(|cx| {
                    let _ = held.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
            }
            panic!("round {round}");
        });
        assert_eq!(
            panic_message(block_on(panicking).unwrap_err()),
            format!("round {round}")
        );
    }
    let mut ran: Vec<_> = ran_rx.iter().take(ROUNDS).collect();
    ran.sort_unstable();
    assert_eq!(ran, (0..ROUNDS).collect::<Vec<_>>());
    drop(scheduler);
    assert_eq!(outputs.load(Ordering::SeqCst), ROUNDS);
}

/// Wakes itself and returns `Pending` once: a yield to the back of the queue.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Spawn, abort and `JoinHandle` drop racing the tasks' polls, from the test thread and from
/// a task on a worker: every future is dropped exactly once, every awaited handle resolves.
#[test]
fn spawn_abort_and_handle_drop_races_free_every_task() {
    let scheduler = scheduler(2);
    let spawner = scheduler.spawner();
    let drops = Arc::new(AtomicUsize::new(0));
    let spawn_all = {
        let drops = drops.clone();
        move |spawner: &spindle_scheduler::Spawner<ThreadUnparker>| {
            let mut kept = Vec::new();
            for i in 0..ROUNDS {
                let guard = DropCount(drops.clone());
                let handle = spawner.spawn(async move {
                    let _guard = guard;
                    for _ in 0..i % 4 {
                        yield_once().await;
                    }
                    i
                });
                match i % 3 {
                    0 => handle.abort(),
                    1 => {
                        drop(handle);
                        continue;
                    }
                    _ => {}
                }
                kept.push((i, handle));
            }
            kept
        }
    };
    let on_worker = {
        let (spawn_all, spawner) = (spawn_all.clone(), spawner.clone());
        scheduler.spawn(async move { spawn_all(&spawner) })
    };
    let mut kept = spawn_all(&spawner);
    kept.extend(block_on(on_worker).unwrap());
    for (i, handle) in kept {
        match block_on(handle) {
            Ok(output) => assert_eq!(output, i),
            Err(err) => assert!(i % 3 == 0 && err.is_cancelled(), "task {i}: {err}"),
        }
    }
    drop(scheduler);
    assert_eq!(drops.load(Ordering::SeqCst), 2 * ROUNDS);
}
