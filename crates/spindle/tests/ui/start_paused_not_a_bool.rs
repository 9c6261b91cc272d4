#[spindle::test(start_paused = 1)]
async fn a_test() {}

fn main() {}
