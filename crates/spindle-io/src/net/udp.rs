//! `UdpSocket`: datagrams, sent and received without blocking.

use super::{no_addresses, resolve, with_context, ToSocketAddrs};
use crate::context;
use crate::ready::Direction;
use crate::registration::Registration;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// A UDP socket. All operations take `&self`, so one socket can be shared (in an `Arc`) by
/// several tasks; every task waiting in a direction is woken when the socket becomes ready.
///
/// ```
/// use spindle_io::net::UdpSocket;
///
/// spindle_io::block_on(async {
///     let server = UdpSocket::bind("127.0.0.1:0").await?;
///     let client = UdpSocket::bind("127.0.0.1:0").await?;
///     client.connect(server.local_addr()?).await?;
///     client.send(b"ping").await?;
///     let mut buf = [0; 16];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     server.send_to(&buf[..n], from).await?;
///     let n = client.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UdpSocket {
    registration: Registration<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each resolved address in turn until one works.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped before it returns, it has bound no socket that stays open.
    ///
    /// # Errors
    ///
    /// The last address's error (its kind kept, the address named), `InvalidInput` for an
    /// address that does not parse, or a resolver error.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let reactor = context::current();
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match mio::net::UdpSocket::bind(addr) {
                Ok(socket) => {
                    let registration = Registration::with_write_events_on_demand(reactor, socket)?;
                    return Ok(UdpSocket { registration });
                }
                Err(error) => last_error = Some(with_context(error, "bind", addr)),
            }
        }
        Err(last_error.unwrap_or_else(no_addresses))
    }

    /// Wraps a bound std socket, switching it to non-blocking mode and registering it with
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
    ///     let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let socket = spindle_io::net::UdpSocket::from_std(std_socket)?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        let registration = Registration::with_write_events_on_demand(
            context::current(),
            mio::net::UdpSocket::from_std(socket),
        )?;
        Ok(UdpSocket { registration })
    }

    /// Sends `buf` as one datagram to `target` (its first resolved address), returning the
    /// number of bytes sent.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a datagram is sent whole, in the poll that returns `Ok`, or not at all, so a
    /// future dropped before it returned sent nothing.
    ///
    /// # Errors
    ///
    /// What `sendto(2)` reports (such as `EMSGSIZE` for a datagram too large), an address
    /// that does not parse or resolve, or one that resolves to nothing.
    ///
    /// ```
    /// use spindle_io::net::UdpSocket;
    ///
    /// spindle_io::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_eq!(a.send_to(b"hey", b.local_addr()?).await?, 3);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(&target).await?.next().ok_or_else(no_addresses)?;
        self.registration
            .io(Direction::Write, |socket| socket.send_to(buf, target))
            .await
    }

    /// Receives one datagram into `buf`, returning its length and sender. A datagram longer
    /// than `buf` is truncated.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a datagram leaves the socket's queue only in the poll that returns it; dropped
    /// before, the future took nothing and the next receive gets the datagram.
    ///
    /// # Errors
    ///
    /// What `recvfrom(2)` reports.
    ///
    /// ```
    /// use spindle_io::net::UdpSocket;
    ///
    /// spindle_io::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"hey", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from), (&b"hey"[..], a.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.registration
            .io(Direction::Read, |socket| socket.recv_from(buf))
            .await
    }

    /// Sets the default peer: `send` goes there, and only its datagrams are received. Tries
    /// each resolved address in turn.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the peer is set by one `connect(2)`, in the poll that returns; dropped before
    /// (while a host name is still being resolved), the socket is unchanged.
    ///
    /// # Errors
    ///
    /// The last address's error (its kind kept, the address named), or an address that does
    /// not parse or resolve.
    ///
    /// ```
    /// use spindle_io::net::UdpSocket;
    ///
    /// spindle_io::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.send(b"x").await?, 1);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match self.registration.source().connect(addr) {
                Ok(()) => return Ok(()),
                Err(error) => last_error = Some(with_context(error, "connect to", addr)),
            }
        }
        Err(last_error.unwrap_or_else(no_addresses))
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a datagram is sent whole, in the poll that returns `Ok`, or not at all, so a
    /// future dropped before it returned sent nothing.
    ///
    /// # Errors
    ///
    /// Without a prior [`connect`](Self::connect), `EDESTADDRREQ` ("destination address
    /// required"); `ConnectionRefused` if an earlier datagram to the peer was refused (ICMP
    /// port unreachable); what `send(2)` reports.
    ///
    /// ```
    /// use spindle_io::net::UdpSocket;
    ///
    /// spindle_io::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(a.send(b"to nobody").await.is_err(), "no peer to send to");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.registration
            .io(Direction::Write, |socket| socket.send(buf))
            .await
    }

    /// Receives one datagram from the connected peer into `buf`, returning its length.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a datagram leaves the socket's queue only in the poll that returns it; dropped
    /// before, the future took nothing and the next receive gets the datagram.
    ///
    /// # Errors
    ///
    /// What `recv(2)` reports, such as `ConnectionRefused` after a datagram sent to a closed
    /// port.
    ///
    /// ```
    /// use spindle_io::net::UdpSocket;
    ///
    /// spindle_io::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send_to(b"yo", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.registration
            .io(Direction::Read, |socket| socket.recv(buf))
            .await
    }

    /// The address this socket is bound to.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
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
    ///     let a = spindle_io::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = spindle_io::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UdpSocket")
            .field(&self.registration)
            .finish()
    }
}
