//! Unix domain sockets and `AsyncFd` on a multi-threaded runtime: the reactor stacked under the
//! workers' parking, tasks moving between workers.

mod common;

use common::{runtime, with_watchdog};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::io::AsyncFd;
use spindle::net::{UnixDatagram, UnixListener, UnixStream};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// A socket path unique to this process and `name`, free when made and removed when dropped.
struct SocketPath(PathBuf);

impl SocketPath {
    fn new(name: &str) -> SocketPath {
        let path =
            std::env::temp_dir().join(format!("spindle-test-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An echo server task per connection, 200 client tasks at once each sending its own 16 KiB
/// and reading the echo while it writes: every client gets its own bytes back. Fails if a
/// connection is lost or crossed, or hangs (the watchdog).
#[test]
fn unix_echo_serves_many_clients_on_every_worker() {
    const CLIENTS: usize = 200;
    let rt = runtime(2);
    let path = SocketPath::new("echo");
    let served = with_watchdog("unix-echo", Duration::from_secs(60), move || {
        rt.block_on(async move {
            let listener = UnixListener::bind(&path.0).unwrap();
            let server = spindle::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    spindle::spawn(async move {
                        let mut writer = &stream;
                        futures::io::copy(&stream, &mut writer).await.unwrap();
                    });
                }
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|id| {
                    let path = path.0.clone();
                    spindle::spawn(async move {
                        let stream = UnixStream::connect(&path).await.unwrap();
                        let payload: Vec<u8> = (0..16 * 1024)
                            .map(|i| ((i + id * 31) % 251) as u8)
                            .collect();
                        let write = async {
                            (&stream).write_all(&payload).await?;
                            (&stream).close().await
                        };
                        let read = async {
                            let mut echoed = Vec::new();
                            (&stream).read_to_end(&mut echoed).await?;
                            Ok::<_, io::Error>(echoed)
                        };
                        let (written, echoed) = futures::join!(write, read);
                        written.unwrap();
                        echoed.unwrap() == payload
                    })
                })
                .collect();
            let results = spindle::join_all(clients).await;
            server.abort();
            results
                .into_iter()
                .filter(|same| *same.as_ref().unwrap())
                .count()
        })
    });
    assert_eq!(served, CLIENTS, "clients that got their own echo");
}

/// Datagrams between two tasks, through a pair, 1,000 round trips.
#[test]
fn a_datagram_pair_ping_pongs_between_tasks() {
    let rt = runtime(2);
    with_watchdog("unix-datagram", Duration::from_secs(60), move || {
        rt.block_on(async {
            let (pinger, ponger) = UnixDatagram::pair().unwrap();
            let ponger = spindle::spawn(async move {
                let mut buf = [0; 8];
                for _ in 0..1000 {
                    let n = ponger.recv(&mut buf).await.unwrap();
                    ponger.send(&buf[..n]).await.unwrap();
                }
            });
            let mut buf = [0; 8];
            for round in 0..1000u32 {
                pinger.send(&round.to_le_bytes()).await.unwrap();
                assert_eq!(pinger.recv(&mut buf).await.unwrap(), 4);
                assert_eq!(buf[..4], round.to_le_bytes());
            }
            ponger.await.unwrap();
        });
    });
}

/// An `AsyncFd` made in a task reads what a plain thread writes, waiting on the runtime's
/// reactor between writes.
#[test]
fn async_fd_in_a_task_waits_on_the_runtime_s_reactor() {
    let rt = runtime(2);
    with_watchdog("async-fd", Duration::from_secs(60), move || {
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let writer = std::thread::spawn(move || {
            for round in 0..20u8 {
                std::thread::sleep(Duration::from_millis(5));
                theirs.write_all(&[round]).unwrap();
            }
        });
        let got = rt.block_on(spindle::spawn(async move {
            let ours = AsyncFd::new(ours).unwrap();
            let mut got = Vec::new();
            let mut buf = [0; 32];
            loop {
                let mut guard = ours.readable().await.unwrap();
                match guard.try_io(|mut socket| socket.read(&mut buf)) {
                    Ok(Ok(0)) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n.unwrap()]),
                    Err(_would_block) => continue,
                }
            }
        }));
        writer.join().unwrap();
        assert_eq!(got.unwrap(), (0..20).collect::<Vec<u8>>());
    });
}
