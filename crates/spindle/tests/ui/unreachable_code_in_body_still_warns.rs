#![deny(unreachable_code)]

#[spindle::main]
async fn main() {
    return;
    println!("never printed");
}
