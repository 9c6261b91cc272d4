//! Timers on a real runtime: sleeps overlap, never fire early, cancel on drop, and are not
//! stranded behind a busy worker.

mod common;

use common::{runtime, scaled, with_watchdog};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// The program: three sleeps of 100, 200 and 300 ms gathered take about 300 ms.
#[test]
fn gathered_sleeps_overlap() {
    let rt = runtime(2);
    let start = Instant::now();
    let results = rt.block_on(async {
        let handles: Vec<_> = (1..=3u64)
            .map(|n| {
                spindle::spawn(async move {
                    spindle::sleep(Duration::from_millis(100 * n)).await;
                    n
                })
            })
            .collect();
        spindle::join_all(handles).await
    });
    let elapsed = start.elapsed();
    let results: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results, [1, 2, 3]);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(550),
        "ran serially? {elapsed:?}"
    );
}

#[test]
fn sleeps_never_complete_before_their_deadline() {
    let rt = runtime(2);
    let early = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..2000u64)
        .map(|i| {
            let early = early.clone();
            rt.spawn(async move {
                let deadline = Instant::now() + Duration::from_micros(137 * (i % 97));
                spindle::sleep_until(deadline).await;
                if Instant::now() < deadline {
                    early.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    rt.block_on(spindle::join_all(handles));
    assert_eq!(early.load(Ordering::SeqCst), 0);
}

#[test]
fn a_ten_ms_sleep_on_an_idle_runtime_waits_at_least_ten_ms() {
    let rt = runtime(2);
    for _ in 0..5 {
        let start = Instant::now();
        rt.block_on(rt.spawn(spindle::sleep(Duration::from_millis(10))))
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(10));
    }
}

#[test]
fn dropping_a_sleep_removes_its_entry() {
    let rt = runtime(2);
    let handle = rt.handle();
    rt.block_on(async {
        let mut sleeps: Vec<_> = (0..100)
            .map(|_| Box::pin(spindle::sleep(Duration::from_secs(3600))))
            .collect();
        // Poll each once so it registers.
        std::future::poll_fn(|cx| {
            for sleep in &mut sleeps {
                assert!(sleep.as_mut().poll(cx).is_pending());
            }
            Poll::Ready(())
        })
        .await;
        assert_eq!(handle.armed_timers(), 100);
        drop(sleeps);
        assert_eq!(handle.armed_timers(), 0);
    });
}

/// If the worker's task did not replace the registered waker, the timer would wake only the
/// block_on task, and the worker's task would never run again: the watchdog fails the test.
#[test]
fn a_sleep_moved_to_another_task_still_wakes_it() {
    with_watchdog("moved sleep", Duration::from_secs(10), || {
        let rt = runtime(2);
        let start = Instant::now();
        rt.block_on(async {
            let mut sleep = Box::pin(spindle::sleep(Duration::from_millis(30)));
            // Register it from this (block_on) task...
            std::future::poll_fn(|cx| {
                assert!(sleep.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            // ...then hand it to a task on a worker, whose waker must replace ours.
            spindle::spawn(sleep).await.unwrap();
        });
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(30),
            "woken early: {elapsed:?}"
        );
        assert!(elapsed < Duration::from_secs(5), "woken late: {elapsed:?}");
    });
}

#[test]
fn reset_moves_the_deadline_both_ways() {
    let rt = runtime(1);
    rt.block_on(async {
        let start = Instant::now();
        let mut sleep = Box::pin(spindle::sleep(Duration::from_secs(3600)));
        std::future::poll_fn(|cx| {
            assert!(sleep.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        sleep.as_mut().reset(start + Duration::from_millis(20));
        sleep.as_mut().await;
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(60));
        // Completed, then reset later: it waits again.
        let again = Instant::now();
        sleep.as_mut().reset(again + Duration::from_millis(15));
        sleep.as_mut().await;
        assert!(again.elapsed() >= Duration::from_millis(15));
    });
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn timeout_returns_the_output_or_elapsed_and_drops_the_future() {
    let rt = runtime(2);
    rt.block_on(async {
        assert_eq!(
            spindle::timeout(Duration::from_secs(5), async { 3 }).await,
            Ok(3)
        );
        let dropped = Arc::new(AtomicUsize::new(0));
        let flag = DropFlag(dropped.clone());
        let start = Instant::now();
        let result = spindle::timeout(Duration::from_millis(20), async move {
            let _flag = flag;
            std::future::pending::<()>().await
        })
        .await;
        assert!(result.is_err());
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().to_string(), "deadline has elapsed");
    });
}

#[test]
fn duration_max_neither_panics_nor_fires() {
    let rt = runtime(1);
    rt.block_on(async {
        let result =
            spindle::timeout(Duration::from_millis(10), spindle::sleep(Duration::MAX)).await;
        assert!(result.is_err());
        let ok = spindle::timeout(Duration::MAX, async { 1 }).await;
        assert_eq!(ok, Ok(1));
        let far = Instant::now() + Duration::from_secs(60 * 60 * 24 * 365 * 10);
        assert!(
            spindle::timeout(Duration::from_millis(5), spindle::sleep_until(far))
                .await
                .is_err()
        );
    });
}

#[test]
fn interval_ticks_and_is_a_stream() {
    use futures::StreamExt;
    let rt = runtime(2);
    rt.block_on(async {
        let start = Instant::now();
        let mut interval = spindle::interval(Duration::from_millis(10));
        let first = interval.tick().await;
        assert!(first <= Instant::now());
        let ticks: Vec<Instant> = (&mut interval).take(3).collect().await;
        assert_eq!(ticks.len(), 3);
        assert_eq!(ticks[0] - first, Duration::from_millis(10));
        assert_eq!(ticks[2] - ticks[1], Duration::from_millis(10));
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn missed_ticks_burst_or_skip() {
    let rt = runtime(1);
    rt.block_on(async {
        let mut burst = spindle::interval(Duration::from_millis(10));
        burst.tick().await;
        std::thread::sleep(Duration::from_millis(35));
        let t1 = burst.tick().await;
        let t2 = burst.tick().await;
        // Missed ticks come back to back, on the original schedule.
        assert_eq!(t2 - t1, Duration::from_millis(10));
        assert!(t2 < Instant::now());

        let mut skip = spindle::interval(Duration::from_millis(10));
        skip.set_missed_tick_behavior(spindle::time::MissedTickBehavior::Skip);
        let start = skip.tick().await;
        std::thread::sleep(Duration::from_millis(35));
        let after_sleep = Instant::now();
        skip.tick().await;
        let missed_at = Instant::now();
        let next = skip.tick().await;
        // The next tick is on the original grid, at its first point after the missed tick was
        // taken: 40 ms from the start when the sleep took 35 to 40 ms (a loaded machine may
        // oversleep into the next 10 ms).
        let offset = next - start;
        assert_eq!(
            offset.as_nanos() % 10_000_000,
            0,
            "off the grid: {offset:?}"
        );
        assert!(offset >= Duration::from_millis(40), "{offset:?}");
        assert!(next > after_sleep, "not after the delay");
        assert!(
            next - Duration::from_millis(10) <= missed_at,
            "a grid point was skipped that was still ahead: {offset:?}"
        );
    });
}

#[test]
fn shutdown_drops_sleeping_tasks() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = runtime(2);
    let handle = rt.handle();
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let flag = DropFlag(dropped.clone());
            rt.spawn(async move {
                let _flag = flag;
                spindle::sleep(Duration::from_secs(3600)).await;
            })
        })
        .collect();
    while handle.armed_timers() < 500 {
        std::thread::yield_now();
    }
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 500);
    assert_eq!(handle.armed_timers(), 0, "cancelled sleeps left the wheels");
    for task in tasks {
        assert!(futures::executor::block_on(task)
            .unwrap_err()
            .is_cancelled());
    }
}

/// A million sleeps at once, spread over 1-10 ms: every one completes.
#[test]
fn a_million_concurrent_sleeps_all_complete() {
    let n = scaled(1_000_000, 20_000);
    let completed = with_watchdog("million-sleeps", Duration::from_secs(180), move || {
        let rt = runtime(2);
        let count = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let count = count.clone();
                rt.spawn(async move {
                    spindle::sleep(Duration::from_millis(1 + (i % 10) as u64)).await;
                    count.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        rt.block_on(spindle::join_all(handles));
        count.load(Ordering::Relaxed)
    });
    assert_eq!(completed, n);
}

/// A sleep armed from outside the workers wakes a runtime parked with a later (or no)
/// deadline.
#[test]
fn a_timer_armed_from_outside_wakes_a_parked_runtime() {
    let rt = runtime(2);
    // Let every worker park with no deadline.
    std::thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    rt.block_on(spindle::sleep(Duration::from_millis(15)));
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(15));
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}

/// A worker stuck in a one-second poll does not hold back a 30 ms timer in its wheel: the
/// other worker fires it.
#[test]
fn timers_of_a_blocked_worker_are_fired_by_another() {
    let rt = common::runtime_with_at_least(2);
    let elapsed = rt.block_on(async {
        spindle::spawn(async {
            let start = Instant::now();
            let mut sleep = Box::pin(spindle::sleep(Duration::from_millis(30)));
            // Register in this worker's wheel.
            std::future::poll_fn(|cx| {
                assert!(sleep.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            // Spawned from this worker: runs on it next, and blocks it for a second.
            let blocker = spindle::spawn(async {
                std::thread::sleep(Duration::from_millis(1000));
            });
            sleep.await;
            let elapsed = start.elapsed();
            blocker.await.unwrap();
            elapsed
        })
        .await
        .unwrap()
    });
    assert!(elapsed >= Duration::from_millis(30));
    assert!(
        elapsed < Duration::from_millis(600),
        "timer waited for the blocked worker: {elapsed:?}"
    );
}
