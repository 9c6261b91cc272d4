//! TCP over real loopback sockets, driven by `spindle_io::block_on`.

mod common;

use common::{assert_passes_in_child, closed_port, within_deadline};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle_io::block_on;
use spindle_io::net::{TcpListener, TcpStream};
use std::io::{self, IoSliceMut};
use std::net::{Shutdown, SocketAddr};

/// A client and a server on two threads (two `block_on`s sharing the standalone reactor)
/// exchange 1 MiB: more than the socket buffers hold, so both sides wait on the reactor many
/// times, in both directions.
#[test]
fn echo_round_trip_between_client_and_server_threads() {
    within_deadline(|| {
        let listener = block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            block_on(async {
                let (stream, _) = listener.accept().await?;
                futures::io::copy(&stream, &mut &stream).await
            })
        });
        let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let echoed = block_on(async {
            let stream = TcpStream::connect(addr).await?;
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
            echoed
        })
        .unwrap();
        assert_eq!(server.join().unwrap().unwrap(), payload.len() as u64);
        assert!(echoed == payload, "the echo differs from what was sent");
    });
}

#[test]
fn accept_returns_the_peer_address() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = TcpStream::connect(listener.local_addr()?).await?;
            let (server, peer) = listener.accept().await?;
            assert_eq!(peer, client.local_addr()?);
            assert_eq!(server.peer_addr()?, peer);
            assert_eq!(server.local_addr()?, client.peer_addr()?);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

#[test]
fn connect_to_a_closed_port_is_connection_refused_naming_the_address() {
    within_deadline(|| {
        let addr = closed_port();
        let error = block_on(TcpStream::connect(addr)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    });
}

/// `connect` tries each address: with two closed ports it reports the last one's error; with
/// a closed port then an open one it connects to the open one.
#[test]
fn connect_tries_each_address_and_reports_the_last_error() {
    within_deadline(|| {
        block_on(async {
            let (first, second) = (closed_port(), closed_port());
            let error = TcpStream::connect(&[first, second][..]).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
            assert!(error.to_string().contains(&second.to_string()), "{error}");

            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let open = listener.local_addr()?;
            let stream = TcpStream::connect(&[first, open][..]).await?;
            assert_eq!(stream.peer_addr()?, open);

            let none: &[SocketAddr] = &[];
            let error = TcpStream::connect(none).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Unparsable or impossible addresses are `InvalidInput` errors naming the address; nothing
/// panics, nothing is sent to the resolver.
#[test]
fn an_unparsable_address_is_an_error_not_a_panic() {
    within_deadline(|| {
        block_on(async {
            for bad in [
                "not an address",
                "127.0.0.1:99999",
                "127.0.0.1",
                ":80",
                "[::1:80",
            ] {
                let error = TcpStream::connect(bad).await.unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}: {error}");
                assert!(error.to_string().contains(bad), "{error} should name {bad}");
                let error = TcpListener::bind(bad.to_owned()).await.unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}: {error}");
            }
            let error = TcpStream::connect(("a host name?", 80)).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        });
    });
}

/// A host name is resolved (off the task's thread) and each of its addresses tried:
/// `localhost` may give `::1` first, where nothing listens, then `127.0.0.1`.
#[test]
fn host_names_resolve_and_connect() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            let stream = TcpStream::connect(format!("localhost:{port}")).await?;
            assert_eq!(stream.peer_addr()?, listener.local_addr()?);
            let stream = TcpStream::connect(("localhost", port)).await?;
            assert_eq!(stream.peer_addr()?.port(), port);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// The server reads part of what the client sent and drops its stream: data unread in the
/// kernel makes it send a reset, which the client's next read reports as `ConnectionReset`.
#[test]
fn a_peer_reset_surfaces_on_the_next_read() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let mut client = TcpStream::connect(listener.local_addr()?).await?;
            let (mut server, _) = listener.accept().await?;
            client.write_all(&[7; 1000]).await?;
            let mut first = [0; 1];
            server.read_exact(&mut first).await?; // the data has arrived; most stays unread
            drop(server);
            let mut buf = [0; 16];
            let error = client.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// After a reset, a write fails too (reset or broken pipe), and never hangs.
#[test]
fn a_peer_reset_surfaces_on_the_next_write() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let mut client = TcpStream::connect(listener.local_addr()?).await?;
            let (mut server, _) = listener.accept().await?;
            client.write_all(&[7; 1000]).await?;
            let mut first = [0; 1];
            server.read_exact(&mut first).await?;
            drop(server);
            // The first write after the reset may still be accepted by the kernel before the
            // RST is processed; keep writing until the error surfaces.
            let error = loop {
                match client.write(b"more").await {
                    Ok(_) => continue,
                    Err(error) => break error,
                }
            };
            assert!(
                matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ),
                "{error}"
            );
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

const SIGPIPE_CHILD: &str = "SPINDLE_IO_TCP_SIGPIPE_CHILD";

/// Writes after the peer closed fail with `BrokenPipe` (or `ConnectionReset`), plain and
/// vectored, and never raise `SIGPIPE`: in a child process that first restores `SIGPIPE` to
/// its default action (every Rust program ignores it, which would hide a write that raises
/// it), a write without `MSG_NOSIGNAL` kills the child and fails the test.
#[test]
fn writes_after_the_peer_closed_fail_and_never_raise_sigpipe() {
    if std::env::var_os(SIGPIPE_CHILD).is_some() {
        // SAFETY: restoring a signal's default action; no handler is involved.
        let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        assert_ne!(previous, libc::SIG_ERR);
        writes_to_a_closed_peer_fail();
        return;
    }
    assert_passes_in_child(
        std::process::Command::new(std::env::current_exe().unwrap()),
        "writes_after_the_peer_closed_fail_and_never_raise_sigpipe",
        SIGPIPE_CHILD,
    );
}

fn writes_to_a_closed_peer_fail() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let mut client = TcpStream::connect(listener.local_addr()?).await?;
            drop(listener.accept().await?);
            let broken = |error: io::Error| {
                assert!(
                    matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ),
                    "{error}"
                );
            };
            // The first writes may be accepted before the peer's RST arrives.
            let error = loop {
                if let Err(error) = client.write(b"more").await {
                    break error;
                }
            };
            broken(error);
            let bufs = [io::IoSlice::new(b"still"), io::IoSlice::new(b"nobody")];
            broken(client.write_vectored(&bufs).await.unwrap_err());
            broken(client.write_all(&[1; 100_000]).await.unwrap_err());
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Reads of many sizes, plain and vectored, get every byte in order whichever of them clear
/// the readiness (`tcp_stream.rs`, "When a read waits for the reactor"): short reads, reads
/// whose buffer is filled exactly, and reads larger than what is queued.
#[test]
fn reads_of_every_size_see_every_byte_in_order() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = TcpStream::connect(listener.local_addr()?).await?;
            let (server, _) = listener.accept().await?;
            let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            let write = async {
                (&client).write_all(&payload).await?;
                (&client).close().await
            };
            let read = async {
                let sizes = [1, 7, 63, 64, 65, 100, 1000, 4096];
                let mut got = Vec::with_capacity(payload.len());
                for round in 0.. {
                    let size = sizes[round % sizes.len()];
                    let mut buf = vec![0; size];
                    let n = if round % 3 == 0 {
                        let (front, back) = buf.split_at_mut(size / 2);
                        let mut bufs = [IoSliceMut::new(front), IoSliceMut::new(back)];
                        (&server).read_vectored(&mut bufs).await?
                    } else {
                        (&server).read(&mut buf).await?
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
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Request/response with exact-size reads, as a length-prefixed protocol does: each read
/// fills its buffer exactly, and the next one still waits for the peer's next message.
#[test]
fn exact_size_reads_wait_for_the_next_message() {
    within_deadline(|| {
        let listener = block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            block_on(async {
                let (mut stream, _) = listener.accept().await?;
                let mut message = [0; 64];
                for round in 0..1000u32 {
                    stream.read_exact(&mut message).await?;
                    assert_eq!(message[0], round as u8);
                    stream.write_all(&message).await?;
                }
                Ok::<_, io::Error>(())
            })
        });
        block_on(async {
            let mut stream = TcpStream::connect(addr).await?;
            let mut reply = [0; 64];
            for round in 0..1000u32 {
                stream.write_all(&[round as u8; 64]).await?;
                stream.read_exact(&mut reply).await?;
                assert_eq!(reply, [round as u8; 64]);
            }
            assert_eq!(stream.read(&mut reply).await?, 0, "the server closed");
            Ok::<_, io::Error>(())
        })
        .unwrap();
        server.join().unwrap().unwrap();
    });
}

#[test]
fn eof_makes_read_return_zero() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let mut client = TcpStream::connect(listener.local_addr()?).await?;
            let (mut server, _) = listener.accept().await?;
            server.write_all(b"bye").await?;
            drop(server);
            let mut buf = [0; 8];
            let mut got = Vec::new();
            loop {
                let n = client.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"bye");
            assert_eq!(client.read(&mut buf).await?, 0, "EOF again");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// `poll_close` and `shutdown(Write)` end the stream for the peer while this side can still
/// read.
#[test]
fn closing_the_write_half_gives_the_peer_eof_and_keeps_reading() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let mut client = TcpStream::connect(listener.local_addr()?).await?;
            let (mut server, _) = listener.accept().await?;
            client.write_all(b"request").await?;
            client.close().await?;
            let mut request = Vec::new();
            server.read_to_end(&mut request).await?;
            assert_eq!(request, b"request");
            server.write_all(b"response").await?;
            server.shutdown(Shutdown::Both)?;
            let mut response = Vec::new();
            client.read_to_end(&mut response).await?;
            assert_eq!(response, b"response");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// One future reads and another writes through `&TcpStream` at the same time, on one thread:
/// the reader waits for data the writer's peer only sends after receiving the writer's
/// data, so each direction has to be woken on its own.
#[test]
fn a_read_and_a_write_on_a_shared_stream_run_at_once() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = TcpStream::connect(listener.local_addr()?).await?;
            let (server, _) = listener.accept().await?;
            let payload = vec![7u8; 256 * 1024];
            let mut server_writer = &server;
            let echo = futures::io::copy(&server, &mut server_writer);
            let write = async {
                (&client).write_all(&payload).await?;
                (&client).close().await
            };
            let read = async {
                let mut got = Vec::new();
                (&client).read_to_end(&mut got).await?;
                Ok::<_, io::Error>(got)
            };
            let echo = async {
                let copied = echo.await?;
                server.shutdown(Shutdown::Write)?;
                Ok::<_, io::Error>(copied)
            };
            let (written, got, copied) = futures::join!(write, read, echo);
            written?;
            assert_eq!(copied?, payload.len() as u64);
            assert_eq!(got?.len(), payload.len());
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

#[test]
fn nodelay_can_be_set_and_read_back() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let stream = TcpStream::connect(listener.local_addr()?).await?;
            stream.set_nodelay(true)?;
            assert!(stream.nodelay()?);
            stream.set_nodelay(false)?;
            assert!(!stream.nodelay()?);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Two `block_on` threads share the standalone reactor: the server's thread may be the one in
/// `epoll_wait` when it finishes, and the client, parked waiting for its EOF, must then take
/// over the driving (the hand-off), or it would wait forever.
#[test]
fn a_finishing_block_on_hands_the_reactor_to_a_waiting_one() {
    within_deadline(|| {
        for _ in 0..20 {
            let listener = block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                block_on(async {
                    let (mut stream, _) = listener.accept().await?;
                    let mut buf = [0; 4];
                    stream.read_exact(&mut buf).await?;
                    stream.write_all(&buf).await
                })
            });
            block_on(async {
                let mut stream = TcpStream::connect(addr).await?;
                stream.write_all(b"ping").await?;
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await?; // EOF comes after the server's block_on ends
                assert_eq!(got, b"ping");
                Ok::<_, io::Error>(())
            })
            .unwrap();
            server.join().unwrap().unwrap();
        }
    });
}

#[test]
fn sockets_are_send_sync_and_debug() {
    fn assert_traits<T: Send + Sync + std::fmt::Debug>() {}
    assert_traits::<TcpStream>();
    assert_traits::<TcpListener>();
    assert_traits::<spindle_io::net::UdpSocket>();
    assert_traits::<std::sync::Arc<spindle_io::Reactor>>();
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let debug = format!("{listener:?}");
            assert!(debug.starts_with("TcpListener("), "{debug}");
            let stream = TcpStream::connect(listener.local_addr()?).await?;
            let debug = format!("{stream:?}");
            assert!(debug.contains(&stream.local_addr()?.to_string()), "{debug}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// An accepted stream is registered for readable events only, and asks for writable ones when
/// its send buffer first fills (`registration.rs`, "Write events on demand"): a write far
/// larger than the kernel's buffers, to a peer that starts reading late, still finishes, and
/// every byte arrives in order. Without the request the writer would wait for an event the
/// kernel never sends.
#[test]
fn an_accepted_stream_writing_into_a_full_buffer_finishes_once_the_peer_reads() {
    within_deadline(|| {
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let payload: Vec<u8> = (0..16_000_000u32).map(|i| (i % 253) as u8).collect();
            let expected = payload.clone();
            let reader = std::thread::spawn(move || {
                use std::io::Read;
                let mut client = std::net::TcpStream::connect(addr)?;
                std::thread::sleep(std::time::Duration::from_millis(100));
                let mut got = Vec::new();
                client.read_to_end(&mut got)?;
                Ok::<_, io::Error>(got)
            });
            let (mut server, _) = listener.accept().await?;
            server.write_all(&payload).await?;
            server.close().await?;
            drop(server);
            let got = reader.join().unwrap()?;
            assert_eq!(got.len(), expected.len());
            assert!(got == expected, "the bytes read differ from those sent");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// The same for a stream that connected: it drops writable events once connected, and asks
/// for them again when its send buffer fills.
#[test]
fn a_connected_stream_writing_into_a_full_buffer_finishes_once_the_peer_reads() {
    within_deadline(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let payload: Vec<u8> = (0..16_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let (mut server, _) = listener.accept()?;
            std::thread::sleep(std::time::Duration::from_millis(100));
            let mut got = Vec::new();
            server.read_to_end(&mut got)?;
            Ok::<_, io::Error>(got)
        });
        block_on(async {
            let mut client = TcpStream::connect(addr).await?;
            client.write_all(&payload).await?;
            client.close().await
        })
        .unwrap();
        let got = reader.join().unwrap().unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes read differ from those sent");
    });
}
