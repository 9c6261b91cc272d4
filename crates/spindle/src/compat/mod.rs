//! Adapters that run other crates' runtime-agnostic libraries on spindle.
//!
//! Each adapter sits behind a cargo feature named after the crate it adapts, so a program that
//! does not use it pays nothing for it:
//!
//! | feature | module | adapts |
//! | --- | --- | --- |
//! | `hyper` | [`hyper`] | hyper 1.x's `rt` traits: I/O, executor, timer |

#[cfg(feature = "hyper")]
pub mod hyper;
