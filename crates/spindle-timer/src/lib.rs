//! spindle's timer: a hierarchical timing wheel per worker, and the futures built on it
//! (`sleep`, `sleep_until`, `timeout`, `interval`).
//!
//! A [`TimerWheel`] holds values with deadlines in ticks since an origin of the caller's
//! choosing (a runtime's tick is [`TICK`], 10 µs). It never reads a clock: the caller passes
//! `now` to [`TimerWheel::advance`], which hands back every value whose deadline has come, and
//! asks [`TimerWheel::next_deadline`] how long it may sleep. Insert, cancel and reset are O(1) and
//! allocate nothing once the wheel is warm.
//!
//! ```
//! use spindle_timer::TimerWheel;
//!
//! let mut wheel = TimerWheel::new(0); // the wheel's time: tick 0
//! let timeout = wheel.insert(250, "timeout");
//! wheel.insert(100, "sleep");
//! assert_eq!(wheel.cancel(timeout), Some("timeout")); // the guarded work finished first
//!
//! let mut fired = Vec::new();
//! while let Some(deadline) = wheel.next_deadline() {
//!     // A runtime would park until `deadline` here.
//!     wheel.advance(deadline, |value| fired.push((deadline, value)));
//! }
//! assert_eq!(fired, [(100, "sleep")]);
//! ```
//!
//! A [`Timer`] is a runtime's set of wheels, one per worker, with the clock origin and the
//! hooks a worker calls around parking ([`Timer::before_park`], [`Timer::after_park`]). The
//! runtime makes a timer current on its threads ([`enter`]); a [`Sleep`] registers with the
//! current timer on its first poll. On its own, [`block_on`] runs a future on the calling
//! thread with a one-wheel timer:
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! spindle_timer::block_on(spindle_timer::sleep(Duration::from_millis(20)));
//! assert!(start.elapsed() >= Duration::from_millis(20));
//! ```
//!
//! The modules:
//!
//! - [`wheel`]: the wheel: geometry, invariants, cascading, costs, and why.
//! - `slab`: the storage behind it: nodes in one `Vec`, threaded into index-linked lists, with
//!   generational keys.
//! - `driver`: per-worker wheels, registration, cancellation, firing, parking.
//! - `context`: which timer a `Sleep` polled on this thread uses.
//! - `sleep`, `timeout`, `interval`: the futures.
//! - `park`: [`TimerParker`], the timer's layer in a worker's parking stack.
//!
//! A completing sleep spends the cooperative budget of `spindle_core::coop`, shared with the
//! scheduler and the I/O crate.

#![deny(unsafe_code)]

mod clock;
mod context;
#[allow(unsafe_code)]
mod driver;
mod interval;
mod park;
mod slab;
mod sleep;
#[allow(unsafe_code)]
mod timeout;
pub mod wheel;

#[cfg(all(test, loom))]
mod loom_tests;

pub use context::{enter, set_default_timer, EnterGuard};
pub use driver::{Timer, TICK};
pub use interval::{interval, Interval, MissedTickBehavior};
pub use park::TimerParker;
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, Elapsed, Timeout};
pub use wheel::{StaleKey, TimerKey, TimerWheel};

use spindle_core::{coop, loom};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Runs `future` to completion on the calling thread with a timer of its own (one wheel,
/// fired by this thread): the timer crate's standalone driver, for tests and tools that need
/// sleeps without a runtime.
///
/// ```
/// let out = spindle_timer::block_on(async {
///     spindle_timer::sleep(std::time::Duration::from_millis(1)).await;
///     7
/// });
/// assert_eq!(out, 7);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let thread = std::thread::current();
    let unpark_thread = thread.clone();
    let timer = Timer::new(vec![Box::new(move || unpark_thread.unpark())]);
    let _current = enter(timer.clone(), Some(0));
    let waker = spindle_core::thread_waker(thread);
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut due = Vec::new();
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        match timer.before_park(0, None, &mut due) {
            Some(timeout) => std::thread::park_timeout(timeout),
            None => std::thread::park(),
        }
        timer.after_park(0);
        timer.fire_due(0, &mut due);
        due.drain(..).for_each(Waker::wake);
    }
}
