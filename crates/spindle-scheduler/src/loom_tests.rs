//! loom models of the scheduler's concurrency protocols, run on the real code.
//!
//! Everything the models touch (the task state word and cells, the owned-task registry, the
//! parker, the idle counts) is built from `crate::loom`, which is loom under `cfg(loom)`, so
//! loom explores the interleavings of the crate's own atomics and mutexes. Run them with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p spindle-scheduler --release --lib --target-dir target-loom -- loom_tests
//! ```
//!
//! Each model's doc comment names the bug it would catch. Besides the models' own assertions,
//! loom itself fails an execution on: a deadlock (every thread blocked: a lost wake-up), a
//! concurrent or unsynchronized access to a `loom::cell::UnsafeCell` (two threads touching a
//! task's future, output or join waker at once), and a loom `Arc` still alive when the
//! execution ends (a task never deallocated: each task holds a clone of its scheduler's
//! `Arc`).
//!
//! Counters that only the models read (drops, wake-ups) are std atomics: loom does not see
//! them, so they add no interleavings, and loom runs every model thread on one OS thread.

mod deterministic;
mod idle;
mod lifo;
mod local;
mod probe;
mod slow_poll;
mod spawn_time;
mod task;

use spindle_core::loom::model;
