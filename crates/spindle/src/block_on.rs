//! Driving one future to completion on the calling thread.
//!
//! The thread polls the future, and parks (on a futex, through std's thread parker) while it is
//! pending; the future's waker unparks it. Between polls it runs the local tasks that
//! `spawn_local` made under this `block_on` and that are ready (a batch at a time, so neither
//! side starves the other); their wakes from other threads go through the same waker. The waker
//! is made once per thread and reused; a call registers one small record with its runtime, so
//! that a paused clock knows whether this `block_on` can still run (`Handle::block_on_call`).

use crate::panic_policy::Failure;
use crate::runtime::Handle;
use spindle_core::coop::BUDGET_PER_POLL;
use spindle_core::WokenFlag;
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::thread;

/// Local tasks (`spawn_local`) polled between two polls of the future, at most.
const LOCAL_POLLS_PER_TURN: usize = 61;

thread_local! {
    static WAKER: (Waker, WokenFlag) = spindle_core::thread_waker_with_flag(thread::current());
}

/// This thread's `block_on` waker: its wakes set the flag `run_to_completion` reads.
pub(crate) fn thread_waker() -> Waker {
    WAKER.with(|(waker, _)| waker.clone())
}

/// Polls `future` on this thread until it completes, parking between polls. Each poll starts
/// with a full cooperative `budget`, like a task's. Unless parked with nothing to do (its
/// future not woken since its last poll), the call counts as busy for `handle`'s paused clock
/// (`Handle::block_on_call`). With the `ShutdownRuntime` policy, a runtime stopped by an
/// unhandled panic makes this panic instead of waiting on (the failing side wakes it).
pub(crate) fn run_to_completion<F: Future>(
    future: F,
    budget: &Cell<u8>,
    handle: &Handle,
) -> F::Output {
    let failure = handle.failure();
    let mut future = pin!(future);
    let _blocked = failure.map(Failure::block);
    WAKER.with(|(waker, woken)| {
        let mut cx = Context::from_waker(waker);
        let call = handle.block_on_call(woken);
        loop {
            if let Some(failure) = failure {
                failure.check();
            }
            budget.set(BUDGET_PER_POLL);
            woken.take();
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            if let Some(locals) = crate::context::block_on_locals() {
                if locals.run_ready(LOCAL_POLLS_PER_TURN) {
                    continue;
                }
            }
            // Woken during the poll (by itself, or a task): poll again without parking.
            if woken.is_set() || !call.parking() {
                continue;
            }
            thread::park();
            call.parked();
        }
    })
}
