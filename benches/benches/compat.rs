//! What a tokio-only crate costs on spindle through `async_compat::Compat`.
//!
//! One group, `tokio_client_rr`: one TCP connection makes 2_000 round trips of 64 bytes
//! (`TCP_NODELAY`, `write_all` then `read_exact`) with an echo task of the server. Three
//! functions:
//!
//! | function | client | server |
//! | --- | --- | --- |
//! | `spindle` | a spindle task with `spindle::net::TcpStream` | spindle |
//! | `tokio_in_compat` | a spindle task running a `tokio::net::TcpStream` client inside `Compat` | spindle |
//! | `tokio` | a tokio task with `tokio::net::TcpStream` | tokio |
//!
//! Under `Compat` the client's socket is registered with the tokio runtime that async-compat
//! keeps on its own thread: each read that finds no data parks the spindle task, that thread's
//! reactor sees the reply and wakes the task across runtimes. The gap between the first two
//! rows is that hop. Both runtimes get W = `spindle_benches::worker_count()` workers.
//!
//! Run: `cargo bench -p spindle-benches --bench compat`.

use async_compat::Compat;
use criterion::{criterion_main, Criterion, Throughput};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle_benches::{worker_count, SpindleRuntime, TokioRuntime};
use std::net::SocketAddr;

const ROUND_TRIPS: usize = 2_000;
const MESSAGE_LEN: usize = 64;

async fn tokio_client(addr: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buf = [7u8; MESSAGE_LEN];
    for _ in 0..ROUND_TRIPS {
        stream.write_all(&buf).await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
    }
}

async fn spindle_client(addr: SocketAddr) {
    let mut stream = spindle::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buf = [7u8; MESSAGE_LEN];
    for _ in 0..ROUND_TRIPS {
        stream.write_all(&buf).await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
    }
}

/// Binds a spindle echo server and runs `client(addr)` on a spindle task against it.
async fn against_spindle_server<F: std::future::Future<Output = ()> + Send + 'static>(
    client: impl FnOnce(SocketAddr) -> F,
) {
    let listener = spindle::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spindle::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = [0u8; MESSAGE_LEN];
        let (mut reader, mut writer) = (&stream, &stream);
        while reader.read_exact(&mut buf).await.is_ok() {
            writer.write_all(&buf).await.unwrap();
        }
    });
    spindle::spawn(client(addr)).await.unwrap();
    server.await.unwrap();
}

fn tokio_client_rr(c: &mut Criterion) {
    let workers = worker_count();
    let mut group = c.benchmark_group("tokio_client_rr");
    group.throughput(Throughput::Elements(ROUND_TRIPS as u64));
    group.sample_size(20);

    let spindle_rt = SpindleRuntime::new(workers);
    group.bench_function("spindle", |b| {
        b.iter(|| {
            spindle_rt
                .runtime()
                .block_on(against_spindle_server(spindle_client))
        })
    });
    group.bench_function("tokio_in_compat", |b| {
        b.iter(|| {
            spindle_rt
                .runtime()
                .block_on(against_spindle_server(|addr| {
                    Compat::new(tokio_client(addr))
                }))
        })
    });
    drop(spindle_rt);

    let tokio_rt = TokioRuntime::with_io(workers);
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio_rt.runtime().block_on(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = tokio::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buf = [0u8; MESSAGE_LEN];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        stream.write_all(&buf).await.unwrap();
                    }
                });
                tokio::spawn(tokio_client(addr)).await.unwrap();
                server.await.unwrap();
            })
        })
    });
    group.finish();
}

/// Criterion's entry point, in a module so the `pub fn` the macro generates stays private.
mod entry {
    use criterion::criterion_group;

    criterion_group!(benches, super::tokio_client_rr);
}
criterion_main!(entry::benches);
