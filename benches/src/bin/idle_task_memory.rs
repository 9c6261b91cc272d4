//! How much memory an idle task costs: spawns N tasks that each wait forever and compares the
//! process's resident set size before and after.
//!
//! Usage: `idle_task_memory <spindle|tokio|smol> [N] [--sleeping]` (N defaults to 1_000_000).
//! Run each runtime in its own process (`benches/run_memory.sh` does). Two modes:
//!
//! - `mode=pending` (the default): each task awaits `std::future::pending()`: the task alone.
//! - `mode=sleeping` (`--sleeping`): each task awaits a 1-hour sleep on the runtime's own
//!   timer (`spindle::sleep`, `tokio::time::sleep`, `async_io::Timer::after`): the task plus
//!   its registered timer (the sleep future inside the task, and whatever the timer keeps per
//!   entry: a wheel slot, a map node, a waker).
//!
//! Prints one line:
//!
//! `runtime=<name> mode=<pending|sleeping> tasks=N rss_before_kib=… rss_after_kib=… bytes_per_task=…`
//!
//! The runtime gets W = `spindle_benches::worker_count()` workers. `rss_before_kib` is read
//! after the runtime is built and the handle `Vec` is allocated and touched, so
//! `bytes_per_task` counts what the runtime holds per task (the task allocation, its queue
//! slots, any registry entry), not the bench's own `Vec` of handles. In `pending` mode every
//! task bumps a counter before it pends; in `sleeping` mode it bumps it right after its sleep's
//! first poll returns, that is, once the timer is registered. RSS is read once the counter
//! reaches N: every task has been polled once and is parked on its waker.

use spindle_benches::{
    rss_kib, worker_count, Contender, SmolRuntime, Spawner, SpindleRuntime, TokioRuntime,
};
use std::future::Future;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the tasks get to be polled once before the run is declared stuck.
const POLL_DEADLINE: Duration = Duration::from_secs(120);
/// How long each task sleeps in `sleeping` mode: far longer than the run.
const LONG_SLEEP: Duration = Duration::from_secs(3600);

/// What each task waits on.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `std::future::pending()`.
    Pending,
    /// The runtime's own 1-hour sleep.
    Sleeping,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Pending => "pending",
            Mode::Sleeping => "sleeping",
        }
    }
}

const USAGE: &str = "usage: idle_task_memory <spindle|tokio|smol> [N] [--sleeping]";

fn main() -> ExitCode {
    let mut mode = Mode::Pending;
    let mut positional = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--sleeping" => mode = Mode::Sleeping,
            _ => positional.push(arg),
        }
    }
    let tasks = match positional
        .get(1)
        .map(|n| n.replace('_', "").parse::<usize>())
    {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(err)) => {
            eprintln!("idle_task_memory: N must be a whole number of tasks: {err}");
            return ExitCode::from(2);
        }
    };
    if positional.len() > 2 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let workers = worker_count();
    let result = match positional.first().map(String::as_str) {
        Some("spindle") => measure(SpindleRuntime::new(workers), tasks, mode),
        Some("tokio") => measure(TokioRuntime::new(workers), tasks, mode),
        Some("smol") => measure(SmolRuntime::new(workers), tasks, mode),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("idle_task_memory: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The handle type of an idle task on `C`.
type TaskOf<C> = <<C as Contender>::Spawner as Spawner>::Task<()>;

/// A task that waits on `std::future::pending()`, counting itself in `polled` first.
async fn pending_task(polled: Arc<AtomicUsize>) {
    polled.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
}

/// A task that waits on the runtime's own 1-hour sleep, counting itself in `polled` once the
/// sleep's first poll has returned (its timer is registered). A separate function from
/// [`pending_task`], so a pending task's state machine has no room for a sleep.
async fn sleeping_task<S: Spawner>(polled: Arc<AtomicUsize>) {
    let mut sleep = pin!(S::sleep(LONG_SLEEP));
    let mut first = true;
    std::future::poll_fn(|cx| {
        let poll = sleep.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            polled.fetch_add(1, Ordering::Relaxed);
        }
        poll
    })
    .await;
}

fn measure<C: Contender>(rt: C, tasks: usize, mode: Mode) -> std::io::Result<()> {
    let polled = Arc::new(AtomicUsize::new(0));
    // The handles' Vec is allocated and its pages faulted in before `before` is read, so it
    // does not count as task memory (`Option` of a handle is pointer-sized: a null niche).
    let mut handles: Vec<Option<TaskOf<C>>> = Vec::with_capacity(tasks);
    handles.resize_with(tasks, || None);
    handles.clear();
    eprintln!(
        "runtime={}: handle slot {} bytes (allocated before rss_before_kib is read)",
        C::NAME,
        std::mem::size_of::<Option<TaskOf<C>>>()
    );
    // Let the workers finish starting up and go idle.
    std::thread::sleep(Duration::from_millis(100));
    let before = rss_kib()?;

    for _ in 0..tasks {
        let polled = polled.clone();
        handles.push(Some(match mode {
            Mode::Pending => rt.spawn_remote(pending_task(polled)),
            Mode::Sleeping => rt.spawn_remote(sleeping_task::<C::Spawner>(polled)),
        }));
    }
    let start = Instant::now();
    while polled.load(Ordering::Relaxed) < tasks {
        if start.elapsed() > POLL_DEADLINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "runtime={} mode={}: only {} of {tasks} tasks polled after {POLL_DEADLINE:?}",
                    C::NAME,
                    mode.name(),
                    polled.load(Ordering::Relaxed)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = rss_kib()?;

    let bytes_per_task = (after.saturating_sub(before) * 1024) as f64 / tasks.max(1) as f64;
    println!(
        "runtime={} mode={} tasks={tasks} rss_before_kib={before} rss_after_kib={after} \
         bytes_per_task={bytes_per_task:.1}",
        C::NAME,
        mode.name()
    );
    // Exit without dropping: cancelling a million tasks is not what is measured.
    std::mem::forget(handles);
    std::mem::forget(rt);
    Ok(())
}
