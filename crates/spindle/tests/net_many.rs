//! 10_000 loopback connections open at once on one runtime.
//!
//! The server is a spindle runtime with two workers: one task accepts, and every accepted
//! connection gets a task that holds it open. The clients are std blocking sockets in a child
//! process (this test binary run again with `CLIENT_ENV` set), because the two ends of 10_000
//! connections take 20_000 descriptors and the hard open-file limit here is 20_000.
//!
//! # What proves "at once"
//!
//! - The child opens every connection before it reads anything, and closes none until it has
//!   exchanged a message on every one.
//! - The server counts live connections: one more per accept, one fewer when a connection's
//!   task has seen EOF. Each task sends an "accepted" byte at once, then waits; only after the
//!   count reached 10_000 does the server release the tasks, which then send a go byte, echo
//!   one 8-byte message (the child's index for that connection) and read until EOF. A
//!   connection closed before the go would fail its exchange.
//! - At the end the count is back to zero, every task finished without an error, and every
//!   peer address was distinct.
//!
//! # Limits it must respect
//!
//! The listener's backlog is 128 (mio's, as std's). A full accept queue makes the kernel drop
//! SYNs, which costs the connecting client a one-second retransmit (an unpaced child hit about
//! 18 of them per run in a debug build). So the accept loop runs while the child connects, and
//! the child connects in batches of `BATCH` (well under the backlog) and reads the "accepted"
//! byte of every connection in a batch before it starts the next. Each connection takes one
//! ephemeral port of the child's, so the test checks that the port range holds 10_000.

mod common;

use common::with_watchdog;
use futures::channel::oneshot;
use futures::future::{FutureExt, Shared};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Connections open at once.
const CONNECTIONS: usize = 10_000;
/// Set in the child to the server's address: the child runs the clients.
const CLIENT_ENV: &str = "SPINDLE_NET_MANY_CLIENT";
/// Connections the child opens before it waits for the server to accept them.
const BATCH: usize = 64;
/// The byte every server task sends as soon as it runs.
const ACCEPTED: u8 = 0x41;
/// The byte every server task sends once all connections are open.
const GO: u8 = 0x60;
/// How long either side waits for one read before giving up: far more than the whole test
/// needs, so a hang fails instead of outliving the parent.
const READ_LIMIT: Duration = Duration::from_secs(60);

/// Fails if the reactor cannot hold 10_000 registrations at once, loses a wake-up among them
/// (the watchdog fires), mixes up connections (an echo comes back on the wrong one), or leaks
/// a connection's task. Runs in a few seconds; the watchdog allows two minutes.
#[test]
fn ten_thousand_connections_are_open_at_once() {
    if let Ok(addr) = std::env::var(CLIENT_ENV) {
        run_clients(addr.parse().expect("the parent passes a socket address"));
        return;
    }
    check_ephemeral_ports();
    with_watchdog("ten_thousand_connections", Duration::from_secs(120), serve);
}

fn check_ephemeral_ports() {
    let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        return;
    };
    let bounds: Vec<usize> = range
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    if let [low, high] = bounds[..] {
        assert!(
            high - low + 1 >= CONNECTIONS,
            "the ephemeral port range {low}-{high} is smaller than the {CONNECTIONS} \
             connections this test opens; widen net.ipv4.ip_local_port_range"
        );
    }
}

/// The server side, in this process: accept every connection, then release them all.
fn serve() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let child = std::thread::spawn(move || spawn_client_process(addr));

        let live = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let go_rx = go_rx.shared();
        let mut peers = HashSet::with_capacity(CONNECTIONS);
        let mut tasks = Vec::with_capacity(CONNECTIONS);
        while tasks.len() < CONNECTIONS {
            let (stream, peer) = listener.accept().await.unwrap();
            assert!(peers.insert(peer), "{peer} was accepted twice");
            live.fetch_add(1, SeqCst);
            tasks.push(spindle::spawn(hold_then_echo(
                stream,
                go_rx.clone(),
                live.clone(),
            )));
        }
        assert_eq!(
            live.load(SeqCst),
            CONNECTIONS,
            "a connection ended before all were open"
        );
        go_tx.send(()).unwrap();

        for result in spindle::join_all(tasks).await {
            result.unwrap().unwrap();
        }
        assert_eq!(live.load(SeqCst), 0);
        let report = child.join().unwrap();
        assert!(report.contains("clients: all exchanged"), "{report}");
    });
}

/// One server task: says the connection is accepted, holds it until the go, then echoes one
/// message and waits for the child to close.
async fn hold_then_echo(
    mut stream: TcpStream,
    go: Shared<oneshot::Receiver<()>>,
    live: Arc<AtomicUsize>,
) -> io::Result<()> {
    stream.write_all(&[ACCEPTED]).await?;
    go.await.expect("the accept loop sends the go");
    stream.write_all(&[GO]).await?;
    let mut message = [0u8; 8];
    stream.read_exact(&mut message).await?;
    stream.write_all(&message).await?;
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await?;
    assert!(rest.is_empty(), "the client sent more than one message");
    live.fetch_sub(1, SeqCst);
    Ok(())
}

/// Runs this test again in a child process as the client side; returns its output, after
/// asserting it succeeded.
fn spawn_client_process(addr: SocketAddr) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "ten_thousand_connections_are_open_at_once",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CLIENT_ENV, addr.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = format!(
        "child status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    report
}

/// The client side, in the child: open every connection (a batch at a time, each batch
/// accepted before the next), then exchange on each, then close all.
fn run_clients(addr: SocketAddr) {
    let mut streams = Vec::with_capacity(CONNECTIONS);
    while streams.len() < CONNECTIONS {
        let batch_start = streams.len();
        for index in batch_start..(batch_start + BATCH).min(CONNECTIONS) {
            let stream = std::net::TcpStream::connect(addr)
                .unwrap_or_else(|error| panic!("connection {index} to {addr}: {error}"));
            stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
            streams.push(stream);
        }
        for (index, stream) in streams.iter_mut().enumerate().skip(batch_start) {
            let mut accepted = [0u8; 1];
            stream.read_exact(&mut accepted).unwrap();
            assert_eq!(accepted, [ACCEPTED], "connection {index}");
        }
    }
    for (index, stream) in streams.iter_mut().enumerate() {
        let mut go = [0u8; 1];
        stream.read_exact(&mut go).unwrap();
        assert_eq!(go, [GO], "connection {index}");
        let message = (index as u64).to_le_bytes();
        stream.write_all(&message).unwrap();
        let mut echoed = [0u8; 8];
        stream.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, message, "connection {index} got another's echo");
    }
    drop(streams);
    println!("clients: all exchanged, {CONNECTIONS} connections open at once");
}
