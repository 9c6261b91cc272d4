//! A runtime's clock: the system's monotonic clock, or a paused one.
//!
//! Paused, the clock stands still: [`Clock::now`] returns the instant it stopped at, moved on
//! only by [`Clock::advance_to`] (a test's "an hour later", or the timer jumping to its next
//! deadline when the runtime is idle: see `driver`). Resumed, it runs at the system clock's
//! speed again from where it stood, so it never goes back.
//!
//! A clock that was never paused reads `Instant::now()` after one relaxed load of a flag: the
//! timer's hot paths (arming a sleep, firing due timers) pay nothing else for the feature.

use crate::loom::sync::atomic::AtomicBool;
use crate::loom::sync::Mutex;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::{Duration, Instant};

/// Set once any runtime's clock is first paused: until then every clock reads the system
/// clock, and a timer made outside any clock's reach (`context::now`) skips looking for one.
static ANY_PAUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// False while no clock in the process has ever been paused.
pub(crate) fn any_paused() -> bool {
    ANY_PAUSED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) struct Clock {
    /// False until the clock is first paused: `now` is then the system clock.
    shifted: AtomicBool,
    state: Mutex<State>,
}

struct State {
    paused: bool,
    /// Paused: the clock's time. Running (once shifted): its time at `resumed_at`.
    base: Instant,
    /// The system clock when the clock last resumed.
    resumed_at: Instant,
}

impl Clock {
    /// A running clock, paused at once if `paused`.
    pub(crate) fn new(paused: bool) -> Clock {
        let now = Instant::now();
        if paused {
            ANY_PAUSED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Clock {
            shifted: AtomicBool::new(paused),
            state: Mutex::new(State {
                paused,
                base: now,
                resumed_at: now,
            }),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        if !self.shifted.load(Acquire) {
            return Instant::now();
        }
        let state = self.state.lock();
        if state.paused {
            state.base
        } else {
            state.base + Instant::now().saturating_duration_since(state.resumed_at)
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.shifted.load(Acquire) && self.state.lock().paused
    }

    /// Stops the clock at its current time; false if it was paused already (then nothing
    /// changes).
    pub(crate) fn pause(&self) -> bool {
        let mut state = self.state.lock();
        if state.paused {
            return false;
        }
        let now = state.base + Instant::now().saturating_duration_since(state.resumed_at);
        state.base = now;
        state.paused = true;
        ANY_PAUSED.store(true, std::sync::atomic::Ordering::Relaxed);
        self.shifted.store(true, Release);
        true
    }

    /// Lets the clock run again from where it stands. Resuming a running clock does nothing.
    pub(crate) fn resume(&self) {
        let mut state = self.state.lock();
        if state.paused {
            state.paused = false;
            state.resumed_at = Instant::now();
        }
    }

    /// Moves a paused clock forward to `instant` (never back). False if the clock runs.
    pub(crate) fn advance_to(&self, instant: Instant) -> bool {
        let mut state = self.state.lock();
        if !state.paused {
            return false;
        }
        state.base = state.base.max(instant);
        true
    }

    /// Moves a paused clock forward by `duration`; returns its new time, or `None` if the
    /// clock runs.
    pub(crate) fn advance(&self, duration: Duration) -> Option<Instant> {
        let mut state = self.state.lock();
        if !state.paused {
            return None;
        }
        state.base = state
            .base
            .checked_add(duration)
            .unwrap_or_else(|| state.base + Duration::from_secs(60 * 60 * 24 * 365 * 30));
        Some(state.base)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_paused_clock_stands_still_until_advanced_and_resumes_from_there() {
        let clock = Clock::new(false);
        assert!(!clock.is_paused());
        clock.pause();
        let stopped = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), stopped);
        assert_eq!(
            clock.advance(Duration::from_secs(3600)),
            Some(stopped + Duration::from_secs(3600))
        );
        assert!(clock.advance_to(stopped), "never back");
        assert_eq!(clock.now(), stopped + Duration::from_secs(3600));
        clock.resume();
        let resumed = clock.now();
        assert!(resumed >= stopped + Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(5));
        assert!(clock.now() >= resumed + Duration::from_millis(5));
        assert_eq!(
            clock.advance(Duration::from_secs(1)),
            None,
            "only a paused clock advances"
        );
    }
}
