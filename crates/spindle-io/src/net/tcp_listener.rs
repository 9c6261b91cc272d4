//! `TcpListener`: accepts TCP connections without blocking.

use super::{no_addresses, resolve, with_context, TcpSocket, TcpStream, ToSocketAddrs};
use crate::context;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use mio::Interest;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// A TCP socket listening for connections.
///
/// ```
/// use spindle_io::net::{TcpListener, TcpStream};
///
/// spindle_io::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (_server, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct TcpListener {
    registration: Registration<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn, until one works) and listens, with
    /// `SO_REUSEADDR` set and the system's maximum backlog ([`default_backlog`]:
    /// `net.core.somaxconn`), not std's 128, so a burst of connections waits in the accept
    /// queue instead of being dropped. [`TcpSocket`] sets another backlog.
    ///
    /// [`default_backlog`]: super::default_backlog
    /// [`TcpSocket`]: super::TcpSocket
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: nothing outlives the future. Dropped before it returns, it has bound no
    /// listener that stays open (a host-name lookup already running on the blocking pool finishes
    /// and is discarded).
    ///
    /// # Errors
    ///
    /// The last address's error (its kind kept, the address named), `InvalidInput` for an
    /// address that does not parse, or a resolver error.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let listener = spindle_io::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match TcpListener::bind_one(addr) {
                Ok(listener) => return Ok(listener),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(no_addresses))
    }

    fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = TcpSocket::for_addr(&addr)?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket
            .listen(super::default_backlog())
            .map_err(|error| with_context(error, "listen on", addr))
    }

    /// Registers a listening, non-blocking mio listener with the current reactor.
    pub(crate) fn register(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        let registration = Registration::new(
            context::current(),
            listener,
            Interest::READABLE,
            Ready::READABLE,
        )?;
        Ok(TcpListener { registration })
    }

    /// Wraps a listening std socket, switching it to non-blocking mode and registering it
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
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let listener = spindle_io::net::TcpListener::from_std(std_listener)?;
    ///     assert!(listener.local_addr()?.ip().is_loopback());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::register(mio::net::TcpListener::from_std(listener))
    }

    /// Waits for a connection and returns it with the peer's address. The stream registers
    /// with this listener's reactor.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a connection leaves the accept queue only in the poll that returns it, so
    /// dropping the future (in a `select!` or a timeout) loses no connection; it waits in the queue
    /// for the next `accept`.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, such as `EMFILE` when the process is out of descriptors: the
    /// listener stays usable and the connection stays queued, so a later `accept` (after
    /// descriptors are freed) returns it.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpStream};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let (client, accepted) = futures::join!(
    ///         TcpStream::connect(listener.local_addr()?),
    ///         listener.accept(),
    ///     );
    ///     let (stream, peer) = accepted?;
    ///     assert_eq!(peer, client?.local_addr()?);
    ///     assert_eq!(stream.peer_addr()?, peer);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
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
    /// spindle_io::block_on(async {
    ///     let listener = spindle_io::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert!(peer.ip().is_loopback());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.registration
            .poll_io(Direction::Read, cx, |listener| listener.accept())
            .map(|accepted| {
                let (stream, peer) = accepted?;
                let stream = TcpStream::register(self.registration.reactor().clone(), stream)?;
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
    /// spindle_io::block_on(async {
    ///     let listener = spindle_io::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     assert!(listener.local_addr()?.ip().is_loopback());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpListener")
            .field(&self.registration)
            .finish()
    }
}
