//! Child processes on a runtime: output, many children at once, reaping (waited, dropped,
//! killed), errors, and the pipes.
//!
//! Tests in this binary run on parallel threads: the zombie checks look only at the pids
//! their own test spawned.

mod common;

use common::{runtime, with_watchdog};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::process::Command;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Whether `pid` is a zombie child of this process (`/proc/<pid>/stat`: state `Z`, parent us).
fn is_zombie_child(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false; // reaped, and the pid not reused
    };
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[0] == "Z" && fields[1] == std::process::id().to_string()
}

/// Whether `pid` is still a child of this process, in any state.
fn is_child(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[1] == std::process::id().to_string()
}

/// `echo hi`'s output, through `output()`.
///
/// Catches: stdout not captured by default, or cut short (read before EOF), and a status
/// taken before the exit.
#[test]
fn output_of_echo_is_its_line_and_success() {
    runtime(2).block_on(async {
        let output = Command::new("echo").arg("hi").output().await.unwrap();
        assert_eq!(output.stdout, b"hi\n");
        assert!(output.stderr.is_empty());
        assert_eq!(output.status.code(), Some(0));
    });
}

/// 200 children spawned at once and waited for concurrently, from as many tasks: every wait
/// returns success, and afterwards none of them is a zombie child of ours.
///
/// Catches: exits missed when many arrive together (a wait hangs: the watchdog fires), and a
/// status returned without the child being reaped.
#[test]
fn two_hundred_children_spawned_at_once_are_all_reaped() {
    with_watchdog("200 children", Duration::from_secs(60), || {
        let runtime = runtime(2);
        let pids = runtime.block_on(async {
            let children: Vec<_> = (0..200)
                .map(|_| Command::new("sleep").arg("0.1").spawn().unwrap())
                .collect();
            let pids: Vec<u32> = children.iter().map(|child| child.id().unwrap()).collect();
            let waits: Vec<_> = children
                .into_iter()
                .map(|mut child| spindle::spawn(async move { child.wait().await }))
                .collect();
            for status in spindle::join_all(waits).await {
                assert!(status.unwrap().unwrap().success());
            }
            pids
        });
        let zombies: Vec<u32> = pids
            .into_iter()
            .filter(|&pid| is_zombie_child(pid))
            .collect();
        assert!(zombies.is_empty(), "zombies left: {zombies:?}");
    });
}

/// A `Child` of `sleep 0.2` dropped without a wait is reaped in the background while the
/// runtime runs: a second later it is no zombie.
///
/// Catches: a dropped child that nobody reaps (the orphan queue never drained, or its
/// `SIGCHLD` reaper never installed).
#[test]
fn a_dropped_child_is_reaped() {
    let runtime = runtime(2);
    let pid = runtime.block_on(async {
        let child = Command::new("sleep").arg("0.2").spawn().unwrap();
        child.id().unwrap()
    });
    assert!(is_child(pid), "still running when dropped");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !is_zombie_child(pid),
        "the dropped child {pid} was left a zombie"
    );
    drop(runtime);
}

/// A `Child` of `sleep 60` spawned with `kill_on_drop(true)` and dropped is killed and
/// reaped: within a second it is gone.
///
/// Catches: `kill_on_drop` ignored (the child is still there, sleeping).
#[test]
fn a_child_dropped_with_kill_on_drop_is_killed_and_reaped() {
    let runtime = runtime(2);
    let pid = runtime.block_on(async {
        let child = Command::new("sleep")
            .arg("60")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        child.id().unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(1);
    while is_child(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!is_child(pid), "the child {pid} is still there");
    drop(runtime);
}

/// `kill()` of a `sleep 60`, then `wait()`: the wait returns promptly (measured; asserted
/// under a second, with slack for a loaded machine) with the child killed by SIGKILL.
///
/// Catches: an exit noticed only by a later, unrelated event, and a kill that sends another
/// signal.
#[test]
fn kill_then_wait_returns_promptly_with_sigkill() {
    with_watchdog("kill", Duration::from_secs(30), || {
        runtime(2).block_on(async {
            let mut child = Command::new("sleep").arg("60").spawn().unwrap();
            let start = Instant::now();
            child.kill().unwrap();
            let status = child.wait().await.unwrap();
            let took = start.elapsed();
            println!("kill -> wait returned in {took:?}");
            assert_eq!(status.signal(), Some(libc::SIGKILL));
            assert!(took < Duration::from_secs(1), "wait took {took:?}");
        });
    });
}

/// A program that does not exist: `spawn` fails with `NotFound`, naming it.
///
/// Catches: std's bare "No such file or directory", which does not say what was missing.
#[test]
fn a_missing_program_is_not_found_and_named() {
    runtime(1).block_on(async {
        let error = Command::new("spindle-no-such-program").spawn().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        assert!(
            error.to_string().contains("spindle-no-such-program"),
            "{error}"
        );
        let error = Command::new("spindle-no-such-program")
            .output()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    });
}

/// 1 MiB written into `cat`'s stdin while its stdout is read, at the same time: the bytes
/// come back in order and complete. Far more than a pipe holds (64 KiB), so writing all
/// before reading would deadlock.
///
/// Catches: writes or reads that wait for readiness that never comes (a hang), bytes lost or
/// reordered at a `WouldBlock`, and a `close` that does not give `cat` its EOF.
#[test]
fn one_mib_round_trips_through_cat() {
    with_watchdog("cat 1 MiB", Duration::from_secs(60), || {
        runtime(2).block_on(async {
            let sent: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = cat.stdin.take().unwrap();
            let mut stdout = cat.stdout.take().unwrap();
            let writer = {
                let sent = sent.clone();
                spindle::spawn(async move {
                    stdin.write_all(&sent).await.unwrap();
                    stdin.close().await.unwrap();
                })
            };
            let mut received = Vec::new();
            stdout.read_to_end(&mut received).await.unwrap();
            writer.await.unwrap();
            assert_eq!(received.len(), sent.len());
            assert!(received == sent, "the bytes came back changed");
            assert!(cat.wait().await.unwrap().success());
        });
    });
}

/// A child writes 1 MiB to stderr before anything to stdout: `output()` reads both pipes at
/// once, so it completes.
///
/// Catches: an `output` that reads stdout to its end before stderr (the child blocks on the
/// full stderr pipe, stdout never ends: the watchdog fires).
#[test]
fn output_reads_stdout_and_stderr_at_once() {
    with_watchdog("output both", Duration::from_secs(60), || {
        runtime(2).block_on(async {
            let output = Command::new("sh")
                .args(["-c", "head -c 1048576 /dev/zero >&2; echo done"])
                .output()
                .await
                .unwrap();
            assert_eq!(output.stderr.len(), 1 << 20);
            assert_eq!(output.stdout, b"done\n");
            assert!(output.status.success());
        });
    });
}

/// `cat`'s stdin pipe does not leak into a child spawned after it: once this process closes
/// its end, `cat` reads EOF and its stdout ends, although the later child still runs.
///
/// Catches: pipe ends inherited by other children (no close-on-exec): `cat` would wait for
/// EOF until the `sleep` exits.
#[test]
fn a_childs_pipes_do_not_leak_into_other_children() {
    with_watchdog("no leak", Duration::from_secs(30), || {
        runtime(2).block_on(async {
            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut other = Command::new("sleep")
                .arg("10")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            cat.stdin.take().unwrap().write_all(b"bye").await.unwrap(); // dropped: closed
            let mut out = Vec::new();
            let read = spindle::timeout(
                Duration::from_secs(3),
                cat.stdout.take().unwrap().read_to_end(&mut out),
            )
            .await;
            assert!(
                read.is_ok(),
                "cat never saw EOF: its stdin leaked into `sleep`"
            );
            assert_eq!(out, b"bye");
            assert!(cat.wait().await.unwrap().success());
            other.kill().unwrap();
            other.wait().await.unwrap();
        });
    });
}

/// The process types can be moved to and shared with other tasks and threads.
#[test]
fn process_types_are_send_and_sync() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Command>();
    send_and_sync::<spindle::process::Child>();
    send_and_sync::<spindle::process::ChildStdin>();
    send_and_sync::<spindle::process::ChildStdout>();
    send_and_sync::<spindle::process::ChildStderr>();
}
