#[spindle::test(flavor = current_thread)]
async fn a_test() {}

fn main() {}
