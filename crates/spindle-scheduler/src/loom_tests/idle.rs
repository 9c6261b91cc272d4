//! The idle protocol: rule 4 of [`crate::idle`] against a push into the injector (alone, and
//! with rule 7 holding the wake-up back), and rule 5 (keeping watch) against a worker leaving
//! an all-idle runtime, and against the one watcher leaving while another worker does.
//!
//! The producer does what `Shared::schedule_remote` does after its push: a SeqCst fence, then
//! `worker_to_notify` and an unpark. The worker does what `Worker::search` and `Worker::park`
//! do: it searches, finds nothing, parks (`transition_worker_to_parked`), and, as the last
//! searcher, re-checks the queue as `Shared::notify_if_work_pending` does; then it blocks in
//! its real [`ThreadParker`] until it is taken off the sleepers list. `Idle` and the parker
//! are the real code; the queue is a stand-in (see [`Queue`]).

use super::model;
use crate::idle::{Idle, ToWake};
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
use crate::loom::Arc;
use crate::worker::STRANDED_CHECK_INTERVAL;
use loom::thread;
use spindle_core::{Park, ThreadParker, ThreadUnparker, Unpark};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release, SeqCst};

/// Stand-in for the injector: the number of queued tasks.
///
/// crossbeam's `Injector::push` publishes a task with a `Release` store; its `steal` decides
/// "empty" after a `SeqCst` fence, and its `is_empty` with `SeqCst` loads. loom models `SeqCst`
/// fences but treats `SeqCst` loads as `Acquire`, so `is_empty` here is a `SeqCst` fence then
/// an `Acquire` load: the guarantee rule 4 relies on (a check ordered after the worker's
/// SeqCst decrement of the counts sees a push ordered before the producer's SeqCst fence), in
/// a form loom checks. (The crate's own loom `Injector` is a mutex, which would order the
/// two sides by itself and so leave the producer's fence untested.)
struct Queue(AtomicUsize);

impl Queue {
    fn push(&self) {
        self.0.fetch_add(1, Release);
    }

    fn is_empty(&self) -> bool {
        fence(SeqCst);
        self.0.load(Acquire) == 0
    }

    fn pop(&self) -> bool {
        let mut len = self.0.load(Acquire);
        while len > 0 {
            match self.0.compare_exchange(len, len - 1, AcqRel, Acquire) {
                Ok(_) => return true,
                Err(actual) => len = actual,
            }
        }
        false
    }
}

/// `Shared::notify_parked`, for a single worker.
fn notify_parked(idle: &Idle, unparker: &ThreadUnparker) {
    if let Some(wake) = idle.worker_to_notify() {
        assert_eq!(
            wake,
            ToWake {
                worker: 0,
                watcher_to_nudge: None
            }
        );
        unparker.unpark();
    }
}

/// A remote push races the only worker going to sleep: the worker's search misses the task,
/// and the producer's check of the counts may run before, between or after the worker's
/// `transition_worker_to_parked` and its re-check of the queue.
///
/// Catches: a task left in the queue with the worker asleep and nobody notified (loom reports
/// the deadlock of the parked worker), which is what happens if the producer skips its fence,
/// if the parking worker leaves the counts after re-checking the queue instead of before, or
/// if the last searcher does not re-check; also a worker woken while still counted as parked,
/// or counts left inconsistent (checked at the end).
#[test]
fn injector_push_vs_last_searcher_parking() {
    model(|| {
        let idle = Arc::new(Idle::new(1, 1));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));
        let mut parker = ThreadParker::new();
        let unparker = parker.unparker();

        let producer = {
            let (idle, queue, unparker) = (idle.clone(), queue.clone(), unparker.clone());
            thread::spawn(move || {
                queue.push();
                // `schedule_remote`: the push must be visible before the counts are read.
                fence(SeqCst);
                notify_parked(&idle, &unparker);
            })
        };
        let worker = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                // `Worker::search`.
                assert!(idle.transition_worker_to_searching());
                if !queue.pop() {
                    // `Worker::park`.
                    if idle.transition_worker_to_parked(0, true) {
                        // `Shared::notify_if_work_pending`.
                        if !queue.is_empty() {
                            notify_parked(&idle, &unparker);
                        }
                    }
                    loop {
                        // Timed while any worker counts as unparked: here only this one,
                        // once the producer has chosen it (loom times out at once).
                        if idle.num_unparked() > 0 {
                            parker.park_timeout(STRANDED_CHECK_INTERVAL);
                        } else {
                            parker.park();
                        }
                        if !idle.is_parked(0) {
                            // Chosen by `worker_to_notify`, which counted it as searching.
                            break;
                        }
                    }
                    assert!(queue.pop(), "woken, but the task is not in the queue");
                }
                // `Worker::run_task`: the last searcher found work.
                if idle.transition_worker_from_searching() {
                    notify_parked(&idle, &unparker);
                }
            })
        };
        producer.join().unwrap();
        worker.join().unwrap();

        assert!(queue.is_empty(), "the task was left in the queue");
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.num_unparked(), 1);
        assert!(!idle.is_parked(0));
    });
}

/// Rule 4 for a push onto a worker's own deque: worker 0, busy, pushes a task where a search
/// finds it and asks `worker_to_notify_after_push` (which reads the counts with a SeqCst
/// read-modify-write), while worker 1, the only searcher, misses the task, parks and, as the
/// last searcher, re-checks the queue.
///
/// Catches: the task left for a timed park with worker 1 asleep and nobody notified (loom
/// reports the deadlock), which is what happens if `worker_to_notify_after_push` reads the
/// counts with a plain load. (A SeqCst fence before a plain load passes too; it measured no
/// faster on this machine's two cores, so the read-modify-write stays.)
#[test]
fn deque_push_vs_last_searcher_parking() {
    model(|| {
        let idle = Arc::new(Idle::new(2, 2));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));
        let mut parker = ThreadParker::new();
        let unparker = parker.unparker();
        let notify_one = |wake: Option<ToWake>, unparker: &ThreadUnparker| {
            if let Some(wake) = wake {
                assert_eq!(wake.worker, 1, "worker 0 is busy, never parked");
                unparker.unpark();
            }
        };

        let producer = {
            let (idle, queue, unparker) = (idle.clone(), queue.clone(), unparker.clone());
            thread::spawn(move || {
                // `Worker::push_back` with other tasks queued.
                queue.push();
                notify_one(idle.worker_to_notify_after_push(), &unparker);
            })
        };
        let searcher = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                assert!(idle.transition_worker_to_searching());
                if !queue.pop() {
                    if idle.transition_worker_to_parked(1, true) && !queue.is_empty() {
                        notify_one(idle.worker_to_notify(), &unparker);
                    }
                    // Untimed: the task must be found without the watch's timed park.
                    while idle.is_parked(1) {
                        parker.park();
                    }
                    assert!(queue.pop(), "woken, but the task is not in the queue");
                }
                if idle.transition_worker_from_searching() {
                    notify_one(idle.worker_to_notify(), &unparker);
                }
            })
        };
        producer.join().unwrap();
        searcher.join().unwrap();
        assert!(queue.is_empty(), "the task was left in the queue");
        assert_eq!(idle.num_unparked(), 2);
    });
}

/// Rule 7 with rule 4: two workers on one core, worker 1 parked, worker 0 busy. A remote push
/// finds as many workers unparked as there are cores, so it wakes nobody; worker 0 then runs
/// out of work, searches and parks, possibly missing the task. Each worker does what
/// `Worker::search` and `Worker::park` do; the one that takes the task wakes the other to let
/// it leave.
///
/// Catches: the task left in the queue with both workers asleep (loom reports the deadlock),
/// which is what happens if rule 7 also held back the last searcher's re-check, or if the
/// producer's skipped wake-up were not covered by worker 0's rule 4 re-check.
#[test]
fn push_with_every_core_busy_vs_the_busy_worker_parking() {
    model(|| {
        let idle = Arc::new(Idle::new(2, 1));
        assert!(!idle.transition_worker_to_parked(1, false));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));
        let taken = Arc::new(AtomicBool::new(false));
        let mut parkers = [ThreadParker::new(), ThreadParker::new()];
        let unparkers = [parkers[0].unparker(), parkers[1].unparker()];
        let notify = |idle: &Idle, unparkers: &[ThreadUnparker; 2]| {
            if let Some(wake) = idle.worker_to_notify() {
                unparkers[wake.worker].unpark();
                if let Some(watcher) = wake.watcher_to_nudge {
                    unparkers[watcher].unpark();
                }
            }
        };

        let producer = {
            let (idle, queue, unparkers) = (idle.clone(), queue.clone(), unparkers.clone());
            thread::spawn(move || {
                queue.push();
                fence(SeqCst);
                notify(&idle, &unparkers);
            })
        };
        let workers: Vec<_> = parkers
            .iter_mut()
            .map(|parker| std::mem::replace(parker, ThreadParker::new()))
            .enumerate()
            .map(|(me, mut parker)| {
                let (idle, queue, taken) = (idle.clone(), queue.clone(), taken.clone());
                let unparkers = unparkers.clone();
                thread::spawn(move || {
                    let mut searching = false;
                    let mut has_task = false;
                    if me == 0 {
                        // `Worker::search`, then `Worker::park` if it found nothing.
                        searching = idle.transition_worker_to_searching();
                        has_task = queue.pop();
                        if !has_task {
                            if idle.transition_worker_to_parked(0, searching) && !queue.is_empty() {
                                notify(&idle, &unparkers);
                            }
                            searching = false;
                        }
                    }
                    while !has_task {
                        // Untimed, unlike a real parked worker while another is unparked: the
                        // task must be found without the watch's timed park.
                        parker.park();
                        if taken.load(Acquire) {
                            return;
                        }
                        if !idle.is_parked(me) {
                            // Chosen by `worker_to_notify`, which counted it as searching.
                            searching = true;
                            has_task = queue.pop();
                            assert!(has_task, "woken, but the task is not in the queue");
                        }
                    }
                    taken.store(true, Release);
                    unparkers[1 - me].unpark();
                    if searching && idle.transition_worker_from_searching() {
                        notify(&idle, &unparkers);
                    }
                })
            })
            .collect();
        producer.join().unwrap();
        for worker in workers {
            worker.join().unwrap();
        }
        assert!(
            taken.load(Acquire) && queue.is_empty(),
            "the task was not taken"
        );
    });
}

/// Rule 5: worker 1 leaves an all-idle runtime by itself (an event under its park gave it
/// work) while worker 0, parked, ends its grace: one timed park in grace, then it decides
/// again without. Worker 1 nudges worker 0 only if nobody keeps watch; worker 0 stops
/// watching only if nobody is unparked. Worker 0 must end up watching (seeing worker 1 busy)
/// whatever the interleaving.
///
/// Catches: worker 0 parked untimed for good while worker 1 is busy (loom reports the
/// deadlock), which is what happens if `keep_watch` reads the counts outside the sleepers
/// lock, if `unpark_worker_by_id` counts a watcher that has stopped watching, or if it does
/// not nudge when nobody watches.
#[test]
fn leaving_an_idle_runtime_vs_a_watcher_ending_its_grace() {
    model(|| {
        let idle = Arc::new(Idle::new(2, 2));
        assert!(!idle.transition_worker_to_parked(0, false));
        assert!(!idle.transition_worker_to_parked(1, false));
        let mut parker = ThreadParker::new();
        let unparker = parker.unparker();

        let leaving = {
            let idle = idle.clone();
            thread::spawn(move || {
                let unparked = idle.unpark_worker_by_id(1).expect("worker 1 was parked");
                if let Some(worker) = unparked.worker_to_nudge {
                    assert_eq!(worker, 0);
                    unparker.unpark();
                }
            })
        };
        let watcher = {
            let idle = idle.clone();
            thread::spawn(move || {
                let mut in_grace = true;
                loop {
                    if idle.keep_watch(0, in_grace).others_busy {
                        break;
                    }
                    if in_grace {
                        parker.park_timeout(STRANDED_CHECK_INTERVAL);
                        in_grace = false;
                    } else {
                        parker.park();
                    }
                }
            })
        };
        leaving.join().unwrap();
        watcher.join().unwrap();
        assert!(idle.is_parked(0), "a nudge leaves the worker on the list");
        assert_eq!(idle.num_unparked(), 1);
    });
}

/// Rule 5 with one watcher: of three parked workers, worker 2 keeps watch and worker 1 parks
/// untimed (it saw the watch taken). Then workers 0 and 2 leave their parks by themselves at
/// once (events under the seam gave both work). Worker 1 must end up keeping watch, since two
/// workers are busy, whatever the interleaving: a nudge sent to worker 0, which is leaving
/// and never decides, must move on.
///
/// Catches: worker 1 parked untimed for good with two workers busy and nobody watching (loom
/// reports the deadlock), which is what happens if a watcher leaving does not hand the watch
/// on, or if a nudge that lands on a worker already leaving is lost.
#[test]
fn the_watcher_leaving_while_another_worker_leaves_hands_the_watch_on() {
    model(|| {
        let idle = Arc::new(Idle::new(3, 3));
        for worker in 0..3 {
            assert!(!idle.transition_worker_to_parked(worker, false));
        }
        assert!(idle.keep_watch(2, true).watching);
        assert!(!idle.keep_watch(1, true).watching, "worker 2 watches");
        let mut parker = ThreadParker::new();
        let unparkers = [None, Some(parker.unparker()), None];
        let leave = |idle: &Idle, worker: usize, unparkers: &[Option<ThreadUnparker>; 3]| {
            let unparked = idle.unpark_worker_by_id(worker).expect("was parked");
            if let Some(nudged) = unparked.worker_to_nudge {
                // Workers 0 and 2 are leaving: their parkers' tokens would be spent on return.
                if let Some(unparker) = &unparkers[nudged] {
                    unparker.unpark();
                }
            }
        };
        let leaving: Vec<_> = [0, 2]
            .into_iter()
            .map(|worker| {
                let (idle, unparkers) = (idle.clone(), unparkers.clone());
                thread::spawn(move || leave(&idle, worker, &unparkers))
            })
            .collect();
        let sleeper = {
            let idle = idle.clone();
            thread::spawn(move || loop {
                parker.park();
                if idle.keep_watch(1, false).watching {
                    break;
                }
            })
        };
        for thread in leaving {
            thread.join().unwrap();
        }
        sleeper.join().unwrap();
    });
}
