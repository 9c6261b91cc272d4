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

/// The current runtime's time: `Instant::now()` while its clock runs, the instant it stands at
/// while [paused](pause). Outside any runtime, `Instant::now()`. `sleep(d)` completes when
/// this reaches the instant `now() + d`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let before = Instant::now();
/// assert!(spindle::time::now() >= before);
/// ```
pub fn now() -> Instant {
    crate::context::with_current(|current| match current {
        Some(handle) => handle.timer().now(),
        None => Instant::now(),
    })
}

/// Stops the current runtime's clock (any flavour, the multi-thread one included), for
/// tests: [`now`] stands still, and time moves only by [`advance`], or, whenever no task can
/// run (every worker parked, nothing queued, no I/O ready, no `spawn_blocking` closure
/// running), by jumping to the next timer's deadline. So an hour of sleeps takes
/// microseconds, and timeouts fire exactly in deadline order. A task that keeps running (a
/// loop of `yield_now`) holds the clock where it is.
///
/// Sleeps, timeouts and intervals made before the pause keep their deadlines on the same
/// clock. Pausing a paused clock does nothing.
///
/// # Panics
///
/// Outside a runtime: there is no clock to pause. Call it inside `block_on` or a task.
///
/// ```
/// use std::time::Duration;
///
/// let runtime = spindle::Runtime::new().unwrap();
/// runtime.block_on(async {
///     spindle::time::pause();
///     let start = spindle::time::now();
///     let real = std::time::Instant::now();
///     spindle::sleep(Duration::from_secs(3600)).await;
///     assert_eq!(spindle::time::now() - start, Duration::from_secs(3600));
///     assert!(real.elapsed() < Duration::from_secs(60));
/// });
/// ```
#[track_caller]
pub fn pause() {
    current_timer("pause").pause();
}

/// Lets the current runtime's clock run again, from the instant it stands at (it never goes
/// back). Resuming a running clock does nothing.
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// spindle::block_on(async {
///     spindle::time::pause();
///     spindle::time::resume();
///     let a = spindle::time::now();
///     std::thread::sleep(std::time::Duration::from_millis(2));
///     assert!(spindle::time::now() > a);
/// });
/// ```
#[track_caller]
pub fn resume() {
    current_timer("resume").resume();
}

/// Moves the current runtime's paused clock forward by `duration`, wakes every timer that
/// falls due, and yields once so that their tasks can run. Like any future, it does nothing
/// until awaited.
///
/// # Panics
///
/// When awaited outside a runtime, or if its clock is not paused ([`pause`] it first, or build the runtime
/// with [`Builder::start_paused`](crate::Builder::start_paused)).
///
/// ```
/// use std::time::Duration;
///
/// let runtime = spindle::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let sleeper = spindle::spawn(spindle::sleep(Duration::from_secs(10)));
///     spindle::time::advance(Duration::from_secs(5)).await;
///     assert!(!sleeper.is_finished());
///     spindle::time::advance(Duration::from_secs(5)).await;
///     sleeper.await.unwrap();
/// });
/// ```
pub async fn advance(duration: Duration) {
    let timer = current_timer("advance");
    if !timer.advance(duration) {
        panic!(
            "spindle::time::advance called while the runtime's clock runs; pause it first \
             (spindle::time::pause(), or Builder::start_paused(true))"
        );
    }
    crate::yield_now().await;
}

/// The current runtime's timer, or a panic naming `what` and the fix.
#[track_caller]
fn current_timer(what: &str) -> std::sync::Arc<spindle_timer::Timer> {
    crate::context::with_current(|current| current.map(|handle| handle.timer().clone()))
        .unwrap_or_else(|| {
            panic!(
                "spindle::time::{what} called outside a runtime, which has no clock to {what}; \
                 call it inside block_on or a spawned task"
            )
        })
}
