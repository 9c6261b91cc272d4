//! `AsyncFd`: the reactor's readiness for any file descriptor (a pipe, a terminal, an eventfd, a
//! socket made by another library), for code that does its own non-blocking reads and writes.
//!
//! # The protocol
//!
//! ```text
//! loop {
//!     guard = async_fd.readable().await?      // the reactor says the fd may be readable
//!     match guard.try_io(|inner| read(inner)) {
//!         Ok(result) => return result,          // progress, or a real error
//!         Err(TryIoError) => continue,          // WouldBlock: readiness cleared, wait again
//!     }
//! }
//! ```
//!
//! It is the loop every spindle socket runs (`crate::registration`), with the operation in the
//! caller's hands: readiness is edge-triggered, so it is cleared only when the caller says the
//! descriptor answered `WouldBlock` ([`AsyncFdReadyGuard::clear_ready`], or `try_io` seeing
//! it), and only if no newer reactor turn set it again (rule 2 of `crate::scheduled_io`).
//! Forgetting to clear makes the next `readable` return at once: a busy loop, never a lost
//! wake-up. A new `AsyncFd` assumes its directions ready, as a new socket does: the first
//! operation is tried without waiting for the reactor.
//!
//! # Registration and deregistration
//!
//! The descriptor is registered by number (`mio::unix::SourceFd`), and `AsyncFd` owns the `T`
//! that owns it. Dropping an `AsyncFd` or calling [`AsyncFd::into_inner`] takes the descriptor
//! off epoll's interest list explicitly (`EPOLL_CTL_DEL`), before `T` is dropped or handed
//! back: unlike a socket's, the descriptor may outlive the registration (`into_inner`, a `T`
//! that does not close it, a duplicate elsewhere), and a registration left behind would make
//! the next `AsyncFd` of the same descriptor fail with `EEXIST`.

use crate::context;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use crate::scheduled_io::ReadyEvent;
use mio::event::Source;
use mio::unix::SourceFd;
use mio::Token;
use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::ops::BitOr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

/// The directions an [`AsyncFd`] waits in: [`READABLE`](Self::READABLE),
/// [`WRITABLE`](Self::WRITABLE), or both (`Interest::READABLE | Interest::WRITABLE`). Never
/// empty.
///
/// ```
/// use spindle_io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Wait for the descriptor to become readable (or its read side to close).
    ///
    /// ```
    /// assert!(spindle_io::Interest::READABLE.is_readable());
    /// ```
    pub const READABLE: Interest = Interest(0b01);
    /// Wait for the descriptor to become writable (or its write side to close).
    ///
    /// ```
    /// assert!(spindle_io::Interest::WRITABLE.is_writable());
    /// ```
    pub const WRITABLE: Interest = Interest(0b10);

    /// Both `self` and `other`: `|` in a `const` context.
    ///
    /// ```
    /// use spindle_io::Interest;
    ///
    /// const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);
    /// assert_eq!(BOTH, Interest::READABLE | Interest::WRITABLE);
    /// ```
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// Whether this includes [`READABLE`](Self::READABLE).
    ///
    /// ```
    /// assert!(!spindle_io::Interest::WRITABLE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.0 & Interest::READABLE.0 != 0
    }

    /// Whether this includes [`WRITABLE`](Self::WRITABLE).
    ///
    /// ```
    /// assert!(!spindle_io::Interest::READABLE.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.0 & Interest::WRITABLE.0 != 0
    }

    fn includes(self, direction: Direction) -> bool {
        match direction {
            Direction::Read => self.is_readable(),
            Direction::Write => self.is_writable(),
        }
    }

    fn to_mio(self) -> mio::Interest {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (true, false) => mio::Interest::READABLE,
            // Never empty, so writable.
            (false, _) => mio::Interest::WRITABLE,
        }
    }

    /// The readiness assumed at registration: every direction of interest.
    fn assumed(self) -> Ready {
        let mut ready = Ready::EMPTY;
        if self.is_readable() {
            ready = ready | Ready::READABLE;
        }
        if self.is_writable() {
            ready = ready | Ready::WRITABLE;
        }
        ready
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, _) => f.write_str("WRITABLE"),
        }
    }
}

/// A descriptor as a mio source, by number (`SourceFd` borrows, so it cannot be stored).
#[derive(Debug)]
struct Fd(RawFd);

impl Source for Fd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        SourceFd(&self.0).deregister(registry)
    }
}

/// A registration that takes its descriptor off epoll's interest list when dropped, which a
/// socket's leaves to the descriptor's close (see the module docs).
struct FdRegistration(Registration<Fd>);

impl Drop for FdRegistration {
    fn drop(&mut self) {
        let fd = self.0.source().0;
        // An error means the descriptor is no longer registered (it was closed behind the
        // `AsyncFd`'s back): nothing is left to remove.
        let _ = self.0.reactor().registry.deregister(&mut SourceFd(&fd));
    }
}

/// A file descriptor registered with the reactor, owned through `T` (a `File`, an `OwnedFd`, a
/// foreign library's handle). [`readable`](Self::readable) and [`writable`](Self::writable)
/// wait until the reactor reports the descriptor ready and return a guard, whose
/// [`try_io`](AsyncFdReadyGuard::try_io) runs a non-blocking operation and clears the readiness
/// if it answers `WouldBlock` (the module docs give the loop).
///
/// The descriptor must be in non-blocking mode (`O_NONBLOCK`), which `AsyncFd` does not set:
/// a blocking read would block the worker thread, and every task on it, instead of answering
/// `WouldBlock`. It must stay open, and be the same descriptor, for the `AsyncFd`'s life.
///
/// ```
/// use spindle_io::AsyncFd;
/// use std::fs::File;
/// use std::io::{Read, Write};
/// use std::os::fd::{FromRawFd, OwnedFd};
///
/// /// A pipe whose two ends are non-blocking.
/// fn pipe() -> std::io::Result<(File, File)> {
///     let mut fds = [0; 2];
///     // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
///     if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
///         return Err(std::io::Error::last_os_error());
///     }
///     // SAFETY: `pipe2` succeeded: both descriptors are open and owned by nobody else.
///     let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
///     Ok((File::from(read), File::from(write)))
/// }
///
/// spindle_io::block_on(async {
///     let (reader, mut writer) = pipe()?;
///     let reader = AsyncFd::new(reader)?;
///     let read = async {
///         let mut buf = [0; 16];
///         loop {
///             let mut guard = reader.readable().await?;
///             match guard.try_io(|mut file| file.read(&mut buf)) {
///                 Ok(n) => return Ok::<_, std::io::Error>(buf[..n?].to_vec()),
///                 Err(_would_block) => continue, // readiness cleared: wait for the reactor
///             }
///         }
///     };
///     let write = async { writer.write_all(b"through a pipe") };
///     let (got, written) = futures::join!(read, write);
///     written?;
///     assert_eq!(got?, b"through a pipe");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct AsyncFd<T: AsRawFd> {
    // Dropped first: the descriptor leaves epoll before `inner` closes it.
    registration: FdRegistration,
    interest: Interest,
    inner: T,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner`'s descriptor with the current reactor, waiting in both directions
    /// (`Interest::READABLE | Interest::WRITABLE`). The descriptor must already be
    /// non-blocking.
    ///
    /// # Errors
    ///
    /// What `epoll_ctl(2)` reports, unchanged: `EPERM` (`PermissionDenied`) for a descriptor
    /// epoll cannot watch, such as a regular file or a directory; `EEXIST` (`AlreadyExists`)
    /// for a descriptor already registered with this reactor (by another `AsyncFd`, say);
    /// `EBADF` for one that is not open. Or the reactor's error if it has shut down. `inner`
    /// is dropped with the error.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let file = std::fs::File::open("Cargo.toml")?;
    ///     let error = spindle_io::AsyncFd::new(file).unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied, "epoll refuses files");
    ///
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     a.writable().await?; // an empty socket buffer has room
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// [`new`](Self::new), waiting only in the directions of `interest`: a read end of a pipe
    /// needs only [`Interest::READABLE`], and is then not woken by events it does not wait
    /// for.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// use spindle_io::{AsyncFd, Interest};
    ///
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = AsyncFd::with_interest(a, Interest::WRITABLE)?;
    ///     a.writable().await?;
    ///     let error = a.readable().await.unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "not waiting to read");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        let registration = Registration::new(
            context::current(),
            Fd(inner.as_raw_fd()),
            interest.to_mio(),
            interest.assumed(),
        )?;
        Ok(AsyncFd {
            registration: FdRegistration(registration),
            interest,
            inner,
        })
    }

    /// Waits until the reactor reports the descriptor readable (or its read side closed, or an
    /// error pending), and returns a guard to read with.
    ///
    /// Readiness is a hint: the read may still answer `WouldBlock` (another task read first,
    /// or the readiness was assumed at registration). Then clear it, with
    /// [`try_io`](AsyncFdReadyGuard::try_io) or [`clear_ready`](AsyncFdReadyGuard::clear_ready),
    /// and wait again. A wait that finds the descriptor ready spends one unit of the task's
    /// cooperative budget, so a loop that never clears still lets its neighbours run.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the `AsyncFd` was made without [`Interest::READABLE`]; an error if the
    /// reactor has shut down (its runtime was dropped).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: waiting takes nothing from the descriptor and leaves its readiness as it
    /// was, so a dropped `readable` loses no event.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// spindle_io::block_on(async {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     b.write_all(b"x")?;
    ///     let mut guard = a.readable().await?;
    ///     let n = guard.try_io(|mut socket| std::io::Read::read(&mut socket, &mut [0; 4]));
    ///     assert_eq!(n.unwrap()?, 1);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Direction::Read).await
    }

    /// Waits until the reactor reports the descriptor writable (or its write side closed, or
    /// an error pending), and returns a guard to write with; as [`readable`](Self::readable)
    /// in the other direction.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the `AsyncFd` was made without [`Interest::WRITABLE`]; an error if the
    /// reactor has shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`readable`](Self::readable).
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     let mut guard = a.writable().await?;
    ///     let n = guard.try_io(|mut socket| std::io::Write::write(&mut socket, b"hello"));
    ///     assert_eq!(n.unwrap()?, 5);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Direction::Write).await
    }

    async fn ready(&self, direction: Direction) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        if !self.interest.includes(direction) {
            let (method, wanted) = match direction {
                Direction::Read => ("readable", "READABLE"),
                Direction::Write => ("writable", "WRITABLE"),
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "AsyncFd::{method} on a descriptor registered with {:?} only, which never \
                     becomes {method}; create it with AsyncFd::with_interest(inner, \
                     Interest::{wanted} | ...)",
                    self.interest
                ),
            ));
        }
        let event = poll_fn(|cx| self.poll_ready(direction, cx)).await?;
        Ok(AsyncFdReadyGuard {
            async_fd: self,
            event,
        })
    }

    /// Readiness in `direction`, spending one unit of the cooperative budget when it is there.
    fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let spent = ready!(crate::coop::poll_spend(cx));
        let event = ready!(self.registration.0.poll_ready(direction, cx))?;
        spent.made_progress();
        Poll::Ready(Ok(event))
    }

    /// The inner value.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     assert!(a.get_ref().peer_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The inner value, mutably. Do not close or replace its descriptor: the registration is
    /// by descriptor number.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let mut a = spindle_io::AsyncFd::new(a)?;
    ///     a.get_mut().write_all(b"sent without waiting")?; // the buffer has room
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Deregisters the descriptor from the reactor and returns the inner value, its descriptor
    /// still open (and still non-blocking).
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// spindle_io::block_on(async {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let mut a = spindle_io::AsyncFd::new(a)?.into_inner();
    ///     b.write_all(b"still open")?;
    ///     let mut buf = [0; 10];
    ///     a.read_exact(&mut buf)?;
    ///     assert_eq!(&buf, b"still open");
    ///     let _again = spindle_io::AsyncFd::new(a)?; // deregistered, so it registers again
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn into_inner(self) -> T {
        let AsyncFd {
            registration,
            inner,
            ..
        } = self;
        drop(registration);
        inner
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: AsRawFd + AsFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .field("interest", &self.interest)
            .finish()
    }
}

/// The readiness one [`AsyncFd::readable`] or [`AsyncFd::writable`] found: run the operation
/// with [`try_io`](Self::try_io), or run it yourself and call
/// [`clear_ready`](Self::clear_ready) if it answered `WouldBlock`.
///
/// ```
/// use std::io::Read;
///
/// spindle_io::block_on(async {
///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
///     a.set_nonblocking(true)?;
///     let a = spindle_io::AsyncFd::new(a)?;
///     // Readiness is assumed at registration; the read finds nothing and clears it.
///     let mut guard = a.readable().await?;
///     let error = guard.get_inner().read(&mut [0; 4]).unwrap_err();
///     assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
///     guard.clear_ready(); // the next `readable` waits for the reactor
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    async_fd: &'a AsyncFd<T>,
    event: ReadyEvent,
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// Clears the readiness this guard found, because an operation answered `WouldBlock`: the
    /// next wait in this direction waits for the reactor's next event. Readiness that a newer
    /// reactor turn set is kept, so no event is lost. Clearing when the operation did not
    /// answer `WouldBlock` can make the task wait for an event that never comes (the kernel
    /// reports an edge once).
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     loop {
    ///         let mut guard = a.writable().await?;
    ///         match guard.get_inner().write(&[0; 4096]) {
    ///             Ok(_) => continue, // the buffer still had room
    ///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
    ///                 guard.clear_ready(); // full: the next `writable` waits for room
    ///                 break;
    ///             }
    ///             Err(e) => return Err(e),
    ///         }
    ///     }
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn clear_ready(&mut self) {
        self.async_fd.registration.0.clear_readiness(self.event);
    }

    /// Runs `f` on the inner value: `Ok` with its result, unless it answered `WouldBlock`, in
    /// which case the readiness is cleared ([`clear_ready`](Self::clear_ready)) and
    /// `Err(TryIoError)` says to wait again. `f` must not block: the descriptor is expected to
    /// be non-blocking.
    ///
    /// # Errors
    ///
    /// [`TryIoError`] if `f` answered `WouldBlock`. `f`'s other errors come back inside `Ok`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// spindle_io::block_on(async {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     let mut buf = [0; 4];
    ///     let mut guard = a.readable().await?; // assumed at registration
    ///     assert!(guard.try_io(|mut s| s.read(&mut buf)).is_err(), "nothing to read yet");
    ///     b.write_all(b"ok")?;
    ///     let n = loop {
    ///         match a.readable().await?.try_io(|mut s| s.read(&mut buf)) {
    ///             Ok(n) => break n?,
    ///             Err(_would_block) => continue,
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"ok");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(&self.async_fd.inner) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd` this guard came from.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     let guard = a.writable().await?;
    ///     assert_eq!(guard.get_ref().as_raw_fd(), a.as_raw_fd());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.async_fd
    }

    /// The `AsyncFd`'s inner value.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = spindle_io::AsyncFd::new(a)?;
    ///     let guard = a.writable().await?;
    ///     assert!(guard.get_inner().peer_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn get_inner(&self) -> &'a T {
        &self.async_fd.inner
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("async_fd", self.async_fd)
            .field("ready", &self.event.ready)
            .finish()
    }
}

/// The operation in [`AsyncFdReadyGuard::try_io`] answered `WouldBlock`: the readiness was
/// cleared, so wait again.
///
/// ```
/// let error: Box<dyn std::error::Error> = Box::new(spindle_io::TryIoError::default());
/// assert!(error.to_string().contains("WouldBlock"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TryIoError(());

impl fmt::Display for TryIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation answered WouldBlock; its readiness was cleared, wait again")
    }
}

impl Error for TryIoError {}
