//! asyncio's first example: an `async fn` that sleeps, awaited twice in a row.
//!
//! ```python
//! async def say_after(delay, what):
//!     await asyncio.sleep(delay)
//!     print(what)
//!
//! async def main():
//!     await say_after(0.1, "hello")
//!     await say_after(0.2, "world")
//! ```
//!
//! Awaiting one call after the other runs them one after the other: about 300 ms in all. A
//! sleep parks the task, not the thread: the worker runs other tasks meanwhile.
//!
//! Run with `cargo run --example async_sleep`.

use std::time::{Duration, Instant};

async fn say_after(delay: Duration, what: &str, start: Instant) {
    spindle::sleep(delay).await;
    println!("{:>4} ms  {what}", start.elapsed().as_millis());
}

fn main() {
    let start = Instant::now();
    spindle::block_on(async {
        say_after(Duration::from_millis(100), "hello", start).await;
        say_after(Duration::from_millis(200), "world", start).await;
    });
    println!(
        "finished in {} ms: one sleep after the other (100 + 200)",
        start.elapsed().as_millis()
    );
}
