//! Three tasks sleep 100, 200 and 300 ms at once: the whole gather takes about 300 ms, not 600.
//!
//! Run with `cargo run --example sleep_gather`.

use std::time::{Duration, Instant};

fn main() {
    let start = Instant::now();
    let results = spindle::block_on(async {
        let handles: Vec<_> = (1..=3u64)
            .map(|n| {
                spindle::spawn(async move {
                    spindle::sleep(Duration::from_millis(100 * n)).await;
                    n
                })
            })
            .collect();
        spindle::join_all(handles).await
    });
    println!("{results:?} in {:?}", start.elapsed());
}
