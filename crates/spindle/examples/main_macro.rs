//! `#[spindle::main]`: `async fn main` on a runtime of 4 workers, returning a `Result` so that
//! `?` ends the program with an error.
//!
//! Each count below becomes a task that sums `1..=n` after a sleep of `n` ms; the tasks run in
//! parallel and the results come back in input order. The counts are parsed from text with
//! `?`: put a word among them and the program ends with an error naming it.
//!
//! Run with `cargo run --example main_macro`.

use std::error::Error;
use std::time::{Duration, Instant};

/// `1 + 2 + ... + n`, after a sleep of `n` ms standing in for real work, and the worker thread
/// that computed it.
async fn slow_sum(n: u64) -> (u64, String) {
    spindle::sleep(Duration::from_millis(n)).await;
    let worker = std::thread::current().name().unwrap_or("?").to_owned();
    ((1..=n).sum(), worker)
}

#[spindle::main(worker_threads = 4)]
async fn main() -> Result<(), Box<dyn Error>> {
    let counts = ["100", "200", "300", "400"]
        .iter()
        .map(|text| {
            text.parse::<u64>()
                .map_err(|err| format!("`{text}` is not a whole number: {err}"))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let start = Instant::now();
    let tasks = counts.iter().map(|&n| spindle::spawn(slow_sum(n)));
    let sums = spindle::try_join_all(tasks).await?;
    for (n, (sum, worker)) in counts.iter().zip(&sums) {
        println!("1 + ... + {n} = {sum} (on {worker})");
    }
    println!(
        "{} tasks in {} ms: the sleeps overlapped",
        sums.len(),
        start.elapsed().as_millis()
    );
    Ok(())
}
