//! The deterministic scheduler: `n` logical workers run by one thread, every choice seeded.
//!
//! A bug that shows under one interleaving in a thousand cannot be fixed from a log of a run
//! that will not come again. Here the scheduler's own choices are the only source of
//! interleaving, and they come from a generator seeded by the caller, so a seed names a
//! schedule: run the same program with the same seed and its tasks are polled in the same
//! order (madsim and shuttle do this as separate tools; here it is the ordinary scheduler's
//! queues and tasks under a different loop).
//!
//! # The loop
//!
//! Each logical worker is what a worker thread is to the ordinary loop (`worker`): a
//! [`WorkerContext`] with its deque and its LIFO slot, a `Remote` in `Shared`, pinned tasks.
//! The thread that calls `block_on` runs them all, one poll at a time. Before each poll it
//! installs the chosen worker's context, so a task's spawns and wakes go where they would on
//! that worker's thread (its LIFO slot, the displaced task to its deque); the spawning and
//! waking code is the ordinary one. Each step:
//!
//! 1. The candidates: each worker that can take a task (from its LIFO slot, its deque, its
//!    pinned tasks, the injector, or by stealing from another worker's deque), and the future
//!    `block_on` waits on, if it was woken. One is chosen at random.
//! 2. With a chance of one in [`EVENT_INTERVAL`], the maintenance poll: the driver under the
//!    park delivers what is ready (I/O, timers already due) without blocking.
//! 3. The chosen worker takes a task from one of its sources, chosen at random, and polls it.
//!    A steal takes half the victim's deque, as a searching worker does.
//! 4. No candidate: every logical worker is recorded parked (`idle`), the queues are looked at
//!    once more, and the thread parks until there is work. A paused clock's idle probe then
//!    sees the runtime idle and jumps to the next deadline; the timers it fires wake their
//!    tasks onto worker 0, as the thread parks as worker 0.
//!
//! # Invariants
//!
//! - The generator is the only input to a choice; no choice reads a clock or depends on
//!   another thread's timing, and nothing is drawn while the thread waits (however often its
//!   park returns). So with the same seed and the same program, the sequence of polls is the
//!   same, up to where a wake from another thread lands in it.
//! - Wakes from other threads (a `spawn_blocking` closure finishing, a socket becoming ready,
//!   a timer on a running clock) arrive when they arrive: outside the seed.
//! - Nothing of this reaches the ordinary worker loop: it is a separate loop over the same
//!   queues, picked once, when the scheduler is built. A multi-thread scheduler's hot path
//!   never asks "am I deterministic".
//! - The logical workers are parked in `idle` exactly while the thread parks, so a wake from
//!   another thread finds one to notify (every remote's unparker unparks this thread), and
//!   `Spawner::is_idle` is true only then.

use crate::loom::sync::atomic::fence;
use crate::metrics;
use crate::queue::{steal_until_settled, LocalQueue};
use crate::scheduler::{Shared, WorkerContext, CONTEXT};
use crate::task::Runnable;
use crate::worker::{CallerWake, DriveCore, Entered, EVENT_INTERVAL};
use spindle_core::Park;
use std::cell::Cell;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use std::time::Duration;

/// The logical workers of a deterministic scheduler, and the thread's one park.
pub(crate) struct DeterministicCore<P: Park> {
    shared: crate::loom::Arc<Shared<P::Unparker>>,
    park: P,
    /// Boxed, so that the contexts stay put while the core moves between `block_on` calls:
    /// [`CONTEXT`] points at them. Only ever borrowed shared, so that the pointer stays valid.
    contexts: Box<[WorkerContext]>,
    /// Each logical worker's polls, and polls that spent the whole budget.
    polls: Vec<(u64, u64)>,
    rng: SeededRng,
    caller: std::sync::Arc<CallerWake>,
    budget: crate::coop::Budget,
    /// Reused by each step: the choices it has.
    candidates: Vec<Candidate>,
    sources: Vec<Source>,
}

/// Who may run next.
#[derive(Clone, Copy)]
enum Candidate {
    /// The future `block_on` waits on.
    Main,
    Worker(usize),
}

/// Where a logical worker takes its next task from.
#[derive(Clone, Copy)]
enum Source {
    Lifo,
    Deque,
    Pinned,
    Injector,
    Steal(usize),
}

// SAFETY: as for `CallerCore`: the contexts' `shared` pointers are compared, never followed;
// the cells and local queues move with the core and are touched only by the thread running
// it; the budget is replaced by one never shared at the start and end of each drive. The park
// is `Send`.
unsafe impl<P: Park> Send for DeterministicCore<P> {}

impl<P: Park> DeterministicCore<P> {
    pub(crate) fn new(
        shared: crate::loom::Arc<Shared<P::Unparker>>,
        park: P,
        locals: Vec<LocalQueue>,
        seed: u64,
    ) -> DeterministicCore<P> {
        let polls = vec![(0, 0); locals.len()];
        let contexts = locals
            .into_iter()
            .enumerate()
            .map(|(index, local)| WorkerContext::new(&shared, index, local))
            .collect();
        let caller = CallerWake::new(&shared);
        DeterministicCore {
            shared,
            park,
            contexts,
            polls,
            rng: SeededRng::new(seed),
            caller,
            budget: crate::coop::Budget::new(Cell::new(crate::coop::BUDGET_PER_POLL)),
            candidates: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Makes worker `index` the one this thread is, for the poll that follows.
    fn become_worker(&self, index: usize) {
        let context = &self.contexts[index] as *const WorkerContext;
        CONTEXT.with(|c| c.set(context));
    }

    fn run_loop(&mut self, main: &mut dyn FnMut() -> bool) -> bool {
        self.caller.woken.store(true, Relaxed);
        while !self.shared.is_shutdown() {
            let chosen = self.choose();
            // Drawn only on a step that runs something, so that how often the thread parked
            // (a matter of real time while it waits for another thread) draws nothing.
            if chosen.is_some() && self.rng.below(EVENT_INTERVAL as usize) == 0 {
                self.become_worker(0);
                self.park_in_driver(Some(Duration::ZERO));
            }
            match chosen {
                Some(Candidate::Main) => {
                    self.caller.woken.swap(false, Acquire);
                    self.become_worker(0);
                    self.budget.set(crate::coop::BUDGET_PER_POLL);
                    if main() {
                        return true;
                    }
                }
                Some(Candidate::Worker(index)) => {
                    if let Some(task) = self.take_task(index) {
                        self.run_task(index, task);
                    }
                }
                None => self.park(),
            }
        }
        false
    }

    /// Step 1 of the module doc.
    fn choose(&mut self) -> Option<Candidate> {
        self.candidates.clear();
        if self.caller.woken.load(Relaxed) {
            self.candidates.push(Candidate::Main);
        }
        let injector = !self.shared.injector.is_empty();
        let deques = self
            .shared
            .remotes
            .iter()
            .filter(|remote| !remote.stealer.is_empty())
            .count();
        for (index, remote) in self.shared.remotes.iter().enumerate() {
            let own_deque = !remote.stealer.is_empty();
            let can_steal = deques > usize::from(own_deque);
            if remote.has_lifo() || own_deque || !remote.pinned.is_empty() || injector || can_steal
            {
                self.candidates.push(Candidate::Worker(index));
            }
        }
        if self.candidates.is_empty() {
            return None;
        }
        Some(self.candidates[self.rng.below(self.candidates.len())])
    }

    /// Step 3: a task for worker `index` from one of its sources.
    fn take_task(&mut self, index: usize) -> Option<Runnable> {
        let remote = &self.shared.remotes[index];
        let local = &self.contexts[index].local;
        self.sources.clear();
        if remote.has_lifo() {
            self.sources.push(Source::Lifo);
        }
        if !local.is_empty() {
            self.sources.push(Source::Deque);
        }
        if !remote.pinned.is_empty() {
            self.sources.push(Source::Pinned);
        }
        if !self.shared.injector.is_empty() {
            self.sources.push(Source::Injector);
        }
        for (victim, other) in self.shared.remotes.iter().enumerate() {
            if victim != index && !other.stealer.is_empty() {
                self.sources.push(Source::Steal(victim));
            }
        }
        let source = *self.sources.get(self.rng.below(self.sources.len()))?;
        match source {
            Source::Lifo => remote.take_lifo(),
            Source::Deque => local.pop(),
            Source::Pinned => remote.pinned.pop(),
            Source::Injector => {
                steal_until_settled(|| self.shared.injector.steal_batch_and_pop(local))
            }
            Source::Steal(victim) => {
                let before = local.len();
                let task = steal_until_settled(|| {
                    self.shared.remotes[victim]
                        .stealer
                        .steal_batch_and_pop(local)
                })?;
                let counters = &remote.counters;
                metrics::add(&counters.steals, 1 + (local.len() - before) as u64);
                metrics::add(&counters.steal_operations, 1);
                Some(task)
            }
        }
    }

    fn run_task(&mut self, index: usize, task: Runnable) {
        self.become_worker(index);
        self.budget.set(crate::coop::BUDGET_PER_POLL);
        let header = task.header();
        let (id, site) = (header.id, header.site);
        let requeued = match &self.shared.slow_poll {
            None => task.run(),
            // One thread: nobody watches the poll while it runs; it is reported when it ends.
            // The clock read decides nothing.
            Some(watch) => {
                let start = crate::clock::coarse_millis();
                let requeued = task.run();
                watch.after_poll(id, site, start, crate::clock::coarse_millis());
                requeued
            }
        };
        let (polls, forced_yields) = &mut self.polls[index];
        *polls += 1;
        *forced_yields += u64::from(self.budget.get() == 0);
        let counters = &self.shared.remotes[index].counters;
        counters.polls.store(*polls, Relaxed);
        counters.forced_yields.store(*forced_yields, Relaxed);
        if let Some(requeued) = requeued {
            self.contexts[index].local.push(requeued);
        }
    }

    /// Step 4 of the module doc. Parks until there is work, however many times the park
    /// returns before that (a paused clock's re-check while a blocking closure runs, a stale
    /// unpark): the loop draws nothing meanwhile, so the schedule after a wait for another
    /// thread does not depend on how long it took.
    fn park(&mut self) {
        let parked = ParkedWorkers::new(self.shared.clone());
        // Rule 4 of `idle`: a push from another thread made before the workers were counted
        // parked is seen here; one made after finds a worker to notify, which unparks us.
        fence(SeqCst);
        self.become_worker(0);
        while !self.has_work() && !self.shared.is_shutdown() {
            self.park_in_driver(None);
        }
        drop(parked);
        let now_ms = crate::clock::coarse_millis();
        for context in self.contexts.iter() {
            context.now_ms.set(now_ms);
        }
    }

    fn has_work(&self) -> bool {
        self.caller.woken.load(SeqCst)
            || !self.shared.injector.is_empty()
            || self.shared.remotes.iter().any(|remote| {
                remote.has_lifo() || !remote.stealer.is_empty() || !remote.pinned.is_empty()
            })
    }

    /// Parks in the driver as worker 0 (`None`: untimed); the tasks it wakes go to worker 0.
    fn park_in_driver(&mut self, timeout: Option<Duration>) {
        let context = &self.contexts[0];
        if timeout != Some(Duration::ZERO) {
            metrics::add(&self.shared.remotes[0].counters.parks, 1);
        }
        context.in_park.set(true);
        match timeout {
            Some(timeout) => self.park.park_timeout(timeout),
            None => self.park.park(),
        }
        context.in_park.set(false);
        context.notify_owed.set(false);
    }
}

impl<P: Park> DriveCore for DeterministicCore<P> {
    fn waker(&self) -> std::task::Waker {
        self.caller.waker()
    }

    fn run_until(&mut self, main: &mut dyn FnMut() -> bool) -> bool {
        let owned_elsewhere = self
            .shared
            .remotes
            .iter()
            .any(|remote| !remote.pinned.is_owner_thread());
        if owned_elsewhere {
            if self
                .shared
                .remotes
                .iter()
                .any(|remote| remote.pinned.has_unfinished())
            {
                panic!(
                    "block_on called on a deterministic runtime from a thread other than the \
                     one that spawned its local tasks (spawn_local), which can only run there; \
                     call block_on from that thread"
                );
            }
            for remote in self.shared.remotes.iter() {
                remote.pinned.set_owner_to_this_thread();
            }
        }
        let caller = self.caller.clone();
        self.budget = crate::coop::Budget::new(Cell::new(crate::coop::BUDGET_PER_POLL));
        let entered = Entered::new(&self.contexts[0], self.budget.clone(), &caller);
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop(main)));
        drop(entered);
        self.budget = crate::coop::Budget::new(Cell::new(crate::coop::BUDGET_PER_POLL));
        done.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
    }

    fn exit(self: Box<Self>) {
        let workers = self.contexts.len();
        for (context, remote) in self.contexts.iter().zip(self.shared.remotes.iter()) {
            remote.pinned.stop_or_abandon();
            while let Some(task) = remote.take_lifo() {
                drop(task);
            }
            while let Some(task) = context.local.pop() {
                drop(task);
            }
        }
        if self.shared.workers_running.fetch_sub(workers, AcqRel) == workers {
            self.shared.drain_all();
        }
    }
}

/// Every logical worker counted parked in the idle protocol while this lives; unparked again
/// on drop, by unwinding too, so that the counts never drift.
struct ParkedWorkers<U> {
    shared: crate::loom::Arc<Shared<U>>,
}

impl<U> ParkedWorkers<U> {
    fn new(shared: crate::loom::Arc<Shared<U>>) -> Self {
        for index in 0..shared.remotes.len() {
            shared.idle.transition_worker_to_parked(index, false);
        }
        ParkedWorkers { shared }
    }
}

impl<U> Drop for ParkedWorkers<U> {
    fn drop(&mut self) {
        let idle = &self.shared.idle;
        for index in 0..self.shared.remotes.len() {
            if idle.unpark_worker_by_id(index).is_none() {
                // Taken off the sleepers list by a notify, which counted it as searching.
                idle.transition_worker_from_searching();
            }
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood): a 64-bit state stepped by a constant and mixed. Every
/// seed, 0 included, gives a full-period sequence, and nearby seeds give unrelated ones.
struct SeededRng(u64);

impl SeededRng {
    fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`, which must not be 0.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::SeededRng;
    use crate::{Scheduler, ThreadParker, ThreadUnparker};
    use std::sync::{Arc, Mutex};

    /// Pending once, woken at once: back into the queues.
    async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await
    }

    fn deterministic(seed: u64, workers: usize) -> Scheduler<ThreadUnparker> {
        Scheduler::builder()
            .worker_threads(workers)
            .prepare_deterministic(seed, ThreadParker::new())
            .unwrap()
            .start_on_caller()
            .unwrap()
    }

    /// The order in which 16 tasks, each yielding a number of times set by its index, finish.
    fn finishing_order(seed: u64) -> Vec<usize> {
        let scheduler = deterministic(seed, 3);
        let spawner = scheduler.spawner();
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = order.clone();
        scheduler.block_on(async move {
            let tasks: Vec<_> = (0..16)
                .map(|n| {
                    let log = log.clone();
                    spawner.spawn(async move {
                        for _ in 0..n % 5 {
                            yield_once().await;
                        }
                        log.lock().unwrap().push(n);
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        let order = order.lock().unwrap().clone();
        order
    }

    #[test]
    fn the_same_seed_gives_the_same_order_and_other_seeds_other_orders() {
        let first = finishing_order(11);
        assert_eq!(first.len(), 16);
        for _ in 0..10 {
            assert_eq!(finishing_order(11), first);
        }
        let others: std::collections::HashSet<_> = (0..10).map(finishing_order).collect();
        assert!(others.len() >= 2, "{others:?}");
    }

    #[test]
    fn every_logical_worker_polls_and_all_on_the_calling_thread() {
        let scheduler = deterministic(3, 4);
        let spawner = scheduler.spawner();
        let caller = std::thread::current().id();
        let ran_on = scheduler.block_on(async move {
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    spawner.spawn(async {
                        yield_once().await;
                        std::thread::current().id()
                    })
                })
                .collect();
            let mut threads = Vec::new();
            for task in tasks {
                threads.push(task.await.unwrap());
            }
            threads
        });
        assert!(ran_on.unwrap().iter().all(|&thread| thread == caller));
        let spawner = scheduler.spawner();
        let polls: Vec<u64> = (0..4)
            .map(|i| spawner.worker_metrics(i).poll_count())
            .collect();
        assert!(polls.iter().all(|&n| n > 0), "{polls:?}");
    }

    #[test]
    fn a_wake_from_another_thread_unparks_the_caller() {
        let scheduler = deterministic(0, 2);
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.send(9).unwrap();
        });
        assert_eq!(scheduler.block_on(rx), Some(Ok(9)));
        sender.join().unwrap();
    }

    #[test]
    fn a_task_woken_from_another_thread_runs() {
        let scheduler = deterministic(0, 2);
        let spawner = scheduler.spawner();
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.send(9).unwrap();
        });
        let got = scheduler.block_on(async move { spawner.spawn(rx).await.unwrap() });
        assert_eq!(got, Some(Ok(9)));
        sender.join().unwrap();
    }

    #[test]
    fn start_without_a_caller_is_refused() {
        let err = Scheduler::builder()
            .prepare_deterministic(1, ThreadParker::new())
            .unwrap()
            .start()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("start_on_caller"), "{err}");
    }

    #[test]
    fn dropping_the_scheduler_cancels_what_is_left() {
        let scheduler = deterministic(5, 3);
        let pending = scheduler.spawn(std::future::pending::<()>());
        scheduler.block_on(async {});
        drop(scheduler);
        assert!(futures::executor::block_on(pending)
            .unwrap_err()
            .is_cancelled());
    }

    #[test]
    fn the_generator_spreads_over_its_range() {
        let mut rng = SeededRng::new(0);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[rng.below(7)] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }
}
