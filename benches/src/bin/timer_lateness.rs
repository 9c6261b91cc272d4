//! How late a timer fires on an idle runtime: one task sleeps 10 ms N times in a row and
//! records, for each sleep, the instant it runs again minus the deadline it asked for.
//!
//! Usage: `timer_lateness <spindle|tokio|smol> [N]` (N defaults to 200). Run each runtime in
//! its own process (`benches/run_lateness.sh` does). Prints one line:
//!
//! `runtime=<name> samples=N p50_us=… p99_us=… max_us=…`
//!
//! The runtime gets W = `spindle_benches::worker_count()` workers and runs nothing else. The
//! sleeping task is spawned onto a worker (the bench thread only waits for it). Each sample
//! takes `deadline = Instant::now() + 10 ms`, awaits the runtime's own `sleep_until(deadline)`
//! and reads `Instant::now()` as soon as the task is polled again, so lateness covers the timer's
//! resolution and rounding, the park/unpark of the worker and the task's reschedule. One
//! unmeasured sleep first lets each runtime start its timer machinery (async-io starts its
//! reactor lazily). Percentiles are nearest-rank. A sleep that completes before its deadline
//! shows as a negative lateness and is reported on stderr.
//!
//! # Reading the numbers
//!
//! spindle and tokio keep deadlines in 1 ms ticks and round them up, so they never fire early;
//! async-io keeps exact `Instant`s. Back-to-back sleeps make the rounding cost a whole tick:
//! a task woken just after tick k asks for a deadline just after tick k + 10, which rounds up
//! to k + 11, and the wake-up delay itself cancels out. So for a tick-based timer this
//! workload's p50 sits near 1 ms by construction; what it shows beyond that is the spread
//! (p99, max) and any extra tick a timer adds. A sleep started at a random point within a
//! tick would be about 0.5 ms late on average, plus the wake-up delay.

use spindle_benches::{
    worker_count, Contender, SmolRuntime, Spawner, SpindleRuntime, TokioRuntime,
};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The length of every sleep.
const SLEEP: Duration = Duration::from_millis(10);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let runtime = args.next();
    let samples = match args.next().map(|n| n.replace('_', "").parse::<usize>()) {
        None => 200,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("timer_lateness: N must be a positive whole number of sleeps");
            return ExitCode::from(2);
        }
    };
    let workers = worker_count();
    let lateness_ns = match runtime.as_deref() {
        Some("spindle") => measure(&SpindleRuntime::new(workers), samples),
        Some("tokio") => measure(&TokioRuntime::new(workers), samples),
        Some("smol") => measure(&SmolRuntime::new(workers), samples),
        _ => {
            eprintln!("usage: timer_lateness <spindle|tokio|smol> [N]");
            return ExitCode::from(2);
        }
    };
    report(runtime.as_deref().unwrap_or_default(), lateness_ns);
    ExitCode::SUCCESS
}

/// Runs the sleeps on a worker of `rt`; returns each sleep's lateness in nanoseconds
/// (negative: it completed early).
fn measure<C: Contender>(rt: &C, samples: usize) -> Vec<i128> {
    let spawner = rt.spawner();
    rt.block_on(async move {
        spawner
            .spawn(async move {
                <C::Spawner as Spawner>::sleep(SLEEP).await;
                let mut lateness = Vec::with_capacity(samples);
                for _ in 0..samples {
                    let deadline = Instant::now() + SLEEP;
                    <C::Spawner as Spawner>::sleep_until(deadline).await;
                    let woke = Instant::now();
                    lateness.push(match woke.checked_duration_since(deadline) {
                        Some(late) => late.as_nanos() as i128,
                        None => -(deadline.duration_since(woke).as_nanos() as i128),
                    });
                }
                lateness
            })
            .await
    })
}

fn report(name: &str, mut lateness_ns: Vec<i128>) {
    lateness_ns.sort_unstable();
    let early = lateness_ns.iter().filter(|&&ns| ns < 0).count();
    if early > 0 {
        eprintln!(
            "timer_lateness: runtime={name}: {early} of {} sleeps completed before their deadline",
            lateness_ns.len()
        );
    }
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    let percentile = |p: usize| {
        let rank = (p * lateness_ns.len()).div_ceil(100).max(1);
        lateness_ns[rank - 1]
    };
    let us = |ns: i128| ns as f64 / 1_000.0;
    println!(
        "runtime={name} samples={} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        lateness_ns.len(),
        us(percentile(50)),
        us(percentile(99)),
        us(lateness_ns[lateness_ns.len() - 1]),
    );
}
