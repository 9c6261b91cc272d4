//! 10_000 loopback connections at one runtime's listener: all open at once, and all in one
//! burst.
//!
//! The clients are std blocking sockets in a child process (this test binary run again with
//! `CLIENT_ENV` or `BURST_CLIENT_ENV` set), because the two ends of 10_000 connections take
//! 20_000 descriptors and the hard open-file limit here is 20_000. The two tests take turns
//! ([`TEN_THOUSAND_AT_A_TIME`]): together they would need 20_000 server sockets in this
//! process.
//!
//! # Open at once
//!
//! The server is a spindle runtime with two workers: one task accepts, and every accepted
//! connection gets a task that holds it open. What proves "at once":
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
//! A full accept queue makes the kernel drop SYNs, which costs the connecting client a
//! one-second retransmit. So the accept loop runs while the child connects, and the child
//! connects in batches of `BATCH` (well under any backlog: std's 128, or the system's maximum
//! that `TcpListener::bind` uses) and reads the "accepted" byte of every connection in a batch
//! before it starts the next. Each connection takes one ephemeral port of the child's, so the
//! test checks that the port range holds 10_000.
//!
//! # In one burst
//!
//! The child's `BURST_THREADS` threads connect as fast as they can, each sending its
//! connection's id at once and reading the replies only when all its connections are open;
//! the server's accept loop spins for `ACCEPT_WORK` after each accept (work it does between
//! accepts), and each connection's task reads the id, sleeps `SERVE_SLEEP` on the timer and
//! echoes the id. The accept queue may overflow, and the kernel then drops SYNs (the client
//! retransmits) or, with SYN cookies, may hand the server a second socket for a connection it
//! already served: so the server counts the distinct ids it read, not its accepts. Every
//! client operation has a timeout, and the child gives up at `BURST_CLIENT_LIMIT`: each
//! connection ends served (its id echoed) or with an error the child reports; none waits for
//! good.

mod common;

use common::with_watchdog;
use futures::channel::oneshot;
use futures::future::{FutureExt, Shared};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections in each test: all open at once in one, all in one burst in the other.
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

/// Set in the child to the server's address: the child runs the burst's clients.
const BURST_CLIENT_ENV: &str = "SPINDLE_NET_MANY_BURST_CLIENT";
/// Threads of the child that connect at once in the burst.
const BURST_THREADS: usize = 50;
/// How long the server's accept loop spins after each accept.
const ACCEPT_WORK: Duration = Duration::from_micros(20);
/// How long each connection's task sleeps between reading the id and echoing it.
const SERVE_SLEEP: Duration = Duration::from_millis(2);
/// The most a burst client waits for one connect or one read.
const BURST_OPERATION_LIMIT: Duration = Duration::from_secs(30);
/// When the burst's child gives up on the connections not yet served.
const BURST_CLIENT_LIMIT: Duration = Duration::from_secs(100);

/// Held by each test while its 10_000 connections are up: see the module docs.
static TEN_THOUSAND_AT_A_TIME: Mutex<()> = Mutex::new(());

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
    let _turn = TEN_THOUSAND_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    with_watchdog("ten_thousand_connections", Duration::from_secs(120), serve);
}

/// Fails if a connection of the burst is not served (lost in the accept queue, an accept or
/// a read wake-up lost under load, a task that never runs): the child reports it as an error
/// after its timeout, and the test fails with the split of served and failed connections and
/// why each failed. Prints the split, the time, and the system's accept-queue overflows meanwhile.
#[test]
fn a_burst_of_ten_thousand_connections_is_served_in_full() {
    if let Ok(addr) = std::env::var(BURST_CLIENT_ENV) {
        run_burst_clients(addr.parse().expect("the parent passes a socket address"));
        return;
    }
    check_ephemeral_ports();
    let _turn = TEN_THOUSAND_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    with_watchdog(
        "burst_of_ten_thousand",
        Duration::from_secs(180),
        serve_burst,
    );
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
        let child = std::thread::spawn(move || {
            run_child(
                "ten_thousand_connections_are_open_at_once",
                CLIENT_ENV,
                addr,
            )
        });

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

/// Runs `test` again in a child process, with `env` set to the server's address, as the
/// client side; returns its output, after asserting it succeeded.
fn run_child(test: &str, env: &str, addr: SocketAddr) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, addr.to_string())
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

/// What the server side of the burst saw.
#[derive(Default)]
struct BurstServer {
    accepted: AtomicUsize,
    accept_errors: Mutex<Vec<String>>,
    ids: Mutex<HashSet<u64>>,
    /// Server sockets that gave no id: a second socket for a connection already served, or a
    /// client that gave up.
    without_id: AtomicUsize,
}

/// The server side of the burst, in this process.
fn serve_burst() {
    let rt = common::runtime(2);
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(BurstServer::default());
    let accept_loop = rt.spawn(accept_with_work(listener, server.clone()));
    let overflows_before = common::listen_overflows();
    let started = Instant::now();
    let report = run_child(
        "a_burst_of_ten_thousand_connections_is_served_in_full",
        BURST_CLIENT_ENV,
        addr,
    );
    let elapsed = started.elapsed();
    let overflows = common::listen_overflows() - overflows_before;
    accept_loop.abort();
    drop(rt);

    let count = |name: &str| -> usize {
        let line = report
            .lines()
            .find_map(|line| Some(&line[line.find("burst clients: ")?..]))
            .unwrap_or_else(|| panic!("the child gave no summary:\n{report}"));
        line.split_whitespace()
            .find_map(|field| field.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in the child's summary: {line}"))
    };
    let (served, failed) = (count("served"), count("failed"));
    let ids = server.ids.lock().unwrap().len();
    let summary = format!(
        "burst of {CONNECTIONS}: {served} served, {failed} failed, in {elapsed:.2?}; the \
         server accepted {} sockets for {ids} distinct ids ({} gave no id, {} accept errors); \
         ListenOverflows +{overflows} (for the machine)",
        server.accepted.load(SeqCst),
        server.without_id.load(SeqCst),
        server.accept_errors.lock().unwrap().len(),
    );
    println!("{summary}");
    assert_eq!(
        served + failed,
        CONNECTIONS,
        "the child lost track of connections: {summary}\n{report}"
    );
    assert_eq!(failed, 0, "{summary}\n{report}");
    assert_eq!(ids, CONNECTIONS, "{summary}");
}

/// The burst's accept loop: every accept is followed by `ACCEPT_WORK` of spinning (work the
/// loop does between accepts) and the spawn of the connection's task.
async fn accept_with_work(listener: TcpListener, server: Arc<BurstServer>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                server.accepted.fetch_add(1, SeqCst);
                let until = Instant::now() + ACCEPT_WORK;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                spindle::spawn(read_sleep_echo(stream, server.clone()));
            }
            Err(error) => {
                // Out of descriptors, say: recorded for the report; the clients then fail.
                server.accept_errors.lock().unwrap().push(error.to_string());
                spindle::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One burst connection's task: read the client's id, note it, sleep, echo it.
async fn read_sleep_echo(mut stream: TcpStream, server: Arc<BurstServer>) {
    let mut id = [0u8; 8];
    let read = spindle::timeout(BURST_OPERATION_LIMIT, stream.read_exact(&mut id)).await;
    if !matches!(read, Ok(Ok(()))) {
        server.without_id.fetch_add(1, SeqCst);
        return;
    }
    server.ids.lock().unwrap().insert(u64::from_le_bytes(id));
    spindle::sleep(SERVE_SLEEP).await;
    // A client that gave up meanwhile counts itself as failed.
    let _ = stream.write_all(&id).await;
}

/// The client side of the burst, in the child: `BURST_THREADS` threads each connect their
/// share of the connections as fast as they can, sending each one's id at once, then read
/// every echo. Prints a summary line (`burst clients: served=.. failed=..`) and the first
/// 20 failures.
fn run_burst_clients(addr: SocketAddr) {
    let give_up_at = Instant::now() + BURST_CLIENT_LIMIT;
    let threads: Vec<_> = (0..BURST_THREADS)
        .map(|first| {
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let mut open = Vec::new();
                for id in (first..CONNECTIONS).step_by(BURST_THREADS) {
                    match connect_and_send_id(addr, id as u64, give_up_at) {
                        Ok(stream) => open.push((id, stream)),
                        Err(error) => failures.push((id, error)),
                    }
                }
                for (id, stream) in open {
                    if let Err(error) = read_echo(stream, id as u64, give_up_at) {
                        failures.push((id, error));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<(usize, io::Error)> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    let mut by_kind = BTreeMap::new();
    for (_, error) in &failures {
        *by_kind.entry(format!("{:?}", error.kind())).or_insert(0) += 1;
    }
    for (id, error) in failures.iter().take(20) {
        println!("burst client {id}: {error}");
    }
    println!(
        "burst clients: served={} failed={} failures by kind: {by_kind:?}",
        CONNECTIONS - failures.len(),
        failures.len()
    );
}

fn connect_and_send_id(
    addr: SocketAddr,
    id: u64,
    give_up_at: Instant,
) -> io::Result<std::net::TcpStream> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, time_left(give_up_at)?)
        .map_err(|error| io::Error::new(error.kind(), format!("connect: {error}")))?;
    stream
        .write_all(&id.to_le_bytes())
        .map_err(|error| io::Error::new(error.kind(), format!("send the id: {error}")))?;
    Ok(stream)
}

fn read_echo(mut stream: std::net::TcpStream, id: u64, give_up_at: Instant) -> io::Result<()> {
    let limit = time_left(give_up_at)?;
    stream.set_read_timeout(Some(limit))?;
    let mut echo = [0u8; 8];
    stream
        .read_exact(&mut echo)
        .map_err(|error| match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                io::Error::new(io::ErrorKind::TimedOut, format!("no echo within {limit:?}"))
            }
            kind => io::Error::new(kind, format!("read the echo: {error}")),
        })?;
    if echo != id.to_le_bytes() {
        return Err(io::Error::other(format!(
            "echoed {} instead",
            u64::from_le_bytes(echo)
        )));
    }
    Ok(())
}

/// The time a client operation may take: [`BURST_OPERATION_LIMIT`], or what is left before
/// the child gives up; an error once it has.
fn time_left(give_up_at: Instant) -> io::Result<Duration> {
    let left = give_up_at.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the child gave up before this connection was served",
        ));
    }
    Ok(left.min(BURST_OPERATION_LIMIT))
}
