#[spindle::test(seed = 7, flavor = "current_thread")]
async fn a_test() {}

fn main() {}
