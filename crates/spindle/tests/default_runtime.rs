//! The process-wide default runtime: `SPINDLE_WORKER_THREADS` sets its worker count, and
//! without it the runtime starts `num_cpus::get()` workers, which a cgroup CPU quota lowers.
//! Each case runs in a child process (this test binary, re-executed), since the default
//! runtime is built once per process.

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
    println!(
        "default-runtime-workers={workers} num_cpus={}",
        num_cpus::get()
    );
}

fn child_command(env: Option<&str>) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--ignored", "--exact", CHILD_TEST, "--nocapture"]);
    match env {
        Some(value) => command.env("SPINDLE_WORKER_THREADS", value),
        None => command.env_remove("SPINDLE_WORKER_THREADS"),
    };
    command
}

fn run_child(env: Option<&str>) -> std::process::Output {
    child_command(env).output().unwrap()
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
    let cores = num_cpus::get();
    assert!(
        stdout.contains(&format!("default-runtime-workers={cores} ")),
        "{stdout}"
    );
}

/// A CPU quota of `cpus` for the processes put in it: a cgroup made for the test (cgroup v1's
/// `cpu` controller or cgroup v2's `cpu.max`), removed on drop.
struct CpuQuota {
    dir: std::path::PathBuf,
}

impl CpuQuota {
    fn new(name: &str, cpus: f64) -> CpuQuota {
        let period = 100_000u64;
        let quota = (cpus * period as f64) as u64;
        let v1 = std::path::Path::new("/sys/fs/cgroup/cpu");
        let (dir, file, value) = if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(name);
            (dir, "cpu.cfs_quota_us", quota.to_string())
        } else {
            let dir = std::path::Path::new("/sys/fs/cgroup").join(name);
            (dir, "cpu.max", format!("{quota} {period}"))
        };
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| {
            panic!(
                "cannot create the cgroup {}: {error} (this test needs root and a writable \
                 cgroup file system)",
                dir.display()
            )
        });
        let cgroup = CpuQuota { dir };
        std::fs::write(cgroup.dir.join(file), value).unwrap();
        cgroup
    }

    /// Runs `command` inside the cgroup: a shell moves itself in, then executes it.
    fn run(&self, command: &Command) -> std::process::Output {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
            .arg(&self.dir)
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => shell.env(key, value),
                None => shell.env_remove(key),
            };
        }
        shell.output().unwrap()
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // Fails while a process is still in the cgroup; every child has exited by now.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Under a cgroup CPU quota the default runtime starts as many workers as `num_cpus::get()`
/// reports there: one for a quota of one CPU on this multi-core machine, two for one and a
/// half. Needs root (it makes cgroups), so it is ignored in a plain run; `.ci/run` runs it.
#[test]
#[ignore = "needs root to create cgroups; .ci/run runs it with --ignored"]
fn the_default_runtime_honours_a_cgroup_cpu_quota() {
    for (cpus, expected) in [(1.0, 1), (1.5, 2)] {
        let quota = CpuQuota::new(&format!("spindle-test-{}-{cpus}", std::process::id()), cpus);
        let output = quota.run(&child_command(None));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "default-runtime-workers={expected} num_cpus={expected}"
            )),
            "quota of {cpus} CPUs: {stdout}"
        );
    }
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
