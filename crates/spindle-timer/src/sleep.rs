//! `Sleep`: a future that completes at a deadline.

use crate::context;
use crate::driver::{Registration, Timer};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has elapsed (asyncio's `await asyncio.sleep(n)`).
///
/// A duration too large for `Instant` (such as `Duration::MAX`) waits "forever" (30 years).
///
/// ```
/// # spindle_timer::block_on(async {
/// let start = std::time::Instant::now();
/// spindle_timer::sleep(std::time::Duration::from_millis(10)).await;
/// assert!(start.elapsed() >= std::time::Duration::from_millis(10));
/// # });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = context::now();
    Sleep {
        deadline: Timer::deadline_after(now, duration),
        entry: Entry::Unregistered {
            ahead_when_made: !duration.is_zero(),
        },
    }
}

/// Waits until `deadline`.
///
/// ```
/// # spindle_timer::block_on(async {
/// let deadline = std::time::Instant::now() + std::time::Duration::from_millis(5);
/// spindle_timer::sleep_until(deadline).await;
/// assert!(std::time::Instant::now() >= deadline);
/// # });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: Entry::Unregistered {
            ahead_when_made: false,
        },
    }
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It registers with a timer wheel on its first poll (on the wheel of the worker polling it),
/// never completes before its deadline (which the wheel rounds up to a whole
/// [`TICK`](crate::TICK)), and removes its entry when dropped. It allocates nothing: the wheel
/// stores the waker in its own slab.
///
/// It reads the clock once before it registers: a [`sleep`] when it is made (its first poll
/// then registers without asking the clock again), a [`sleep_until`] or a
/// [`reset`](Self::reset) sleep on its first poll, which completes at once if the deadline
/// has passed. So a `sleep` whose deadline passes before its first poll completes when its
/// wheel next fires, not on that poll.
///
/// ```
/// # spindle_timer::block_on(async {
/// let sleep: spindle_timer::Sleep = spindle_timer::sleep(std::time::Duration::from_millis(1));
/// sleep.await;
/// # });
/// ```
pub struct Sleep {
    deadline: Instant,
    entry: Entry,
}

/// A sleep's timer entry, no larger than an `Option<Registration>`: the flag fits beside the
/// registration's non-null wheel pointer.
enum Entry {
    Unregistered {
        /// The deadline was after the clock reading it was made from, and the sleep has not
        /// registered or been reset since: its first poll registers without reading the clock.
        ahead_when_made: bool,
    },
    Registered(Registration),
}

impl Entry {
    /// Takes the registration out, if any, leaving the entry unregistered (its deadline no
    /// longer known to be ahead).
    fn take(&mut self) -> Option<Registration> {
        let unregistered = Entry::Unregistered {
            ahead_when_made: false,
        };
        match std::mem::replace(self, unregistered) {
            Entry::Registered(registration) => Some(registration),
            Entry::Unregistered { .. } => None,
        }
    }
}

impl Sleep {
    /// The instant at which this sleep completes.
    ///
    /// ```
    /// let deadline = std::time::Instant::now();
    /// assert_eq!(spindle_timer::sleep_until(deadline).deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    ///
    /// ```
    /// assert!(spindle_timer::sleep(std::time::Duration::ZERO).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        context::now() >= self.deadline
    }

    /// Moves the deadline, earlier or later, without allocating; a sleep that already
    /// completed waits again until the new deadline.
    ///
    /// ```
    /// # spindle_timer::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let mut sleep = Box::pin(spindle_timer::sleep(Duration::from_secs(3600)));
    /// sleep.as_mut().reset(Instant::now() + Duration::from_millis(5));
    /// sleep.await;
    /// # });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        let still_armed = match &this.entry {
            Entry::Registered(registration) => registration.reset(deadline),
            Entry::Unregistered { .. } => false,
        };
        if !still_armed {
            this.entry.take();
        }
    }
}

impl Future for Sleep {
    type Output = ();

    /// Spends one unit of the task's cooperative budget when it completes (`coop`).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let spent = std::task::ready!(crate::coop::poll_spend(cx));
        let fired = self.get_mut().poll_unbudgeted(cx);
        if fired.is_ready() {
            spent.made_progress();
        }
        fired
    }
}

impl Sleep {
    /// The poll without the cooperative budget: a `Timeout` checks its deadline this way, so
    /// an inner future that spent the budget cannot keep the deadline from firing.
    pub(crate) fn poll_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let registration = match &self.entry {
            Entry::Registered(registration) => registration,
            &Entry::Unregistered { ahead_when_made } => {
                if !ahead_when_made && context::now() >= self.deadline {
                    return Poll::Ready(());
                }
                let deadline = self.deadline;
                self.entry = Entry::Registered(context::with_current(|timer, worker| {
                    timer.register(worker, deadline, cx.waker())
                }));
                return Poll::Pending;
            }
        };
        if context::now() >= self.deadline {
            if let Some(registration) = self.entry.take() {
                registration.cancel_soon();
            }
            Poll::Ready(())
        } else if registration.update_waker(cx.waker()) {
            Poll::Pending
        } else {
            // Fired: the wheel only fires entries whose deadline tick has begun.
            self.entry.take();
            Poll::Ready(())
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(registration) = self.entry.take() {
            registration.cancel_soon();
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &matches!(self.entry, Entry::Registered(_)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_no_larger_than_an_optional_registration() {
        assert_eq!(
            std::mem::size_of::<Entry>(),
            std::mem::size_of::<Option<Registration>>()
        );
    }

    #[test]
    fn sleeps_dropped_on_their_wheels_owner_leave_the_wheel_empty() {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let _owner = crate::enter(timer.clone(), Some(0));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut sleeps: Vec<_> = (0..3)
            .map(|_| Box::pin(sleep(Duration::from_secs(3600))))
            .collect();
        for sleep in &mut sleeps {
            assert!(sleep.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(timer.len(), 3);
        drop(sleeps);
        assert!(timer.is_empty());
    }

    #[test]
    fn a_sleep_made_with_a_duration_registers_without_a_second_clock_reading_but_never_early() {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let _owner = crate::enter(timer.clone(), Some(0));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut sleep = Box::pin(sleep(Duration::from_millis(1)));
        std::thread::sleep(Duration::from_millis(3));
        // Past its deadline, but first polled now: it registers, and the wheel fires it.
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        assert_eq!(timer.len(), 1);
        let mut due = Vec::new();
        timer.fire_due(0, &mut due);
        assert_eq!(due.len(), 1);
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
        // A sleep_until reads the clock on its first poll instead.
        let mut until = Box::pin(sleep_until(Instant::now()));
        assert!(until.as_mut().poll(&mut cx).is_ready());
        assert!(timer.is_empty());
    }
}
