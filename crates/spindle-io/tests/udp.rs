//! UDP over real loopback sockets, driven by `spindle_io::block_on`.

mod common;

use common::within_deadline;
use spindle_io::block_on;
use spindle_io::net::UdpSocket;
use std::io;
use std::sync::Arc;

#[test]
fn send_to_and_recv_from_exchange_datagrams() {
    within_deadline(|| {
        block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await?;
            let b = UdpSocket::bind(("127.0.0.1", 0)).await?;
            assert_eq!(a.send_to(b"one", b.local_addr()?).await?, 3);
            assert_eq!(a.send_to(b"two", b.local_addr()?.to_string()).await?, 3);
            let mut buf = [0; 16];
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!((&buf[..n], from), (&b"one"[..], a.local_addr()?));
            let (n, _) = b.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"two");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

#[test]
fn connect_then_send_and_recv() {
    within_deadline(|| {
        block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await?;
            let b = UdpSocket::bind("127.0.0.1:0").await?;
            a.connect(b.local_addr()?).await?;
            b.connect(a.local_addr()?).await?;
            assert_eq!(a.peer_addr()?, b.local_addr()?);
            a.send(b"ping").await?;
            let mut buf = [0; 16];
            let n = b.recv(&mut buf).await?;
            assert_eq!(&buf[..n], b"ping");
            b.send(b"pong").await?;
            let n = a.recv(&mut buf).await?;
            assert_eq!(&buf[..n], b"pong");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// A receive waits for the reactor when nothing has arrived yet, and a datagram sent later
/// (from another thread, outside any `block_on`) wakes it.
#[test]
fn a_waiting_receive_is_woken_by_a_later_datagram() {
    within_deadline(|| {
        let socket = block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
        let addr = socket.local_addr().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            std_socket.send_to(b"late", addr).unwrap();
        });
        let mut buf = [0; 8];
        let (n, _) = block_on(socket.recv_from(&mut buf)).unwrap();
        assert_eq!(&buf[..n], b"late");
        sender.join().unwrap();
    });
}

/// Two tasks wait to receive on one shared socket: each datagram wakes every waiter, so both
/// get one; with a single waker slot the first waiter would be forgotten.
#[test]
fn two_receivers_on_a_shared_socket_are_both_served() {
    within_deadline(|| {
        block_on(async {
            let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
            let sender = UdpSocket::bind("127.0.0.1:0").await?;
            let receive = |socket: Arc<UdpSocket>| async move {
                let mut buf = [0; 8];
                socket.recv(&mut buf).await
            };
            let send = async {
                yield_now().await; // both receivers poll (and wait) first
                sender.send_to(b"a", socket.local_addr()?).await?;
                sender.send_to(b"b", socket.local_addr()?).await?;
                Ok::<_, io::Error>(())
            };
            let (first, second, sent) =
                futures::join!(receive(socket.clone()), receive(socket.clone()), send);
            sent?;
            assert_eq!(first?, 1);
            assert_eq!(second?, 1);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Returns `Pending` once, waking itself: lets the other branches of a `join!` run first.
async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

#[test]
fn an_unparsable_target_is_an_error_not_a_panic() {
    within_deadline(|| {
        block_on(async {
            let socket = UdpSocket::bind("127.0.0.1:0").await?;
            let error = socket.send_to(b"x", "nowhere").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            let error = socket.connect("1.2.3.4:70000").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}
