//! Unix signals as futures: asyncio's `loop.add_signal_handler`. [`ctrl_c`] waits for the
//! next Ctrl-C; [`unix::signal`] gives a listener for any catchable signal, whose `recv`
//! waits for the next delivery.
//!
//! ```
//! use spindle::signal::unix::{signal, SignalKind};
//!
//! spindle::block_on(async {
//!     let mut reload = signal(SignalKind::hangup())?;
//!     let me = std::process::id().to_string();
//!     std::process::Command::new("kill").args(["-HUP", &me]).status()?;
//!     reload.recv().await; // a daemon would re-read its configuration here
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! A server that stops cleanly on Ctrl-C races its work against [`ctrl_c`]:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! #[spindle::main]
//! async fn main() -> std::io::Result<()> {
//!     let server = spindle::spawn(async {
//!         loop {
//!             spindle::sleep(Duration::from_secs(1)).await; // serve...
//!         }
//!     });
//!     spindle::signal::ctrl_c().await?;
//!     println!("shutting down");
//!     server.abort();
//!     Ok(())
//! }
//! ```
//!
//! What to know:
//!
//! - The first listener for a signal installs a handler for it for the rest of the process:
//!   from then on the signal's default action (`SIGINT` and `SIGTERM` ending the process)
//!   does not come back, even after every listener is dropped. Exit yourself
//!   (`std::process::exit`) after handling it, if that is what it should do.
//! - Deliveries merge: however many signals of a kind arrive between two `recv`s, the next
//!   `recv` returns once. A signal that arrives between two `recv`s is never lost.
//! - Every listener of a kind sees every delivery, whatever runtime or task it is in. A
//!   listener's `recv` returns `None` once the runtime it was made in is dropped.
//! - `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV` cannot be listened for
//!   (`InvalidInput`).
//!
//! The types come from `spindle-io` (`spindle_io::signal`), whose module docs describe how a
//! signal travels from its handler to the tasks: a flag and a byte on a self-pipe that each
//! runtime's reactor watches.

pub use spindle_io::signal::{ctrl_c, unix};
