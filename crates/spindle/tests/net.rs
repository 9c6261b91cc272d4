//! Sockets on the runtime: the reactor stacked under the workers' parking.

mod common;

use common::{runtime, with_watchdog};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

async fn echo_server(listener: TcpListener, connections: usize) {
    let mut handles = Vec::new();
    for _ in 0..connections {
        let (mut stream, _) = listener.accept().await.unwrap();
        handles.push(spindle::spawn(async move {
            let mut buf = vec![0u8; 1024];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                stream.write_all(&buf[..n]).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
}

/// asyncio's "fetch three URLs at once", over TCP: three clients, gathered with `join_all`.
#[test]
fn three_clients_at_once_get_their_own_replies() {
    let rt = runtime(2);
    let replies = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spindle::spawn(echo_server(listener, 3));
        let clients = (1..=3).map(|n| async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let message = format!("request {n}");
            stream.write_all(message.as_bytes()).await.unwrap();
            let mut reply = vec![0u8; message.len()];
            stream.read_exact(&mut reply).await.unwrap();
            String::from_utf8(reply).unwrap()
        });
        let replies = spindle::join_all(clients).await;
        server.abort();
        replies
    });
    assert_eq!(replies, ["request 1", "request 2", "request 3"]);
}

/// A task that blocks its worker for a second does not stall I/O: the other worker takes the
/// reactor and serves 100 round trips meanwhile.
#[test]
fn a_blocked_worker_does_not_stall_io() {
    let rt = runtime(2);
    let elapsed = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spindle::spawn(echo_server(listener, 1));
        let blocker = spindle::spawn(async {
            std::thread::sleep(Duration::from_millis(1000));
        });
        let start = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        for i in 0..100u32 {
            stream.write_all(&i.to_le_bytes()).await.unwrap();
            let mut reply = [0u8; 4];
            stream.read_exact(&mut reply).await.unwrap();
            assert_eq!(u32::from_le_bytes(reply), i);
        }
        let elapsed = start.elapsed();
        drop(stream);
        server.await.unwrap();
        blocker.await.unwrap();
        elapsed
    });
    assert!(
        elapsed < Duration::from_millis(700),
        "I/O waited for the blocked worker: {elapsed:?}"
    );
}

#[test]
fn a_thousand_concurrent_connections() {
    let rt = runtime(2);
    let total = with_watchdog("thousand-connections", Duration::from_secs(60), move || {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spindle::spawn(echo_server(listener, 1000));
            let clients: Vec<_> = (0..1000u32)
                .map(|i| {
                    spindle::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        stream.write_all(&i.to_le_bytes()).await.unwrap();
                        let mut reply = [0u8; 4];
                        stream.read_exact(&mut reply).await.unwrap();
                        u32::from_le_bytes(reply) as u64
                    })
                })
                .collect();
            let sum: u64 = spindle::join_all(clients)
                .await
                .into_iter()
                .map(Result::unwrap)
                .sum();
            server.await.unwrap();
            sum
        })
    });
    assert_eq!(total, (0..1000u64).sum());
}

#[test]
fn udp_ping_pong() {
    let rt = runtime(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        let pong = spindle::spawn(async move {
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            b.send_to(&buf[..n], from).await.unwrap();
        });
        a.send_to(b"ping", b_addr).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        pong.await.unwrap();
    });
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let rt = runtime(1);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// With the timer and the reactor under the workers, an idle runtime still parks for good:
/// one worker blocks in `epoll_wait` with no timeout, the other on its condition variable.
#[test]
fn an_idle_runtime_uses_no_cpu() {
    let rt = spindle::Builder::new()
        .worker_threads(2)
        .thread_name("idle-net")
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        spindle::sleep(Duration::from_millis(5)).await;
        drop(listener);
    });
    std::thread::sleep(Duration::from_millis(50));
    let before = common::cpu_time_of_threads("idle-net");
    std::thread::sleep(Duration::from_millis(500));
    let used = common::cpu_time_of_threads("idle-net") - before;
    assert!(
        used <= Duration::from_millis(10),
        "idle workers used {used:?} in 500 ms"
    );
}

/// On one worker that never runs dry (a task yields in a loop), the reactor and the timer are
/// still polled, by the worker's maintenance poll: a socket read and a sleep complete about on
/// time instead of waiting for the loop to end.
#[test]
fn io_and_timers_are_delivered_while_the_only_worker_never_runs_dry() {
    with_watchdog("io under a yield loop", Duration::from_secs(30), || {
        let rt = runtime(1);
        let (elapsed_read, elapsed_sleep) = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let spinning = stop.clone();
            let spinner = spindle::spawn(async move {
                while !spinning.load(std::sync::atomic::Ordering::Relaxed) {
                    spindle::yield_now().await;
                }
            });
            let peer = std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                std::io::Write::write_all(&mut stream, b"ping").unwrap();
                stream
            });
            let start = Instant::now();
            let reader = spindle::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4];
                stream.read_exact(&mut buf).await.unwrap();
                start.elapsed()
            });
            let sleeper = spindle::spawn(async move {
                spindle::sleep(Duration::from_millis(50)).await;
                start.elapsed()
            });
            let elapsed_read = reader.await.unwrap();
            let elapsed_sleep = sleeper.await.unwrap();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            spinner.await.unwrap();
            drop(peer.join().unwrap());
            (elapsed_read, elapsed_sleep)
        });
        assert!(
            elapsed_read < Duration::from_millis(500),
            "the read took {elapsed_read:?}"
        );
        assert!(
            elapsed_sleep >= Duration::from_millis(50)
                && elapsed_sleep < Duration::from_millis(500),
            "the 50 ms sleep took {elapsed_sleep:?}"
        );
    });
}
