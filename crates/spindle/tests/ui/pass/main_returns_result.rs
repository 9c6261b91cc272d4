//! A real `fn main` on a runtime of its own, returning a `Result` whose error type `?`
//! converts into.

use std::error::Error;

#[spindle::main(worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let parsed = spindle::spawn(async { "21".parse::<u32>() }).await?;
    assert_eq!(parsed? * 2, 42);
    Ok(())
}
