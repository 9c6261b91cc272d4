//! The timer's layer in a runtime worker's parking stack: [`TimerParker`], a [`Park`] over
//! the layer below it (the I/O layer, or a thread parker).
//!
//! Before the worker blocks, it fires due timers (its own wheel's, and those of busy workers,
//! whose wheels would otherwise wait for their long polls) and bounds the park by its wheel's
//! next deadline; after it wakes, it fires what came due and wakes those tasks. The deadline
//! it parks until is published ([`Timer::before_park`]), so a timer armed into this wheel
//! from another thread with an earlier deadline unparks it.

use crate::driver::Timer;
use spindle_core::Park;
use std::fmt;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

/// The timer layer of worker `index`'s parking stack, over `P`.
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
/// use spindle_timer::{Timer, TimerParker};
/// use std::time::{Duration, Instant};
///
/// let thread = ThreadParker::new();
/// let unparker = thread.unparker();
/// let timer = Timer::new(vec![Box::new(move || unparker.unpark())]);
/// let mut parker = TimerParker::new(thread, timer.clone(), 0);
///
/// // A sleep registered in worker 0's wheel bounds the park: it returns at the deadline.
/// let _guard = spindle_timer::enter(timer, Some(0));
/// let start = Instant::now();
/// let mut sleep = Box::pin(spindle_timer::sleep(Duration::from_millis(5)));
/// let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// while sleep.as_mut().poll(&mut cx).is_pending() {
///     parker.park();
/// }
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// # use std::future::Future;
/// ```
pub struct TimerParker<P> {
    inner: P,
    timer: Arc<Timer>,
    index: usize,
    due: Vec<Waker>,
}

impl<P: Park> TimerParker<P> {
    /// Worker `index`'s timer layer over `inner`.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// let parker = spindle_timer::TimerParker::new(spindle_core::ThreadParker::new(), timer, 0);
    /// # drop(parker);
    /// ```
    pub fn new(inner: P, timer: Arc<Timer>, index: usize) -> TimerParker<P> {
        TimerParker {
            inner,
            timer,
            index,
            due: Vec::new(),
        }
    }

    fn park_for(&mut self, limit: Option<Duration>) {
        if limit == Some(Duration::ZERO) {
            // Maintenance: let the layer below deliver its events, without blocking.
            self.inner.park_timeout(Duration::ZERO);
        } else {
            let mut may_jump = true;
            if self.timer.is_paused() {
                // Ready I/O first: a task it wakes makes the runtime busy, and the paused clock
                // must not jump past it, nor past events another thread's reactor turn has yet
                // to deliver (`Timer::set_idle_probe`).
                may_jump = self.inner.deliver_events();
            }
            match self
                .timer
                .before_park_after_events(self.index, limit, may_jump, &mut self.due)
            {
                Some(Duration::ZERO) => {}
                Some(timeout) => self.inner.park_timeout(timeout),
                None => self.inner.park(),
            }
            self.timer.after_park(self.index);
        }
        self.timer.fire_due(self.index, &mut self.due);
        self.due.drain(..).for_each(wake_containing_panic);
    }
}

/// Wakes a task whose timer fired. The waker may be anyone's code (a future can poll a sleep
/// with a waker of its own); its panic must neither kill this worker nor leave the wakers
/// after it in `due` unwoken. The panic hook has already reported it.
fn wake_containing_panic(waker: Waker) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
}

impl<P: Park> Park for TimerParker<P> {
    type Unparker = P::Unparker;

    fn unparker(&self) -> P::Unparker {
        self.inner.unparker()
    }

    fn park(&mut self) {
        self.park_for(None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.park_for(Some(timeout));
    }
}

impl<P> fmt::Debug for TimerParker<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerParker")
            .field("worker", &self.index)
            .finish_non_exhaustive()
    }
}
