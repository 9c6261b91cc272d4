//! HTTP benchmark: a hyper 1.x hello-world HTTP/1.1 server on spindle against the same server
//! on tokio, under the same load generator, in the same run.
//!
//! | group | timed work per iteration | throughput unit |
//! | --- | --- | --- |
//! | `http_hello` | 32 keep-alive connections each send 100 `GET /` one after another (each waits for its response and reads the 13-byte body), all 32 at once | requests (3_200) |
//!
//! # The servers
//!
//! The same hyper code on both: `hyper::server::conn::http1::Builder::new()` (keep-alive on,
//! hyper's defaults otherwise) serving `Hello, World!` with a `service_fn`, one task per
//! connection, `TCP_NODELAY` on every accepted socket. They differ only in the runtime calls:
//!
//! | name | runtime | sockets | hyper I/O |
//! | --- | --- | --- | --- |
//! | `spindle` | `spindle::Builder::new().worker_threads(W)` | `spindle::net` | `spindle::compat::hyper::HyperIo` |
//! | `tokio` | `new_multi_thread().worker_threads(W).enable_all()` | `tokio::net` | hyper-util's `TokioIo` |
//!
//! W is `spindle_benches::worker_count()` (`BENCH_WORKERS`, else the number of cores). Each
//! server starts before its benchmark function, outside the timed region, and its runtime is
//! dropped after it.
//!
//! # The load generator
//!
//! One hyper HTTP/1.1 client (`hyper::client::conn::http1` over hyper-util's `TokioIo`) on its
//! own two-thread tokio runtime (threads `load-gen-*`), built once and used for both servers;
//! it never shares a thread with a server. Its 32 connections (`TCP_NODELAY`) are opened
//! before the timed region, so an iteration is requests only. Each connection is driven by its
//! own task; an iteration ends when all 32 have had their 100 responses.
//!
//! The load generator and the server share the machine's cores, the same way for both
//! servers, so the numbers are requests per second of the whole loopback exchange, not of the
//! server alone; the ratio between the two servers is what to read.
//!
//! Run: `cargo bench -p spindle-benches --bench http` (about half a minute).
//!
//! # Paired rounds
//!
//! Criterion measures one server after the other, so on a shared machine whose load drifts
//! between phases the two can land in different phases. `HTTP_PAIRED_ROUNDS=N` (instead of
//! criterion) starts both servers at once and runs N rounds of one iteration on each,
//! alternating which goes first (spindle then tokio, then tokio then spindle, ...), and prints
//! each server's median requests per second and the median of the per-round ratios
//! spindle/tokio: both sides of a ratio were measured within a fraction of a second of each
//! other. `HTTP_PAIRED_ROUNDS=40 cargo bench -p spindle-benches --bench http` takes about ten
//! seconds.

use bytes::Bytes;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self as client, SendRequest};
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use spindle::compat::hyper::HyperIo;
use spindle_benches::{paired_rounds_or_criterion, quantile, worker_count};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

/// Keep-alive connections the load generator keeps open to the server.
const CONNECTIONS: usize = 32;
/// Requests each connection sends per iteration, one after another.
const REQUESTS_PER_CONNECTION: usize = 100;
/// Threads of the load generator's tokio runtime.
const LOAD_GENERATOR_THREADS: usize = 2;
/// The server's answer to every request.
const BODY: &[u8] = b"Hello, World!";

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

/// A hello-world server on one runtime, running until the runtime is dropped.
trait HelloServer {
    /// The name criterion reports it under.
    const NAME: &'static str;

    /// Builds the runtime with `workers` workers and starts the server on a loopback port.
    fn start(workers: usize) -> Self;

    /// Where the server listens.
    fn addr(&self) -> SocketAddr;
}

/// The server on spindle.
struct SpindleServer {
    _runtime: spindle::Runtime,
    addr: SocketAddr,
}

impl HelloServer for SpindleServer {
    const NAME: &'static str = "spindle";

    fn start(workers: usize) -> SpindleServer {
        let runtime = spindle::Builder::new()
            .worker_threads(workers)
            .build()
            .unwrap_or_else(|err| panic!("cannot build the spindle runtime: {err}"));
        let addr = runtime.block_on(async {
            let listener = spindle::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            let addr = listener.local_addr().unwrap();
            spindle::spawn(async move {
                loop {
                    let (stream, _peer) = listener.accept().await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    spindle::spawn(async move {
                        let _ = server::Builder::new()
                            .serve_connection(HyperIo::new(stream), service_fn(hello))
                            .await;
                    });
                }
            });
            addr
        });
        SpindleServer {
            _runtime: runtime,
            addr,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The server on tokio.
struct TokioServer {
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
}

impl HelloServer for TokioServer {
    const NAME: &'static str = "tokio";

    fn start(workers: usize) -> TokioServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the tokio runtime: {err}"));
        let addr = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                loop {
                    let (stream, _peer) = listener.accept().await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    tokio::spawn(async move {
                        let _ = server::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(hello))
                            .await;
                    });
                }
            });
            addr
        });
        TokioServer {
            _runtime: runtime,
            addr,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The hyper client that loads every server: its own tokio runtime, its own threads.
struct LoadGenerator {
    runtime: tokio::runtime::Runtime,
}

impl LoadGenerator {
    fn new() -> LoadGenerator {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(LOAD_GENERATOR_THREADS)
            .thread_name("load-gen")
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("cannot build the load generator's runtime: {err}"));
        LoadGenerator { runtime }
    }

    /// Opens [`CONNECTIONS`] keep-alive connections to `addr`.
    fn connect(&self, addr: SocketAddr) -> Vec<SendRequest<Empty<Bytes>>> {
        self.runtime.block_on(async move {
            let mut senders = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (sender, connection) = client::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(connection);
                senders.push(sender);
            }
            senders
        })
    }

    /// Sends [`REQUESTS_PER_CONNECTION`] requests on every connection at once, each
    /// connection from its own task, and waits for every response and body.
    fn run(&self, senders: &mut Vec<SendRequest<Empty<Bytes>>>) {
        let connections = std::mem::take(senders);
        *senders = self.runtime.block_on(async move {
            let tasks: Vec<_> = connections
                .into_iter()
                .map(|sender| tokio::spawn(send_requests(sender)))
                .collect();
            let mut returned = Vec::with_capacity(tasks.len());
            for task in tasks {
                returned.push(task.await.unwrap());
            }
            returned
        });
    }
}

/// [`REQUESTS_PER_CONNECTION`] requests on one connection, one after another; hands the
/// connection back.
async fn send_requests(mut sender: SendRequest<Empty<Bytes>>) -> SendRequest<Empty<Bytes>> {
    for _ in 0..REQUESTS_PER_CONNECTION {
        sender.ready().await.unwrap();
        let request = Request::get("/").body(Empty::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, BODY);
    }
    sender
}

fn bench_server<S: HelloServer>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    load: &LoadGenerator,
) {
    let server = S::start(worker_count());
    let mut senders = load.connect(server.addr());
    group.bench_function(S::NAME, |b| b.iter(|| load.run(&mut senders)));
    drop(senders);
    drop(server);
}

fn http(c: &mut Criterion) {
    let load = LoadGenerator::new();
    let mut group = c.benchmark_group("http_hello");
    group.throughput(Throughput::Elements(
        (CONNECTIONS * REQUESTS_PER_CONNECTION) as u64,
    ));
    // An iteration takes tens of milliseconds: flat sampling keeps the run short.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    bench_server::<SpindleServer>(&mut group, &load);
    bench_server::<TokioServer>(&mut group, &load);
    group.finish();
}

/// Runs `rounds` paired rounds (see the crate docs) and prints the medians.
fn paired_rounds(rounds: usize) {
    let load = LoadGenerator::new();
    let spindle = SpindleServer::start(worker_count());
    let tokio = TokioServer::start(worker_count());
    let mut spindle_senders = load.connect(spindle.addr());
    let mut tokio_senders = load.connect(tokio.addr());
    let requests = (CONNECTIONS * REQUESTS_PER_CONNECTION) as f64;
    let timed = |senders: &mut Vec<SendRequest<Empty<Bytes>>>| {
        let start = Instant::now();
        load.run(senders);
        requests / start.elapsed().as_secs_f64()
    };
    // One untimed round each, as criterion warms up.
    timed(&mut spindle_senders);
    timed(&mut tokio_senders);
    let (mut spindle_rates, mut tokio_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (spindle_rate, tokio_rate) = if round % 2 == 0 {
            let spindle_rate = timed(&mut spindle_senders);
            (spindle_rate, timed(&mut tokio_senders))
        } else {
            let tokio_rate = timed(&mut tokio_senders);
            (timed(&mut spindle_senders), tokio_rate)
        };
        spindle_rates.push(spindle_rate);
        tokio_rates.push(tokio_rate);
        ratios.push(spindle_rate / tokio_rate);
    }
    println!(
        "http_hello paired, {rounds} rounds of {requests} requests: spindle {:.0} req/s, \
         tokio {:.0} req/s (medians); spindle/tokio throughput ratio: median {:.3}, \
         quartiles {:.3} to {:.3}",
        quantile(&mut spindle_rates, 0.5),
        quantile(&mut tokio_rates, 0.5),
        quantile(&mut ratios, 0.5),
        quantile(&mut ratios, 0.25),
        quantile(&mut ratios, 0.75),
    );
}

/// Criterion's entry point, in a module so the `pub fn` the macro generates stays private.
mod entry {
    use criterion::{criterion_group, Criterion};
    use std::time::Duration;

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(8));
        targets = super::http
    }
}

fn main() {
    paired_rounds_or_criterion("HTTP_PAIRED_ROUNDS", paired_rounds, entry::benches);
}
