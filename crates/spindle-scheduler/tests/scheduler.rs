//! The scheduler on its own, with the default thread parker.

use futures::executor::block_on;
use spindle_scheduler::{Scheduler, ThreadParker, ThreadUnparker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Task counts: Miri interprets every step, so it runs the same tests on fewer tasks.
const MANY: u32 = if cfg!(miri) { 20 } else { 1000 };
const SOME: u32 = if cfg!(miri) { 10 } else { 100 };

fn scheduler(workers: usize) -> Scheduler<ThreadUnparker> {
    Scheduler::builder()
        .worker_threads(workers)
        .build(|_| ThreadParker::new())
        .unwrap()
}

#[test]
fn results_come_back_in_order() {
    let scheduler = scheduler(2);
    let handles: Vec<_> = (0..SOME)
        .map(|i| scheduler.spawn(async move { i }))
        .collect();
    let results: Vec<u32> = handles.into_iter().map(|h| block_on(h).unwrap()).collect();
    assert_eq!(results, (0..SOME).collect::<Vec<_>>());
}

#[test]
fn tasks_spawned_from_tasks_run() {
    let scheduler = scheduler(2);
    let spawner = scheduler.spawner();
    let outer = scheduler.spawn(async move {
        let inner: Vec<_> = (0..u64::from(MANY))
            .map(|i| spawner.spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for handle in inner {
            sum += handle.await.unwrap();
        }
        sum
    });
    let n = u64::from(MANY);
    assert_eq!(block_on(outer).unwrap(), n * (n - 1) / 2);
}

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_drops_every_pending_future_once() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scheduler = scheduler(2);
    let handles: Vec<_> = (0..MANY)
        .map(|_| {
            let guard = DropCounter(dropped.clone());
            scheduler.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
        })
        .collect();
    drop(scheduler);
    assert_eq!(dropped.load(Ordering::SeqCst), MANY as usize);
    for handle in handles {
        assert!(block_on(handle).unwrap_err().is_cancelled());
    }
}

#[test]
fn panic_is_caught_and_the_worker_lives_on() {
    let scheduler = scheduler(1);
    let err = block_on(scheduler.spawn(async { panic!("boom") })).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "task panicked with message \"boom\"");
    assert_eq!(block_on(scheduler.spawn(async { 5 })).unwrap(), 5);
}

#[test]
fn abort_drops_the_future() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let scheduler = scheduler(1);
    let guard = DropCounter(dropped.clone());
    let handle = scheduler.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    });
    handle.abort();
    assert!(block_on(handle).unwrap_err().is_cancelled());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn spinning_task_does_not_block_the_other_worker() {
    let scheduler = scheduler(2);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let spinner = scheduler.spawn(async move {
        while !flag.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
    let handles: Vec<_> = (0..SOME)
        .map(|i| scheduler.spawn(async move { i }))
        .collect();
    let sum: u32 = handles.into_iter().map(|h| block_on(h).unwrap()).sum();
    assert_eq!(sum, SOME * (SOME - 1) / 2);
    stop.store(true, Ordering::SeqCst);
    block_on(spinner).unwrap();
}

/// As many workers as cores spin, one more is parked: a task spawned from outside wakes
/// nobody (rule 7 of `idle.rs`: enough workers are unparked), so the parked worker's watch must
/// find it in the injector. Before the watch looked there, the task waited for a spinner.
#[test]
fn a_remote_spawn_runs_while_as_many_workers_as_cores_spin() {
    let cores = if cfg!(miri) { 1 } else { num_cpus::get() };
    let scheduler = scheduler(cores + 1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinning = Arc::new(AtomicUsize::new(0));
    let spinners: Vec<_> = (0..cores)
        .map(|_| {
            let (stop, spinning) = (stop.clone(), spinning.clone());
            scheduler.spawn(async move {
                spinning.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    while spinning.load(Ordering::SeqCst) < cores {
        std::thread::yield_now();
    }
    // Time for the spare worker to stop searching and park.
    std::thread::sleep(Duration::from_millis(50));
    let late = scheduler.spawn(async { 7 });
    let (done, finished) = std::sync::mpsc::channel();
    let joiner = std::thread::spawn(move || done.send(block_on(late).unwrap()));
    let result = finished.recv_timeout(Duration::from_secs(20));
    stop.store(true, Ordering::SeqCst);
    assert_eq!(
        result,
        Ok(7),
        "the late task did not run while the others spun"
    );
    joiner.join().unwrap().unwrap();
    for spinner in spinners {
        block_on(spinner).unwrap();
    }
}

/// More workers than cores, idle past the watch's grace, so that no parked worker keeps
/// watch: tasks that block their workers then take as many workers as cores, after which rule 7
/// of `idle.rs` wakes nobody, so the wake-up that reached that limit must nudge a parked worker
/// into keeping watch, or a task spawned from outside waits for the stall to end. Run as the
/// test runs, and pinned to one CPU, where the first wake-up out of the idle runtime reaches
/// the limit. Before the nudge, the late task waited out the whole 2 s stall in both.
#[test]
#[cfg_attr(miri, ignore = "blocks workers for seconds and times a wake-up")]
fn a_remote_spawn_runs_while_workers_woken_from_an_idle_runtime_are_stuck() {
    for one_cpu in [false, true] {
        let _pinned = one_cpu.then(PinnedToOneCpu::new);
        let cores = num_cpus::get();
        let scheduler = scheduler(cores + 1);
        // Past the grace in which a parked worker keeps watch after the runtime was busy.
        std::thread::sleep(Duration::from_millis(300));
        let started = Arc::new(AtomicUsize::new(0));
        let stuck: Vec<_> = (0..cores)
            .map(|_| {
                let started = started.clone();
                scheduler.spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_secs(2));
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < cores {
            std::thread::yield_now();
        }
        let spawned = Instant::now();
        let late = scheduler.spawn(async move { spawned.elapsed() });
        let waited = block_on(late).unwrap();
        assert!(
            waited < Duration::from_secs(1),
            "{cores} cores, {} workers: the late task waited {waited:?} behind the stuck ones",
            cores + 1
        );
        for task in stuck {
            block_on(task).unwrap();
        }
    }
}

/// Pins the calling thread (and the threads it starts) to the first CPU it may run on, so
/// that `num_cpus::get()` reads 1; restores its CPU set on drop.
struct PinnedToOneCpu(libc::cpu_set_t);

impl PinnedToOneCpu {
    fn new() -> PinnedToOneCpu {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: an all-zero `cpu_set_t` is a valid empty set.
        let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `allowed` is a writable `cpu_set_t` of `size` bytes; pid 0 is this thread.
        assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut allowed) }, 0);
        // SAFETY: `allowed` is an initialized set and every index is below its capacity.
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed) })
            .expect("a CPU to run on");
        // SAFETY: as for `allowed`.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `first` is below the set's capacity.
        unsafe { libc::CPU_SET(first, &mut one) };
        // SAFETY: `one` is a valid set of `size` bytes holding a CPU this thread may use.
        assert_eq!(unsafe { libc::sched_setaffinity(0, size, &one) }, 0);
        PinnedToOneCpu(allowed)
    }
}

impl Drop for PinnedToOneCpu {
    fn drop(&mut self) {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: the set this thread had before, `size` bytes.
        unsafe { libc::sched_setaffinity(0, size, &self.0) };
    }
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc and measures CPU time")]
fn idle_scheduler_parks_its_workers() {
    let scheduler = Scheduler::builder()
        .worker_threads(2)
        .thread_name("idle-probe")
        .build(|_| ThreadParker::new())
        .unwrap();
    block_on(scheduler.spawn(async {})).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let before = cpu_time_of_threads("idle-probe");
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_time_of_threads("idle-probe") - before;
    assert!(
        used <= Duration::from_millis(10),
        "idle workers used {used:?} of CPU in 500 ms"
    );
}

/// Rule 5 of `idle.rs` with one watcher: of 16 workers, one runs a task that spins for half a
/// second and the other 15 park. One of them keeps watch (a timed park every 2 ms, about 250
/// wake-ups); the others park untimed. With every parked worker keeping watch, the 15 woke
/// about 3,750 times.
#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn with_one_worker_busy_only_one_parked_worker_keeps_watch() {
    let scheduler = Scheduler::builder()
        .worker_threads(16)
        .thread_name("watch-probe")
        .build(|_| ThreadParker::new())
        .unwrap();
    let spinning = Arc::new(AtomicUsize::new(0));
    let spinner = scheduler.spawn({
        let spinning = spinning.clone();
        async move {
            spinning.store(1, Ordering::SeqCst);
            let end = std::time::Instant::now() + Duration::from_millis(600);
            while std::time::Instant::now() < end {
                std::hint::spin_loop();
            }
        }
    });
    while spinning.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    // Past the workers' start and their first searches.
    std::thread::sleep(Duration::from_millis(50));
    let before = voluntary_switches_of_threads("watch-probe");
    std::thread::sleep(Duration::from_millis(500));
    let woke = voluntary_switches_of_threads("watch-probe") - before;
    block_on(spinner).unwrap();
    assert!(
        woke < 1_000,
        "the parked workers woke {woke} times in 500 ms: more than one keeps watch"
    );
}

/// The `/proc/self/task/<tid>/` directories of this process's threads whose name starts with
/// `prefix` (threads that exit while listed are skipped).
fn threads_named(prefix: &str) -> impl Iterator<Item = std::path::PathBuf> + '_ {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(move |path| {
            std::fs::read_to_string(path.join("comm"))
                .is_ok_and(|name| name.trim_end().starts_with(prefix))
        })
}

/// Voluntary context switches (each a park that ended) of the threads named `prefix…`.
fn voluntary_switches_of_threads(prefix: &str) -> u64 {
    threads_named(prefix)
        .filter_map(|path| std::fs::read_to_string(path.join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
}

/// User plus system CPU time of the threads named `prefix…`.
fn cpu_time_of_threads(prefix: &str) -> Duration {
    let ticks: u64 = threads_named(prefix)
        .filter_map(|path| std::fs::read_to_string(path.join("stat")).ok())
        .map(|stat| {
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .collect();
            fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
        })
        .sum();
    Duration::from_millis(ticks * 10)
}

/// One half of a pair of tasks that wake each other through the LIFO slot, forever (until
/// `stop`): each poll counts itself, wakes the partner, and stays pending until woken back.
struct PingPongHalf {
    polls: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    mine: Arc<std::sync::Mutex<Option<std::task::Waker>>>,
    partner: Arc<std::sync::Mutex<Option<std::task::Waker>>>,
}

impl std::future::Future for PingPongHalf {
    type Output = ();
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.stop.load(Ordering::SeqCst) {
            if let Some(partner) = self.partner.lock().unwrap().take() {
                partner.wake();
            }
            return std::task::Poll::Ready(());
        }
        self.polls.fetch_add(1, Ordering::SeqCst);
        *self.mine.lock().unwrap() = Some(cx.waker().clone());
        if let Some(partner) = self.partner.lock().unwrap().take() {
            partner.wake();
        }
        std::task::Poll::Pending
    }
}

/// A pair of tasks waking each other runs through the LIFO slot, up to `MAX_LIFO_POLLS` polls
/// after each loop turn's first, and a task spawned from outside must still be taken from the
/// injector within about `GLOBAL_QUEUE_INTERVAL` (61) polls. The look at the injector was due
/// when the loop's tick was a multiple of 61; the LIFO polls move the tick too, so with 4
/// polls per turn the loop met a multiple only every 61 turns (244 polls).
#[test]
#[cfg_attr(miri, ignore = "counts tens of thousands of polls")]
fn a_remote_spawn_is_taken_within_61_polls_of_a_lifo_chain() {
    let scheduler = scheduler(1);
    let polls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (a, b) = (Arc::default(), Arc::default());
    let half = |mine: &Arc<_>, partner: &Arc<_>| PingPongHalf {
        polls: polls.clone(),
        stop: stop.clone(),
        mine: Arc::clone(mine),
        partner: Arc::clone(partner),
    };
    let first = scheduler.spawn(half(&a, &b));
    let second = scheduler.spawn(half(&b, &a));
    let mut delays = Vec::new();
    for _ in 0..20 {
        let target = polls.load(Ordering::SeqCst) + 1_000;
        while polls.load(Ordering::SeqCst) < target {
            std::hint::spin_loop();
        }
        let counter = polls.clone();
        let late = scheduler.spawn(async move { counter.load(Ordering::SeqCst) });
        // Counted from when the spawn has queued the task, not from before it: the polls that
        // run while the spawn allocates (many under a sanitizer) are not the injector's wait.
        let queued_at = polls.load(Ordering::SeqCst);
        delays.push(block_on(late).unwrap().saturating_sub(queued_at));
    }
    stop.store(true, Ordering::SeqCst);
    for waker in [&a, &b] {
        if let Some(waker) = waker.lock().unwrap().take() {
            waker.wake();
        }
    }
    block_on(first).unwrap();
    block_on(second).unwrap();
    // 61 ticks and one loop turn's LIFO polls, with room for the polls that run between the
    // push and the reading after it.
    let worst = *delays.iter().max().unwrap();
    assert!(
        worst <= 61 + 3 + 16,
        "the injector waited {worst} polls of the LIFO chain (each try: {delays:?})"
    );
}
