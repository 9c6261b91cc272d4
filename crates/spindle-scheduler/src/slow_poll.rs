//! Slow polls and stalls: a poll that runs past a threshold is reported while it still runs,
//! by another worker, and again when it ends, by its own.
//!
//! With a threshold set, each worker publishes the poll it is in (a [`PollStamp`]: when it
//! started, which task); without one, nothing is published and nothing is read. The watching
//! needs no thread of its own: a parked worker keeps watch (a timed park, every 2 ms at most)
//! while another worker is busy (rule 5 of `idle.rs`), and a busy worker looks at the others at
//! its maintenance tick, at most once per half threshold. Either reads the stamps of the other
//! workers and reports a poll older than the threshold, once; a runtime with one worker has no
//! other worker to watch it, and reports only when the poll ends. A stall shows within about
//! the threshold plus one check interval: within `2 t`.
//!
//! The worker reads the coarse clock after each poll (a few nanoseconds, `clock`), which dates
//! both that poll's end and the next one's start, and the precise clock only to report a slow
//! poll's duration, which is then never shorter than the poll was.
//!
//! # The stamp's protocol
//!
//! A [`PollStamp`] is a small seqlock with one writer, the worker. Beginning a poll, it
//! issues a release fence, writes the task's id and location, then the stamp (the start time
//! and the worker's tick, which differs from one poll to the next) with release; ending the
//! poll, it writes 0. A reader loads the stamp (acquire), the id and location, issues an
//! acquire fence and loads the stamp again: equal stamps mean the id and location are the
//! stamped poll's. If the reader saw an id written for a later poll, that write follows the
//! writer's fence, which then synchronizes with the reader's fence, so the reader's second
//! load sees at least the 0 that ended the stamped poll. Which reader reports a stall is
//! decided by a swap of the reported stamp, so each stall is reported once.

use crate::clock;
use crate::loom::sync::atomic::{fence, AtomicU32, AtomicU64};
use crate::task::{Id, SpawnSite};
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

/// A poll that ran past the slow-poll threshold, reported while it still runs (a stall: the
/// worker is stuck in it) or when it ends.
///
/// ```
/// use spindle_scheduler::{Scheduler, SlowPoll, ThreadParker};
/// use std::sync::{mpsc, Mutex};
/// use std::time::Duration;
///
/// let (tx, rx) = mpsc::channel();
/// let tx = Mutex::new(tx);
/// let scheduler = Scheduler::builder()
///     .worker_threads(2)
///     .slow_poll_threshold(Duration::from_millis(20))
///     .on_slow_poll(move |report: &SlowPoll| {
///         let _ = tx.lock().unwrap().send((report.still_running(), report.duration()));
///     })
///     .build(|_| ThreadParker::new())
///     .unwrap();
/// let slow = scheduler.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
/// futures::executor::block_on(slow).unwrap();
/// let reports: Vec<_> = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(1)).ok()).collect();
/// assert!(reports.iter().any(|&(running, d)| !running && d >= Duration::from_millis(100)));
/// ```
#[derive(Clone)]
pub struct SlowPoll {
    task: Id,
    location: &'static Location<'static>,
    duration: Duration,
    still_running: bool,
    threshold: Duration,
}

impl SlowPoll {
    /// The task whose poll was slow.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, SlowPoll, ThreadParker};
    /// # use std::time::Duration;
    /// # let (tx, rx) = std::sync::mpsc::channel();
    /// # let tx = std::sync::Mutex::new(tx);
    /// # let scheduler = Scheduler::builder()
    /// #     .worker_threads(2)
    /// #     .slow_poll_threshold(Duration::from_millis(20))
    /// #     .on_slow_poll(move |r: &SlowPoll| drop(tx.lock().unwrap().send(r.clone())))
    /// #     .build(|_| ThreadParker::new())
    /// #     .unwrap();
    /// let slow = scheduler.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    /// # let id = slow.id();
    /// # futures::executor::block_on(slow).unwrap();
    /// let report: SlowPoll = rx.recv().unwrap(); // the stall, or the end
    /// assert_eq!(report.task(), id);
    /// ```
    pub fn task(&self) -> Id {
        self.task
    }

    /// Where that task was spawned.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, SlowPoll, ThreadParker};
    /// # use std::time::Duration;
    /// # let (tx, rx) = std::sync::mpsc::channel();
    /// # let tx = std::sync::Mutex::new(tx);
    /// # let scheduler = Scheduler::builder()
    /// #     .worker_threads(2)
    /// #     .slow_poll_threshold(Duration::from_millis(20))
    /// #     .on_slow_poll(move |r: &SlowPoll| drop(tx.lock().unwrap().send(r.clone())))
    /// #     .build(|_| ThreadParker::new())
    /// #     .unwrap();
    /// let slow = scheduler.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    /// # let id = slow.id();
    /// # futures::executor::block_on(slow).unwrap();
    /// let report: SlowPoll = rx.recv().unwrap(); // the stall, or the end
    /// assert_eq!(report.location().line(), line!() - 4);
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// How long the poll ran: so far, if [`still_running`](Self::still_running); in all,
    /// otherwise. Never shorter than the real time (it is measured from a coarse start, to a
    /// millisecond or a kernel tick).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, SlowPoll, ThreadParker};
    /// # use std::time::Duration;
    /// # let (tx, rx) = std::sync::mpsc::channel();
    /// # let tx = std::sync::Mutex::new(tx);
    /// # let scheduler = Scheduler::builder()
    /// #     .worker_threads(2)
    /// #     .slow_poll_threshold(Duration::from_millis(20))
    /// #     .on_slow_poll(move |r: &SlowPoll| drop(tx.lock().unwrap().send(r.clone())))
    /// #     .build(|_| ThreadParker::new())
    /// #     .unwrap();
    /// let slow = scheduler.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    /// # let id = slow.id();
    /// # futures::executor::block_on(slow).unwrap();
    /// let report: SlowPoll = rx.recv().unwrap(); // the stall, or the end
    /// assert!(report.duration() >= Duration::from_millis(20));
    /// ```
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// True for a report made while the poll still runs: the worker is stuck in it. Each slow
    /// poll is reported at most twice: once while running (if another worker saw it), once
    /// when it ends.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, SlowPoll, ThreadParker};
    /// # use std::time::Duration;
    /// # let (tx, rx) = std::sync::mpsc::channel();
    /// # let tx = std::sync::Mutex::new(tx);
    /// # let scheduler = Scheduler::builder()
    /// #     .worker_threads(2)
    /// #     .slow_poll_threshold(Duration::from_millis(20))
    /// #     .on_slow_poll(move |r: &SlowPoll| drop(tx.lock().unwrap().send(r.clone())))
    /// #     .build(|_| ThreadParker::new())
    /// #     .unwrap();
    /// let slow = scheduler.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    /// # let id = slow.id();
    /// # futures::executor::block_on(slow).unwrap();
    /// let report: SlowPoll = rx.recv().unwrap(); // the stall, or the end
    /// let end = if report.still_running() { rx.recv().unwrap() } else { report };
    /// assert!(!end.still_running() && end.duration() >= Duration::from_millis(100));
    /// ```
    pub fn still_running(&self) -> bool {
        self.still_running
    }
}

impl fmt::Display for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.duration.as_millis();
        let threshold = self.threshold.as_millis();
        if self.still_running {
            write!(
                f,
                "task {} spawned at {} has been running for {ms} ms without yielding (slow-poll \
                 threshold {threshold} ms): its worker is stuck",
                self.task, self.location
            )
        } else {
            write!(
                f,
                "task {} spawned at {} ran {ms} ms in one poll (slow-poll threshold {threshold} \
                 ms)",
                self.task, self.location
            )
        }
    }
}

impl fmt::Debug for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlowPoll")
            .field("task", &self.task)
            .field("location", &self.location)
            .field("duration", &self.duration)
            .field("still_running", &self.still_running)
            .finish()
    }
}

/// The reporter of slow polls: std's `Arc`, as for the thread hooks.
pub(crate) type SlowPollHook = std::sync::Arc<dyn Fn(&SlowPoll) + Send + Sync>;

/// The slow-poll configuration of a scheduler.
#[derive(Clone)]
pub(crate) struct Watch {
    threshold: Duration,
    /// The threshold in whole milliseconds, at least 1, as the per-poll comparison wants it.
    threshold_ms: u32,
    hook: SlowPollHook,
}

impl Watch {
    pub(crate) fn new(threshold: Duration, hook: SlowPollHook) -> Watch {
        Watch {
            threshold,
            threshold_ms: threshold.as_millis().clamp(1, u32::MAX as u128) as u32,
            hook,
        }
    }

    fn threshold_ms(&self) -> u32 {
        self.threshold_ms
    }

    /// How often a busy worker looks at the others: every half threshold.
    pub(crate) fn check_interval_nanos(&self) -> u64 {
        (self.threshold.as_nanos() / 2).clamp(1, u64::MAX as u128) as u64
    }

    /// Called by the worker after a poll that began at `start_ms` (from [`PollStamp::end`]) and
    /// ended at `end_ms`, both coarse.
    #[inline]
    pub(crate) fn after_poll(&self, id: Id, site: SpawnSite, start_ms: u32, end_ms: u32) {
        if end_ms.wrapping_sub(start_ms) >= self.threshold_ms() {
            self.report_ended(id, site, start_ms);
        }
    }

    #[cold]
    fn report_ended(&self, id: Id, site: SpawnSite, start_ms: u32) {
        self.report(SlowPoll {
            task: id,
            location: site.location(),
            duration: elapsed_since(clock::precise_nanos(), start_ms),
            still_running: false,
            threshold: self.threshold,
        });
    }

    /// Reports the poll `stamp` is in if it has run past the threshold, unless reported.
    pub(crate) fn check(&self, stamp: &PollStamp) {
        let now = clock::precise_nanos();
        if let Some((id, site, start_ms)) = stamp.stalled(now, self.threshold_ms()) {
            self.report(SlowPoll {
                task: id,
                location: site.location(),
                duration: elapsed_since(now, start_ms),
                still_running: true,
                threshold: self.threshold,
            });
        }
    }

    fn report(&self, report: SlowPoll) {
        // The reporter is user code on a worker: its panic must not take the worker down.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.hook)(&report)));
    }
}

/// Time from `start_ms` (milliseconds, truncated to 32 bits) to `now` (nanoseconds).
fn elapsed_since(now: u64, start_ms: u32) -> Duration {
    let now_ms = now / 1_000_000;
    let elapsed_ms = (now_ms as u32).wrapping_sub(start_ms);
    Duration::from_millis(elapsed_ms.into()) + Duration::from_nanos(now % 1_000_000)
}

/// The poll a worker is in, for the other workers to read (the module's protocol).
pub(crate) struct PollStamp {
    /// `start_ms << 32 | tick`, never 0 while a poll runs; 0 between polls.
    stamp: AtomicU64,
    id: AtomicU64,
    site: AtomicU32,
    /// The last stamp reported as a stall.
    reported: AtomicU64,
}

impl PollStamp {
    pub(crate) fn new() -> PollStamp {
        PollStamp {
            stamp: AtomicU64::new(0),
            id: AtomicU64::new(0),
            site: AtomicU32::new(0),
            reported: AtomicU64::new(0),
        }
    }

    /// The worker begins a poll of task `id`, spawned at `site`, at `start_ms`; `tick` tells
    /// this poll from the previous one.
    pub(crate) fn begin(&self, id: Id, site: SpawnSite, start_ms: u32, tick: u32) {
        fence(Release);
        self.id.store(id.as_u64(), Relaxed);
        self.site.store(site.to_u32(), Relaxed);
        let stamp = (u64::from(start_ms) << 32 | u64::from(tick)).max(1);
        self.stamp.store(stamp, Release);
    }

    /// The worker's poll ended; returns when it began.
    pub(crate) fn end(&self) -> u32 {
        let stamp = self.stamp.load(Relaxed);
        self.stamp.store(0, Relaxed);
        (stamp >> 32) as u32
    }

    /// The task and start of the current poll, if it began `threshold_ms` or more before
    /// `now` and no one has reported it yet; it is then reported by the caller.
    pub(crate) fn stalled(&self, now: u64, threshold_ms: u32) -> Option<(Id, SpawnSite, u32)> {
        let stamp = self.stamp.load(Acquire);
        if stamp == 0 {
            return None;
        }
        let start_ms = (stamp >> 32) as u32;
        if ((now / 1_000_000) as u32).wrapping_sub(start_ms) < threshold_ms
            || self.reported.load(Relaxed) == stamp
        {
            return None;
        }
        let id = self.id.load(Relaxed);
        let site = self.site.load(Relaxed);
        fence(Acquire);
        if self.stamp.load(Relaxed) != stamp || self.reported.swap(stamp, Relaxed) == stamp {
            return None;
        }
        // The stamp was unchanged around the reads, so they are the stamped poll's (module
        // docs).
        Some((Id::from_u64(id)?, SpawnSite::from_u32(site), start_ms))
    }
}
