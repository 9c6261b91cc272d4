//! Spawning, joining, results, panics, abort: the facade's task API on real worker threads.

mod common;

use common::{runtime, scaled, with_watchdog};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn gather_returns_results_in_input_order() {
    let rt = runtime(2);
    let results = rt.block_on(async {
        let handles: Vec<_> = (0..1000u32)
            .map(|n| {
                spindle::spawn(async move {
                    if n % 3 == 0 {
                        spindle::yield_now().await;
                    }
                    n * 2
                })
            })
            .collect();
        spindle::join_all(handles).await
    });
    let results: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results, (0..1000).map(|n| n * 2).collect::<Vec<_>>());
}

/// A million tiny tasks: none lost, none run twice.
#[test]
fn a_million_tiny_tasks_sum_correctly() {
    let n = scaled(1_000_000, 10_000) as u64;
    let sum = with_watchdog("million", Duration::from_secs(120), move || {
        let rt = runtime(2);
        rt.block_on(async move {
            let handles: Vec<_> = (0..n).map(|i| spindle::spawn(async move { i })).collect();
            spindle::join_all(handles)
                .await
                .into_iter()
                .map(Result::unwrap)
                .sum::<u64>()
        })
    });
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn tasks_spawn_tasks() {
    let rt = runtime(2);
    let total = rt.block_on(spindle::spawn(async {
        let children: Vec<_> = (0..100u64)
            .map(|i| {
                spindle::spawn(async move {
                    let grandchildren: Vec<_> = (0..10u64)
                        .map(|j| spindle::spawn(async move { i * 10 + j }))
                        .collect();
                    spindle::join_all(grandchildren)
                        .await
                        .into_iter()
                        .map(Result::unwrap)
                        .sum::<u64>()
                })
            })
            .collect();
        spindle::join_all(children)
            .await
            .into_iter()
            .map(Result::unwrap)
            .sum::<u64>()
    }));
    assert_eq!(total.unwrap(), (0..1000u64).sum());
}

#[test]
fn spawns_from_many_outside_threads_through_a_handle() {
    let rt = runtime(2);
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let handle = rt.handle();
            let count = count.clone();
            std::thread::spawn(move || {
                let tasks: Vec<_> = (0..1000)
                    .map(|_| {
                        let count = count.clone();
                        handle.spawn(async move {
                            count.fetch_add(1, Ordering::SeqCst);
                        })
                    })
                    .collect();
                tasks
            })
        })
        .collect();
    let handles: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    rt.block_on(spindle::join_all(handles));
    assert_eq!(count.load(Ordering::SeqCst), 8000);
}

/// Tasks woken from plain OS threads (not workers) all complete.
#[test]
fn wakes_from_plain_os_threads() {
    let rt = runtime(2);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..1000)
        .map(|_| futures::channel::oneshot::channel::<usize>())
        .unzip();
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|rx| rt.spawn(async move { rx.await.unwrap() }))
        .collect();
    let waker_thread = std::thread::spawn(move || {
        for (i, tx) in senders.into_iter().enumerate() {
            tx.send(i).unwrap();
        }
    });
    let results = rt.block_on(spindle::join_all(tasks));
    waker_thread.join().unwrap();
    let sum: usize = results.into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, (0..1000).sum());
}

#[test]
fn a_panicking_task_becomes_a_join_error_and_the_worker_lives_on() {
    let rt = runtime(1);
    let err = rt
        .block_on(rt.spawn(async { panic!("task exploded") }))
        .unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(
        common::panic_message(err.into_panic().as_ref()),
        "task exploded"
    );
    // The only worker survived and still runs tasks.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn abort_runs_the_futures_destructor() {
    let rt = runtime(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(dropped.clone());
    let task = rt.spawn(async move {
        let _flag = flag;
        std::future::pending::<()>().await
    });
    task.abort();
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn is_finished_turns_true_after_completion() {
    let rt = runtime(1);
    let task = rt.spawn(async { 1 });
    while !task.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(rt.block_on(task).unwrap(), 1);
}

/// One task spins without yielding on one worker; the other worker still completes 100 tasks.
#[test]
fn a_spinning_task_holds_one_worker_not_the_runtime() {
    let rt = runtime(2);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop2, started2) = (stop.clone(), started.clone());
    let spinner = rt.spawn(async move {
        started2.store(true, Ordering::SeqCst);
        while !stop2.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let done = with_watchdog("spinner", Duration::from_secs(30), {
        let handle = rt.handle();
        move || {
            let tasks: Vec<_> = (0..100).map(|i| handle.spawn(async move { i })).collect();
            let rt2 = runtime(1);
            rt2.block_on(spindle::join_all(tasks)).len()
        }
    });
    assert_eq!(done, 100);
    stop.store(true, Ordering::SeqCst);
    rt.block_on(spinner).unwrap();
}

/// Spawns a helper from this worker (it lands in the worker's LIFO slot), then blocks the
/// worker, as a misbehaving task would, until the helper has run elsewhere or 10 s passed.
/// True if the helper ran while the worker was blocked.
async fn block_until_the_lifo_helper_runs_elsewhere() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let helper = spindle::spawn(async move {
        tx.send(()).unwrap();
    });
    let ran = rx.recv_timeout(Duration::from_secs(10)).is_ok();
    helper.await.unwrap();
    ran
}

/// A task woken while its worker is stuck in a long poll (so it lands in that worker's LIFO
/// slot) is taken over by the other worker rather than waiting for the poll to end.
#[test]
fn lifo_task_is_not_stranded_behind_a_long_poll() {
    let rt = runtime(2);
    let ran = rt.block_on(async {
        spindle::spawn(block_until_the_lifo_helper_runs_elsewhere())
            .await
            .unwrap()
    });
    assert!(ran, "the LIFO task waited for the blocked worker");
}

/// The same, when the whole runtime was idle: the task is woken by its timer on a worker that
/// parked with a deadline while the other parked with none, then spawns a helper (into its
/// LIFO slot) and blocks until the helper has run. The other worker must notice that its
/// neighbour is no longer idle and take the helper over.
#[test]
fn lifo_task_is_not_stranded_when_the_runtime_wakes_from_idle() {
    let rt = runtime(2);
    let ran = rt.block_on(async {
        spindle::spawn(async {
            spindle::sleep(Duration::from_millis(50)).await;
            block_until_the_lifo_helper_runs_elsewhere().await
        })
        .await
        .unwrap()
    });
    assert!(ran, "the LIFO task waited for the blocked worker");
}

/// A task that yields in a loop with nothing else queued on its worker keeps running there:
/// its yields wake no other worker, which would only steal it (moving it, and the timers it
/// arms, to the other core and back on every yield).
#[test]
fn a_task_yielding_alone_stays_on_its_worker() {
    let rt = runtime(2);
    let moves = rt.block_on(async {
        spindle::spawn(async {
            let mut moves = 0;
            let mut last = std::thread::current().id();
            for _ in 0..10_000 {
                spindle::yield_now().await;
                let current = std::thread::current().id();
                if current != last {
                    moves += 1;
                    last = current;
                }
            }
            moves
        })
        .await
        .unwrap()
    });
    assert!(
        moves < 20,
        "the task moved between workers {moves} times in 10_000 yields"
    );
}

#[test]
fn join_all_polls_only_the_woken_futures() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    struct Counted {
        rx: futures::channel::oneshot::Receiver<()>,
        polls: Arc<AtomicUsize>,
    }
    impl Future for Counted {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            Pin::new(&mut self.rx).poll(cx).map(|r| r.unwrap())
        }
    }

    let n = 200_000;
    let polls = Arc::new(AtomicUsize::new(0));
    let (senders, futures): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| {
            let (tx, rx) = futures::channel::oneshot::channel();
            (
                tx,
                Counted {
                    rx,
                    polls: polls.clone(),
                },
            )
        })
        .unzip();
    let firing = std::thread::spawn(move || {
        // Complete them one by one, in reverse, from another thread.
        for tx in senders.into_iter().rev() {
            tx.send(()).unwrap();
        }
    });
    let rt = runtime(2);
    let outputs = rt.block_on(spindle::join_all(futures));
    firing.join().unwrap();
    assert_eq!(outputs.len(), n);
    let total = polls.load(Ordering::Relaxed);
    assert!(
        total <= 2 * n,
        "{total} polls for {n} futures: join_all re-polled futures that were not woken"
    );
}

type BoxedResultFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<u32, &'static str>> + Send>>;

#[test]
fn try_join_all_returns_the_first_error_and_drops_the_rest() {
    let rt = runtime(2);
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(dropped.clone());
    let result: Result<Vec<u32>, &str> = rt.block_on(async move {
        let pending = async move {
            let _flag = flag;
            std::future::pending::<Result<u32, &str>>().await
        };
        let futures: Vec<BoxedResultFuture> = vec![
            Box::pin(async { Ok(1) }),
            Box::pin(pending),
            Box::pin(async { Err("bad input") }),
        ];
        spindle::try_join_all(futures).await
    });
    assert_eq!(result, Err("bad input"));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    let ok: Result<Vec<u32>, &str> =
        rt.block_on(spindle::try_join_all((1..=3).map(|n| async move { Ok(n) })));
    assert_eq!(ok, Ok(vec![1, 2, 3]));
}

#[test]
fn join_set_returns_in_completion_order_and_aborts_on_drop() {
    let rt = runtime(2);
    rt.block_on(async {
        let mut set = spindle::JoinSet::new();
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        set.spawn(async move {
            rx.await.unwrap();
            "slow"
        });
        set.spawn(async { "fast" });
        assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
        tx.send(()).unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), "slow");
        assert!(set.join_next().await.is_none());
    });
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(dropped.clone());
    rt.block_on(async move {
        let mut set = spindle::JoinSet::new();
        set.spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await
        });
        assert_eq!(set.len(), 1);
    });
    with_watchdog("join-set-drop", Duration::from_secs(10), move || {
        while dropped.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
    });
}
