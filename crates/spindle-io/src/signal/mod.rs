//! Unix signals as futures: [`ctrl_c`], and any signal with [`unix::signal`].
//!
//! ```
//! use spindle_io::signal::unix::{signal, SignalKind};
//!
//! spindle_io::block_on(async {
//!     let mut terminate = signal(SignalKind::terminate())?;
//!     let me = std::process::id().to_string();
//!     std::process::Command::new("kill").args(["-TERM", &me]).status()?;
//!     // With a listener, SIGTERM no longer ends the process: it is reported here.
//!     terminate.recv().await;
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # How a signal reaches a task
//!
//! The first listener for a signal installs a handler for it through `signal-hook-registry`
//! (which chains a handler installed before, and lets several libraries share a signal). The
//! handler does only async-signal-safe work: it sets the signal's pending flag (an atomic)
//! and writes one byte to a process-wide non-blocking socket pair, the self-pipe. Every reactor
//! that a listener was made on registers its own duplicate of the pipe's read end; the reactor
//! that finds its duplicate readable drains it and dispatches, on its own thread: for every
//! signal whose flag is set it clears the flag, bumps the signal's generation and wakes every
//! listener of it, in whatever runtime. A listener remembers the generation it last returned
//! for, so a signal that arrives between two `recv`s is seen by the next one. Several runtimes
//! in one process each watch the pipe; a signal is dispatched once, by whichever sees it first.
//! The protocol and why it loses nothing are in `registry.rs`; the per-reactor watch, which
//! adds nothing to the reactor's turn, in `watcher.rs`.
//!
//! # What listening changes for the process
//!
//! Installing a handler replaces the signal's disposition for the whole process, for good:
//! once a listener has been made for `SIGINT`, Ctrl-C no longer ends the process, also after
//! every listener is dropped (a `SIGINT` that no listener waits for is then ignored). tokio
//! behaves the same way. A program that wants the default action back after handling one
//! signal exits itself (`std::process::exit`).
//!
//! Deliveries merge: the kernel keeps at most one pending instance of a standard signal, and
//! spindle reports several deliveries between two `recv`s as one.
//!
//! A listener is woken only while some reactor that watches the pipe is running (a runtime's,
//! or a [`block_on`](crate::block_on) of the standalone one): a runtime that is idle waits in
//! its reactor, so this holds whenever the runtime the listener was made on exists. When that
//! runtime is dropped, its listeners' `recv` returns `None`.

mod registry;
pub mod unix;
mod watcher;

#[cfg(all(test, loom))]
pub(crate) use registry::Registry;

use std::io;

/// Waits for the next Ctrl-C (`SIGINT`): asyncio's `loop.add_signal_handler(SIGINT, ...)`,
/// as a future.
///
/// The handler is installed when the future is first polled: a `SIGINT` before that is not
/// reported (and, if no listener for it ever existed, ends the process by default). From then
/// on `SIGINT` no longer ends the process, for the rest of its life (see the module docs);
/// call `std::process::exit` after handling it if that is what it should do.
///
/// # Errors
///
/// If the handler cannot be installed, or the runtime's reactor shut down before a `SIGINT`
/// came.
///
/// # Cancel safety
///
/// Dropping the future loses nothing that was already reported, but a `SIGINT` that arrives
/// after it was dropped and before the next `ctrl_c()` is first polled is seen by neither. To
/// handle Ctrl-C repeatedly (in a `select!` loop, say), keep one
/// [`signal(SignalKind::interrupt())`](unix::signal) and call its cancel-safe `recv`.
///
/// ```
/// spindle_io::block_on(async {
///     let mut ctrl_c = std::pin::pin!(spindle_io::signal::ctrl_c());
///     assert!(futures::poll!(&mut ctrl_c).is_pending()); // the handler is installed now
///     let me = std::process::id().to_string();
///     std::process::Command::new("kill").args(["-INT", &me]).status()?;
///     ctrl_c.await // returns instead of the process ending
/// })
/// .unwrap();
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupts = unix::signal(unix::SignalKind::interrupt())?;
    match interrupts.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "the spindle reactor that was waiting for Ctrl-C has shut down (its runtime was \
             dropped)",
        )),
    }
}
