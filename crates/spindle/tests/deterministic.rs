//! Deterministic runs: the same seed polls the same program's tasks in the same order, other
//! seeds explore other orders, and a failing seeded test names its seed.

mod common;

use common::{loopback_echo, with_watchdog, XorShift};
use futures::channel::oneshot;
use std::cell::RefCell;
use std::collections::HashSet;
use std::process::Command;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// One event of a run: a task pushed its id (with the clock's reading, relative to the start),
/// or the `JoinSet` collected a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Event {
    Pushed { task: u32, at: Duration },
    Collected(u32),
}

/// 20 tasks whose output depends on scheduling, started after `blocking_wait` in a
/// `spawn_blocking` closure if given. Tasks 0..10 each yield a number of times,
/// push their id, and wake task 10 + i through a channel; tasks 10..20 wait for that wake,
/// sleep a few milliseconds of the paused clock, yield, and push. A `JoinSet` collects all
/// 20 in completion order.
fn scheduling_dependent_run(seed: u64, blocking_wait: Option<Duration>) -> Vec<Event> {
    let runtime = spindle::Builder::new_deterministic(seed)
        .worker_threads(3)
        .build()
        .unwrap();
    assert_eq!(runtime.seed(), Some(seed));
    runtime.block_on(async {
        if let Some(wait) = blocking_wait {
            spindle::spawn_blocking(move || std::thread::sleep(wait))
                .await
                .unwrap();
        }
        let start = spindle::time::now();
        let events = Arc::new(Mutex::new(Vec::new()));
        // The program's own generator, not the runtime's: how many times each task yields and
        // sleeps is the same on every run; only the schedule can change the output.
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        let mut set = spindle::JoinSet::new();
        let mut wakes = Vec::new();
        for task in 0..10u32 {
            let (wake, woken) = oneshot::channel::<()>();
            wakes.push(woken);
            let (yields, events) = (rng.below(6), events.clone());
            set.spawn(async move {
                for _ in 0..yields {
                    spindle::yield_now().await;
                }
                let at = spindle::time::now() - start;
                events.lock().unwrap().push(Event::Pushed { task, at });
                wake.send(()).unwrap();
                task
            });
        }
        for (i, woken) in wakes.into_iter().enumerate() {
            let task = 10 + i as u32;
            let (sleep_ms, yields, events) = (rng.below(4), rng.below(4), events.clone());
            set.spawn(async move {
                woken.await.unwrap();
                spindle::sleep(Duration::from_millis(sleep_ms)).await;
                for _ in 0..yields {
                    spindle::yield_now().await;
                }
                let at = spindle::time::now() - start;
                events.lock().unwrap().push(Event::Pushed { task, at });
                task
            });
        }
        while let Some(done) = set.join_next().await {
            events.lock().unwrap().push(Event::Collected(done.unwrap()));
        }
        let events = std::mem::take(&mut *events.lock().unwrap());
        events
    })
}

#[test]
fn the_same_seed_replays_the_same_sequence_50_times_and_other_seeds_differ() {
    with_watchdog("deterministic-replay", LIMIT, || {
        let first = scheduling_dependent_run(7, None);
        assert_eq!(first.len(), 40, "{first:?}");
        for run in 1..50 {
            let again = scheduling_dependent_run(7, None);
            assert_eq!(again, first, "run {run} of seed 7 differs from the first");
        }
        let sequences: HashSet<Vec<Event>> = (0..20)
            .map(|seed| scheduling_dependent_run(seed, None))
            .collect();
        assert!(
            sequences.len() >= 2,
            "seeds 0..20 all gave the same sequence: the seed chooses nothing"
        );
    });
}

#[test]
fn a_deterministic_runtime_runs_every_task_on_the_calling_thread_with_the_clock_paused() {
    with_watchdog("deterministic-one-thread", LIMIT, || {
        let runtime = spindle::Builder::new_deterministic(1)
            .worker_threads(4)
            .build()
            .unwrap();
        let caller = std::thread::current().id();
        let real = std::time::Instant::now();
        let (threads, waited) = runtime.block_on(async {
            let start = spindle::time::now();
            let tasks: Vec<_> = (1..=50u64)
                .map(|n| {
                    spindle::spawn(async move {
                        spindle::sleep(Duration::from_secs(60 * n)).await;
                        std::thread::current().id()
                    })
                })
                .collect();
            let threads: Vec<_> = spindle::join_all(tasks)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            (threads, spindle::time::now() - start)
        });
        assert!(threads.iter().all(|&thread| thread == caller));
        assert_eq!(waited, Duration::from_secs(50 * 60));
        assert!(
            real.elapsed() < Duration::from_secs(20),
            "{:?}",
            real.elapsed()
        );
        let metrics = runtime.handle().metrics();
        assert_eq!(metrics.num_workers(), 4);
    });
}

#[test]
fn local_tasks_share_rc_state_on_a_deterministic_runtime() {
    with_watchdog("deterministic-local", LIMIT, || {
        let runtime = spindle::Builder::new_deterministic(5).build().unwrap();
        let log = runtime.block_on(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..100)
                .map(|n| {
                    let log = log.clone();
                    spindle::spawn_local(async move {
                        spindle::yield_now().await;
                        log.borrow_mut().push(n);
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            Rc::try_unwrap(log).unwrap().into_inner()
        });
        let mut sorted = log.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    });
}

/// Counts its drops, and checks they happen on `owner`.
struct DropOnOwner {
    owner: std::thread::ThreadId,
    drops: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for DropOnOwner {
    fn drop(&mut self) {
        assert_eq!(std::thread::current().id(), self.owner);
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn local_tasks_spawned_on_every_logical_worker_are_cancelled_on_the_thread_when_dropped() {
    with_watchdog("deterministic-local-drop", LIMIT, || {
        let runtime = spindle::Builder::new_deterministic(11)
            .worker_threads(4)
            .build()
            .unwrap();
        let owner = std::thread::current().id();
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let finished = runtime.block_on(async {
            // Spawned with `spawn`, the 40 parents run on whichever logical worker the seed
            // picks, and each pins its local task to that worker.
            let parents: Vec<_> = (0..40)
                .map(|n| {
                    let drops = drops.clone();
                    spindle::spawn(async move {
                        spindle::yield_now().await;
                        let guard = Rc::new(DropOnOwner { owner, drops });
                        let local = spindle::spawn_local(async move {
                            let _guard = guard;
                            if n % 2 == 0 {
                                std::future::pending::<()>().await;
                            }
                            std::thread::current().id()
                        });
                        if n % 2 == 1 {
                            Some(local.await.unwrap())
                        } else {
                            None
                        }
                    })
                })
                .collect();
            let mut finished = Vec::new();
            for parent in parents {
                finished.extend(parent.await.unwrap());
            }
            finished
        });
        assert_eq!(finished.len(), 20);
        assert!(finished.iter().all(|&thread| thread == owner));
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 20);
        let metrics = runtime.handle().metrics();
        assert_eq!(metrics.num_alive_tasks(), 20, "the pending local tasks");
        drop(runtime);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 40);
    });
}

#[test]
fn real_sockets_and_blocking_closures_work_outside_the_seed() {
    with_watchdog("deterministic-io", LIMIT, || {
        let runtime = spindle::Builder::new_deterministic(9).build().unwrap();
        let echoed = runtime.block_on(async {
            let back = loopback_echo(&[*b"hello"]).await[0];
            let sum = spindle::spawn_blocking(|| (1..=10u32).sum::<u32>())
                .await
                .unwrap();
            (back, sum)
        });
        assert_eq!(echoed, (*b"hello", 55));
    });
}

#[test]
fn a_wait_for_another_thread_does_not_change_the_schedule_after_it() {
    // The wait's length, and how many times the parked thread looks at the paused clock
    // meanwhile, are real time's; what follows the wait must not depend on them.
    with_watchdog("deterministic-after-wait", LIMIT, || {
        let first = scheduling_dependent_run(7, Some(Duration::from_millis(30)));
        for run in 1..8 {
            assert_eq!(
                scheduling_dependent_run(7, Some(Duration::from_millis(30))),
                first,
                "run {run} of seed 7 differs from the first"
            );
        }
    });
}

/// Run as a child by the test below (`SPINDLE_SEEDED_FAILURE` set): then it fails, by panic
/// or by `Err`. Run plainly, it checks that a seeded test sees the paused clock and its own
/// thread.
#[spindle::test(seed = 7)]
async fn seeded_child() -> Result<(), String> {
    let here = std::thread::current().id();
    let start = spindle::time::now();
    let task = spindle::spawn(async {
        spindle::sleep(Duration::from_secs(86_400)).await;
        std::thread::current().id()
    });
    assert_eq!(task.await.unwrap(), here);
    assert_eq!(spindle::time::now() - start, Duration::from_secs(86_400));
    match std::env::var("SPINDLE_SEEDED_FAILURE").as_deref() {
        Ok("panic") => panic!("failing on purpose"),
        Ok("err") => Err("failing on purpose".into()),
        _ => Ok(()),
    }
}

/// Runs `seeded_child` in a child process with `failure` asked for, and `SPINDLE_SEED` if
/// given: the child's output, and whether it passed.
fn run_seeded_child(failure: &str, seed: Option<&str>) -> (String, bool) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "seeded_child", "--test-threads=1"])
        .env("SPINDLE_SEEDED_FAILURE", failure)
        .env_remove("SPINDLE_SEED");
    if let Some(seed) = seed {
        command.env("SPINDLE_SEED", seed);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (text, output.status.success())
}

#[test]
fn a_failing_seeded_test_prints_its_seed_and_spindle_seed_overrides_it() {
    with_watchdog("deterministic-seed-report", LIMIT, || {
        let (text, passed) = run_seeded_child("panic", None);
        assert!(!passed, "{text}");
        assert!(text.contains("spindle: seed 7 "), "{text}");
        let (text, passed) = run_seeded_child("err", None);
        assert!(!passed, "{text}");
        assert!(text.contains("spindle: seed 7 "), "{text}");
        let (text, passed) = run_seeded_child("panic", Some("12345"));
        assert!(!passed, "{text}");
        assert!(text.contains("spindle: seed 12345 "), "{text}");
        assert!(!text.contains("spindle: seed 7 "), "{text}");
        let (text, passed) = run_seeded_child("none", None);
        assert!(passed, "{text}");
        assert!(!text.contains("spindle: seed"), "{text}");
        let (text, passed) = run_seeded_child("none", Some("not-a-number"));
        assert!(!passed, "{text}");
        assert!(
            text.contains("SPINDLE_SEED=\"not-a-number\" is not a seed"),
            "{text}"
        );
    });
}
