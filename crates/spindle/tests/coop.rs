//! The cooperative budget: a task whose resources are always ready still yields, so the other
//! tasks on its worker run. Each test of a neighbour uses exactly one worker, whatever
//! `SPINDLE_WORKER_THREADS` says, where a task that never yields would starve its neighbour
//! for good (the watchdog would fail the test).

mod common;

use common::with_watchdog;
use futures::io::AsyncReadExt;
use spindle::net::TcpStream;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// A peer that writes to whoever connects, without pause, until the connection breaks.
fn endless_writer() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let chunk = [7u8; 64 * 1024];
        while stream.write_all(&chunk).is_ok() {}
    });
    addr
}

/// Yields until `flag` is set: the neighbour has started its loop.
async fn wait_for(flag: &AtomicBool) {
    while !flag.load(SeqCst) {
        spindle::yield_now().await;
    }
}

#[test]
fn a_reader_that_always_finds_data_lets_a_yielding_task_finish() {
    with_watchdog("reader vs yielder", Duration::from_secs(30), || {
        let runtime = common::runtime_exactly(1);
        let addr = endless_writer();
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let yields_done = Arc::new(AtomicUsize::new(0));

        let reader = runtime.spawn({
            let (started, stop) = (started.clone(), stop.clone());
            async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                // Wait until data is queued, so every read below finds some ready.
                let mut buf = [0u8; 16];
                let mut bytes = stream.read(&mut buf).await.unwrap();
                std::thread::sleep(Duration::from_millis(50));
                started.store(true, SeqCst);
                let mut reads = 0usize;
                while !stop.load(SeqCst) {
                    bytes += stream.read(&mut buf).await.unwrap();
                    reads += 1;
                }
                (reads, bytes)
            }
        });
        let yielder = runtime.spawn({
            let stop = stop.clone();
            let yields_done = yields_done.clone();
            async move {
                wait_for(&started).await;
                for _ in 0..100 {
                    spindle::yield_now().await;
                    yields_done.fetch_add(1, SeqCst);
                }
                stop.store(true, SeqCst);
            }
        });

        runtime.block_on(yielder).unwrap();
        let (reads, bytes) = runtime.block_on(reader).unwrap();
        assert_eq!(yields_done.load(SeqCst), 100);
        // Both made progress, interleaved: the reader read between the yields.
        assert!(reads >= 100, "the reader made {reads} reads");
        assert!(bytes > 16 * 100, "the reader read {bytes} bytes");
    });
}

#[test]
fn a_task_looping_on_elapsed_sleeps_lets_its_neighbour_run() {
    with_watchdog("elapsed sleeps vs yielder", Duration::from_secs(30), || {
        let runtime = common::runtime_exactly(1);
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let sleeper = runtime.spawn({
            let (started, stop) = (started.clone(), stop.clone());
            async move {
                started.store(true, SeqCst);
                let mut sleeps = 0usize;
                while !stop.load(SeqCst) {
                    spindle::sleep(Duration::ZERO).await;
                    sleeps += 1;
                }
                sleeps
            }
        });
        let yielder = runtime.spawn(async move {
            wait_for(&started).await;
            for _ in 0..100 {
                spindle::yield_now().await;
            }
            stop.store(true, SeqCst);
        });
        runtime.block_on(yielder).unwrap();
        let sleeps = runtime.block_on(sleeper).unwrap();
        assert!(sleeps >= 100, "the sleeper completed {sleeps} sleeps");
    });
}

#[test]
fn a_task_awaiting_finished_join_handles_lets_its_neighbour_run() {
    with_watchdog("join handles vs yielder", Duration::from_secs(30), || {
        let runtime = common::runtime_exactly(1);
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let joiner = runtime.spawn({
            let (started, stop) = (started.clone(), stop.clone());
            async move {
                // Finished before they are awaited: each await completes at once.
                let mut finished: Vec<_> = (0..4096)
                    .map(|n| spindle::spawn(async move { n }))
                    .collect();
                spindle::yield_now().await;
                started.store(true, SeqCst);
                let mut joined = 0usize;
                while !stop.load(SeqCst) {
                    let Some(handle) = finished.pop() else { break };
                    handle.await.unwrap();
                    joined += 1;
                }
                joined
            }
        });
        let yielder = runtime.spawn(async move {
            wait_for(&started).await;
            for _ in 0..10 {
                spindle::yield_now().await;
            }
            stop.store(true, SeqCst);
        });
        runtime.block_on(yielder).unwrap();
        let joined = runtime.block_on(joiner).unwrap();
        assert!(joined < 4096, "the yielder waited for all {joined} joins");
    });
}

#[test]
fn a_timeout_fires_even_when_its_future_spends_the_whole_budget() {
    with_watchdog("timeout vs busy future", Duration::from_secs(30), || {
        let runtime = common::runtime(1);
        let addr = endless_writer();
        let outcome = runtime.block_on(spindle::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 16];
            spindle::timeout(Duration::from_millis(200), async {
                loop {
                    assert!(stream.read(&mut buf).await.unwrap() > 0);
                }
            })
            .await
        }));
        assert!(outcome.unwrap().is_err(), "the timeout elapsed");
    });
}

#[test]
fn join_all_and_join_set_over_many_finished_tasks_complete() {
    with_watchdog(
        "join_all over finished tasks",
        Duration::from_secs(60),
        || {
            let runtime = common::runtime(1);
            let n = common::scaled(100_000, 10_000);
            let (sum, joined) = runtime
                .block_on(runtime.spawn(async move {
                    let handles: Vec<_> =
                        (0..n).map(|i| spindle::spawn(async move { i })).collect();
                    // Let every task finish first: then each join is ready at once and the budget runs out.
                    spindle::sleep(Duration::from_millis(50)).await;
                    let sum: usize = spindle::join_all(handles)
                        .await
                        .into_iter()
                        .map(Result::unwrap)
                        .sum();
                    let mut set = spindle::JoinSet::new();
                    for i in 0..1000usize {
                        set.spawn(async move { i });
                    }
                    spindle::sleep(Duration::from_millis(20)).await;
                    let mut joined = 0;
                    while let Some(result) = set.join_next().await {
                        result.unwrap();
                        joined += 1;
                    }
                    (sum, joined)
                }))
                .unwrap();
            assert_eq!(sum, n * (n - 1) / 2);
            assert_eq!(joined, 1000);
        },
    );
}
