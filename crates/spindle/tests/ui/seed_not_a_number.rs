#[spindle::test(seed = "7")]
async fn a_test() {}

fn main() {}
