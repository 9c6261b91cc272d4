//! Faults a runtime must survive without hanging and without losing work silently.
//!
//! - Thread creation fails (`RLIMIT_NPROC`, lowered in a child process: this test binary run
//!   again on one `#[ignore]`d helper, as an unprivileged user, since root is exempt from the
//!   limit). `Builder::build` then returns an error naming the worker thread it could not
//!   start, and leaves no thread or descriptor behind; `spawn_blocking` queues its closure for
//!   a pool thread that is already there, or, in a pool with none, resolves its handle to a
//!   cancelled `JoinError` at once.
//! - A waker that panics when spindle's timer, its reactor or a task's completion wakes it on
//!   a worker. The worker lives on, every other waker woken with it still is, and the runtime
//!   shuts down cleanly.
//! - Destructors that panic while the runtime shuts down: a finished task's output nobody
//!   took, a pending task's future. The shutdown completes, every worker is joined, and every
//!   other task's destructor runs.

mod common;

use common::with_watchdog;
use futures::channel::oneshot;
use futures::io::{AsyncRead, AsyncReadExt};
use spindle::{JoinHandle, Runtime};
use std::collections::HashSet;
use std::future::Future;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

/// Set in a child process to the name of the helper test it runs. A helper does nothing
/// without it, so `cargo test -- --ignored` does not drop the privileges of the whole run.
const CHILD_ENV: &str = "SPINDLE_FAULTS_CHILD";

/// How long any wait in these tests may take before it fails: far more than each needs.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Fails if a build that cannot start all its workers succeeds, panics, hangs (the workers
/// already started waiting for a runtime that never comes), returns an error that does not
/// say which thread failed, or leaves a thread or a descriptor behind.
#[test]
fn a_worker_thread_that_cannot_start_fails_the_build_and_leaks_nothing() {
    let report = run_in_child("worker_thread_spawn_fails_child", Duration::from_secs(60));
    assert!(
        report.contains("cannot start worker thread 2 of 4"),
        "{report}"
    );
}

#[test]
#[ignore = "run by a_worker_thread_that_cannot_start_fails_the_build_and_leaks_nothing in a child process"]
fn worker_thread_spawn_fails_child() {
    if !is_child("worker_thread_spawn_fails_child") {
        return;
    }
    with_watchdog("worker_thread_spawn_fails", Duration::from_secs(30), || {
        become_unprivileged(65534);
        let threads_before = thread_count();
        let fds_before = fd_count();
        limit_new_threads(2);
        let built = spindle::Builder::new()
            .worker_threads(4)
            .thread_name("fault-w")
            .build();
        lift_thread_limit();
        let error = built.expect_err("the build started 4 workers under a limit of 2 threads");
        println!("child: the build failed: {error}");
        assert!(
            error
                .to_string()
                .contains("cannot start worker thread 2 of 4"),
            "the error does not name the thread it could not start: {error}"
        );
        let threads_after = settled(threads_before, thread_count);
        assert_eq!(
            threads_after, threads_before,
            "the failed build left threads behind"
        );
        assert_eq!(
            fd_count(),
            fds_before,
            "the failed build left descriptors open"
        );
        let runtime = spindle::Builder::new().worker_threads(4).build().unwrap();
        assert_eq!(runtime.block_on(spindle::spawn(async { 1 })).unwrap(), 1);
    });
}

/// Fails if `spawn_blocking` panics when the pool cannot start a thread, if a closure queued
/// behind the pool's one busy thread never runs, or if the handle of a closure given to a pool
/// with no thread does not resolve (to a cancelled `JoinError`, with a line on stderr).
#[test]
fn spawn_blocking_when_the_pool_cannot_grow_queues_or_fails_the_handle() {
    let report = run_in_child("blocking_pool_cannot_grow_child", Duration::from_secs(60));
    assert!(
        report.contains("cannot start a blocking thread"),
        "the refused closure left no word on stderr:\n{report}"
    );
}

#[test]
#[ignore = "run by spawn_blocking_when_the_pool_cannot_grow_queues_or_fails_the_handle in a child process"]
fn blocking_pool_cannot_grow_child() {
    if !is_child("blocking_pool_cannot_grow_child") {
        return;
    }
    with_watchdog("blocking_pool_cannot_grow", Duration::from_secs(30), || {
        become_unprivileged(65533);
        let with_a_thread = spindle::Builder::new()
            .worker_threads(1)
            .thread_name("fb")
            .build()
            .unwrap();
        let without_a_thread = spindle::Builder::new().worker_threads(1).build().unwrap();
        let (started_tx, started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let busy = with_a_thread.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            released.recv_timeout(WAIT_LIMIT).unwrap();
            "busy"
        });
        started.recv_timeout(WAIT_LIMIT).unwrap();

        limit_new_threads(0);
        let queued = catch_unwind(AssertUnwindSafe(|| {
            with_a_thread.spawn_blocking(|| "queued")
        }))
        .expect("spawn_blocking panicked when its pool could not grow");
        let refused = catch_unwind(AssertUnwindSafe(|| {
            without_a_thread.spawn_blocking(|| "refused")
        }))
        .expect("spawn_blocking panicked when its pool could not start a thread");
        let refused = without_a_thread.block_on(refused);
        assert!(
            matches!(&refused, Err(error) if error.is_cancelled()),
            "a pool with no thread, unable to start one, gave {refused:?}"
        );
        assert_eq!(threads_named("fb-blocking"), 1);

        release.send(()).unwrap();
        assert_eq!(with_a_thread.block_on(busy).unwrap(), "busy");
        assert_eq!(with_a_thread.block_on(queued).unwrap(), "queued");
        lift_thread_limit();
        println!("child: queued behind the busy thread, refused without one");
    });
}

/// Runs `helper` (an ignored test of this binary) in a child process and returns its output,
/// after asserting that it ran and passed. Kills the child if it outlives `limit`.
fn run_in_child(helper: &str, limit: Duration) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            helper,
            "--ignored",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, helper)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = read_all_on_a_thread(child.stdout.take().unwrap());
    let stderr = read_all_on_a_thread(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let report = format!(
        "child {helper}: {status:?}\nstdout:\n{}\nstderr:\n{}",
        stdout.join().unwrap(),
        stderr.join().unwrap()
    );
    let status = status.unwrap_or_else(|| panic!("killed after {limit:?}: a hang\n{report}"));
    assert!(status.success(), "{report}");
    assert!(
        report.contains("test result: ok. 1 passed"),
        "the child did not run {helper}:\n{report}"
    );
    report
}

fn read_all_on_a_thread(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    })
}

fn is_child(helper: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(helper)
}

/// Switches the whole process (glibc applies it to every thread) to `id` as user and group.
/// Root ignores `RLIMIT_NPROC`; another user, with no capabilities left, does not. Each child
/// takes a user of its own, since the limit counts the threads of every process of a user.
fn become_unprivileged(id: libc::uid_t) {
    // SAFETY: setgid and setuid take an integer and touch no memory of this process.
    let (group, user) = unsafe { (libc::setgid(id), libc::setuid(id)) };
    assert_eq!(
        (group, user),
        (0, 0),
        "cannot become user {id}: {}",
        std::io::Error::last_os_error()
    );
}

/// Lowers the soft `RLIMIT_NPROC` so that this process can start `extra` more threads.
fn limit_new_threads(extra: usize) {
    let mut limit = thread_limit();
    limit.rlim_cur = (thread_count() + extra) as libc::rlim_t;
    set_thread_limit(limit);
}

/// Raises the soft `RLIMIT_NPROC` back to the hard one.
fn lift_thread_limit() {
    let mut limit = thread_limit();
    limit.rlim_cur = limit.rlim_max;
    set_thread_limit(limit);
}

fn thread_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for getrlimit to fill.
    let result = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) };
    assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
    limit
}

fn set_thread_limit(limit: libc::rlimit) {
    // SAFETY: `limit` is a valid `rlimit` that setrlimit only reads.
    let result = unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) };
    assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Threads of this process whose name starts with `prefix` (at most 15 bytes: the kernel
/// keeps no more of a thread's name).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Polls `count` until it reads `expected` (a joined thread leaves `/proc` a moment after its
/// join returns), for at most [`WAIT_LIMIT`]; returns the last reading.
fn settled(expected: usize, count: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let now = count();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The panic message of [`PanickingWaker`], to tell its reports in the test output.
const WAKER_PANIC: &str = "faults.rs: a waker that panics when woken";

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
        panic!("faults.rs: a destructor that panics");
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
