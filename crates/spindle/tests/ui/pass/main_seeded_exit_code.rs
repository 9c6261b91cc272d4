//! A seeded `main` may return any `Termination` type, as every other `main` may.

#[spindle::main(seed = 1)]
async fn main() -> std::process::ExitCode {
    let task = spindle::spawn(async { 0u8 });
    std::process::ExitCode::from(task.await.unwrap())
}
