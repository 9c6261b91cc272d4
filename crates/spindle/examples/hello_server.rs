//! An HTTP/1.1 hello-world server: hyper on spindle, one task per connection, keep-alive on.
//!
//! Run with `cargo run -p spindle --features hyper --example hello_server [ADDR] [REQUESTS]`,
//! then `curl http://127.0.0.1:3000/`. ADDR defaults to `127.0.0.1:3000`. The server runs until
//! you stop it with Ctrl-C, or, given REQUESTS, exits by itself once it has answered that many
//! requests (the last one is answered with `Connection: close`, and the server exits when
//! that connection is done).

use bytes::Bytes;
use futures::channel::mpsc;
use futures::StreamExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use spindle::compat::hyper::HyperIo;
use spindle::net::TcpListener;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Answers every request with `Hello, World!`; the request numbered `limit` also with
/// `Connection: close`, and marks `served_last`.
fn hello(
    _request: Request<Incoming>,
    served: &AtomicU64,
    limit: Option<u64>,
    served_last: &AtomicBool,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    let number = served.fetch_add(1, Ordering::Relaxed) + 1;
    if Some(number) == limit {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        served_last.store(true, Ordering::Relaxed);
    }
    response
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let limit = match args.next() {
        Some(count) => Some(count.parse::<u64>().map_err(|err| {
            format!("REQUESTS must be a whole number of requests, not {count:?}: {err}")
        })?),
        None => None,
    };

    spindle::block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let served = Arc::new(AtomicU64::new(0));
        // A connection that answered the last request says so here when it is done.
        let (last_done, mut last_done_receiver) = mpsc::unbounded::<()>();
        let accept_loop = spindle::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        eprintln!("accept failed: {err}");
                        continue;
                    }
                };
                let served = served.clone();
                let last_done = last_done.clone();
                spindle::spawn(async move {
                    let served_last = Arc::new(AtomicBool::new(false));
                    let marker = served_last.clone();
                    let service = service_fn(move |request| {
                        let response = hello(request, &served, limit, &marker);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    if let Err(err) = http1::Builder::new()
                        .serve_connection(HyperIo::new(stream), service)
                        .await
                    {
                        eprintln!("connection from {peer}: {err}");
                    }
                    if served_last.load(Ordering::Relaxed) {
                        let _ = last_done.unbounded_send(());
                    }
                });
            }
        });
        match limit {
            Some(limit) => {
                last_done_receiver.next().await;
                accept_loop.abort();
                println!("answered {limit} requests, exiting");
            }
            None => {
                let _ = accept_loop.await;
            }
        }
        Ok(())
    })
}
