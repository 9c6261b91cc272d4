//! A seeded `main`: every task on the calling thread, the clock paused, the seed replayable.

#[spindle::main(seed = 3, worker_threads = 2)]
async fn main() {
    let here = std::thread::current().id();
    let start = spindle::time::now();
    let task = spindle::spawn(async {
        spindle::sleep(std::time::Duration::from_secs(3600)).await;
        std::thread::current().id()
    });
    assert_eq!(task.await.unwrap(), here);
    assert_eq!(
        spindle::time::now() - start,
        std::time::Duration::from_secs(3600)
    );
}
