//! asyncio's `gather`: spawn three tasks, wait for all of them, get their results in the order
//! the tasks were given, whatever order they finish in.
//!
//! ```python
//! results = await asyncio.gather(work(1, 0.3), work(2, 0.2), work(3, 0.1))
//! ```
//!
//! Task 1 sleeps longest and finishes last, yet its result comes first. The tasks run at
//! the same time, so the gather takes as long as the longest task (300 ms), not the sum (600).
//!
//! Run with `cargo run --example gather`.

use std::time::{Duration, Instant};

async fn work(n: u64, delay: Duration, start: Instant) -> String {
    spindle::sleep(delay).await;
    println!("{:>4} ms  task {n} finished", start.elapsed().as_millis());
    format!("task {n} done")
}

fn main() {
    let start = Instant::now();
    let results = spindle::block_on(async {
        let handles: Vec<_> = [(1, 300), (2, 200), (3, 100)]
            .into_iter()
            .map(|(n, ms)| spindle::spawn(work(n, Duration::from_millis(ms), start)))
            .collect();
        spindle::join_all(handles).await
    });
    println!("{results:?}");
    println!(
        "gathered in {} ms: the tasks ran at the same time (one after the other: 600 ms)",
        start.elapsed().as_millis()
    );
}
