//! The thread-local runtime context: which runtime `spawn` and `Handle::current` mean here,
//! and whether blocking on a future is allowed on this thread.
//!
//! A worker thread is marked for its whole life (set when it starts). `block_on` marks the
//! calling thread for the duration of the call. Both set the current [`Handle`].

use crate::runtime::{Handle, Unparker};
use spindle_scheduler::LocalSet;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

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
    /// The tasks `spawn_local` made under the running `block_on`, made on first use.
    static BLOCK_ON_LOCALS: RefCell<Option<Rc<LocalSet<Unparker>>>> = const { RefCell::new(None) };
}

/// Runs `f` with the running `block_on`'s local set, making it on first use.
pub(crate) fn with_block_on_locals<R>(f: impl FnOnce(&LocalSet<Unparker>) -> R) -> R {
    let set = BLOCK_ON_LOCALS.with(|locals| {
        locals
            .borrow_mut()
            .get_or_insert_with(|| {
                let handle = current().expect("block_on sets the current runtime");
                Rc::new(
                    handle
                        .spawner()
                        .local_set_woken_by(crate::block_on::thread_waker()),
                )
            })
            .clone()
    });
    f(&set)
}

/// The running `block_on`'s local set, if `spawn_local` made one.
pub(crate) fn block_on_locals() -> Option<Rc<LocalSet<Unparker>>> {
    BLOCK_ON_LOCALS.with(|locals| locals.borrow().clone())
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
}

/// Clears a worker thread's context as it stops.
pub(crate) fn exit_worker() {
    ROLE.with(|r| r.set(ThreadRole::Outside));
    WORKER_DRIVERS.with(|d| d.borrow_mut().take());
    CURRENT.with(|c| c.borrow_mut().take());
}

/// Makes `handle` current while a `spawn_blocking` closure runs on a blocking pool thread:
/// tasks spawned there go to the runtime, and `block_on` is allowed (the thread is
/// `Outside`). The previous handle (none, on a pool thread) comes back when the guard drops.
pub(crate) fn enter_blocking(handle: Handle) -> BlockingGuard {
    BlockingGuard {
        previous: CURRENT.with(|c| c.borrow_mut().replace(handle)),
    }
}

/// Restores the handle a `spawn_blocking` closure replaced, even by unwinding.
pub(crate) struct BlockingGuard {
    previous: Option<Handle>,
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Restores the previous context when a `block_on` call ends, even by unwinding.
pub(crate) struct BlockOnGuard {
    previous: Option<Handle>,
    /// The budget of the future being blocked on, shared by the three engine crates.
    budget: Budget,
    /// The thread's budget before (none: `block_on` is refused on workers).
    previous_budget: Option<Budget>,
    _timer: spindle_timer::EnterGuard,
    _reactor: spindle_io::EnterGuard,
}

use spindle_core::coop::{self, Budget};

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
    let budget = Budget::new(Cell::new(coop::BUDGET_PER_POLL));
    let previous_budget = coop::set_budget(Some(budget.clone()));
    BlockOnGuard {
        previous,
        budget,
        previous_budget,
        _timer: spindle_timer::enter(handle.timer().clone(), None),
        _reactor: spindle_io::enter(handle.reactor().clone()),
    }
}

impl Drop for BlockOnGuard {
    fn drop(&mut self) {
        // Local tasks still pending are cancelled here, while this runtime is still current
        // for their destructors; a set one of those made (`spawn_local` in a destructor) is
        // cancelled in turn.
        while let Some(set) = BLOCK_ON_LOCALS.with(|locals| locals.borrow_mut().take()) {
            drop(set);
        }
        ROLE.with(|r| r.set(ThreadRole::Outside));
        coop::set_budget(self.previous_budget.take());
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}
