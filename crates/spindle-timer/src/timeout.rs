//! `timeout`: a future with a deadline (asyncio's `wait_for`).

use crate::sleep::{sleep, Sleep};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs `future` for at most `duration`: `Ok(output)` if it finishes first, otherwise
/// `Err(Elapsed)`, and `future` is dropped (cancelled) when the `Timeout` is.
///
/// ```
/// # spindle_timer::block_on(async {
/// use std::time::Duration;
/// let quick = spindle_timer::timeout(Duration::from_secs(1), async { 5 }).await;
/// assert_eq!(quick, Ok(5));
/// let slow = spindle_timer::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
/// assert!(slow.is_err());
/// # });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// The future returned by [`timeout`].
///
/// ```
/// # spindle_timer::block_on(async {
/// let t: spindle_timer::Timeout<_> =
///     spindle_timer::timeout(std::time::Duration::from_secs(1), async { "done" });
/// assert_eq!(t.await, Ok("done"));
/// # });
/// ```
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// let t = spindle_timer::timeout(std::time::Duration::from_secs(1), async { 1 });
    /// let _inner = t.into_inner();
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning: `future` is never moved out of a pinned `Timeout`
        // (`into_inner` takes `self` by value, which a pinned `!Unpin` value cannot give),
        // and `sleep` is `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match this.sleep.poll_unbudgeted(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish_non_exhaustive()
    }
}

/// The error of a [`timeout`] whose deadline passed first.
///
/// ```
/// # spindle_timer::block_on(async {
/// let err = spindle_timer::timeout(std::time::Duration::ZERO, std::future::pending::<()>())
///     .await
///     .unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}
