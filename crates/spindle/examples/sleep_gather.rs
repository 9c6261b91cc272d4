//! Three sleeps of 100, 200 and 300 ms: awaited one after another they take 600 ms; gathered
//! with `join_all` they take 300 ms, on the current task, without spawning anything.
//!
//! It also shows that Rust futures are lazy: calling an `async fn` starts nothing. The three
//! futures below are created before the clock starts and have not begun sleeping; each starts
//! when it is first polled (by `.await`, or by `join_all`).
//!
//! Run with `cargo run --example sleep_gather`.

use std::time::{Duration, Instant};

async fn nap(n: u64) -> u64 {
    spindle::sleep(Duration::from_millis(100 * n)).await;
    n
}

fn main() {
    spindle::block_on(async {
        let naps: Vec<_> = (1..=3).map(nap).collect();
        spindle::sleep(Duration::from_millis(300)).await;
        println!(
            "created three naps 300 ms ago; none has started: awaited now, they still take 600 ms"
        );

        let start = Instant::now();
        let mut serial = Vec::new();
        for nap in naps {
            serial.push(nap.await);
        }
        println!(
            "one after the other: {serial:?} in {} ms",
            start.elapsed().as_millis()
        );

        let start = Instant::now();
        let gathered = spindle::join_all((1..=3).map(nap)).await;
        println!(
            "join_all:            {gathered:?} in {} ms",
            start.elapsed().as_millis()
        );
    });
}
