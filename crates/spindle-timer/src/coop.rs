//! The cooperative budget, the timer's side: a sleep that completes spends one unit of the
//! budget of the task polling it.
//!
//! The budget itself belongs to the scheduler (`spindle_scheduler::coop`, which states the
//! rules): a shared `Rc<Cell<u8>>` per thread, refilled before each task poll. This crate
//! depends on no scheduler, so it keeps its own thread-local slot for that budget, which the
//! runtime fills with [`set_budget`] when a worker starts. With no budget installed, sleeps are
//! never throttled. Under loom the budget is off (loom's threads share one OS thread).
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! // What a runtime does on each worker thread: install one budget, refill it before each poll.
//! let budget: spindle_timer::coop::Budget = Rc::new(Cell::new(128));
//! let previous = spindle_timer::coop::set_budget(Some(budget.clone()));
//! budget.set(128);
//! spindle_timer::coop::set_budget(previous);
//! ```

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll};

/// A thread's cooperative budget: operations left in the current task poll.
///
/// ```
/// let budget: spindle_timer::coop::Budget = std::rc::Rc::new(std::cell::Cell::new(128));
/// assert_eq!(budget.get(), 128);
/// ```
pub type Budget = Rc<Cell<u8>>;

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Makes `budget` the one this crate's sleeps spend on the calling thread, returning the one
/// it replaces. `None` turns the budget off.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let previous = spindle_timer::coop::set_budget(Some(Rc::new(Cell::new(128))));
/// assert!(previous.is_none());
/// spindle_timer::coop::set_budget(previous);
/// ```
pub fn set_budget(budget: Option<Budget>) -> Option<Budget> {
    BUDGET.try_with(|b| b.replace(budget)).ok().flatten()
}

/// Takes one unit for an operation about to complete; `Pending` (with the task woken) when the
/// budget is spent. Dropping the [`Spent`] without [`Spent::made_progress`] refunds it.
pub(crate) fn poll_spend(cx: &mut Context<'_>) -> Poll<Spent> {
    if cfg!(loom) {
        return Poll::Ready(Spent { spent: false });
    }
    let outcome = BUDGET.try_with(|b| match &*b.borrow() {
        None => Some(false),
        Some(budget) => budget.get().checked_sub(1).map(|left| {
            budget.set(left);
            true
        }),
    });
    match outcome {
        Ok(Some(spent)) => Poll::Ready(Spent { spent }),
        Ok(None) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Err(_) => Poll::Ready(Spent { spent: false }),
    }
}

/// One unit of budget taken for an operation in progress.
#[must_use = "dropping it refunds the unit"]
pub(crate) struct Spent {
    spent: bool,
}

impl Spent {
    /// The operation completed: the unit stays spent.
    pub(crate) fn made_progress(mut self) {
        self.spent = false;
    }
}

impl Drop for Spent {
    fn drop(&mut self) {
        if self.spent {
            let _ = BUDGET.try_with(|b| {
                if let Some(budget) = &*b.borrow() {
                    budget.set(budget.get().saturating_add(1));
                }
            });
        }
    }
}
