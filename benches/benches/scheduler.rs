//! Scheduler benchmarks: spindle, tokio and smol on the same workloads, in the same run.
//!
//! Modelled on tokio's `benches/rt_multi_threaded.rs`. Every workload is one generic function
//! over [`Contender`], so the three runtimes run the same code apart from their own `spawn`,
//! `block_on` and `yield_now`. Each criterion group is one workload with one function per
//! runtime (`spawn_many_local/spindle`, `spawn_many_local/tokio`, `spawn_many_local/smol`), so
//! the report lines them up.
//!
//! | group | timed work per iteration |
//! | --- | --- |
//! | `spawn_many_local` | the root future spawns 10_000 detached tasks; each counts down an atomic, the last fires a oneshot the root awaits |
//! | `spawn_many_worker` | the same, from inside a task already running on a worker; the root awaits that task |
//! | `spawn_many_remote` | the bench thread spawns 10_000 empty tasks through the runtime's handle, then the root awaits every handle |
//! | `yield_many` | the root spawns 200 tasks that each `yield_now` 1_000 times, and awaits every handle |
//! | `ping_pong` | a task spawns 1_000 rounds; each round makes two oneshots, spawns a responder, sends ping, awaits pong, counts down; the last fires a oneshot the root awaits |
//! | `chained_spawn` | a chain of 1_000 tasks, each spawning the next; the last fires a oneshot the root awaits |
//!
//! Every channel is `futures::channel::oneshot`, for all three. On spindle and tokio the root
//! future runs on the bench thread (their `block_on`); on smol it is a task on the executor and
//! the bench thread waits on its `Task` (see `spindle_benches`), so for smol
//! `spawn_many_local` spawns from a worker, like `spawn_many_worker`.
//!
//! The `one_thread/*` groups run the same workloads on each runtime's one-thread form
//! (`spindle_benches::one_thread`): spindle's and tokio's current-thread runtimes and smol's
//! `LocalExecutor`, every task on the bench thread.
//!
//! Each runtime gets W = `spindle_benches::worker_count()` workers (`BENCH_WORKERS`, else the
//! number of cores). It is built before its benchmark function, outside the timed region, and
//! dropped after it, so only one contender's threads exist while another is measured.
//!
//! Run: `cargo bench -p spindle-benches --bench scheduler`.

use criterion::{criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use futures::channel::oneshot;
use spindle_benches::one_thread::{SmolLocal, SpindleCurrentThread, TokioCurrentThread};
use spindle_benches::{
    worker_count, Contender, SmolRuntime, Spawner, SpindleRuntime, TokioRuntime,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Tasks spawned by the `spawn_many_*` workloads.
const NUM_SPAWN: usize = 10_000;
/// Tasks in `yield_many`.
const YIELD_TASKS: usize = 200;
/// `yield_now` calls per task in `yield_many`.
const NUM_YIELD: usize = 1_000;
/// Rounds in `ping_pong`.
const NUM_PINGS: usize = 1_000;
/// Links in `chained_spawn`.
const CHAIN_LEN: usize = 1_000;

/// Counts finished tasks down from `n`; the task that reaches zero fires the oneshot.
#[derive(Debug)]
struct Countdown {
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    fn new(n: usize) -> (Arc<Countdown>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let countdown = Countdown {
            remaining: AtomicUsize::new(n),
            done: Mutex::new(Some(tx)),
        };
        (Arc::new(countdown), rx)
    }

    fn tick(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.done.lock().unwrap().take();
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
        }
    }
}

/// Spawns `NUM_SPAWN` detached countdown tasks and waits for the last.
async fn spawn_countdown<S: Spawner>(spawner: S) {
    let (countdown, done) = Countdown::new(NUM_SPAWN);
    for _ in 0..NUM_SPAWN {
        let countdown = countdown.clone();
        spawner.spawn_detached(async move { countdown.tick() });
    }
    done.await.unwrap();
}

fn spawn_many_local<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(spawn_countdown(spawner));
}

fn spawn_many_worker<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move { spawner.spawn(spawn_countdown(spawner)).await });
}

fn spawn_many_remote<C: Contender>(rt: &C) {
    let handles: Vec<_> = (0..NUM_SPAWN).map(|_| rt.spawn_remote(async {})).collect();
    rt.block_on(async move {
        for handle in handles {
            handle.await;
        }
    });
}

fn yield_many<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let handles: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                spawner.spawn(async {
                    for _ in 0..NUM_YIELD {
                        <C::Spawner as Spawner>::yield_now().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await;
        }
    });
}

fn ping_pong<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let (countdown, done) = Countdown::new(NUM_PINGS);
        spawner.spawn_detached(async move {
            for _ in 0..NUM_PINGS {
                let countdown = countdown.clone();
                spawner.spawn_detached(async move {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    spawner.spawn_detached(async move {
                        ping_rx.await.unwrap();
                        pong_tx.send(()).unwrap();
                    });
                    ping_tx.send(()).unwrap();
                    pong_rx.await.unwrap();
                    countdown.tick();
                });
            }
        });
        done.await.unwrap();
    });
}

/// One link: spawns the next, or fires `done` at the end of the chain.
fn chain_link<S: Spawner>(spawner: S, done: oneshot::Sender<()>, left: usize) {
    if left == 0 {
        let _ = done.send(());
    } else {
        spawner.spawn_detached(async move { chain_link(spawner, done, left - 1) });
    }
}

fn chained_spawn<C: Contender>(rt: &C) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let (tx, rx) = oneshot::channel();
        spawner.spawn_detached(async move { chain_link(spawner, tx, CHAIN_LEN - 1) });
        rx.await.unwrap();
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

/// A group named `$name` running the generic `$workload` on three contenders: by default
/// the multi-thread runtimes, spindle, tokio and smol.
macro_rules! workload_group {
    ($c:expr, $name:expr, $workload:ident) => {
        workload_group!(
            $c,
            $name,
            $workload,
            SpindleRuntime,
            TokioRuntime,
            SmolRuntime
        )
    };
    ($c:expr, $name:expr, $workload:ident, $spindle:ty, $tokio:ty, $smol:ty) => {{
        let mut group = $c.benchmark_group($name);
        // Each iteration takes milliseconds: flat sampling keeps the run short.
        group.sampling_mode(SamplingMode::Flat);
        bench_on(&mut group, <$spindle>::new, $workload::<$spindle>);
        bench_on(&mut group, <$tokio>::new, $workload::<$tokio>);
        bench_on(&mut group, <$smol>::new, $workload::<$smol>);
        group.finish();
    }};
}

/// The same workload on the one-thread contenders (`spindle_benches::one_thread`), in a group
/// named `one_thread/$name`.
macro_rules! one_thread_group {
    ($c:expr, $name:literal, $workload:ident) => {
        workload_group!(
            $c,
            concat!("one_thread/", $name),
            $workload,
            SpindleCurrentThread,
            TokioCurrentThread,
            SmolLocal
        )
    };
}

fn scheduler(c: &mut Criterion) {
    workload_group!(c, "spawn_many_local", spawn_many_local);
    workload_group!(c, "spawn_many_worker", spawn_many_worker);
    workload_group!(c, "spawn_many_remote", spawn_many_remote);
    workload_group!(c, "yield_many", yield_many);
    workload_group!(c, "ping_pong", ping_pong);
    workload_group!(c, "chained_spawn", chained_spawn);
    one_thread_group!(c, "spawn_many_local", spawn_many_local);
    one_thread_group!(c, "spawn_many_worker", spawn_many_worker);
    one_thread_group!(c, "spawn_many_remote", spawn_many_remote);
    one_thread_group!(c, "yield_many", yield_many);
    one_thread_group!(c, "ping_pong", ping_pong);
    one_thread_group!(c, "chained_spawn", chained_spawn);
}

/// Criterion's entry point, in a module so the `pub fn` the macro generates stays private.
mod entry {
    use criterion::{criterion_group, Criterion};
    use std::time::Duration;

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .sample_size(50)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        targets = super::scheduler
    }
}
criterion_main!(entry::benches);
