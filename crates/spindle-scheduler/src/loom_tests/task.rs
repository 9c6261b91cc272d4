//! The task state machine, on the real task code: `new_task`, `Runnable::run`, the wakers,
//! `JoinHandle` poll / abort / drop, and the shutdown sweep (`TaskRef::shutdown`).
//!
//! The tasks belong to [`TestScheduler`]: a loom-mutex `VecDeque` as the run queue and the
//! real [`OwnedTasks`] registry. Every model ends with the queue drained and the registry
//! empty, so a task whose references were miscounted shows up as a leaked loom `Arc` (the
//! task's clone of the scheduler) or as an access to a freed cell.

use super::model;
use crate::loom::sync::{atomic::AtomicBool, Mutex};
use crate::loom::Arc;
use crate::owned::OwnedTasks;
use crate::task::{new_task, JoinError, JoinHandle, Runnable, Schedule, Spawned, TaskRef};
use loom::thread;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::task::{Context, Poll, Wake, Waker};

// ===== the test scheduler =====

struct Inner {
    queue: Mutex<VecDeque<Runnable>>,
    owned: OwnedTasks,
}

/// A minimal [`Schedule`]: woken tasks go to the back of one queue, completed tasks leave the
/// real owned-task registry.
#[derive(Clone)]
struct TestScheduler(Arc<Inner>);

impl Schedule for TestScheduler {
    fn schedule(&self, task: Runnable) {
        self.0.queue.lock().push_back(task);
    }

    fn release(&self, task: TaskRef) -> bool {
        self.0.owned.remove(task)
    }
}

impl TestScheduler {
    fn new() -> TestScheduler {
        TestScheduler(Arc::new(Inner {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(1),
        }))
    }

    /// Spawns like `spawn_on`: registers the task, then queues its first `Runnable`.
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, handle, registered) = new_task(
            future,
            self.clone(),
            Spawned::now(std::panic::Location::caller()),
        );
        assert!(self.0.owned.insert(registered));
        self.schedule(runnable);
        handle
    }

    fn pop(&self) -> Option<Runnable> {
        self.0.queue.lock().pop_front()
    }

    /// Runs the task at the head of the queue once, as a worker would; requeues it if it was
    /// woken during the poll. False if the queue was empty.
    fn run_one(&self) -> bool {
        let Some(task) = self.pop() else {
            return false;
        };
        if let Some(requeued) = task.run() {
            self.schedule(requeued);
        }
        true
    }

    /// Runs tasks until the queue is empty.
    fn run_until_idle(&self) {
        while self.run_one() {}
    }

    /// `Shared::drain_all`: close the registry, drop the queued `Runnable`s unrun, then cancel
    /// every task still listed (idle ones here, busy ones by whoever holds them).
    fn drain_all(&self) {
        self.0.owned.close();
        self.drop_queued();
        while let Some(task) = self.0.owned.pop() {
            task.shutdown();
        }
    }

    /// Drops every queued `Runnable` unrun, as a worker's exit does at shutdown.
    fn drop_queued(&self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }

    fn is_idle(&self) -> bool {
        self.0.queue.lock().is_empty() && self.0.owned.is_empty()
    }
}

// ===== instrumentation (std atomics: invisible to loom) =====

/// Counts drops of [`Tracked`] values.
#[derive(Clone, Default)]
struct Drops(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drops {
    fn track(&self) -> Tracked {
        Tracked(self.clone())
    }
    fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A value whose drop is counted: a future's state, or a task's output.
struct Tracked(Drops);

impl Drop for Tracked {
    fn drop(&mut self) {
        (self.0).0.fetch_add(1, SeqCst);
    }
}

/// A `JoinHandle` waker that counts its wake-ups. Its strong count tells whether the task
/// still holds a clone of it.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (std::sync::Arc<CountingWaker>, Waker) {
    let counter = std::sync::Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

fn poll_handle<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

/// Runs `wake` on one thread while another runs the one task queued on `sched`, then runs
/// whatever that left queued.
fn race_with_one_run(sched: &TestScheduler, wake: impl FnOnce() + Send + 'static) {
    let waking = thread::spawn(wake);
    let runner = {
        let sched = sched.clone();
        thread::spawn(move || assert!(sched.run_one()))
    };
    waking.join().unwrap();
    runner.join().unwrap();
    sched.run_until_idle();
}

/// The task behind `handle` finished with `()` (else: `lost`), its future was dropped exactly
/// once, and nothing of it is left on `sched` once the handle is gone.
fn assert_completed_once(
    sched: &TestScheduler,
    mut handle: JoinHandle<()>,
    drops: &Drops,
    lost: &str,
) {
    assert!(handle.is_finished(), "{lost}");
    assert!(matches!(
        poll_handle(&mut handle, Waker::noop()),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(drops.get(), 1, "the future is dropped exactly once");
    drop(handle);
    assert!(sched.is_idle());
}

/// Where a future leaves a clone of the first waker it is polled with, for a model thread to
/// wake later. Only touched outside loom operations, so a std mutex is safe here.
#[derive(Clone, Default)]
struct Stash(std::sync::Arc<std::sync::Mutex<Option<Waker>>>);

impl Stash {
    fn put(&self, waker: &Waker) {
        let waker = waker.clone();
        let old = self.0.lock().unwrap().replace(waker);
        assert!(old.is_none());
    }
    fn take(&self) -> Waker {
        self.0.lock().unwrap().take().expect("the task was polled")
    }
}

// ===== futures =====

/// Pending until `open` is set; stashes its waker on the first poll.
///
/// `open` is read `Relaxed` on purpose: the only thing that can make the store before a wake
/// visible to the poll it causes is the task's state word. So a model using it also checks
/// that a wake *happens before* the poll that it triggers.
struct WaitOpen {
    open: Arc<AtomicBool>,
    stash: Option<Stash>,
    _state: Tracked,
}

impl Future for WaitOpen {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(stash) = self.stash.take() {
            stash.put(cx.waker());
        }
        if self.open.load(Relaxed) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Pending until `open` is set, re-registering its waker on every poll the way real futures
/// do (publish the waker, then check the condition), so it needs no ordering from the task
/// beyond "a wake is followed by a poll".
struct WaitOpenRegistered {
    open: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    _state: Tracked,
}

impl Future for WaitOpenRegistered {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let old = self.slot.lock().replace(cx.waker().clone());
        drop(old);
        if self.open.load(Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Wakes itself during its first poll (a `yield_now`: notified while running), then returns
/// a tracked output. Built with `yielded: true` and no output, it is pending forever and
/// never wakes itself.
struct YieldThenReady {
    yielded: bool,
    output: Option<Tracked>,
    _state: Tracked,
}

impl Future for YieldThenReady {
    type Output = Tracked;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tracked> {
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.output.take() {
            Some(output) => Poll::Ready(output),
            None => Poll::Pending,
        }
    }
}

/// Stashes its waker on its first poll, wakes itself during its second (a `yield_now`), and
/// is ready on its third: only its own wake brings the third poll.
struct YieldOnSecondPoll {
    polls: u8,
    stash: Option<Stash>,
    _state: Tracked,
}

impl Future for YieldOnSecondPoll {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        match self.polls {
            1 => {
                self.stash.take().expect("first poll").put(cx.waker());
                Poll::Pending
            }
            2 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }
}

/// Ready on its first poll with a tracked output.
struct ReadyNow {
    output: Option<Tracked>,
    _state: Tracked,
}

impl Future for ReadyNow {
    type Output = Tracked;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Tracked> {
        Poll::Ready(self.output.take().expect("polled after completion"))
    }
}

/// Awaits another task's `JoinHandle`; stashes its own waker on the first poll.
struct JoinOther {
    handle: JoinHandle<Tracked>,
    stash: Option<Stash>,
}

impl Future for JoinOther {
    type Output = Tracked;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tracked> {
        if let Some(stash) = self.stash.take() {
            stash.put(cx.waker());
        }
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|output| output.expect("the joined task completes"))
    }
}

/// Never ready; stashes its waker on the first poll.
struct Forever {
    stash: Option<Stash>,
    _state: Tracked,
}

impl Future for Forever {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(stash) = self.stash.take() {
            stash.put(cx.waker());
        }
        Poll::Pending
    }
}

// ===== models =====

/// A wake from another thread, by value or by reference, races the task's poll: before the
/// poll starts (task scheduled: the wake is coalesced), during it (running: notified while
/// running, so the runner requeues it), or after it returned `Pending` (idle: the waker
/// submits a new `Runnable`).
///
/// Catches: a lost wake-up (the task stays idle with `open` set, never completing), a wake
/// that submits a second `Runnable` while one exists (two threads in the future: loom reports
/// the concurrent cell access), a wake that does not happen-before the poll it causes (the
/// `Relaxed` read of `open` stays stale and the task never completes: this is what a
/// coalesced `wake_by_ref` that only loads the state word did), and a miscounted reference
/// (double free, or a leaked task).
#[test]
fn wake_vs_poll() {
    for by_ref in [false, true] {
        model(move || {
            let sched = TestScheduler::new();
            let drops = Drops::default();
            let open = Arc::new(AtomicBool::new(false));
            let stash = Stash::default();
            let handle = sched.spawn(WaitOpen {
                open: open.clone(),
                stash: Some(stash.clone()),
                _state: drops.track(),
            });
            sched.run_until_idle();
            // Idle, with a waker stashed. One wake_by_ref queues it again for the runner.
            let waker = stash.take();
            waker.wake_by_ref();

            race_with_one_run(&sched, move || {
                open.store(true, Relaxed);
                if by_ref {
                    waker.wake_by_ref();
                } else {
                    waker.wake();
                }
            });
            assert_completed_once(
                &sched,
                handle,
                &drops,
                "lost wake-up: the task never saw `open`",
            );
        });
    }
}

/// A wake by reference (the waker stays with the waking thread, as in a channel that wakes
/// its registered receiver) races the task's poll, which re-registers its waker. The wake can
/// find the task scheduled (coalesced), running (it sets `SCHEDULED`, the runner requeues), or
/// idle (it counts a new reference and submits a `Runnable`).
///
/// Catches: a lost wake-up (`open` set, task idle forever), a wake by reference that submits
/// without counting the `Runnable`'s reference (a use after free when the `Runnable` and the
/// waker both release it) or counts one without submitting (a leaked task), and a second
/// `Runnable` while one exists.
#[test]
fn wake_by_ref_vs_poll() {
    model(|| {
        let sched = TestScheduler::new();
        let drops = Drops::default();
        let open = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let handle = sched.spawn(WaitOpenRegistered {
            open: open.clone(),
            slot: slot.clone(),
            _state: drops.track(),
        });
        sched.run_until_idle();
        // Idle, with its waker registered. Queue it once more for the runner.
        slot.lock().as_ref().unwrap().wake_by_ref();

        race_with_one_run(&sched, move || {
            open.store(true, Release);
            let waker = slot.lock().take();
            if let Some(waker) = waker {
                waker.wake_by_ref();
            }
        });
        assert_completed_once(
            &sched,
            handle,
            &drops,
            "lost wake-up: the task never saw `open`",
        );
    });
}

/// A task that wakes itself during its poll (noted by its runner's thread, not in the state
/// word) races a wake from another thread, which can find it scheduled (and be coalesced
/// into the very poll that then wakes itself), running, or scheduled again by the runner at
/// the end of the poll.
///
/// Catches: a self-wake that is lost (the other thread's wake was coalesced before the poll,
/// and nothing else will ever wake the task: it never completes), a task requeued twice (by
/// the runner and by the other thread's wake: two threads in the future), and a miscounted
/// reference.
#[test]
fn self_wake_vs_wake_from_another_thread() {
    model(|| {
        let sched = TestScheduler::new();
        let drops = Drops::default();
        let stash = Stash::default();
        let handle = sched.spawn(YieldOnSecondPoll {
            polls: 0,
            stash: Some(stash.clone()),
            _state: drops.track(),
        });
        sched.run_until_idle();
        let waker = stash.take();
        // Queued for the second poll, which wakes itself.
        waker.wake_by_ref();

        race_with_one_run(&sched, move || waker.wake_by_ref());
        assert_completed_once(&sched, handle, &drops, "lost self-wake: the task went idle");
    });
}

/// `JoinHandle::abort` races the task's first poll, in two shapes of task:
///
/// - `yields`: it wakes itself during its first poll (a `yield_now`) and completes on its
///   second, so the abort can land while it is scheduled, running, notified-while-running,
///   scheduled again, or complete;
/// - otherwise it stays pending without waking itself, so the abort can land while it is
///   scheduled, running, or idle (nobody but the abort will ever schedule it again).
///
/// Catches: a future dropped twice or never (by the aborter and the runner both, or by
/// neither), a future touched by two threads at once (the abort path dropping it while the
/// runner polls it), an abort during a poll that the runner ignores when the poll returns
/// `Pending`, an aborted idle task that is never scheduled again (its handle never resolves),
/// an output leaked or dropped twice, and a cancelled task that is requeued after it was also
/// notified during the same poll.
#[test]
fn abort_vs_poll() {
    for yields in [true, false] {
        model(move || {
            let sched = TestScheduler::new();
            let future_drops = Drops::default();
            let output_drops = Drops::default();
            let handle = sched.spawn(YieldThenReady {
                yielded: !yields,
                output: yields.then(|| output_drops.track()),
                _state: future_drops.track(),
            });

            let aborter = thread::spawn(move || {
                handle.abort();
                handle
            });
            let runner = {
                let sched = sched.clone();
                thread::spawn(move || assert!(sched.run_one()))
            };
            let mut handle = aborter.join().unwrap();
            runner.join().unwrap();

            sched.run_until_idle();
            assert!(handle.is_finished(), "an aborted task must complete");
            match poll_handle(&mut handle, Waker::noop()) {
                Poll::Ready(Ok(output)) => drop(output),
                Poll::Ready(Err(err)) => assert!(err.is_cancelled()),
                Poll::Pending => panic!("a finished task's handle is pending"),
            }
            drop(handle);
            assert_eq!(future_drops.get(), 1, "the future is dropped exactly once");
            // The output lives inside the future until it is returned, so it is dropped
            // exactly once either way: by the handle's reader, or with the cancelled future.
            assert_eq!(output_drops.get(), usize::from(yields));
            assert!(sched.is_idle());
        });
    }
}

/// The `JoinHandle` is dropped while a runner completes the task. With `registered`, the
/// handle first polled once, so a join waker is published (`JOIN_WAKER`) and the completing
/// thread reads it concurrently with the drop.
///
/// Catches: the output dropped twice (by the completing thread and by the handle) or leaked
/// (each side thinking the other owns it), the join waker dropped twice, leaked, or dropped by
/// the handle while the completing thread is waking it (loom reports the concurrent cell
/// access), and a task never deallocated (loom reports the scheduler `Arc` it holds as leaked).
#[test]
fn join_handle_drop_vs_completion() {
    for registered in [false, true] {
        model(move || {
            let sched = TestScheduler::new();
            let future_drops = Drops::default();
            let output_drops = Drops::default();
            let mut handle = sched.spawn(ReadyNow {
                output: Some(output_drops.track()),
                _state: future_drops.track(),
            });
            let (join_waker, waker) = counting_waker();
            if registered {
                assert!(poll_handle(&mut handle, &waker).is_pending());
            }
            drop(waker);

            let dropper = thread::spawn(move || drop(handle));
            let runner = {
                let sched = sched.clone();
                thread::spawn(move || assert!(sched.run_one()))
            };
            dropper.join().unwrap();
            runner.join().unwrap();

            assert_eq!(future_drops.get(), 1, "the future is dropped exactly once");
            assert_eq!(output_drops.get(), 1, "the output is dropped exactly once");
            assert_eq!(
                std::sync::Arc::strong_count(&join_waker),
                1,
                "the join waker is dropped"
            );
            assert!(sched.is_idle());
        });
    }
}

/// A joiner polls the `JoinHandle` (registering waker `A`, then, if still pending, replacing
/// it with a different waker `B`) while a runner completes the task.
///
/// Catches: a lost join wake-up (the last poll returned `Pending` but its waker was never
/// woken), the output read before it was written (loom reports the unsynchronized cell
/// access), the handle rewriting the join waker while the completing thread reads it, and a
/// join waker leaked or dropped twice.
#[test]
fn join_handle_poll_vs_completion() {
    model(|| {
        let sched = TestScheduler::new();
        let output_drops = Drops::default();
        let handle = sched.spawn(ReadyNow {
            output: Some(output_drops.track()),
            _state: Drops::default().track(),
        });
        let (counter_a, waker_a) = counting_waker();
        let (counter_b, waker_b) = counting_waker();

        let joiner = thread::spawn(move || {
            let mut handle = handle;
            let mut pending_with = None;
            for (index, waker) in [waker_a, waker_b].into_iter().enumerate() {
                match poll_handle(&mut handle, &waker) {
                    Poll::Ready(output) => {
                        drop(output.unwrap());
                        return (handle, None);
                    }
                    Poll::Pending => pending_with = Some(index),
                }
            }
            (handle, pending_with)
        });
        let runner = {
            let sched = sched.clone();
            thread::spawn(move || assert!(sched.run_one()))
        };
        let (mut handle, pending_with) = joiner.join().unwrap();
        runner.join().unwrap();

        if let Some(index) = pending_with {
            let counter = [&counter_a, &counter_b][index];
            assert!(
                counter.0.load(SeqCst) > 0,
                "lost join wake-up: the handle returned Pending and its waker was never woken"
            );
            match poll_handle(&mut handle, Waker::noop()) {
                Poll::Ready(output) => drop(output.unwrap()),
                Poll::Pending => panic!("a woken handle of a complete task is pending"),
            }
        }
        drop(handle);
        assert_eq!(output_drops.get(), 1);
        assert_eq!(
            std::sync::Arc::strong_count(&counter_a),
            1,
            "waker A leaked"
        );
        assert_eq!(
            std::sync::Arc::strong_count(&counter_b),
            1,
            "waker B leaked"
        );
        assert!(sched.is_idle());
    });
}

/// A task awaits another task's `JoinHandle` (the join waker is then a real task waker)
/// while both run on two threads: `B` completes and wakes `A`'s waker by reference, while `A`
/// (already scheduled again by an unrelated wake) polls the handle.
///
/// Catches: a lost join wake-up between tasks. If `B`'s wake finds `A` already scheduled and
/// establishes no ordering with `A`'s next run, then `A`'s poll may read `B`'s state from
/// before `COMPLETE` (with its own waker still registered, so the handle returns `Pending`
/// without touching the state word), and `A` goes idle with nobody left to wake it.
#[test]
fn join_wake_of_a_scheduled_task_is_not_lost() {
    model(|| {
        let sched = TestScheduler::new();
        let output_drops = Drops::default();
        let stash = Stash::default();
        let handle_b = sched.spawn(ReadyNow {
            output: Some(output_drops.track()),
            _state: Drops::default().track(),
        });
        let mut handle_a = sched.spawn(JoinOther {
            handle: handle_b,
            stash: Some(stash.clone()),
        });
        // Run A alone first: it registers its waker on B's handle and goes idle.
        let b = sched.pop().unwrap();
        assert!(sched.run_one());
        sched.schedule(b);
        // An unrelated wake schedules A again: the queue is [B, A].
        stash.take().wake();

        let runners: Vec<_> = (0..2)
            .map(|_| {
                let sched = sched.clone();
                thread::spawn(move || assert!(sched.run_one()))
            })
            .collect();
        for runner in runners {
            runner.join().unwrap();
        }

        sched.run_until_idle();
        assert!(
            handle_a.is_finished(),
            "lost join wake-up: A never saw B complete"
        );
        match poll_handle(&mut handle_a, Waker::noop()) {
            Poll::Ready(output) => drop(output.unwrap()),
            Poll::Pending => panic!("a finished task's handle is pending"),
        }
        drop(handle_a);
        assert_eq!(output_drops.get(), 1);
        assert!(sched.is_idle());
    });
}

/// The shutdown sweep (`drain_all`: drop the queued `Runnable`s, then `TaskRef::shutdown` on
/// every registered task) races a wake by value of an idle task. The sweep either drops the
/// `Runnable` the wake queued (cancelling the task), or claims the idle task and drops its
/// future on the spot, or finds it scheduled and only flags it; a `Runnable` queued after the
/// sweep is dropped afterwards, as `schedule_remote` does when it sees the shutdown flag.
/// With `running`, the task is scheduled when the race starts and a worker runs it at the
/// same time, so the sweep can also find it running (flag it; the runner cancels it when its
/// poll returns `Pending`) and the wake can find it running.
///
/// Catches: a future dropped by both the sweeper and the `Runnable`'s dropper (or runner), or
/// by neither (the task left idle and unreferenced by the registry: leaked), a wake that
/// submits a `Runnable` for a task the sweeper already owns (two owners of the future), a
/// runner that ignores the sweep's flag and leaves the task idle, a handle that does not
/// resolve to `Cancelled`, and the registry's reference released twice or never.
#[test]
fn shutdown_sweep_vs_wake() {
    for running in [false, true] {
        model(move || {
            let sched = TestScheduler::new();
            let drops = Drops::default();
            let stash = Stash::default();
            let mut handle = sched.spawn(Forever {
                stash: Some(stash.clone()),
                _state: drops.track(),
            });
            sched.run_until_idle();
            let waker = stash.take();
            if running {
                waker.wake_by_ref();
            }

            let waking = thread::spawn(move || waker.wake());
            let sweeper = {
                let sched = sched.clone();
                thread::spawn(move || sched.drain_all())
            };
            let runner = running.then(|| {
                let sched = sched.clone();
                // The sweep may have dropped the `Runnable` first.
                thread::spawn(move || {
                    sched.run_one();
                })
            });
            waking.join().unwrap();
            sweeper.join().unwrap();
            if let Some(runner) = runner {
                runner.join().unwrap();
            }

            sched.drop_queued();
            assert_eq!(drops.get(), 1, "the future is dropped exactly once");
            match poll_handle(&mut handle, Waker::noop()) {
                Poll::Ready(Err(err)) => assert!(err.is_cancelled()),
                _ => panic!("a swept task's handle must resolve to Cancelled"),
            }
            drop(handle);
            assert!(sched.is_idle());
        });
    }
}
