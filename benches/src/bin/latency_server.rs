//! A server in its own process, for the latency-under-load runs (`benches/run_latency.sh`):
//! `latency_server <spindle|tokio|smol> <http|echo>`.
//!
//! It binds `127.0.0.1:0`, prints the address on a line of its own on stdout, and serves until
//! its standard input is closed (so the script that started it stops it by closing the pipe,
//! and a crashed script leaves no server behind). Then it prints the CPU time the process
//! used, user and system, as `cpu_ms=N` on a second line. W = `spindle_benches::worker_count()`
//! workers (`BENCH_WORKERS`, else one per core).
//!
//! - `http`: hyper 1.x HTTP/1.1, keep-alive, `Hello, World!` for every request, one task per
//!   connection, `TCP_NODELAY`: the server of `benches/benches/http.rs`. spindle serves through
//!   `spindle::compat::hyper::HyperIo`, tokio through hyper-util's `TokioIo`, smol through the
//!   same `HyperIo` (it wraps any futures-io stream) over `async_io::Async<TcpStream>`.
//! - `echo`: reads 64-byte messages and writes each back, one task per connection.

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use spindle::compat::hyper::HyperIo;
use spindle_benches::{worker_count, SmolRuntime};
use std::convert::Infallible;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::ExitCode;

/// The size of one echo message.
const MESSAGE_LEN: usize = 64;

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// Serves one connection with `kind`: HTTP/1.1 hello or 64-byte echo.
async fn serve<S>(stream: S, kind: Kind)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match kind {
        Kind::Http => {
            let _ = http1::Builder::new()
                .serve_connection(HyperIo::new(stream), service_fn(hello))
                .await;
        }
        Kind::Echo => {
            let mut stream = stream;
            let mut message = [0u8; MESSAGE_LEN];
            while stream.read_exact(&mut message).await.is_ok() {
                if stream.write_all(&message).await.is_err() {
                    break;
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Http,
    Echo,
}

/// Prints the address and blocks until stdin is closed.
fn announce_and_wait(addr: SocketAddr) {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{addr}")
        .and_then(|()| stdout.flush())
        .expect("stdout");
    let mut line = String::new();
    let mut stdin = std::io::stdin().lock();
    while stdin.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        line.clear();
    }
    let _ = writeln!(stdout, "cpu_ms={}", cpu_time_ms());
}

/// User plus system CPU time of this process so far, in milliseconds (`/proc/self/stat`'s
/// `utime` and `stime`, in clock ticks).
fn cpu_time_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * 1000 / ticks_per_second
}

fn run_spindle(kind: Kind, workers: usize) {
    let runtime = spindle::Builder::new()
        .worker_threads(workers)
        .build()
        .expect("spindle runtime");
    let addr = runtime.block_on(async {
        let listener = spindle::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        spindle::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                spindle::spawn(serve(stream, kind));
            }
        });
        addr
    });
    announce_and_wait(addr);
}

fn run_tokio(kind: Kind, workers: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    match kind {
                        Kind::Http => {
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let _ = http1::Builder::new()
                                .serve_connection(io, service_fn(hello))
                                .await;
                        }
                        Kind::Echo => {
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            let mut stream = stream;
                            let mut message = [0u8; MESSAGE_LEN];
                            while stream.read_exact(&mut message).await.is_ok() {
                                if stream.write_all(&message).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    });
    announce_and_wait(addr);
}

fn run_smol(kind: Kind, workers: usize) {
    let runtime = SmolRuntime::new(workers);
    let executor = runtime.executor();
    let listener = async_io::Async::<StdListener>::bind(([127, 0, 0, 1], 0)).expect("smol bind");
    let addr = listener.get_ref().local_addr().unwrap();
    executor
        .spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.get_ref().set_nodelay(true).unwrap();
                executor.spawn(serve(stream, kind)).detach();
            }
        })
        .detach();
    announce_and_wait(addr);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = match args.get(1).map(String::as_str) {
        Some("http") => Kind::Http,
        Some("echo") => Kind::Echo,
        _ => {
            eprintln!("usage: latency_server <spindle|tokio|smol> <http|echo>");
            return ExitCode::from(2);
        }
    };
    let workers = worker_count();
    match args[0].as_str() {
        "spindle" => run_spindle(kind, workers),
        "tokio" => run_tokio(kind, workers),
        "smol" => run_smol(kind, workers),
        other => {
            eprintln!("latency_server: unknown runtime {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
