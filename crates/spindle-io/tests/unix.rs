//! Unix domain sockets over real sockets, driven by `spindle_io::block_on`.

mod common;

use common::{assert_passes_in_child, within_deadline};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle_io::block_on;
use spindle_io::net::{UnixDatagram, UnixListener, UnixStream};
use std::io::{self, IoSlice};
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A socket path unique to this process and `name`, free when made and removed when dropped
/// (a bound socket leaves its file behind).
struct SocketPath(PathBuf);

impl SocketPath {
    fn new(name: &str) -> SocketPath {
        let path = std::env::temp_dir().join(format!(
            "spindle-io-test-{}-{name}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }
}

impl Deref for SocketPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bytes client `id` sends: different for each client, so a server that crossed two
/// connections would be caught.
fn payload_of(id: usize) -> Vec<u8> {
    (0..64 * 1024)
        .map(|i| ((i * 7 + id * 13) % 251) as u8)
        .collect()
}

/// 100 clients at once, each sending 64 KiB and reading its echo while it writes, against a
/// server on another thread (another `block_on`) that accepts them all and echoes each until
/// EOF. Fails if a connection is lost, crossed, or stalls (the deadline).
#[test]
fn a_hundred_concurrent_clients_each_get_their_own_echo() {
    const CLIENTS: usize = 100;
    within_deadline(|| {
        let path = SocketPath::new("echo-100");
        // Inside `block_on`, so that the listener registers with the standalone reactor.
        let listener = block_on(async { UnixListener::bind(&*path) }).unwrap();
        let server = std::thread::spawn(move || {
            block_on(async {
                let mut streams = Vec::with_capacity(CLIENTS);
                for _ in 0..CLIENTS {
                    streams.push(listener.accept().await?.0);
                }
                let echoes = streams.iter().map(|stream| async move {
                    let mut writer = stream;
                    futures::io::copy(stream, &mut writer).await
                });
                let copied = futures::future::try_join_all(echoes).await?;
                Ok::<_, io::Error>(copied.iter().sum::<u64>())
            })
        });
        let clients = (0..CLIENTS).map(|id| {
            let path = &*path;
            async move {
                let stream = UnixStream::connect(path).await?;
                let payload = payload_of(id);
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
                written?;
                Ok::<_, io::Error>(echoed? == payload)
            }
        });
        let results = block_on(futures::future::try_join_all(clients)).unwrap();
        assert!(
            results.iter().all(|same| *same),
            "{} clients got another echo than their own",
            results.iter().filter(|same| !**same).count()
        );
        let copied = server.join().unwrap().unwrap();
        assert_eq!(copied, (CLIENTS * payload_of(0).len()) as u64);
    });
}

/// Both ends of a pair, each the other's peer: messages arrive whole, in order, with their
/// boundaries, in both directions.
#[test]
fn a_datagram_pair_keeps_boundaries_in_both_directions() {
    within_deadline(|| {
        block_on(async {
            let (a, b) = UnixDatagram::pair()?;
            a.send(b"one").await?;
            a.send(b"two!").await?;
            let mut buf = [0; 16];
            assert_eq!(b.recv(&mut buf).await?, 3);
            assert_eq!(&buf[..3], b"one");
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"two!");
            assert!(from.is_unnamed(), "a pair's ends are unnamed");
            b.send(b"back").await?;
            assert_eq!(a.recv(&mut buf).await?, 4);
            assert!(a.peer_addr()?.is_unnamed());
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Two sockets bound to paths talk with `send_to`/`recv_from`, each learning the other's path
/// from what it receives; an unbound socket's datagrams come from an unnamed address; a
/// connected socket uses `send`.
#[test]
fn datagrams_between_paths_carry_the_sender_s_path() {
    within_deadline(|| {
        let (path_a, path_b) = (SocketPath::new("dgram-a"), SocketPath::new("dgram-b"));
        block_on(async {
            let a = UnixDatagram::bind(&*path_a)?;
            let b = UnixDatagram::bind(&*path_b)?;
            assert_eq!(a.local_addr()?.as_pathname(), Some(&*path_a));
            assert_eq!(a.send_to(b"ping", &*path_b).await?, 4);
            let mut buf = [0; 16];
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!(
                (&buf[..n], from.as_pathname()),
                (&b"ping"[..], Some(&*path_a))
            );
            b.send_to(b"pong", from.as_pathname().unwrap()).await?;
            let (n, from) = a.recv_from(&mut buf).await?;
            assert_eq!(
                (&buf[..n], from.as_pathname()),
                (&b"pong"[..], Some(&*path_b))
            );

            let unbound = UnixDatagram::unbound()?;
            unbound.send_to(b"anonymous", &*path_b).await?;
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"anonymous");
            assert!(from.is_unnamed());

            unbound.connect(&*path_a)?;
            assert_eq!(unbound.peer_addr()?.as_pathname(), Some(&*path_a));
            unbound.send(b"connected").await?;
            assert_eq!(a.recv(&mut buf).await?, 9);

            let error = unbound
                .send_to(b"x", path_a.with_extension("missing"))
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
            assert!(error.to_string().contains("missing"), "{error}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Binding a path that holds a socket file is `AddrInUse` naming the path, for a live
/// listener's file and for one left behind; removing the file frees the path.
#[test]
fn binding_a_used_path_is_addr_in_use_naming_the_path() {
    within_deadline(|| {
        let path = SocketPath::new("in-use");
        block_on(async {
            let listener = UnixListener::bind(&*path)?;
            let shown = path.to_str().unwrap();
            for error in [
                UnixListener::bind(&*path).unwrap_err(),
                UnixDatagram::bind(&*path).unwrap_err(),
            ] {
                assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
                assert!(error.to_string().contains(shown), "{error} names {shown}");
            }
            drop(listener);
            let error = UnixListener::bind(&*path).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::AddrInUse,
                "the file is left behind"
            );
            std::fs::remove_file(&*path)?;
            let _listener = UnixListener::bind(&*path)?;
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// A missing path is `NotFound` and a socket file nobody listens on is `ConnectionRefused`,
/// each naming the path.
#[test]
fn connect_errors_keep_their_kind_and_name_the_path() {
    within_deadline(|| {
        let path = SocketPath::new("refused");
        block_on(async {
            let error = UnixStream::connect(&*path).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
            assert!(
                error.to_string().contains(path.to_str().unwrap()),
                "{error}"
            );
            drop(UnixListener::bind(&*path)?);
            let error = UnixStream::connect(&*path).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
            assert!(
                error.to_string().contains(path.to_str().unwrap()),
                "{error}"
            );
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// With the listener's accept queue full, Linux answers a non-blocking connect with `EAGAIN`:
/// the second connect must wait (not fail) until the listener accepts the first. The listener
/// is given a backlog of 0 (room for one connection). `join!` polls in order, so the second
/// connect meets the full queue before the first accept.
#[test]
fn connect_waits_while_the_accept_queue_is_full() {
    within_deadline(|| {
        let path = SocketPath::new("full-queue");
        block_on(async {
            let std_listener = std::os::unix::net::UnixListener::bind(&*path)?;
            // SAFETY: `listen` on a descriptor the listener owns; it only changes the backlog.
            assert_eq!(unsafe { libc::listen(std_listener.as_raw_fd(), 0) }, 0);
            let listener = UnixListener::from_std(std_listener)?;
            let accept_both = async {
                let (first, _) = listener.accept().await?;
                let (second, _) = listener.accept().await?;
                Ok::<_, io::Error>((first, second))
            };
            let (first, second, accepted) = futures::join!(
                UnixStream::connect(&*path),
                UnixStream::connect(&*path),
                accept_both
            );
            let (first, second) = (first?, second?);
            let (mut served_first, mut served_second) = accepted?;
            (&first).write_all(b"1").await?;
            (&second).write_all(b"2").await?;
            let mut buf = [0; 1];
            served_first.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"1");
            served_second.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"2");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

const SIGPIPE_CHILD: &str = "SPINDLE_IO_UNIX_SIGPIPE_CHILD";

/// The peer closes: reads return what it sent, then EOF (0), and a write fails with
/// `BrokenPipe`, plain or vectored. The test runs in a child process that first restores
/// `SIGPIPE` to its default action (the Rust runtime ignores it in every Rust program, which
/// would hide a write that raises it): a write without `MSG_NOSIGNAL` kills the child and fails
/// the test.
#[test]
fn peer_close_gives_eof_then_broken_pipe_and_never_sigpipe() {
    if std::env::var_os(SIGPIPE_CHILD).is_some() {
        // SAFETY: restoring a signal's default action; no handler is involved.
        let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        assert_ne!(previous, libc::SIG_ERR);
        eof_then_broken_pipe();
        return;
    }
    assert_passes_in_child(
        Command::new(std::env::current_exe().unwrap()),
        "peer_close_gives_eof_then_broken_pipe_and_never_sigpipe",
        SIGPIPE_CHILD,
    );
}

fn eof_then_broken_pipe() {
    within_deadline(|| {
        let path = SocketPath::new("sigpipe");
        block_on(async {
            let (mut a, mut b) = UnixStream::pair()?;
            b.write_all(b"last words").await?;
            drop(b);
            let mut got = Vec::new();
            a.read_to_end(&mut got).await?;
            assert_eq!(got, b"last words");
            assert_eq!(a.read(&mut [0; 8]).await?, 0, "EOF again");
            let error = a.write(b"into the void").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
            let bufs = [IoSlice::new(b"still"), IoSlice::new(b"nobody")];
            let error = a.write_vectored(&bufs).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");

            // The same through a listener, the client closing first.
            let listener = UnixListener::bind(&*path)?;
            let client = UnixStream::connect(&*path).await?;
            let (mut server, _) = listener.accept().await?;
            drop(client);
            assert_eq!(server.read(&mut [0; 8]).await?, 0);
            let error = server.write_all(&[1; 100_000]).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");

            let (a, b) = UnixDatagram::pair()?;
            drop(b);
            assert!(a.send(b"to a closed peer").await.is_err());
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Sending to a receiver whose queue is full waits until the receiver takes a datagram, then
/// sends (it does not fail with `WouldBlock`, nor lose the datagram): unconnected with
/// `send_to`, and connected with `send`.
#[test]
fn sends_to_a_full_receiver_wait_for_room() {
    within_deadline(|| {
        let path = SocketPath::new("full-receiver");
        block_on(async {
            let receiver = UnixDatagram::bind(&*path)?;
            let filler = std::os::unix::net::UnixDatagram::unbound()?;
            filler.set_nonblocking(true)?;
            let mut queued = 0;
            loop {
                match filler.send_to(b"filler", &*path) {
                    Ok(_) => queued += 1,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) => return Err(error),
                }
            }
            assert!(queued > 0);
            let unconnected = UnixDatagram::unbound()?;
            let connected = UnixDatagram::unbound()?;
            connected.connect(&*path)?;
            let mut buf = [0; 16];
            let (sent, received) = futures::join!(
                unconnected.send_to(b"unconnected", &*path),
                receiver.recv(&mut buf)
            );
            assert_eq!(sent?, 11);
            assert_eq!(received?, 6, "a filler datagram came first");
            let (sent, received) =
                futures::join!(connected.send(b"connected"), receiver.recv(&mut buf));
            assert_eq!(sent?, 9);
            assert_eq!(received?, 6, "a filler datagram came first");
            for _ in 2..queued {
                receiver.recv(&mut buf).await?;
            }
            let n = receiver.recv(&mut buf).await?;
            assert_eq!(&buf[..n], b"unconnected");
            let n = receiver.recv(&mut buf).await?;
            assert_eq!(&buf[..n], b"connected");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// A path starting with a NUL byte is refused as `InvalidInput`, never taken for an abstract
/// name.
#[test]
fn a_path_starting_with_nul_is_invalid_input_not_an_abstract_name() {
    within_deadline(|| {
        block_on(async {
            let nul = format!("\0spindle-io-test-{}", std::process::id());
            for error in [
                UnixListener::bind(&nul).unwrap_err(),
                UnixDatagram::bind(&nul).unwrap_err(),
                UnixStream::connect(&nul).await.unwrap_err(),
                UnixDatagram::unbound()?
                    .send_to(b"x", &nul)
                    .await
                    .unwrap_err(),
            ] {
                assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            }
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// A stream and a datagram socket bound to abstract names (no file anywhere): connect, accept,
/// exchange bytes, and see the names in the addresses; an unknown name is
/// `ConnectionRefused` naming it as `@name`.
#[cfg(target_os = "linux")]
#[test]
fn abstract_names_round_trip() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    within_deadline(|| {
        block_on(async {
            let name = format!("spindle-io-test-{}-stream", std::process::id());
            let addr = SocketAddr::from_abstract_name(&name)?;
            let listener = UnixListener::bind_addr(&addr)?;
            assert_eq!(
                listener.local_addr()?.as_abstract_name(),
                Some(name.as_bytes())
            );
            let mut client = UnixStream::connect_addr(&addr).await?;
            let (mut server, _) = listener.accept().await?;
            assert_eq!(
                client.peer_addr()?.as_abstract_name(),
                Some(name.as_bytes())
            );
            client.write_all(b"abstract").await?;
            let mut buf = [0; 8];
            server.read_exact(&mut buf).await?;
            server.write_all(&buf).await?;
            client.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"abstract");

            let a_name = format!("spindle-io-test-{}-dgram-a", std::process::id());
            let b_name = format!("spindle-io-test-{}-dgram-b", std::process::id());
            let a = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&a_name)?)?;
            let b_addr = SocketAddr::from_abstract_name(&b_name)?;
            let b = UnixDatagram::bind_addr(&b_addr)?;
            a.send_to_addr(b"hello", &b_addr).await?;
            let (n, from) = b.recv_from(&mut buf).await?;
            assert_eq!(&buf[..n], b"hello");
            assert_eq!(from.as_abstract_name(), Some(a_name.as_bytes()));
            b.connect_addr(&from)?;
            b.send(b"back").await?;
            assert_eq!(a.recv(&mut buf).await?, 4);

            let nobody = format!("spindle-io-test-{}-nobody", std::process::id());
            let error = UnixStream::connect_addr(&SocketAddr::from_abstract_name(&nobody)?)
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
            assert!(error.to_string().contains(&format!("@{nobody}")), "{error}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// `shutdown(Write)` and `close` end the stream for the peer, which can still answer.
#[test]
fn closing_the_write_half_gives_the_peer_eof_and_keeps_reading() {
    within_deadline(|| {
        block_on(async {
            let (mut client, mut server) = UnixStream::pair()?;
            client.write_all(b"request").await?;
            client.close().await?;
            let mut request = Vec::new();
            server.read_to_end(&mut request).await?;
            assert_eq!(request, b"request");
            server.write_all(b"response").await?;
            server.shutdown(std::net::Shutdown::Both)?;
            let mut response = Vec::new();
            client.read_to_end(&mut response).await?;
            assert_eq!(response, b"response");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

#[test]
fn every_unix_type_is_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<UnixListener>();
    check::<UnixStream>();
    check::<UnixDatagram>();
    within_deadline(|| {
        block_on(async {
            let (a, _b) = UnixStream::pair()?;
            assert!(format!("{a:?}").starts_with("UnixStream"), "{a:?}");
            let (d, _e) = UnixDatagram::pair()?;
            assert!(format!("{d:?}").starts_with("UnixDatagram"), "{d:?}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Reads of many sizes, plain and vectored, get every byte in order whichever of them clear
/// the readiness (`unix_stream.rs`, "When a read waits for the reactor"): short reads, reads
/// whose buffer is filled exactly, and reads larger than what is queued; and exact-size
/// request/response reads still wait for the next message.
#[test]
fn reads_of_every_size_see_every_byte_in_order() {
    within_deadline(|| {
        block_on(async {
            let (writer, reader) = UnixStream::pair()?;
            let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            let write = async {
                (&writer).write_all(&payload).await?;
                (&writer).close().await
            };
            let read = async {
                let sizes = [1, 7, 63, 64, 65, 100, 1000, 4096];
                let mut got = Vec::with_capacity(payload.len());
                for round in 0.. {
                    let size = sizes[round % sizes.len()];
                    let mut buf = vec![0; size];
                    let n = if round % 3 == 0 {
                        let (front, back) = buf.split_at_mut(size / 2);
                        let mut bufs = [io::IoSliceMut::new(front), io::IoSliceMut::new(back)];
                        (&reader).read_vectored(&mut bufs).await?
                    } else {
                        (&reader).read(&mut buf).await?
                    };
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                Ok::<_, io::Error>(got)
            };
            let (written, got) = futures::join!(write, read);
            written?;
            assert!(got? == payload, "the bytes read differ from those sent");

            let (mut client, mut server) = UnixStream::pair()?;
            let serve = async {
                let mut message = [0; 64];
                for round in 0..1000u32 {
                    server.read_exact(&mut message).await?;
                    assert_eq!(message[0], round as u8);
                    server.write_all(&message).await?;
                }
                Ok::<_, io::Error>(())
            };
            let ask = async {
                let mut reply = [0; 64];
                for round in 0..1000u32 {
                    client.write_all(&[round as u8; 64]).await?;
                    client.read_exact(&mut reply).await?;
                    assert_eq!(reply, [round as u8; 64]);
                }
                Ok::<_, io::Error>(())
            };
            let (served, asked) = futures::join!(serve, ask);
            served?;
            asked
        })
        .unwrap();
    });
}
