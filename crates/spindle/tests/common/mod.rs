//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// What the test body last said it was doing ([`progress`]), for the watchdog's message.
static PROGRESS: Mutex<String> = Mutex::new(String::new());

/// Records what the test body is doing now, so that a watchdog failure can say where it
/// stopped (which round, which phase).
pub fn progress(what: impl Into<String>) {
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = what.into();
}

/// Runs `body` on its own thread and fails the test if it has not finished within `limit`,
/// instead of hanging the test run.
pub fn with_watchdog<T: Send + 'static>(
    name: &str,
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done_tx, done_rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("watchdog-{name}"))
        .spawn(move || {
            let _ = done_tx.send(body());
        })
        .unwrap();
    match done_rx.recv_timeout(limit) {
        Ok(value) => {
            worker.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body sent nothing but returned"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let last = PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).clone();
            panic!(
                "watchdog: {name} did not finish within {limit:?}: a lost wake-up or a hang \
                 (last progress: {last:?})"
            )
        }
    }
}

/// Scales a stress size by `SPINDLE_STRESS_SCALE` (default 1.0; CI may lower it), never
/// below `min`.
pub fn scaled(full: usize, min: usize) -> usize {
    let scale: f64 = std::env::var("SPINDLE_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((full as f64 * scale) as usize).max(min)
}

/// The worker count for a test that works at any count: `SPINDLE_WORKER_THREADS` when it is
/// set (the soak, `scripts/soak.sh`, sets it per round), `default` otherwise.
pub fn worker_threads(default: usize) -> usize {
    match std::env::var("SPINDLE_WORKER_THREADS") {
        Ok(value) => value
            .trim()
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("SPINDLE_WORKER_THREADS={value:?} is not a positive count")),
        Err(_) => default,
    }
}

/// A runtime with [`worker_threads`]`(default)` workers: `default` unless
/// `SPINDLE_WORKER_THREADS` says otherwise.
pub fn runtime(default: usize) -> spindle::Runtime {
    build_runtime(worker_threads(default))
}

/// A runtime for a test whose behaviour needs at least `min` workers (one blocked while
/// another serves, say): `SPINDLE_WORKER_THREADS` raises the count but never below `min`.
pub fn runtime_with_at_least(min: usize) -> spindle::Runtime {
    build_runtime(worker_threads(min).max(min))
}

/// A runtime with exactly `workers` workers, whatever `SPINDLE_WORKER_THREADS` says: for a
/// test of what one worker does with its own tasks (its cooperative budget, say), which
/// other workers would take away.
pub fn runtime_exactly(workers: usize) -> spindle::Runtime {
    build_runtime(workers)
}

fn build_runtime(workers: usize) -> spindle::Runtime {
    spindle::Builder::new()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// The message of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// User plus system CPU time of this process's threads whose name starts with `prefix`.
pub fn cpu_time_of_threads(prefix: &str) -> Duration {
    let mut ticks = 0;
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = entry.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let name = &stat[stat.find('(').unwrap() + 1..stat.rfind(')').unwrap()];
        if !name.starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    Duration::from_millis(ticks * 10)
}

/// The system's count of connections dropped because a listener's accept queue was full
/// (`TcpExt: ListenOverflows` in `/proc/net/netstat`): one counter for every listener on the
/// machine.
pub fn listen_overflows() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap();
    let mut lines = netstat.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let column = names
            .split_whitespace()
            .position(|name| name == "ListenOverflows")
            .expect("TcpExt has ListenOverflows");
        return values
            .split_whitespace()
            .nth(column)
            .unwrap()
            .parse()
            .unwrap();
    }
    panic!("/proc/net/netstat has no TcpExt line")
}

/// How long a wait in the fault tests may take before it fails: far more than each needs.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Threads of this process whose name starts with `prefix` (at most 15 bytes: the kernel
/// keeps no more of a thread's name).
pub fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Polls `count` until it reads `expected` (a joined thread leaves `/proc` a moment after its
/// join returns), for at most [`WAIT_LIMIT`]; returns the last reading.
pub fn settled(expected: usize, count: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let now = count();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A small deterministic generator (xorshift64), for test inputs that must be the same on
/// every run (sleep lengths, yield counts).
pub struct XorShift(pub u64);

impl XorShift {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Echoes `messages` one after another over one loopback TCP connection, both ends tasks of
/// the current runtime (the server spawned, the client this future): each is written, then
/// read back before the next. Returns what came back.
pub async fn loopback_echo<const N: usize>(messages: &[[u8; N]]) -> Vec<[u8; N]> {
    let listener = spindle::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let rounds = messages.len();
    let server = spindle::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; N];
        for _ in 0..rounds {
            futures::AsyncReadExt::read_exact(&mut stream, &mut buf)
                .await
                .unwrap();
            futures::AsyncWriteExt::write_all(&mut stream, &buf)
                .await
                .unwrap();
        }
    });
    let mut client = spindle::net::TcpStream::connect(addr).await.unwrap();
    let mut echoed = Vec::with_capacity(rounds);
    for message in messages {
        futures::AsyncWriteExt::write_all(&mut client, message)
            .await
            .unwrap();
        let mut back = [0u8; N];
        futures::AsyncReadExt::read_exact(&mut client, &mut back)
            .await
            .unwrap();
        echoed.push(back);
    }
    server.await.unwrap();
    echoed
}
