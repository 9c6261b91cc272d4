//! hyper 1.x on spindle (feature `hyper`): HTTP/1.1 keep-alive, HTTP/2 multiplexing through
//! `HyperExecutor` and `HyperTimer`, concurrent fetches with `join_all`, and hyper's header
//! read timeout on `HyperTimer`. Every server and client is real hyper over spindle's TCP on
//! loopback.
//!
//! Run: `cargo test -p spindle --features hyper --test hyper`.

mod common;

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::future::{FutureExt, Shared};
use futures::io::AsyncReadExt;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1 as client_http1, http2 as client_http2};
use hyper::rt::Timer;
use hyper::server::conn::{http1 as server_http1, http2 as server_http2};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use spindle::compat::hyper::{HyperExecutor, HyperIo, HyperTimer};
use spindle::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The body the hello service answers a request for `path` with.
fn hello_body(path: &str) -> String {
    format!("Hello from {path}")
}

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = hello_body(request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Binds a listener on an ephemeral loopback port and serves every connection it accepts with
/// `serve`, each on its own task; returns the address and the count of accepted connections.
async fn start_server<S, F>(serve: S) -> (SocketAddr, Arc<AtomicUsize>)
where
    S: Fn(TcpStream) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    spindle::spawn(async move {
        loop {
            let (stream, _peer) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            spindle::spawn(serve(stream));
        }
    });
    (addr, accepted)
}

/// Serves one connection with HTTP/1.1 (keep-alive is hyper's default) and the hello service.
async fn serve_hello_http1(stream: TcpStream) {
    server_http1::Builder::new()
        .serve_connection(HyperIo::new(stream), service_fn(hello))
        .await
        .unwrap();
}

/// Opens an HTTP/1.1 client connection to `addr`, its connection task spawned.
async fn connect_http1(addr: SocketAddr) -> client_http1::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = client_http1::handshake(HyperIo::new(stream)).await.unwrap();
    spindle::spawn(connection);
    sender
}

/// The status and the whole body of the response.
async fn read_response(response: Response<Incoming>) -> (StatusCode, Bytes) {
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path).body(Empty::new()).unwrap()
}

/// A gate that opens once `expected` handlers have arrived at it: proof that they were all in
/// progress at the same time. A handler gives up after `patience` and reports that it did.
#[derive(Clone)]
struct Rendezvous {
    arrived: Arc<AtomicUsize>,
    expected: usize,
    open: Shared<oneshot::Receiver<()>>,
    opener: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl Rendezvous {
    fn new(expected: usize) -> Rendezvous {
        let (sender, receiver) = oneshot::channel();
        Rendezvous {
            arrived: Arc::new(AtomicUsize::new(0)),
            expected,
            open: receiver.shared(),
            opener: Arc::new(Mutex::new(Some(sender))),
        }
    }

    /// Arrives and waits for the others; true if all `expected` arrived within `patience`.
    async fn arrive_and_wait(&self, patience: Duration) -> bool {
        if self.arrived.fetch_add(1, Ordering::SeqCst) + 1 == self.expected {
            let opener = self.opener.lock().unwrap().take().unwrap();
            opener.send(()).unwrap();
        }
        spindle::timeout(patience, self.open.clone()).await.is_ok()
    }
}

/// A service that answers only once `rendezvous` has seen all its requests in progress at
/// once: 200 and the hello body if they were, 503 if one waited `patience` in vain.
async fn hello_after_rendezvous(
    request: Request<Incoming>,
    rendezvous: Rendezvous,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let all_at_once = rendezvous.arrive_and_wait(Duration::from_secs(10)).await;
    let mut response = hello(request).await?;
    if !all_at_once {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    Ok(response)
}

/// 1_000 requests, one after another, over one keep-alive HTTP/1.1 connection: every response
/// is the right one, in order, and the server accepted exactly one TCP connection. Catches a
/// `HyperIo` that loses or duplicates bytes between messages (hyper reads ahead into its
/// buffer) or a close after the first response. About a second on two cores.
#[test]
fn one_keep_alive_connection_serves_1000_requests() {
    common::with_watchdog("keep_alive_1000", Duration::from_secs(60), || {
        common::runtime(2).block_on(async {
            let (addr, accepted) = start_server(serve_hello_http1).await;
            let mut sender = connect_http1(addr).await;
            for n in 0..1_000 {
                let path = format!("/request/{n}");
                sender.ready().await.unwrap();
                let response = sender.send_request(get(&path)).await.unwrap();
                let (status, body) = read_response(response).await;
                assert_eq!(status, StatusCode::OK, "request {n}");
                assert_eq!(body, hello_body(&path), "request {n}");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        });
    });
}

/// Echoes the request body back.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// A 4 MiB body each way over one HTTP/1.1 connection, then small ones: every byte arrives in
/// order. Catches a `HyperIo` read path that drops, repeats or misplaces bytes when its read
/// window grows to large reads and shrinks back to small ones.
#[test]
fn large_bodies_arrive_whole_in_both_directions() {
    common::with_watchdog("large_bodies", Duration::from_secs(60), || {
        common::runtime(2).block_on(async {
            let (addr, accepted) = start_server(|stream| async move {
                server_http1::Builder::new()
                    .serve_connection(HyperIo::new(stream), service_fn(echo))
                    .await
                    .unwrap();
            })
            .await;
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, connection) =
                client_http1::handshake(HyperIo::new(stream)).await.unwrap();
            spindle::spawn(connection);

            let large: Bytes = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
            for body in [
                large.clone(),
                Bytes::from_static(b"small"),
                large,
                Bytes::new(),
            ] {
                sender.ready().await.unwrap();
                let request = Request::post("/echo")
                    .body(Full::new(body.clone()))
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                let (status, echoed) = read_response(response).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(echoed.len(), body.len());
                assert!(
                    echoed == body,
                    "a {}-byte body came back changed",
                    body.len()
                );
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        });
    });
}

/// 50 HTTP/2 requests at once on one connection (server and client on `HyperExecutor` and
/// `HyperTimer`): the server's handlers are all in progress at the same time (the rendezvous
/// opens only when the 50th arrives), each response matches its request, and one TCP
/// connection was accepted. Catches an executor that does not run hyper's stream tasks, or
/// streams served one at a time.
#[test]
fn http2_multiplexes_50_requests_on_one_connection() {
    const REQUESTS: usize = 50;
    common::with_watchdog("http2_50", Duration::from_secs(60), || {
        common::runtime(2).block_on(async {
            let rendezvous = Rendezvous::new(REQUESTS);
            let (addr, accepted) = start_server(move |stream| {
                let rendezvous = rendezvous.clone();
                async move {
                    let service = service_fn(move |request| {
                        hello_after_rendezvous(request, rendezvous.clone())
                    });
                    server_http2::Builder::new(HyperExecutor)
                        .timer(HyperTimer)
                        .serve_connection(HyperIo::new(stream), service)
                        .await
                        .unwrap();
                }
            })
            .await;

            let stream = TcpStream::connect(addr).await.unwrap();
            let (sender, connection) = client_http2::Builder::new(HyperExecutor)
                .timer(HyperTimer)
                .handshake(HyperIo::new(stream))
                .await
                .unwrap();
            spindle::spawn(connection);

            let requests = (0..REQUESTS).map(|n| {
                let mut sender = sender.clone();
                async move {
                    let path = format!("/stream/{n}");
                    let response = sender.send_request(get(&path)).await.unwrap();
                    assert_eq!(response.version(), hyper::Version::HTTP_2);
                    (path, read_response(response).await)
                }
            });
            for (path, (status, body)) in spindle::join_all(requests).await {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{path}: not all 50 were in progress at once"
                );
                assert_eq!(body, hello_body(&path));
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        });
    });
}

/// Three HTTP/1.1 fetches at once with `join_all`, each on its own connection: the server sees
/// all three requests in progress together, and the results come back in input order.
#[test]
fn three_fetches_at_once_with_join_all() {
    common::with_watchdog("three_fetches", Duration::from_secs(60), || {
        common::runtime(2).block_on(async {
            let rendezvous = Rendezvous::new(3);
            let (addr, accepted) = start_server(move |stream| {
                let rendezvous = rendezvous.clone();
                async move {
                    let service = service_fn(move |request| {
                        hello_after_rendezvous(request, rendezvous.clone())
                    });
                    server_http1::Builder::new()
                        .serve_connection(HyperIo::new(stream), service)
                        .await
                        .unwrap();
                }
            })
            .await;

            let paths = ["/one", "/two", "/three"];
            let fetches = paths.iter().map(|path| async move {
                let mut sender = connect_http1(addr).await;
                let response = sender.send_request(get(path)).await.unwrap();
                read_response(response).await
            });
            let results = spindle::join_all(fetches).await;
            for (path, (status, body)) in paths.iter().zip(results) {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{path}: the fetches did not overlap"
                );
                assert_eq!(body, hello_body(path));
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 3);
        });
    });
}

/// hyper's HTTP/1 header read timeout, on `HyperTimer`: a client that connects and sends
/// nothing is disconnected once the timeout has passed (not before: spindle's sleeps never
/// complete early; and well within a second after it), and the server's connection ends with
/// hyper's timeout error. A client that sends a request in time is served on a connection
/// built the same way. Catches a `HyperTimer` whose sleeps never fire or fire at once.
#[test]
fn header_read_timeout_closes_a_silent_connection() {
    const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
    common::with_watchdog("header_read_timeout", Duration::from_secs(60), || {
        common::runtime(2).block_on(async {
            let (outcome_sender, mut outcomes) = mpsc::unbounded::<hyper::Result<()>>();
            let (addr, _accepted) = start_server(move |stream| {
                let outcome_sender = outcome_sender.clone();
                async move {
                    let outcome = server_http1::Builder::new()
                        .timer(HyperTimer)
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(HyperIo::new(stream), service_fn(hello))
                        .await;
                    outcome_sender.unbounded_send(outcome).unwrap();
                }
            })
            .await;

            let mut prompt = connect_http1(addr).await;
            let response = prompt.send_request(get("/prompt")).await.unwrap();
            assert_eq!(read_response(response).await.1, hello_body("/prompt"));

            let start = Instant::now();
            let mut silent = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 64];
            let read = silent.read(&mut buf).await;
            let closed_after = start.elapsed();
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "the server sent {read:?} to a client that asked nothing"
            );
            assert!(
                closed_after >= HEADER_TIMEOUT,
                "closed after {closed_after:?}"
            );
            assert!(
                closed_after < HEADER_TIMEOUT + Duration::from_secs(1),
                "closed after {closed_after:?}"
            );

            let error = outcomes
                .next()
                .await
                .unwrap()
                .expect_err("the silent connection ended without an error");
            assert!(error.is_timeout(), "{error:?}");
            drop(prompt);
        });
    });
}

/// `HyperTimer::reset` moves a sleep's deadline in place, both earlier and later, and replaces
/// a sleep that is not its own. Catches a reset that is ignored (the 1 h sleep would hang
/// until the watchdog) or one that fires at the old deadline.
#[test]
fn hyper_timer_reset_moves_the_deadline() {
    common::with_watchdog("hyper_timer_reset", Duration::from_secs(30), || {
        common::runtime(2).block_on(async {
            let start = Instant::now();
            let mut sleep = HyperTimer.sleep(Duration::from_secs(3600));
            HyperTimer.reset(&mut sleep, start + Duration::from_millis(50));
            sleep.as_mut().await;
            let woke = start.elapsed();
            assert!(woke >= Duration::from_millis(50), "woke after {woke:?}");
            assert!(woke < Duration::from_secs(2), "woke after {woke:?}");

            let start = Instant::now();
            let mut sleep = HyperTimer.sleep(Duration::from_millis(10));
            HyperTimer.reset(&mut sleep, start + Duration::from_millis(150));
            sleep.as_mut().await;
            assert!(start.elapsed() >= Duration::from_millis(150));

            let start = Instant::now();
            let mut foreign: Pin<Box<dyn hyper::rt::Sleep>> =
                Box::pin(ForeignSleep(spindle::sleep(Duration::from_secs(3600))));
            HyperTimer.reset(&mut foreign, start + Duration::from_millis(20));
            foreign.as_mut().await;
            assert!(start.elapsed() >= Duration::from_millis(20));
        });
    });
}

/// A hyper sleep that did not come from `HyperTimer`.
struct ForeignSleep(spindle::Sleep);

impl Future for ForeignSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for ForeignSleep {}
