//! asyncio's `gather`: spawn three tasks, wait for all of them, get their results in order.
//!
//! Run with `cargo run --example gather`.

async fn task(n: u64) -> String {
    spindle::yield_now().await;
    format!("task {n} done")
}

fn main() {
    let results = spindle::block_on(async {
        let handles: Vec<_> = (1..=3).map(|n| spindle::spawn(task(n))).collect();
        spindle::join_all(handles).await
    });
    println!("{results:?}");
}
