//! User code that panics inside the runtime's own machinery, which must survive it without
//! hanging and without losing work silently:
//!
//! - A waker that panics when spindle's timer, its reactor or a task's completion wakes it on
//!   a worker. The worker lives on, every other waker woken with it still is, and the runtime
//!   shuts down cleanly.
//! - Destructors that panic while the runtime shuts down: a finished task's output nobody
//!   took, a pending task's future. The shutdown completes, every worker is joined, and every
//!   other task's destructor runs.

mod common;

use common::{settled, threads_named, with_watchdog, WAIT_LIMIT};
use futures::channel::oneshot;
use futures::io::{AsyncRead, AsyncReadExt};
use spindle::{JoinHandle, Runtime};
use std::collections::HashSet;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

/// The panic message of [`PanickingWaker`], to tell its reports in the test output.
const WAKER_PANIC: &str = "panics.rs: a waker that panics when woken";

/// A waker that panics when woken, and records the thread that woke it.
#[derive(Default)]
struct PanickingWaker {
    woken_on: Mutex<Vec<String>>,
}

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        self.woken_on.lock().unwrap().push(thread);
        panic!("{WAKER_PANIC}");
    }
}

impl PanickingWaker {
    /// Waits until it has been woken, then returns the threads that woke it.
    fn woken_on(&self) -> Vec<String> {
        wait_until("the panicking waker is woken", || {
            !self.woken_on.lock().unwrap().is_empty()
        });
        self.woken_on.lock().unwrap().clone()
    }
}

/// A waker that counts its wakes into a counter it may share with others.
struct CountingWaker(Arc<AtomicUsize>);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Polls `future` once with `waker`, expecting it to be pending: that registers `waker`
/// with whatever the future waits on.
fn register<F: Future + Unpin>(future: &mut F, waker: &Waker) {
    let polled = Pin::new(future).poll(&mut Context::from_waker(waker));
    assert!(
        polled.is_pending(),
        "registering a waker needs a pending future"
    );
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {WAIT_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A runtime of at least two workers named `{name}-N`, and its worker count.
fn named_runtime(name: &str) -> (Runtime, usize) {
    let workers = common::worker_threads(2).max(2);
    let runtime = spindle::Builder::new()
        .worker_threads(workers)
        .thread_name(name)
        .build()
        .unwrap();
    (runtime, workers)
}

/// Fails unless `workers` tasks run at once, each on a worker of its own: each holds its
/// worker until all have started, or gives up after [`WAIT_LIMIT`].
fn assert_every_worker_runs_a_task(runtime: &Runtime, workers: usize) {
    let started = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let started = started.clone();
            runtime.spawn(async move {
                started.fetch_add(1, SeqCst);
                let deadline = Instant::now() + WAIT_LIMIT;
                while started.load(SeqCst) < workers && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::current().name().unwrap().to_owned()
            })
        })
        .collect();
    let threads: HashSet<String> = runtime
        .block_on(spindle::join_all(tasks))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        (started.load(SeqCst), threads.len()),
        (workers, workers),
        "{workers} tasks did not run at once on {workers} workers (ran on {threads:?})"
    );
}

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Spawns `tasks` tasks that never finish, each holding a [`DropCounter`] on `dropped`.
fn spawn_pending_tasks(runtime: &Runtime, tasks: usize, dropped: &Arc<AtomicUsize>) {
    for _ in 0..tasks {
        let guard = DropCounter(dropped.clone());
        drop(runtime.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
    }
}

/// Drops `runtime` (its pending tasks are cancelled) and checks that the shutdown dropped
/// the `tasks` futures counted on `dropped` and joined every worker named `{name}-N`.
fn assert_clean_shutdown(runtime: Runtime, name: &str, tasks: usize, dropped: &AtomicUsize) {
    drop(runtime);
    assert_eq!(
        dropped.load(SeqCst),
        tasks,
        "the shutdown did not drop every pending task's future"
    );
    let prefix = format!("{name}-");
    assert_eq!(
        settled(0, || threads_named(&prefix)),
        0,
        "worker threads outlived the runtime"
    );
}

/// A waker that panics when its timer fires: the timer fires it on a worker, together with
/// eight other sleeps of the same deadline. Fails if the panic kills the worker, if a sleep
/// fired with it is never woken, or if the shutdown then drops fewer pending tasks.
#[test]
fn a_waker_that_panics_when_its_timer_fires_costs_no_worker_and_no_wake() {
    with_watchdog("panicking_timer_waker", Duration::from_secs(60), || {
        let (runtime, workers) = named_runtime("fw-timer");
        let panicking = Arc::new(PanickingWaker::default());
        let others_woken = Arc::new(AtomicUsize::new(0));
        let (registered_tx, registered) = mpsc::channel();
        let (release, released) = oneshot::channel::<()>();
        let task_waker = Waker::from(panicking.clone());
        let counter = others_woken.clone();
        let sleeper = runtime.spawn(async move {
            let deadline = Instant::now() + Duration::from_millis(50);
            let mut sleeps: Vec<_> = (0..9)
                .map(|_| Box::pin(spindle::sleep_until(deadline)))
                .collect();
            for (index, sleep) in sleeps.iter_mut().enumerate() {
                let waker = match index {
                    4 => task_waker.clone(),
                    _ => Waker::from(Arc::new(CountingWaker(counter.clone()))),
                };
                register(sleep, &waker);
            }
            registered_tx.send(()).unwrap();
            released.await.unwrap();
            for sleep in sleeps {
                sleep.await;
            }
        });
        registered.recv_timeout(WAIT_LIMIT).unwrap();

        let woken_on = panicking.woken_on();
        assert!(woken_on[0].starts_with("fw-timer-"), "{woken_on:?}");
        wait_until(
            "the 8 sleeps fired with the panicking one are woken",
            || others_woken.load(SeqCst) == 8,
        );
        release.send(()).unwrap();
        runtime.block_on(sleeper).unwrap();
        assert_every_worker_runs_a_task(&runtime, workers);

        let dropped = Arc::new(AtomicUsize::new(0));
        spawn_pending_tasks(&runtime, 3, &dropped);
        assert_clean_shutdown(runtime, "fw-timer", 3, &dropped);
    });
}

/// A waker that panics when its socket becomes readable: the reactor wakes it on a worker,
/// between two other wakers waiting on the same socket. Then another, waiting on a socket
/// that outlives the runtime, which the runtime's drop wakes. Fails if the panic kills the
/// worker, if a waker after it is never woken, if the drop of the runtime panics, or if it
/// drops fewer pending tasks.
#[test]
fn a_waker_that_panics_when_its_socket_is_ready_costs_no_worker_and_no_wake() {
    with_watchdog("panicking_socket_waker", Duration::from_secs(60), || {
        let (runtime, workers) = named_runtime("fw-io");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let connect = || {
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            (client, listener.accept().unwrap().0)
        };
        let (client, mut server) = connect();
        let panicking = Arc::new(PanickingWaker::default());
        let others_woken = Arc::new(AtomicUsize::new(0));
        let (registered_tx, registered) = mpsc::channel();
        let (release, released) = oneshot::channel::<()>();
        let task_waker = Waker::from(panicking.clone());
        let counter = others_woken.clone();
        let reader = runtime.spawn(async move {
            let mut stream = spindle::net::TcpStream::from_std(client).unwrap();
            let mut byte = [0u8; 1];
            for waker in [
                Waker::from(Arc::new(CountingWaker(counter.clone()))),
                task_waker,
                Waker::from(Arc::new(CountingWaker(counter))),
            ] {
                let polled =
                    Pin::new(&mut &stream).poll_read(&mut Context::from_waker(&waker), &mut byte);
                assert!(polled.is_pending(), "nothing was sent yet");
            }
            registered_tx.send(()).unwrap();
            released.await.unwrap();
            stream.read_exact(&mut byte).await.unwrap();
            byte[0]
        });
        registered.recv_timeout(WAIT_LIMIT).unwrap();
        server.write_all(&[7]).unwrap();

        let woken_on = panicking.woken_on();
        assert!(woken_on[0].starts_with("fw-io-"), "{woken_on:?}");
        wait_until("the 2 other wakers of the socket are woken", || {
            others_woken.load(SeqCst) == 2
        });
        release.send(()).unwrap();
        assert_eq!(runtime.block_on(reader).unwrap(), 7);
        assert_every_worker_runs_a_task(&runtime, workers);

        let (client, _server) = connect();
        let outliving = runtime
            .block_on(async { spindle::net::TcpStream::from_std(client) })
            .unwrap();
        let at_shutdown = Arc::new(PanickingWaker::default());
        let polled = Pin::new(&mut &outliving).poll_read(
            &mut Context::from_waker(&Waker::from(at_shutdown.clone())),
            &mut [0u8; 1],
        );
        assert!(polled.is_pending(), "nothing was sent yet");
        let dropped = Arc::new(AtomicUsize::new(0));
        spawn_pending_tasks(&runtime, 3, &dropped);
        assert_clean_shutdown(runtime, "fw-io", 3, &dropped);
        assert_eq!(at_shutdown.woken_on().len(), 1);
        let read = futures::executor::block_on((&outliving).read(&mut [0u8; 1]));
        assert!(
            read.is_err(),
            "a socket read after its runtime's drop gave {read:?}"
        );
    });
}

/// A waker that panics when the task it joins completes: the completing worker wakes it.
/// Fails if the panic kills the worker, if the task's output is then lost to its handle, or
/// if the shutdown then drops fewer pending tasks.
#[test]
fn a_join_waker_that_panics_costs_no_worker_and_no_output() {
    with_watchdog("panicking_join_waker", Duration::from_secs(60), || {
        let (runtime, workers) = named_runtime("fw-join");
        let panicking = Arc::new(PanickingWaker::default());
        let (finish_tx, finish) = mpsc::channel();
        let (release, released) = oneshot::channel::<()>();
        let task_waker = Waker::from(panicking.clone());
        let joiner = runtime.spawn(async move {
            let (finish_child, child_finishes) = oneshot::channel::<()>();
            let mut child: JoinHandle<u32> = spindle::spawn(async move {
                child_finishes.await.unwrap();
                42
            });
            register(&mut child, &task_waker);
            finish_tx.send(finish_child).unwrap();
            released.await.unwrap();
            child.await.unwrap()
        });
        let finish_child = finish.recv_timeout(WAIT_LIMIT).unwrap();
        finish_child.send(()).unwrap();

        let woken_on = panicking.woken_on();
        assert!(woken_on[0].starts_with("fw-join-"), "{woken_on:?}");
        release.send(()).unwrap();
        assert_eq!(runtime.block_on(joiner).unwrap(), 42);
        assert_every_worker_runs_a_task(&runtime, workers);

        let dropped = Arc::new(AtomicUsize::new(0));
        spawn_pending_tasks(&runtime, 3, &dropped);
        assert_clean_shutdown(runtime, "fw-join", 3, &dropped);
    });
}

/// Panics when dropped, after counting the attempt.
struct PanicOnDrop(Arc<AtomicUsize>);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
        panic!("panics.rs: a destructor that panics");
    }
}

/// Destructors that panic while the runtime shuts down, among 20 pending tasks with plain
/// ones: a pending task's future, the unread output of a finished task whose handle another
/// pending task holds, and (before the shutdown) a detached task's output. Fails if the drop
/// of the runtime panics, aborts or hangs, if a worker outlives it, if one of the 20 plain
/// destructors does not run, or if a handle does not resolve.
#[test]
fn destructors_that_panic_at_shutdown_stop_nothing() {
    with_watchdog("panicking_destructors", Duration::from_secs(60), || {
        let (runtime, _) = named_runtime("fw-drop");
        let panicked = Arc::new(AtomicUsize::new(0));

        let detached = PanicOnDrop(panicked.clone());
        drop(runtime.spawn(async move { detached }));

        let output = PanicOnDrop(panicked.clone());
        let (holding_tx, holding) = mpsc::channel();
        let holder = runtime.spawn(async move {
            let finished = spindle::spawn(async move { output });
            while !finished.is_finished() {
                spindle::yield_now().await;
            }
            holding_tx.send(()).unwrap();
            std::future::pending::<()>().await;
            drop(finished);
        });
        holding.recv_timeout(WAIT_LIMIT).unwrap();

        let unread = PanicOnDrop(panicked.clone());
        let finished_unread = runtime.spawn(async move { unread });
        wait_until("the task with an unread output finishes", || {
            finished_unread.is_finished()
        });

        let future_guard = PanicOnDrop(panicked.clone());
        let pending = runtime.spawn(async move {
            let _guard = future_guard;
            std::future::pending::<()>().await
        });

        let dropped = Arc::new(AtomicUsize::new(0));
        spawn_pending_tasks(&runtime, 20, &dropped);
        wait_until("the detached task's output is dropped", || {
            panicked.load(SeqCst) == 1
        });

        assert_clean_shutdown(runtime, "fw-drop", 20, &dropped);
        assert_eq!(
            panicked.load(SeqCst),
            3,
            "the shutdown did not drop the pending task's future and the held output"
        );
        let holder = futures::executor::block_on(holder).unwrap_err();
        assert!(holder.is_cancelled(), "{holder:?}");
        let pending = futures::executor::block_on(pending).unwrap_err();
        assert!(
            pending.is_panic(),
            "a future whose destructor panicked at shutdown gave {pending:?}"
        );
        drop(finished_unread);
        assert_eq!(panicked.load(SeqCst), 4);
    });
}
