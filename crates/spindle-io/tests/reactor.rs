//! The reactor itself: deregistration, shutdown, unpark, exclusive driving.

mod common;

use common::within_deadline;
use futures::io::AsyncWriteExt;
use spindle_io::net::{TcpListener, TcpStream, UdpSocket};
use spindle_io::Reactor;
use std::future::Future;
use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Every kind of socket (bound, connected, accepted, from std) deregisters when dropped: the
/// reactor's registration count returns to zero.
#[test]
fn dropping_sockets_deregisters_them() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        reactor
            .block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let client = TcpStream::connect(listener.local_addr()?).await?;
                let (server, _) = listener.accept().await?;
                let udp = UdpSocket::bind("127.0.0.1:0").await?;
                let from_std =
                    TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
                assert_eq!(reactor.registrations(), 5);
                drop(server);
                assert_eq!(reactor.registrations(), 4);
                drop((client, udp, from_std));
                assert_eq!(reactor.registrations(), 1);
                drop(listener);
                Ok::<_, io::Error>(())
            })
            .unwrap();
        assert_eq!(reactor.registrations(), 0);
    });
}

/// The kernel's side of it: a dropped socket leaves every epoll interest list of the process
/// (read from `/proc/self/fdinfo`), with or without an explicit `EPOLL_CTL_DEL`.
#[cfg(target_os = "linux")]
#[test]
fn a_dropped_socket_leaves_the_epoll_interest_list() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        reactor
            .block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let client = TcpStream::connect(listener.local_addr()?).await?;
                let (server, _) = listener.accept().await?;
                let inodes = [
                    proc_net::tcp_inode(listener.local_addr()?, None),
                    proc_net::tcp_inode(client.local_addr()?, Some(listener.local_addr()?)),
                    proc_net::tcp_inode(listener.local_addr()?, Some(client.local_addr()?)),
                ];
                for inode in inodes {
                    assert!(proc_net::epoll_lists(inode), "socket {inode} registered");
                }
                drop((listener, client, server));
                for inode in inodes {
                    assert!(!proc_net::epoll_lists(inode), "socket {inode} left epoll");
                }
                Ok::<_, io::Error>(())
            })
            .unwrap();
    });
}

/// What `/proc` says about this process's TCP sockets and epoll instances.
#[cfg(target_os = "linux")]
mod proc_net {
    use std::net::SocketAddr;

    /// `127.0.0.1:port` as `/proc/net/tcp` writes it (x86 and other little-endian hosts).
    fn hex(addr: SocketAddr) -> String {
        let SocketAddr::V4(v4) = addr else {
            panic!("IPv4 only")
        };
        format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        )
    }

    /// The inode of the TCP socket bound to `local` (and connected to `remote`, if given).
    pub fn tcp_inode(local: SocketAddr, remote: Option<SocketAddr>) -> u64 {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let remote = remote.map_or("00000000:0000".to_string(), hex);
        table
            .lines()
            .skip(1)
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|fields| fields[1] == hex(local) && fields[2] == remote)
            .unwrap_or_else(|| panic!("no socket {local} -> {remote} in /proc/net/tcp"))[9]
            .parse()
            .unwrap()
    }

    /// Whether an epoll instance of this process has the socket with `inode` on its interest
    /// list (each entry of an epoll descriptor's fdinfo names its target's inode, in hex).
    pub fn epoll_lists(inode: u64) -> bool {
        let needle = format!(" ino:{inode:x} ");
        std::fs::read_dir("/proc/self/fd").unwrap().any(|fd| {
            let fd = fd.unwrap().file_name();
            let is_epoll = std::fs::read_link(format!("/proc/self/fd/{}", fd.to_string_lossy()))
                .is_ok_and(|target| target.to_string_lossy() == "anon_inode:[eventpoll]");
            is_epoll
                && std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.to_string_lossy()))
                    .is_ok_and(|info| info.lines().any(|line| line.contains(&needle)))
        })
    }
}

/// A failed connect deregisters the socket it tried, too.
#[test]
fn a_failed_connect_leaves_no_registration() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        let error = reactor
            .block_on(TcpStream::connect(common::closed_port()))
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(reactor.registrations(), 0);
    });
}

/// Sockets keep the reactor they were created on: one bound on reactor A and polled inside a
/// `block_on` of reactor B still gets its events from A (driven here by a second thread).
#[test]
fn a_socket_keeps_the_reactor_it_was_created_on() {
    within_deadline(|| {
        let a = Reactor::new().unwrap();
        let b = Reactor::new().unwrap();
        let socket = a.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
        assert_eq!((a.registrations(), b.registrations()), (1, 0));
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let driver = {
            let a = a.clone();
            std::thread::spawn(move || a.block_on(stopped))
        };
        let addr = socket.local_addr().unwrap();
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"hi", addr)
            .unwrap();
        let mut buf = [0; 4];
        let (n, _) = b.block_on(socket.recv_from(&mut buf)).unwrap();
        assert_eq!(&buf[..n], b"hi");
        stop.send(()).unwrap();
        driver.join().unwrap().unwrap();
    });
}

/// `unpark` from another thread ends a turn blocked without a timeout.
#[test]
fn unpark_interrupts_a_blocked_turn() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        let (started, blocked) = mpsc::channel();
        let driver = {
            let reactor = reactor.clone();
            std::thread::spawn(move || {
                let driver = reactor.try_drive().unwrap();
                started.send(()).unwrap();
                driver.turn(None).unwrap()
            })
        };
        blocked.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(reactor.is_driving());
        assert!(
            reactor.try_turn(Some(Duration::ZERO)).is_none(),
            "only one thread drives at a time"
        );
        reactor.unpark();
        assert_eq!(
            driver.join().unwrap(),
            0,
            "the wake-up is not a socket event"
        );
        assert!(!reactor.is_driving());
    });
}

/// A timed turn with nothing to report returns after about its timeout.
#[test]
fn a_turn_with_no_events_returns_after_its_timeout() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        let start = Instant::now();
        let events = reactor.try_turn(Some(Duration::from_millis(30))).unwrap();
        assert_eq!(events.unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_millis(25));
    });
}

/// A socket event is counted, and its task woken by the turn that saw it.
#[test]
fn a_turn_counts_socket_events_and_wakes_their_tasks() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        let _guard = spindle_io::enter(reactor.clone());
        let socket =
            UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        // A UDP socket is registered for readable events only (writable ones on demand,
        // `registration.rs`), so it stays quiet until a datagram comes.
        let quiet = reactor.try_turn(Some(Duration::ZERO)).unwrap().unwrap();
        assert_eq!(quiet, 0);
        let addr = socket.local_addr().unwrap();
        let mut buf = [0; 4];
        let mut recv = std::pin::pin!(socket.recv_from(&mut buf));
        let (woken, waker) = wake_flag();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"x", addr)
            .unwrap();
        let events = reactor
            .try_turn(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap();
        assert_eq!(events, 1);
        assert!(woken.load(std::sync::atomic::Ordering::SeqCst));
        assert!(recv.as_mut().poll(&mut cx).is_ready());
    });
}

fn wake_flag() -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::task::Waker,
) {
    struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    (
        flag.clone(),
        std::task::Waker::from(std::sync::Arc::new(Flag(flag))),
    )
}

/// Shutting the reactor down ends a pending accept with an error (instead of a hang) and
/// refuses new registrations.
#[test]
fn shutdown_fails_pending_and_later_operations() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        let listener = reactor.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let stopper = {
            let reactor = reactor.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                reactor.shutdown();
            })
        };
        let error = reactor.block_on(listener.accept()).unwrap_err();
        assert!(error.to_string().contains("shut down"), "{error}");
        stopper.join().unwrap();
        let error = reactor
            .block_on(UdpSocket::bind("127.0.0.1:0"))
            .unwrap_err();
        assert!(error.to_string().contains("shut down"), "{error}");
        let mut stream = None;
        reactor.block_on(async {
            stream = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .ok();
        });
        assert!(stream.is_none());
        drop(listener);
        assert_eq!(reactor.registrations(), 0);
    });
}

/// Writes on a shared stream from many tasks on two threads all complete (waiters are lists:
/// none is forgotten).
#[test]
fn writers_on_two_threads_share_one_stream() {
    within_deadline(|| {
        let reactor = Reactor::new().unwrap();
        let (listener, client) = reactor
            .block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let client = TcpStream::connect(listener.local_addr()?).await?;
                Ok::<_, io::Error>((listener, client))
            })
            .unwrap();
        let client = std::sync::Arc::new(client);
        let (server, _) = reactor.block_on(listener.accept()).unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let writer = {
            let (reactor, client, chunk) = (reactor.clone(), client.clone(), chunk.clone());
            std::thread::spawn(move || {
                reactor.block_on(async { (&*client).write_all(&chunk).await })
            })
        };
        let reader = {
            let reactor = reactor.clone();
            std::thread::spawn(move || {
                reactor.block_on(async {
                    let mut sink = futures::io::sink();
                    futures::io::copy(&server, &mut sink).await
                })
            })
        };
        reactor
            .block_on(async { (&*client).write_all(&chunk).await })
            .unwrap();
        writer.join().unwrap().unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 2 * chunk.len() as u64);
    });
}
