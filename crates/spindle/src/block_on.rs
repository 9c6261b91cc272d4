//! Driving one future to completion on the calling thread.
//!
//! The thread polls the future, and parks (on a futex, through std's thread parker) while it is
//! pending; the future's waker unparks it. The waker is made once per thread and reused, so a
//! `block_on` call allocates nothing.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Polls `future` on this thread until it completes, parking between polls. Each poll starts
/// with a full cooperative `budget`, like a task's.
pub(crate) fn run_to_completion<F: Future>(future: F, budget: &Cell<u8>) -> F::Output {
    let mut future = pin!(future);
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            budget.set(spindle_scheduler::coop::BUDGET_PER_POLL);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            thread::park();
        }
    })
}
