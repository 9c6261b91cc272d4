//! Runtime lifecycle and misuse: shutdown, the default runtime, and the errors a user can act on.

mod common;

use common::{panic_message, runtime, scaled, with_watchdog};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_drops_pending_tasks_and_cancels_their_handles() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = runtime(2);
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let guard = DropCount(dropped.clone());
            rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
        })
        .collect();
    drop(rt);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1000,
        "every destructor ran once"
    );
    // Awaited with no runtime at all: a plain executor.
    for handle in handles {
        assert!(futures::executor::block_on(handle)
            .unwrap_err()
            .is_cancelled());
    }
}

#[test]
fn shutdown_timeout_returns_while_a_task_blocks_its_worker() {
    let rt = runtime(2);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        started_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
    });
    started_rx.recv().unwrap();
    let start = std::time::Instant::now();
    rt.shutdown_timeout(Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_millis(1000));
}

#[test]
fn dropping_a_runtime_inside_its_own_task_does_not_deadlock() {
    with_watchdog("drop-inside", Duration::from_secs(20), || {
        let rt = Arc::new(std::sync::Mutex::new(Some(runtime(2))));
        let slot = rt.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let handle = rt.lock().unwrap().as_ref().unwrap().handle();
        handle.spawn(async move {
            let runtime = slot.lock().unwrap().take();
            drop(runtime);
            done_tx.send(()).unwrap();
        });
        done_rx.recv().unwrap();
    });
}

#[test]
fn spawn_on_a_handle_whose_runtime_is_gone_is_cancelled() {
    let rt = runtime(1);
    let handle = rt.handle();
    drop(rt);
    let task = handle.spawn(async { 1 });
    assert!(futures::executor::block_on(task)
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn block_on_on_a_worker_panics_naming_the_fix() {
    let rt = runtime(1);
    let message = rt
        .block_on(rt.spawn(async {
            std::panic::catch_unwind(|| spindle::block_on(async {}))
                .map_err(|p| panic_message(p.as_ref()))
                .unwrap_err()
        }))
        .unwrap();
    assert!(message.contains("inside a runtime worker"), "{message}");
    assert!(message.contains("use .await"), "{message}");
    assert!(message.contains("spawn_blocking"), "{message}");
}

#[test]
fn nested_block_on_panics_naming_the_fix() {
    let rt = runtime(1);
    let message = rt.block_on(async {
        std::panic::catch_unwind(|| spindle::block_on(async {}))
            .map_err(|p| panic_message(p.as_ref()))
            .unwrap_err()
    });
    assert!(message.contains("inside another block_on"), "{message}");
    assert!(message.contains("use .await"), "{message}");
}

#[test]
fn handle_current_outside_a_runtime_panics_naming_the_fix() {
    let payload = std::thread::spawn(spindle::Handle::current)
        .join()
        .unwrap_err();
    let message = panic_message(payload.as_ref());
    assert!(message.contains("outside a spindle runtime"), "{message}");
    assert!(message.contains("block_on"), "{message}");
    assert!(spindle::Handle::try_current().is_none());
}

#[test]
fn handle_current_inside_finds_the_runtime() {
    let rt = runtime(1);
    let value = rt.block_on(async {
        let handle = spindle::Handle::current();
        let inner = spindle::spawn(async { spindle::Handle::try_current().is_some() });
        (
            handle.spawn(async { 2 }).await.unwrap(),
            inner.await.unwrap(),
        )
    });
    assert_eq!(value, (2, true));
}

#[test]
fn zero_worker_threads_is_an_invalid_input_error() {
    let err = spindle::Builder::new()
        .worker_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker_threads(0)"));
}

#[test]
fn default_runtime_serves_block_on_and_spawn() {
    let task = spindle::spawn(async { 20 });
    let value = spindle::block_on(async move { task.await.unwrap() + 1 });
    assert_eq!(value, 21);
}

/// Many park/wake cycles: a task waits on a wake from a plain thread that sleeps a little
/// first, so the workers park between rounds. A lost wake-up hangs a round; the watchdog
/// turns that into a failure.
#[test]
fn no_lost_wakeups_across_park_cycles() {
    let rounds = scaled(20_000, 1_000);
    with_watchdog("park-cycles", Duration::from_secs(120), move || {
        let rt = runtime(2);
        for round in 0..rounds {
            let (tx, rx) = futures::channel::oneshot::channel::<usize>();
            let task = rt.spawn(async move { rx.await.unwrap() });
            if round % 64 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
            tx.send(round).unwrap();
            assert_eq!(rt.block_on(task).unwrap(), round);
        }
    });
}

/// Cross-thread wakes from many OS threads at once, with tasks parking and re-parking.
#[test]
fn concurrent_wakes_from_many_threads_lose_nothing() {
    let per_thread = scaled(20_000, 1_000);
    let woken = with_watchdog("many-wakers", Duration::from_secs(120), move || {
        let rt = runtime(2);
        let counter = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..4 {
            let (tx, mut rx) = futures::channel::mpsc::unbounded::<()>();
            let counter = counter.clone();
            tasks.push(rt.spawn(async move {
                use futures::StreamExt;
                while rx.next().await.is_some() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
            threads.push(std::thread::spawn(move || {
                for _ in 0..per_thread {
                    tx.unbounded_send(()).unwrap();
                }
            }));
        }
        for thread in threads {
            thread.join().unwrap();
        }
        rt.block_on(spindle::join_all(tasks));
        counter.load(Ordering::Relaxed)
    });
    assert_eq!(woken, 4 * per_thread);
}
