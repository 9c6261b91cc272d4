//! `UnixStream`: a connected Unix domain stream socket, read and written through `futures-io`'s
//! traits; and the address handling the three Unix socket types share.
//!
//! # Addresses
//!
//! A path names a socket file. It is checked by std's rules
//! (`std::os::unix::net::SocketAddr::from_pathname`): at most `SUN_LEN` bytes and no NUL byte,
//! so a path starting with a NUL byte is `InvalidInput`, not an abstract name. Abstract names
//! (Linux) go through the `*_addr` constructors, with an address built by
//! `std::os::linux::net::SocketAddrExt::from_abstract_name`.
//!
//! # No `SIGPIPE`
//!
//! Writing to a stream whose peer has gone raises `SIGPIPE` unless the write says otherwise, and
//! a process that has not ignored the signal (a Rust program started from C, a library loaded
//! into a process that restored `SIG_DFL`) dies of it. Every write here is a `send` with
//! `MSG_NOSIGNAL`, so it fails with `BrokenPipe` instead, whatever the signal's disposition.
//!
//! # When a read waits for the reactor
//!
//! As `TcpStream`'s: a read that returns fewer bytes than its buffer holds clears the read
//! readiness; a read that fills its buffer keeps it, and the next read asks the socket first.

use super::with_context;
use super::SEND_FLAGS;
use crate::context;
use crate::reactor::Reactor;
use crate::ready::Direction;
use crate::registration::Registration;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// `path` as a socket address, by std's rules: `InvalidInput` for a path too long or holding a
/// NUL byte (so never an abstract name).
pub(super) fn pathname(path: &Path) -> io::Result<SocketAddr> {
    SocketAddr::from_pathname(path)
}

/// `addr` for a system call: a path, or (Linux) an abstract name; `InvalidInput` for an
/// unnamed address, which names no socket.
pub(super) fn sock_addr(addr: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;

        if let Some(name) = addr.as_abstract_name() {
            // socket2 reads a leading NUL byte as "abstract"; `pathname` never lets one through.
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "an unnamed Unix socket address names no socket to bind or connect to",
    ))
}

/// `addr` for an error message: the path, `@name` for an abstract name (as `ss` shows it), or
/// `(unnamed)`.
pub(super) fn describe(addr: &SocketAddr) -> String {
    if let Some(path) = addr.as_pathname() {
        return path.display().to_string();
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;

        if let Some(name) = addr.as_abstract_name() {
            return format!("@{}", name.escape_ascii());
        }
    }
    "(unnamed)".to_owned()
}

/// A connected Unix domain stream socket. `UnixStream` and `&UnixStream` implement
/// [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`], so one task can read while
/// another writes through a shared reference. `poll_close` shuts the write half down (the peer
/// reads EOF); dropping the stream closes it.
///
/// Writes never raise `SIGPIPE`: a write after the peer has closed fails with `BrokenPipe`.
///
/// # Cancel safety
///
/// A poll of a read either returns the bytes it read or reads nothing, so dropping a `read`
/// future (`futures::io::AsyncReadExt::read`) before it completes loses no data; a poll of a
/// write either sends bytes and says how many or sends nothing, so dropping a `write` future
/// sends nothing. The composite futures are not cancel safe: a dropped `read_exact` or
/// `read_to_end` loses the bytes it already took, a dropped `write_all` may have sent a prefix.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use spindle_io::net::UnixStream;
///
/// spindle_io::block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"hi").await?;
///     a.close().await?; // shuts down the write half
///     let mut got = Vec::new();
///     b.read_to_end(&mut got).await?;
///     assert_eq!(got, b"hi");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UnixStream {
    registration: Registration<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// If the listener's accept queue is full, Linux refuses a non-blocking connect
    /// (`EAGAIN`) without telling anybody when there is room again: the connect is then
    /// retried each time the task is polled, yielding in between, until the listener accepts
    /// enough connections (a blocking connect would sleep as long). Wrap it in a timeout to
    /// bound the wait.
    ///
    /// # Errors
    ///
    /// With the path named: `NotFound` if no socket file is there, `ConnectionRefused` if
    /// nothing listens on it (a socket file left behind), `PermissionDenied`, and
    /// `InvalidInput` for a path that is too long or holds a NUL byte.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the connection is made in the poll that completes the future, so a future
    /// dropped before that (waiting for room in a full accept queue) leaves no connection
    /// behind.
    ///
    /// ```
    /// use spindle_io::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("spindle-doc-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let stream = UnixStream::connect(&path).await?;
    ///     assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     # drop(listener);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let addr =
            pathname(path).map_err(|error| with_context(error, "connect to", path.display()))?;
        UnixStream::connect_addr(&addr).await
    }

    /// Connects to the socket at `addr`: a path, or on Linux an abstract name (an address
    /// made with `std::os::linux::net::SocketAddrExt::from_abstract_name`).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), with the address named (an abstract name as `@name`);
    /// `InvalidInput` for an unnamed address.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// # Cancel safety
    ///
    /// As [`connect`](Self::connect).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use spindle_io::net::{UnixListener, UnixStream};
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("spindle-doc-connect-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(&name).unwrap();
    /// spindle_io::block_on(async {
    ///     let listener = UnixListener::bind_addr(&addr)?;
    ///     let stream = UnixStream::connect_addr(&addr).await?;
    ///     assert_eq!(stream.peer_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     # drop(listener);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// # }
    /// ```
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_sock_addr(addr)
            .await
            .map_err(|error| with_context(error, "connect to", describe(addr)))
    }

    async fn connect_sock_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let target = sock_addr(addr)?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        // A Unix connect completes at once (the connection is queued on the listener) or
        // fails; it never answers `EINPROGRESS` as TCP does.
        poll_fn(|cx| match socket.connect(&target) {
            // The accept queue is full and no event will say when it has room: retry after
            // the task's neighbours (the listener among them, perhaps) have run.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            done => Poll::Ready(done),
        })
        .await?;
        UnixStream::register(
            context::current(),
            mio::net::UnixStream::from_std(socket.into()),
        )
    }

    /// Registers a connected, non-blocking mio stream (from `accept` or `pair`), assumed
    /// readable and writable until its first `WouldBlock`.
    pub(super) fn register(
        reactor: Arc<Reactor>,
        stream: mio::net::UnixStream,
    ) -> io::Result<UnixStream> {
        let registration = Registration::with_write_events_on_demand(reactor, stream)?;
        Ok(UnixStream { registration })
    }

    /// Two connected streams, each the other's peer (`socketpair(2)`): a channel between two
    /// tasks, or to a child process that inherits one end.
    ///
    /// # Errors
    ///
    /// What `socketpair(2)` reports (`EMFILE` when the process is out of descriptors), or the
    /// registration's error (the reactor shut down).
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// spindle_io::block_on(async {
    ///     let (mut a, mut b) = spindle_io::net::UnixStream::pair()?;
    ///     a.write_all(b"ping").await?;
    ///     let mut buf = [0; 4];
    ///     b.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"ping");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        let reactor = context::current();
        Ok((
            UnixStream::register(reactor.clone(), a)?,
            UnixStream::register(reactor, b)?,
        ))
    }

    /// Wraps a connected std stream, switching it to non-blocking mode and registering it
    /// with the current reactor.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered (the reactor shut down).
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     let stream = spindle_io::net::UnixStream::from_std(a)?;
    ///     assert!(stream.peer_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::register(context::current(), mio::net::UnixStream::from_std(stream))
    }

    /// The address of the peer: the listener's path or abstract name, or an unnamed address
    /// for a [`pair`](Self::pair)'s end.
    ///
    /// # Errors
    ///
    /// What `getpeername(2)` reports, such as `NotConnected`.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = spindle_io::net::UnixStream::pair()?;
    ///     assert!(a.peer_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().peer_addr()
    }

    /// The address of this end: unnamed for a connecting client and for a
    /// [`pair`](Self::pair)'s end; the listener's address for an accepted stream.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = spindle_io::net::UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().local_addr()
    }

    /// Shuts down the read half, the write half, or both. After `Shutdown::Write` the peer
    /// reads EOF; after `Shutdown::Read` reads here return 0.
    ///
    /// # Errors
    ///
    /// What `shutdown(2)` reports.
    ///
    /// ```
    /// use futures::io::AsyncReadExt;
    /// use std::net::Shutdown;
    ///
    /// spindle_io::block_on(async {
    ///     let (a, mut b) = spindle_io::net::UnixStream::pair()?;
    ///     a.shutdown(Shutdown::Write)?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.read(&mut buf).await?, 0, "EOF");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.registration.source().shutdown(how)
    }

    fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.registration
            .poll_transfer(Direction::Read, cx, buf.len(), |mut stream| {
                stream.read(buf)
            })
    }

    fn poll_read_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        self.registration
            .poll_transfer(Direction::Read, cx, len, |mut stream| {
                stream.read_vectored(bufs)
            })
    }

    fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.registration
            .poll_transfer(Direction::Write, cx, buf.len(), |stream| {
                SockRef::from(stream).send_with_flags(buf, SEND_FLAGS)
            })
    }

    fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        self.registration
            .poll_transfer(Direction::Write, cx, len, |stream| {
                SockRef::from(stream).send_vectored_with_flags(bufs, SEND_FLAGS)
            })
    }

    fn poll_close_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

// `AsyncRead` for `UnixStream` and `&UnixStream`.
macro_rules! impl_async_read {
    ($type:ty) => {
        impl AsyncRead for $type {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_vectored_priv(cx, bufs)
            }
        }
    };
}

// `AsyncWrite` for `UnixStream` and `&UnixStream`.
macro_rules! impl_async_write {
    ($type:ty) => {
        impl AsyncWrite for $type {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_priv(cx, bufs)
            }

            /// Writes go straight to the kernel: there is nothing to flush.
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Shuts the write half down: the peer reads EOF.
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_close_priv()
            }
        }
    };
}

impl_async_read!(UnixStream);
impl_async_read!(&UnixStream);
impl_async_write!(UnixStream);
impl_async_write!(&UnixStream);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.registration.source().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.registration.source().as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixStream")
            .field(&self.registration)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_path_starting_with_nul_is_invalid_not_abstract() {
        let error = pathname(Path::new("\0name")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_names_and_paths_are_described_as_ss_shows_them() {
        use std::os::linux::net::SocketAddrExt;
        let name = SocketAddr::from_abstract_name(b"spindle\n").unwrap();
        assert_eq!(describe(&name), "@spindle\\n");
        assert_eq!(
            sock_addr(&name).unwrap().as_abstract_namespace(),
            Some(&b"spindle\n"[..])
        );
        let path = pathname(Path::new("/tmp/x.sock")).unwrap();
        assert_eq!(describe(&path), "/tmp/x.sock");
        assert_eq!(
            sock_addr(&path).unwrap().as_pathname(),
            Some(Path::new("/tmp/x.sock"))
        );
    }

    #[test]
    fn an_unnamed_address_names_nothing() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let unnamed = a.local_addr().unwrap();
        assert_eq!(describe(&unnamed), "(unnamed)");
        assert_eq!(
            sock_addr(&unnamed).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
