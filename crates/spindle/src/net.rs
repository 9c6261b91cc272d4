//! Networking: TCP, UDP and Unix domain sockets on the runtime's reactor (asyncio's streams,
//! Unix streams and datagram endpoints).
//!
//! The types come from `spindle-io`. A socket registers with the reactor of the runtime it is
//! created in (a task, or inside `block_on`); one created outside any runtime uses the default
//! runtime's. `TcpStream`, `UnixStream` and their references implement `futures_io::AsyncRead`
//! and `AsyncWrite`, so `futures::io::AsyncReadExt`/`AsyncWriteExt` and `futures::io::copy`
//! work unchanged.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle::net::{TcpListener, TcpStream};
//!
//! spindle::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = spindle::spawn(async move {
//!         let (mut stream, _peer) = listener.accept().await.unwrap();
//!         let mut buf = [0u8; 5];
//!         stream.read_exact(&mut buf).await.unwrap();
//!         stream.write_all(&buf).await.unwrap();
//!     });
//!     let mut client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello").await.unwrap();
//!     let mut echoed = [0u8; 5];
//!     client.read_exact(&mut echoed).await.unwrap();
//!     assert_eq!(&echoed, b"hello");
//!     server.await.unwrap();
//! });
//! ```
//!
//! UDP, asyncio's datagram endpoints: a socket sends to an address and receives from anyone, or
//! is `connect`ed to one peer and uses `send`/`recv`.
//!
//! ```
//! use spindle::net::UdpSocket;
//!
//! spindle::block_on(async {
//!     let server = UdpSocket::bind("127.0.0.1:0").await?;
//!     let client = UdpSocket::bind("127.0.0.1:0").await?;
//!     client.connect(server.local_addr()?).await?;
//!     client.send(b"ping").await?;
//!
//!     let mut buf = [0u8; 16];
//!     let (len, from) = server.recv_from(&mut buf).await?;
//!     assert_eq!((&buf[..len], from), (&b"ping"[..], client.local_addr()?));
//!     server.send_to(b"pong", from).await?;
//!
//!     let len = client.recv(&mut buf).await?;
//!     assert_eq!(&buf[..len], b"pong");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Unix domain sockets, asyncio's `start_unix_server` and `open_unix_connection`: the same
//! streams at a path in the file system (or, on Linux, under an abstract name with
//! `UnixListener::bind_addr`). Binding takes no `await`: a path needs no lookup. Writes never
//! raise `SIGPIPE`; a write to a closed peer is `BrokenPipe`. [`UnixDatagram`] sends datagrams
//! between paths, and `UnixStream::pair`/`UnixDatagram::pair` connect two tasks without one.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle::net::{UnixListener, UnixStream};
//!
//! let path = std::env::temp_dir().join(format!("spindle-doc-unix-{}.sock", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! spindle::block_on(async {
//!     let listener = UnixListener::bind(&path)?;
//!     let server = spindle::spawn(async move {
//!         let (stream, _peer) = listener.accept().await?;
//!         futures::io::copy(&stream, &mut &stream).await // echo until EOF
//!     });
//!     let mut client = UnixStream::connect(&path).await?;
//!     client.write_all(b"hello").await?;
//!     client.close().await?; // EOF for the server's copy
//!     let mut echoed = Vec::new();
//!     client.read_to_end(&mut echoed).await?;
//!     assert_eq!(echoed, b"hello");
//!     assert_eq!(server.await.unwrap()?, 5);
//!     Ok::<(), std::io::Error>(())
//! })?;
//! std::fs::remove_file(&path)?; // a listener leaves its socket file behind
//! # Ok::<(), std::io::Error>(())
//! ```

pub use spindle_io::net::{
    default_backlog, TcpListener, TcpSocket, TcpStream, ToSocketAddrs, UdpSocket, UnixDatagram,
    UnixListener, UnixStream,
};
