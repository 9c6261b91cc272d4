//! `UnixListener`: accepts Unix domain stream connections without blocking.
//!
//! Binding creates the socket with socket2 and listens with [`default_backlog`] (the system's
//! maximum), as `TcpListener::bind` does, whatever the std or mio version: older ones listened
//! with 128, and a burst of more clients than the backlog makes the rest meet `EAGAIN` in their
//! connect and retry (see `UnixStream::connect`).
//!
//! [`default_backlog`]: super::default_backlog

use super::unix_stream::{describe, pathname, sock_addr};
use super::{with_context, UnixStream};
use crate::context;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use mio::Interest;
use socket2::{Domain, Socket, Type};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix domain stream socket listening for connections, at a path in the file system or
/// (Linux) under an abstract name.
///
/// Dropping the listener closes it but leaves its socket file behind, as std's and tokio's
/// do: remove the file to bind the path again.
///
/// ```
/// use spindle_io::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("spindle-doc-listener-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// spindle_io::block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let _client = UnixStream::connect(&path).await?;
///     let (server, _peer) = listener.accept().await?;
///     assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    registration: Registration<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates a socket file at `path` and listens on it with the system's maximum backlog
    /// ([`default_backlog`](super::default_backlog)). Not `async`: a path needs no lookup.
    ///
    /// A path starting with a NUL byte is not an abstract name here but `InvalidInput`; bind an
    /// abstract name with [`bind_addr`](Self::bind_addr).
    ///
    /// # Errors
    ///
    /// With the path named: `AddrInUse` if a file is already there (a live listener's, or one
    /// left behind by a listener that is gone: remove it first), `NotFound` if the directory
    /// does not exist, `PermissionDenied`, and `InvalidInput` for a path that is too long or
    /// holds a NUL byte.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// use spindle_io::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("spindle-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let error = UnixListener::bind(&path).unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    ///     assert!(error.to_string().contains(path.to_str().unwrap()));
    ///     # drop(listener);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let addr = pathname(path).map_err(|error| with_context(error, "bind", path.display()))?;
        UnixListener::bind_addr(&addr)
    }

    /// Binds to `addr` and listens, as [`bind`](Self::bind) does: `addr` is a path, or on
    /// Linux an abstract name (made with `std::os::linux::net::SocketAddrExt::from_abstract_name`),
    /// which needs no file and vanishes with the last socket bound to it.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), with the address named (an abstract name as `@name`);
    /// `InvalidInput` for an unnamed address.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use spindle_io::net::UnixListener;
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("spindle-doc-bind-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(&name).unwrap();
    /// spindle_io::block_on(async {
    ///     let listener = UnixListener::bind_addr(&addr)?;
    ///     assert_eq!(listener.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// # }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let shown = || describe(addr);
        let target = sock_addr(addr).map_err(|error| with_context(error, "bind", shown()))?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket
            .bind(&target)
            .map_err(|error| with_context(error, "bind", shown()))?;
        let backlog = i32::try_from(super::default_backlog()).unwrap_or(i32::MAX);
        socket
            .listen(backlog)
            .map_err(|error| with_context(error, "listen on", shown()))?;
        UnixListener::register(mio::net::UnixListener::from_std(socket.into()))
    }

    fn register(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        let registration = Registration::new(
            context::current(),
            listener,
            Interest::READABLE,
            Ready::READABLE,
        )?;
        Ok(UnixListener { registration })
    }

    /// Wraps a listening std socket, switching it to non-blocking mode and registering it
    /// with the current reactor. Its backlog stays what it was given.
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
    /// let path = std::env::temp_dir().join(format!("spindle-doc-from-std-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    ///     let listener = spindle_io::net::UnixListener::from_std(std_listener)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::register(mio::net::UnixListener::from_std(listener))
    }

    /// Waits for a connection and returns it with the peer's address (unnamed, unless the
    /// client bound its socket before connecting). The stream registers with this listener's
    /// reactor.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, such as `EMFILE` when the process is out of descriptors: the
    /// listener stays usable and the connection stays queued, so a later `accept` returns it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the queue only in the poll that returns it, so
    /// dropping the future before it completes leaves every pending connection queued for the
    /// next `accept`.
    ///
    /// ```
    /// use spindle_io::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("spindle-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let (client, accepted) = futures::join!(UnixStream::connect(&path), listener.accept());
    ///     let (_stream, peer) = accepted?;
    ///     assert!(peer.is_unnamed());
    ///     assert_eq!(client?.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: [`accept`](Self::accept) as a poll function, for hand-written
    /// futures. Stores the task's waker when it returns `Pending`.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// let path = std::env::temp_dir().join(format!("spindle-doc-poll-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let listener = spindle_io::net::UnixListener::bind(&path)?;
    ///     let _client = std::os::unix::net::UnixStream::connect(&path)?;
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert!(peer.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.registration
            .poll_io(Direction::Read, cx, |listener| listener.accept())
            .map(|accepted| {
                let (stream, peer) = accepted?;
                let stream = UnixStream::register(self.registration.reactor().clone(), stream)?;
                Ok((stream, peer))
            })
    }

    /// The address this listener is bound to.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("spindle-doc-local-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let listener = spindle_io::net::UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.registration.source().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.registration.source().as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixListener")
            .field(&self.registration)
            .finish()
    }
}
