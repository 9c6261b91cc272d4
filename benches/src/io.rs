//! Each contender's own sockets behind one small interface, so every I/O workload is written
//! once and runs the same code on all three runtimes apart from the socket calls.
//!
//! | name | TCP listener / stream | UDP socket | registered with |
//! | --- | --- | --- | --- |
//! | `spindle` | `spindle::net::TcpListener` / `TcpStream` | `spindle::net::UdpSocket` | the runtime's reactor (one `mio::Poll`, driven by a parked worker) |
//! | `tokio` | `tokio::net::TcpListener` / `TcpStream` | `tokio::net::UdpSocket` | the runtime's I/O driver (`enable_io`, see [`TokioRuntime::with_io`](crate::TokioRuntime::with_io)) |
//! | `smol` | `async_io::Async<std::net::TcpListener>` / `Async<TcpStream>` | `Async<std::net::UdpSocket>` | async-io's global reactor, driven by the worker threads' `async_io::block_on` |
//!
//! # Invariants
//!
//! - Streams are read and written through `futures_io::AsyncRead`/`AsyncWrite` (so a workload
//!   uses `futures::io::AsyncReadExt`/`AsyncWriteExt` for all three). spindle's and smol's
//!   streams implement those traits themselves; tokio's implement tokio's own `AsyncRead` and
//!   `AsyncWrite`, and [`TokioStream`] forwards one poll to one poll, adding no buffering and
//!   no extra syscall.
//! - Every socket is created inside the runtime it is measured on (in its root future or a
//!   task), so it registers with that runtime's reactor.
//! - A UDP socket is connected before use ([`Net::udp_connect`]), so ping-pong is `send` and
//!   `recv` on all three, with no per-datagram address handling.

use crate::{SmolSpawner, Spawner, SpindleSpawner, TokioSpawner};
use futures::io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A runtime's own TCP and UDP sockets, for the workloads of `benches/benches/io.rs`.
pub trait Net: Spawner {
    /// A listening TCP socket.
    type TcpListener: Send + Sync + 'static;
    /// A TCP connection, read and written through `futures-io`.
    type TcpStream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A UDP socket.
    type UdpSocket: Send + Sync + 'static;

    /// Binds a listener to `addr`.
    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send;

    /// The address `listener` is bound to.
    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr>;

    /// Waits for a connection on `listener`.
    fn tcp_accept(
        listener: &Self::TcpListener,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + '_;

    /// Connects to `addr`.
    fn tcp_connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;

    /// Sets `TCP_NODELAY` on `stream`.
    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()>;

    /// Binds a UDP socket to `addr`.
    fn udp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::UdpSocket>> + Send;

    /// The address `socket` is bound to.
    fn udp_local_addr(socket: &Self::UdpSocket) -> io::Result<SocketAddr>;

    /// Connects `socket` to `peer`: `udp_send` goes there, `udp_recv` takes only its datagrams.
    fn udp_connect(
        socket: &Self::UdpSocket,
        peer: SocketAddr,
    ) -> impl Future<Output = io::Result<()>> + Send + '_;

    /// Sends one datagram to the connected peer.
    fn udp_send<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Receives one datagram from the connected peer.
    fn udp_recv<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
}

// ---------------------------------------------------------------------------------------------
// spindle

impl Net for SpindleSpawner {
    type TcpListener = spindle::net::TcpListener;
    type TcpStream = spindle::net::TcpStream;
    type UdpSocket = spindle::net::UdpSocket;

    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send {
        spindle::net::TcpListener::bind(addr)
    }

    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn tcp_accept(listener: &Self::TcpListener) -> io::Result<Self::TcpStream> {
        listener.accept().await.map(|(stream, _peer)| stream)
    }

    fn tcp_connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send {
        spindle::net::TcpStream::connect(addr)
    }

    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn udp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::UdpSocket>> + Send {
        spindle::net::UdpSocket::bind(addr)
    }

    fn udp_local_addr(socket: &Self::UdpSocket) -> io::Result<SocketAddr> {
        socket.local_addr()
    }

    fn udp_connect(
        socket: &Self::UdpSocket,
        peer: SocketAddr,
    ) -> impl Future<Output = io::Result<()>> + Send + '_ {
        socket.connect(peer)
    }

    fn udp_send<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.send(buf)
    }

    fn udp_recv<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.recv(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// tokio

/// A `tokio::net::TcpStream` seen through `futures-io`: each `poll_read`/`poll_write` is one
/// call of tokio's own (what `tokio_util::compat` does).
#[derive(Debug)]
pub struct TokioStream(tokio::net::TcpStream);

impl AsyncRead for TokioStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = tokio::io::ReadBuf::new(buf);
        match tokio::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, &mut read_buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read_buf.filled().len())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TokioStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.0), cx)
    }
}

impl Net for TokioSpawner {
    type TcpListener = tokio::net::TcpListener;
    type TcpStream = TokioStream;
    type UdpSocket = tokio::net::UdpSocket;

    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send {
        tokio::net::TcpListener::bind(addr)
    }

    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn tcp_accept(listener: &Self::TcpListener) -> io::Result<Self::TcpStream> {
        let (stream, _peer) = listener.accept().await?;
        Ok(TokioStream(stream))
    }

    async fn tcp_connect(addr: SocketAddr) -> io::Result<Self::TcpStream> {
        tokio::net::TcpStream::connect(addr).await.map(TokioStream)
    }

    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()> {
        stream.0.set_nodelay(true)
    }

    fn udp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::UdpSocket>> + Send {
        tokio::net::UdpSocket::bind(addr)
    }

    fn udp_local_addr(socket: &Self::UdpSocket) -> io::Result<SocketAddr> {
        socket.local_addr()
    }

    fn udp_connect(
        socket: &Self::UdpSocket,
        peer: SocketAddr,
    ) -> impl Future<Output = io::Result<()>> + Send + '_ {
        socket.connect(peer)
    }

    fn udp_send<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.send(buf)
    }

    fn udp_recv<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.recv(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// smol

impl Net for SmolSpawner {
    type TcpListener = async_io::Async<std::net::TcpListener>;
    type TcpStream = async_io::Async<std::net::TcpStream>;
    type UdpSocket = async_io::Async<std::net::UdpSocket>;

    async fn tcp_bind(addr: SocketAddr) -> io::Result<Self::TcpListener> {
        async_io::Async::<std::net::TcpListener>::bind(addr)
    }

    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.get_ref().local_addr()
    }

    async fn tcp_accept(listener: &Self::TcpListener) -> io::Result<Self::TcpStream> {
        listener.accept().await.map(|(stream, _peer)| stream)
    }

    fn tcp_connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send {
        async_io::Async::<std::net::TcpStream>::connect(addr)
    }

    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()> {
        stream.get_ref().set_nodelay(true)
    }

    async fn udp_bind(addr: SocketAddr) -> io::Result<Self::UdpSocket> {
        async_io::Async::<std::net::UdpSocket>::bind(addr)
    }

    fn udp_local_addr(socket: &Self::UdpSocket) -> io::Result<SocketAddr> {
        socket.get_ref().local_addr()
    }

    /// async-io has no `connect` for UDP: std's, on the inner socket (it does not block).
    async fn udp_connect(socket: &Self::UdpSocket, peer: SocketAddr) -> io::Result<()> {
        socket.get_ref().connect(peer)
    }

    fn udp_send<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.send(buf)
    }

    fn udp_recv<'a>(
        socket: &'a Self::UdpSocket,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        socket.recv(buf)
    }
}
