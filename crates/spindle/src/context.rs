//! The thread-local runtime context: which runtime `spawn` and `Handle::current` mean here,
//! and whether blocking on a future is allowed on this thread.
//!
//! A worker thread is marked for its whole life (set when it starts). `block_on` marks the
//! calling thread for the duration of the call. Both set the current [`Handle`].

use crate::runtime::Handle;
use std::cell::{Cell, RefCell};

/// What this thread is doing for a runtime.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ThreadRole {
    /// Not inside any runtime: blocking is fine.
    Outside,
    /// A runtime's worker thread: blocking it stalls that worker's tasks.
    Worker,
    /// Inside `block_on`: a nested `block_on` would deadlock on the outer future.
    BlockOn,
}

thread_local! {
    static ROLE: Cell<ThreadRole> = const { Cell::new(ThreadRole::Outside) };
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// A worker's timer context (its own wheel) and reactor, for the worker's whole life.
    static WORKER_DRIVERS: RefCell<Option<(spindle_timer::EnterGuard, spindle_io::EnterGuard)>> =
        const { RefCell::new(None) };
}

pub(crate) fn role() -> ThreadRole {
    ROLE.with(Cell::get)
}

pub(crate) fn current() -> Option<Handle> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` with the current handle, without cloning it.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_ref()))
}

/// Marks this thread as `handle`'s worker number `index`, for the rest of its life.
pub(crate) fn enter_worker(handle: Handle, index: usize) {
    ROLE.with(|r| r.set(ThreadRole::Worker));
    let timer = spindle_timer::enter(handle.timer().clone(), Some(index));
    let reactor = spindle_io::enter(handle.reactor().clone());
    WORKER_DRIVERS.with(|d| *d.borrow_mut() = Some((timer, reactor)));
    CURRENT.with(|c| *c.borrow_mut() = Some(handle));
    // The scheduler installed this worker's budget; sleeps and sockets spend the same one.
    install_budget(spindle_scheduler::coop::budget());
}

/// Clears a worker thread's context as it stops.
pub(crate) fn exit_worker() {
    ROLE.with(|r| r.set(ThreadRole::Outside));
    install_budget(None);
    WORKER_DRIVERS.with(|d| d.borrow_mut().take());
    CURRENT.with(|c| c.borrow_mut().take());
}

/// Makes `handle` current on one of its blocking pool's threads, for the thread's life: tasks
/// spawned there go to the runtime, and `block_on` is allowed (the thread is `Outside`).
pub(crate) fn enter_blocking_thread(handle: Handle) {
    CURRENT.with(|c| *c.borrow_mut() = Some(handle));
}

/// Clears a blocking thread's context as it exits.
pub(crate) fn exit_blocking_thread() {
    CURRENT.with(|c| c.borrow_mut().take());
}

/// Restores the previous context when a `block_on` call ends, even by unwinding.
pub(crate) struct BlockOnGuard {
    previous: Option<Handle>,
    /// The budget of the future being blocked on, shared by the three engine crates.
    budget: Budget,
    _timer: spindle_timer::EnterGuard,
    _reactor: spindle_io::EnterGuard,
}

type Budget = spindle_scheduler::coop::Budget;

/// Makes `budget` the one that join handles, sleeps and sockets spend on this thread.
fn install_budget(budget: Option<Budget>) {
    spindle_scheduler::coop::set_budget(budget.clone());
    spindle_timer::coop::set_budget(budget.clone());
    spindle_io::coop::set_budget(budget);
}

impl BlockOnGuard {
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }
}

/// Enters `block_on` for `handle`, or panics with the fix if this thread must not block.
pub(crate) fn enter_block_on(handle: &Handle) -> BlockOnGuard {
    match role() {
        ThreadRole::Outside => {}
        ThreadRole::Worker => panic!(
            "spindle::block_on called from inside a runtime worker thread, which would stall \
             every task on that worker; use .await here, or move blocking work into \
             spindle::spawn_blocking"
        ),
        ThreadRole::BlockOn => panic!(
            "spindle::block_on called inside another block_on, which would deadlock on the \
             outer future; use .await here, or move blocking work into spindle::spawn_blocking"
        ),
    }
    ROLE.with(|r| r.set(ThreadRole::BlockOn));
    let previous = CURRENT.with(|c| c.borrow_mut().replace(handle.clone()));
    let budget = Budget::new(Cell::new(spindle_scheduler::coop::BUDGET_PER_POLL));
    install_budget(Some(budget.clone()));
    BlockOnGuard {
        previous,
        budget,
        _timer: spindle_timer::enter(handle.timer().clone(), None),
        _reactor: spindle_io::enter(handle.reactor().clone()),
    }
}

impl Drop for BlockOnGuard {
    fn drop(&mut self) {
        ROLE.with(|r| r.set(ThreadRole::Outside));
        install_budget(None);
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}
