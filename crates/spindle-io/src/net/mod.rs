//! Non-blocking TCP and UDP sockets on the reactor: [`TcpListener`], [`TcpStream`],
//! [`TcpSocket`] (options before listen or connect), [`UdpSocket`], and the
//! [`ToSocketAddrs`] they take.
//!
//! Every socket is a non-blocking std socket wrapped by mio, registered with the reactor that
//! is current when it is created. An operation tries the system call first when readiness is
//! known or assumed, and waits for the reactor only after `WouldBlock` (see
//! `crate::registration`). Reading and writing a [`TcpStream`] go through `futures-io`'s
//! `AsyncRead`/`AsyncWrite`, so `futures::io`'s extension traits and `copy` work unchanged.
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

mod addr;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;

pub use addr::ToSocketAddrs;
pub use tcp_listener::TcpListener;
pub use tcp_socket::{default_backlog, TcpSocket};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;

pub(crate) use addr::{no_addresses, resolve, with_context};
