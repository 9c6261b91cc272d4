//! How much memory an idle task costs: spawns N tasks that each await a never-ready future and
//! compares the process's resident set size before and after.
//!
//! Usage: `idle_task_memory <spindle|tokio|smol> [N]` (N defaults to 1_000_000). Run each
//! runtime in its own process (`benches/run_memory.sh` does). Prints one line:
//!
//! `runtime=<name> tasks=N rss_before_kib=… rss_after_kib=… bytes_per_task=…`
//!
//! The runtime gets W = `spindle_benches::worker_count()` workers. `rss_before_kib` is read
//! after the runtime is built and the handle `Vec` is allocated and touched, so
//! `bytes_per_task` counts what the runtime holds per task (the task allocation, its queue
//! slots, any registry entry), not the bench's own `Vec` of handles. Every task bumps a counter
//! before it pends; RSS is read once the counter reaches N, that is, once every task has been
//! polled once and is parked on its waker.

use spindle_benches::{
    rss_kib, worker_count, Contender, SmolRuntime, Spawner, SpindleRuntime, TokioRuntime,
};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the tasks get to be polled once before the run is declared stuck.
const POLL_DEADLINE: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let runtime = args.next();
    let tasks = match args.next().map(|n| n.replace('_', "").parse::<usize>()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(err)) => {
            eprintln!("idle_task_memory: N must be a whole number of tasks: {err}");
            return ExitCode::from(2);
        }
    };
    let workers = worker_count();
    let result = match runtime.as_deref() {
        Some("spindle") => measure(SpindleRuntime::new(workers), tasks),
        Some("tokio") => measure(TokioRuntime::new(workers), tasks),
        Some("smol") => measure(SmolRuntime::new(workers), tasks),
        _ => {
            eprintln!("usage: idle_task_memory <spindle|tokio|smol> [N]");
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

fn measure<C: Contender>(rt: C, tasks: usize) -> std::io::Result<()> {
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
        handles.push(Some(rt.spawn_remote(async move {
            polled.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        })));
    }
    let start = Instant::now();
    while polled.load(Ordering::Relaxed) < tasks {
        if start.elapsed() > POLL_DEADLINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "runtime={}: only {} of {tasks} tasks polled after {POLL_DEADLINE:?}",
                    C::NAME,
                    polled.load(Ordering::Relaxed)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = rss_kib()?;

    let bytes_per_task = (after.saturating_sub(before) * 1024) as f64 / tasks.max(1) as f64;
    println!(
        "runtime={} tasks={tasks} rss_before_kib={before} rss_after_kib={after} \
         bytes_per_task={bytes_per_task:.1}",
        C::NAME
    );
    // Exit without dropping: cancelling a million tasks is not what is measured.
    std::mem::forget(handles);
    std::mem::forget(rt);
    Ok(())
}
