//! Timer benchmarks: spindle, tokio and smol on the same workloads, in the same run.
//!
//! Every workload is one generic function over [`Contender`]; each runtime uses its own timer
//! through [`Spawner::sleep`] and [`Spawner::timeout`] (see `spindle_benches` for how each is
//! built). Each criterion group is one workload with one function per runtime
//! (`timers_many/spindle`, `timers_many/tokio`, `timers_many/smol`).
//!
//! | group | timed work per iteration |
//! | --- | --- |
//! | `timers_many` | a task on a worker spawns 100_000 tasks; each sleeps 1 to 10 ms (a fixed-seed xorshift sequence, the same for all three, the sleep created on the task's first poll); it awaits every handle |
//! | `timer_churn` | one task on a worker runs 1_000_000 `timeout(1 s, YieldOnce)` one after another: each arms a timer on the first poll and cancels it when the second poll finishes; none fires |
//! | `timer_churn_parallel` | the same 1_000_000 timeouts split over W tasks running at once (one per worker): arming and cancelling contend |
//! | `timer_arm_cancel` | one task on a worker, 1_000_000 times in a row: creates `timeout(1 s, PendingOnce)`, polls it once (its timer is registered) and drops it (the timer is cancelled); no yield, no other task: the timer's own cost |
//!
//! `YieldOnce` wakes its own task and returns `Pending` on its first poll and is `Ready` on
//! its second, so every timeout registers its timer (the inner future is polled first, then
//! the timer) and the task really goes back through the scheduler before the cancel.
//! `PendingOnce` is `Pending` on its first poll, without waking anyone, so `timer_arm_cancel`
//! measures arming and cancelling alone. How `timeout` is expressed per runtime:
//!
//! - spindle: `spindle::timeout(d, f)`.
//! - tokio: `tokio::time::timeout(d, f)`.
//! - smol (no timeout combinator of its own): `futures_lite::future::or(async { Ok(f.await) },
//!   async { async_io::Timer::after(d).await; Err(()) })`, with the `Timer` created
//!   alongside, as the other two create their sleep.
//!
//! Each runtime gets W = `spindle_benches::worker_count()` workers (`BENCH_WORKERS`, else the
//! number of cores). It is built before its benchmark function, outside the timed region, and
//! dropped after it. The churn and arm-cancel groups keep their full 1_000_000 timeouts per iteration and take
//! 10 samples instead.
//!
//! Run: `cargo bench -p spindle-benches --bench timers`.

use criterion::{criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use spindle_benches::{
    worker_count, Contender, SmolRuntime, Spawner, SpindleRuntime, TokioRuntime,
};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

/// Sleeping tasks in `timers_many`.
const NUM_SLEEPERS: usize = 100_000;
/// Timeouts armed and cancelled per iteration in `timer_churn`, `timer_churn_parallel` and
/// `timer_arm_cancel`.
const NUM_TIMEOUTS: usize = 1_000_000;
/// The churned timeouts' duration: never reached.
const CHURN_TIMEOUT: Duration = Duration::from_secs(1);
/// The seed of the sleep-length sequence in `timers_many`.
const SLEEP_SEED: u32 = 0x9E37_79B9;

/// A future that is `Pending` on its first poll (after waking its own task) and `Ready` on
/// its second.
#[derive(Debug, Default)]
struct YieldOnce {
    polled: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            Poll::Ready(())
        } else {
            self.polled = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A future that is `Pending` on its first poll, waking nobody, and `Ready` on its second.
#[derive(Debug, Default)]
struct PendingOnce {
    polled: bool,
}

impl Future for PendingOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            Poll::Ready(())
        } else {
            self.polled = true;
            Poll::Pending
        }
    }
}

/// Marsaglia's xorshift32: a fixed, cheap sequence shared by every runtime.
#[derive(Debug)]
struct XorShift32(u32);

impl XorShift32 {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

fn timers_many<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        spawner
            .spawn(async move {
                let mut lengths = XorShift32(SLEEP_SEED);
                let handles: Vec<_> = (0..NUM_SLEEPERS)
                    .map(|_| {
                        let sleep = Duration::from_millis(u64::from(lengths.next() % 10 + 1));
                        spawner.spawn(async move { <C::Spawner as Spawner>::sleep(sleep).await })
                    })
                    .collect();
                for handle in handles {
                    handle.await;
                }
            })
            .await
    });
}

/// Runs `count` timeouts one after another, each around a [`YieldOnce`].
async fn churn<S: Spawner>(count: usize) {
    for _ in 0..count {
        let result = S::timeout(CHURN_TIMEOUT, YieldOnce::default()).await;
        assert!(result.is_ok(), "a churned 1 s timeout fired");
    }
}

fn timer_churn<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move { spawner.spawn(churn::<C::Spawner>(NUM_TIMEOUTS)).await });
}

/// Creates `count` timeouts one after another, each around a [`PendingOnce`], polls each once
/// (registering its timer) and drops it (cancelling the timer), all within one poll of the
/// task.
async fn arm_cancel<S: Spawner>(count: usize) {
    for _ in 0..count {
        let mut timeout = pin!(S::timeout(CHURN_TIMEOUT, PendingOnce::default()));
        poll_fn(|cx| {
            assert!(
                timeout.as_mut().poll(cx).is_pending(),
                "a 1 s timeout fired"
            );
            Poll::Ready(())
        })
        .await;
    }
}

fn timer_arm_cancel<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move { spawner.spawn(arm_cancel::<C::Spawner>(NUM_TIMEOUTS)).await });
}

fn timer_churn_parallel<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    let tasks = worker_count();
    rt.block_on(async move {
        spawner
            .spawn(async move {
                let handles: Vec<_> = (0..tasks)
                    .map(|index| {
                        // The first `NUM_TIMEOUTS % tasks` tasks take one more.
                        let count =
                            NUM_TIMEOUTS / tasks + usize::from(index < NUM_TIMEOUTS % tasks);
                        spawner.spawn(churn::<C::Spawner>(count))
                    })
                    .collect();
                for handle in handles {
                    handle.await;
                }
            })
            .await
    });
}

/// One benchmark function: builds the runtime (untimed), measures `workload` on it, drops it.
fn bench_on<C: Contender>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    build: fn(usize) -> C,
    workload: fn(&C),
) {
    let rt = build(worker_count());
    group.bench_function(C::NAME, |b| b.iter(|| workload(&rt)));
    drop(rt);
}

/// A group named `$name` of `$samples` samples running the generic `$workload` on spindle,
/// tokio and smol.
macro_rules! workload_group {
    ($c:expr, $name:literal, $workload:ident, $samples:expr) => {{
        let mut group = $c.benchmark_group($name);
        // Each iteration takes tens of milliseconds or more: flat sampling keeps the run short.
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size($samples);
        bench_on(&mut group, SpindleRuntime::new, $workload::<SpindleRuntime>);
        bench_on(&mut group, TokioRuntime::new, $workload::<TokioRuntime>);
        bench_on(&mut group, SmolRuntime::new, $workload::<SmolRuntime>);
        group.finish();
    }};
}

fn timers(c: &mut Criterion) {
    workload_group!(c, "timers_many", timers_many, 20);
    workload_group!(c, "timer_churn", timer_churn, 10);
    workload_group!(c, "timer_churn_parallel", timer_churn_parallel, 10);
    workload_group!(c, "timer_arm_cancel", timer_arm_cancel, 10);
}

/// Criterion's entry point, in a module so the `pub fn` the macro generates stays private.
mod entry {
    use criterion::{criterion_group, Criterion};
    use std::time::Duration;

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        targets = super::timers
    }
}
criterion_main!(entry::benches);
