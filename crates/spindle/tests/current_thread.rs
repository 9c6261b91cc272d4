//! The current-thread runtime: no worker threads; `block_on` runs every task on its thread,
//! with the timer and the reactor parked under it.

mod common;

use common::{loopback_echo, panic_message, with_watchdog};
use futures::channel::oneshot;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn current_thread() -> spindle::Runtime {
    spindle::Builder::new_current_thread().build().unwrap()
}

#[test]
fn every_task_runs_on_the_block_on_thread() {
    with_watchdog("current-thread tasks", LIMIT, || {
        // A name of its own: no other test's threads (blocking ones included) carry it.
        let runtime = spindle::Builder::new_current_thread()
            .thread_name("current-thread-no-workers")
            .build()
            .unwrap();
        let ran_on = runtime.block_on(async {
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    spindle::spawn(async {
                        spindle::yield_now().await;
                        let inner = spindle::spawn(async { thread::current().id() });
                        (thread::current().id(), inner.await.unwrap())
                    })
                })
                .collect();
            spindle::join_all(tasks).await
        });
        let here = thread::current().id();
        assert_eq!(ran_on.len(), 50);
        assert!(ran_on.into_iter().all(|r| r.unwrap() == (here, here)));
        assert_eq!(
            common::threads_named("current-thread-no-workers"),
            0,
            "a current-thread runtime starts no worker thread"
        );
    });
}

#[test]
fn rc_state_shared_by_100_local_tasks_woken_from_4_threads() {
    with_watchdog("current-thread local tasks", LIMIT, || {
        let runtime = current_thread();
        let here = thread::current().id();
        let pushed = Rc::new(RefCell::new(Vec::new()));
        let ran_on: Rc<RefCell<Vec<ThreadId>>> = Rc::new(RefCell::new(Vec::new()));
        let (senders, tasks): (Vec<_>, Vec<_>) = runtime.block_on(async {
            (0..100)
                .map(|n| {
                    let (tx, rx) = oneshot::channel::<usize>();
                    let (pushed, ran_on) = (pushed.clone(), ran_on.clone());
                    let task = spindle::spawn_local(async move {
                        ran_on.borrow_mut().push(thread::current().id());
                        let got = rx.await.unwrap();
                        ran_on.borrow_mut().push(thread::current().id());
                        pushed.borrow_mut().push(got);
                        assert_eq!(got, n);
                    });
                    (tx, task)
                })
                .unzip()
        });
        // Fed from 4 threads while no block_on runs, then collected in the next one.
        let mut batches: Vec<Vec<(usize, oneshot::Sender<usize>)>> =
            (0..4).map(|_| Vec::new()).collect();
        for (n, tx) in senders.into_iter().enumerate() {
            batches[n % 4].push((n, tx));
        }
        let feeders: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                thread::spawn(move || {
                    for (n, tx) in batch {
                        tx.send(n).unwrap();
                    }
                })
            })
            .collect();
        for feeder in feeders {
            feeder.join().unwrap();
        }
        runtime.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        let mut pushed = pushed.borrow().clone();
        pushed.sort_unstable();
        assert_eq!(pushed, (0..100).collect::<Vec<_>>());
        assert_eq!(ran_on.borrow().len(), 200);
        assert!(ran_on.borrow().iter().all(|&id| id == here));
    });
}

#[test]
fn tasks_spawned_in_one_block_on_finish_in_the_next() {
    with_watchdog("current-thread across block_on", LIMIT, || {
        let runtime = current_thread();
        let (tx, rx) = oneshot::channel::<u32>();
        let task =
            runtime.block_on(async { Some(spindle::spawn(async move { rx.await.unwrap() + 1 })) });
        let task = task.unwrap();
        tx.send(41).unwrap();
        // Between the calls nothing runs the task.
        thread::sleep(Duration::from_millis(20));
        assert!(!task.is_finished());
        assert_eq!(runtime.block_on(task).unwrap(), 42);
    });
}

#[test]
fn a_task_that_blocks_holds_up_the_others() {
    with_watchdog("current-thread blocking task", LIMIT, || {
        let runtime = current_thread();
        let ((blocker_start, blocker_end), other) = runtime.block_on(async {
            let blocker = spindle::spawn(async {
                let start = Instant::now();
                thread::sleep(Duration::from_millis(100));
                (start, Instant::now())
            });
            let other = spindle::spawn(async { Instant::now() });
            (blocker.await.unwrap(), other.await.unwrap())
        });
        // One thread: the other task ran before the blocking one or after it, never during
        // (on a multi-thread runtime another worker would have run it meanwhile).
        assert!(
            other <= blocker_start || other >= blocker_end,
            "a task ran while another blocked the only thread"
        );
    });
}

/// Records the thread it was dropped on.
struct DropRecorder(Arc<Mutex<Option<ThreadId>>>);

impl Drop for DropRecorder {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(thread::current().id());
    }
}

#[test]
fn dropping_the_runtime_cancels_what_is_left_on_this_thread() {
    with_watchdog("current-thread drop", LIMIT, || {
        let runtime = current_thread();
        let (send_dropped, local_dropped) =
            (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(None)));
        let (send_recorder, local_recorder) = (
            DropRecorder(send_dropped.clone()),
            DropRecorder(local_dropped.clone()),
        );
        let (detached, local) = runtime.block_on(async move {
            let detached = spindle::spawn(async move {
                let _keep = send_recorder;
                std::future::pending::<()>().await
            });
            let local = spindle::spawn_local(async move {
                let _keep = Rc::new(local_recorder);
                std::future::pending::<()>().await
            });
            spindle::yield_now().await;
            (Some(detached), Some(local))
        });
        assert_eq!(*send_dropped.lock().unwrap(), None);
        assert_eq!(*local_dropped.lock().unwrap(), None);
        drop(runtime);
        let here = Some(thread::current().id());
        assert_eq!(*send_dropped.lock().unwrap(), here);
        assert_eq!(*local_dropped.lock().unwrap(), here);
        assert!(futures::executor::block_on(detached.unwrap())
            .unwrap_err()
            .is_cancelled());
        assert!(futures::executor::block_on(local.unwrap())
            .unwrap_err()
            .is_cancelled());
    });
}

#[test]
fn sleeps_timeouts_sockets_and_blocking_closures_work() {
    with_watchdog("current-thread drivers", LIMIT, || {
        let runtime = current_thread();
        runtime.block_on(async {
            let start = Instant::now();
            let sleeper = spindle::spawn(async {
                spindle::sleep(Duration::from_millis(30)).await;
                Instant::now()
            });
            spindle::sleep(Duration::from_millis(10)).await;
            assert!(sleeper.await.unwrap() >= start + Duration::from_millis(30));
            let late =
                spindle::timeout(Duration::from_millis(10), std::future::pending::<()>()).await;
            assert!(late.is_err());

            assert_eq!(loopback_echo(&[*b"hello"]).await, [*b"hello"]);

            let here = thread::current().id();
            let elsewhere = spindle::spawn_blocking(|| thread::current().id())
                .await
                .unwrap();
            assert_ne!(elsewhere, here, "spawn_blocking uses the blocking pool");
        });
    });
}

#[test]
fn a_spawn_from_another_thread_runs_on_the_block_on_thread() {
    with_watchdog("current-thread remote spawn", LIMIT, || {
        let runtime = current_thread();
        let handle = runtime.handle();
        let here = thread::current().id();
        let ran_on = runtime.block_on(async move {
            let task = thread::spawn(move || handle.spawn(async { thread::current().id() }))
                .join()
                .unwrap();
            task.await.unwrap()
        });
        assert_eq!(ran_on, here);
    });
}

#[test]
fn shutdown_runtime_policy_stops_block_on_with_the_tasks_panic() {
    with_watchdog("current-thread panic policy", LIMIT, || {
        let runtime = spindle::Builder::new_current_thread()
            .unhandled_panic(spindle::UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                drop(spindle::spawn(async { panic!("boom in a detached task") }));
                std::future::pending::<()>().await
            })
        }));
        let message = panic_message(&*outcome.unwrap_err());
        assert!(message.contains("boom in a detached task"), "{message}");
    });
}

#[test]
fn block_on_inside_a_task_panics_naming_the_fix() {
    let runtime = current_thread();
    let message = runtime.block_on(async {
        spindle::spawn(async {
            std::panic::catch_unwind(|| spindle::block_on(async {}))
                .map_err(|payload| panic_message(&*payload))
                .unwrap_err()
        })
        .await
        .unwrap()
    });
    assert!(message.contains("use .await"), "{message}");
}

/// Two threads call `block_on` on one current-thread runtime: the second waits for its own
/// future alone while the first runs the scheduler, parked on a channel only the second feeds.
/// The second starts once the first sends on the returned `Sender` from inside its
/// `block_on` (so it holds the scheduler by then: started any earlier, the second call could
/// take the scheduler first).
fn second_caller(
    second: impl FnOnce() + Send + 'static,
) -> (
    std::thread::JoinHandle<()>,
    std::sync::mpsc::Sender<()>,
    oneshot::Receiver<()>,
) {
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let waiter = thread::spawn(move || {
        started_rx.recv().unwrap();
        second();
        done_tx.send(()).unwrap();
    });
    (waiter, started_tx, done_rx)
}

#[test]
fn a_waiting_block_on_gets_a_fresh_budget_for_each_poll() {
    with_watchdog("current-thread waiting budget", LIMIT, || {
        let runtime = Arc::new(current_thread());
        let (holder_tx, holder_rx) = oneshot::channel::<()>();
        let second = runtime.clone();
        let (waiter, started, done) = second_caller(move || {
            // Far more budgeted operations (completed sleeps) than one budget allows.
            second.block_on(async {
                for _ in 0..1_000 {
                    spindle::sleep(Duration::ZERO).await;
                }
            });
            holder_tx.send(()).unwrap();
        });
        runtime.block_on(async {
            started.send(()).unwrap();
            holder_rx.await.unwrap();
            done.await.unwrap();
        });
        waiter.join().unwrap();
    });
}

#[test]
fn a_sleep_in_a_waiting_block_on_wakes_the_thread_running_the_runtime() {
    with_watchdog("current-thread waiting sleep", LIMIT, || {
        let runtime = Arc::new(current_thread());
        let second = runtime.clone();
        let (holder_tx, holder_rx) = oneshot::channel::<Instant>();
        let (waiter, started, done) = second_caller(move || {
            // Long enough for the first caller's worker to settle into an untimed park.
            thread::sleep(Duration::from_millis(100));
            let start = Instant::now();
            second.block_on(spindle::sleep(Duration::from_millis(50)));
            holder_tx.send(start).unwrap();
        });
        // The first caller parks with nothing to do but the second caller's timer.
        let (start, fired) = runtime.block_on(async {
            started.send(()).unwrap();
            let start = holder_rx.await.unwrap();
            done.await.unwrap();
            (start, Instant::now())
        });
        waiter.join().unwrap();
        assert!(fired - start >= Duration::from_millis(50));
    });
}

#[test]
fn spawn_local_in_a_waiting_block_on_panics_naming_the_fix() {
    with_watchdog("current-thread waiting spawn_local", LIMIT, || {
        let runtime = Arc::new(current_thread());
        let second = runtime.clone();
        let (message_tx, message_rx) = oneshot::channel::<String>();
        let (waiter, started, done) = second_caller(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                second.block_on(async { drop(spindle::spawn_local(async {})) })
            }));
            message_tx
                .send(panic_message(&*outcome.unwrap_err()))
                .unwrap();
        });
        let message = runtime.block_on(async {
            started.send(()).unwrap();
            let message = message_rx.await.unwrap();
            done.await.unwrap();
            message
        });
        waiter.join().unwrap();
        assert!(message.contains("another thread's block_on"), "{message}");
    });
}
