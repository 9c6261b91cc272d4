//! A runtime's timers: one wheel per worker, the clock origin, and the timer's part of parking.
//!
//! # Design
//!
//! Each worker owns a [`TimerWheel`] of wakers, behind its own mutex. A `Sleep` first polled on
//! worker `i` registers in wheel `i`, so sleeps armed on different workers never share a lock;
//! the owner takes its own lock uncontended. A `Sleep` polled first outside the workers (under
//! `block_on`, or on a foreign executor) registers in a wheel chosen round-robin. Cancelling
//! (dropping a `Sleep`) locks the wheel the entry lives in, wherever the drop happens, and
//! removes the entry in O(1): its memory returns at once.
//!
//! Firing is done by whoever parks: before a worker parks it fires the due entries of its own
//! wheel, and of every wheel whose owner is busy (not parked), then parks until the earliest
//! deadline among them. So a worker stuck in a long poll does not strand its timers: an idle
//! worker fires them (the scheduler parks idle workers with a short timeout while another
//! worker is busy). A worker that never runs dry fires its wheel at its maintenance interval.
//!
//! # Waking a parked worker for an earlier timer
//!
//! Each wheel publishes its owner's park deadline (`parked_until`: `RUNNING`, a tick, or
//! `FOREVER`). An insert from a thread other than the owner reads it after inserting; if the new
//! deadline is earlier, it unparks the owner. The owner publishes `FOREVER` *before* reading its
//! wheel's next deadline, then the real deadline: with both sides SeqCst, either the inserter
//! sees the published deadline (and unparks), or the owner sees the new entry.

use crate::loom::{AtomicU64, AtomicUsize, Mutex};
use crate::wheel::{TimerKey, TimerWheel};
use std::fmt;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

/// `parked_until` while the owner is running.
const RUNNING: u64 = 0;
/// `parked_until` while the owner is parked with no deadline.
const FOREVER: u64 = u64::MAX;

/// How far ahead "never" is: deadlines that overflow `Instant` are clamped to now + 30 years.
const FAR_FUTURE: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);

/// A runtime's timer state. Shared (in an `Arc`) by the runtime handle, every armed
/// [`Sleep`](crate::Sleep), and the workers' parkers.
///
/// ```
/// use spindle_timer::Timer;
///
/// let timer = Timer::new(vec![Box::new(|| {})]);
/// assert_eq!(timer.workers(), 1);
/// ```
pub struct Timer {
    origin: Instant,
    wheels: Box<[WorkerWheel]>,
    next_outside: AtomicUsize,
}

struct WorkerWheel {
    wheel: Mutex<TimerWheel<Waker>>,
    parked_until: AtomicU64,
    unpark: Box<dyn Fn() + Send + Sync>,
}

/// Where a registered sleep lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) wheel: usize,
    pub(crate) key: TimerKey,
}

impl Timer {
    /// A timer with one wheel per worker. `unpark[i]` wakes worker `i` when a timer earlier
    /// than its park deadline is registered from another thread.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {}), Box::new(|| {})]);
    /// assert_eq!(timer.workers(), 2);
    /// ```
    pub fn new(unpark: Vec<Box<dyn Fn() + Send + Sync>>) -> Arc<Timer> {
        let origin = Instant::now();
        Arc::new(Timer {
            origin,
            wheels: unpark
                .into_iter()
                .map(|unpark| WorkerWheel {
                    wheel: Mutex::new(TimerWheel::new(0)),
                    parked_until: AtomicU64::new(RUNNING),
                    unpark,
                })
                .collect(),
            next_outside: AtomicUsize::new(0),
        })
    }

    /// How many worker wheels there are.
    ///
    /// ```
    /// assert_eq!(spindle_timer::Timer::new(Vec::new()).workers(), 0);
    /// ```
    pub fn workers(&self) -> usize {
        self.wheels.len()
    }

    /// The instant `duration` from now; a duration that overflows `Instant` (such as
    /// `Duration::MAX`) means 30 years from now, which is never within a program's life.
    pub(crate) fn deadline_after(duration: Duration) -> Instant {
        let now = Instant::now();
        now.checked_add(duration)
            .unwrap_or_else(|| now + FAR_FUTURE)
    }

    /// The first tick at or after `instant` (deadlines round up: never fire early).
    fn tick_at_or_after(&self, instant: Instant) -> u64 {
        let since = instant.saturating_duration_since(self.origin);
        let ms = since.as_millis();
        let ceil = if since > Duration::from_millis(ms as u64) {
            ms + 1
        } else {
            ms
        };
        u64::try_from(ceil).unwrap_or(u64::MAX - 1)
    }

    /// The last tick that has fully begun at `instant`.
    fn tick_before(&self, instant: Instant) -> u64 {
        u64::try_from(instant.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX - 1)
    }

    fn instant_of(&self, tick: u64) -> Instant {
        self.origin
            .checked_add(Duration::from_millis(tick))
            .unwrap_or_else(|| self.origin + FAR_FUTURE)
    }

    /// Registers `waker` to be woken at `deadline`, in worker `worker`'s wheel (or a wheel
    /// chosen round-robin for `None`). Returns where it lives.
    pub(crate) fn register(&self, worker: Option<usize>, deadline: Instant, waker: Waker) -> Slot {
        let wheel = match worker {
            Some(index) if index < self.wheels.len() => index,
            _ => self.next_outside.fetch_add(1, Relaxed) % self.wheels.len().max(1),
        };
        let tick = self.tick_at_or_after(deadline);
        let key = self.wheels[wheel].wheel.lock().insert(tick, waker);
        if worker != Some(wheel) {
            self.wake_owner_if_later(wheel, tick);
        }
        Slot { wheel, key }
    }

    /// Moves a registered entry to `deadline`. Returns false if it already fired.
    pub(crate) fn reset(&self, slot: Slot, deadline: Instant) -> bool {
        let tick = self.tick_at_or_after(deadline);
        let moved = self.wheels[slot.wheel]
            .wheel
            .lock()
            .reset(slot.key, tick)
            .is_ok();
        if moved {
            self.wake_owner_if_later(slot.wheel, tick);
        }
        moved
    }

    /// Replaces the entry's waker if it would wake a different task. Returns false if the
    /// entry already fired.
    pub(crate) fn update_waker(&self, slot: Slot, waker: &Waker) -> bool {
        let mut wheel = self.wheels[slot.wheel].wheel.lock();
        match wheel.get_mut(slot.key) {
            Some(current) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Removes the entry (if it has not fired), returning its memory to the wheel. True if
    /// it was still armed.
    pub(crate) fn cancel(&self, slot: Slot) -> bool {
        let removed = self.wheels[slot.wheel].wheel.lock().cancel(slot.key);
        removed.is_some()
    }

    fn wake_owner_if_later(&self, wheel: usize, tick: u64) {
        let owner = &self.wheels[wheel];
        let parked_until = owner.parked_until.load(SeqCst);
        if parked_until != RUNNING && tick < parked_until {
            (owner.unpark)();
        }
    }

    /// Fires every due entry of `worker`'s wheel and of the wheels of busy workers, pushing
    /// their wakers to `due` (wake them after this returns, outside any lock).
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// let mut due = Vec::new();
    /// timer.fire_due(0, &mut due);
    /// assert!(due.is_empty());
    /// ```
    pub fn fire_due(&self, worker: usize, due: &mut Vec<Waker>) {
        let now = self.tick_before(Instant::now());
        for (index, wheel) in self.wheels.iter().enumerate() {
            let busy = wheel.parked_until.load(SeqCst) == RUNNING;
            if index != worker && !busy {
                continue;
            }
            let guard = if index == worker {
                Some(wheel.wheel.lock())
            } else {
                wheel.wheel.try_lock()
            };
            if let Some(mut guard) = guard {
                if guard.next_deadline().is_some_and(|next| next <= now) {
                    guard.advance(now, |waker| due.push(waker));
                }
            }
        }
    }

    /// Called by worker `worker` as it is about to park for at most `limit` (`None`: no
    /// limit). Fires what is due into `due`, publishes the park deadline, and returns how long
    /// the worker may park: until its own next deadline or a busy worker's, whichever is first.
    /// Must be followed by [`Timer::after_park`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// let mut due = Vec::new();
    /// let timeout = timer.before_park(0, Some(Duration::from_millis(5)), &mut due);
    /// assert_eq!(timeout, Some(Duration::from_millis(5)));
    /// timer.after_park(0);
    /// ```
    pub fn before_park(
        &self,
        worker: usize,
        limit: Option<Duration>,
        due: &mut Vec<Waker>,
    ) -> Option<Duration> {
        let own = &self.wheels[worker];
        own.parked_until.store(FOREVER, SeqCst);
        self.fire_due(worker, due);
        if !due.is_empty() {
            own.parked_until.store(RUNNING, SeqCst);
            return Some(Duration::ZERO);
        }
        let mut next = own.wheel.lock().next_deadline();
        for (index, wheel) in self.wheels.iter().enumerate() {
            if index != worker && wheel.parked_until.load(SeqCst) == RUNNING {
                if let Some(guard) = wheel.wheel.try_lock() {
                    next = match (next, guard.next_deadline()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        let now = Instant::now();
        let timer_timeout = next.map(|tick| self.instant_of(tick).saturating_duration_since(now));
        let timeout = match (timer_timeout, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let until = match timeout {
            Some(timeout) => self.tick_at_or_after(now + timeout).max(1),
            None => FOREVER,
        };
        own.parked_until.store(until, SeqCst);
        timeout
    }

    /// Called by worker `worker` when its park returns.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.after_park(0);
    /// ```
    pub fn after_park(&self, worker: usize) {
        self.wheels[worker].parked_until.store(RUNNING, SeqCst);
    }

    /// The number of registered, unfired timers in all wheels.
    ///
    /// ```
    /// assert_eq!(spindle_timer::Timer::new(vec![Box::new(|| {})]).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.wheels.iter().map(|w| w.wheel.lock().len()).sum()
    }

    /// True if no timer is registered.
    ///
    /// ```
    /// assert!(spindle_timer::Timer::new(vec![Box::new(|| {})]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("workers", &self.wheels.len())
            .finish_non_exhaustive()
    }
}
