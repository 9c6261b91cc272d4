//! Readiness for any file descriptor: [`AsyncFd`], for a pipe, a terminal, an eventfd, or a
//! socket another library made, whose reads and writes your code does itself (asyncio's
//! `loop.add_reader`/`add_writer`, as a future).
//!
//! The types come from `spindle-io`. An `AsyncFd` registers with the reactor of the runtime it
//! is created in (a task, or inside `block_on`); one created outside any runtime uses the
//! default runtime's. The descriptor must be non-blocking. [`AsyncFd::readable`] waits until
//! the reactor reports it readable and returns an [`AsyncFdReadyGuard`]; its
//! [`try_io`](AsyncFdReadyGuard::try_io) runs the read, and if the read answers `WouldBlock`
//! clears the readiness and returns [`TryIoError`]: wait again.
//!
//! ```
//! use spindle::io::AsyncFd;
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//!
//! spindle::block_on(async {
//!     // Any non-blocking descriptor works; a socket pair stands in for a pipe here.
//!     let (ours, mut theirs) = UnixStream::pair()?;
//!     ours.set_nonblocking(true)?;
//!     let ours = AsyncFd::new(ours)?;
//!     let writer = std::thread::spawn(move || theirs.write_all(b"from a thread"));
//!     let mut buf = [0; 13];
//!     let mut filled = 0;
//!     while filled < buf.len() {
//!         let mut guard = ours.readable().await?;
//!         match guard.try_io(|mut socket| socket.read(&mut buf[filled..])) {
//!             Ok(n) => filled += n?,
//!             Err(_would_block) => continue, // readiness cleared: wait for the reactor
//!         }
//!     }
//!     assert_eq!(&buf, b"from a thread");
//!     writer.join().unwrap()?;
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<_, std::io::Error>(())
//! ```

pub use spindle_io::{AsyncFd, AsyncFdReadyGuard, Interest, TryIoError};
