//! `spawn_blocking`: the blocking pool grows on demand, runs closures in parallel without
//! blocking the workers, shrinks when idle, and never holds shutdown past its timeout.

mod common;

use common::with_watchdog;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Threads of this process whose name is `name` (as the kernel keeps it: 15 bytes at most).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn sixty_four_blocking_sleeps_run_in_parallel_while_async_sleeps_stay_on_time() {
    with_watchdog("64 blocking sleeps", Duration::from_secs(30), || {
        let runtime = common::runtime(2);
        let (elapsed, worst_tick_gap) = runtime.block_on(async {
            let start = Instant::now();
            let blocking: Vec<_> = (0..64)
                .map(|n| {
                    spindle::spawn_blocking(move || {
                        std::thread::sleep(Duration::from_millis(200));
                        n
                    })
                })
                .collect();
            // Meanwhile, async timers on the workers keep ticking every 10 ms.
            let ticker = spindle::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut last = Instant::now();
                while start.elapsed() < Duration::from_millis(250) {
                    spindle::sleep(Duration::from_millis(10)).await;
                    worst = worst.max(last.elapsed());
                    last = Instant::now();
                }
                worst
            });
            let results = spindle::join_all(blocking).await;
            let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
            assert_eq!(results, (0..64).collect::<Vec<_>>());
            (start.elapsed(), ticker.await.unwrap())
        });
        // Serially this takes 12.8 s; in parallel one sleep's 200 ms plus thread start-up.
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(
            elapsed < Duration::from_millis(1500),
            "not parallel: {elapsed:?}"
        );
        // A blocked worker would stall the ticker for 200 ms.
        assert!(
            worst_tick_gap < Duration::from_millis(150),
            "a 10 ms sleep took {worst_tick_gap:?}"
        );
    });
}

#[test]
fn a_panicking_closure_is_a_join_error_and_the_pool_lives_on() {
    let runtime = common::runtime(1);
    let panicked = runtime.block_on(spindle::spawn_blocking(|| panic!("disk on fire")));
    let error = panicked.unwrap_err();
    assert!(error.is_panic());
    assert_eq!(common::panic_message(&*error.into_panic()), "disk on fire");
    assert_eq!(runtime.block_on(runtime.spawn_blocking(|| 7)).unwrap(), 7);
}

#[test]
fn closures_beyond_the_cap_wait_in_the_queue() {
    let runtime = spindle::Builder::new()
        .worker_threads(common::worker_threads(1))
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| runtime.spawn_blocking(|| std::thread::sleep(Duration::from_millis(100))))
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    // Two at a time: two rounds of 100 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn aborting_a_queued_closure_cancels_it() {
    let runtime = spindle::Builder::new()
        .worker_threads(common::worker_threads(1))
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let busy = runtime.spawn_blocking(|| std::thread::sleep(Duration::from_millis(100)));
    let queued = runtime.spawn_blocking({
        let ran = ran.clone();
        move || ran.store(true, SeqCst)
    });
    queued.abort();
    assert!(runtime.block_on(queued).unwrap_err().is_cancelled());
    runtime.block_on(busy).unwrap();
    assert!(!ran.load(SeqCst));
}

#[test]
fn idle_blocking_threads_exit_after_the_keep_alive() {
    let runtime = spindle::Builder::new()
        .worker_threads(common::worker_threads(1))
        .thread_name("kal")
        .thread_keep_alive(Duration::from_millis(100))
        .build()
        .unwrap();
    let all_running = Arc::new(std::sync::Barrier::new(5));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let all_running = all_running.clone();
            runtime.spawn_blocking(move || {
                all_running.wait();
                all_running.wait();
            })
        })
        .collect();
    all_running.wait();
    assert_eq!(threads_named("kal-blocking"), 4);
    all_running.wait();
    runtime.block_on(spindle::join_all(tasks));
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads_named("kal-blocking") > 0 {
        assert!(
            Instant::now() < deadline,
            "idle blocking threads did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_timeout_returns_at_its_deadline_despite_a_running_closure() {
    with_watchdog("shutdown_timeout", Duration::from_secs(30), || {
        let runtime = common::runtime(1);
        let started = Arc::new(AtomicBool::new(false));
        let stuck = runtime.spawn_blocking({
            let started = started.clone();
            move || {
                started.store(true, SeqCst);
                std::thread::sleep(Duration::from_secs(3));
            }
        });
        while !started.load(SeqCst) {
            std::thread::yield_now();
        }
        let start = Instant::now();
        runtime.shutdown_timeout(Duration::from_millis(200));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        drop(stuck);
    });
}

#[test]
fn dropping_the_runtime_waits_for_running_closures_and_cancels_queued_ones() {
    let runtime = spindle::Builder::new()
        .worker_threads(common::worker_threads(1))
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let finished = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let running = runtime.spawn_blocking({
        let (started, finished) = (started.clone(), finished.clone());
        move || {
            started.store(true, SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            finished.store(true, SeqCst);
        }
    });
    let queued = runtime.spawn_blocking(|| ());
    while !started.load(SeqCst) {
        std::thread::yield_now();
    }
    drop(runtime);
    assert!(
        finished.load(SeqCst),
        "drop returned before the running closure"
    );
    assert!(futures::executor::block_on(running).is_ok());
    assert!(futures::executor::block_on(queued)
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn a_blocking_thread_may_block_on_and_spawn_onto_its_runtime() {
    let runtime = spindle::Builder::new()
        .worker_threads(common::worker_threads(1))
        .thread_name("own")
        .build()
        .unwrap();
    let answer = runtime.block_on(runtime.spawn_blocking(|| {
        assert!(spindle::Handle::try_current().is_some());
        let task = spindle::spawn(async {
            let worker = std::thread::current().name().unwrap_or("").to_owned();
            assert!(
                worker.starts_with("own-"),
                "spawned onto {worker:?}, not its own runtime"
            );
            20
        });
        spindle::block_on(async move { task.await.unwrap() + 1 }) * 2
    }));
    assert_eq!(answer.unwrap(), 42);
}

#[test]
fn spawn_blocking_outside_any_runtime_uses_the_default_runtime() {
    let task = spindle::spawn_blocking(|| "default");
    assert_eq!(futures::executor::block_on(task).unwrap(), "default");
}

#[test]
fn host_names_resolve_on_the_blocking_pool() {
    let runtime = spindle::Builder::new()
        .worker_threads(common::worker_threads(1))
        .thread_name("dns")
        .build()
        .unwrap();
    let connected = runtime.block_on(runtime.spawn(async {
        let listener = spindle::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let accept = spindle::spawn(async move { listener.accept().await.map(|_| ()) });
        spindle::net::TcpStream::connect(("localhost", port)).await?;
        accept.await.unwrap()
    }));
    connected.unwrap().unwrap();
    assert_eq!(
        threads_named("dns-blocking"),
        1,
        "the lookup ran on the pool"
    );
}
