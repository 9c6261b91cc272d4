//! `Registration`: a socket's link to its reactor. It owns the mio source, so that the
//! registration is gone before the descriptor is closed (`reactor.rs`, "Dropping a socket"),
//! and runs the wait-try-clear loop every socket operation goes through.
//!
//! # The operation loop
//!
//! ```text
//! loop {
//!     event = poll_ready(direction)?   // Pending: the waker is stored (scheduled_io rule 4)
//!     match op() {
//!         Err(WouldBlock) => clear_readiness(event),   // only if no newer turn (rule 2)
//!         result => return result,                     // progress, or a real error
//!     }
//! }
//! ```
//!
//! Before the loop, the operation takes one unit of the task's cooperative budget (`coop`):
//! it is spent if the operation completes and refunded if it returns `Pending`.
//!
//! Only `WouldBlock` clears readiness. Any other outcome leaves it set, so the next operation
//! is tried at once: after `EMFILE` from `accept` the pending connection is still queued and
//! edge-triggered epoll would not report it again.

use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use crate::scheduled_io::{ReadyEvent, ScheduledIo};
use mio::event::Source;
use mio::{Interest, Token};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A mio source registered with a reactor; deregistered (by closing it, on Linux) on drop.
pub(crate) struct Registration<S: Source> {
    source: S,
    io: Arc<ScheduledIo>,
    token: Token,
    reactor: Arc<Reactor>,
}

impl<S: Source> Registration<S> {
    /// Registers `source` with `reactor` for `interest`, its readiness assumed to be `assumed`
    /// until the reactor's first report (see `scheduled_io`, "Why readiness is assumed").
    pub(crate) fn new(
        reactor: Arc<Reactor>,
        mut source: S,
        interest: Interest,
        assumed: Ready,
    ) -> io::Result<Registration<S>> {
        let (token, io) = reactor.register(&mut source, interest, assumed)?;
        Ok(Registration {
            source,
            io,
            token,
            reactor,
        })
    }

    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }

    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready(direction, cx)
    }

    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.io.clear_readiness(event);
    }

    /// Runs `op` once the source is ready in `direction`, until it does not answer
    /// `WouldBlock`. An operation that completes spends one unit of the task's cooperative
    /// budget; with the budget spent, the task yields first (`coop`).
    pub(crate) fn poll_io<R>(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_then_clear_if(direction, cx, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io) for a stream read or write of `len` bytes. A transfer that
    /// moved some bytes but fewer than `len` drained the socket's buffer (or filled the
    /// kernel's send buffer), so it also clears the readiness it used: the next operation
    /// waits for the reactor's next edge instead of making a system call that would answer
    /// `WouldBlock`. The clear is tick-checked like any other (rule 2), so an edge that came
    /// after this operation's readiness is kept.
    pub(crate) fn poll_transfer(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_then_clear_if(
            direction,
            cx,
            op,
            |result| matches!(result, Ok(n) if *n > 0 && *n < len),
        )
    }

    /// The operation loop: `WouldBlock` clears readiness and waits again; any other result is
    /// returned, after clearing readiness too if `drained` says the result used it up.
    fn poll_io_then_clear_if<R>(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&io::Result<R>) -> bool,
    ) -> Poll<io::Result<R>> {
        let spent = ready!(crate::coop::poll_spend(cx));
        loop {
            let event = ready!(self.poll_ready(direction, cx))?;
            match op(&self.source) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readiness(event);
                }
                result => {
                    if drained(&result) {
                        self.clear_readiness(event);
                    }
                    spent.made_progress();
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// [`poll_io`](Self::poll_io) as a future.
    pub(crate) async fn io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(direction, cx, &mut op)).await
    }
}

impl<S: Source> Drop for Registration<S> {
    fn drop(&mut self) {
        self.reactor.deregister(&mut self.source, self.token);
        // `source` is closed when the fields drop, after this.
    }
}

impl<S: Source + fmt::Debug> fmt::Debug for Registration<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}
