//! Many fetches at once with hyper: the asyncio article's aiohttp example, on spindle.
//!
//! It starts a hello-world HTTP/1.1 server in this process, on an ephemeral loopback port,
//! which takes 100 ms to answer each request (a slow upstream). Then it fetches N URLs from it
//! at once with `join_all`, each on its own connection, and prints each status and body length
//! and the elapsed time: about 100 ms in all, not N times 100 ms, because the fetches wait
//! together. It exits by itself.
//!
//! Run with `cargo run -p spindle --features hyper --example fetch_many [N]` (N defaults to 10).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1 as client;
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use spindle::compat::hyper::HyperIo;
use spindle::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long the in-process server takes to answer a request.
const SERVER_DELAY: Duration = Duration::from_millis(100);

type BoxError = Box<dyn Error + Send + Sync>;

/// Answers each request, after [`SERVER_DELAY`], with a greeting naming its path.
async fn slow_hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    spindle::sleep(SERVER_DELAY).await;
    let body = format!("Hello from {}", request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves every connection `listener` accepts, each on its own task, until the program ends.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        spindle::spawn(async move {
            let connection = server::Builder::new()
                .serve_connection(HyperIo::new(stream), service_fn(slow_hello));
            if let Err(err) = connection.await {
                eprintln!("server: {err}");
            }
        });
    }
}

/// GETs `url` (`http://host:port/path`) on a new connection; returns its status and body.
async fn fetch(addr: SocketAddr, url: &str) -> Result<(StatusCode, Bytes), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = client::handshake(HyperIo::new(stream)).await?;
    spindle::spawn(connection);
    let request = Request::get(url)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn main() -> Result<(), BoxError> {
    let count = match std::env::args().nth(1) {
        Some(n) => n
            .parse::<usize>()
            .map_err(|err| format!("N must be a whole number of fetches, not {n:?}: {err}"))?,
        None => 10,
    };

    spindle::block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = spindle::spawn(serve(listener));

        let urls: Vec<String> = (1..=count)
            .map(|n| format!("http://{addr}/page/{n}"))
            .collect();
        let start = Instant::now();
        let results = spindle::join_all(urls.iter().map(|url| fetch(addr, url))).await;
        let elapsed = start.elapsed();

        for (url, result) in urls.iter().zip(results) {
            match result {
                Ok((status, body)) => println!("{url}: {status}, {} bytes", body.len()),
                Err(err) => println!("{url}: failed: {err}"),
            }
        }
        println!(
            "fetched {count} URLs in {:.0?} (each takes the server {SERVER_DELAY:?})",
            elapsed
        );
        server.abort();
        Ok(())
    })
}
