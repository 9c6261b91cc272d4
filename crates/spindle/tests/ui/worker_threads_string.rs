#[spindle::test(worker_threads = "4")]
async fn runs() {}

fn main() {}
