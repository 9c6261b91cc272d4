//! `TcpSocket`: a TCP socket set up before it listens or connects (backlog, `SO_REUSEPORT`,
//! buffer sizes), and the default backlog of [`TcpListener::bind`].
//!
//! std and mio create, bind and listen in one call with a backlog of 128. A burst of more
//! connections than the backlog overflows the listener's accept queue: Linux drops the SYN or
//! the handshake's last ACK, and each dropped client waits for its own retransmit, a second
//! or more (docs/reliability.md tells the whole story). So `TcpListener::bind` listens with
//! the system's maximum instead ([`default_backlog`]), as Go does, and `TcpSocket` lets a
//! server choose.

use super::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;

/// The backlog used where none is asked for: the system's maximum
/// (`/proc/sys/net/core/somaxconn`), at most 65535, or 1024 where it cannot be read.
///
/// ```
/// let backlog = spindle_io::net::default_backlog();
/// assert!((1..=65535).contains(&backlog));
/// ```
pub fn default_backlog() -> u32 {
    static BACKLOG: OnceLock<u32> = OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .filter(|&n| n > 0)
            .map_or(1024, |n| n.min(65535))
    })
}

/// A TCP socket not yet listening or connected: set its options, then
/// [`listen`](TcpSocket::listen) or [`connect`](TcpSocket::connect). The socket is
/// non-blocking and close-on-exec from the start.
///
/// ```
/// use spindle_io::net::{TcpSocket, TcpStream};
///
/// spindle_io::block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(4096)?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (_server, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct TcpSocket {
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// What `socket(2)` reports, such as `EMFILE` when the process is out of descriptors.
    ///
    /// ```
    /// let socket = spindle_io::net::TcpSocket::new_v4().unwrap();
    /// # drop(socket);
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// What `socket(2)` reports (`EAFNOSUPPORT` where IPv6 is off).
    ///
    /// ```
    /// if let Ok(socket) = spindle_io::net::TcpSocket::new_v6() {
    ///     socket.bind("[::1]:0".parse().unwrap()).ok();
    /// }
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A socket of the family of `addr`.
    pub(crate) fn for_addr(addr: &SocketAddr) -> io::Result<TcpSocket> {
        match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
    }

    /// A non-blocking socket (socket2 sets close-on-exec on every socket it makes).
    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        Ok(TcpSocket { socket })
    }

    /// `SO_REUSEADDR`: bind a port whose earlier connections are still in `TIME_WAIT`.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    ///
    /// ```
    /// spindle_io::net::TcpSocket::new_v4().unwrap().set_reuseaddr(true).unwrap();
    /// ```
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.socket.set_reuse_address(on)
    }

    /// `SO_REUSEPORT`: several sockets bind the same address and port, and the kernel spreads
    /// incoming connections over their listeners (one listener per worker, say). Every socket
    /// on the port must set it before `bind`.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    ///
    /// ```
    /// spindle_io::net::TcpSocket::new_v4().unwrap().set_reuseport(true).unwrap();
    /// ```
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        self.socket.set_reuse_port(on)
    }

    /// `SO_SNDBUF`: the kernel's send buffer, in bytes (Linux doubles it for bookkeeping and
    /// caps it at `net.core.wmem_max`).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    ///
    /// ```
    /// spindle_io::net::TcpSocket::new_v4().unwrap().set_send_buffer_size(64 * 1024).unwrap();
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(size as usize)
    }

    /// `SO_RCVBUF`: the kernel's receive buffer, in bytes (doubled and capped as the send
    /// buffer is).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    ///
    /// ```
    /// spindle_io::net::TcpSocket::new_v4().unwrap().set_recv_buffer_size(64 * 1024).unwrap();
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size as usize)
    }

    /// Binds the socket to `addr` (port 0: the system picks one).
    ///
    /// # Errors
    ///
    /// What `bind(2)` reports, with the address named: `AddrInUse`, `AddrNotAvailable`, or
    /// `InvalidInput` for an address of the other family.
    ///
    /// ```
    /// let socket = spindle_io::net::TcpSocket::new_v4().unwrap();
    /// socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket
            .bind(&SockAddr::from(addr))
            .map_err(|error| super::with_context(error, "bind", addr))
    }

    /// Listens with room for `backlog` connections that finished their handshake and wait
    /// for [`accept`](TcpListener::accept) (Linux caps it at `net.core.somaxconn`), and
    /// registers the listener with the current reactor.
    ///
    /// # Errors
    ///
    /// What `listen(2)` reports, or the registration's error (the reactor shut down).
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// spindle_io::block_on(async {
    ///     let socket = spindle_io::net::TcpSocket::new_v4()?;
    ///     socket.bind("127.0.0.1:0".parse().unwrap())?;
    ///     let listener = socket.listen(1024)?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.socket.listen(backlog)?;
        TcpListener::register(mio::net::TcpListener::from_std(self.socket.into()))
    }

    /// Connects to `addr` and waits for the handshake to finish.
    ///
    /// # Cancel safety
    ///
    /// Nothing is lost: dropped before it returns, the future closes the socket, whose handshake
    /// may have started (the peer may then see a connection that closes at once). No data was sent.
    /// The socket is consumed, so a cancelled connect cannot be resumed: make a new one.
    ///
    /// # Errors
    ///
    /// What the handshake reports, such as `ConnectionRefused`, with the address named.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// use spindle_io::net::{TcpListener, TcpSocket};
    ///
    /// spindle_io::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_send_buffer_size(256 * 1024)?;
    ///     let stream = socket.connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            // The handshake goes on; `finish_connect` waits for it.
            Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(error) => return Err(super::with_context(error, "connect to", addr)),
        }
        let stream = mio::net::TcpStream::from_std(self.socket.into());
        TcpStream::finish_connect(stream)
            .await
            .map_err(|error| super::with_context(error, "connect to", addr))
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.socket.as_raw_fd())
            .finish()
    }
}
