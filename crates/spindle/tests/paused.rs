//! Paused time, on every flavour: sleeps of hours in microseconds, in deadline order;
//! `advance` firing exactly what falls due; and no jump while any task can still run.

mod common;

use common::{loopback_echo, panic_message, with_watchdog, XorShift};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn paused(workers: usize) -> spindle::Runtime {
    spindle::Builder::new()
        .worker_threads(workers)
        .start_paused(true)
        .build()
        .unwrap()
}

/// 10,000 tasks each sleeping 1 s to 1 h: their completion order, and how far the clock
/// moved and how long it took in real time.
fn ten_thousand_sleeps(
    runtime: &spindle::Runtime,
) -> (Vec<Duration>, Duration, Duration, Duration) {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let lengths: Vec<Duration> = (0..10_000)
        .map(|_| Duration::from_millis(1_000 + rng.below(3_599_000)))
        .collect();
    let longest = *lengths.iter().max().unwrap();
    let real = Instant::now();
    let (order, moved) = runtime.block_on(async move {
        let start = spindle::time::now();
        let finished = Arc::new(Mutex::new(Vec::with_capacity(10_000)));
        let tasks: Vec<_> = lengths
            .into_iter()
            .map(|length| {
                let finished = finished.clone();
                spindle::spawn(async move {
                    spindle::sleep(length).await;
                    finished.lock().unwrap().push(length);
                })
            })
            .collect();
        spindle::join_all(tasks).await;
        let order = std::mem::take(&mut *finished.lock().unwrap());
        (order, spindle::time::now() - start)
    });
    (order, moved, longest, real.elapsed())
}

fn assert_hours_of_sleeps_in_deadline_order(runtime: &spindle::Runtime) {
    let (order, moved, longest, real) = ten_thousand_sleeps(runtime);
    assert_eq!(order.len(), 10_000);
    // Deadlines round up to the timer's 10 µs tick: two lengths in one tick may swap.
    let tick = spindle_timer::TICK;
    for pair in order.windows(2) {
        assert!(
            pair[0] <= pair[1] + tick,
            "a sleep of {:?} finished after one of {:?}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        moved >= longest && moved <= longest + 2 * tick,
        "moved {moved:?}, longest {longest:?}"
    );
    assert!(
        real < Duration::from_secs(10),
        "an hour of paused sleeps took {real:?} of real time"
    );
}

#[test]
fn hours_of_sleeps_finish_at_once_in_deadline_order_on_two_workers() {
    with_watchdog("paused sleeps, two workers", LIMIT, || {
        assert_hours_of_sleeps_in_deadline_order(&paused(2));
    });
}

#[test]
fn hours_of_sleeps_finish_at_once_in_deadline_order_on_a_current_thread_runtime() {
    with_watchdog("paused sleeps, current thread", LIMIT, || {
        let runtime = spindle::Builder::new_current_thread()
            .start_paused(true)
            .build()
            .unwrap();
        assert_hours_of_sleeps_in_deadline_order(&runtime);
    });
}

#[test]
fn advance_fires_exactly_the_sleeps_due_within_it() {
    with_watchdog("paused advance", LIMIT, || {
        let runtime = paused(2);
        runtime.block_on(async {
            let done = Arc::new(AtomicUsize::new(0));
            for seconds in 1..=20u64 {
                let done = done.clone();
                drop(spindle::spawn(async move {
                    spindle::sleep(Duration::from_secs(seconds)).await;
                    done.fetch_add(1, SeqCst);
                }));
            }
            // Let every task arm its sleep.
            while spindle::Handle::current().armed_timers() < 20 {
                spindle::yield_now().await;
            }
            spindle::time::advance(Duration::from_secs(10)).await;
            // Busy here, inside this poll, so that the clock cannot jump meanwhile: the ten
            // woken tasks finish, and no other.
            let real = Instant::now();
            while done.load(SeqCst) < 10 && real.elapsed() < Duration::from_secs(10) {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(done.load(SeqCst), 10);
        });
    });
}

#[test]
fn the_clock_does_not_jump_while_a_task_can_still_run() {
    with_watchdog("paused spinner", LIMIT, || {
        let runtime = paused(2);
        let (spinner_done, sleeper_woke) = runtime.block_on(async {
            let sleeper = spindle::spawn(async {
                spindle::sleep(Duration::from_secs(3600)).await;
                Instant::now()
            });
            let spinner = spindle::spawn(async {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(50) {
                    spindle::yield_now().await;
                }
                Instant::now()
            });
            (spinner.await.unwrap(), sleeper.await.unwrap())
        });
        assert!(
            sleeper_woke >= spinner_done,
            "the clock jumped an hour while a task was still running"
        );
    });
}

#[test]
fn a_blocking_closure_holds_the_clock_until_it_ends() {
    with_watchdog("paused blocking", LIMIT, || {
        let runtime = paused(2);
        let finished_first = runtime.block_on(async {
            let blocking_done = Arc::new(AtomicBool::new(false));
            let flag = blocking_done.clone();
            let blocking = spindle::spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, SeqCst);
            });
            // A timeout far longer than the closure, on a paused clock: it must not fire
            // while the closure runs.
            let outcome = spindle::timeout(Duration::from_secs(5), blocking).await;
            assert!(
                outcome.is_ok(),
                "the paused clock jumped past a running blocking closure"
            );
            blocking_done.load(SeqCst)
        });
        assert!(finished_first);
    });
}

#[test]
fn interval_ticks_and_sleep_deadlines_are_on_the_paused_clock() {
    with_watchdog("paused interval", LIMIT, || {
        let runtime = paused(1);
        runtime.block_on(async {
            let start = spindle::time::now();
            let mut ticks = spindle::interval(Duration::from_secs(60));
            let mut seen = Vec::new();
            for _ in 0..4 {
                seen.push(ticks.tick().await - start);
            }
            let minutes: Vec<u64> = seen.iter().map(|d| d.as_secs() / 60).collect();
            assert_eq!(minutes, [0, 1, 2, 3]);
            let sleep = spindle::sleep(Duration::from_secs(5));
            assert_eq!(
                sleep.deadline(),
                spindle::time::now() + Duration::from_secs(5)
            );
        });
    });
}

#[test]
fn pause_resume_and_advance_on_a_running_clock() {
    with_watchdog("pause and resume", LIMIT, || {
        let runtime = spindle::Runtime::builder()
            .worker_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            let advanced = std::panic::catch_unwind(|| {
                futures::executor::block_on(spindle::time::advance(Duration::from_secs(1)));
            });
            let message = panic_message(&*advanced.unwrap_err());
            assert!(message.contains("pause it first"), "{message}");
            spindle::time::pause();
            let stopped = spindle::time::now();
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(spindle::time::now(), stopped);
            spindle::time::advance(Duration::from_secs(30)).await;
            assert_eq!(spindle::time::now(), stopped + Duration::from_secs(30));
            spindle::time::resume();
            std::thread::sleep(Duration::from_millis(5));
            assert!(spindle::time::now() > stopped + Duration::from_secs(30));
        });
    });
}

#[test]
fn pause_outside_a_runtime_panics_naming_the_fix() {
    let outcome = std::panic::catch_unwind(spindle::time::pause);
    let message = panic_message(&*outcome.unwrap_err());
    assert!(message.contains("outside a runtime"), "{message}");
}

#[test]
fn pausing_with_an_hour_long_sleep_already_armed_does_not_wait_the_hour() {
    with_watchdog("pause with a sleep armed", LIMIT, || {
        let runtime = spindle::Runtime::builder()
            .worker_threads(2)
            .build()
            .unwrap();
        let real = Instant::now();
        runtime.block_on(async {
            let sleeper = spindle::spawn(spindle::sleep(Duration::from_secs(3600)));
            // Armed, and its worker parked until the real deadline.
            while spindle::Handle::current().armed_timers() == 0 {
                spindle::yield_now().await;
            }
            std::thread::sleep(Duration::from_millis(20));
            spindle::time::pause();
            sleeper.await.unwrap();
        });
        assert!(real.elapsed() < Duration::from_secs(30));
    });
}

/// Sockets on a paused clock: 50 request/response rounds over loopback complete, with no hang
/// (a worker parked while another holds the reactor, or a task woken by a park's own I/O turn,
/// looks again), on both flavours.
fn echo_under_a_paused_clock(runtime: &spindle::Runtime) {
    let messages: Vec<[u8; 4]> = (0..50u32).map(u32::to_le_bytes).collect();
    let echoed = runtime.block_on(loopback_echo(&messages));
    assert_eq!(echoed, messages);
}

#[test]
fn sockets_work_under_a_paused_clock_on_two_workers() {
    with_watchdog("paused echo, two workers", LIMIT, || {
        echo_under_a_paused_clock(&paused(2));
    });
}

#[test]
fn sockets_work_under_a_paused_clock_on_a_current_thread_runtime() {
    with_watchdog("paused echo, current thread", LIMIT, || {
        let runtime = spindle::Builder::new_current_thread()
            .start_paused(true)
            .build()
            .unwrap();
        echo_under_a_paused_clock(&runtime);
    });
}

#[test]
fn local_tasks_of_a_block_on_keep_the_paused_clock_in_order() {
    with_watchdog("paused local tasks", LIMIT, || {
        let runtime = paused(2);
        let order = runtime.block_on(async {
            let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let tasks: Vec<_> = [3u64, 1, 2]
                .into_iter()
                .map(|seconds| {
                    let order = order.clone();
                    spindle::spawn_local(async move {
                        spindle::sleep(Duration::from_secs(seconds)).await;
                        order.borrow_mut().push((seconds, spindle::time::now()));
                    })
                })
                .collect();
            spindle::join_all(tasks).await;
            std::rc::Rc::try_unwrap(order).unwrap().into_inner()
        });
        let seconds: Vec<u64> = order.iter().map(|(s, _)| *s).collect();
        assert_eq!(seconds, [1, 2, 3]);
        // Each ran at its own deadline: the clock did not jump past a queued local task.
        let start = order[0].1 - Duration::from_secs(1);
        for (seconds, at) in &order {
            assert_eq!(*at - start, Duration::from_secs(*seconds));
        }
    });
}

/// On a current-thread runtime, a second thread's `block_on` waits for its own future while
/// the first runs the scheduler. Woken by a timer, it can still run: the clock must not jump
/// to the first caller's later deadline before it has armed its next sleep.
#[test]
fn a_waiting_block_on_holds_the_clock_on_a_current_thread_runtime() {
    with_watchdog("paused second caller", LIMIT, || {
        let runtime = Arc::new(
            spindle::Builder::new_current_thread()
                .start_paused(true)
                .build()
                .unwrap(),
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (armed_tx, armed_rx) = futures::channel::oneshot::channel::<Instant>();
        let second = {
            let runtime = runtime.clone();
            let events = events.clone();
            std::thread::spawn(move || {
                // Only once the first caller holds the scheduler.
                started_rx.recv().unwrap();
                runtime.block_on(async {
                    let start = spindle::time::now();
                    armed_tx.send(start).unwrap();
                    for _ in 0..5 {
                        spindle::sleep(Duration::from_secs(1)).await;
                        events
                            .lock()
                            .unwrap()
                            .push(("second", spindle::time::now() - start));
                    }
                })
            })
        };
        runtime.block_on(async {
            started_tx.send(()).unwrap();
            let start = armed_rx.await.unwrap();
            spindle::sleep_until(start + Duration::from_secs(10)).await;
            events
                .lock()
                .unwrap()
                .push(("first", spindle::time::now() - start));
        });
        second.join().unwrap();
        let secs = |s| Duration::from_secs(s);
        assert_eq!(
            *events.lock().unwrap(),
            [
                ("second", secs(1)),
                ("second", secs(2)),
                ("second", secs(3)),
                ("second", secs(4)),
                ("second", secs(5)),
                ("first", secs(10)),
            ],
            "the clock jumped past a sleep that the waiting block_on was about to arm"
        );
    });
}
