#[spindle::main]
fn main() {
    println!("a plain fn main needs no runtime");
}
