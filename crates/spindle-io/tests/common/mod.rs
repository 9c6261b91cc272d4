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

/// Runs this test binary's test `test` alone in a child process that `command` starts (the
/// binary itself, or a shell that sets a limit and execs it), with the environment variable
/// `marker` set so that the test knows it is the child; panics with the child's status and
/// output unless its one test passed. For tests that change process-wide state (a signal's
/// disposition, the descriptor limit).
pub fn assert_passes_in_child(mut command: std::process::Command, test: &str, marker: &str) {
    let output = command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .output()
        .unwrap();
    let report = format!(
        "child status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran no test: {report}"
    );
}
