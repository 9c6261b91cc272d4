const WORKERS: usize = 4;

#[spindle::main(worker_threads = WORKERS)]
async fn main() {}
