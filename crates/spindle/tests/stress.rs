//! Stress: the runtime under load, under churn, and shut down in the middle of everything.
//!
//! Every size is the full size when `SPINDLE_STRESS_SCALE` is unset, and scales with
//! it ([`common::scaled`]; CI runs at 0.5). Every test runs under [`common::with_watchdog`],
//! so a lost wake-up or a hang fails the test instead of hanging the run. Each test's doc
//! comment names the bug it would catch and the longest it may run (the watchdog's limit, a
//! generous multiple of a debug build at full size on 2 cores).
//!
//! The measured times are in `docs/reliability.md`; for the full sizes in a release build:
//! `cargo test --release -p spindle --test stress`.

mod common;

use common::{progress, runtime, scaled, with_watchdog};
use futures::StreamExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Counts drops: a future that holds one is dropped exactly once, or the count says so.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `future`, counting in `pending` the first time a poll of it returns `Pending`: by
/// then it has registered whatever it waits on (a timer, a socket, a channel).
struct CountFirstPending<F> {
    future: Pin<Box<F>>,
    pending: Option<Arc<AtomicUsize>>,
}

fn count_first_pending<F: Future>(pending: &Arc<AtomicUsize>, future: F) -> CountFirstPending<F> {
    CountFirstPending {
        future: Box::pin(future),
        pending: Some(pending.clone()),
    }
}

impl<F: Future> Future for CountFirstPending<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.future.as_mut().poll(cx);
        if poll.is_pending() {
            if let Some(pending) = self.pending.take() {
                pending.fetch_add(1, Ordering::SeqCst);
            }
        }
        poll
    }
}

/// Spawns `count` tasks in waves of `WAVE` (so that at most a wave is alive at once), each
/// returning its own number, and returns the sum of their outputs.
async fn spawn_in_waves(first: u64, count: u64) -> u64 {
    const WAVE: u64 = 4096;
    let mut sum = 0;
    let mut next = first;
    while next < first + count {
        let end = (next + WAVE).min(first + count);
        let wave: Vec<_> = (next..end)
            .map(|i| spindle::spawn(async move { i }))
            .collect();
        for output in spindle::join_all(wave).await {
            sum += output.unwrap();
        }
        next = end;
    }
    sum
}

/// 10,000,000 tasks through a 2-worker runtime, half spawned by a task on a worker (they land
/// in its LIFO slot and deque, and the other worker steals them), half from the test thread
/// through the injector, both at once. Catches a task lost or run twice (the sum of their
/// outputs is off, or a wave never completes), and a leak that grows with the task count.
/// Limit: 300 s (debug, full size: 11 to 30 s).
#[test]
fn ten_million_tasks_through_two_workers() {
    let total = scaled(10_000_000, 100_000) as u64;
    let (sum, elapsed) = with_watchdog("ten-million-tasks", Duration::from_secs(300), move || {
        let rt = runtime(2);
        let start = Instant::now();
        let half = total / 2;
        let on_worker = rt.spawn(spawn_in_waves(0, half));
        let from_outside = rt.block_on(spawn_in_waves(half, total - half));
        let on_worker = rt.block_on(on_worker).unwrap();
        (on_worker + from_outside, start.elapsed())
    });
    eprintln!("{total} tasks in {elapsed:?}");
    assert_eq!(sum, total * (total - 1) / 2);
}

/// A task and the plain OS thread that wakes it: the thread publishes a count and wakes the
/// task's registered waker; the task acknowledges the newest count it saw. The thread runs at
/// most `WAKE_WINDOW` ahead of the acknowledgements, so most wakes find the task idle and
/// each one matters.
struct Mailbox {
    sent: AtomicU64,
    seen: AtomicU64,
    waker: Mutex<Option<Waker>>,
    sender: OnceLock<Thread>,
}

const WAKE_WINDOW: u64 = 8;

impl Mailbox {
    /// The sending thread's loop: `wakes` cross-thread wakes, returning how many it made.
    fn send(&self, wakes: u64) -> u64 {
        self.sender.set(std::thread::current()).unwrap();
        let mut made = 0;
        for count in 1..=wakes {
            while count - 1 - self.seen.load(Ordering::Acquire) >= WAKE_WINDOW {
                std::thread::park();
            }
            self.sent.store(count, Ordering::Release);
            let waker = self.waker.lock().unwrap().clone();
            if let Some(waker) = waker {
                waker.wake();
                made += 1;
            }
        }
        made
    }

    /// The task's side: ready once it has seen `wakes`.
    fn poll_receive(&self, cx: &mut Context<'_>, wakes: u64) -> Poll<()> {
        {
            let mut slot = self.waker.lock().unwrap();
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        let sent = self.sent.load(Ordering::Acquire);
        if sent > self.seen.load(Ordering::Relaxed) {
            self.seen.store(sent, Ordering::Release);
            if let Some(sender) = self.sender.get() {
                sender.unpark();
            }
        }
        if sent == wakes {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// 1,000,000 wakes of runtime tasks from 4 plain OS threads (not workers: every wake goes
/// through the injector and the unpark path), each thread paired with one task. Catches a
/// lost wake-up: a wake dropped while the task is idle leaves its thread parked with a full
/// window, or the task pending after the last wake; either trips the watchdog.
/// Limit: 300 s (debug, full size: about 1 s).
#[test]
fn a_million_cross_thread_wakes_from_plain_threads() {
    const THREADS: u64 = 4;
    let per_thread = scaled(1_000_000, 40_000) as u64 / THREADS;
    let made = with_watchdog("million-wakes", Duration::from_secs(300), move || {
        let rt = runtime(2);
        let mut tasks = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..THREADS {
            let mailbox = Arc::new(Mailbox {
                sent: AtomicU64::new(0),
                seen: AtomicU64::new(0),
                waker: Mutex::new(None),
                sender: OnceLock::new(),
            });
            let receiving = mailbox.clone();
            tasks.push(rt.spawn(std::future::poll_fn(move |cx| {
                receiving.poll_receive(cx, per_thread)
            })));
            senders.push(std::thread::spawn(move || mailbox.send(per_thread)));
        }
        for result in rt.block_on(spindle::join_all(tasks)) {
            result.unwrap();
        }
        senders
            .into_iter()
            .map(|sender| sender.join().unwrap())
            .sum::<u64>()
    });
    eprintln!("{made} cross-thread wakes");
    // A wake is skipped only before the task's first poll registered a waker.
    assert!(
        made + THREADS * WAKE_WINDOW >= THREADS * per_thread,
        "{made}"
    );
}

/// What the spawner does with a task's `JoinHandle` right after spawning it.
#[derive(Clone, Copy)]
enum Fate {
    /// Abort at once, then await: cancelled, or its output if it already finished.
    AbortAtOnce,
    /// Drop the handle at once: the task runs detached.
    Detach,
    /// Hand the handle to another thread, which aborts it while the task is likely running.
    AbortElsewhere,
    /// Await it: its output.
    Await,
}

const FATES: [Fate; 4] = [
    Fate::AbortAtOnce,
    Fate::Detach,
    Fate::AbortElsewhere,
    Fate::Await,
];

/// A task for the races: yields `i % 8` times, then returns `i`; its future holds a drop
/// counter.
fn racing_task(i: u64, drops: &Arc<AtomicUsize>) -> impl Future<Output = u64> + Send + 'static {
    let guard = DropCount(drops.clone());
    async move {
        let _guard = guard;
        for _ in 0..i % 8 {
            spindle::yield_now().await;
        }
        i
    }
}

/// Spawns `count` racing tasks with `spawn`, deciding each one's fate; returns the handles
/// to await (with the output expected if it was not aborted).
fn spawn_with_fates(
    first: u64,
    count: u64,
    drops: &Arc<AtomicUsize>,
    aborter: &mpsc::Sender<spindle::JoinHandle<u64>>,
    spawn: impl Fn(u64, &Arc<AtomicUsize>) -> spindle::JoinHandle<u64>,
) -> Vec<(u64, bool, spindle::JoinHandle<u64>)> {
    let mut kept = Vec::new();
    for i in first..first + count {
        let handle = spawn(i, drops);
        match FATES[(i % 4) as usize] {
            Fate::AbortAtOnce => {
                handle.abort();
                kept.push((i, true, handle));
            }
            Fate::Detach => drop(handle),
            Fate::AbortElsewhere => aborter.send(handle).unwrap(),
            Fate::Await => kept.push((i, false, handle)),
        }
    }
    kept
}

/// Checks the kept handles: aborted ones are cancelled or carry their own output, the others
/// their output. Returns how many were cancelled.
async fn check_outcomes(kept: Vec<(u64, bool, spindle::JoinHandle<u64>)>) -> usize {
    let mut cancelled = 0;
    for (i, aborted, handle) in kept {
        match handle.await {
            Ok(output) => assert_eq!(output, i),
            Err(err) => {
                assert!(aborted && err.is_cancelled(), "task {i}: {err}");
                cancelled += 1;
            }
        }
    }
    cancelled
}

/// Spawn, abort and `JoinHandle` drop racing the tasks' polls and each other: tasks spawned
/// from 2 plain threads and from 2 tasks on the workers, each aborted at once, detached,
/// aborted from a third thread while it yields, or awaited. Catches a future dropped twice or
/// never (the drop count after shutdown is off), an awaited task that does not return its
/// output, an aborted task that resolves to anything but its output or `Cancelled`, and a
/// hang on a handle. Limit: 300 s (debug, full size: about 1 s).
#[test]
fn spawn_abort_and_handle_drop_races_drop_every_future_once() {
    let per_source = scaled(100_000, 10_000) as u64;
    let sources = 4;
    let (dropped, cancelled) = with_watchdog("spawn-abort-races", Duration::from_secs(300), {
        move || {
            let rt = runtime(2);
            let drops = Arc::new(AtomicUsize::new(0));
            let (abort_tx, abort_rx) = mpsc::channel::<spindle::JoinHandle<u64>>();
            let aborter = std::thread::spawn(move || {
                for handle in abort_rx {
                    handle.abort();
                    assert!(match futures::executor::block_on(handle) {
                        Ok(_) => true,
                        Err(err) => err.is_cancelled(),
                    });
                }
            });
            let mut outside = Vec::new();
            for source in 0..2 {
                let (handle, drops, abort_tx) = (rt.handle(), drops.clone(), abort_tx.clone());
                outside.push(std::thread::spawn(move || {
                    let kept = spawn_with_fates(
                        source * per_source,
                        per_source,
                        &drops,
                        &abort_tx,
                        |i, drops| handle.spawn(racing_task(i, drops)),
                    );
                    futures::executor::block_on(check_outcomes(kept))
                }));
            }
            let on_workers: Vec<_> = (2..sources)
                .map(|source| {
                    let (drops, abort_tx) = (drops.clone(), abort_tx.clone());
                    rt.spawn(async move {
                        let kept = spawn_with_fates(
                            source * per_source,
                            per_source,
                            &drops,
                            &abort_tx,
                            |i, drops| spindle::spawn(racing_task(i, drops)),
                        );
                        check_outcomes(kept).await
                    })
                })
                .collect();
            drop(abort_tx);
            let mut cancelled: usize = rt
                .block_on(spindle::join_all(on_workers))
                .into_iter()
                .map(Result::unwrap)
                .sum();
            cancelled += outside
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .sum::<usize>();
            aborter.join().unwrap();
            // Detached tasks may still be running: shutdown cancels whatever is left.
            drop(rt);
            (drops.load(Ordering::SeqCst), cancelled)
        }
    });
    eprintln!("{cancelled} of the awaited tasks were cancelled by their abort");
    assert_eq!(
        dropped as u64,
        sources * per_source,
        "every future dropped once"
    );
}

/// `/proc/self/task` and `/proc/self/fd` entries: this process's threads and descriptors.
fn threads_and_fds() -> (usize, usize) {
    let count = |dir| std::fs::read_dir(dir).unwrap().count();
    (count("/proc/self/task"), count("/proc/self/fd"))
}

const CHILD: &str = "SPINDLE_STRESS_CHILD";

/// Runs the test `name` of this binary alone in a child process (the thread and descriptor
/// counts must not see other tests), and fails if the child fails.
fn run_alone_in_a_child(name: &str) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );
}

/// 1,000 runtimes built, used (a task, a timer, a socket) and dropped one after the other.
/// Catches a worker thread or a descriptor (epoll, eventfd, socket) that outlives its runtime:
/// the process's thread and descriptor counts are compared before and after, in a child
/// process of its own. Limit: 300 s (debug, full size: about 1 s).
#[test]
fn a_thousand_runtimes_leak_no_thread_or_fd() {
    const NAME: &str = "a_thousand_runtimes_leak_no_thread_or_fd";
    if std::env::var(CHILD).as_deref() != Ok(NAME) {
        return run_alone_in_a_child(NAME);
    }
    let runtimes = scaled(1_000, 100);
    with_watchdog("runtime-churn", Duration::from_secs(300), move || {
        let before = threads_and_fds();
        for i in 0..runtimes {
            let rt = runtime(2);
            let value = rt.block_on(async move {
                let socket = spindle::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let task = spindle::spawn(async move {
                    spindle::sleep(Duration::from_micros(50)).await;
                    socket.local_addr().unwrap().port() > 0
                });
                spindle::yield_now().await;
                task.await.unwrap()
            });
            assert!(value, "runtime {i}");
            // A pending task, so that shutdown has something to cancel.
            rt.spawn(std::future::pending::<()>());
        }
        // A joined thread can stay listed for a moment after `join` returns.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut after = threads_and_fds();
        while after != before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            after = threads_and_fds();
        }
        eprintln!("{runtimes} runtimes: (threads, fds) before {before:?}, after {after:?}");
        assert_eq!(
            after, before,
            "(threads, fds) leaked by {runtimes} runtimes"
        );
    });
}

/// A runtime dropped while tasks are in every state at once: one in the middle of a poll
/// (blocking its worker for 20 ms, from just before the drop), tasks sleeping for an hour, tasks waiting on a socket
/// (`accept`, `recv`), tasks queued and yielding in a loop; half the rounds drop it at once,
/// before most tasks ran. Catches a shutdown that hangs (the watchdog), a future dropped twice
/// or never, a handle that resolves to anything but `Cancelled`, and a timer entry left in a
/// wheel. Limit: 300 s (debug, full size: about 2.5 s).
#[test]
fn shutdown_while_tasks_poll_sleep_and_wait_on_io() {
    let rounds = scaled(200, 20);
    let per_round = with_watchdog("shutdown-mid-flight", Duration::from_secs(300), move || {
        let mut per_round = 0;
        for round in 0..rounds {
            let rt = runtime(2);
            let handle = rt.handle();
            let drops = Arc::new(AtomicUsize::new(0));
            let waiting = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..50 {
                let guard = DropCount(drops.clone());
                tasks.push(rt.spawn(count_first_pending(&waiting, async move {
                    let _guard = guard;
                    spindle::sleep(Duration::from_secs(3600)).await
                })));
            }
            for n in 0..10 {
                let guard = DropCount(drops.clone());
                tasks.push(rt.spawn(count_first_pending(&waiting, async move {
                    let _guard = guard;
                    if n % 2 == 0 {
                        let listener = spindle::net::TcpListener::bind("127.0.0.1:0")
                            .await
                            .unwrap();
                        let _ = listener.accept().await;
                    } else {
                        let socket = spindle::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                        let _ = socket.recv(&mut [0; 8]).await;
                    }
                })));
            }
            for _ in 0..100 {
                let guard = DropCount(drops.clone());
                tasks.push(rt.spawn(async move {
                    let _guard = guard;
                    loop {
                        spindle::yield_now().await;
                    }
                }));
            }
            let settle = round % 2 == 0;
            if settle {
                progress(format!("round {round}: waiting for the tasks to park"));
                while waiting.load(Ordering::SeqCst) < 60 || handle.armed_timers() < 50 {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            // Spawned last, so that nothing queued behind it waits for its long poll; the
            // runtime is dropped while it blocks its worker.
            let (started_tx, started_rx) = mpsc::channel();
            let guard = DropCount(drops.clone());
            tasks.push(rt.spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(20));
                std::future::pending::<()>().await
            }));
            if settle {
                progress(format!("round {round}: waiting for the long poll to start"));
                started_rx.recv().unwrap();
            }
            let spawned = tasks.len();
            progress(format!("round {round}: dropping the runtime"));
            drop(rt);
            progress(format!("round {round}: checking the handles"));
            assert_eq!(drops.load(Ordering::SeqCst), spawned, "round {round}");
            assert_eq!(handle.armed_timers(), 0, "round {round}");
            for task in tasks {
                let err = futures::executor::block_on(task).unwrap_err();
                assert!(err.is_cancelled(), "round {round}: {err}");
            }
            per_round = spawned;
        }
        per_round
    });
    eprintln!("{rounds} shutdowns of {per_round} tasks each");
}

/// Four runtimes alive at once, their tasks passing tokens around a ring (a task of runtime
/// `r` wakes a task of runtime `r + 1` through a channel), and every 16th hop spawning onto
/// the next runtime through its `Handle` and awaiting that `JoinHandle` (a join waker of one
/// runtime woken by a worker of another). Catches a wake routed to the wrong runtime's queues
/// (a task polled by a foreign worker, or lost between them), and a lost cross-runtime
/// wake-up (the ring stalls: the watchdog). Limit: 300 s (debug, full size: about 2 s).
#[test]
fn runtimes_alive_at_once_wake_each_others_tasks() {
    const RUNTIMES: usize = 4;
    const TOKENS: u64 = 16;
    let hops_per_token = scaled(400_000, 20_000) as u64 / TOKENS;
    let hops = with_watchdog("runtime-ring", Duration::from_secs(300), move || {
        let runtimes: Vec<_> = (0..RUNTIMES)
            .map(|r| {
                spindle::Builder::new()
                    .worker_threads(common::worker_threads(2))
                    .thread_name(format!("ring{r}"))
                    .build()
                    .unwrap()
            })
            .collect();
        let hops = Arc::new(AtomicU64::new(0));
        let (done_tx, done_rx) = mpsc::channel();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..RUNTIMES)
            .map(|_| futures::channel::mpsc::unbounded::<u64>())
            .unzip();
        for (r, mut receiver) in receivers.into_iter().enumerate() {
            let next = (r + 1) % RUNTIMES;
            let forward = senders[next].clone();
            let next_handle = runtimes[next].handle();
            let (hops, done_tx) = (hops.clone(), done_tx.clone());
            runtimes[r].spawn(async move {
                let own_workers = format!("ring{r}-");
                while let Some(remaining) = receiver.next().await {
                    let worker = std::thread::current().name().unwrap_or("").to_owned();
                    assert!(
                        worker.starts_with(&own_workers),
                        "runtime {r} polled on {worker}"
                    );
                    hops.fetch_add(1, Ordering::Relaxed);
                    if remaining == 0 {
                        done_tx.send(()).unwrap();
                        continue;
                    }
                    if remaining % 16 == 0 {
                        let there = next_handle.spawn(async move {
                            let worker = std::thread::current().name().unwrap_or("").to_owned();
                            assert!(worker.starts_with(&format!("ring{next}-")), "{worker}");
                            remaining
                        });
                        assert_eq!(there.await.unwrap(), remaining);
                    }
                    forward.unbounded_send(remaining - 1).unwrap();
                }
            });
        }
        for _ in 0..TOKENS {
            senders[0].unbounded_send(hops_per_token).unwrap();
        }
        for _ in 0..TOKENS {
            done_rx.recv().unwrap();
        }
        let hops = hops.load(Ordering::Relaxed);
        // The ring tasks wait on their channels: dropping the runtimes cancels them.
        drop(runtimes);
        hops
    });
    assert_eq!(hops, TOKENS * (hops_per_token + 1));
}
