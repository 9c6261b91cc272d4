//! `#[spindle::main]` and `#[spindle::test]` at work: which runtime runs the body, how many
//! workers it has, and that return types and the user's test attributes pass through.
//!
//! `#[spindle::main]` works on any function name, so these tests put it on small functions
//! and call them; `examples/main_macro.rs` and `tests/ui/pass/` use it on a real `fn main`.

mod common;

use common::with_watchdog;
use futures::channel::oneshot;
use spindle::JoinHandle;
use std::collections::BTreeSet;
use std::num::ParseIntError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a task of [`tasks_running_at_once`] waits for the others to start. Long enough for
/// idle workers to pick up a task on two busy cores, short enough to spend once per test.
const PATIENCE: Duration = Duration::from_millis(1000);

/// Runs `tasks` tasks on the current runtime, each blocking its worker until all `tasks` have
/// started or [`PATIENCE`] has passed, and returns how many ran at once (the runtime's worker
/// count, if `tasks` is larger) and the names of the threads they ran on.
async fn tasks_running_at_once(tasks: usize) -> (usize, BTreeSet<String>) {
    let started = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (started, running, peak) = (started.clone(), running.clone(), peak.clone());
            spindle::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                let now_running = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now_running, Ordering::SeqCst);
                let deadline = Instant::now() + PATIENCE;
                while started.load(Ordering::SeqCst) < tasks && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                running.fetch_sub(1, Ordering::SeqCst);
                std::thread::current().name().unwrap().to_owned()
            })
        })
        .collect();
    let threads = spindle::join_all(handles)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    (peak.load(Ordering::SeqCst), threads)
}

/// `spindle-worker-0` .. `spindle-worker-{count - 1}`.
fn worker_names(count: usize) -> BTreeSet<String> {
    (0..count).map(|i| format!("spindle-worker-{i}")).collect()
}

/// The default runtime's worker count, as `spindle::block_on` documents it.
fn default_worker_threads() -> usize {
    match std::env::var("SPINDLE_WORKER_THREADS") {
        Ok(count) => count.trim().parse().unwrap(),
        Err(_) => std::thread::available_parallelism().unwrap().get(),
    }
}

#[spindle::main]
async fn spawn_on_default_runtime(release: oneshot::Receiver<u32>) -> JoinHandle<u32> {
    spindle::spawn(async move { release.await.unwrap() })
}

#[spindle::main(worker_threads = 2)]
async fn spawn_on_own_runtime(release: oneshot::Receiver<u32>) -> JoinHandle<u32> {
    spindle::spawn(async move { release.await.unwrap() })
}

#[test]
fn main_without_options_leaves_its_tasks_running_on_the_default_runtime() {
    with_watchdog("main-default-runtime", Duration::from_secs(20), || {
        let (release, released) = oneshot::channel();
        let task = spawn_on_default_runtime(released);
        assert!(!task.is_finished());
        release.send(7).unwrap();
        assert_eq!(spindle::block_on(task).unwrap(), 7);
    });
}

#[test]
fn main_with_worker_threads_drops_its_runtime_and_cancels_leftover_tasks() {
    with_watchdog("main-own-runtime", Duration::from_secs(20), || {
        let (_release, released) = oneshot::channel();
        let task = spawn_on_own_runtime(released);
        assert!(spindle::block_on(task).unwrap_err().is_cancelled());
    });
}

#[spindle::main]
async fn default_runtime_concurrency(tasks: usize) -> (usize, BTreeSet<String>) {
    tasks_running_at_once(tasks).await
}

#[test]
fn main_without_options_runs_on_as_many_workers_as_the_default_runtime() {
    let workers = default_worker_threads();
    let (peak, threads) =
        with_watchdog("main-default-workers", Duration::from_secs(20), move || {
            default_runtime_concurrency(workers + 1)
        });
    assert_eq!(peak, workers);
    assert_eq!(threads, worker_names(workers));
}

#[spindle::main(worker_threads = 3)]
async fn three_worker_concurrency() -> (usize, BTreeSet<String>) {
    tasks_running_at_once(4).await
}

#[spindle::main(worker_threads = 1)]
async fn one_worker_concurrency() -> (usize, BTreeSet<String>) {
    tasks_running_at_once(2).await
}

#[test]
fn main_with_worker_threads_runs_exactly_that_many_workers() {
    let ((three_peak, three_threads), (one_peak, one_threads)) =
        with_watchdog("main-worker-threads", Duration::from_secs(20), || {
            (three_worker_concurrency(), one_worker_concurrency())
        });
    assert_eq!(three_peak, 3);
    assert_eq!(three_threads, worker_names(3));
    assert_eq!(one_peak, 1);
    assert_eq!(one_threads, worker_names(1));
}

#[spindle::main]
async fn parse_on_runtime(text: &str) -> Result<u32, ParseIntError> {
    let parsed = spindle::spawn({
        let text = text.to_owned();
        async move { text.parse::<u32>() }
    });
    let number = parsed.await.unwrap()?;
    Ok(number * 2)
}

#[test]
fn main_returns_its_result_and_question_mark_propagates_errors() {
    assert_eq!(parse_on_runtime("21"), Ok(42));
    let error = parse_on_runtime("twenty-one").unwrap_err();
    assert_eq!(error, "x".parse::<u32>().unwrap_err());
}

#[spindle::main]
async fn describe_on_runtime(count: u32) -> impl std::fmt::Display {
    let worker = spindle::spawn(async { std::thread::current().name().map(str::to_owned) });
    format!("{count} tasks, one on {}", worker.await.unwrap().unwrap())
}

#[test]
fn main_can_return_impl_trait() {
    let description = describe_on_runtime(3).to_string();
    assert!(
        description.starts_with("3 tasks, one on spindle-worker-"),
        "{description}"
    );
}

#[spindle::test]
async fn test_runs_on_a_runtime_of_two_workers() {
    assert!(spindle::Handle::try_current().is_some());
    let (peak, threads) = tasks_running_at_once(3).await;
    assert_eq!(peak, 2);
    assert_eq!(threads, worker_names(2));
}

#[spindle::test(worker_threads = 3)]
async fn test_with_worker_threads_runs_that_many_workers() {
    let (peak, threads) = tasks_running_at_once(4).await;
    assert_eq!(peak, 3);
    assert_eq!(threads, worker_names(3));
}

#[spindle::test(flavor = "current_thread")]
async fn current_thread_test_runs_every_task_on_the_test_thread() {
    let here = std::thread::current().id();
    let tasks = (0..3).map(|_| spindle::spawn(async { std::thread::current().id() }));
    for ran_on in spindle::join_all(tasks).await {
        assert_eq!(ran_on.unwrap(), here);
    }
}

#[spindle::test(start_paused = true)]
async fn start_paused_test_sleeps_an_hour_at_once() {
    let (start, real) = (spindle::time::now(), Instant::now());
    spindle::sleep(Duration::from_secs(3600)).await;
    assert!(spindle::time::now() - start >= Duration::from_secs(3600));
    assert!(real.elapsed() < Duration::from_secs(30));
}

#[spindle::test(flavor = "current_thread", start_paused = true)]
async fn current_thread_start_paused_test_sleeps_an_hour_at_once() {
    let start = spindle::time::now();
    spindle::spawn(spindle::sleep(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(spindle::time::now() - start >= Duration::from_secs(3600));
}

#[spindle::test(flavor = "multi_thread", worker_threads = 3)]
async fn multi_thread_flavor_with_worker_threads_runs_that_many_workers() {
    let (peak, threads) = tasks_running_at_once(4).await;
    assert_eq!(peak, 3);
    assert_eq!(threads, worker_names(3));
}

#[spindle::test]
#[should_panic(expected = "the body's own panic")]
async fn should_panic_after_the_attribute_is_kept() {
    spindle::yield_now().await;
    panic!("the body's own panic");
}

#[should_panic(expected = "the body's own panic")]
#[spindle::test(worker_threads = 1)]
async fn should_panic_before_the_attribute_is_kept() {
    let task = spindle::spawn(async { 5 });
    assert_eq!(task.await.unwrap(), 5);
    panic!("the body's own panic");
}

#[spindle::test]
#[ignore = "checks that #[ignore] survives #[spindle::test]: if it were dropped, this would run and fail"]
async fn ignore_is_kept() {
    panic!("an #[ignore]d test ran: #[spindle::test] dropped the attribute");
}

#[spindle::test]
async fn test_returning_result_can_use_question_mark() -> Result<(), ParseIntError> {
    let parsed = spindle::spawn(async { "42".parse::<u32>() })
        .await
        .unwrap()?;
    assert_eq!(parsed, 42);
    Ok(())
}
