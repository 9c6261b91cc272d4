//! Time: `sleep`, `sleep_until`, `timeout`, `interval` (asyncio's `sleep` and `wait_for`), and
//! the timer's layer in each worker's parking stack.
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

use spindle_scheduler::Park;
use spindle_timer::Timer;
use std::future::Future;
use std::sync::Arc;
use std::task::Waker;
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

/// The timer layer of worker `index`'s parking stack, over `P` (the I/O layer). Before
/// blocking it fires due timers (its own wheel's, and those of busy workers) and bounds the
/// park by the next deadline; after waking it fires what came due and wakes those tasks (onto
/// this worker).
pub(crate) struct TimerParker<P> {
    inner: P,
    timer: Arc<Timer>,
    index: usize,
    due: Vec<Waker>,
}

impl<P: Park> TimerParker<P> {
    pub(crate) fn new(inner: P, timer: Arc<Timer>, index: usize) -> TimerParker<P> {
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
            match self.timer.before_park(self.index, limit, &mut self.due) {
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
    type Unpark = P::Unpark;

    fn unpark(&self) -> P::Unpark {
        self.inner.unpark()
    }

    fn park(&mut self) {
        self.park_for(None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.park_for(Some(timeout));
    }
}
