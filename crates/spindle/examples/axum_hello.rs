//! An axum `Router` served on spindle: spindle's `TcpListener` accepts, hyper serves each
//! connection over `HyperIo`, and hyper-util's `TowerToHyperService` turns the router (a tower
//! `Service`) into the hyper service hyper asks for. axum's own `axum::serve` is not used: it
//! is written against `tokio::net::TcpListener`.
//!
//! Run with `cargo run -p spindle --features hyper --example axum_hello [ADDR]`, then
//! `curl http://127.0.0.1:3000/` or `curl http://127.0.0.1:3000/users/7`. ADDR defaults to
//! `127.0.0.1:3000`. Given `--self-test` instead, it serves on an ephemeral port, sends itself
//! three requests with a hyper client, checks the answers and exits.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::service::TowerToHyperService;
use spindle::compat::hyper::HyperIo;
use spindle::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The application: three routes and a request counter shared through axum's `State`.
fn app() -> Router {
    let hits = Arc::new(AtomicU64::new(0));
    Router::new()
        .route("/", get(|| async { "Hello, World!" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route(
            "/hits",
            post(|State(hits): State<Arc<AtomicU64>>| async move {
                (hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
            }),
        )
        .with_state(hits)
}

/// Accepts connections until the task is aborted, serving each on its own task.
async fn serve(listener: TcpListener, app: Router) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept failed: {err}");
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        spindle::spawn(async move {
            if let Err(err) = http1::Builder::new()
                .serve_connection(HyperIo::new(stream), service)
                .await
            {
                eprintln!("connection from {peer}: {err}");
            }
        });
    }
}

/// Sends `request` on a new connection to `addr`; the status and body of the answer.
async fn fetch(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(HyperIo::new(stream)).await?;
    spindle::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let arg = std::env::args().nth(1);
    spindle::block_on(async move {
        if arg.as_deref() == Some("--self-test") {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = spindle::spawn(serve(listener, app()));
            let get = |path: &str| Request::get(path).body(Full::default()).unwrap();
            let post = |path: &str| Request::post(path).body(Full::default()).unwrap();
            assert_eq!(
                fetch(addr, get("/")).await?,
                (StatusCode::OK, "Hello, World!".into())
            );
            assert_eq!(
                fetch(addr, get("/users/7")).await?,
                (StatusCode::OK, "user 7".into())
            );
            assert_eq!(
                fetch(addr, post("/hits")).await?,
                (StatusCode::OK, "1".into())
            );
            assert_eq!(
                fetch(addr, post("/hits")).await?,
                (StatusCode::OK, "2".into())
            );
            assert_eq!(fetch(addr, get("/nowhere")).await?.0, StatusCode::NOT_FOUND);
            server.abort();
            println!("axum on spindle: 5 requests answered as expected");
            return Ok(());
        }
        let addr = arg.unwrap_or_else(|| "127.0.0.1:3000".to_string());
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}", listener.local_addr()?);
        serve(listener, app()).await;
        Ok(())
    })
}
