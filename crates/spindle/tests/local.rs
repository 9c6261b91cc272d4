//! `spawn_local`: tasks that are not `Send`, pinned to the thread that spawned them, on a
//! worker and inside `block_on`; woken from other threads; cancelled on their own thread.

mod common;

use common::{panic_message, runtime_exactly, with_watchdog};
use futures::channel::oneshot;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const TASKS: usize = 100;
const FEEDERS: usize = 4;

/// Spawns `TASKS` local tasks sharing one `Rc<RefCell<Vec<_>>>`, each waiting for a message
/// sent by one of `FEEDERS` OS threads; returns what they pushed and the threads they ran on
/// (before and after their wake), and the thread that spawned them.
async fn local_tasks_woken_from_other_threads() -> (Vec<usize>, Vec<ThreadId>, ThreadId) {
    let owner = thread::current().id();
    let pushed = Rc::new(RefCell::new(Vec::new()));
    let ran_on = Rc::new(RefCell::new(Vec::new()));
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for n in 0..TASKS {
        let (tx, rx) = oneshot::channel::<usize>();
        senders.push(tx);
        let (pushed, ran_on) = (pushed.clone(), ran_on.clone());
        tasks.push(spindle::spawn_local(async move {
            ran_on.borrow_mut().push(thread::current().id());
            let got = rx.await.unwrap();
            ran_on.borrow_mut().push(thread::current().id());
            assert_eq!(got, n);
            pushed.borrow_mut().push(got);
        }));
    }
    // Every task has started and waits before the feeders send.
    spindle::yield_now().await;
    while ran_on.borrow().len() < TASKS {
        spindle::yield_now().await;
    }
    let mut per_feeder: Vec<Vec<(usize, oneshot::Sender<usize>)>> =
        (0..FEEDERS).map(|_| Vec::new()).collect();
    for (n, tx) in senders.into_iter().enumerate() {
        per_feeder[n % FEEDERS].push((n, tx));
    }
    let feeders: Vec<_> = per_feeder
        .into_iter()
        .map(|batch| {
            thread::spawn(move || {
                for (n, tx) in batch {
                    tx.send(n).unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for feeder in feeders {
        feeder.join().unwrap();
    }
    let mut pushed = Rc::try_unwrap(pushed).unwrap().into_inner();
    pushed.sort_unstable();
    let ran_on = Rc::try_unwrap(ran_on).unwrap().into_inner();
    (pushed, ran_on, owner)
}

fn assert_all_ran_on_owner((pushed, ran_on, owner): (Vec<usize>, Vec<ThreadId>, ThreadId)) {
    assert_eq!(pushed, (0..TASKS).collect::<Vec<_>>(), "every push arrives");
    assert_eq!(ran_on.len(), 2 * TASKS);
    assert!(
        ran_on.iter().all(|&id| id == owner),
        "a local task ran on a thread other than the one that spawned it"
    );
}

#[test]
fn local_tasks_on_a_worker_share_an_rc_and_stay_on_that_worker() {
    with_watchdog("local tasks on a worker", LIMIT, || {
        let runtime = runtime_exactly(2);
        let outcome = runtime.block_on(async {
            // A Send task gets onto a worker; the local task it spawns holds the Rc.
            spindle::spawn(async {
                let (pushed, ran_on, owner) =
                    spindle::spawn_local(async { local_tasks_woken_from_other_threads().await })
                        .await
                        .unwrap();
                (pushed, ran_on, owner, thread::current().id())
            })
            .await
            .unwrap()
        });
        let (pushed, ran_on, owner, _) = outcome;
        assert_ne!(owner, thread::current().id(), "ran on a worker");
        assert_all_ran_on_owner((pushed, ran_on, owner));
    });
}

#[test]
fn local_tasks_inside_block_on_share_an_rc_and_run_on_the_block_on_thread() {
    with_watchdog("local tasks inside block_on", LIMIT, || {
        let runtime = runtime_exactly(2);
        let outcome = runtime.block_on(local_tasks_woken_from_other_threads());
        assert_eq!(outcome.2, thread::current().id());
        assert_all_ran_on_owner(outcome);
    });
}

#[test]
fn a_local_task_is_never_stolen_while_the_other_worker_is_idle() {
    with_watchdog("local tasks never stolen", LIMIT, || {
        let runtime = runtime_exactly(2);
        let threads = runtime.block_on(async {
            spindle::spawn(async {
                spindle::spawn_local(async {
                    let tasks: Vec<_> = (0..10)
                        .map(|_| {
                            spindle::spawn_local(async {
                                let mut seen = Vec::new();
                                for _ in 0..200 {
                                    seen.push(thread::current().id());
                                    spindle::yield_now().await;
                                }
                                seen
                            })
                        })
                        .collect();
                    let mut seen = vec![thread::current().id()];
                    for task in tasks {
                        seen.extend(task.await.unwrap());
                    }
                    seen
                })
                .await
                .unwrap()
            })
            .await
            .unwrap()
        });
        assert_eq!(threads.len(), 1 + 10 * 200);
        assert!(threads.iter().all(|&id| id == threads[0]));
    });
}

/// Records, when dropped, the thread it was dropped on.
struct DropRecorder(Arc<Mutex<Option<ThreadId>>>);

impl Drop for DropRecorder {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(thread::current().id());
    }
}

#[test]
fn local_tasks_pending_when_block_on_returns_are_cancelled_on_its_thread() {
    with_watchdog("block_on local cancel", LIMIT, || {
        let runtime = runtime_exactly(2);
        let dropped_on = Arc::new(Mutex::new(None));
        let recorder = DropRecorder(dropped_on.clone());
        let (handle, waker_tx) = runtime.block_on(async move {
            let (tx, rx) = oneshot::channel::<()>();
            let not_send = Rc::new(recorder);
            let handle = spindle::spawn_local(async move {
                let _keep = not_send;
                rx.await.ok();
                1
            });
            spindle::yield_now().await;
            (handle, tx)
        });
        assert_eq!(*dropped_on.lock().unwrap(), Some(thread::current().id()));
        let err = runtime.block_on(handle).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        // The waker the task left behind wakes nothing now.
        drop(waker_tx);
    });
}

#[test]
fn local_tasks_are_cancelled_on_their_worker_when_the_runtime_drops() {
    with_watchdog("worker local cancel", LIMIT, || {
        let runtime = runtime_exactly(2);
        let dropped_on = Arc::new(Mutex::new(None));
        let recorder = DropRecorder(dropped_on.clone());
        let (worker_tx, worker_rx) = mpsc::channel();
        let (handle_tx, handle_rx) = mpsc::channel();
        runtime.block_on(async move {
            spindle::spawn(async move {
                worker_tx.send(thread::current().id()).unwrap();
                let pending = spindle::spawn_local(async move {
                    let _keep = Rc::new(recorder);
                    std::future::pending::<()>().await;
                });
                handle_tx.send(pending).unwrap();
            })
            .await
            .unwrap()
        });
        let handle = handle_rx.recv().unwrap();
        let worker = worker_rx.recv().unwrap();
        assert_eq!(*dropped_on.lock().unwrap(), None, "still pending");
        drop(runtime);
        assert_eq!(*dropped_on.lock().unwrap(), Some(worker));
        let err = futures::executor::block_on(handle).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    });
}

#[test]
fn a_local_tasks_handle_is_awaited_from_another_task() {
    with_watchdog("local handle elsewhere", LIMIT, || {
        let runtime = runtime_exactly(2);
        let got = runtime.block_on(async {
            let local = spindle::spawn_local(async {
                let shared = Rc::new(20);
                spindle::yield_now().await;
                *shared + 1
            });
            // The output is Send, so the handle is too: a task on a worker awaits it.
            spindle::spawn(async move { local.await.unwrap() * 2 })
                .await
                .unwrap()
        });
        assert_eq!(got, 42);
    });
}

#[test]
fn local_tasks_show_in_the_dump_and_the_metrics() {
    with_watchdog("local tasks in dump", LIMIT, || {
        let runtime = runtime_exactly(2);
        let handle = runtime.handle();
        let before = handle.metrics().spawned_tasks_count();
        let line = line!() + 7;
        runtime.block_on(async {
            let (_tx, rx) = oneshot::channel::<()>();
            let rx = Rc::new(RefCell::new(Some(rx)));
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let rx = rx.clone();
                    spindle::spawn_local(async move {
                        let pending = rx.borrow_mut().take();
                        if let Some(rx) = pending {
                            rx.await.ok();
                        } else {
                            std::future::pending::<()>().await;
                        }
                    })
                })
                .collect();
            spindle::yield_now().await;
            let handle = spindle::Handle::current();
            let dump = handle.dump();
            let ours = dump
                .tasks()
                .iter()
                .filter(|t| {
                    t.location().file().ends_with("local.rs") && t.location().line() == line
                })
                .count();
            assert_eq!(ours, 10, "{dump}");
            assert!(handle.metrics().num_alive_tasks() >= 10);
            assert_eq!(handle.metrics().spawned_tasks_count(), before + 10);
            drop(tasks);
        });
        assert_eq!(handle.metrics().spawned_tasks_count(), before + 10);
        assert_eq!(handle.dump().tasks().len(), 0);
    });
}

#[test]
fn spawn_local_outside_a_runtime_panics_naming_the_fix() {
    let message = std::panic::catch_unwind(|| {
        spindle::spawn_local(async {});
    })
    .map(|_| String::new())
    .unwrap_or_else(|payload| panic_message(&*payload));
    assert!(message.contains("spawn_local called outside"), "{message}");
    assert!(message.contains("spindle::spawn"), "{message}");
}

#[test]
fn spawn_local_in_a_blocking_closure_panics_naming_the_fix() {
    let runtime = runtime_exactly(1);
    let outcome = runtime
        .block_on(spindle::spawn_blocking(|| {
            std::panic::catch_unwind(|| drop(spindle::spawn_local(async {})))
                .map_err(|payload| panic_message(&*payload))
        }))
        .unwrap();
    let message = outcome.unwrap_err();
    assert!(message.contains("spawn_local called outside"), "{message}");
}
