//! The scheduler's observability on its own: the task dump walking the registry while tasks
//! come and go, the unhandled-panic hook and the slow-poll watch. Small enough for Miri, which
//! checks the registry walk and the stamp's location pointer (scripts/miri.sh).

use futures::executor::block_on;
use spindle_scheduler::{Scheduler, SlowPoll, TaskState, ThreadParker};
use std::collections::HashSet;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

const TASKS: usize = if cfg!(miri) { 8 } else { 200 };

#[test]
fn dumps_see_every_live_task_while_tasks_come_and_go() {
    let scheduler = Scheduler::builder()
        .worker_threads(2)
        .build(|_| ThreadParker::new())
        .unwrap();
    let spawner = scheduler.spawner();
    let line = line!() + 2;
    let pending: Vec<_> = (0..TASKS)
        .map(|_| scheduler.spawn(std::future::pending::<()>()))
        .collect();
    let ids: HashSet<_> = pending.iter().map(|h| h.id()).collect();
    // Short tasks completing while the dumps walk the registry.
    let churn: Vec<_> = (0..TASKS)
        .map(|i| scheduler.spawn(async move { i }))
        .collect();
    for _ in 0..4 {
        let dump = spawner.dump();
        let listed: HashSet<_> = dump.tasks().iter().map(|t| t.id()).collect();
        assert!(ids.is_subset(&listed));
        for task in dump.tasks().iter().filter(|t| ids.contains(&t.id())) {
            assert_eq!(task.location().line(), line);
            assert!(task.polls() <= 1);
        }
    }
    for handle in churn {
        block_on(handle).unwrap();
    }
    for handle in &pending {
        handle.abort();
    }
    for handle in pending {
        assert!(block_on(handle).unwrap_err().is_cancelled());
    }
    assert!(spawner.dump().tasks().is_empty());
    assert_eq!(spawner.num_alive_tasks(), 0);
    assert_eq!(spawner.spawned_tasks_count(), 2 * TASKS as u64);
}

#[test]
fn an_idle_task_is_dumped_idle() {
    let scheduler = Scheduler::builder()
        .worker_threads(1)
        .build(|_| ThreadParker::new())
        .unwrap();
    let spawner = scheduler.spawner();
    let task = scheduler.spawn(std::future::pending::<()>());
    // A poll is counted when it starts: wait for the first one to end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let info = loop {
        let info = spawner.dump().tasks()[0].clone();
        if info.polls() > 0 && info.state() != TaskState::Running {
            break info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never polled, or stuck in its poll: {info}"
        );
        std::thread::yield_now();
    };
    assert_eq!(info.polls(), 1);
    assert_eq!(info.id(), task.id());
    assert_eq!(info.state(), TaskState::Idle);
    assert!(info
        .to_string()
        .starts_with(&format!("task {} idle ", task.id())));
}

#[test]
fn a_panic_nobody_reads_reaches_the_hook_once() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let scheduler = Scheduler::builder()
        .worker_threads(2)
        .on_unhandled_panic(move |id, location, error| {
            let _ = tx
                .lock()
                .unwrap()
                .send((id, location.line(), error.to_string()));
        })
        .build(|_| ThreadParker::new())
        .unwrap();
    let awaited = scheduler.spawn(async { panic!("read") });
    assert!(block_on(awaited).unwrap_err().is_panic());
    let line = line!() + 1;
    let detached = scheduler.spawn(async { panic!("unread") });
    let id = detached.id();
    drop(detached);
    let (reported, at, message) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!((reported, at), (id, line));
    assert!(message.contains("unread"), "{message}");
    drop(scheduler);
    assert!(rx.try_recv().is_err(), "the awaited panic was reported");
}

/// The hook is the user's code: its own panic is ignored, whether the unread output is dropped
/// by the handle (here, on the test thread) or by a worker (a detached task), and the worker
/// goes on running tasks.
#[test]
fn a_panicking_hook_neither_unwinds_into_the_dropper_nor_stops_a_worker() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let scheduler = Scheduler::builder()
        .worker_threads(1)
        .on_unhandled_panic({
            let calls = calls.clone();
            move |_, _, _| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                panic!("the hook panics too");
            }
        })
        .build(|_| ThreadParker::new())
        .unwrap();
    let finished = scheduler.spawn(async { panic!("unread, dropped by its handle") });
    // Generous: under ThreadSanitizer, printing the panic's backtrace alone took over 10 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !finished.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never finished"
        );
        std::thread::yield_now();
    }
    drop(finished);
    drop(scheduler.spawn(async { panic!("unread, dropped by the worker") }));
    assert_eq!(block_on(scheduler.spawn(async { 7 })).unwrap(), 7);
    while calls.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "a panic never reached the hook"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_slow_poll_is_reported_with_its_task() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let scheduler = Scheduler::builder()
        .worker_threads(2)
        .slow_poll_threshold(Duration::from_millis(20))
        .on_slow_poll(move |report: &SlowPoll| {
            let _ = tx.lock().unwrap().send(report.clone());
        })
        .build(|_| ThreadParker::new())
        .unwrap();
    let slow = scheduler.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    let id = slow.id();
    block_on(slow).unwrap();
    drop(scheduler);
    let reports: Vec<_> = rx.try_iter().collect();
    assert!(reports.iter().all(|r| r.task() == id), "{reports:?}");
    let ends: Vec<_> = reports.iter().filter(|r| !r.still_running()).collect();
    assert_eq!(ends.len(), 1, "{reports:?}");
    assert!(ends[0].duration() >= Duration::from_millis(100));
}
