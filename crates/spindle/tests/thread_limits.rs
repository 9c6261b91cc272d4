//! Thread creation fails (`RLIMIT_NPROC`, lowered in a child process: this test binary run
//! again on one `#[ignore]`d helper, as an unprivileged user, since root is exempt from the
//! limit). `Builder::build` then returns an error naming the worker thread it could not start,
//! and leaves no thread or descriptor behind; `spawn_blocking` queues its closure for a pool
//! thread that is already there, or, in a pool with none, resolves its handle to a cancelled
//! `JoinError` at once. Nothing hangs, nothing is lost silently.

mod common;

use common::{settled, threads_named, with_watchdog, WAIT_LIMIT};
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set in a child process to the name of the helper test it runs. A helper does nothing
/// without it, so `cargo test -- --ignored` does not drop the privileges of the whole run.
const CHILD_ENV: &str = "SPINDLE_FAULTS_CHILD";

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
