//! A task spawned by a poll that then stays busy (a CPU-bound stretch before it awaits the
//! child) starts on an idle worker at once, not when the parent's poll ends and not when an
//! idle worker's timed park happens to look (rule 6 of the scheduler's `idle.rs`).
//!
//! Its own test binary, so no other test shares the two cores while the delays are measured,
//! and its two tests take turns (`ONE_AT_A_TIME`): run side by side, as the test harness
//! would, each one's spinning parents took the core the other's idle worker needed.

mod common;

use common::{runtime_exactly, with_watchdog};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Held by each test for its whole measurement.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long each parent stays in its poll after spawning: far longer than the delay measured.
const BUSY: Duration = Duration::from_millis(20);

fn spin_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

/// The delays of `trials` trials on `rt`, sorted. Each trial: with every worker idle, a
/// parent task spawns a child, then spins for 20 ms before awaiting it. A child that ran on
/// its parent's thread, after the parent's poll, counts as a delay of at least those 20 ms
/// (the idle worker never took it; on a loaded machine its thread may not have run at all).
fn spawn_to_start_delays(rt: &spindle::Runtime, trials: usize) -> Vec<Duration> {
    let mut delays = Vec::new();
    for _ in 0..trials {
        // Both workers idle: the previous trial's tasks are done, and the gap lets the idle
        // workers park.
        std::thread::sleep(Duration::from_millis(5));
        let (delay, parent_thread, child_thread) = rt
            .block_on(rt.spawn(async {
                let spawned = Instant::now();
                let child = spindle::spawn(async { (Instant::now(), std::thread::current().id()) });
                spin_for(BUSY);
                let (started, child_thread) = child.await.unwrap();
                (started - spawned, std::thread::current().id(), child_thread)
            }))
            .unwrap();
        if parent_thread == child_thread {
            assert!(delay >= BUSY, "the child ran during its parent's poll");
        }
        delays.push(delay);
    }
    delays.sort_unstable();
    delays
}

/// 100 trials on a 2-worker runtime (see [`spawn_to_start_delays`]). The delay from the spawn
/// to the child's first poll must be short: the design gives about 0.2 ms (a wake-up plus
/// `LIFO_WATCH_INTERVAL`); before it, a child waited for an idle worker's 2 ms timed park, a
/// median of 2 to 5 ms, or for the end of the parent's poll. Asserted with slack: median
/// under 1.5 ms and 90th percentile under 3 ms. A loaded machine (compilers on both cores)
/// delays the idle worker's thread itself by milliseconds, and so does a noisy neighbour on a
/// shared host for seconds at a time (CI once saw five rounds in a row miss at 16 workers,
/// with p90s of 3.5 to 5.8 ms), so a round that misses is measured again, up to ten rounds
/// (25 s); the old design misses in every round.
#[test]
fn a_child_spawned_before_a_long_poll_starts_on_the_idle_worker() {
    assert_children_start_quickly(2);
}

/// The same with 16 workers on the machine's cores: rule 7 of `idle.rs` wakes no worker while
/// as many as there are cores are unparked, and the child must still start on a watcher, not
/// when the parent's poll ends.
#[test]
fn a_child_spawned_before_a_long_poll_starts_quickly_with_more_workers_than_cores() {
    assert_children_start_quickly(16);
}

fn assert_children_start_quickly(workers: usize) {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    with_watchdog("spawn-latency", Duration::from_secs(120), move || {
        let rt = runtime_exactly(workers);
        let mut rounds = Vec::new();
        for _ in 0..10 {
            let delays = spawn_to_start_delays(&rt, 100);
            let (median, p90) = (delays[delays.len() / 2], delays[delays.len() * 9 / 10]);
            let max = delays[delays.len() - 1];
            eprintln!(
                "{workers} workers: spawn-to-start delay: median {median:?}, p90 {p90:?}, max {max:?}"
            );
            rounds.push((median, p90));
            if median < Duration::from_micros(1_500) && p90 < Duration::from_millis(3) {
                return;
            }
        }
        panic!("spawn-to-start delays too long in every round: (median, p90) = {rounds:?}");
    });
}
