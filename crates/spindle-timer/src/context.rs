//! Which runtime's timer a `Sleep` polled on this thread registers with.
//!
//! The runtime sets it: for a worker's whole life (with the worker's index, so sleeps go to
//! that worker's wheel), and for the duration of a `block_on` (no index). Outside both, a
//! `Sleep` uses the default timer, which the runtime installs once with
//! [`set_default_timer`].

use crate::driver::Timer;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

struct Current {
    timer: Arc<Timer>,
    worker: Option<usize>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

static DEFAULT_TIMER: OnceLock<fn() -> Arc<Timer>> = OnceLock::new();

/// Makes `timer` this thread's current timer until the guard is dropped; `worker` is this
/// thread's worker index, if it is one of the runtime's workers.
///
/// ```
/// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
/// let guard = spindle_timer::enter(timer, Some(0));
/// drop(guard);
/// ```
pub fn enter(timer: Arc<Timer>, worker: Option<usize>) -> EnterGuard {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Current { timer, worker }));
    EnterGuard { previous }
}

/// Restores the previous current timer when dropped.
///
/// ```
/// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
/// let _guard: spindle_timer::EnterGuard = spindle_timer::enter(timer, None);
/// ```
#[must_use = "the timer is current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Current>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

/// Installs the function that gives the timer for sleeps polled outside any runtime (the
/// process-wide default runtime's). Only the first call has an effect.
///
/// ```
/// fn default_timer() -> std::sync::Arc<spindle_timer::Timer> {
///     spindle_timer::Timer::new(vec![Box::new(|| {})])
/// }
/// spindle_timer::set_default_timer(default_timer);
/// ```
pub fn set_default_timer(provider: fn() -> Arc<Timer>) {
    let _ = DEFAULT_TIMER.set(provider);
}

/// Runs `f` with this thread's current timer and worker index if this thread is one of its
/// workers; `None` otherwise, and also while the thread-local is being torn down or borrowed
/// (a sleep dropped then is cancelled the way any other thread would cancel it).
pub(crate) fn with_current_worker<R>(f: impl FnOnce(&Timer, usize) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| {
            let current = c.try_borrow().ok()?;
            let current = current.as_ref()?;
            Some(f(&current.timer, current.worker?))
        })
        .ok()
        .flatten()
}

/// Runs `f` with the timer a sleep polled here should use, and this thread's worker index.
///
/// # Panics
///
/// If no runtime is current and no default timer was installed.
pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Timer>, Option<usize>) -> R) -> R {
    let mut f = Some(f);
    let found = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|current| (f.take().unwrap())(&current.timer, current.worker))
    });
    match found {
        Some(result) => result,
        None => {
            let provider = DEFAULT_TIMER.get().unwrap_or_else(|| {
                panic!(
                    "a spindle Sleep was polled outside any spindle runtime and no default \
                     runtime is installed; poll it inside spindle::block_on or a spawned task"
                )
            });
            (f.take().unwrap())(&provider(), None)
        }
    }
}
