//! Time: `sleep`, `sleep_until`, `timeout`, `interval` (asyncio's `sleep` and `wait_for`).
//!
//! The futures come from `spindle-timer`; these functions make sure a `Sleep` polled outside
//! any runtime attaches to the process-wide default runtime. Deadlines have 10 µs resolution
//! ([`spindle_timer::TICK`]) and round up: a sleep never completes early, and on an idle
//! runtime completes a fraction of a millisecond after its deadline.
//!
//! ```
//! use spindle::time::{sleep, timeout};
//! use std::time::Duration;
//!
//! spindle::block_on(async {
//!     sleep(Duration::from_millis(5)).await;
//!     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(10))).await;
//!     assert!(slow.is_err());
//! });
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

pub use spindle_timer::{Elapsed, Interval, MissedTickBehavior, Sleep, Timeout};

fn attach_default() {
    crate::runtime::install_default_drivers();
}

/// Waits until `duration` has elapsed: asyncio's `await asyncio.sleep(n)`.
///
/// `Duration::MAX` (or any duration past what `Instant` can hold) waits forever, without
/// overflowing.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// spindle::block_on(spindle::sleep(Duration::from_millis(20)));
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    attach_default();
    spindle_timer::sleep(duration)
}

/// Waits until `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(10);
/// spindle::block_on(spindle::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    attach_default();
    spindle_timer::sleep_until(deadline)
}

/// Runs `future` for at most `duration`: `Ok(output)` if it finishes in time, otherwise
/// `Err(Elapsed)` and `future` is dropped: asyncio's `wait_for`.
///
/// ```
/// use std::time::Duration;
///
/// spindle::block_on(async {
///     let fast = spindle::timeout(Duration::from_secs(1), async { "done" }).await;
///     assert_eq!(fast, Ok("done"));
///     let slow = spindle::timeout(Duration::from_millis(10), spindle::sleep(Duration::from_secs(60))).await;
///     assert!(slow.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    attach_default();
    spindle_timer::timeout(duration, future)
}

/// Ticks every `period`, the first tick at once; `tick().await` returns the tick's
/// `Instant`. Missed ticks burst by default; see [`MissedTickBehavior`].
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
///
/// spindle::block_on(async {
///     let mut interval = spindle::interval(Duration::from_millis(5));
///     let first = interval.tick().await;
///     let second = interval.tick().await;
///     assert!(second - first >= Duration::from_millis(5));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    attach_default();
    spindle_timer::interval(period)
}
