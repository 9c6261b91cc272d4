//! asyncio's `asyncio.run(main())` and `loop.run_until_complete(...)`: run a future to
//! completion and get its output.
//!
//! - `spindle::block_on(future)` is `asyncio.run`: it runs on the process-wide default runtime
//!   (one worker per core; `SPINDLE_WORKER_THREADS` overrides the count).
//! - `Runtime::block_on(future)` is `loop.run_until_complete`: a runtime you built, used as many
//!   times as you like, and closed by dropping it.
//!
//! One difference from asyncio: a runtime's workers are threads, so its tasks keep running
//! between two `block_on` calls, not only while one is in progress.
//!
//! Run with `cargo run --example run_until_complete`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn add(a: u32, b: u32) -> u32 {
    spindle::sleep(Duration::from_millis(10)).await;
    a + b
}

fn main() -> std::io::Result<()> {
    let sum = spindle::block_on(add(1, 2));
    println!("spindle::block_on(add(1, 2)) = {sum} (the default runtime)");

    let runtime = spindle::Runtime::builder().worker_threads(2).build()?;
    let first = runtime.block_on(add(3, 4));
    let second = runtime.block_on(add(first, 10));
    println!("runtime.block_on twice on one runtime: {first}, then {second}");

    let ticks = Arc::new(AtomicU32::new(0));
    let ticker = runtime.spawn({
        let ticks = ticks.clone();
        async move {
            let mut interval = spindle::interval(Duration::from_millis(20));
            loop {
                interval.tick().await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    println!(
        "outside any block_on for 200 ms, a spawned task ticked {} times (asyncio: 0)",
        ticks.load(Ordering::Relaxed)
    );

    drop(runtime);
    let outcome = spindle::block_on(ticker);
    println!("dropping the runtime cancelled the task that was still running: {outcome:?}");
    Ok(())
}
