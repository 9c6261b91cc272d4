//! `UnixDatagram`: Unix domain datagrams, sent and received without blocking.

use super::unix_stream::{describe, pathname, sock_addr};
use super::with_context;
use super::SEND_FLAGS;
use crate::context;
use crate::ready::Direction;
use crate::registration::Registration;
use socket2::SockRef;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A Unix domain datagram socket: bound to a path or (Linux) an abstract name, unbound, or one
/// end of a [`pair`](Self::pair). All operations take `&self`, so one socket can be shared (in
/// an `Arc`) by several tasks. Datagrams keep their boundaries and, unlike UDP's, are never
/// lost or reordered: a sender waits while the receiver's queue is full.
///
/// Dropping a socket bound to a path leaves its socket file behind: remove the file to bind
/// the path again.
///
/// # Cancel safety
///
/// Every async method is cancel safe: a datagram is sent or received in the poll that
/// completes the future, so one dropped before that has sent or taken nothing.
///
/// ```
/// use spindle_io::net::UnixDatagram;
///
/// let dir = std::env::temp_dir();
/// let (server_path, client_path) = (
///     dir.join(format!("spindle-doc-dgram-server-{}.sock", std::process::id())),
///     dir.join(format!("spindle-doc-dgram-client-{}.sock", std::process::id())),
/// );
/// # let _ = (std::fs::remove_file(&server_path), std::fs::remove_file(&client_path));
/// spindle_io::block_on(async {
///     let server = UnixDatagram::bind(&server_path)?;
///     let client = UnixDatagram::bind(&client_path)?;
///     client.send_to(b"ping", &server_path).await?;
///     let mut buf = [0; 16];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     server.send_to(&buf[..n], from.as_pathname().unwrap()).await?;
///     let n = client.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// std::fs::remove_file(&server_path).unwrap();
/// std::fs::remove_file(&client_path).unwrap();
/// ```
pub struct UnixDatagram {
    registration: Registration<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates a socket file at `path` and binds a datagram socket to it. A path starting
    /// with a NUL byte is not an abstract name here but `InvalidInput`; bind an abstract name
    /// with [`bind_addr`](Self::bind_addr).
    ///
    /// # Errors
    ///
    /// With the path named: `AddrInUse` if a file is already there, `NotFound` if the
    /// directory does not exist, `PermissionDenied`, and `InvalidInput` for a path that is
    /// too long or holds a NUL byte.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("spindle-doc-dgram-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::UnixDatagram::bind(&path)?;
    ///     assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let addr = pathname(path).map_err(|error| with_context(error, "bind", path.display()))?;
        UnixDatagram::bind_addr(&addr)
    }

    /// Binds a datagram socket to `addr`: a path, or on Linux an abstract name (made with
    /// `std::os::linux::net::SocketAddrExt::from_abstract_name`).
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
    /// use spindle_io::net::UnixDatagram;
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("spindle-doc-dgram-bind-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(&name).unwrap();
    /// spindle_io::block_on(async {
    ///     let socket = UnixDatagram::bind_addr(&addr)?;
    ///     assert_eq!(socket.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// # }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let socket = mio::net::UnixDatagram::unbound()?;
        sock_addr(addr)
            .and_then(|target| SockRef::from(&socket).bind(&target))
            .map_err(|error| with_context(error, "bind", describe(addr)))?;
        UnixDatagram::register(socket)
    }

    /// A socket bound to no address: it sends (with [`send_to`](Self::send_to), or
    /// [`send`](Self::send) after [`connect`](Self::connect)), and receivers see its datagrams
    /// come from an unnamed address they cannot answer.
    ///
    /// # Errors
    ///
    /// What `socket(2)` reports, or the registration's error (the reactor shut down).
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::UnixDatagram::unbound()?;
    ///     assert!(socket.local_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::register(mio::net::UnixDatagram::unbound()?)
    }

    /// Two connected, unnamed datagram sockets, each the other's peer (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// What `socketpair(2)` reports, or the registration's error (the reactor shut down).
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, b) = spindle_io::net::UnixDatagram::pair()?;
    ///     a.send(b"one").await?;
    ///     a.send(b"two").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).await?, 3, "datagrams keep their boundaries");
    ///     assert_eq!(&buf[..3], b"one");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::register(a)?, UnixDatagram::register(b)?))
    }

    /// Wraps a std datagram socket, switching it to non-blocking mode and registering it with
    /// the current reactor.
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
    ///     let std_socket = std::os::unix::net::UnixDatagram::unbound()?;
    ///     let socket = spindle_io::net::UnixDatagram::from_std(std_socket)?;
    ///     assert!(socket.local_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::register(mio::net::UnixDatagram::from_std(socket))
    }

    /// Registers a non-blocking mio socket with the current reactor, assumed readable and
    /// writable until its first `WouldBlock`.
    fn register(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        let registration = Registration::with_write_events_on_demand(context::current(), socket)?;
        Ok(UnixDatagram { registration })
    }

    /// Sets the default peer: [`send`](Self::send) goes to the socket at `path`, and only its
    /// datagrams are received. Not `async`: a Unix datagram connect completes at once.
    ///
    /// # Errors
    ///
    /// With the path named: `NotFound` if no socket is there, `ConnectionRefused` if the
    /// socket file's socket is gone, `InvalidInput` for a path too long or holding a NUL byte.
    ///
    /// ```
    /// use spindle_io::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("spindle-doc-dgram-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.connect(&path)?;
    ///     assert_eq!(client.send(b"x").await?, 1);
    ///     let mut buf = [0; 4];
    ///     assert_eq!(server.recv(&mut buf).await?, 1);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let addr =
            pathname(path).map_err(|error| with_context(error, "connect to", path.display()))?;
        self.connect_addr(&addr)
    }

    /// Sets the default peer to the socket at `addr`: a path, or on Linux an abstract name.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), with the address named; `InvalidInput` for an unnamed
    /// address.
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use spindle_io::net::UnixDatagram;
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("spindle-doc-dgram-connect-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(&name).unwrap();
    /// spindle_io::block_on(async {
    ///     let server = UnixDatagram::bind_addr(&addr)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.connect_addr(&addr)?;
    ///     assert_eq!(client.peer_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     # drop(server);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// # }
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        sock_addr(addr)
            .and_then(|target| SockRef::from(self.registration.source()).connect(&target))
            .map_err(|error| with_context(error, "connect to", describe(addr)))
    }

    /// Sends `buf` as one datagram to the connected peer, returning the number of bytes sent.
    /// Waits while the peer's receive queue is full, for the reactor to report room.
    ///
    /// # Errors
    ///
    /// Without a prior [`connect`](Self::connect) (and not from a [`pair`](Self::pair)),
    /// `ENOTCONN`; `ConnectionRefused` once the peer is gone; `EMSGSIZE` for a datagram
    /// larger than the send buffer; what `send(2)` reports. Never `SIGPIPE`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent whole in the poll that completes the future, or not
    /// at all.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, _b) = spindle_io::net::UnixDatagram::pair()?;
    ///     assert_eq!(a.send(b"hello").await?, 5);
    ///     let lonely = spindle_io::net::UnixDatagram::unbound()?;
    ///     assert!(lonely.send(b"to nobody").await.is_err(), "no peer to send to");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.registration
            .io(Direction::Write, |socket| {
                SockRef::from(socket).send_with_flags(buf, SEND_FLAGS)
            })
            .await
    }

    /// Receives one datagram from the connected peer (or from anyone, for a socket that is not
    /// connected) into `buf`, returning its length. A datagram longer than `buf` is
    /// truncated.
    ///
    /// # Errors
    ///
    /// What `recv(2)` reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken from the queue only in the poll that completes the
    /// future.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, b) = spindle_io::net::UnixDatagram::pair()?;
    ///     b.send(b"yo").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.registration
            .io(Direction::Read, |socket| socket.recv(buf))
            .await
    }

    /// Sends `buf` as one datagram to the socket at `path`, returning the number of bytes
    /// sent.
    ///
    /// # A full receiver
    ///
    /// Linux queues few datagrams per receiver (`net.unix.max_dgram_qlen`, 10 by default).
    /// While the queue is full, the send waits; but Linux tells a sender that is not connected
    /// to the receiver nothing when room comes back, only that its own failed attempt is over,
    /// so such a send is retried at every reactor turn and keeps a worker busy meanwhile. A
    /// socket that sends to one peer should [`connect`](Self::connect) and use
    /// [`send`](Self::send), whose wait costs nothing until the peer has room.
    ///
    /// # Errors
    ///
    /// With the path named: `NotFound` if no socket is there, `ConnectionRefused` if the
    /// socket file's socket is gone, `InvalidInput` for a path too long or holding a NUL
    /// byte; `EMSGSIZE` for a datagram larger than the send buffer. Never `SIGPIPE`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent whole in the poll that completes the future, or not
    /// at all.
    ///
    /// ```
    /// use spindle_io::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("spindle-doc-dgram-send-to-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// spindle_io::block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     assert_eq!(client.send_to(b"hey", &path).await?, 3);
    ///     let mut buf = [0; 8];
    ///     let (n, from) = server.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from.is_unnamed()), (&b"hey"[..], true));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        let addr =
            pathname(path).map_err(|error| with_context(error, "send to", path.display()))?;
        self.send_to_addr(buf, &addr).await
    }

    /// Sends `buf` as one datagram to the socket at `addr`: a path, or on Linux an abstract
    /// name.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to), with the address named; `InvalidInput` for an unnamed
    /// address.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`send_to`](Self::send_to).
    ///
    /// A full receiver: as [`send_to`](Self::send_to).
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use spindle_io::net::UnixDatagram;
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("spindle-doc-dgram-send-to-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(&name).unwrap();
    /// spindle_io::block_on(async {
    ///     let server = UnixDatagram::bind_addr(&addr)?;
    ///     UnixDatagram::unbound()?.send_to_addr(b"hi", &addr).await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(server.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// # }
    /// ```
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let sent = match sock_addr(addr) {
            Ok(target) => {
                self.registration
                    .io(Direction::Write, |socket| {
                        SockRef::from(socket).send_to_with_flags(buf, &target, SEND_FLAGS)
                    })
                    .await
            }
            Err(error) => Err(error),
        };
        sent.map_err(|error| with_context(error, "send to", describe(addr)))
    }

    /// Receives one datagram into `buf`, returning its length and its sender's address
    /// (unnamed for an unbound sender). A datagram longer than `buf` is truncated.
    ///
    /// # Errors
    ///
    /// What `recvfrom(2)` reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken from the queue only in the poll that completes the
    /// future.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let (a, b) = spindle_io::net::UnixDatagram::pair()?;
    ///     a.send(b"hey").await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from.is_unnamed()), (&b"hey"[..], true));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.registration
            .io(Direction::Read, |socket| socket.recv_from(buf))
            .await
    }

    /// The address this socket is bound to (unnamed if it is not bound).
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::UnixDatagram::unbound()?;
    ///     assert!(socket.local_addr()?.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a prior [`connect`](Self::connect).
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::UnixDatagram::unbound()?;
    ///     let error = socket.peer_addr().unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::NotConnected);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().peer_addr()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.registration.source().as_raw_fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.registration.source().as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixDatagram")
            .field(&self.registration)
            .finish()
    }
}
