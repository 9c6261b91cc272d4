//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// How long any one test may take before it is reported as hung.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `test` on its own thread and fails (instead of hanging the suite) if it takes longer
/// than [`DEADLINE`]: a lost wake-up shows up as a named failure, not a stuck `cargo test`.
pub fn within_deadline<T: Send + 'static>(test: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        let value = test();
        let _ = done.send(());
        value
    });
    match finished.recv_timeout(DEADLINE) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {DEADLINE:?}: a lost wake-up or a hang")
        }
    }
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn closed_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
