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

/// Receiving ahead loses nothing and keeps the order: bursts of datagrams of every size from
/// two senders, each burst queued before the receiver looks, come out whole, in each sender's
/// order, with the right sender, and the receiver then waits for the next burst.
#[test]
fn bursts_come_out_whole_in_order_with_their_senders() {
    within_deadline(|| {
        block_on(async {
            let receiver = UdpSocket::bind("127.0.0.1:0").await?;
            let senders = [
                UdpSocket::bind("127.0.0.1:0").await?,
                UdpSocket::bind("127.0.0.1:0").await?,
            ];
            let mut buf = vec![0; 65_536];
            for burst in 0..50usize {
                // Eight of the largest (about 100 KiB with the kernel's overhead) stay well
                // under the default receive buffer: loopback drops nothing.
                let size = [0, 1, 63, 64, 1500, 9000, 12_000][burst % 7];
                for seq in 0..8u8 {
                    let sender = &senders[usize::from(seq) % 2];
                    let datagram = vec![seq; size + usize::from(seq)];
                    sender.send_to(&datagram, receiver.local_addr()?).await?;
                }
                for seq in 0..8u8 {
                    let (n, from) = receiver.recv_from(&mut buf).await?;
                    assert_eq!(from, senders[usize::from(seq) % 2].local_addr()?);
                    assert_eq!(n, size + usize::from(seq), "burst {burst}, datagram {seq}");
                    assert!(buf[..n].iter().all(|&byte| byte == seq));
                }
            }
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}
