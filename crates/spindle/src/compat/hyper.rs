//! hyper 1.x on spindle: the three pieces hyper asks its runtime for (feature `hyper`).
//!
//! hyper 1.x owns no runtime; a connection is driven by whatever polls it, and hyper reaches
//! the runtime through three traits in `hyper::rt`:
//!
//! | hyper needs | spindle gives | how |
//! | --- | --- | --- |
//! | `rt::Read + rt::Write` (a connection's bytes) | [`HyperIo`] | wraps any `futures_io::AsyncRead + AsyncWrite`, e.g. [`spindle::net::TcpStream`](crate::net::TcpStream) |
//! | `rt::Executor` (HTTP/2 streams, the client's connection task) | [`HyperExecutor`] | [`spindle::spawn`](crate::spawn), detached, onto the current runtime |
//! | `rt::Timer` (HTTP/1 header read timeout, HTTP/2 keep-alive pings) | [`HyperTimer`] | [`spindle::Sleep`](crate::Sleep), on the per-worker timing wheels |
//!
//! A hello-world server and a client, on one connection:
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::{service::service_fn, Request, Response};
//! use spindle::compat::hyper::HyperIo;
//! use spindle::net::{TcpListener, TcpStream};
//! use std::convert::Infallible;
//!
//! spindle::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     spindle::spawn(async move {
//!         let (stream, _peer) = listener.accept().await.unwrap();
//!         let hello = service_fn(|_request: Request<hyper::body::Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("Hello, World!"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .serve_connection(HyperIo::new(stream), hello)
//!             .await
//!             .unwrap();
//!     });
//!
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, connection) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
//!         .await
//!         .unwrap();
//!     spindle::spawn(connection);
//!     let request = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
//!     let response = sender.send_request(request).await.unwrap();
//!     assert_eq!(response.status(), 200);
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "Hello, World!");
//! });
//! ```
//!
//! # Reads
//!
//! futures-io reads into initialized memory (`&mut [u8]`) and hyper hands out uninitialized
//! memory, so [`HyperIo`] zeroes part of hyper's buffer before each read (hyper's own safe
//! `initialize_unfilled_to`) and then advances hyper's cursor by what the stream wrote. The
//! zeroing is the adapter's only cost over a native tokio stream (reading straight into
//! uninitialized memory needs a read call futures-io does not have), and it is paid on every
//! read, also one that finds no data.
//!
//! So a read does not zero all of hyper's free buffer (8 KiB or more), only a *read window*
//! that adapts to the traffic: it starts at 4 KiB, doubles (up to 512 KiB) after a read that
//! filled it (more data is probably waiting), and halves, down to 1 KiB, after a read that used
//! less than a quarter of it. Small requests then cost a 1 KiB memset per read, and a large
//! body grows the window to the whole free buffer within a few reads. In a hello-world server
//! the full 8 KiB memset was the largest user-space symbol of a profile (docs/benchmarks.md).
//!
//! # Writes
//!
//! `poll_write`, `poll_write_vectored` and `poll_flush` forward to the stream; `poll_shutdown`
//! is futures-io's `poll_close`. [`HyperIo`] tells hyper its writes are not vectored, because
//! futures-io cannot say whether a stream's `poll_write_vectored` writes more than the first
//! buffer (its default does not), so HTTP/1 flattens a response's head and body into one buffer
//! and one `write`: for the small messages of a typical exchange that is one system call either
//! way.

use hyper::rt::{Executor, Read, ReadBufCursor, Sleep as HyperSleepTrait, Timer, Write};
use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The read window a new [`HyperIo`] starts with.
const INITIAL_READ_WINDOW: usize = 4 << 10;
/// The smallest read window: enough for a typical request or response head in one read.
const MIN_READ_WINDOW: usize = 1 << 10;
/// The largest read window: above hyper's default largest buffer (about 400 KiB), and small
/// enough that a connection falls back to small reads within a few after a large body.
const MAX_READ_WINDOW: usize = 512 << 10;

/// A futures-io stream as hyper's I/O: implements `hyper::rt::Read` and `hyper::rt::Write`.
///
/// `T` is any `futures_io::AsyncRead + AsyncWrite + Unpin`, such as
/// [`spindle::net::TcpStream`](crate::net::TcpStream). Dropping the `HyperIo` drops the
/// stream; [`into_inner`](HyperIo::into_inner) takes it back.
///
/// ```
/// use spindle::compat::hyper::HyperIo;
/// use spindle::net::{TcpListener, TcpStream};
///
/// spindle::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let io = HyperIo::new(stream);
///     assert_eq!(io.get_ref().peer_addr().unwrap(), listener.local_addr().unwrap());
///     let _stream: TcpStream = io.into_inner();
/// });
/// ```
pub struct HyperIo<T> {
    stream: T,
    /// How many bytes of hyper's buffer the next read zeroes and offers (see the module docs).
    read_window: usize,
}

impl<T> HyperIo<T> {
    /// Wraps `stream`.
    ///
    /// ```
    /// let io = spindle::compat::hyper::HyperIo::new(futures::io::Cursor::new(vec![0u8; 4]));
    /// assert_eq!(io.get_ref().get_ref().len(), 4);
    /// ```
    pub fn new(stream: T) -> HyperIo<T> {
        HyperIo {
            stream,
            read_window: INITIAL_READ_WINDOW,
        }
    }

    /// The wrapped stream.
    ///
    /// ```
    /// let io = spindle::compat::hyper::HyperIo::new(futures::io::Cursor::new(b"abc"));
    /// assert_eq!(io.get_ref().position(), 0);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.stream
    }

    /// The wrapped stream, mutably: reading or writing through it bypasses hyper, which
    /// garbles a connection hyper is driving.
    ///
    /// ```
    /// let mut io = spindle::compat::hyper::HyperIo::new(futures::io::Cursor::new(b"abc"));
    /// io.get_mut().set_position(2);
    /// assert_eq!(io.get_ref().position(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.stream
    }

    /// Unwraps the stream.
    ///
    /// ```
    /// let io = spindle::compat::hyper::HyperIo::new(futures::io::Cursor::new(b"abc"));
    /// assert_eq!(io.into_inner().into_inner(), b"abc");
    /// ```
    pub fn into_inner(self) -> T {
        self.stream
    }
}

impl<T: fmt::Debug> fmt::Debug for HyperIo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperIo")
            .field("stream", &self.stream)
            .field("read_window", &self.read_window)
            .finish()
    }
}

impl<T> Read for HyperIo<T>
where
    T: futures_io::AsyncRead + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let offered = buf.remaining().min(this.read_window);
        let unfilled = buf.initialize_unfilled_to(offered);
        let read = match Pin::new(&mut this.stream).poll_read(cx, unfilled) {
            Poll::Ready(Ok(read)) => read.min(offered),
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        };
        this.read_window = next_read_window(this.read_window, offered, read);
        // SAFETY: `initialize_unfilled_to(offered)` initialized the first `offered` unfilled
        // bytes, and `read <= offered` (clamped above, in case the stream claims more than the
        // slice it was given).
        unsafe { buf.advance(read) };
        Poll::Ready(Ok(()))
    }
}

/// The read window after a read of `read` bytes into `offered` with window `window`: doubled
/// (up to [`MAX_READ_WINDOW`]) if the read filled what it was offered, halved (not below [`MIN_READ_WINDOW`]) if it used
/// under a quarter of the window, unchanged otherwise (and after end of stream).
fn next_read_window(window: usize, offered: usize, read: usize) -> usize {
    if read == 0 {
        window
    } else if read == offered {
        (window * 2).min(MAX_READ_WINDOW)
    } else if read < window / 4 {
        (window / 2).max(MIN_READ_WINDOW)
    } else {
        window
    }
}

impl<T> Write for HyperIo<T>
where
    T: futures_io::AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}

/// hyper's executor: spawns the tasks hyper hands it (HTTP/2 streams, a client connection's
/// background work) onto the current runtime with [`spindle::spawn`](crate::spawn), detached.
///
/// "Current" is decided when hyper spawns, so a connection driven inside a runtime spawns onto
/// that runtime, and one driven elsewhere onto the default runtime.
///
/// ```
/// use hyper::rt::Executor;
/// use spindle::compat::hyper::HyperExecutor;
///
/// spindle::block_on(async {
///     let (sender, receiver) = futures::channel::oneshot::channel();
///     HyperExecutor.execute(async move { sender.send(42).unwrap() });
///     assert_eq!(receiver.await.unwrap(), 42);
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperExecutor;

impl<F> Executor<F> for HyperExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(crate::spawn(future));
    }
}

/// hyper's timer: its sleeps are [`spindle::Sleep`](crate::Sleep)s, on the timing wheel of the
/// worker that first polls them; `reset` moves a sleep's deadline in place, without
/// allocating.
///
/// ```
/// use hyper::rt::Timer;
/// use spindle::compat::hyper::HyperTimer;
/// use std::time::{Duration, Instant};
///
/// spindle::block_on(async {
///     let start = Instant::now();
///     let mut sleep = HyperTimer.sleep(Duration::from_secs(3600));
///     HyperTimer.reset(&mut sleep, start + Duration::from_millis(10));
///     sleep.await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperTimer;

impl Timer for HyperTimer {
    /// The runtime's clock ([`spindle::time::now`](crate::time::now)), so that hyper's
    /// deadlines follow a paused clock too.
    fn now(&self) -> Instant {
        crate::time::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn HyperSleepTrait>> {
        Box::pin(HyperSleep(crate::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn HyperSleepTrait>> {
        Box::pin(HyperSleep(crate::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn HyperSleepTrait>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => Pin::new(&mut ours.get_mut().0).reset(new_deadline),
            // Not one of this timer's sleeps: replace it, as hyper's default `reset` does.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A [`spindle::Sleep`](crate::Sleep) as hyper's `rt::Sleep`.
#[derive(Debug)]
struct HyperSleep(crate::Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl HyperSleepTrait for HyperSleep {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_window_grows_after_full_reads_up_to_the_cap() {
        let mut window = INITIAL_READ_WINDOW;
        window = next_read_window(window, window, window);
        assert_eq!(window, 2 * INITIAL_READ_WINDOW);
        for _ in 0..20 {
            window = next_read_window(window, window, window);
        }
        assert_eq!(window, MAX_READ_WINDOW);
    }

    #[test]
    fn read_window_grows_when_a_read_fills_a_nearly_full_buffer() {
        assert_eq!(next_read_window(8 << 10, 100, 100), 16 << 10);
    }

    #[test]
    fn read_window_shrinks_after_small_reads_down_to_the_floor() {
        let mut window = MAX_READ_WINDOW;
        for _ in 0..20 {
            window = next_read_window(window, window, 60);
        }
        assert_eq!(window, MIN_READ_WINDOW);
    }

    #[test]
    fn read_window_stays_after_end_of_stream_or_a_mid_sized_read() {
        assert_eq!(next_read_window(8 << 10, 8 << 10, 0), 8 << 10);
        assert_eq!(next_read_window(8 << 10, 8 << 10, 3 << 10), 8 << 10);
    }
}
