//! Misuse and bad input: each case has one clear outcome, and a test of it.
//!
//! The cases tested elsewhere are not repeated here (see `docs/reliability.md` for the full
//! list): nested `block_on` and `block_on` on a worker, `spawn` through a dead `Handle`,
//! `Handle::current()` outside a runtime and `worker_threads(0)` in `runtime.rs`;
//! `Duration::MAX` sleeps and timeouts in `time.rs`; a worker blocked for a second, with the
//! other serving I/O (`net.rs`) or firing its timers (`time.rs`).

mod common;

use common::{panic_message, runtime, with_watchdog};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Counts drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Panics when dropped, with `message`.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// A task that parks forever after leaving a clone of its waker in the returned slot.
fn stash_waker_and_wait(
    slot: &Arc<Mutex<Option<Waker>>>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let slot = slot.clone();
    std::future::poll_fn(move |cx| {
        *slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    })
}

/// Outcome: waking, cloning and dropping the waker of a task whose runtime is gone does
/// nothing (the task was cancelled at shutdown and stays so), from the dropping thread and
/// from another. Run under the sanitizers too (`scripts/sanitize.sh --workspace`), which
/// would report a use after free here.
#[test]
fn a_waker_used_after_its_runtime_is_gone_is_a_no_op() {
    let mut stale = Vec::new();
    let mut tasks = Vec::new();
    for workers in [1, 2] {
        let rt = runtime(workers);
        let slots: Vec<_> = (0..8).map(|_| Arc::new(Mutex::new(None))).collect();
        for slot in &slots {
            tasks.push(rt.spawn(stash_waker_and_wait(slot)));
        }
        with_watchdog("wakers-stashed", Duration::from_secs(10), {
            let slots = slots.clone();
            move || {
                while slots.iter().any(|slot| slot.lock().unwrap().is_none()) {
                    std::thread::yield_now();
                }
            }
        });
        drop(rt);
        stale.extend(
            slots
                .iter()
                .map(|slot| slot.lock().unwrap().take().unwrap()),
        );
    }
    let copies: Vec<Waker> = stale.to_vec();
    for (waker, copy) in stale.iter().zip(copies) {
        waker.wake_by_ref();
        copy.wake();
    }
    let elsewhere = std::thread::spawn(move || {
        for waker in stale {
            let copy = waker.clone();
            waker.wake();
            copy.wake_by_ref();
        }
    });
    elsewhere.join().unwrap();
    for task in tasks {
        assert!(futures::executor::block_on(task)
            .unwrap_err()
            .is_cancelled());
    }
}

/// Outcome: a future whose destructor panics becomes `JoinError::Panic` carrying the
/// destructor's message, whether it is dropped after returning its output (the output is
/// lost), by an abort, or by the runtime's shutdown; the worker lives on, and dropping the
/// runtime does not panic.
#[test]
fn a_future_that_panics_in_drop_becomes_a_join_error() {
    let rt = runtime(1);

    let completed = rt.spawn(async {
        let _bomb = PanicOnDrop("dropped after completing");
        7
    });
    let err = rt.block_on(completed).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        panic_message(err.into_panic().as_ref()),
        "dropped after completing"
    );

    let bomb = PanicOnDrop("dropped by abort");
    let aborted = rt.spawn(async move {
        let _bomb = bomb;
        std::future::pending::<()>().await
    });
    aborted.abort();
    let err = rt.block_on(aborted).unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(panic_message(err.into_panic().as_ref()), "dropped by abort");

    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);

    let dropped = Arc::new(AtomicUsize::new(0));
    let mut at_shutdown = Vec::new();
    for _ in 0..10 {
        let guard = DropCount(dropped.clone());
        let bomb = PanicOnDrop("dropped at shutdown");
        at_shutdown.push(rt.spawn(async move {
            let _guard = guard;
            let _bomb = bomb;
            std::future::pending::<()>().await
        }));
    }
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 10, "every future dropped");
    for task in at_shutdown {
        let err = futures::executor::block_on(task).unwrap_err();
        assert!(err.is_panic(), "{err}");
        assert_eq!(
            panic_message(err.into_panic().as_ref()),
            "dropped at shutdown"
        );
    }
}

/// Outcome: a task that panics while holding (or awaiting) another task's `JoinHandle` only
/// detaches that task: the other task runs to completion, its output is dropped, and the
/// panicking task's handle carries the panic. Repeated so that the handle's drop (during the
/// unwind) races the other task's completion on the second worker.
#[test]
fn a_task_that_panics_holding_anothers_join_handle_detaches_it() {
    let rt = runtime(2);
    let rounds = 1000;
    let outputs_dropped = Arc::new(AtomicUsize::new(0));
    let (ran_tx, ran_rx) = mpsc::channel();
    for round in 0..rounds {
        let (release_tx, release_rx) = futures::channel::oneshot::channel::<()>();
        let output = DropCount(outputs_dropped.clone());
        let ran_tx = ran_tx.clone();
        let held = rt.spawn(async move {
            release_rx.await.unwrap();
            ran_tx.send(round).unwrap();
            output
        });
        let awaiting = round % 2 == 0;
        let panicking = rt.spawn(async move {
            release_tx.send(()).unwrap();
            if awaiting {
                let mut held = Box::pin(held);
                // Register on the handle, so the unwind drops a handle with a join waker.
                std::future::poll_fn(|cx| {
                    let _ = held.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
                panic!("panicked awaiting round {round}");
            }
            let _held = held;
            panic!("panicked holding round {round}");
        });
        let err = rt.block_on(panicking).unwrap_err();
        let message = panic_message(err.into_panic().as_ref());
        assert!(message.ends_with(&format!("round {round}")), "{message}");
    }
    with_watchdog("held-tasks-finish", Duration::from_secs(30), move || {
        let mut ran: Vec<_> = ran_rx.iter().take(rounds).collect();
        ran.sort_unstable();
        assert_eq!(ran, (0..rounds).collect::<Vec<_>>());
        while outputs_dropped.load(Ordering::SeqCst) < rounds {
            std::thread::yield_now();
        }
    });
}

/// Outcome: `interval(Duration::MAX)` ticks once, at once, then never again (and does not
/// overflow the `Instant` of its next tick); `interval(Duration::ZERO)` panics naming the
/// rule.
#[test]
fn interval_of_duration_max_ticks_once_then_waits_forever() {
    let rt = runtime(1);
    rt.block_on(async {
        let start = Instant::now();
        let mut interval = spindle::interval(Duration::MAX);
        let first = interval.tick().await;
        assert!(first <= Instant::now() && first >= start);
        let second = spindle::timeout(Duration::from_millis(20), interval.tick()).await;
        assert!(second.is_err());
    });
}

#[test]
fn interval_of_zero_panics_naming_the_rule() {
    let payload = std::panic::catch_unwind(|| spindle::interval(Duration::ZERO)).unwrap_err();
    let message = panic_message(payload.as_ref());
    assert!(message.contains("greater than zero"), "{message}");
}

/// Outcome: while a task blocks one of two workers (for at least 2 s, and until the rest is
/// done, at most 30 s), the other worker keeps serving everything at once: 20 echo round
/// trips over TCP, 20 sleeps of 10 ms, and 20 spawned tasks, all finished while the blocking
/// task is still blocked. The check is the order of events, not a time, so it holds under the
/// sanitizers' slowdown too. (The 1 s versions of the I/O and timer halves are in `net.rs` and
/// `time.rs`.)
#[test]
fn a_worker_blocked_for_seconds_leaves_io_timers_and_spawns_served() {
    let rt = runtime(2);
    let (started_tx, started_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let blocker = rt.spawn(async move {
        started_tx.send(()).unwrap();
        let start = Instant::now();
        let served_meanwhile = done_rx.recv_timeout(Duration::from_secs(30)).is_ok();
        std::thread::sleep(Duration::from_secs(2).saturating_sub(start.elapsed()));
        served_meanwhile
    });
    started_rx.recv().unwrap();
    let served = rt.block_on(rt.spawn(async {
        let listener = spindle::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spindle::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            while stream.read_exact(&mut buf).await.is_ok() {
                stream.write_all(&buf).await.unwrap();
            }
        });
        let mut stream = spindle::net::TcpStream::connect(addr).await.unwrap();
        let mut served = 0;
        for i in 0..20u32 {
            stream.write_all(&i.to_le_bytes()).await.unwrap();
            let mut reply = [0u8; 4];
            stream.read_exact(&mut reply).await.unwrap();
            assert_eq!(u32::from_le_bytes(reply), i);
            let slept = Instant::now();
            spindle::sleep(Duration::from_millis(10)).await;
            assert!(slept.elapsed() >= Duration::from_millis(10));
            served += spindle::spawn(async move { i }).await.unwrap() + 1;
        }
        drop(stream);
        server.await.unwrap();
        served
    }));
    assert_eq!(served.unwrap(), (1..=20).sum::<u32>());
    let _ = done_tx.send(());
    assert!(
        rt.block_on(blocker).unwrap(),
        "the work above waited for the blocked worker"
    );
}
