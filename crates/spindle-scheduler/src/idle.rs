//! Which workers are parked or searching, and whom to wake.
//!
//! One atomic word counts the *unparked* workers (running or searching) and, of those, the
//! *searching* ones (looking for work to steal), and, in its high half, a *generation* that
//! moves each time a worker parks or another part of the runtime says it goes idle (a
//! `block_on` about to park): a paused clock's idle probe reads the word before and after
//! looking at everything else, and trusts what it saw only if the word did not change
//! (`Spawner::is_idle_with`). The parked workers' indices sit in a short list behind a mutex,
//! touched only on the slow paths of parking and waking.
//!
//! # Rules
//!
//! 1. A producer that made work available wakes a worker only if no worker is searching and
//!    some worker is parked; the woken worker starts out searching. So a burst of spawns wakes
//!    one worker, not all of them.
//! 2. At most half the workers search at once (rounded up), and at most half the cores: with
//!    more workers than cores (a container's CPU quota, a worker count set by hand), every
//!    searcher spins on a core that a worker with tasks needs.
//! 3. When the last searcher finds work, it wakes one more worker (rule 1 applied again), so
//!    wake-ups ramp up one at a time while work keeps appearing.
//! 4. A worker about to park first leaves the counts (SeqCst), then, if it was the last
//!    searcher, checks every queue once more. The producer pushes its work, then, after a
//!    SeqCst fence, reads the counts. One of the two sees the other, so work is never left
//!    with every worker asleep. This holds for every push a search can find: the injector and
//!    the deques.
//! 5. One parked worker *keeps watch* (parks with a timeout, to look for work stranded behind
//!    a long poll, `worker.rs`) while another worker is unparked, and for a short grace after
//!    the runtime was last busy; it decides so under the sleepers lock. The others park
//!    untimed: each further watcher would be a thread waking every 2 ms on cores the busy
//!    workers need, to find what the first one finds as soon (16 workers on 2 cores had 14 of
//!    them). A producer wakes a worker that does not watch, so the watch stays with the
//!    thread that already wakes for it. A worker that leaves its park by itself (a timer or
//!    I/O event under the parking seam gave it work) nudges a parked worker into deciding
//!    again, and so taking the watch, when every other worker was parked, or when it was the
//!    watcher itself or the worker nudged to become one, and nobody else holds or is taking
//!    the watch. Both sides read the other's state under the lock, so the watch is never
//!    dropped while a worker is unparked. The grace is what keeps a runtime that goes idle
//!    and busy thousands of times a second (a server under load) from paying a wake-up for
//!    every nudge.
//! 6. A task put alone in a LIFO slot by a running task (a spawn, or a wake) is not stealable
//!    work: its owner runs it next, once the current poll ends, which may be long (a CPU-bound
//!    stretch after a spawn). So it does not wake a worker to search; instead the owner nudges
//!    one parked worker into *watching* the slots (`Shared::nudge_lifo_watcher`), unless one
//!    already does, and a worker that parks while a slot is full starts watching by itself
//!    (`Shared::claim_lifo_watch`); the two sides fence before they look, so one of them sees
//!    the other. The watcher stays on the sleepers list and parks for `LIFO_WATCH_INTERVAL`,
//!    then takes the slot's task if the owner has not started a new poll since (`worker.rs`),
//!    and watches again while slots stay full. So a task waits about that interval behind a
//!    long poll, never for a 2 ms timed park; an owner running a chain of short tasks through
//!    its slot pays one wake-up when the watch starts and keeps its tasks.
//! 7. Rules 1 and 3 wake a worker only while fewer workers than cores are unparked. With more
//!    workers than cores, another runnable thread adds no core: it takes turns with the busy
//!    ones, and each wake-up and context switch comes out of their time (16 workers on 2 cores
//!    took 1.8 times as long as 2 to accept and serve a burst of connections). The unparked
//!    workers take the work when their polls end, the last searcher among them re-checks the
//!    queues before it parks (rule 4), and a worker stuck in a long poll is covered by the
//!    watch (rules 5 and 6), which looks in the injector too while a worker is stuck: there a
//!    remote spawn waits up to one watch interval (2 ms) when all of those workers are in long
//!    polls. A wake-up that reaches the limit nudges a parked worker into keeping watch if
//!    none does (`worker_to_notify`), since no later wake-up will. With no more workers than
//!    cores, this rule never applies.

use crate::loom::sync::atomic::AtomicU64;
use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::sync::atomic::Ordering::SeqCst;

const UNPARKED_SHIFT: u32 = 16;
const GENERATION_SHIFT: u32 = 32;
const SEARCHING_MASK: u64 = (1 << UNPARKED_SHIFT) - 1;
const UNPARKED_MASK: u64 = ((1 << GENERATION_SHIFT) - 1) & !SEARCHING_MASK;
const ONE_UNPARKED: u64 = 1 << UNPARKED_SHIFT;
const ONE_SEARCHING: u64 = 1;
const ONE_GENERATION: u64 = 1 << GENERATION_SHIFT;

pub(crate) struct Idle {
    /// On a cache line of its own: every push onto a deque with other tasks queued reads it
    /// with a read-modify-write (rule 4), so its line moves between the cores all the time,
    /// and a field beside it (read by every worker's loop) would move with it.
    state: CachePadded<AtomicU64>,
    sleepers: Mutex<Sleepers>,
    num_workers: usize,
    /// Rule 2's limit.
    max_searching: usize,
    /// Rule 7's limit.
    max_unparked_to_wake: usize,
}

/// What [`Idle::worker_to_notify`] decided: the worker to wake, and a parked worker to nudge
/// into keeping watch (rule 5), left on the sleepers list.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ToWake {
    pub(crate) worker: usize,
    pub(crate) watcher_to_nudge: Option<usize>,
}

/// The parked workers, the one that keeps watch (rule 5), and the one nudged to take the watch
/// that has not yet decided.
struct Sleepers {
    parked: Vec<usize>,
    /// At most one parked worker keeps watch: one timed park finds stranded work as soon as
    /// many would, and every further watcher is a thread waking every 2 ms on shared cores.
    watcher: Option<usize>,
    /// A parked worker nudged to take the watch (rule 5), until its `keep_watch` decides.
    nudged: Option<usize>,
}

impl Sleepers {
    /// Takes `worker` off the list, dropping its watch or pending nudge. True if it was listed;
    /// also whether it held the watch or an undecided nudge.
    fn remove(&mut self, worker: usize) -> Option<bool> {
        let index = self.parked.iter().position(|&w| w == worker)?;
        self.parked.swap_remove(index);
        let held_watch = self.watcher == Some(worker) || self.nudged == Some(worker);
        self.forget(worker);
        Some(held_watch)
    }

    fn forget(&mut self, worker: usize) {
        if self.watcher == Some(worker) {
            self.watcher = None;
        }
        if self.nudged == Some(worker) {
            self.nudged = None;
        }
    }

    /// The most recently parked worker that neither keeps watch nor was nudged to; the watcher
    /// or the nudged one only if no other is parked, so the watch stays with the thread that
    /// already wakes for it.
    fn pop(&mut self) -> Option<usize> {
        let busy_with_watch = |w: usize| self.watcher == Some(w) || self.nudged == Some(w);
        let index = self
            .parked
            .iter()
            .rposition(|&w| !busy_with_watch(w))
            .or_else(|| self.parked.len().checked_sub(1))?;
        let worker = self.parked.swap_remove(index);
        self.forget(worker);
        Some(worker)
    }

    /// Rule 5's nudge: some parked worker, to wake and leave on the list, if nobody keeps or is
    /// taking the watch. Recorded as nudged.
    fn worker_to_nudge(&mut self) -> Option<usize> {
        if self.watcher.is_some() || self.nudged.is_some() {
            return None;
        }
        self.nudged = self.parked.last().copied();
        self.nudged
    }
}

#[derive(Clone, Copy)]
struct Counts(u64);

/// The idle word at one moment ([`Idle::snapshot`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdleSnapshot(u64);

impl IdleSnapshot {
    /// Workers running or searching then.
    pub(crate) fn num_unparked(self) -> usize {
        Counts(self.0).unparked()
    }
}

/// What a parked worker decided in [`Idle::keep_watch`].
pub(crate) struct Watch {
    /// Another worker is unparked.
    pub(crate) others_busy: bool,
    /// This worker keeps watch: it parks with a timeout.
    pub(crate) watching: bool,
}

/// A worker left the sleepers list by itself ([`Idle::unpark_worker_by_id`]).
pub(crate) struct SelfUnparked {
    /// Rule 5: a parked worker to wake (and leave on the list), because every worker was
    /// parked until now and none keeps watch.
    pub(crate) worker_to_nudge: Option<usize>,
}

impl Counts {
    fn searching(self) -> usize {
        (self.0 & SEARCHING_MASK) as usize
    }
    fn unparked(self) -> usize {
        ((self.0 & UNPARKED_MASK) >> UNPARKED_SHIFT) as usize
    }
}

impl Idle {
    /// `num_workers` workers sharing `cores` cores (rule 2), all counted as unparked.
    pub(crate) fn new(num_workers: usize, cores: usize) -> Idle {
        assert!((num_workers as u64) < SEARCHING_MASK, "too many workers");
        Idle {
            state: CachePadded::new(AtomicU64::new(num_workers as u64 * ONE_UNPARKED)),
            sleepers: Mutex::new(Sleepers {
                parked: Vec::with_capacity(num_workers),
                watcher: None,
                nudged: None,
            }),
            num_workers,
            max_searching: num_workers.min(cores).max(1).div_ceil(2),
            max_unparked_to_wake: num_workers.min(cores.max(1)),
        }
    }

    fn counts(&self) -> Counts {
        Counts(self.state.load(SeqCst))
    }

    /// Rules 1 and 7.
    fn should_wake_one(&self) -> bool {
        let counts = self.counts();
        counts.searching() == 0 && counts.unparked() < self.max_unparked_to_wake
    }

    /// Rule 1: picks a parked worker to wake, and counts it as unparked and searching.
    ///
    /// When this wake-up brings the unparked workers to rule 7's limit, no searcher that
    /// finds work will wake another (rule 3), so no parked worker would come to keep watch on
    /// its own: if none does, one is nudged into deciding (rule 5), as when a worker leaves an
    /// idle runtime by itself. Without it, a runtime with more workers than cores that had
    /// been idle past the grace left tasks queued behind workers stuck in long polls for the
    /// whole of those polls, with workers parked beside them (one core, two workers: a remote
    /// spawn waited 0.9 s behind a 1 s poll).
    pub(crate) fn worker_to_notify(&self) -> Option<ToWake> {
        if !self.should_wake_one() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_wake_one() {
            return None;
        }
        let worker = sleepers.pop()?;
        let prev = Counts(self.state.fetch_add(ONE_UNPARKED | ONE_SEARCHING, SeqCst));
        let watcher_to_nudge = if prev.unparked() + 1 >= self.max_unparked_to_wake {
            sleepers.worker_to_nudge()
        } else {
            None
        };
        Some(ToWake {
            worker,
            watcher_to_nudge,
        })
    }

    /// Rule 4, the producer's half, for work pushed where a search finds it (a deque): reads
    /// the counts with a SeqCst read-modify-write that changes nothing (`fetch_add(0)`, as
    /// tokio does), then decides as [`worker_to_notify`](Self::worker_to_notify). The RMW is
    /// ordered with the parking worker's SeqCst decrement of the same word: if it comes after,
    /// it sees the worker parked; if before, the worker's decrement reads it and so sees the
    /// push made before it. A plain load could be reordered before the push (a store followed
    /// by a load of another address may be, on x86 too): the producer would see a searcher,
    /// the searcher park without seeing the push, and the work wait for a timed park.
    pub(crate) fn worker_to_notify_after_push(&self) -> Option<ToWake> {
        let counts = Counts(self.state.fetch_add(0, SeqCst));
        if counts.searching() != 0 || counts.unparked() >= self.max_unparked_to_wake {
            return None;
        }
        self.worker_to_notify()
    }

    /// Some parked worker, left on the sleepers list (rule 6: to nudge into watching).
    pub(crate) fn a_parked_worker(&self) -> Option<usize> {
        if self.counts().unparked() == self.num_workers {
            return None;
        }
        let sleepers = self.sleepers.lock();
        sleepers.watcher.or_else(|| sleepers.parked.last().copied())
    }

    /// Rule 2: true if the caller may start searching.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let counts = self.counts();
        if counts.searching() >= self.max_searching {
            return false;
        }
        self.state.fetch_add(ONE_SEARCHING, SeqCst);
        true
    }

    /// Rule 3: true if the caller was the last searcher and should wake another worker.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = Counts(self.state.fetch_sub(ONE_SEARCHING, SeqCst));
        debug_assert!(prev.searching() > 0);
        prev.searching() == 1
    }

    /// Rule 4: records `worker` as parked. True if it was the last searcher, in which case the
    /// caller must check the queues once more.
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let decrement = ONE_UNPARKED + if is_searching { ONE_SEARCHING } else { 0 };
        // The counts go down and the generation up in one step (no borrow crosses into the
        // generation: the counts it takes from are at least `decrement`).
        let prev = Counts(self.state.fetch_add(ONE_GENERATION - decrement, SeqCst));
        sleepers.parked.push(worker);
        is_searching && prev.searching() == 1
    }

    /// A parked worker woke by itself (a timeout or a driver event) and found work: leave the
    /// sleepers list. `None` if someone had already taken it off (it is then counted as
    /// searching, per rule 1).
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> Option<SelfUnparked> {
        let mut sleepers = self.sleepers.lock();
        let held_watch = sleepers.remove(worker)?;
        let prev = Counts(self.state.fetch_add(ONE_UNPARKED, SeqCst));
        // The first worker out of an idle runtime, or a watcher (or a worker nudged to become
        // one) leaving: someone else must watch.
        let worker_to_nudge = if prev.unparked() == 0 || held_watch {
            sleepers.worker_to_nudge()
        } else {
            None
        };
        Some(SelfUnparked { worker_to_nudge })
    }

    /// Rule 5: `worker`, parked, is about to park (again). It keeps watch if another worker is
    /// unparked or if `in_grace`, unless another parked worker keeps watch already.
    pub(crate) fn keep_watch(&self, worker: usize, in_grace: bool) -> Watch {
        let mut sleepers = self.sleepers.lock();
        let others_busy = self.counts().unparked() > 0;
        let mut watching = false;
        if sleepers.parked.contains(&worker) {
            if sleepers.nudged == Some(worker) {
                sleepers.nudged = None;
            }
            if sleepers.watcher.is_none() || sleepers.watcher == Some(worker) {
                watching = others_busy || in_grace;
                sleepers.watcher = watching.then_some(worker);
            }
        }
        Watch {
            others_busy,
            watching,
        }
    }

    /// True while `worker` is still on the sleepers list (nobody chose to wake it).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().parked.contains(&worker)
    }

    /// Workers running or searching (not parked).
    pub(crate) fn num_unparked(&self) -> usize {
        self.counts().unparked()
    }

    /// The whole word, for a probe to compare before and after (see the module doc): any
    /// transition in between changes it, a worker waking or parking, or [`note_going_idle`].
    ///
    /// [`note_going_idle`]: Self::note_going_idle
    pub(crate) fn snapshot(&self) -> IdleSnapshot {
        IdleSnapshot(self.state.load(SeqCst))
    }

    /// Something outside the workers that a probe looks at is about to go idle: moves the
    /// generation. Call it before the change a probe would see.
    pub(crate) fn note_going_idle(&self) {
        self.state.fetch_add(ONE_GENERATION, SeqCst);
    }

    #[cfg(test)]
    pub(crate) fn num_searching(&self) -> usize {
        self.counts().searching()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn woken(decision: Option<ToWake>) -> Option<usize> {
        decision.map(|wake| wake.worker)
    }

    #[test]
    fn at_most_half_the_workers_search() {
        let idle = Idle::new(4, 4);
        assert!(idle.transition_worker_to_searching());
        assert!(idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_to_searching());
        assert_eq!(idle.num_searching(), 2);
    }

    #[test]
    fn at_most_half_the_cores_search() {
        let idle = Idle::new(16, 2);
        assert!(idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_to_searching());
        assert_eq!(idle.num_searching(), 1);
    }

    #[test]
    fn no_wake_while_as_many_workers_as_cores_are_unparked() {
        let idle = Idle::new(16, 2);
        for worker in 2..16 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        assert_eq!(
            woken(idle.worker_to_notify()),
            None,
            "2 unparked on 2 cores"
        );
        assert_eq!(woken(idle.worker_to_notify_after_push()), None);
        assert!(!idle.transition_worker_to_parked(1, false));
        assert_eq!(
            woken(idle.worker_to_notify()),
            Some(1),
            "1 unparked on 2 cores"
        );
        assert_eq!(idle.counts().unparked(), 2);
    }

    #[test]
    fn a_wake_up_that_reaches_the_core_limit_nudges_a_watcher() {
        // One core, two workers, both parked and nobody watching: the first wake-up reaches
        // rule 7's limit, so the other worker is nudged into deciding whether to watch.
        let idle = Idle::new(2, 1);
        for worker in 0..2 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        let wake = idle.worker_to_notify().unwrap();
        assert_eq!(wake.watcher_to_nudge, Some(1 - wake.worker));
        assert!(idle.is_parked(1 - wake.worker), "nudged, not unparked");
        // Two cores: below the limit, rule 3 wakes the next worker instead.
        let idle = Idle::new(3, 2);
        for worker in 0..3 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        let first = idle.worker_to_notify().unwrap();
        assert_eq!(first.watcher_to_nudge, None);
        assert!(idle.transition_worker_from_searching());
        let second = idle.worker_to_notify().unwrap();
        let watcher = second.watcher_to_nudge.expect("the limit reached");
        assert!(watcher != first.worker && watcher != second.worker);
        // Once it keeps watch, no more nudges.
        assert!(idle.keep_watch(watcher, false).watching);
        assert!(idle.transition_worker_to_parked(second.worker, true));
        assert_eq!(idle.worker_to_notify().unwrap().watcher_to_nudge, None);
    }

    #[test]
    fn no_wake_while_someone_searches() {
        let idle = Idle::new(2, 2);
        assert!(!idle.transition_worker_to_parked(1, false));
        assert!(idle.transition_worker_to_searching());
        assert_eq!(woken(idle.worker_to_notify()), None);
        assert!(idle.transition_worker_from_searching());
        assert_eq!(woken(idle.worker_to_notify()), Some(1));
        assert_eq!(
            woken(idle.worker_to_notify()),
            None,
            "the woken worker now searches"
        );
    }

    #[test]
    fn last_searcher_to_park_is_told_to_recheck() {
        let idle = Idle::new(2, 2);
        assert!(idle.transition_worker_to_searching());
        assert!(idle.transition_worker_to_parked(0, true));
        assert!(idle.is_parked(0));
        assert!(idle.unpark_worker_by_id(0).is_some());
        assert!(!idle.is_parked(0));
    }

    #[test]
    fn first_worker_out_of_an_idle_runtime_nudges_a_sleeper() {
        let idle = Idle::new(3, 3);
        for worker in 0..3 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        let first = idle.unpark_worker_by_id(1).unwrap();
        let nudged = first
            .worker_to_nudge
            .expect("nobody watched an idle runtime");
        let other = 2 - nudged;
        assert!(
            idle.is_parked(0) && idle.is_parked(2),
            "nudged, not unparked"
        );
        let second = idle.unpark_worker_by_id(other).unwrap();
        assert_eq!(second.worker_to_nudge, None, "a nudge is pending");
        assert!(idle.keep_watch(nudged, false).watching);
        assert!(
            idle.unpark_worker_by_id(1).is_none(),
            "already off the list"
        );
    }

    #[test]
    fn no_nudge_while_a_sleeper_keeps_watch() {
        let idle = Idle::new(3, 3);
        for worker in 0..3 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        assert!(
            !idle.keep_watch(0, true).others_busy,
            "nobody else is unparked"
        );
        assert!(idle.keep_watch(0, true).watching, "in grace");
        assert!(!idle.keep_watch(2, false).watching);
        let first = idle.unpark_worker_by_id(1).unwrap();
        assert_eq!(first.worker_to_nudge, None, "worker 0 is watching");
        let watch = idle.keep_watch(2, false);
        assert!(watch.others_busy, "worker 1 is busy now");
        assert!(!watch.watching, "worker 0 keeps the watch");
    }

    #[test]
    fn one_sleeper_keeps_watch_and_is_woken_last() {
        let idle = Idle::new(3, 3);
        for worker in 0..3 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        assert!(idle.keep_watch(1, true).watching);
        assert!(
            !idle.keep_watch(0, true).watching,
            "worker 1 watches already"
        );
        assert!(!idle.keep_watch(2, true).watching);
        assert_eq!(woken(idle.worker_to_notify()), Some(2), "not the watcher");
        assert!(
            idle.transition_worker_to_parked(2, true),
            "the last searcher"
        );
        assert_eq!(woken(idle.worker_to_notify()), Some(2));
        assert!(idle.transition_worker_to_parked(2, true));
        assert_eq!(
            idle.a_parked_worker(),
            Some(1),
            "the LIFO watch goes to the watcher"
        );
    }

    #[test]
    fn a_watcher_leaving_by_itself_hands_the_watch_on() {
        let idle = Idle::new(3, 3);
        for worker in 0..3 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        let busy = idle.unpark_worker_by_id(0).unwrap();
        let first_watcher = busy
            .worker_to_nudge
            .expect("nobody watched an idle runtime");
        assert!(idle.keep_watch(first_watcher, false).watching);
        let watcher_leaves = idle.unpark_worker_by_id(first_watcher).unwrap();
        let next_watcher = watcher_leaves.worker_to_nudge.expect("the watch moves on");
        assert_ne!(next_watcher, first_watcher);
        assert!(idle.keep_watch(next_watcher, false).watching);
    }

    #[test]
    fn a_watcher_woken_by_a_notify_stops_counting_as_one() {
        let idle = Idle::new(2, 2);
        assert!(!idle.transition_worker_to_parked(0, false));
        assert!(!idle.transition_worker_to_parked(1, false));
        assert!(idle.keep_watch(1, true).watching);
        assert_eq!(
            woken(idle.worker_to_notify()),
            Some(0),
            "the watch stays with worker 1"
        );
        assert_eq!(woken(idle.worker_to_notify()), None, "worker 0 searches");
        assert!(
            idle.transition_worker_to_parked(0, true),
            "the last searcher"
        );
        assert!(!idle.keep_watch(0, true).watching);
        assert_eq!(woken(idle.worker_to_notify()), Some(0));
        assert!(idle.transition_worker_to_parked(0, true));
        let first = idle.unpark_worker_by_id(0).unwrap();
        assert_eq!(first.worker_to_nudge, None, "worker 1 still watches");
    }
}
