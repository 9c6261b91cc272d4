//! spindle's I/O: a mio reactor that at most one thread drives at a time, readiness tracking
//! that loses no wake-up, and non-blocking TCP, UDP and Unix domain sockets on top.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle_io::net::{TcpListener, TcpStream};
//!
//! spindle_io::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = async {
//!         let (stream, _) = listener.accept().await?;
//!         futures::io::copy(&stream, &mut &stream).await // echo until EOF
//!     };
//!     let client = async {
//!         let mut stream = TcpStream::connect(addr).await?;
//!         stream.write_all(b"hello").await?;
//!         stream.close().await?; // EOF for the server's copy
//!         let mut echoed = Vec::new();
//!         stream.read_to_end(&mut echoed).await?;
//!         Ok::<_, std::io::Error>(echoed)
//!     };
//!     let (copied, echoed) = futures::join!(server, client);
//!     assert_eq!(copied?, 5);
//!     assert_eq!(echoed?, b"hello");
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! A [`Reactor`] owns a `mio::Poll`. A runtime's worker with nothing to do calls
//! [`Reactor::try_turn`] (or [`Reactor::try_drive`] then [`Driver::turn`]): if no other thread
//! is driving, it blocks in `epoll_wait`, sets the readiness of the sockets that had events
//! and wakes their tasks; [`Reactor::unpark`] interrupts it. Sockets register with the reactor
//! that is current when they are created ([`enter`], [`set_default_reactor`]). On its own,
//! [`block_on`] runs a future on the calling thread and drives a process-wide reactor between
//! polls. The crate depends on no other engine crate, only on `spindle-core`; a runtime
//! stacks the reactor under its parking seam (`spindle_core::Park`) with an [`IoParker`] per
//! worker, over a thread parker.
//!
//! The modules:
//!
//! - `scheduled_io`: one socket's readiness word (readiness bits + the turn's tick) and its
//!   waiters: the invariants that rule out lost wake-ups and stale clears, and why.
//! - `registrations`: the registration set: generational tokens, so an event never reaches a
//!   socket that reused a dropped one's slot.
//! - `reactor`: the poll, its turn, unpark, shutdown, and how a runtime stacks it.
//! - `park`: a runtime worker's I/O parking layer ([`IoParker`]): park in the reactor or on the
//!   thread parker, and the state word that tells an unpark which of the two to wake.
//! - `registration`: a socket's link to its reactor: the wait / try / clear loop, deregistration
//!   on drop.
//! - `context`: which reactor a socket created on this thread registers with.
//! - `block_on`: the standalone driver.
//! - [`net`]: `TcpListener`, `TcpStream`, `TcpSocket`, `UdpSocket`, `ToSocketAddrs`,
//!   `UnixListener`, `UnixStream`, `UnixDatagram`.
//! - [`signal`]: `ctrl_c` and `unix::signal`: a handler that sets a flag and writes a self-pipe,
//!   which every reactor with a listener watches and dispatches from.
//! - [`process`]: `Command`, `Child` and its pipes; exits learned through a pidfd (or
//!   `SIGCHLD`), dropped children reaped by an orphan queue.
//! - `async_fd`: [`AsyncFd`], the reactor's readiness for any non-blocking file descriptor
//!   (a pipe, say), with the operations left to the caller.
//!
//! Socket operations that complete spend the cooperative budget of `spindle_core::coop`,
//! shared with the scheduler and the timer.
//!
//! The readiness protocol, the I/O parking word and `block_on`'s wake-up and hand-off rules
//! are model-checked with loom on the real code (`loom` holds the stand-ins for epoll and the
//! reactor's poll lock):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p spindle-io --release --lib
//! --target-dir target/loom -- loom_tests`.

#![deny(unsafe_code)]

mod async_fd;
#[cfg(feature = "standalone")]
mod block_on;
mod context;
mod loom;
pub mod net;
mod park;
pub mod process;
mod reactor;
// Under loom the epoll stand-in's events carry their readiness, so `Ready::from_mio` goes
// unused there.
#[cfg_attr(loom, allow(dead_code))]
mod ready;
mod registration;
mod registrations;
mod scheduled_io;
pub mod signal;

#[cfg(all(test, loom))]
mod loom_tests;

pub use async_fd::{AsyncFd, AsyncFdReadyGuard, Interest, TryIoError};
#[cfg(feature = "standalone")]
pub use block_on::block_on;
pub use context::{enter, set_default_reactor, EnterGuard};
pub use park::{IoParker, IoUnparker};

pub use reactor::{Driver, Reactor};
use spindle_core::coop;
