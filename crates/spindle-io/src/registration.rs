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
//!
//! # Write events on demand
//!
//! A connected socket is writable almost all the time, and a socket registered for writable
//! events gets one each time its send buffer drains: on Linux, each time the peer reads what
//! it sent (a Unix stream) or the kernel frees a sent packet (TCP's acknowledged data, UDP).
//! Each such event wakes the thread in `epoll_wait`, to report readiness nobody waits for; in a
//! request/response exchange that is one wake-up of the reactor per message, and a profile of
//! `unix_echo_rr` put half of the kernel's wake-up work there. So sockets that start writable
//! (accepted and paired streams, datagram sockets) register for readable events only
//! ([`Registration::with_write_events_on_demand`]), and the first write that clears the
//! write readiness (it met `WouldBlock`, or wrote less than it was given: the send buffer is
//! full) adds writable events (`epoll_ctl(EPOLL_CTL_MOD)`), for good. The kernel
//! checks the socket's state when the registration changes and reports it if it is writable
//! by then, so the write that asked waits for an edge that cannot be missed; a writer that
//! sees another one already asked waits the same way, as the change is made either before its
//! wait or after it, and then reports the state.

use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use crate::scheduled_io::{ReadyEvent, ScheduledIo};
use mio::event::Source;
use mio::{Interest, Token};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A mio source registered with a reactor; deregistered (by closing it, on Linux) on drop.
pub(crate) struct Registration<S: Source> {
    source: S,
    io: Arc<ScheduledIo>,
    token: Token,
    reactor: Arc<Reactor>,
    /// Set for a source registered without writable events, which its first blocked write
    /// adds ("Write events on demand").
    write_events_on_demand: Option<WriteEventsOnDemand>,
}

struct WriteEventsOnDemand {
    fd: RawFd,
    requested: AtomicBool,
}

impl<S: Source + AsRawFd> Registration<S> {
    /// Registers `source`, assumed readable and writable, for readable events only; the
    /// first write that finds the send buffer full adds writable events (module docs).
    pub(crate) fn with_write_events_on_demand(
        reactor: Arc<Reactor>,
        source: S,
    ) -> io::Result<Registration<S>> {
        let mut registration = Registration::new(
            reactor,
            source,
            Interest::READABLE,
            Ready::READABLE | Ready::WRITABLE,
        )?;
        registration.write_events_on_demand = Some(WriteEventsOnDemand {
            fd: registration.source.as_raw_fd(),
            requested: AtomicBool::new(false),
        });
        Ok(registration)
    }

    /// Turns a registration made for readable and writable events (a stream whose connect
    /// had to wait for writable) into one with writable events on demand.
    pub(crate) fn defer_write_events(&mut self) -> io::Result<()> {
        let fd = self.source.as_raw_fd();
        self.reactor
            .reregister_fd(fd, self.token, Interest::READABLE)?;
        self.write_events_on_demand = Some(WriteEventsOnDemand {
            fd,
            requested: AtomicBool::new(false),
        });
        Ok(())
    }
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
            write_events_on_demand: None,
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
                    if let Err(error) = self.clear_readiness_in(direction, event) {
                        return Poll::Ready(Err(error));
                    }
                }
                result => {
                    if drained(&result) {
                        if let Err(error) = self.clear_readiness_in(direction, event) {
                            return Poll::Ready(Err(error));
                        }
                    }
                    spent.made_progress();
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// Clears the readiness `event` reported for `direction`; a write readiness cleared on a
    /// registration made without writable events also asks for them, as the next write waits
    /// for one ("Write events on demand").
    fn clear_readiness_in(&self, direction: Direction, event: ReadyEvent) -> io::Result<()> {
        self.clear_readiness(event);
        match direction {
            Direction::Write => self.request_write_events(),
            Direction::Read => Ok(()),
        }
    }

    /// Adds writable events to a registration made without them, once.
    fn request_write_events(&self) -> io::Result<()> {
        let Some(on_demand) = &self.write_events_on_demand else {
            return Ok(());
        };
        if on_demand.requested.swap(true, Relaxed) {
            return Ok(());
        }
        self.reactor
            .reregister_fd(
                on_demand.fd,
                self.token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .inspect_err(|_| on_demand.requested.store(false, Relaxed))
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
