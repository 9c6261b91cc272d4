//! The task's state word: every atomic transition of a task lives here.
//!
//! One `AtomicU64` holds six flag bits, above them the reference count (26 bits), and in the
//! upper half the number of polls so far, which `transition_to_running` counts in the
//! compare-and-swap it makes anyway (a task dump reads it; it stops at `u32::MAX`). Callers
//! never touch the bits; they call a named transition and must handle its outcome.
//!
//! | bit | set while |
//! | --- | --- |
//! | `RUNNING` | a thread owns the future (polling it, or cancelling it) |
//! | `SCHEDULED` | a [`Runnable`](super::Runnable) for the task exists and has not started running |
//! | `COMPLETE` | the future is gone; the stage holds the output (or nothing) |
//! | `CANCELLED` | abort or shutdown asked for the future to be dropped |
//! | `JOIN_INTEREST` | the `JoinHandle` is alive |
//! | `JOIN_WAKER` | the join waker is published: the runtime may read it, the handle may not write it |

use crate::loom::sync::atomic::AtomicU64;
use std::fmt;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

const RUNNING: u64 = 1 << 0;
const SCHEDULED: u64 = 1 << 1;
const COMPLETE: u64 = 1 << 2;
const CANCELLED: u64 = 1 << 3;
const JOIN_INTEREST: u64 = 1 << 4;
const JOIN_WAKER: u64 = 1 << 5;
const FLAG_BITS: u32 = 6;
const REF_ONE: u64 = 1 << FLAG_BITS;
const POLL_SHIFT: u32 = 32;
const REF_MASK: u64 = (1 << (POLL_SHIFT - FLAG_BITS)) - 1;
/// A count at or above this aborts the process before it can carry into the poll count (as
/// std's `Arc` does on overflow): each reference is a live handle, waker or queue entry.
const REF_LIMIT: usize = (REF_MASK / 2) as usize;
const POLL_ONE: u64 = 1 << POLL_SHIFT;
/// The poll count at `u32::MAX`: words at or above it are not counted further.
const POLLS_FULL: u64 = (u32::MAX as u64) << POLL_SHIFT;

/// The atomic state word of one task.
pub(crate) struct State(AtomicU64);

/// A copy of the state word, read at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(u64);

/// What the thread that woke a task must do next.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notify {
    /// The task was idle: a new `Runnable` holding one reference must be scheduled.
    Submit,
    /// Already scheduled, running (it will be requeued when its poll ends) or complete.
    Nothing,
    /// Like `Nothing`, and the caller dropped the last reference: deallocate.
    Dealloc,
}

/// The outcome of taking the future to run it.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Cancellation was requested: drop the future instead.
    Cancel,
}

/// The outcome of giving the future back after a `Pending` poll.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Nobody woke the task; the runner's reference was released.
    Idle,
    /// The runner's reference was the last one: deallocate.
    IdleDealloc,
    /// Woken during the poll: the runner keeps its reference and requeues the task.
    Notified,
    /// Aborted during the poll: the runner still owns the future and must drop it.
    Cancel,
}

/// The outcome of a shutdown sweep reaching a task.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToShutdown {
    /// The task was idle and now belongs to the caller, which must drop its future.
    Claimed,
    /// Running, scheduled or complete: whoever holds it will see `CANCELLED`.
    Flagged,
}

/// What the `JoinHandle` must clean up when it is dropped.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JoinHandleDrop {
    pub(crate) drop_output: bool,
    pub(crate) drop_waker: bool,
    /// The handle's reference was released by the transition itself.
    pub(crate) released: bool,
    /// ... and it was the last: deallocate.
    pub(crate) dealloc: bool,
}

impl State {
    /// A new task: scheduled (its first `Runnable` exists), a `JoinHandle`, and `refs`
    /// references.
    pub(crate) fn new(refs: usize) -> State {
        State(AtomicU64::new(
            SCHEDULED | JOIN_INTEREST | (refs as u64 * REF_ONE),
        ))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    fn update<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut current = self.0.load(Acquire);
        loop {
            let (outcome, next) = f(Snapshot(current));
            let Some(next) = next else { return outcome };
            match self
                .0
                .compare_exchange_weak(current, next.0, AcqRel, Acquire)
            {
                Ok(_) => return outcome,
                Err(actual) => current = actual,
            }
        }
    }

    /// `Runnable::run`: SCHEDULED -> RUNNING, counting the poll (unless the run is to drop a
    /// cancelled future).
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            debug_assert!(s.is_scheduled() && !s.is_running() && !s.is_complete());
            let mut next = (s.0 & !SCHEDULED) | RUNNING;
            if s.0 < POLLS_FULL && !s.is_cancelled() {
                next += POLL_ONE;
            }
            let next = Snapshot(next);
            let outcome = if s.is_cancelled() {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (outcome, Some(next))
        })
    }

    /// A `Runnable` dropped without running (a queue drained at shutdown): SCHEDULED ->
    /// RUNNING | CANCELLED, so the holder drops the future.
    pub(crate) fn transition_to_running_cancelled(&self) {
        self.update(|s| {
            debug_assert!(s.is_scheduled() && !s.is_running());
            ((), Some(Snapshot((s.0 & !SCHEDULED) | RUNNING | CANCELLED)))
        })
    }

    /// After a `Pending` poll: RUNNING -> idle, releasing the runner's reference, unless the
    /// task was woken (by another thread, in the state word, or by the runner itself, which
    /// says so: `woke_itself`) or aborted meanwhile.
    pub(crate) fn transition_to_idle(&self, woke_itself: bool) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (ToIdle::Cancel, None);
            }
            if s.is_scheduled() || woke_itself {
                return (
                    ToIdle::Notified,
                    Some(Snapshot((s.0 & !RUNNING) | SCHEDULED)),
                );
            }
            let next = Snapshot((s.0 & !RUNNING) - REF_ONE);
            let outcome = if next.ref_count() == 0 {
                ToIdle::IdleDealloc
            } else {
                ToIdle::Idle
            };
            (outcome, Some(next))
        })
    }

    /// RUNNING -> COMPLETE, after the output (or the cancellation error) was stored. Returns the
    /// state before the change: the caller reads `JOIN_INTEREST` and `JOIN_WAKER` from it.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // RUNNING is set and COMPLETE clear, so adding the difference flips both: one `lock
        // xadd`, where a `fetch_xor` whose result is used compiles to a compare-and-swap loop.
        let prev = Snapshot(self.0.fetch_add(COMPLETE - RUNNING, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// RUNNING -> COMPLETE for a task whose `JoinHandle` is gone, releasing `refs` references in
    /// the same step. True if they were the last. The caller saw `JOIN_INTEREST` clear, which
    /// is never set again, so nobody reads the output or the join waker.
    pub(crate) fn transition_to_complete_and_release(&self, refs: usize) -> bool {
        // Clears RUNNING, sets COMPLETE and drops the count in one subtraction (positive, as
        // `refs * REF_ONE` exceeds `COMPLETE`).
        let prev = Snapshot(
            self.0
                .fetch_sub(refs as u64 * REF_ONE + RUNNING - COMPLETE, AcqRel),
        );
        debug_assert!(prev.is_running() && !prev.is_complete() && !prev.is_join_interested());
        debug_assert!(prev.ref_count() >= refs);
        prev.ref_count() == refs
    }

    /// `wake_by_ref`: idle -> SCHEDULED with a new reference for the `Runnable`.
    ///
    /// An already scheduled task still gets a (same-value) compare-and-swap: a release that
    /// the runner's next `transition_to_running` acquires, so whatever the waker wrote before
    /// waking is visible to the poll that the wake was coalesced into. A plain load there
    /// lost wake-ups: a task awaiting a `JoinHandle` could poll it, read the joined task's
    /// state from before `COMPLETE`, and go idle for good (the loom model
    /// `join_wake_of_a_scheduled_task_is_not_lost`).
    pub(crate) fn transition_to_notified_by_ref(&self) -> Notify {
        self.update(|s| {
            if s.is_complete() {
                (Notify::Nothing, None)
            } else if s.is_scheduled() {
                (Notify::Nothing, Some(s))
            } else if s.is_running() {
                (Notify::Nothing, Some(Snapshot(s.0 | SCHEDULED)))
            } else {
                (Notify::Submit, Some(Snapshot((s.0 | SCHEDULED) + REF_ONE)))
            }
        })
    }

    /// `wake`: like `wake_by_ref`, but the waker's own reference is handed to the `Runnable`,
    /// or released when no `Runnable` is needed.
    pub(crate) fn transition_to_notified_by_val(&self) -> Notify {
        self.update(|s| {
            if s.is_complete() || s.is_scheduled() || s.is_running() {
                let mut next = s.0 - REF_ONE;
                if s.is_running() {
                    next |= SCHEDULED;
                }
                let outcome = if Snapshot(next).ref_count() == 0 {
                    Notify::Dealloc
                } else {
                    Notify::Nothing
                };
                (outcome, Some(Snapshot(next)))
            } else {
                (Notify::Submit, Some(Snapshot(s.0 | SCHEDULED)))
            }
        })
    }

    /// `JoinHandle::abort`: flag the task; an idle task is also scheduled so that a worker
    /// drops its future.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> Notify {
        self.update(|s| {
            if s.is_complete() || s.is_cancelled() {
                (Notify::Nothing, None)
            } else if s.is_running() || s.is_scheduled() {
                (Notify::Nothing, Some(Snapshot(s.0 | CANCELLED)))
            } else {
                let next = (s.0 | SCHEDULED | CANCELLED) + REF_ONE;
                (Notify::Submit, Some(Snapshot(next)))
            }
        })
    }

    /// Shutdown sweep: claim an idle task, or flag any other.
    pub(crate) fn transition_to_shutdown(&self) -> ToShutdown {
        self.update(|s| {
            if s.is_complete() {
                (ToShutdown::Flagged, None)
            } else if s.is_running() || s.is_scheduled() {
                (ToShutdown::Flagged, Some(Snapshot(s.0 | CANCELLED)))
            } else {
                (
                    ToShutdown::Claimed,
                    Some(Snapshot(s.0 | RUNNING | CANCELLED)),
                )
            }
        })
    }

    /// The `JoinHandle` publishes the waker it just wrote. Fails (returning the state) if the
    /// task completed first: the handle then still owns the waker and reads the output.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                (Err(s), None)
            } else {
                let next = Snapshot(s.0 | JOIN_WAKER);
                (Ok(next), Some(next))
            }
        })
    }

    /// The `JoinHandle` takes the waker back to replace it. Fails if the task completed.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() {
                // JOIN_WAKER may be unset already: the completing thread woke the waker and
                // handed it back between the handle's snapshot and this update.
                (Err(s), None)
            } else {
                // Before completion only the handle unsets JOIN_WAKER.
                debug_assert!(s.is_join_waker_set());
                let next = Snapshot(s.0 & !JOIN_WAKER);
                (Ok(next), Some(next))
            }
        })
    }

    /// The completing thread has woken the join waker and hands it back. Returns the state
    /// before: if the handle is gone meanwhile, the completing thread drops the waker.
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!JOIN_WAKER, AcqRel))
    }

    /// `JoinHandle` dropped. Who cleans up what follows the rules in the module doc of
    /// [`crate::task`]. A handle with nothing to clean up (the task is not complete and no
    /// join waker is published, so the slot is empty) releases its reference in the same step.
    pub(crate) fn transition_to_join_handle_dropped(&self) -> JoinHandleDrop {
        self.update(|s| {
            debug_assert!(s.is_join_interested());
            if !s.is_complete() && !s.is_join_waker_set() {
                let next = Snapshot((s.0 & !JOIN_INTEREST) - REF_ONE);
                let outcome = JoinHandleDrop {
                    drop_output: false,
                    drop_waker: false,
                    released: true,
                    dealloc: next.ref_count() == 0,
                };
                return (outcome, Some(next));
            }
            let mut next = s.0 & !JOIN_INTEREST;
            if !s.is_complete() {
                next &= !JOIN_WAKER;
            }
            let outcome = JoinHandleDrop {
                drop_output: s.is_complete(),
                drop_waker: next & JOIN_WAKER == 0,
                released: false,
                dealloc: false,
            };
            (outcome, Some(Snapshot(next)))
        })
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self
            .0
            .fetch_add(REF_ONE, std::sync::atomic::Ordering::Relaxed);
        if Snapshot(prev).ref_count() >= REF_LIMIT {
            std::process::abort();
        }
    }

    /// Releases `count` references; true if they were the last.
    pub(crate) fn ref_dec(&self, count: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(count as u64 * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= count);
        prev.ref_count() == count
    }
}

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        ((self.0 >> FLAG_BITS) & REF_MASK) as usize
    }
    /// Polls so far (`transition_to_running` counts them), at most `u32::MAX`.
    pub(crate) fn polls(self) -> u32 {
        (self.0 >> POLL_SHIFT) as u32
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("scheduled", &self.is_scheduled())
            .field("complete", &self.is_complete())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .field("polls", &self.polls())
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wake_while_running_requeues_instead_of_submitting() {
        let state = State::new(2);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_notified_by_ref(), Notify::Nothing);
        assert_eq!(state.transition_to_idle(false), ToIdle::Notified);
        assert!(state.load().is_scheduled());
    }

    #[test]
    fn a_runner_that_woke_its_task_requeues_it_keeping_its_reference() {
        let state = State::new(2);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(true), ToIdle::Notified);
        assert!(state.load().is_scheduled() && !state.load().is_running());
        assert_eq!(state.load().ref_count(), 2);
        // An abort meanwhile wins: the runner drops the future instead.
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_notified_and_cancel(), Notify::Nothing);
        assert_eq!(state.transition_to_idle(true), ToIdle::Cancel);
    }

    #[test]
    fn wake_of_idle_task_submits_once() {
        let state = State::new(2);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(state.load().ref_count(), 1);
        assert_eq!(state.transition_to_notified_by_ref(), Notify::Submit);
        assert_eq!(state.transition_to_notified_by_ref(), Notify::Nothing);
        assert_eq!(state.load().ref_count(), 2);
    }

    #[test]
    fn abort_of_idle_task_schedules_it_cancelled() {
        let state = State::new(2);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(state.transition_to_notified_and_cancel(), Notify::Submit);
        assert_eq!(state.transition_to_running(), ToRunning::Cancel);
        assert_eq!(state.load().polls(), 1, "dropping the future is not a poll");
    }

    #[test]
    fn join_handle_drop_after_complete_owns_the_output() {
        let state = State::new(2);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        let prev = state.transition_to_complete();
        assert!(prev.is_join_interested());
        let drop = state.transition_to_join_handle_dropped();
        assert!(drop.drop_output && drop.drop_waker);
    }

    #[test]
    fn shutdown_claims_only_idle_tasks() {
        let state = State::new(2);
        assert_eq!(state.transition_to_shutdown(), ToShutdown::Flagged);
        assert_eq!(state.transition_to_running(), ToRunning::Cancel);
        let idle = State::new(2);
        assert_eq!(idle.transition_to_running(), ToRunning::Poll);
        assert_eq!(idle.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(idle.transition_to_shutdown(), ToShutdown::Claimed);
        assert!(idle.load().is_running());
    }

    #[test]
    fn polls_are_counted_up_to_the_limit_without_touching_the_count() {
        let state = State::new(2);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(state.transition_to_notified_by_ref(), Notify::Submit);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.load().polls(), 2);
        assert_eq!(state.load().ref_count(), 2);

        let full = State(AtomicU64::new(
            POLLS_FULL | SCHEDULED | JOIN_INTEREST | (2 * REF_ONE),
        ));
        assert_eq!(full.transition_to_running(), ToRunning::Poll);
        assert_eq!(full.load().polls(), u32::MAX);
        assert_eq!(full.load().ref_count(), 2);
        assert!(full.load().is_running() && full.load().is_join_interested());
    }

    /// Found by the loom model `join_handle_poll_vs_completion`: the handle saw its waker
    /// published and went to replace it, but the task completed, woke that waker and unset
    /// `JOIN_WAKER` first. The handle must just see `COMPLETE`.
    #[test]
    fn replacing_the_join_waker_after_completion_sees_complete() {
        let state = State::new(2);
        assert!(state.set_join_waker().is_ok());
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(state.transition_to_complete().is_join_waker_set());
        assert!(state.unset_join_waker_after_complete().is_join_interested());
        assert!(state.unset_join_waker().unwrap_err().is_complete());
    }
}
