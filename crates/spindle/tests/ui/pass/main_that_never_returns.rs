//! A `main` whose body never returns (it exits the process, as a server's loop would run
//! forever) compiles without a warning about the code the attribute adds after the body.
#![deny(warnings)]

#[spindle::main]
async fn main() {
    spindle::yield_now().await;
    std::process::exit(0)
}
