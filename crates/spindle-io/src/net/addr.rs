//! `ToSocketAddrs`: the addresses a socket may bind or connect to, resolved without blocking
//! the calling thread.
//!
//! Literal addresses (`"127.0.0.1:80"`, `(Ipv6Addr::LOCALHOST, 80)`, `SocketAddr`, ...) are
//! parsed inline: no allocation beyond a slice's copy, no thread. Host names (`"localhost:80"`)
//! are resolved by std's resolver (`getaddrinfo`, which blocks) off the task's thread, and the
//! answer comes back through a waker-based oneshot, so the task awaiting it never blocks its
//! worker. The lookup runs on the runtime's blocking pool when the runtime has given the
//! reactor one ([`Reactor::set_blocking_spawner`](crate::Reactor::set_blocking_spawner)), and
//! on a short-lived thread of its own otherwise: this crate has no pool.
//!
//! Errors keep their kind and name the address: an unparsable address or port is
//! `InvalidInput` (never a panic), a lookup failure keeps the resolver's kind.

use crate::loom::sync::Mutex;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Types that name one or more socket addresses: the same set as std's
/// [`std::net::ToSocketAddrs`], but resolved without blocking the task. Sealed: the set of
/// implementations is fixed.
///
/// Implemented for [`SocketAddr`], [`SocketAddrV4`], [`SocketAddrV6`], `(IpAddr, u16)`,
/// `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `(&str, u16)`, `(String, u16)`, `&str`, [`String`],
/// `&[SocketAddr]`, and references to any of these.
///
/// ```
/// use spindle_io::net::UdpSocket;
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// spindle_io::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
///     let c = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
///     let d = UdpSocket::bind(&[b.local_addr()?, "127.0.0.1:0".parse().unwrap()][..]).await?;
///     assert_ne!(d.local_addr()?, b.local_addr()?, "the first address is taken; the second works");
///     let bad = UdpSocket::bind("127.0.0.1:99999").await.unwrap_err();
///     assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput);
///     # drop((a, c));
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use super::Addrs;
    use std::io;

    /// The private half of [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the host name to look up.
        fn resolution(&self) -> Resolution;
    }

    /// What a [`ToSocketAddrsPriv`] gives: addresses known now, or a name to look up.
    #[derive(Debug)]
    pub enum Resolution {
        /// Literal addresses (or the error that parsing them gave).
        Known(io::Result<Addrs>),
        /// A host name, resolved off the task's thread.
        Lookup {
            /// The host part, as written.
            host: String,
            /// The port.
            port: u16,
        },
    }
}

use sealed::{Resolution, ToSocketAddrsPriv};

/// Resolved addresses, in the order to try them. One address needs no allocation.
#[derive(Debug)]
pub enum Addrs {
    /// A single address (not yet taken).
    One(Option<SocketAddr>),
    /// Several.
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Iterator for Addrs {
    type Item = SocketAddr;
    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            Addrs::One(addr) => addr.take(),
            Addrs::Many(addrs) => addrs.next(),
        }
    }
}

fn known(addr: impl Into<SocketAddr>) -> Resolution {
    Resolution::Known(Ok(Addrs::One(Some(addr.into()))))
}

/// `host` with `port`: inline if `host` is an IP literal, else a lookup (if the name could be
/// one at all).
fn host_and_port(host: &str, port: u16) -> Resolution {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return known((ip, port));
    }
    if !could_be_host_name(host) {
        return Resolution::Known(Err(invalid_input(format!(
            "invalid socket address `{host}:{port}`: `{host}` is neither an IP address nor a \
             host name"
        ))));
    }
    Resolution::Lookup {
        host: host.to_owned(),
        port,
    }
}

/// DNS names are at most 253 characters of letters, digits, `-`, `_` and `.`; anything else
/// is rejected here rather than sent to the resolver.
fn could_be_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn parse_str(text: &str) -> Resolution {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return known(addr);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Resolution::Known(Err(invalid_input(format!(
            "invalid socket address `{text}`: expected `host:port`"
        ))));
    };
    match port.parse::<u16>() {
        Ok(port) => host_and_port(host, port),
        Err(_) => Resolution::Known(Err(invalid_input(format!(
            "invalid socket address `{text}`: `{port}` is not a port number (0 to 65535)"
        )))),
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

macro_rules! literal_addrs {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl ToSocketAddrsPriv for $ty {
            fn resolution(&self) -> Resolution {
                known(*self)
            }
        }
    )*};
}

literal_addrs!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn resolution(&self) -> Resolution {
        host_and_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn resolution(&self) -> Resolution {
        host_and_port(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn resolution(&self) -> Resolution {
        parse_str(self)
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn resolution(&self) -> Resolution {
        parse_str(self)
    }
}

impl ToSocketAddrs for &[SocketAddr] {}
impl ToSocketAddrsPriv for &[SocketAddr] {
    fn resolution(&self) -> Resolution {
        let addrs = Vec::from(*self);
        Resolution::Known(Ok(Addrs::Many(addrs.into_iter())))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrsPriv + ?Sized> ToSocketAddrsPriv for &T {
    fn resolution(&self) -> Resolution {
        (**self).resolution()
    }
}

/// Resolves `addr` (awaiting a lookup thread for host names). The result may be empty only
/// for an empty slice or a name with no addresses; callers report that with [`no_addresses`].
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Addrs> {
    match addr.resolution() {
        Resolution::Known(addrs) => addrs,
        Resolution::Lookup { host, port } => lookup(host, port).await,
    }
}

/// The error for a resolution that gave no address at all.
pub(crate) fn no_addresses() -> io::Error {
    invalid_input("the address resolved to no socket addresses".to_owned())
}

/// `error` with the operation and address that failed in front; same kind, and the original
/// is its `source()`.
pub(crate) fn with_context(
    error: io::Error,
    operation: &str,
    addr: impl fmt::Display,
) -> io::Error {
    io::Error::new(
        error.kind(),
        ContextError {
            context: format!("{operation} {addr}"),
            source: error,
        },
    )
}

#[derive(Debug)]
struct ContextError {
    context: String,
    source: io::Error,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl std::error::Error for ContextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Runs std's resolver for `host:port` off this thread and awaits its answer: on the blocking
/// pool of the runtime whose reactor is entered here, or else on a thread of its own.
async fn lookup(host: String, port: u16) -> io::Result<Addrs> {
    let shared = Arc::new(Mutex::new(Lookup {
        answer: None,
        waker: None,
    }));
    let sender = AnswerSender(Some(shared.clone()));
    let job: Box<dyn FnOnce() + Send> = Box::new(move || {
        let answer = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map(|addrs| addrs.collect::<Vec<_>>())
            .map_err(|error| with_context(error, "resolve", format_args!("{host}:{port}")));
        sender.send(answer);
    });
    let unsent = match crate::context::entered() {
        Some(reactor) => reactor.spawn_blocking(job).err(),
        None => Some(job),
    };
    if let Some(job) = unsent {
        let spawned = std::thread::Builder::new()
            .name("spindle-io-resolve".to_owned())
            .spawn(job);
        if let Err(error) = spawned {
            return Err(with_context(
                error,
                "start a resolver thread for",
                "a host name",
            ));
        }
    }
    let addrs = LookupAnswer(shared).await?;
    Ok(Addrs::Many(addrs.into_iter()))
}

/// The oneshot between the resolver job and the awaiting task.
struct Lookup {
    answer: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

/// The resolver job's end of the oneshot. A job dropped without running (its pool shut down)
/// answers with an error, so the awaiting task never hangs.
struct AnswerSender(Option<Arc<Mutex<Lookup>>>);

impl AnswerSender {
    fn send(mut self, answer: io::Result<Vec<SocketAddr>>) {
        self.deliver(answer);
    }

    fn deliver(&mut self, answer: io::Result<Vec<SocketAddr>>) {
        let Some(shared) = self.0.take() else { return };
        let waker = {
            let mut slot = shared.lock();
            slot.answer = Some(answer);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for AnswerSender {
    fn drop(&mut self) {
        self.deliver(Err(io::Error::other(
            "the runtime shut down before resolving the host name",
        )));
    }
}

struct LookupAnswer(Arc<Mutex<Lookup>>);

impl Future for LookupAnswer {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.0.lock();
        match slot.answer.take() {
            Some(answer) => Poll::Ready(answer),
            None => {
                match &mut slot.waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    empty => *empty = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn known_addrs<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
        match addr.resolution() {
            Resolution::Known(addrs) => addrs.map(Iterator::collect),
            Resolution::Lookup { host, port } => panic!("{host}:{port} should be literal"),
        }
    }

    #[test]
    fn literals_resolve_inline() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(known_addrs("127.0.0.1:80").unwrap(), [v4]);
        assert_eq!(known_addrs(&"[::1]:443".to_owned()).unwrap(), [v6]);
        assert_eq!(known_addrs(&("127.0.0.1", 80)).unwrap(), [v4]);
        assert_eq!(known_addrs(&("::1".to_owned(), 443)).unwrap(), [v6]);
        assert_eq!(known_addrs(&(Ipv4Addr::LOCALHOST, 80)).unwrap(), [v4]);
        assert_eq!(known_addrs(&(Ipv6Addr::LOCALHOST, 443)).unwrap(), [v6]);
        assert_eq!(
            known_addrs(&(IpAddr::from(Ipv4Addr::LOCALHOST), 80)).unwrap(),
            [v4]
        );
        assert_eq!(
            known_addrs(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80)).unwrap(),
            [v4]
        );
        assert_eq!(known_addrs(&&&v6).unwrap(), [v6]);
        assert_eq!(known_addrs(&&[v4, v6][..]).unwrap(), [v4, v6]);
    }

    #[test]
    fn unparsable_addresses_are_invalid_input_naming_the_address() {
        for bad in [
            "",
            "localhost",
            "127.0.0.1:99999",
            "host:port",
            "no spaces:80",
            "a:-1",
        ] {
            let error = known_addrs(bad).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(error.to_string().contains(bad), "{error} names {bad:?}");
        }
        let error = known_addrs(&("bad host", 80)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn host_names_are_looked_up() {
        assert!(matches!(
            "localhost:80".resolution(),
            Resolution::Lookup { ref host, port: 80 } if host == "localhost"
        ));
    }

    #[test]
    fn context_keeps_the_kind_and_the_source() {
        let original = io::Error::from(io::ErrorKind::ConnectionRefused);
        let error = with_context(original, "connect to", "127.0.0.1:1");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert!(error.to_string().starts_with("connect to 127.0.0.1:1: "));
        let source = std::error::Error::source(error.get_ref().unwrap()).unwrap();
        assert!(source.downcast_ref::<io::Error>().is_some());
    }
}
