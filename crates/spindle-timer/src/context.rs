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
    /// This thread claimed wheel `worker` of `timer` when it entered: it is that wheel's
    /// owner, the one thread that may defer cancels into it (`driver`, "Cancelling on the
    /// owner's thread").
    owns_wheel: bool,
}

impl Drop for Current {
    fn drop(&mut self) {
        if let (true, Some(index)) = (self.owns_wheel, self.worker) {
            self.timer.release_wheel(index);
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

static DEFAULT_TIMER: OnceLock<fn() -> Arc<Timer>> = OnceLock::new();

/// Makes `timer` this thread's current timer until the guard is dropped; `worker` is this
/// thread's worker index, if it is one of the runtime's workers.
///
/// Sleeps polled here register in wheel `worker`. The first thread to enter with an index
/// becomes that wheel's owner until its guard drops, and cancels the wheel's timers without
/// locking it; another thread entering with the same index meanwhile shares the wheel but
/// cancels with the lock.
///
/// ```
/// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
/// let guard = spindle_timer::enter(timer, Some(0));
/// drop(guard);
/// ```
pub fn enter(timer: Arc<Timer>, worker: Option<usize>) -> EnterGuard {
    let owns_wheel = worker.is_some_and(|index| timer.claim_wheel(index));
    let current = Current {
        timer,
        worker,
        owns_wheel,
    };
    let previous = CURRENT.with(|c| c.borrow_mut().replace(current));
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

/// Runs `f` with this thread's current timer and the index of the wheel this thread owns in
/// it, if it owns one; `None` otherwise, and also while the thread-local is being torn down
/// or borrowed (a sleep dropped then is cancelled the way any other thread would cancel it).
pub(crate) fn with_owned_wheel<R>(f: impl FnOnce(&Timer, usize) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| {
            let current = c.try_borrow().ok()?;
            let current = current.as_ref().filter(|current| current.owns_wheel)?;
            Some(f(&current.timer, current.worker?))
        })
        .ok()
        .flatten()
}

/// The current timer's time ([`Timer::now`]: paused or not), or the system clock outside any
/// runtime.
pub(crate) fn now() -> std::time::Instant {
    // The common case, no clock ever paused, without a thread-local lookup: arming a timer is
    // a hot path. A clock paused on another thread a moment ago may be read as unpaused here
    // once; the pause happened after this sleep's "now" then.
    if !crate::clock::any_paused() {
        return std::time::Instant::now();
    }
    CURRENT
        .try_with(|c| {
            c.try_borrow()
                .ok()?
                .as_ref()
                .map(|current| current.timer.now())
        })
        .ok()
        .flatten()
        .unwrap_or_else(std::time::Instant::now)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_wheel_on_a_new_thread(timer: &Arc<Timer>) -> Option<usize> {
        let timer = timer.clone();
        std::thread::spawn(move || {
            let _entered = enter(timer, Some(0));
            with_owned_wheel(|_, index| index)
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_first_thread_to_enter_with_an_index_owns_that_wheel_until_its_guard_drops() {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let owner = enter(timer.clone(), Some(0));
        assert_eq!(with_owned_wheel(|_, index| index), Some(0));
        assert_eq!(owned_wheel_on_a_new_thread(&timer), None);
        {
            let _nested = enter(timer.clone(), Some(0));
            assert_eq!(with_owned_wheel(|_, index| index), None);
        }
        assert_eq!(with_owned_wheel(|_, index| index), Some(0));
        drop(owner);
        assert_eq!(with_owned_wheel(|_, index| index), None);
        assert_eq!(owned_wheel_on_a_new_thread(&timer), Some(0));
    }
}
