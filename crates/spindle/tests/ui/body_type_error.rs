#[spindle::main]
async fn main() {
    let workers: u32 = "four";
    println!("{workers}");
}
