//! axum on spindle (feature `hyper`): a `Router` served on spindle's `TcpListener` through
//! `HyperIo` and hyper-util's `TowerToHyperService`, answering real HTTP/1.1 requests from
//! hyper clients on loopback: routing, path extraction, shared state, 404, and many
//! connections at once.
//!
//! Run: `cargo test -p spindle --features hyper --test axum`.

mod common;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use common::{runtime, with_watchdog};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::service::TowerToHyperService;
use spindle::compat::hyper::HyperIo;
use spindle::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn app(hits: Arc<AtomicU64>) -> Router {
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
        .route("/echo", post(|body: String| async move { body }))
        .with_state(hits)
}

/// Serves `app` on an ephemeral loopback port, one task per connection; the address and the
/// accept loop's handle.
async fn start(app: Router) -> (SocketAddr, spindle::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spindle::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(app.clone());
            spindle::spawn(async move {
                http1::Builder::new()
                    .serve_connection(HyperIo::new(stream), service)
                    .await
                    .unwrap();
            });
        }
    });
    (addr, server)
}

async fn fetch(addr: SocketAddr, request: Request<Full<Bytes>>) -> (StatusCode, Bytes) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    spindle::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

fn get_request(path: &str) -> Request<Full<Bytes>> {
    Request::get(path).body(Full::default()).unwrap()
}

fn post_request(path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// Routing, extraction and a body: each route answers what it should, and an unknown path is
/// axum's 404.
#[test]
fn a_router_answers_each_route() {
    with_watchdog("axum-routes", LIMIT, || {
        runtime(2).block_on(async {
            let (addr, server) = start(app(Arc::default())).await;
            assert_eq!(
                fetch(addr, get_request("/")).await,
                (StatusCode::OK, Bytes::from("Hello, World!"))
            );
            assert_eq!(
                fetch(addr, get_request("/users/42")).await,
                (StatusCode::OK, Bytes::from("user 42"))
            );
            assert_eq!(
                fetch(addr, post_request("/echo", "spindle")).await,
                (StatusCode::OK, Bytes::from("spindle"))
            );
            assert_eq!(
                fetch(addr, get_request("/users/not-a-number")).await.0,
                StatusCode::BAD_REQUEST
            );
            assert_eq!(
                fetch(addr, get_request("/nowhere")).await.0,
                StatusCode::NOT_FOUND
            );
            server.abort();
        });
    });
}

/// 100 clients at once, each on its own connection and task, all posting to the counter:
/// every one is answered, and the shared state counted each exactly once (the answers are
/// 1..=100, each once).
#[test]
fn a_router_serves_many_clients_at_once_with_shared_state() {
    with_watchdog("axum-many", LIMIT, || {
        let hits = Arc::new(AtomicU64::new(0));
        let answers = runtime(2).block_on({
            let hits = hits.clone();
            async move {
                let (addr, server) = start(app(hits)).await;
                let clients = (0..100)
                    .map(|_| spindle::spawn(fetch(addr, post_request("/hits", ""))))
                    .collect::<Vec<_>>();
                let answers = spindle::join_all(clients).await;
                server.abort();
                answers
            }
        });
        let mut counts: Vec<u64> = answers
            .into_iter()
            .map(|answer| {
                let (status, body) = answer.unwrap();
                assert_eq!(status, StatusCode::OK);
                std::str::from_utf8(&body).unwrap().parse().unwrap()
            })
            .collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=100).collect::<Vec<u64>>());
        assert_eq!(hits.load(Ordering::Relaxed), 100);
    });
}
