//! The cooperative budget: how many ready operations a task may complete in one poll.
//!
//! A task whose resources are always ready (a socket with data queued, a `JoinHandle` of a
//! finished task, a timer already due) would never return `Pending` on its own, and its
//! neighbours on the same worker would wait forever. So each poll of a task starts with a
//! budget of [`BUDGET_PER_POLL`] operations. Every operation on a spindle resource that
//! completes spends one; once the budget is spent, the next operation wakes its task and
//! returns `Pending`, and the task goes to the back of its worker's queue.
//!
//! # Invariants
//!
//! 1. One budget per thread, shared by every spindle crate on that thread: the scheduler's
//!    join handles, the timer's sleeps and the I/O crate's sockets all spend from this
//!    module's thread-local slot. A runtime installs a worker's budget once, when the worker
//!    starts ([`set_budget`]); a `block_on` installs one for its future.
//! 2. The owner refills the budget before every task poll ([`BUDGET_PER_POLL`]). A thread with
//!    no budget installed (a plain thread, a foreign executor) is never throttled.
//! 3. Only an operation that completes spends: one that returns `Pending` refunds, so a task
//!    is never throttled for waiting.
//!
//! # Why a shared budget
//!
//! tokio's answer, and for the same reason: per-resource budgets let a task that alternates
//! between a socket and a join handle run twice as long as one that uses only one of them.
//! The cost is one thread-local access per completed operation.
//!
//! Under loom the budget is off: loom runs its threads on one OS thread, where a thread-local
//! would be shared between them, and the models are about atomics, not fairness.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! // What a runtime does on each worker thread: install one budget, refill it before each poll.
//! let budget: spindle_core::coop::Budget = Rc::new(Cell::new(128));
//! let previous = spindle_core::coop::set_budget(Some(budget.clone()));
//! budget.set(128);
//! spindle_core::coop::set_budget(previous);
//! ```

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Poll};

/// Operations a task may complete in one poll before it must yield.
///
/// ```
/// assert_eq!(spindle_core::coop::BUDGET_PER_POLL, 128);
/// ```
pub const BUDGET_PER_POLL: u8 = 128;

/// A thread's cooperative budget, shared by the spindle crates on that thread (see the
/// [`coop`](self) module).
///
/// ```
/// let budget: spindle_core::coop::Budget = std::rc::Rc::new(std::cell::Cell::new(128));
/// assert_eq!(budget.get(), 128);
/// ```
pub type Budget = Rc<Cell<u8>>;

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Makes `budget` the one that every spindle operation on the calling thread spends, returning
/// the one it replaces. `None` turns the budget off.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let budget = Rc::new(Cell::new(spindle_core::coop::BUDGET_PER_POLL));
/// let previous = spindle_core::coop::set_budget(Some(budget.clone()));
/// assert!(previous.is_none());
/// assert!(spindle_core::coop::budget().is_some());
/// spindle_core::coop::set_budget(previous);
/// ```
#[inline]
pub fn set_budget(budget: Option<Budget>) -> Option<Budget> {
    BUDGET.try_with(|b| b.replace(budget)).ok().flatten()
}

/// The budget installed on the calling thread, if any.
///
/// ```
/// assert!(spindle_core::coop::budget().is_none());
/// ```
#[inline]
pub fn budget() -> Option<Budget> {
    BUDGET.try_with(|b| b.borrow().clone()).ok().flatten()
}

/// True unless the calling thread's budget is installed and spent. A combinator that polls
/// many children (like `join_all`) stops polling them once it is false: each further child
/// would only yield.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// assert!(spindle_core::coop::has_budget());
/// let previous = spindle_core::coop::set_budget(Some(Rc::new(Cell::new(0))));
/// assert!(!spindle_core::coop::has_budget());
/// spindle_core::coop::set_budget(previous);
/// ```
#[inline]
pub fn has_budget() -> bool {
    BUDGET
        .try_with(|b| b.borrow().as_ref().is_none_or(|budget| budget.get() > 0))
        .unwrap_or(true)
}

/// Spends one unit of the calling thread's budget for an operation about to complete. When
/// the budget is exhausted, wakes the task and returns `Pending`: it yields. The returned
/// [`Spent`] refunds the unit if dropped without [`Spent::made_progress`].
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::task::{Context, Poll, Waker};
/// use spindle_core::coop;
///
/// let mut cx = Context::from_waker(Waker::noop());
/// let previous = coop::set_budget(Some(Rc::new(Cell::new(1))));
/// let Poll::Ready(spent) = coop::poll_spend(&mut cx) else { unreachable!() };
/// spent.made_progress(); // the operation completed: the last unit is gone
/// assert!(coop::poll_spend(&mut cx).is_pending()); // the next one yields
/// coop::set_budget(previous);
/// ```
#[inline]
pub fn poll_spend(cx: &mut Context<'_>) -> Poll<Spent> {
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

/// One unit of budget taken for an operation in progress, from [`poll_spend`].
#[must_use = "dropping it refunds the unit"]
#[derive(Debug)]
pub struct Spent {
    spent: bool,
}

impl Spent {
    /// The operation completed: the unit stays spent.
    #[inline]
    pub fn made_progress(mut self) {
        self.spent = false;
    }
}

impl Drop for Spent {
    #[inline]
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
