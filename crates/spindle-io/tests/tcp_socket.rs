//! `TcpSocket`: options set before `listen` or `connect` take effect, and the default
//! backlog of `TcpListener::bind` is the system's maximum.

mod common;

use common::{closed_port, within_deadline};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle_io::block_on;
use spindle_io::net::{default_backlog, TcpSocket, TcpStream};
use std::io;
use std::net::SocketAddr;

/// Two listeners on one port with `SO_REUSEPORT`: the kernel spreads connections over both,
/// and each accepts some.
#[test]
fn two_listeners_with_reuseport_share_a_port_and_both_accept() {
    within_deadline(|| {
        block_on(async {
            let first = TcpSocket::new_v4()?;
            first.set_reuseport(true)?;
            first.bind("127.0.0.1:0".parse().unwrap())?;
            let first = first.listen(1024)?;
            let addr = first.local_addr()?;
            let second = TcpSocket::new_v4()?;
            second.set_reuseport(true)?;
            second.bind(addr)?;
            let second = second.listen(1024)?;
            // Connections from distinct source ports hash over both listeners.
            let mut clients = Vec::new();
            for _ in 0..64 {
                clients.push(TcpStream::connect(addr).await?);
            }
            let (mut on_first, mut on_second) = (0, 0);
            for _ in 0..64 {
                futures::select_biased! {
                    accepted = futures::FutureExt::fuse(first.accept()) => { accepted?; on_first += 1 }
                    accepted = futures::FutureExt::fuse(second.accept()) => { accepted?; on_second += 1 }
                }
            }
            assert_eq!(on_first + on_second, 64);
            assert!(on_first > 0 && on_second > 0, "{on_first} and {on_second}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Without `SO_REUSEPORT` a second bind to a listening port fails with `AddrInUse`, and the
/// error names the address.
#[test]
fn binding_a_used_port_is_addr_in_use_naming_the_address() {
    block_on(async {
        let listener = spindle_io::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        let err = socket.bind(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    });
}

/// A socket connects after its buffers are set; a refused connect names the address.
#[test]
fn a_socket_with_set_buffers_connects_and_a_refused_one_names_the_address() {
    within_deadline(|| {
        block_on(async {
            let listener = spindle_io::net::TcpListener::bind("127.0.0.1:0").await?;
            let socket = TcpSocket::new_v4()?;
            socket.set_send_buffer_size(128 * 1024)?;
            socket.set_recv_buffer_size(128 * 1024)?;
            let mut client = socket.connect(listener.local_addr()?).await?;
            let (mut server, _) = listener.accept().await?;
            client.write_all(b"ping").await?;
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");

            let refused: SocketAddr = closed_port();
            let err = TcpSocket::new_v4()?.connect(refused).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
            assert!(err.to_string().contains(&refused.to_string()), "{err}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// `TcpListener::bind` listens with `net.core.somaxconn` (capped at 65535), and
/// `TcpSocket::listen` with what it is given: `ss` shows a listener's backlog as its Send-Q.
#[test]
fn bind_listens_with_the_systems_maximum_backlog() {
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(default_backlog(), somaxconn.min(65535));
    block_on(async {
        let listener = spindle_io::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        assert_eq!(
            listen_backlog(listener.local_addr().unwrap()),
            somaxconn.min(65535)
        );
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(77).unwrap();
        assert_eq!(listen_backlog(listener.local_addr().unwrap()), 77);
    });
}

/// The backlog of the listener on `addr`, as `ss -ltn` reports it (Send-Q).
fn listen_backlog(addr: SocketAddr) -> u32 {
    let output = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{}", addr.port())])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&"LISTEN"), "ss printed {text:?}");
    fields[2].parse().unwrap()
}
