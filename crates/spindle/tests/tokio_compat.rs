//! Crates written for tokio on spindle. A future that calls `tokio::net` (or anything that
//! needs a tokio context, as reqwest does) panics on a spindle task: there is no tokio reactor
//! there. Wrapped in `async_compat::Compat`, it runs: the wrapper enters a tokio runtime that
//! the crate keeps on a side thread (`async-compat/tokio-1`), whose reactor then drives the
//! tokio socket and wakes the spindle task across runtimes. These tests show both, against a
//! spindle server, so the round trip crosses the two runtimes in each direction.

mod common;

use async_compat::Compat;
use common::{runtime, with_watchdog};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::TcpListener;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// A spindle echo server on an ephemeral port, serving every connection until aborted.
async fn spindle_echo_server() -> (SocketAddr, spindle::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spindle::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            spindle::spawn(async move {
                let _ = futures::io::copy(&stream, &mut &stream).await;
            });
        }
    });
    (addr, server)
}

/// A tokio-only client: `tokio::net::TcpStream` and tokio's own I/O traits and timer. It sends
/// `rounds` numbered messages and returns what came back.
async fn tokio_client(addr: SocketAddr, rounds: u32) -> std::io::Result<Vec<u32>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut echoed = Vec::new();
    for round in 0..rounds {
        stream.write_all(&round.to_le_bytes()).await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        echoed.push(u32::from_le_bytes(buf));
        if round == rounds / 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(echoed)
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// Wrapped in `Compat`, the tokio client runs on a spindle task: 200 round trips against the
/// spindle server come back in order, its tokio sleep fires, and the tokio runtime it used is
/// the one extra thread `async-compat/tokio-1`.
#[test]
fn a_tokio_client_runs_on_spindle_inside_compat() {
    with_watchdog("compat-tokio-client", LIMIT, || {
        let rt = runtime(2);
        let (echoed, took) = rt.block_on(async {
            let (addr, server) = spindle_echo_server().await;
            let started = Instant::now();
            let echoed = spindle::spawn(Compat::new(tokio_client(addr, 200)))
                .await
                .unwrap()
                .unwrap();
            server.abort();
            (echoed, started.elapsed())
        });
        assert_eq!(echoed, (0..200).collect::<Vec<u32>>());
        assert!(
            took >= Duration::from_millis(20),
            "the tokio sleep did not wait: {took:?}"
        );
        assert!(
            thread_names()
                .iter()
                .any(|name| name.starts_with("async-compat/")),
            "no async-compat runtime thread among {:?}",
            thread_names()
        );
    });
}

/// Without the wrapper the same client cannot run on spindle: it panics on its first
/// `tokio::net` call, and the panic says why (no tokio reactor); the task's `JoinError`
/// carries it and the runtime goes on serving.
#[test]
fn a_tokio_client_without_compat_fails_with_tokios_message() {
    with_watchdog("compat-missing", LIMIT, || {
        let rt = runtime(2);
        rt.block_on(async {
            let (addr, server) = spindle_echo_server().await;
            let error = spindle::spawn(tokio_client(addr, 1)).await.unwrap_err();
            assert!(error.is_panic());
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            assert!(
                message.contains("Tokio") && message.contains("reactor"),
                "unexpected panic message: {message}"
            );
            // The runtime still works: a spindle client gets its echo.
            let mut client = spindle::net::TcpStream::connect(addr).await.unwrap();
            client.write_all(b"still here").await.unwrap();
            let mut buf = [0u8; 10];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"still here");
            server.abort();
        });
    });
}
