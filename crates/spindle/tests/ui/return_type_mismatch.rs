#[spindle::main]
async fn main() -> Result<(), String> {
    println!("forgot to return Ok(())");
}
