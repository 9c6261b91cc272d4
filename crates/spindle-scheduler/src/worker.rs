//! The worker loop: find a task, run it, repeat; search, then park, when there is none.
//!
//! # Where a worker looks, in order
//!
//! 1. Every [`GLOBAL_QUEUE_INTERVAL`] ticks, the injector first, so remote spawns are never
//!    starved by a local queue that never empties.
//! 2. Its LIFO slot: the task most recently woken or spawned by a task on this worker. After a
//!    poll the slot's task runs next, at most [`MAX_LIFO_POLLS`] times in a row, so a pair of
//!    tasks waking each other cannot starve the rest of the queue.
//! 3. Its own deque (FIFO), then the tasks pinned to it (`spawn_local`, `local`),
//!    then the injector (taking a batch). The pinned tasks also come first once every
//!    [`GLOBAL_QUEUE_INTERVAL`] ticks (halfway between two looks at the injector), so neither
//!    a busy deque nor a busy injector starves them. No other worker ever takes them.
//! 4. Searching: steal half of a random victim's deque (`steal_batch_and_pop`), trying every
//!    worker, then the injector, for [`SEARCH_ROUNDS`] rounds with a short spin between
//!    them. A searcher never yields its CPU in a loop: on 2 cores, a searcher calling
//!    `sched_yield` takes time from the one worker that has work (and from the kernel's
//!    network stack) for nothing; it parks instead, as tokio's and smol's workers do.
//! 5. Parking, through the [`Park`] seam. While another worker is busy, the park has a
//!    timeout ([`STRANDED_CHECK_INTERVAL`]): on waking, the worker looks for work stranded
//!    behind a worker that has not started a new poll since it parked (its LIFO slot's task,
//!    or its deque, or the injector while such a worker exists), and takes it over, so no
//!    per-worker state waits on a long poll. This is a safety net: every push notifies (rules
//!    4 and 6 of `idle.rs`), so work found here is work whose notification woke nobody
//!    because every other worker was busy then, or as many as there are cores (rule 7). It keeps
//!    these timed parks for [`WATCH_GRACE_PARKS`] more parks after it last saw the runtime
//!    busy (rule 5 of `idle.rs`); after that, when every worker is idle, parks are untimed: an
//!    idle runtime uses no CPU.
//! 6. Watching a LIFO slot (rule 6 of `idle.rs`): a parked worker that was nudged for a task
//!    put alone in another worker's LIFO slot, or that saw one as it parked, parks for
//!    [`LIFO_WATCH_INTERVAL`] only, and then takes the slot's task if its owner has not
//!    started a new poll since: the owner is in a long poll. While slots stay full it watches
//!    again; it never steals from them otherwise, so a worker running a chain of short tasks
//!    through its slot keeps them.
//!
//! Every [`EVENT_INTERVAL`] ticks, and at most once per [`MIN_EVENT_POLL_GAP`], the worker
//! also calls `park_timeout(0)`, letting a driver under the seam (timers, I/O) deliver events
//! even when the worker never runs dry. The gap matters for tasks that poll in tens of
//! nanoseconds (a task that yields in a loop): there, 61 ticks pass every few microseconds, and
//! a non-blocking `epoll_wait` each time cost about a sixth of the worker's time.
//!
//! # What a worker records
//!
//! Each steal and park moves the worker's own counters (`metrics`: plain stores, read by
//! snapshots on other threads). Polls are counted in the worker's own fields and published,
//! with the busy time, when it parks and at the maintenance poll, which reads the clock
//! anyway: a poll costs no store to a line that snapshots read. With a slow-poll threshold set, each poll
//! is stamped, and the worker looks at the other workers' stamps at the maintenance poll and
//! after each timed park (`slow_poll`).
//!
//! The clock readings of the maintenance poll and of waking are published too
//! (`Shared::publish_recent_ms`), as the spawn time of tasks spawned from outside the workers;
//! a parked worker keeping watch over a busy one publishes one after each timed park, and
//! every worker that parks forgets the reading if it was the last one unparked.

use crate::clock;
use crate::idle::Idle;
use crate::local::LocalTasks;
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize};
use crate::metrics::{self, Counters, WorkerMetrics};
use crate::queue::{steal_until_settled, LocalQueue};
use crate::scheduler::{Shared, WorkerContext, CONTEXT};
use crate::slow_poll::{PollStamp, Watch};
use crate::task::{Header, Runnable};
use crossbeam_utils::Backoff;
use spindle_core::{Park, Unpark};
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use std::time::Duration;

/// Ticks between two checks of the injector ahead of the local queue (Go's and tokio's 61).
pub(crate) const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// Ticks between two non-blocking polls of the driver under the parking seam.
pub(crate) const EVENT_INTERVAL: u32 = 61;
/// The least time between two of those polls: a task waiting on I/O or a timer while every
/// worker is busy waits at most this long, or [`EVENT_INTERVAL`] polls, whichever is longer.
pub(crate) const MIN_EVENT_POLL_GAP: Duration = Duration::from_micros(100);
/// LIFO-slot polls in a row before the slot's task goes to the back of the queue.
pub(crate) const MAX_LIFO_POLLS: u32 = 3;
/// Rounds over all victims a searching worker makes before it parks.
const SEARCH_ROUNDS: u32 = 3;
/// How long a worker parks, while another worker is busy, before it looks for stranded work.
pub(crate) const STRANDED_CHECK_INTERVAL: Duration = Duration::from_millis(2);
/// How long a parked worker watching LIFO slots waits before it takes the tasks whose owner
/// has not started a new poll since (rule 6 of `idle.rs`). A poll longer than this is a long
/// poll; the task behind it starts within about this interval (plus a wake-up) instead of
/// waiting for the poll to end.
pub(crate) const LIFO_WATCH_INTERVAL: Duration = Duration::from_micros(100);
/// How many timed parks a parked worker keeps watch for after it last saw the runtime busy
/// (at most 20 ms). Long enough to span the idle gaps of a loaded server, so that leaving an
/// idle runtime does not cost a nudge each time; short enough that an idle runtime is quiet
/// within a few dozen milliseconds. Counted in parks rather than read from the clock, which
/// would cost a clock read on every park.
const WATCH_GRACE_PARKS: u32 = 10;

/// The parts of a worker that other threads may touch.
///
/// Aligned to a cache-line pair (as crossbeam's `CachePadded` is on x86-64): the owner writes
/// `tick` at every poll and its LIFO slot at every spawn and wake, and the `Remote`s sit side
/// by side in one slice. Unaligned, two workers' fields could share a line depending on where
/// the slice was allocated, and each poll would pull the line from the other core.
#[repr(align(128))]
pub(crate) struct Remote<U> {
    pub(crate) stealer: crate::queue::Stealer,
    /// The LIFO slot: a raw `Runnable`, or null. The owner swaps tasks in and out; a searcher
    /// may take it when the owner is stuck (see the module doc).
    pub(crate) lifo: AtomicPtr<Header>,
    /// Counts the owner's polls, so searchers can tell a worker stuck inside one poll.
    pub(crate) tick: AtomicU32,
    pub(crate) unpark: U,
    /// Written by the owner only (`metrics`).
    pub(crate) counters: Counters,
    /// The poll the owner is in, published while a slow-poll threshold is set.
    pub(crate) poll_stamp: PollStamp,
    /// The tasks pinned to this worker (`local`).
    pub(crate) pinned: LocalTasks,
}

impl<U> Remote<U> {
    pub(crate) fn new(stealer: crate::queue::Stealer, unpark: U) -> Remote<U> {
        Remote {
            stealer,
            lifo: AtomicPtr::new(ptr::null_mut()),
            tick: AtomicU32::new(0),
            unpark,
            counters: Counters::default(),
            poll_stamp: PollStamp::new(),
            pinned: LocalTasks::new(0),
        }
    }

    /// Takes the LIFO slot's task, if any.
    pub(crate) fn take_lifo(&self) -> Option<Runnable> {
        if self.lifo.load(Relaxed).is_null() {
            return None;
        }
        let task = NonNull::new(self.lifo.swap(ptr::null_mut(), Acquire))?;
        // SAFETY: the slot held a `Runnable` given up by `into_raw`; the swap made it ours.
        Some(unsafe { Runnable::from_raw(task) })
    }

    /// Puts `task` in the LIFO slot, returning the task it displaced.
    pub(crate) fn put_lifo(&self, task: Runnable) -> Option<Runnable> {
        let prev = self.lifo.swap(task.into_raw().as_ptr(), AcqRel);
        // SAFETY: as in `take_lifo`: a displaced slot value is a `Runnable` we now own.
        NonNull::new(prev).map(|task| unsafe { Runnable::from_raw(task) })
    }

    pub(crate) fn has_lifo(&self) -> bool {
        !self.lifo.load(Relaxed).is_null()
    }

    /// A snapshot of this worker's counters.
    pub(crate) fn metrics(&self) -> WorkerMetrics {
        let depth = self.stealer.len() + usize::from(self.has_lifo());
        self.counters.snapshot(depth)
    }
}

/// A small xorshift generator for choosing steal victims.
struct FastRand(u32);

impl FastRand {
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        ((x as u64 * n as u64) >> 32) as usize
    }
}

pub(crate) struct Worker<P: Park> {
    shared: crate::loom::Arc<Shared<P::Unparker>>,
    index: usize,
    /// `shared.remotes[index]`, looked up once: a poll reaches its own remote half a dozen
    /// times (LIFO slot, tick, pinned tasks), and each lookup through the `Arc` and the
    /// slice's bounds check cost about five instructions.
    own: NonNull<Remote<P::Unparker>>,
    park: P,
    /// Counts polls (and loop turns), published for the watch on stuck workers.
    tick: u32,
    /// The ticks of the last look at the injector first, of the pinned tasks first, and of
    /// the maintenance poll. A look is due once the tick has moved [`GLOBAL_QUEUE_INTERVAL`]
    /// (or [`EVENT_INTERVAL`]) past it: the LIFO polls of one turn move the tick by up to
    /// [`MAX_LIFO_POLLS`] more, so a test for an exact multiple would skip most turns.
    injector_turn: u32,
    pinned_turn: u32,
    event_turn: u32,
    is_searching: bool,
    rng: FastRand,
    /// Each victim's tick when this worker last parked, for spotting stuck workers.
    seen_ticks: Vec<u32>,
    /// How many more timed parks this worker keeps watch for if every other worker is idle.
    watch_parks_left: u32,
    /// When the next maintenance poll of the driver may run ([`clock::precise_nanos`]).
    next_event_poll: u64,
    /// Since when the busy time has not been added to the counters ([`clock::precise_nanos`]).
    busy_since: u64,
    /// The slow-poll watch, if a threshold is set (`slow_poll`).
    watch: Option<Watch>,
    /// When this worker next looks at the other workers' polls ([`clock::precise_nanos`]).
    next_watch_check: u64,
    /// Refilled before every task poll (`coop`).
    budget: crate::coop::Budget,
    /// Polls, and polls that spent the whole budget, so far: published to the counters by
    /// [`Worker::account_busy`].
    polls: u64,
    forced_yields: u64,
    /// For a worker run by its caller ([`CallerCore`]), the waker state of the future its
    /// caller blocks on.
    caller: Option<std::sync::Arc<CallerWake>>,
}

/// The body of a worker thread.
pub(crate) fn run<P: Park>(
    shared: crate::loom::Arc<Shared<P::Unparker>>,
    index: usize,
    park: P,
    local: LocalQueue,
    budget: crate::coop::Budget,
) {
    let (mut worker, context) = Worker::new(shared, index, park, local, budget);
    worker.remote().pinned.set_owner_to_this_thread();
    CONTEXT.with(|c| c.set(&context as *const WorkerContext));
    worker.run_loop(&context, None);
    CONTEXT.with(|c| c.set(ptr::null()));
    worker.exit(&context);
}

impl<P: Park> Worker<P> {
    fn new(
        shared: crate::loom::Arc<Shared<P::Unparker>>,
        index: usize,
        park: P,
        local: LocalQueue,
        budget: crate::coop::Budget,
    ) -> (Worker<P>, WorkerContext) {
        let context = WorkerContext::new(&shared, index, local);
        let workers = shared.remotes.len();
        let watch = shared.slow_poll.clone();
        let own = NonNull::from(&shared.remotes[index]);
        let worker = Worker {
            shared,
            index,
            own,
            park,
            tick: 0,
            injector_turn: 0,
            // Halfway between two looks at the injector.
            pinned_turn: (GLOBAL_QUEUE_INTERVAL / 2).wrapping_sub(GLOBAL_QUEUE_INTERVAL),
            event_turn: 0,
            is_searching: false,
            rng: FastRand(0x9E37_79B9 ^ (index as u32 + 1).wrapping_mul(0x85EB_CA6B)),
            seen_ticks: vec![0; workers],
            watch_parks_left: 0,
            next_event_poll: 0,
            busy_since: clock::precise_nanos(),
            watch,
            next_watch_check: 0,
            budget,
            polls: 0,
            forced_yields: 0,
            caller: None,
        };
        (worker, context)
    }
}

impl<P: Park> Worker<P> {
    fn remote(&self) -> &Remote<P::Unparker> {
        // SAFETY: `own` points at `self.shared.remotes[self.index]`: an element of a boxed
        // slice that is never moved or resized, owned by the `Shared` that `self.shared`
        // keeps alive for as long as `self`, and only ever borrowed shared.
        unsafe { self.own.as_ref() }
    }

    fn idle(&self) -> &Idle {
        &self.shared.idle
    }

    /// The worker loop. A worker run by its caller ([`CallerCore`]) passes the future its
    /// caller blocks on (`main`), polled first and again whenever its waker flags it; the loop
    /// then returns true once `main` is done. Otherwise, and if the scheduler shuts down
    /// first, it returns false. One loop for both, so that the hot path (`next_task`,
    /// `run_task`) has one call site and stays inlined.
    fn run_loop(
        &mut self,
        cx: &WorkerContext,
        mut main: Option<(&CallerWake, &mut dyn FnMut() -> bool)>,
    ) -> bool {
        if let Some((caller, _)) = &main {
            caller.woken.store(true, Relaxed);
        }
        while !self.shared.is_shutdown() {
            if let Some((caller, main)) = &mut main {
                // The swap, not a store: it reads the latest wake, and synchronizes with it.
                if caller.woken.load(Relaxed) && caller.woken.swap(false, Acquire) {
                    self.budget.set(crate::coop::BUDGET_PER_POLL);
                    if main() {
                        return true;
                    }
                }
            }
            self.next_tick();
            if self.tick.wrapping_sub(self.event_turn) >= EVENT_INTERVAL {
                self.event_turn = self.tick;
                self.poll_driver(cx);
            }
            match self.next_task(cx).or_else(|| self.search(cx)) {
                Some(task) => self.run_task(cx, task),
                None => self.park(cx),
            }
        }
        false
    }

    /// The maintenance poll: lets the driver under the seam deliver events without blocking,
    /// unless it did less than [`MIN_EVENT_POLL_GAP`] ago.
    fn poll_driver(&mut self, cx: &WorkerContext) {
        let now = clock::precise_nanos();
        if now < self.next_event_poll {
            return;
        }
        self.account_busy(now);
        let now_ms = clock::millis(now);
        cx.now_ms.set(now_ms);
        self.shared.publish_recent_ms(now_ms);
        self.watch_other_polls(now);
        self.next_event_poll = now + MIN_EVENT_POLL_GAP.as_nanos() as u64;
        self.park_in_driver(cx, Some(Duration::ZERO));
        self.pay_owed_notify(cx);
    }

    fn next_tick(&mut self) {
        self.tick = self.tick.wrapping_add(1);
        self.remote().tick.store(self.tick, Relaxed);
    }

    fn next_task(&mut self, cx: &WorkerContext) -> Option<Runnable> {
        // The second test only with pinned tasks queued.
        if self.tick.wrapping_sub(self.injector_turn) >= GLOBAL_QUEUE_INTERVAL {
            self.injector_turn = self.tick;
            if let Some(task) = self.pop_injector(cx) {
                return Some(task);
            }
        } else if !self.remote().pinned.is_empty()
            && self.tick.wrapping_sub(self.pinned_turn) >= GLOBAL_QUEUE_INTERVAL
        {
            self.pinned_turn = self.tick;
            if let Some(task) = self.remote().pinned.pop() {
                return Some(task);
            }
        }
        self.remote()
            .take_lifo()
            .or_else(|| cx.local.pop())
            .or_else(|| self.remote().pinned.pop())
            .or_else(|| self.pop_injector(cx))
    }

    fn pop_injector(&self, cx: &WorkerContext) -> Option<Runnable> {
        if self.shared.injector.is_empty() {
            return None;
        }
        steal_until_settled(|| self.shared.injector.steal_batch_and_pop(&cx.local))
    }

    fn run_task(&mut self, cx: &WorkerContext, task: Runnable) {
        if self.is_searching {
            self.is_searching = false;
            if self.idle().transition_worker_from_searching() {
                self.shared.notify_parked();
            }
        }
        self.poll_batch(cx, task);
    }

    /// Polls `task`, then the tasks it leaves in the LIFO slot, up to [`MAX_LIFO_POLLS`].
    fn poll_batch(&mut self, cx: &WorkerContext, mut task: Runnable) {
        let mut lifo_polls = 0;
        // With a slow-poll watch, the coarse time: read before the first poll, then after each
        // poll, which also starts the next (`slow_poll`: a start read early only lengthens the
        // reported duration, which must never be shorter than the poll).
        let mut now_ms = if self.watch.is_some() {
            clock::coarse_millis()
        } else {
            0
        };
        loop {
            self.budget.set(crate::coop::BUDGET_PER_POLL);
            let requeued = match &self.watch {
                None => task.run(),
                Some(watch) => {
                    let (id, site) = (task.header().id, task.header().site);
                    let stamp = &self.remote().poll_stamp;
                    stamp.begin(id, site, now_ms, self.tick);
                    let requeued = task.run();
                    now_ms = clock::coarse_millis();
                    cx.now_ms.set(now_ms);
                    watch.after_poll(id, site, stamp.end(), now_ms);
                    requeued
                }
            };
            self.polls += 1;
            self.forced_yields += u64::from(self.budget.get() == 0);
            if let Some(requeued) = requeued {
                self.push_back(cx, requeued);
            }
            let Some(next) = self.remote().take_lifo() else {
                return;
            };
            if lifo_polls == MAX_LIFO_POLLS {
                self.push_back(cx, next);
                return;
            }
            lifo_polls += 1;
            self.next_tick();
            task = next;
        }
    }

    /// Puts a task this worker is about to get back to (a task that woke itself, or one taken
    /// out of the LIFO slot) at the back of its deque, and wakes a parked worker only if other
    /// work is queued here too. Alone, the task runs next on this worker anyway: a wake-up
    /// would only send another worker to steal it, and move a task that yields in a loop to
    /// the other worker and back on every yield.
    fn push_back(&self, cx: &WorkerContext, task: Runnable) {
        let others_queued = !cx.local.is_empty() || self.remote().has_lifo();
        cx.local.push(task);
        if others_queued {
            self.shared.notify_parked_after_push();
        }
    }

    fn search(&mut self, cx: &WorkerContext) -> Option<Runnable> {
        if !self.is_searching {
            if !self.idle().transition_worker_to_searching() {
                return None;
            }
            self.is_searching = true;
        }
        let workers = self.shared.remotes.len();
        let backoff = Backoff::new();
        for _ in 0..SEARCH_ROUNDS {
            let start = self.rng.below(workers);
            for offset in 0..workers {
                let victim = (start + offset) % workers;
                if victim == self.index {
                    continue;
                }
                let remote = &self.shared.remotes[victim];
                let before = cx.local.len();
                if let Some(task) =
                    steal_until_settled(|| remote.stealer.steal_batch_and_pop(&cx.local))
                {
                    let counters = &self.remote().counters;
                    let taken = 1 + cx.local.len().saturating_sub(before);
                    metrics::add(&counters.steals, taken as u64);
                    metrics::add(&counters.steal_operations, 1);
                    return Some(task);
                }
            }
            if let Some(task) = self.pop_injector(cx) {
                return Some(task);
            }
            if self.shared.is_shutdown() {
                return None;
            }
            backoff.spin();
        }
        None
    }

    /// Work for this worker alone: its LIFO slot, its deque, its pinned tasks, and the future
    /// its caller blocks on ([`CallerCore`]).
    fn has_local_work(&self, cx: &WorkerContext) -> bool {
        let remote = self.remote();
        remote.has_lifo()
            || !cx.local.is_empty()
            || !remote.pinned.is_empty()
            || self
                .caller
                .as_ref()
                .is_some_and(|caller| caller.woken.load(Relaxed))
    }

    /// Parks until there is work, counting the time before as busy.
    fn park(&mut self, cx: &WorkerContext) {
        if self.has_local_work(cx) {
            return;
        }
        self.account_busy(clock::precise_nanos());
        self.sleep(cx);
        self.busy_since = clock::precise_nanos();
        let now_ms = clock::millis(self.busy_since);
        cx.now_ms.set(now_ms);
        self.shared.publish_recent_ms(now_ms);
    }

    /// Reports the other workers' polls that have run past the slow-poll threshold, at most
    /// once per half threshold (`slow_poll`).
    fn watch_other_polls(&mut self, now: u64) {
        let Some(watch) = &self.watch else {
            return;
        };
        if now < self.next_watch_check {
            return;
        }
        self.next_watch_check = now + watch.check_interval_nanos();
        for (index, remote) in self.shared.remotes.iter().enumerate() {
            if index != self.index {
                watch.check(&remote.poll_stamp);
            }
        }
    }

    /// Adds the time since `busy_since` to the busy counter, and publishes the poll counts.
    fn account_busy(&mut self, now: u64) {
        let busy = now.saturating_sub(self.busy_since);
        let counters = &self.remote().counters;
        metrics::add(&counters.busy_nanos, busy);
        counters.polls.store(self.polls, Relaxed);
        counters.forced_yields.store(self.forced_yields, Relaxed);
        self.busy_since = now;
    }

    /// The park proper: leaves the searchers, keeps watch while others are busy, and returns
    /// once there is work for this worker.
    fn sleep(&mut self, cx: &WorkerContext) {
        let was_last_searcher = self
            .idle()
            .transition_worker_to_parked(self.index, self.is_searching);
        self.shared.forget_recent_ms_if_all_parked();
        self.is_searching = false;
        if was_last_searcher {
            self.shared.notify_if_work_pending();
        }
        self.watch_parks_left = WATCH_GRACE_PARKS;
        let mut lifo_watch = self.shared.claim_lifo_watch(self.index);
        while !self.shared.is_shutdown() {
            let watch = self
                .idle()
                .keep_watch(self.index, self.watch_parks_left > 0);
            let others_busy = watch.others_busy;
            if others_busy {
                self.watch_parks_left = WATCH_GRACE_PARKS;
            }
            lifo_watch = lifo_watch || self.shared.is_lifo_watcher(self.index);
            if lifo_watch {
                self.sample_ticks();
                self.park_in_driver(cx, Some(LIFO_WATCH_INTERVAL));
                self.shared.end_lifo_watch(self.index);
            } else if watch.watching && self.watch_parks_left > 0 {
                self.watch_parks_left -= 1;
                self.sample_ticks();
                self.park_in_driver(cx, Some(STRANDED_CHECK_INTERVAL));
            } else {
                self.park_in_driver(cx, None);
            }
            if others_busy || self.watch.is_some() {
                // The precise clock, as the other publishers read: alternating with a coarse
                // reading a tick behind would store on every turn.
                let now = clock::precise_nanos();
                if others_busy {
                    // Keeping watch over a busy worker, which may be stuck in a poll: keep the
                    // spawn time of tasks spawned from outside current.
                    self.shared.publish_recent_ms(clock::millis(now));
                    self.shared.forget_recent_ms_if_all_parked();
                }
                if self.watch.is_some() {
                    self.watch_other_polls(now);
                }
            }
            if self.has_local_work(cx) {
                // A driver under the seam woke tasks onto this worker.
                match self.idle().unpark_worker_by_id(self.index) {
                    Some(unparked) => self.nudge(unparked.worker_to_nudge),
                    None => self.is_searching = true,
                }
                self.pay_owed_notify(cx);
                return;
            }
            if !self.idle().is_parked(self.index) {
                // Chosen by `worker_to_notify`, which counted us as searching.
                self.is_searching = true;
                return;
            }
            if (others_busy || lifo_watch) && self.stranded_work() {
                if let Some(unparked) = self.idle().unpark_worker_by_id(self.index) {
                    self.nudge(unparked.worker_to_nudge);
                    self.take_stranded_lifo_tasks(cx);
                    return;
                }
            }
            // Slots still full, owners moving on: watch again, fresh.
            lifo_watch = lifo_watch && self.shared.claim_lifo_watch(self.index);
        }
    }

    /// Parks through the seam (`None`: untimed), with `in_park` set while the driver under it
    /// may wake tasks onto this worker.
    fn park_in_driver(&mut self, cx: &WorkerContext, timeout: Option<Duration>) {
        if timeout != Some(Duration::ZERO) {
            metrics::add(&self.remote().counters.parks, 1);
        }
        cx.in_park.set(true);
        match timeout {
            Some(timeout) => self.park.park_timeout(timeout),
            None => self.park.park(),
        }
        cx.in_park.set(false);
    }

    /// Wakes a parked worker for the tasks the driver queued behind this worker's LIFO slot
    /// while it was parked (tokio does the same on leaving its park), now that this worker is
    /// off the sleepers list and cannot be picked itself.
    fn pay_owed_notify(&self, cx: &WorkerContext) {
        if cx.notify_owed.replace(false) && !cx.local.is_empty() {
            self.shared.notify_parked_after_push();
        }
    }

    /// Wakes a parked worker without taking it off the sleepers list (rule 5 in `idle.rs`):
    /// it re-parks, now with a timeout, as a watcher for stranded work.
    fn nudge(&self, worker: Option<usize>) {
        if let Some(worker) = worker {
            self.shared.remotes[worker].unpark.unpark();
        }
    }

    fn sample_ticks(&mut self) {
        for (victim, remote) in self.shared.remotes.iter().enumerate() {
            self.seen_ticks[victim] = remote.tick.load(Relaxed);
        }
    }

    /// The other workers that have not started a new poll since `sample_ticks`.
    fn stuck_workers(&self) -> impl Iterator<Item = &Remote<P::Unparker>> {
        self.shared
            .remotes
            .iter()
            .enumerate()
            .filter(|&(victim, remote)| {
                victim != self.index && remote.tick.load(Relaxed) == self.seen_ticks[victim]
            })
            .map(|(_, remote)| remote)
    }

    /// Work behind a stuck worker.
    fn stranded_work(&self) -> bool {
        let mut stuck = self.stuck_workers().peekable();
        // The injector too, once some worker is stuck: with as many workers unparked as
        // there are cores, a remote spawn wakes nobody (rule 7 of `idle`) and counts on them.
        stuck.peek().is_some() && !self.shared.injector.is_empty()
            || stuck.any(|remote| remote.has_lifo() || !remote.stealer.is_empty())
    }

    /// Moves the stuck workers' LIFO tasks into this worker's deque; their deques are left to
    /// the search that follows.
    fn take_stranded_lifo_tasks(&self, cx: &WorkerContext) {
        let mut taken = 0;
        for task in self.stuck_workers().filter_map(Remote::take_lifo) {
            cx.local.push(task);
            taken += 1;
        }
        if taken > 0 {
            let counters = &self.remote().counters;
            metrics::add(&counters.steals, taken);
            metrics::add(&counters.steal_operations, 1);
        }
    }

    /// Cancels the tasks pinned here and drops what is left in this worker's queues; the last
    /// worker out sweeps the rest.
    fn exit(&mut self, cx: &WorkerContext) {
        self.account_busy(clock::precise_nanos());
        self.remote().pinned.stop_or_abandon();
        while let Some(task) = self.remote().take_lifo() {
            drop(task);
        }
        while let Some(task) = cx.local.pop() {
            drop(task);
        }
        if self.shared.workers_running.fetch_sub(1, AcqRel) == 1 {
            self.shared.drain_all();
        }
    }
}

/// A worker with no thread of its own: the thread that calls `Scheduler::block_on` runs it
/// while the call lasts (a current-thread runtime), and the scheduler keeps it between calls.
pub(crate) struct CallerCore<P: Park> {
    worker: Worker<P>,
    context: WorkerContext,
}

// SAFETY: what keeps `Worker` and `WorkerContext` from being `Send` is (1) the context's
// `shared` pointer, an address that is compared, never followed; (2) the cells and the local
// queue, which move with the core and are only touched by the thread running it; (3) the
// budget's `Rc`: each drive makes a fresh one and, when it ends (unwinding included),
// replaces it with another that was never shared, dropping the used one (and leaving any
// clone of it) on the driving thread; (4) the worker's `own` pointer into the shared
// remotes, which are `Sync` and kept alive by the `Arc` that moves with it. The park is
// `Send` (`Park: Send`).
unsafe impl<P: Park> Send for CallerCore<P> {}

impl<P: Park> CallerCore<P> {
    pub(crate) fn new(
        shared: crate::loom::Arc<Shared<P::Unparker>>,
        park: P,
        local: LocalQueue,
    ) -> CallerCore<P> {
        let budget = crate::coop::Budget::new(Cell::new(crate::coop::BUDGET_PER_POLL));
        let caller = CallerWake::new(&shared);
        let (mut worker, context) = Worker::new(shared, 0, park, local, budget);
        worker.caller = Some(caller);
        CallerCore { worker, context }
    }
}

/// The waker state of the future a caller-run worker's caller blocks on: a flag that says
/// "poll it again", and how to unpark the worker. Not generic (the unpark is boxed), so its
/// waker vtable is one static ([`CALLER_WAKER_VTABLE`]) that a `JoinHandle` recognizes, and
/// keeps such a waker without boxing it (`task::waker`).
pub(crate) struct CallerWake {
    /// Shared with `Shared::caller_woken`, for the paused clock's idle probe.
    pub(crate) woken: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// `local::this_thread` of the thread running the worker, 0 when none: a wake on that
    /// thread needs no unpark, as the worker looks at the flag before it parks, and after a
    /// driver under its park woke it.
    driver: AtomicUsize,
    unpark: Box<dyn Fn() + Send + Sync>,
}

impl CallerWake {
    /// The waker state of the future that `block_on` drives `shared`'s worker 0 for: a wake
    /// unparks that worker.
    pub(crate) fn new<U: Unpark>(
        shared: &crate::loom::Arc<Shared<U>>,
    ) -> std::sync::Arc<CallerWake> {
        let unpark_shared = shared.clone();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _ = shared.caller_woken.set(woken.clone());
        std::sync::Arc::new(CallerWake {
            woken,
            driver: AtomicUsize::new(0),
            unpark: Box::new(move || unpark_shared.remotes[0].unpark.unpark()),
        })
    }

    fn wake(&self) {
        self.woken.store(true, SeqCst);
        if self.driver.load(Relaxed) != crate::local::this_thread() {
            (self.unpark)();
        }
    }

    pub(crate) fn waker(self: &std::sync::Arc<Self>) -> std::task::Waker {
        let data = std::sync::Arc::into_raw(self.clone()).cast::<()>();
        // SAFETY: the data pointer is an `Arc<CallerWake>`'s, with the reference the waker
        // owns, and the vtable's functions treat it as exactly that.
        unsafe { std::task::Waker::from_raw(std::task::RawWaker::new(data, &CALLER_WAKER_VTABLE)) }
    }
}

/// The vtable of a [`CallerWake`]'s wakers: the data pointer is an `Arc<CallerWake>` (from
/// `Arc::into_raw`, so aligned to at least 8) holding one reference.
pub(crate) static CALLER_WAKER_VTABLE: std::task::RawWakerVTable = std::task::RawWakerVTable::new(
    caller_waker_clone,
    caller_waker_wake,
    caller_waker_wake_by_ref,
    caller_waker_drop,
);

unsafe fn caller_waker_clone(data: *const ()) -> std::task::RawWaker {
    // SAFETY: `data` is a live caller waker's (std's contract): an `Arc<CallerWake>` pointer.
    unsafe { std::sync::Arc::increment_strong_count(data.cast::<CallerWake>()) };
    std::task::RawWaker::new(data, &CALLER_WAKER_VTABLE)
}

unsafe fn caller_waker_wake(data: *const ()) {
    // SAFETY: `data` is a live caller waker's, which gives up its reference here.
    let caller = unsafe { std::sync::Arc::from_raw(data.cast::<CallerWake>()) };
    caller.wake();
}

unsafe fn caller_waker_wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live caller waker's, kept alive for this call.
    unsafe { &*data.cast::<CallerWake>() }.wake();
}

unsafe fn caller_waker_drop(data: *const ()) {
    // SAFETY: `data` is a live caller waker's, which gives up its reference here.
    drop(unsafe { std::sync::Arc::from_raw(data.cast::<CallerWake>()) });
}

/// What a scheduler run by its caller needs of its worker, whatever its park.
pub(crate) trait DriveCore: Send {
    /// The waker to poll `main` with in [`run_until`](Self::run_until).
    fn waker(&self) -> std::task::Waker;

    /// Runs the worker on this thread until `main` returns true (then true) or the scheduler
    /// shuts down (false).
    fn run_until(&mut self, main: &mut dyn FnMut() -> bool) -> bool;

    /// Stops the worker: cancels its pinned tasks and drops its queues.
    fn exit(self: Box<Self>);
}

impl<P: Park> DriveCore for CallerCore<P> {
    fn waker(&self) -> std::task::Waker {
        self.worker.caller.as_ref().expect("a caller core").waker()
    }

    fn run_until(&mut self, main: &mut dyn FnMut() -> bool) -> bool {
        let pinned = &self.worker.remote().pinned;
        if !pinned.is_owner_thread() {
            if pinned.has_unfinished() {
                panic!(
                    "block_on called on a current-thread runtime from a thread other than the \
                     one that spawned its local tasks (spawn_local), which can only run there; \
                     call block_on from that thread"
                );
            }
            pinned.set_owner_to_this_thread();
        }
        let caller = self.worker.caller.clone().expect("a caller core");
        // A budget of this drive's own: user code may keep a clone of it (`coop::budget`),
        // which must not share a count with the budget the core takes to another thread.
        self.worker.budget = crate::coop::Budget::new(Cell::new(crate::coop::BUDGET_PER_POLL));
        let entered = Entered::new(&self.context, self.worker.budget.clone(), &caller);
        self.worker.busy_since = clock::precise_nanos();
        self.context
            .now_ms
            .set(clock::millis(self.worker.busy_since));
        let (worker, context) = (&mut self.worker, &self.context);
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            worker.run_loop(context, Some((&caller, main)))
        }));
        drop(entered);
        // Nobody runs the worker until the next drive: spawns from outside read the clock.
        self.worker.shared.forget_recent_ms();
        self.worker.budget = crate::coop::Budget::new(Cell::new(crate::coop::BUDGET_PER_POLL));
        done.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
    }

    fn exit(mut self: Box<Self>) {
        let CallerCore { worker, context } = &mut *self;
        worker.exit(context);
    }
}

/// This thread runs a [`CallerCore`] while it lives: the worker context and the budget are
/// installed, and taken back on drop, unwinding included.
pub(crate) struct Entered<'a> {
    previous_budget: Option<crate::coop::Budget>,
    previous_context: *const WorkerContext,
    caller: &'a CallerWake,
}

impl<'a> Entered<'a> {
    pub(crate) fn new(
        context: &WorkerContext,
        budget: crate::coop::Budget,
        caller: &'a CallerWake,
    ) -> Entered<'a> {
        let previous_context = CONTEXT.with(|c| c.replace(context as *const WorkerContext));
        caller.driver.store(crate::local::this_thread(), Relaxed);
        Entered {
            previous_budget: crate::coop::set_budget(Some(budget)),
            previous_context,
            caller,
        }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.caller.driver.store(0, Relaxed);
        CONTEXT.with(|c| c.set(self.previous_context));
        crate::coop::set_budget(self.previous_budget.take());
    }
}

#[cfg(all(test, not(loom)))]
mod caller_tests {
    use crate::{Scheduler, ThreadParker, ThreadUnparker};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    fn on_caller() -> Scheduler<ThreadUnparker> {
        Scheduler::builder()
            .worker_threads(1)
            .prepare(|_| ThreadParker::new())
            .unwrap()
            .start_on_caller()
            .unwrap()
    }

    #[test]
    fn tasks_run_on_the_calling_thread_and_continue_at_the_next_block_on() {
        let scheduler = on_caller();
        let caller = std::thread::current().id();
        let (tx, rx) = futures::channel::oneshot::channel::<i32>();
        let spawner = scheduler.spawner();
        let first = scheduler.block_on(async move {
            // Left running: it waits for a message sent after this block_on returns.
            Some(spawner.spawn(async move { (rx.await, std::thread::current().id()) }))
        });
        let waiting = first.flatten().unwrap();
        assert!(!waiting.is_finished());
        tx.send(7).unwrap();
        // Nothing runs the task between the two calls.
        std::thread::sleep(Duration::from_millis(20));
        assert!(!waiting.is_finished());
        let (got, ran_on) = scheduler.block_on(waiting).unwrap().unwrap();
        assert_eq!(got, Ok(7));
        assert_eq!(ran_on, caller);
    }

    #[test]
    fn a_wake_from_another_thread_unparks_the_caller() {
        let scheduler = on_caller();
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(5).unwrap();
        });
        assert_eq!(scheduler.block_on(rx).unwrap(), Ok(5));
        sender.join().unwrap();
    }

    #[test]
    fn a_second_caller_waits_for_its_future_alone_then_takes_the_worker_over() {
        let scheduler = Arc::new(on_caller());
        let (release_tx, release_rx) = futures::channel::oneshot::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        let first = {
            let scheduler = scheduler.clone();
            std::thread::spawn(move || {
                scheduler.block_on(async move {
                    started_tx.send(()).unwrap();
                    release_rx.await.unwrap();
                })
            })
        };
        started_rx.recv().unwrap();
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        // A task spawned now runs only on the worker, which the first caller holds until
        // released; the second caller releases it, then gets the worker and runs the task.
        let task = scheduler.spawn(async move { counted.fetch_add(1, SeqCst) });
        let mut release = Some(release_tx);
        let outcome = scheduler.block_on(async move {
            release.take().unwrap().send(()).unwrap();
            task.await.unwrap()
        });
        assert_eq!(outcome, Some(0));
        assert_eq!(first.join().unwrap(), Some(()));
        assert_eq!(polls.load(SeqCst), 1);
    }

    #[test]
    fn dropping_the_scheduler_cancels_what_is_left() {
        let scheduler = on_caller();
        let pending = scheduler.spawn(std::future::pending::<()>());
        let spawner = scheduler.spawner();
        scheduler.block_on(async {});
        assert_eq!(spawner.num_alive_tasks(), 1);
        drop(scheduler);
        assert_eq!(spawner.num_alive_tasks(), 0);
        assert!(futures::executor::block_on(pending)
            .unwrap_err()
            .is_cancelled());
    }

    #[test]
    fn start_on_caller_needs_exactly_one_worker() {
        let err = Scheduler::builder()
            .worker_threads(2)
            .prepare(|_| ThreadParker::new())
            .unwrap()
            .start_on_caller()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("worker_threads(1)"), "{err}");
    }
}
