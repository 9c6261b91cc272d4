//! The process-wide default runtime: `SPINDLE_WORKER_THREADS` sets its worker count. Each case
//! runs in a child process (this test binary, re-executed), since the default runtime is built
//! once per process.

use std::process::Command;

/// The child's test, run only by [`run_child`] (`--ignored --exact`), so that a plain run
/// neither counts it as a test nor builds the default runtime in the parent.
const CHILD_TEST: &str = "child_reports_default_worker_count";

/// In the child: use the default runtime, then print how many worker threads it started.
#[test]
#[ignore = "the child process of the tests below, which run it with --ignored --exact"]
fn child_reports_default_worker_count() {
    let value = spindle::block_on(spindle::spawn(async { 7 })).unwrap();
    assert_eq!(value, 7);
    // A thread names itself once it starts running: give every worker time to.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let workers = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.unwrap().path().join("comm")).ok())
        .filter(|name| name.starts_with("spindle-worker"))
        .count();
    println!("default-runtime-workers={workers}");
}

fn run_child(env: Option<&str>) -> std::process::Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--ignored", "--exact", CHILD_TEST, "--nocapture"]);
    match env {
        Some(value) => command.env("SPINDLE_WORKER_THREADS", value),
        None => command.env_remove("SPINDLE_WORKER_THREADS"),
    };
    command.output().unwrap()
}

#[test]
fn spindle_worker_threads_sets_the_default_runtimes_size() {
    let output = run_child(Some("3"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("default-runtime-workers=3"), "{stdout}");
}

#[test]
fn the_default_runtime_has_one_worker_per_core() {
    let output = run_child(None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        stdout.contains(&format!("default-runtime-workers={cores}")),
        "{stdout}"
    );
}

#[test]
fn an_invalid_spindle_worker_threads_is_a_clear_panic() {
    let output = run_child(Some("zero"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stderr.contains("SPINDLE_WORKER_THREADS") || stdout.contains("SPINDLE_WORKER_THREADS"),
        "{stderr}{stdout}"
    );
}
