//! `TcpStream`: a TCP connection, read and written through `futures-io`'s traits.
//!
//! # When a read waits for the reactor
//!
//! A read that returns fewer bytes than its buffer holds drained the socket, so it clears the
//! read readiness and the next read waits for the reactor's next edge (tokio's rule). A read
//! that fills its buffer keeps the readiness, and the next read asks the socket first: in a
//! request/response exchange the peer's next message is often there already, and reading it
//! at once beats waiting for a worker to poll the reactor (docs/architecture.md).

use super::{no_addresses, resolve, with_context, ToSocketAddrs, SEND_FLAGS};
use crate::context;
use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use futures_io::{AsyncRead, AsyncWrite};
use mio::Interest;
use socket2::SockRef;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A TCP connection. `TcpStream` and `&TcpStream` implement [`futures_io::AsyncRead`] and
/// [`futures_io::AsyncWrite`], so one task can read while another writes through a shared
/// reference. `poll_close` shuts the write half down (the peer reads EOF); dropping the stream
/// closes it.
///
/// # Cancel safety
///
/// Reads and writes are poll functions: a poll that returns `Pending` has moved no bytes, so
/// `read(&mut buf)` and `write(&buf)` futures dropped before they complete lose nothing. The
/// combinators built
/// on them are not: `read_exact`, `write_all` and `read_to_end` dropped mid-way may have moved
/// part of the data, as their futures-io docs say.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use spindle_io::net::{TcpListener, TcpStream};
///
/// spindle_io::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     client.close().await?; // shuts down the write half
///     let mut got = Vec::new();
///     (&server).read_to_end(&mut got).await?;
///     assert_eq!(got, b"hi");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct TcpStream {
    registration: Registration<mio::net::TcpStream>,
}

/// Whether a writable event without an error bit means a non-blocking connect succeeded.
const EPOLL_REPORTS_CONNECT_FAILURE: bool = cfg!(any(target_os = "linux", target_os = "android"));

impl TcpStream {
    fn with_registration(registration: Registration<mio::net::TcpStream>) -> TcpStream {
        TcpStream { registration }
    }

    /// Connects to `addr`, trying each resolved address in turn; returns the first connection
    /// that succeeds.
    ///
    /// # Cancel safety
    ///
    /// Nothing is lost: dropped before it returns, the future closes the socket, whose handshake
    /// may have started (the peer may then see a connection that closes at once). No data was sent.
    ///
    /// # Errors
    ///
    /// The last address's error, its kind kept (`ConnectionRefused`, `TimedOut`, ...) and the
    /// address named; `InvalidInput` for an address that does not parse; a resolver error.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpStream};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match TcpStream::connect_one(addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last_error = Some(with_context(error, "connect to", addr)),
            }
        }
        Err(last_error.unwrap_or_else(no_addresses))
    }

    /// One non-blocking connect: start it, then wait for the handshake.
    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::finish_connect(mio::net::TcpStream::connect(addr)?).await
    }

    /// Registers a socket whose non-blocking connect has started with the current reactor,
    /// waits until it is writable, then asks it how the handshake went (`SO_ERROR`). The
    /// registration starts with no readiness, so the first writable edge is the kernel's: the
    /// handshake finished, or failed and left its error. (mio's recipe adds a `getpeername`
    /// against spurious events; like tokio, spindle skips that system call per connection, as
    /// edge-triggered epoll on Linux sends none.)
    pub(crate) async fn finish_connect(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        // Assumes nothing: the socket is not writable until the handshake completes.
        let mut registration = Registration::new(
            context::current(),
            stream,
            Interest::READABLE | Interest::WRITABLE,
            Ready::EMPTY,
        )?;
        poll_fn(|cx| {
            let event = ready!(registration.poll_ready(Direction::Write, cx))?;
            if EPOLL_REPORTS_CONNECT_FAILURE && !event.ready.intersects(Ready::CONNECT_FAILED) {
                // Established: epoll flags a failed handshake with `EPOLLERR`, so
                // `getsockopt(SO_ERROR)` would only confirm it.
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(match registration.source().take_error()? {
                Some(error) => Err(error),
                None => Ok(()),
            })
        })
        .await?;
        registration.defer_write_events()?;
        Ok(TcpStream::with_registration(registration))
    }

    /// Registers an already connected, non-blocking mio stream (from `accept`).
    pub(crate) fn register(
        reactor: Arc<Reactor>,
        stream: mio::net::TcpStream,
    ) -> io::Result<TcpStream> {
        let registration = Registration::with_write_events_on_demand(reactor, stream)?;
        Ok(TcpStream::with_registration(registration))
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
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let stream = spindle_io::net::TcpStream::from_std(std_stream)?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::register(context::current(), mio::net::TcpStream::from_std(stream))
    }

    /// The address of the peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` once the connection is gone, or what `getpeername(2)` reports.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpStream};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().peer_addr()
    }

    /// The local address of this end.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpStream};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_, peer) = listener.accept().await?;
    ///     assert_eq!(stream.local_addr()?, peer);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.registration.source().local_addr()
    }

    /// Sets `TCP_NODELAY`: with `true`, small writes are sent at once instead of being
    /// coalesced (Nagle's algorithm off).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpStream};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.registration.source().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpStream};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(!stream.nodelay()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.registration.source().nodelay()
    }

    /// Shuts down the read half, the write half, or both. After `Shutdown::Write` the peer
    /// reads EOF; after `Shutdown::Read` reads here return 0.
    ///
    /// # Errors
    ///
    /// What `shutdown(2)` reports, such as `NotConnected` if the peer already reset the
    /// connection.
    ///
    /// ```
    /// use futures::io::AsyncReadExt;
    /// use spindle_io::net::{TcpListener, TcpStream};
    /// use std::net::Shutdown;
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.shutdown(Shutdown::Write)?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(server.read(&mut buf).await?, 0, "EOF");
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
        self.registration
            .poll_transfer(Direction::Write, cx, total_len(bufs), |stream| {
                SockRef::from(stream).send_vectored_with_flags(bufs, SEND_FLAGS)
            })
    }

    fn poll_close_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

impl AsyncRead for TcpStream {
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

impl AsyncRead for &TcpStream {
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

impl AsyncWrite for TcpStream {
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

impl AsyncWrite for &TcpStream {
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

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpStream")
            .field(&self.registration)
            .finish()
    }
}

/// The bytes a vectored write asks for.
fn total_len(bufs: &[IoSlice<'_>]) -> usize {
    bufs.iter().map(|buf| buf.len()).sum()
}
