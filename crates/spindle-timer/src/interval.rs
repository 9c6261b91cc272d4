//! `Interval`: ticks at a fixed period.

use crate::sleep::{sleep_until, Sleep};
use futures_core::Stream;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Ticks every `period`, the first tick at once.
///
/// An interval's tick is one item of its stream, not the timer's resolution
/// [`TICK`](crate::TICK); each is a deadline like a [`sleep_until`]'s, rounded up to a whole
/// `TICK`.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// # spindle_timer::block_on(async {
/// use std::time::Duration;
/// let mut interval = spindle_timer::interval(Duration::from_millis(2));
/// let first = interval.tick().await;
/// let second = interval.tick().await;
/// assert!(second - first >= Duration::from_millis(2));
/// # });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "spindle interval: the period must be greater than zero"
    );
    let start = crate::context::now();
    Interval {
        next: start,
        period,
        sleep: sleep_until(start),
        missed_tick_behavior: MissedTickBehavior::Burst,
    }
}

/// What an [`Interval`] does when ticks were missed (the consumer was late by more than a
/// period).
///
/// ```
/// let mut interval = spindle_timer::interval(std::time::Duration::from_secs(1));
/// interval.set_missed_tick_behavior(spindle_timer::MissedTickBehavior::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the original schedule
    /// (tokio's default).
    #[default]
    Burst,
    /// Fire once now, then continue on the original schedule, skipping the missed ticks.
    Skip,
    /// Fire once now, then every `period` from now: the schedule shifts.
    Delay,
}

/// The stream of ticks returned by [`interval`]; each tick is the `Instant` it was scheduled
/// for. Also a `futures_core::Stream`.
///
/// ```
/// # spindle_timer::block_on(async {
/// let mut interval: spindle_timer::Interval =
///     spindle_timer::interval(std::time::Duration::from_millis(1));
/// interval.tick().await;
/// # });
/// ```
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Sleep,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// ```
    /// # spindle_timer::block_on(async {
    /// let mut interval = spindle_timer::interval(std::time::Duration::from_millis(1));
    /// let t = interval.tick().await;
    /// assert!(t <= std::time::Instant::now());
    /// # });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    ///
    /// ```
    /// # spindle_timer::block_on(async {
    /// let mut interval = spindle_timer::interval(std::time::Duration::from_millis(1));
    /// std::future::poll_fn(|cx| interval.poll_tick(cx)).await;
    /// # });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.next;
        let now = crate::context::now();
        self.next = match self.missed_tick_behavior {
            MissedTickBehavior::Burst => after(tick, self.period),
            MissedTickBehavior::Skip => {
                // The first instant of the original schedule strictly after now.
                let late = now.saturating_duration_since(tick).as_nanos();
                let into_period = late % self.period.as_nanos();
                let to_next = self.period.as_nanos() - into_period;
                after(
                    now,
                    Duration::from_nanos(u64::try_from(to_next).unwrap_or(u64::MAX)),
                )
            }
            MissedTickBehavior::Delay => after(now, self.period),
        };
        Pin::new(&mut self.sleep).reset(self.next);
        Poll::Ready(tick)
    }

    /// Sets what happens when ticks are missed.
    ///
    /// ```
    /// use spindle_timer::MissedTickBehavior;
    /// let mut interval = spindle_timer::interval(std::time::Duration::from_secs(1));
    /// interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    /// assert_eq!(interval.missed_tick_behavior(), MissedTickBehavior::Delay);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The current missed-tick behavior.
    ///
    /// ```
    /// let interval = spindle_timer::interval(std::time::Duration::from_secs(1));
    /// assert_eq!(interval.missed_tick_behavior(), spindle_timer::MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// The period between ticks.
    ///
    /// ```
    /// let interval = spindle_timer::interval(std::time::Duration::from_secs(2));
    /// assert_eq!(interval.period(), std::time::Duration::from_secs(2));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.next)
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed_tick_behavior)
            .finish()
    }
}

/// `instant + period`, or "never" (the timer's far future) if that overflows `Instant`, as for
/// `interval(Duration::MAX)`.
fn after(instant: Instant, period: Duration) -> Instant {
    crate::driver::Timer::deadline_after(instant, period)
}
