#[spindle::main(worker_threads = 0)]
fn main(args: Vec<String>) {
    println!("{args:?}");
}
