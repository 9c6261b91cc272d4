//! I/O benchmarks: spindle, tokio and smol on the same socket workloads, in the same run.
//!
//! Every workload is one generic function over [`Contender`] whose spawner implements [`Net`]
//! (and [`UnixNet`] for the Unix rows):
//! each runtime uses its own sockets (see `spindle_benches::io`), and all three run the same
//! code apart from the socket and spawn calls. Each criterion group is one workload with one
//! function per runtime (`tcp_echo_rr/spindle`, `tcp_echo_rr/tokio`, `tcp_echo_rr/smol`), and
//! reports a throughput (criterion's `elem/s` or `MiB/s`) next to the time.
//!
//! | group | timed work per iteration | throughput unit |
//! | --- | --- | --- |
//! | `tcp_echo_rr` | 50 client tasks each connect (`TCP_NODELAY`) and make 2_000 round trips of 64 bytes (`write_all`, `read_exact`) with their own echo task on the server side | round trips (100_000) |
//! | `tcp_bulk` | one connection: a writer task sends 256 MiB in 64 KiB `write_all`s and closes, a reader task reads it with a 64 KiB buffer until EOF | bytes (256 MiB) |
//! | `udp_rr` | 10 pairs of connected UDP sockets, each pair a pinger task and a ponger task, 2_000 round trips of 64-byte datagrams per pair | round trips (20_000) |
//! | `tcp_accept` | an accept task accepts 1_000 connections and drops (closes) each at once; 10 connector tasks each connect 100 times in a row and read until the server's EOF | connections (1_000) |
//! | `unix_echo_rr` | 50 Unix stream pairs (`socketpair`), each a client task making 2_000 round trips of 64 bytes (`write_all`, `read_exact`) with an echo task on the other end | round trips (100_000) |
//! | `accept_burst` | 1_000 connector tasks spawned at once, each connecting once and sending one byte, against an accept task that accepts all 1_000: timed from just before the first connect to the 1_000th accept (the listener's bind, and closing the 2_000 sockets afterwards, untimed). Each runtime binds with its own default backlog: spindle the system's maximum (`somaxconn`), tokio and async-io 128 (mio's and std's), so theirs overflow and their clients wait for retransmits | connections (1_000) |
//!
//! The Unix sockets are each runtime's own: `spindle::net::UnixStream`, `tokio::net::UnixStream`
//! and `async_io::Async<std::os::unix::net::UnixStream>` ([`UnixNet`], which extends
//! `spindle_benches::io::Net` here).
//!
//! Server and clients live on the same runtime. The root future binds the sockets (inside the
//! runtime, so they register with its reactor), spawns both sides as tasks and only awaits
//! them, so on every contender the sockets are driven by the W worker threads alone. Sockets are
//! bound to `127.0.0.1:0` anew in every iteration, and connection setup is inside the timed
//! region (for `tcp_echo_rr` it is 50 connects against 100_000 round trips).
//!
//! Each runtime gets W = `spindle_benches::worker_count()` workers (`BENCH_WORKERS`, else the
//! number of cores): spindle as in `spindle_benches`, tokio with its I/O driver
//! (`TokioRuntime::with_io`), smol's executor threads each inside `async_io::block_on`, so an
//! idle one drives async-io's reactor. Each is built before its benchmark function, outside the
//! timed region, and dropped after it. Iterations take tens of milliseconds to a few seconds,
//! so every group takes 10 samples.
//!
//! # TIME_WAIT and `tcp_accept`
//!
//! The server closes first, so every connection of `tcp_accept` leaves a socket in TIME_WAIT
//! for 60 s, and a run makes tens of thousands. Once the kernel's table is full
//! (`net.ipv4.tcp_max_tw_buckets`, 131_072 here) a close skips TIME_WAIT altogether, which is
//! cheaper: the contender measured last would be measured against a full table and the first
//! against an empty one. So before each contender's `tcp_accept` the bench waits, untimed,
//! until at most 1_000 TIME_WAIT sockets are left (up to 75 s; Linux only), and measures for 3
//! s, which stays under the table's size at this machine's accept rate. On a machine several
//! times faster, lower that time or raise the limit, or the comparison is skewed again.
//! `accept_burst`'s connections end with a reset and leave no TIME_WAIT, but it waits for the
//! table left by the rows before it in the same way.
//!
//! Run: `cargo bench -p spindle-benches --bench io` (about eleven minutes on two cores, three
//! of them spent waiting for TIME_WAIT to drain).
//!
//! # Paired rounds
//!
//! Criterion measures one runtime after the other, and this machine's two shared cores drift
//! between phases in which everything slows down together, so one runtime can land in a slow
//! phase and the next in a fast one. `IO_PAIRED_ROUNDS=N` (instead of criterion) builds all
//! three runtimes at once and, for each workload, runs N rounds of one iteration on each,
//! rotating which runtime goes first; it prints each runtime's median time and the medians
//! (and quartiles) of the per-round time ratios spindle/tokio and spindle/smol: both sides of a
//! ratio were measured within seconds of each other. `IO_PAIRED_ONLY=name` runs only the
//! workloads whose names contain `name`. `tcp_accept` drains TIME_WAIT first and then runs at
//! most 30 rounds, so the table never fills; it grows by 1_000 sockets per iteration, about the
//! same for each runtime, as the order rotates (`accept_burst` drains and caps its rounds the
//! same way). `IO_PAIRED_ROUNDS=20 cargo bench -p spindle-benches --bench io` takes about five
//! minutes.

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use spindle_benches::io::Net;
use spindle_benches::{
    paired_rounds_or_criterion, quantile, worker_count, Contender, SmolRuntime, SmolSpawner,
    SpindleRuntime, SpindleSpawner, TokioRuntime, TokioSpawner,
};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Where every socket binds: loopback, a port the kernel picks.
const LOOPBACK: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
/// The size of one request or reply in `tcp_echo_rr` and `udp_rr`.
const MESSAGE_LEN: usize = 64;
/// Connections in `tcp_echo_rr`.
const ECHO_CONNECTIONS: usize = 50;
/// Round trips per connection in `tcp_echo_rr`.
const ECHO_ROUND_TRIPS: usize = 2_000;
/// Bytes sent per iteration in `tcp_bulk`.
const BULK_BYTES: usize = 256 << 20;
/// The size of one write (and of the read buffer) in `tcp_bulk`.
const BULK_CHUNK: usize = 64 << 10;
/// Socket pairs in `udp_rr`.
const UDP_PAIRS: usize = 10;
/// Round trips per pair in `udp_rr`.
const UDP_ROUND_TRIPS: usize = 2_000;
/// Connections accepted and closed per iteration in `tcp_accept`.
const ACCEPT_CONNECTIONS: usize = 1_000;
/// Tasks connecting at once in `tcp_accept`.
const ACCEPT_CONNECTORS: usize = 10;
/// At most this many TIME_WAIT sockets when a contender's `tcp_accept` starts.
const TIME_WAIT_AT_START: usize = 1_000;
/// How long to wait for them at most: Linux keeps a socket in TIME_WAIT for 60 s.
const TIME_WAIT_DRAIN_LIMIT: Duration = Duration::from_secs(75);
/// Stream pairs in `unix_echo_rr`.
const UNIX_PAIRS: usize = ECHO_CONNECTIONS;
/// Connections made at once in `accept_burst`.
const BURST_CONNECTIONS: usize = 1_000;
/// At most this many paired rounds of `tcp_accept`: with the warm-up, 3 × 31 iterations of
/// 1_000 connections, under the TIME_WAIT table's 131_072 (see the module docs).
const PAIRED_ACCEPT_ROUNDS: usize = 30;

/// The server side of `tcp_echo_rr` and `unix_echo_rr`: writes back whatever it reads, until
/// EOF.
async fn echo_until_eof(mut stream: impl AsyncRead + AsyncWrite + Unpin) {
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            return;
        }
        stream.write_all(&buf[..n]).await.unwrap();
    }
}

/// One client of `tcp_echo_rr` and `unix_echo_rr`: `ECHO_ROUND_TRIPS` requests, each awaiting
/// its whole reply.
async fn round_trips(mut stream: impl AsyncRead + AsyncWrite + Unpin) {
    let request = [0xA5u8; MESSAGE_LEN];
    let mut reply = [0u8; MESSAGE_LEN];
    for _ in 0..ECHO_ROUND_TRIPS {
        stream.write_all(&request).await.unwrap();
        stream.read_exact(&mut reply).await.unwrap();
    }
    assert_eq!(reply, request);
}

/// The server side of `tcp_echo_rr`.
async fn echo<N: Net>(stream: N::TcpStream) {
    N::set_nodelay(&stream).unwrap();
    echo_until_eof(stream).await;
}

/// One client of `tcp_echo_rr`.
async fn echo_client<N: Net>(addr: SocketAddr) {
    let stream = N::tcp_connect(addr).await.unwrap();
    N::set_nodelay(&stream).unwrap();
    round_trips(stream).await;
}

async fn tcp_echo_rr<N: Net>(spawner: N) {
    let listener = N::tcp_bind(LOOPBACK).await.unwrap();
    let addr = N::tcp_local_addr(&listener).unwrap();
    let server = spawner.spawn(async move {
        let mut echoes = Vec::with_capacity(ECHO_CONNECTIONS);
        for _ in 0..ECHO_CONNECTIONS {
            let stream = N::tcp_accept(&listener).await.unwrap();
            echoes.push(spawner.spawn(echo::<N>(stream)));
        }
        for echo in echoes {
            echo.await;
        }
    });
    let clients: Vec<_> = (0..ECHO_CONNECTIONS)
        .map(|_| spawner.spawn(echo_client::<N>(addr)))
        .collect();
    for client in clients {
        client.await;
    }
    server.await;
}

async fn tcp_bulk<N: Net>(spawner: N) {
    let listener = N::tcp_bind(LOOPBACK).await.unwrap();
    let addr = N::tcp_local_addr(&listener).unwrap();
    let reader = spawner.spawn(async move {
        let mut stream = N::tcp_accept(&listener).await.unwrap();
        let mut buf = vec![0u8; BULK_CHUNK];
        let mut received = 0;
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            received += n;
        }
        assert_eq!(received, BULK_BYTES);
    });
    let writer = spawner.spawn(async move {
        let mut stream = N::tcp_connect(addr).await.unwrap();
        let chunk = vec![0xA5u8; BULK_CHUNK];
        for _ in 0..BULK_BYTES / BULK_CHUNK {
            stream.write_all(&chunk).await.unwrap();
        }
        stream.close().await.unwrap();
    });
    writer.await;
    reader.await;
}

async fn udp_rr<N: Net>(spawner: N) {
    let mut tasks = Vec::with_capacity(2 * UDP_PAIRS);
    for _ in 0..UDP_PAIRS {
        let pinger = N::udp_bind(LOOPBACK).await.unwrap();
        let ponger = N::udp_bind(LOOPBACK).await.unwrap();
        N::udp_connect(&pinger, N::udp_local_addr(&ponger).unwrap())
            .await
            .unwrap();
        N::udp_connect(&ponger, N::udp_local_addr(&pinger).unwrap())
            .await
            .unwrap();
        tasks.push(spawner.spawn(async move {
            let mut buf = [0u8; MESSAGE_LEN];
            for _ in 0..UDP_ROUND_TRIPS {
                let n = N::udp_recv(&ponger, &mut buf).await.unwrap();
                N::udp_send(&ponger, &buf[..n]).await.unwrap();
            }
        }));
        tasks.push(spawner.spawn(async move {
            let ping = [0xA5u8; MESSAGE_LEN];
            let mut pong = [0u8; MESSAGE_LEN];
            for _ in 0..UDP_ROUND_TRIPS {
                N::udp_send(&pinger, &ping).await.unwrap();
                let n = N::udp_recv(&pinger, &mut pong).await.unwrap();
                assert_eq!(n, MESSAGE_LEN);
            }
        }));
    }
    for task in tasks {
        task.await;
    }
}

async fn tcp_accept<N: Net>(spawner: N) {
    let listener = N::tcp_bind(LOOPBACK).await.unwrap();
    let addr = N::tcp_local_addr(&listener).unwrap();
    let server = spawner.spawn(async move {
        for _ in 0..ACCEPT_CONNECTIONS {
            drop(N::tcp_accept(&listener).await.unwrap());
        }
    });
    let connectors: Vec<_> = (0..ACCEPT_CONNECTORS)
        .map(|_| {
            spawner.spawn(async move {
                let mut buf = [0u8; 1];
                for _ in 0..ACCEPT_CONNECTIONS / ACCEPT_CONNECTORS {
                    let mut stream = N::tcp_connect(addr).await.unwrap();
                    assert_eq!(stream.read(&mut buf).await.unwrap(), 0, "the server closes");
                }
            })
        })
        .collect();
    for connector in connectors {
        connector.await;
    }
    server.await;
}

async fn unix_echo_rr<N: UnixNet>(spawner: N) {
    let mut tasks = Vec::with_capacity(2 * UNIX_PAIRS);
    for _ in 0..UNIX_PAIRS {
        let (client, server) = N::unix_pair().unwrap();
        tasks.push(spawner.spawn(echo_until_eof(server)));
        tasks.push(spawner.spawn(round_trips(client)));
    }
    for task in tasks {
        task.await;
    }
}

/// Returns the time from just before the first connect to the 1_000th accept; the sockets are
/// closed after that, the server's first: with the clients' bytes unread, each close sends a
/// reset, so the burst leaves no TIME_WAIT behind.
async fn accept_burst<N: Net>(spawner: N) -> Duration {
    let listener = N::tcp_bind(LOOPBACK).await.unwrap();
    let addr = N::tcp_local_addr(&listener).unwrap();
    let start = Instant::now();
    let server = spawner.spawn(async move {
        let mut accepted = Vec::with_capacity(BURST_CONNECTIONS);
        for _ in 0..BURST_CONNECTIONS {
            accepted.push(N::tcp_accept(&listener).await.unwrap());
        }
        (Instant::now(), accepted)
    });
    // Each client sends a byte, as a client with a request would: a connection whose
    // handshake's last ACK found the accept queue full (and was answered with a SYN cookie, so
    // the server kept no state) is otherwise never retried, and the server would wait forever.
    let connectors: Vec<_> = (0..BURST_CONNECTIONS)
        .map(|_| {
            spawner.spawn(async move {
                let mut stream = N::tcp_connect(addr).await.unwrap();
                stream.write_all(&[1]).await.unwrap();
                stream
            })
        })
        .collect();
    let mut connected = Vec::with_capacity(BURST_CONNECTIONS);
    for connector in connectors {
        connected.push(connector.await);
    }
    let (last_accept, accepted) = server.await;
    drop(accepted);
    drop(connected);
    last_accept - start
}

/// A runtime's own Unix domain stream sockets, for `unix_echo_rr`.
trait UnixNet: Net {
    /// A connected Unix stream, read and written through `futures-io`.
    type UnixStream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Two connected streams (`socketpair`), registered with the runtime's reactor.
    fn unix_pair() -> io::Result<(Self::UnixStream, Self::UnixStream)>;
}

impl UnixNet for SpindleSpawner {
    type UnixStream = spindle::net::UnixStream;

    fn unix_pair() -> io::Result<(Self::UnixStream, Self::UnixStream)> {
        spindle::net::UnixStream::pair()
    }
}

/// A `tokio::net::UnixStream` seen through `futures-io`: one poll of tokio's per poll, as
/// `spindle_benches::io::TokioStream` does for TCP.
#[derive(Debug)]
struct TokioUnixStream(tokio::net::UnixStream);

impl AsyncRead for TokioUnixStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = tokio::io::ReadBuf::new(buf);
        match tokio::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, &mut read_buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read_buf.filled().len())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TokioUnixStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.0), cx)
    }
}

impl UnixNet for TokioSpawner {
    type UnixStream = TokioUnixStream;

    fn unix_pair() -> io::Result<(Self::UnixStream, Self::UnixStream)> {
        let (a, b) = tokio::net::UnixStream::pair()?;
        Ok((TokioUnixStream(a), TokioUnixStream(b)))
    }
}

impl UnixNet for SmolSpawner {
    type UnixStream = async_io::Async<std::os::unix::net::UnixStream>;

    fn unix_pair() -> io::Result<(Self::UnixStream, Self::UnixStream)> {
        async_io::Async::<std::os::unix::net::UnixStream>::pair()
    }
}

/// What one iteration took: the whole `block_on` for a workload that returns nothing, the span
/// it measured itself for one that returns it (`accept_burst`).
trait IterationTime {
    fn or_whole(self, whole: Duration) -> Duration;
}

impl IterationTime for () {
    fn or_whole(self, whole: Duration) -> Duration {
        whole
    }
}

impl IterationTime for Duration {
    fn or_whole(self, _whole: Duration) -> Duration {
        self
    }
}

/// Sockets in TIME_WAIT right now: the `tw` field of `/proc/net/sockstat` (`None` where there is
/// no such file).
fn time_wait_sockets() -> Option<usize> {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let tcp = sockstat.lines().find(|line| line.starts_with("TCP:"))?;
    let mut fields = tcp.split_whitespace();
    fields.position(|field| field == "tw")?;
    fields.next()?.parse().ok()
}

/// Waits (untimed) until the TIME_WAIT sockets of earlier runs have expired, so that every
/// contender's `tcp_accept` starts from the same, nearly empty, TIME_WAIT table; see the module
/// docs.
fn drain_time_wait() {
    let start = Instant::now();
    while let Some(sockets) = time_wait_sockets() {
        if sockets <= TIME_WAIT_AT_START || start.elapsed() > TIME_WAIT_DRAIN_LIMIT {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One benchmark function: builds the runtime (untimed), calls `prepare` (untimed, once, and
/// only if the function is not filtered out), measures `workload` on it, drops it. `workload`
/// returns how long its iteration took ([`IterationTime`]).
fn bench_on<C: Contender>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    build: fn(usize) -> C,
    prepare: fn(),
    workload: fn(&C) -> Duration,
) {
    let rt = build(worker_count());
    let mut prepared = false;
    group.bench_function(C::NAME, |b| {
        if !prepared {
            prepare();
            prepared = true;
        }
        b.iter_custom(|iters| (0..iters).map(|_| workload(&rt)).sum())
    });
    drop(rt);
}

/// A group named `$name` running the generic `$workload` on spindle, tokio and smol, reporting
/// `$throughput` per iteration, measured for `$seconds` per runtime, each after `$prepare`.
macro_rules! io_group {
    ($c:expr, $name:literal, $workload:ident, $throughput:expr, $seconds:expr, $prepare:expr) => {{
        fn run<C: Contender>(rt: &C) -> Duration
        where
            C::Spawner: UnixNet,
        {
            let start = Instant::now();
            let spawner = rt.spawner();
            rt.block_on($workload(spawner)).or_whole(start.elapsed())
        }
        let mut group = $c.benchmark_group($name);
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs($seconds));
        group.throughput($throughput);
        bench_on(
            &mut group,
            SpindleRuntime::new,
            $prepare,
            run::<SpindleRuntime>,
        );
        bench_on(
            &mut group,
            TokioRuntime::with_io,
            $prepare,
            run::<TokioRuntime>,
        );
        bench_on(&mut group, SmolRuntime::new, $prepare, run::<SmolRuntime>);
        group.finish();
    }};
}

fn io(c: &mut Criterion) {
    io_group!(
        c,
        "tcp_echo_rr",
        tcp_echo_rr,
        Throughput::Elements((ECHO_CONNECTIONS * ECHO_ROUND_TRIPS) as u64),
        30,
        || {}
    );
    io_group!(
        c,
        "tcp_bulk",
        tcp_bulk,
        Throughput::Bytes(BULK_BYTES as u64),
        10,
        || {}
    );
    io_group!(
        c,
        "udp_rr",
        udp_rr,
        Throughput::Elements((UDP_PAIRS * UDP_ROUND_TRIPS) as u64),
        10,
        || {}
    );
    io_group!(
        c,
        "tcp_accept",
        tcp_accept,
        Throughput::Elements(ACCEPT_CONNECTIONS as u64),
        3,
        drain_time_wait
    );
    io_group!(
        c,
        "unix_echo_rr",
        unix_echo_rr,
        Throughput::Elements((UNIX_PAIRS * ECHO_ROUND_TRIPS) as u64),
        30,
        || {}
    );
    io_group!(
        c,
        "accept_burst",
        accept_burst,
        Throughput::Elements(BURST_CONNECTIONS as u64),
        3,
        drain_time_wait
    );
}

/// Runs `rounds` paired rounds of one workload (see the module docs) and prints the medians.
macro_rules! paired_rounds {
    ($name:literal, $workload:ident, $rounds:expr, $spindle:expr, $tokio:expr, $smol:expr) => {{
        /// One iteration on `rt`, in seconds.
        fn timed<C: Contender>(rt: &C) -> f64
        where
            C::Spawner: UnixNet,
        {
            let spawner = rt.spawner();
            let start = Instant::now();
            let output = rt.block_on($workload(spawner));
            output.or_whole(start.elapsed()).as_secs_f64()
        }
        let (spindle, tokio, smol) = ($spindle, $tokio, $smol);
        // One untimed iteration each, as criterion warms up.
        timed(spindle);
        timed(tokio);
        timed(smol);
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..$rounds {
            for turn in 0..3 {
                let contender = (round + turn) % 3;
                times[contender].push(match contender {
                    0 => timed(spindle),
                    1 => timed(tokio),
                    _ => timed(smol),
                });
            }
        }
        print_paired($name, times);
    }};
}

/// Prints one workload's paired-round medians: times per runtime, and per-round time ratios.
fn print_paired(name: &str, times: [Vec<f64>; 3]) {
    let ratios = |peer: &[f64]| -> Vec<f64> {
        times[0]
            .iter()
            .zip(peer)
            .map(|(own, peer)| own / peer)
            .collect()
    };
    let (mut vs_tokio, mut vs_smol) = (ratios(&times[1]), ratios(&times[2]));
    let [mut spindle, mut tokio, mut smol] = times;
    let rounds = spindle.len();
    println!(
        "{name} paired, {rounds} rounds: median ms spindle {:.2}, tokio {:.2}, smol {:.2}; \
         spindle/tokio in time: median {:.3} (quartiles {:.3} to {:.3}); \
         spindle/smol: median {:.3} (quartiles {:.3} to {:.3})",
        1e3 * quantile(&mut spindle, 0.5),
        1e3 * quantile(&mut tokio, 0.5),
        1e3 * quantile(&mut smol, 0.5),
        quantile(&mut vs_tokio, 0.5),
        quantile(&mut vs_tokio, 0.25),
        quantile(&mut vs_tokio, 0.75),
        quantile(&mut vs_smol, 0.5),
        quantile(&mut vs_smol, 0.25),
        quantile(&mut vs_smol, 0.75),
    );
}

/// `IO_PAIRED_ROUNDS=rounds`: every runtime built once, then the paired rounds of each
/// workload, or only of those whose names contain `IO_PAIRED_ONLY`.
fn paired(rounds: usize) {
    let workers = worker_count();
    let spindle = SpindleRuntime::new(workers);
    let tokio = TokioRuntime::with_io(workers);
    let smol = SmolRuntime::new(workers);
    let only = std::env::var("IO_PAIRED_ONLY").unwrap_or_default();
    if "tcp_echo_rr".contains(&only) {
        paired_rounds!("tcp_echo_rr", tcp_echo_rr, rounds, &spindle, &tokio, &smol);
    }
    if "tcp_bulk".contains(&only) {
        paired_rounds!("tcp_bulk", tcp_bulk, rounds, &spindle, &tokio, &smol);
    }
    if "udp_rr".contains(&only) {
        paired_rounds!("udp_rr", udp_rr, rounds, &spindle, &tokio, &smol);
    }
    if "tcp_accept".contains(&only) {
        drain_time_wait();
        let rounds = rounds.min(PAIRED_ACCEPT_ROUNDS);
        paired_rounds!("tcp_accept", tcp_accept, rounds, &spindle, &tokio, &smol);
    }
    if "unix_echo_rr".contains(&only) {
        paired_rounds!(
            "unix_echo_rr",
            unix_echo_rr,
            rounds,
            &spindle,
            &tokio,
            &smol
        );
    }
    if "accept_burst".contains(&only) {
        drain_time_wait();
        let rounds = rounds.min(PAIRED_ACCEPT_ROUNDS);
        paired_rounds!(
            "accept_burst",
            accept_burst,
            rounds,
            &spindle,
            &tokio,
            &smol
        );
    }
}

/// Criterion's entry point, in a module so the `pub fn` the macro generates stays private.
mod entry {
    use criterion::{criterion_group, Criterion};
    use std::time::Duration;

    criterion_group! {
        name = benches;
        config = Criterion::default().warm_up_time(Duration::from_secs(1));
        targets = super::io
    }
}

fn main() {
    paired_rounds_or_criterion("IO_PAIRED_ROUNDS", paired, entry::benches);
}
