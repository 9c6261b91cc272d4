//! asyncio's `to_thread`: blocking work goes to `spindle::spawn_blocking`, off the workers.
//!
//! A one-worker runtime runs a heartbeat task that beats every 50 ms. A task that calls a
//! blocking function directly (`std::thread::sleep` stands in for a blocking read or a C
//! library) holds the only worker, and the heartbeat stops for as long; the same call through
//! `spawn_blocking` runs on the blocking pool, and the heartbeat goes on. Then four blocking
//! calls gathered take as long as one: the pool grows a thread for each.
//!
//! Run with `cargo run --example to_thread`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BEAT: Duration = Duration::from_millis(50);
const BLOCKING_CALL: Duration = Duration::from_millis(300);

/// Stands in for a call that blocks its thread: a synchronous read, a C library, a long hash.
fn blocking_call(n: u32) -> u32 {
    std::thread::sleep(BLOCKING_CALL);
    n * 10
}

/// The last beat and the longest gap between two beats since the last reset.
struct Heartbeat {
    last: Instant,
    longest_gap: Duration,
}

/// Runs `phase`, then reports the longest gap the heartbeat saw while it ran.
async fn longest_gap_during<T>(
    heartbeat: &Mutex<Heartbeat>,
    phase: impl std::future::Future<Output = T>,
) -> (T, Duration) {
    heartbeat.lock().unwrap().longest_gap = Duration::ZERO;
    let output = phase.await;
    spindle::sleep(2 * BEAT).await; // a beat or two after the phase, to see the gap it made
    (output, heartbeat.lock().unwrap().longest_gap)
}

fn main() -> std::io::Result<()> {
    let runtime = spindle::Runtime::builder().worker_threads(1).build()?;
    let heartbeat = Arc::new(Mutex::new(Heartbeat {
        last: Instant::now(),
        longest_gap: Duration::ZERO,
    }));
    runtime.spawn({
        let heartbeat = heartbeat.clone();
        async move {
            let mut interval = spindle::interval(BEAT);
            interval.set_missed_tick_behavior(spindle::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let mut heartbeat = heartbeat.lock().unwrap();
                let now = Instant::now();
                heartbeat.longest_gap = heartbeat.longest_gap.max(now - heartbeat.last);
                heartbeat.last = now;
            }
        }
    });

    runtime.block_on(async {
        let (_, gap) =
            longest_gap_during(&heartbeat, spindle::spawn(async { blocking_call(1) })).await;
        println!(
            "blocking call inside a task: longest heartbeat gap {} ms (the only worker was held)",
            gap.as_millis()
        );

        let (result, gap) =
            longest_gap_during(&heartbeat, spindle::spawn_blocking(|| blocking_call(2))).await;
        println!(
            "same call in spawn_blocking: longest heartbeat gap {} ms, result {result:?}",
            gap.as_millis()
        );

        let start = Instant::now();
        let calls = (1..=4).map(|n| spindle::spawn_blocking(move || blocking_call(n)));
        let results = spindle::join_all(calls).await;
        println!(
            "four spawn_blocking calls gathered: {results:?} in {} ms (one after another: 1200 ms)",
            start.elapsed().as_millis()
        );

        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/to_thread.rs");
        let source = spindle::spawn_blocking(move || std::fs::read_to_string(path))
            .await
            .unwrap()?;
        println!(
            "read this example's source on the blocking pool: {} lines",
            source.lines().count()
        );
        Ok(())
    })
}
