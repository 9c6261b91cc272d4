//! spindle's base: the few pieces every engine crate shares, so that the scheduler, the timer
//! and the I/O reactor can stack without depending on each other.
//!
//! - [`coop`]: the cooperative budget. One per thread; the scheduler refills it before each
//!   task poll, and join handles, sleeps and sockets spend it.
//! - [`Park`] / [`Unpark`]: the parking seam. A worker with nothing to run calls
//!   [`Park::park`]; a driver (the timer, the reactor) stacks under the scheduler by
//!   implementing `Park` around an inner `Park`, and [`ThreadParker`] is the bottom of every
//!   stack.
//! - [`loom`]: the switch between std's synchronization primitives and loom's, so the engine
//!   crates' loom models run their real code.
//! - [`thread_waker`]: a waker that unparks a thread, for `block_on`s.
//!
//! The crate depends on nothing but std (and loom, for the models).
//!
//! ```
//! use spindle_core::{Park, ThreadParker, Unpark};
//!
//! let mut parker = ThreadParker::new();
//! let unparker = parker.unparker();
//! std::thread::spawn(move || unparker.unpark());
//! parker.park(); // returns once the other thread has unparked it
//! ```

pub mod coop;
pub mod loom;
mod park;
mod waker;

pub use park::{Park, ThreadParker, ThreadUnparker, Unpark};
pub use waker::{thread_waker, thread_waker_vtable, thread_waker_with_flag, WokenFlag};

#[cfg(all(test, loom))]
mod loom_tests {
    mod park;
}
