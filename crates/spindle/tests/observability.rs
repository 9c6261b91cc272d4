//! Seeing inside a runtime: task ids and spawn locations, metrics, the task dump, slow polls,
//! thread hooks, and the unhandled-panic policy (API.md, "Seeing inside a runtime").

mod common;

use common::with_watchdog;
use spindle::TaskState;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn task_ids_are_unique_and_seen_from_inside() {
    with_watchdog("task_ids", Duration::from_secs(20), || {
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        assert_eq!(spindle::task::try_id(), None);
        runtime.block_on(async {
            // The future given to block_on is not a task.
            assert_eq!(spindle::task::try_id(), None);
            let handles: Vec<_> = (0..100)
                .map(|_| spindle::spawn(async { spindle::task::id() }))
                .collect();
            let ids: Vec<_> = handles.iter().map(|h| h.id()).collect();
            let unique: HashSet<_> = ids.iter().copied().collect();
            assert_eq!(unique.len(), ids.len());
            for (handle, id) in handles.into_iter().zip(ids) {
                assert_eq!(handle.await.unwrap(), id);
            }
            let blocking = spindle::spawn_blocking(spindle::task::try_id);
            let id = blocking.id();
            assert_eq!(blocking.await.unwrap(), Some(id));
        });
    });
}

/// Records `task::try_id()` when dropped.
struct RecordIdOnDrop(std::sync::mpsc::Sender<Option<spindle::task::Id>>);

impl Drop for RecordIdOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(spindle::task::try_id());
    }
}

#[test]
fn a_tasks_id_is_seen_in_its_futures_destructor_and_nowhere_after() {
    with_watchdog("task id in drop", Duration::from_secs(20), || {
        let runtime = spindle::Builder::new().worker_threads(1).build().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Completed: the future (and what it holds) is dropped right after its last poll.
        let guard = RecordIdOnDrop(tx.clone());
        let done = runtime.spawn(async move {
            spindle::yield_now().await;
            drop(guard);
            spindle::task::id()
        });
        let id = runtime.block_on(done).unwrap();
        assert_eq!(rx.recv().unwrap(), Some(id));
        // Aborted while idle, or during the poll that says it started: the future is dropped
        // as that task either way.
        let guard = RecordIdOnDrop(tx.clone());
        let (started_tx, started_rx) = futures::channel::oneshot::channel();
        let idle = runtime.spawn(async move {
            let _guard = guard;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        });
        let idle_id = idle.id();
        runtime.block_on(started_rx).unwrap();
        idle.abort();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            Some(idle_id)
        );
        // A local task run between polls of block_on's future: its id there, none after.
        let outside = runtime.block_on(async {
            let inner = spindle::spawn_local(async { spindle::task::id() });
            let inner_id = inner.id();
            assert_eq!(inner.await.unwrap(), inner_id);
            spindle::task::try_id()
        });
        assert_eq!(outside, None);
    });
}

#[test]
#[should_panic(expected = "outside a task")]
fn task_id_outside_a_task_panics() {
    spindle::task::id();
}

/// Waits until `done()` holds, or fails after `limit` with `what`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_thousand_idle_tasks_are_counted_and_dumped_with_their_spawn_line() {
    with_watchdog("thousand_idle", Duration::from_secs(30), || {
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        let handle = runtime.handle();
        let alive_before = handle.metrics().num_alive_tasks();
        assert_eq!(alive_before, 0);
        let mut senders = Vec::new();
        let mut ids = HashSet::new();
        let spawn_line = line!() + 4;
        for _ in 0..1000 {
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            senders.push(tx);
            let task = runtime.spawn(async move {
                let _ = rx.await;
            });
            ids.insert(task.id());
        }
        assert_eq!(handle.metrics().num_alive_tasks(), 1000);
        wait_until(
            Duration::from_secs(10),
            "every task polled once and idle",
            || {
                handle
                    .dump()
                    .tasks()
                    .iter()
                    .all(|t| t.state() == TaskState::Idle && t.polls() == 1)
            },
        );
        let dump = handle.dump();
        assert_eq!(dump.tasks().len(), 1000);
        for task in dump.tasks() {
            assert!(ids.contains(&task.id()));
            assert_eq!(task.location().file(), file!());
            assert_eq!(task.location().line(), spawn_line);
            assert!(task.age() < Duration::from_secs(30));
        }
        let oldest_first: Vec<_> = dump.tasks().iter().map(|t| t.age()).collect();
        assert!(oldest_first.windows(2).all(|w| w[0] >= w[1]));
        let text = dump.to_string();
        assert_eq!(text.lines().count(), 1000);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("task "), "{first}");
        assert!(first.contains(" idle "), "{first}");
        assert!(first.contains(" polls=1 "), "{first}");
        assert!(
            first.contains(&format!(" spawned at {}:{spawn_line}:", file!())),
            "{first}"
        );
        drop(senders);
        wait_until(Duration::from_secs(10), "every task finished", || {
            handle.metrics().num_alive_tasks() == 0
        });
        assert!(handle.dump().tasks().is_empty());
    });
}

#[test]
fn counters_move_with_what_the_runtime_did() {
    with_watchdog("counters", Duration::from_secs(60), || {
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        let handle = runtime.handle();
        let polls = |m: &spindle::RuntimeMetrics| -> u64 {
            (0..m.num_workers()).map(|i| m.worker(i).poll_count()).sum()
        };
        let before = handle.metrics();
        assert_eq!(before.num_workers(), 2);
        assert_eq!(before.spawned_tasks_count(), 0);
        // 100 tasks that each yield 9 times: at least 1,000 polls.
        runtime.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    spindle::spawn(async {
                        for _ in 0..9 {
                            spindle::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(handle.metrics().spawned_tasks_count(), 100);
        // A worker counts a poll when it returns, which may be just after the joiner saw the
        // task's output.
        wait_until(Duration::from_secs(5), "1,000 polls counted", || {
            polls(&handle.metrics()) >= polls(&before) + 1000
        });

        // Many tasks spawned from one worker, each busy for a while: the other worker, idle,
        // steals some of them.
        let stolen = |m: &spindle::RuntimeMetrics| -> u64 {
            (0..m.num_workers())
                .map(|i| m.worker(i).steal_count())
                .sum()
        };
        runtime.block_on(async {
            spindle::spawn(async {
                let tasks: Vec<_> = (0..200)
                    .map(|_| {
                        spindle::spawn(async {
                            std::thread::sleep(Duration::from_micros(200));
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
            .await
            .unwrap();
        });
        assert_eq!(handle.metrics().spawned_tasks_count(), 100 + 1 + 200);
        wait_until(Duration::from_secs(5), "a steal counted", || {
            stolen(&handle.metrics()) > 0
        });
        let stole = handle.metrics();
        for i in 0..2 {
            let w = stole.worker(i);
            assert!(w.steal_operations() <= w.steal_count(), "{w:?}");
        }
        // Parking and busy time: a worker that polled has been busy, and has parked since.
        wait_until(
            Duration::from_secs(5),
            "workers parked and counted busy time",
            || {
                let m = handle.metrics();
                (0..2).all(|i| m.worker(i).park_count() > 0)
                    && (0..2).any(|i| m.worker(i).busy_duration() >= Duration::from_millis(10))
            },
        );
        let idle = handle.metrics();
        assert_eq!(idle.injector_depth(), 0);
        assert!((0..2).all(|i| idle.worker(i).local_queue_depth() == 0));
    });
}

#[test]
fn the_dump_does_not_wait_for_a_worker_stuck_in_a_long_poll() {
    with_watchdog("dump_while_stuck", Duration::from_secs(30), || {
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        let handle = runtime.handle();
        let _idle: Vec<_> = (0..10)
            .map(|_| runtime.spawn(std::future::pending::<()>()))
            .collect();
        // Each polled once and back to idle before the stuck task starts: a dump taken while
        // the other worker is inside one of those first polls would rightly show it running.
        let polled_and_idle = || {
            handle
                .dump()
                .tasks()
                .iter()
                .filter(|t| t.state() == TaskState::Idle && t.polls() == 1)
                .count()
        };
        assert_eq!(common::settled(10, polled_and_idle), 10);
        let (started, has_started) = std::sync::mpsc::channel();
        let stuck_line = line!() + 1;
        let stuck = runtime.spawn(async move {
            started.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        has_started.recv().unwrap();
        let start = Instant::now();
        let dump = handle.dump();
        let metrics = handle.metrics();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(100), "the dump took {took:?}");
        assert_eq!(dump.tasks().len(), 11);
        assert_eq!(metrics.num_alive_tasks(), 11);
        let running: Vec<_> = dump
            .tasks()
            .iter()
            .filter(|t| t.state() == TaskState::Running)
            .collect();
        assert_eq!(running.len(), 1, "{dump}");
        assert_eq!(running[0].id(), stuck.id());
        assert_eq!(running[0].location().line(), stuck_line);
        runtime.block_on(stuck).unwrap();
    });
}

/// A task spawned from outside the workers takes a worker's recent clock reading as its spawn
/// time, not a clock reading of its own. That reading must not be old where no worker runs to
/// renew it: the only worker parked, a current-thread runtime between `block_on` calls, every
/// worker parked, and one worker stuck in a long poll while the other keeps watch. In each the
/// dump's age of a task spawned just before it must not exceed the time since the spawn (a
/// reading left from before the 600 ms pause would add those 600 ms).
#[test]
fn a_task_spawned_from_outside_is_dated_when_it_was_spawned() {
    with_watchdog("outside_spawn_age", Duration::from_secs(30), || {
        // The dump's clock is coarse (a tick behind at most); and on a loaded machine the
        // watcher's 2 ms timed park can end late. Well under the 600 ms a stale reading adds.
        const SLACK: Duration = Duration::from_millis(250);
        let check_a_fresh_spawn = |runtime: &spindle::Runtime, case: &str| {
            let handle = runtime.handle();
            let spawned = Instant::now();
            let task = runtime.spawn(std::future::pending::<()>());
            let dump = handle.dump();
            let bound = spawned.elapsed() + SLACK;
            let info = dump.tasks().iter().find(|t| t.id() == task.id()).unwrap();
            assert!(
                info.age() <= bound,
                "{case}: age {:?}, spawned {bound:?} ago at most",
                info.age()
            );
            task.abort();
        };
        // Work first, so that the workers have published readings; then every worker parks.
        let work_then_pause = |runtime: &spindle::Runtime| {
            runtime.block_on(async {
                for _ in 0..1000 {
                    spindle::spawn(async {}).await.unwrap();
                }
            });
            std::thread::sleep(Duration::from_millis(600));
        };
        let one_worker = spindle::Builder::new().worker_threads(1).build().unwrap();
        work_then_pause(&one_worker);
        check_a_fresh_spawn(&one_worker, "the only worker parked");
        let current_thread = spindle::Builder::new_current_thread().build().unwrap();
        work_then_pause(&current_thread);
        check_a_fresh_spawn(&current_thread, "a current-thread runtime outside block_on");
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        work_then_pause(&runtime);
        check_a_fresh_spawn(&runtime, "every worker parked");

        if num_cpus::get() < 2 {
            // With one CPU, rule 7 of the idle protocol wakes no second worker, so nobody
            // keeps watch over the stuck one and the reading is as old as the stall
            // (observability.md, "The task dump").
            return;
        }
        let (started, has_started) = std::sync::mpsc::channel();
        let stuck = runtime.spawn(async move {
            started.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        has_started.recv().unwrap();
        std::thread::sleep(Duration::from_millis(600));
        check_a_fresh_spawn(&runtime, "one worker stuck, the other keeping watch");
        runtime.block_on(stuck).unwrap();
    });
}

#[test]
fn thread_hooks_run_on_every_worker_and_blocking_thread() {
    use std::sync::{Arc, Mutex};
    with_watchdog("thread_hooks", Duration::from_secs(30), || {
        let started = Arc::new(Mutex::new(HashSet::new()));
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let (on_start, on_stop) = (started.clone(), stopped.clone());
        let runtime = spindle::Builder::new()
            .worker_threads(3)
            .on_thread_start(move || {
                let name = std::thread::current().name().unwrap().to_owned();
                assert!(on_start.lock().unwrap().insert(name), "started twice");
            })
            .on_thread_stop(move || {
                let name = std::thread::current().name().unwrap().to_owned();
                on_stop.lock().unwrap().push(name);
            })
            .build()
            .unwrap();
        let blocking_thread = runtime
            .block_on(runtime.spawn_blocking(|| std::thread::current().name().unwrap().to_owned()))
            .unwrap();
        // A worker thread runs its hook as it starts, which may be after `build` returned.
        wait_until(Duration::from_secs(10), "4 threads started", || {
            started.lock().unwrap().len() >= 4
        });
        std::thread::sleep(Duration::from_millis(20));
        let names = started.lock().unwrap().clone();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.contains(&blocking_thread));
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("spindle-worker-"))
                .count(),
            4,
            "{names:?}"
        );
        assert!(stopped.lock().unwrap().is_empty());
        drop(runtime);
        let mut stops = stopped.lock().unwrap().clone();
        stops.sort();
        let mut starts: Vec<_> = names.into_iter().collect();
        starts.sort();
        assert_eq!(stops, starts);
    });
}

#[test]
fn an_unawaited_panic_shuts_the_runtime_down_under_shutdown_runtime() {
    with_watchdog("panic_shutdown", Duration::from_secs(30), || {
        let runtime = spindle::Builder::new()
            .worker_threads(2)
            .unhandled_panic(spindle::UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        let handle = runtime.handle();
        let survivor = runtime.spawn(std::future::pending::<()>());
        let panic_line = line!() + 3;
        let trigger = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(handle.spawn(async { panic!("the detached task failed") }));
        });
        let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(std::future::pending::<()>())
        }));
        trigger.join().unwrap();
        let message = *stopped.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("the detached task failed"), "{message}");
        assert!(
            message.contains(&format!("{}:{panic_line}:", file!())),
            "{message}"
        );
        // Every task was cancelled, and later block_on calls panic too.
        assert!(spindle::block_on(survivor).unwrap_err().is_cancelled());
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async { 1 })
        }));
        assert!(again.is_err());
    });
}

#[test]
fn an_unawaited_panic_is_ignored_by_default() {
    with_watchdog("panic_ignore", Duration::from_secs(30), || {
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        let handle = runtime.handle();
        drop(runtime.spawn(async { panic!("ignored") }));
        // A handle dropped after the panic, never awaited, too.
        let late = runtime.spawn(async { panic!("ignored as well") });
        while !late.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(late);
        std::thread::sleep(Duration::from_millis(50));
        let answer = runtime.block_on(async { spindle::spawn(async { 42 }).await.unwrap() });
        assert_eq!(answer, 42);
        assert_eq!(handle.metrics().num_alive_tasks(), 0);
    });
}

#[test]
fn a_long_poll_is_reported_while_it_runs_and_when_it_ends() {
    use std::sync::{Arc, Mutex};
    with_watchdog("slow_poll", Duration::from_secs(30), || {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = reports.clone();
        let runtime = spindle::Builder::new()
            .worker_threads(2)
            .slow_poll_threshold(Duration::from_millis(50))
            .on_slow_poll(move |report| sink.lock().unwrap().push((Instant::now(), report.clone())))
            .build()
            .unwrap();
        // Polls in 1 ms bursts, for 300 ms: never reported.
        let bursts = runtime.spawn(async {
            for _ in 0..300 {
                std::thread::sleep(Duration::from_millis(1));
                spindle::yield_now().await;
            }
        });
        runtime.block_on(bursts).unwrap();
        assert!(
            reports.lock().unwrap().is_empty(),
            "{:?}",
            reports.lock().unwrap()
        );

        let blocker_line = line!() + 1;
        let blocker = runtime.spawn(async { std::thread::sleep(Duration::from_millis(300)) });
        let id = blocker.id();
        let started = Instant::now();
        runtime.block_on(blocker).unwrap();
        let ended = Instant::now();
        // The report of the end is made just after the poll returns.
        common::settled(1, || {
            reports
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, r)| !r.still_running())
                .count()
        });
        let reports = reports.lock().unwrap().clone();
        assert_eq!(reports.len(), 2, "{reports:?}");
        let (seen, stall) = &reports[0];
        assert!(stall.still_running(), "{reports:?}");
        assert_eq!(stall.task(), id);
        assert_eq!(stall.location().line(), blocker_line);
        assert!(stall.duration() >= Duration::from_millis(50), "{stall:?}");
        // Reported while it ran, within about twice the threshold (with slack for a loaded
        // host, still well before the poll's end).
        assert!(*seen < ended, "{reports:?}");
        assert!(
            seen.duration_since(started) < Duration::from_millis(250),
            "{reports:?}"
        );
        let (_, end) = &reports[1];
        assert!(!end.still_running());
        assert_eq!(end.task(), id);
        assert!(end.duration() >= Duration::from_millis(300), "{end:?}");
        assert!(
            end.to_string()
                .contains(&format!("{}:{blocker_line}:", file!())),
            "{end}"
        );
    });
}

#[test]
fn every_spawn_entry_point_records_its_callers_line() {
    with_watchdog("spawn_locations", Duration::from_secs(20), || {
        let runtime = spindle::Builder::new().worker_threads(2).build().unwrap();
        let handle = runtime.handle();
        let mut expected = Vec::new();
        let mut tasks = Vec::new();
        expected.push(line!() + 1);
        tasks.push(runtime.spawn(std::future::pending::<()>()));
        expected.push(line!() + 1);
        tasks.push(handle.spawn(std::future::pending::<()>()));
        let mut set = spindle::JoinSet::new();
        runtime.block_on(async {
            expected.push(line!() + 1);
            tasks.push(spindle::spawn(std::future::pending::<()>()));
            expected.push(line!() + 1);
            set.spawn(std::future::pending::<()>());
        });
        let mut lines: Vec<_> = handle
            .dump()
            .tasks()
            .iter()
            .map(|t| {
                assert_eq!(t.location().file(), file!());
                t.location().line()
            })
            .collect();
        lines.sort_unstable();
        assert_eq!(lines, expected);
        drop(set);
    });
}
