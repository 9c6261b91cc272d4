//! spindle's timer: a hierarchical timing wheel, pure and clock-free.
//!
//! A [`TimerWheel`] holds values (in a runtime, `Waker`s or shared timer entries) with
//! deadlines in milliseconds since an origin of the caller's choosing. It never reads a clock:
//! the caller passes `now` to [`TimerWheel::advance`], which hands back every value whose
//! deadline has come, and asks [`TimerWheel::next_deadline`] how long it may sleep. Insert,
//! cancel and reset are O(1) and allocate nothing once the wheel is warm.
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
//! The modules:
//!
//! - [`wheel`]: the wheel: geometry, invariants, cascading, costs, and why.
//! - `slab`: the storage behind it: nodes in one `Vec`, threaded into index-linked lists, with
//!   generational keys.
//!
//! `Sleep`, per-worker wheels and the timer's part of parking are to be built on
//! [`TimerWheel`]; this crate does not read a clock or know about tasks yet.

#![forbid(unsafe_code)]

pub mod wheel;

mod slab;

pub use wheel::{StaleKey, TimerKey, TimerWheel};
