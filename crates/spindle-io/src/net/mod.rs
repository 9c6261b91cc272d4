//! Non-blocking TCP, UDP and Unix domain sockets on the reactor: [`TcpListener`],
//! [`TcpStream`], [`TcpSocket`] (options before listen or connect), [`UdpSocket`], the
//! [`ToSocketAddrs`] they take, and [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! Every socket is a non-blocking std socket wrapped by mio, registered with the reactor that
//! is current when it is created. An operation tries the system call first when readiness is
//! known or assumed, and waits for the reactor only after `WouldBlock` (see
//! `crate::registration`). Reading and writing a [`TcpStream`] go through `futures-io`'s
//! `AsyncRead`/`AsyncWrite`, so `futures::io`'s extension traits and `copy` work unchanged.
//!
//! The Unix sockets take paths, which need no lookup, so binding them is not `async`; on Linux
//! the `*_addr` constructors also take abstract names. Their writes never raise `SIGPIPE`.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle_io::net::{TcpListener, TcpStream};
//!
//! spindle_io::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (mut server, _) = listener.accept().await?;
//!     client.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! The same exchange over a Unix domain socket:
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle_io::net::{UnixListener, UnixStream};
//!
//! let path = std::env::temp_dir().join(format!("spindle-doc-net-{}.sock", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! spindle_io::block_on(async {
//!     let listener = UnixListener::bind(&path)?;
//!     let mut client = UnixStream::connect(&path).await?;
//!     let (mut server, _) = listener.accept().await?;
//!     client.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! std::fs::remove_file(&path).unwrap();
//! ```

mod addr;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;
mod unix_datagram;
mod unix_listener;
mod unix_stream;

pub use addr::ToSocketAddrs;
pub use tcp_listener::TcpListener;
pub use tcp_socket::{default_backlog, TcpSocket};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_datagram::UnixDatagram;
pub use unix_listener::UnixListener;
pub use unix_stream::UnixStream;

pub(crate) use addr::{no_addresses, resolve, with_context};

/// The flags of every send on a stream socket (TCP or Unix): a peer that closed makes the send
/// fail with `EPIPE` (`BrokenPipe`) instead of raising `SIGPIPE`, which would kill a process
/// that has not set it to be ignored (Rust's runtime does, but a C host or `pre_exec` may not).
pub(crate) const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
