//! A real `fn main` on the default runtime: its tasks run on the default runtime's workers.

#[spindle::main]
async fn main() {
    let worker = spindle::spawn(async { std::thread::current().name().map(str::to_owned) });
    let worker = worker.await.unwrap().unwrap();
    assert!(worker.starts_with("spindle-worker-"), "{worker}");
}
