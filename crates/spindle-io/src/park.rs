//! The I/O layer of a runtime worker's parking stack: park in the reactor if no other thread
//! is in it, on the worker's own thread parker otherwise, and an unparker that knows which of
//! the two to wake.
//!
//! A runtime puts one [`IoParker`] per worker between its timer and its thread parker (the
//! facade's stack is timer → I/O → `spindle_core::ThreadParker`). The parker underneath is
//! any `spindle_core::Park`, as a type parameter, so a park or an unpark costs no virtual
//! call. One idle worker at a time blocks in `epoll_wait` and delivers everybody's I/O events;
//! the others sleep on their thread parkers. The reactor is held only while parked, never while a task runs, so a worker stuck
//! in a long poll cannot hold I/O hostage: the next worker to park takes the poll.
//!
//! # The state word
//!
//! Each worker has one word, shared by its parker and its unparkers:
//!
//! | state | meaning |
//! | --- | --- |
//! | `EMPTY` | no notification pending, the worker is not in the reactor |
//! | `IN_REACTOR` | the worker holds the reactor's poll and blocks (or is about to block) in it |
//! | `NOTIFIED` | an unpark arrived since the worker last woke |
//!
//! | who | event | transition |
//! | --- | --- | --- |
//! | parker | polling before blocking (below), state `NOTIFIED` or socket events delivered | none: the park is over |
//! | parker | won `try_drive`, state `EMPTY` | `EMPTY` → `IN_REACTOR` (one compare-exchange), then the turn blocks up to the timeout |
//! | parker | won `try_drive`, state `NOTIFIED` | none: the turn does not block (zero timeout) |
//! | parker | lost `try_drive` | none: it parks on its thread parker |
//! | parker | woke up, by any path | any → `EMPTY` (the notification is consumed) |
//! | unparker | any | any → `NOTIFIED` (one swap); if it was `IN_REACTOR`, write the reactor's eventfd, otherwise unpark the thread parker |
//!
//! ```text
//! park_timeout(t):                                  // t from the timer; None = no deadline
//!     if t is None or t >= 1 ms, unless paused {    // polling before blocking
//!         repeat up to 24 times {
//!             if state == NOTIFIED { break to the end }
//!             match reactor.try_turn(Some(ZERO)) {  // epoll_wait(0), then wake the tasks
//!                 Some(events > 0) => break to the end,
//!                 None => stop polling,             // another thread is in epoll
//!                 _ => spin a microsecond,
//!             }
//!         }
//!         t -= time spent polling
//!     }
//!     if t < 1 ms { inner.park_timeout(t) }         // epoll_wait counts whole milliseconds
//!     else match reactor.try_drive() {
//!         Some(driver) if state.cas(EMPTY -> IN_REACTOR) => driver.turn(t),   // epoll_wait
//!         Some(driver) => driver.turn(Some(ZERO)),  // NOTIFIED: deliver events, don't block
//!         None => inner.park_timeout(t),            // another thread is in epoll: condvar
//!     }
//!     state.swap(EMPTY)                             // reads the last unpark's write
//!
//! unpark():
//!     if state.swap(NOTIFIED) == IN_REACTOR { reactor.unpark() }   // eventfd write
//!     else { inner_unparker.unpark() }                             // condvar / token
//! ```
//!
//! A zero timeout (the scheduler's maintenance tick) is different: it only delivers ready
//! events, with `try_turn(Some(ZERO))`, or leaves that to the thread already in the reactor.
//!
//! # Polling before blocking
//!
//! A park that may block (no timeout, or at least [`MIN_TIMEOUT_FOR_POLLING`]) first polls the
//! reactor without blocking, up to [`POLLS_BEFORE_BLOCKING`] times with a short spin between
//! (about 12 µs in all), and returns as soon as a poll delivers socket events or an unpark
//! arrives (the state word reads `NOTIFIED`). It stops polling at once if another thread holds
//! the reactor: that thread delivers the events, and this one parks on its thread parker.
//!
//! Why: waking a thread blocked in `epoll_wait` costs tens of microseconds (a futex or
//! eventfd wake-up and a context switch; docs/benchmarks.md has this project's figures), and
//! the waking core pays for the inter-processor interrupt. When events come in a steady
//! stream, as in a bulk transfer whose reader drains the socket faster than the writer fills
//! it, the reader's worker would otherwise sleep and be woken once per write, with the
//! writer's core, the bottleneck, paying each time; polling first catches the next event
//! awake (docs/benchmarks.md, `tcp_bulk`). The time spent polling comes off the park's
//! timeout, so a timer's deadline is kept, and a timeout under a millisecond (a timer due
//! soon) blocks at once.
//!
//! The cost is bounded and pauses when it does not pay: after [`FRUITLESS_ROUNDS_TO_PAUSE`]
//! rounds in a row that found nothing (a runtime going idle, a server answering a request now
//! and then), a parker blocks at once, and it polls again only after a blocking park that
//! ended within [`QUICK_WAKE_UP`], a sign that events come close together again. That is
//! shorter than waking a blocked thread takes, so in practice it is a park that ended at once,
//! its unpark having come before it blocked: work arriving faster than the worker parks. So an
//! idle runtime spends about 25 µs polling before it blocks for good.
//!
//! The window is short on purpose. Events that come closer together than a wake-up (a bulk
//! transfer's) are caught within a few microseconds; a server answering requests every few
//! tens of microseconds, from clients on the same cores, is not, and a longer window there
//! (it was 50 µs) found an event often enough never to pause, and spent the wait spinning:
//! twice tokio's CPU per request at 30% load, on cores the clients needed, and a longer tail
//! (docs/benchmarks.md, "Latency under a fixed load").
//!
//! # Why no wake-up is lost
//!
//! The unparker's swap and the parker's compare-exchange are read-modify-writes of one word,
//! so exactly one of them comes first:
//!
//! - The swap first: the compare-exchange then fails on `NOTIFIED`, and the worker, if it won
//!   the poll, turns without blocking; if it lost the poll, the unparker saw `EMPTY` and
//!   unparked the thread parker, whose own token makes the park return whenever it happens.
//! - The compare-exchange first: the swap sees `IN_REACTOR` and writes the eventfd. The worker
//!   holds the poll from before its compare-exchange to after its turn, so it is in, or about
//!   to enter, that turn's `epoll_wait`, and an eventfd edge ends the wait even if written
//!   before the wait starts.
//!
//! A worker that is running, or that lost the poll, has a state other than `IN_REACTOR`, so its
//! unparks go to the thread parker, which covers a park that has not started yet. An unpark can
//! cost a spurious early return (a token or an eventfd edge left over), never a lost wake-up.
//! [`Reactor::is_driving`] says whether *some* thread holds the poll; the state word is what
//! tells *which* worker to wake and how.
//!
//! The loom models in `loom_tests::park` run this code with loom stand-ins for epoll and the
//! thread parker: a worker in the reactor, a worker behind another one in the reactor, two
//! workers parking at once, and an unpark that lands before the park.

use crate::loom::sync::atomic::AtomicU8;
use crate::reactor::Reactor;
use spindle_core::{Park, Unpark};
use std::fmt;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EMPTY: u8 = 0;
const IN_REACTOR: u8 = 1;
const NOTIFIED: u8 = 2;

/// Non-blocking polls of the reactor before a park blocks in it (see "Polling before
/// blocking" in the module docs). One under loom, so the models cover the path.
const POLLS_BEFORE_BLOCKING: u32 = if cfg!(loom) { 1 } else { 6 };
/// Spin-loop hints between two of those polls (about a microsecond).
const SPINS_BETWEEN_POLLS: u32 = 64;
/// Parks with a shorter timeout do not poll first: the timeout is a timer due soon.
const MIN_TIMEOUT_FOR_POLLING: Duration = Duration::from_millis(1);
/// The resolution of `epoll_wait`'s timeout: a park with a shorter timeout waits on the thread
/// parker, whose timeout is exact, rather than in the reactor, which would round it up.
const EPOLL_RESOLUTION: Duration = Duration::from_millis(1);
/// Fruitless rounds of polling in a row after which a parker stops polling first.
const FRUITLESS_ROUNDS_TO_PAUSE: u32 = 2;
/// A blocking park, made while polling is paused, that ends sooner than this means events
/// come close together again: polling resumes. About one round of polls, and less than a
/// blocked thread's wake-up: in practice, a park whose unpark came first.
const QUICK_WAKE_UP: Duration = Duration::from_micros(12);

/// One runtime worker's I/O layer: parks in `reactor` if no other thread is driving it, on
/// `P` otherwise. The state word that tells an unpark which of the two to wake, and why no
/// wake-up is lost, are described in the module docs of `park.rs`.
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
/// use spindle_io::IoParker;
/// use std::time::Duration;
///
/// let reactor = spindle_io::Reactor::new().unwrap();
/// let mut parker = IoParker::new(ThreadParker::new(), reactor);
/// let unparker = parker.unparker();
/// let waker = std::thread::spawn(move || unparker.unpark());
/// parker.park(); // in epoll_wait until the other thread writes the eventfd
/// waker.join().unwrap();
/// parker.park_timeout(Duration::ZERO); // delivers ready events, never blocks
/// ```
pub struct IoParker<P> {
    inner: P,
    reactor: Arc<Reactor>,
    state: Arc<AtomicU8>,
    /// Rounds of polling before blocking in a row that found nothing; at
    /// [`FRUITLESS_ROUNDS_TO_PAUSE`], polling pauses (see the module docs).
    fruitless_rounds: u32,
}

/// How a round of polling before blocking ended.
enum Polling {
    /// A poll delivered socket events, or an unpark arrived: the park is over.
    Over,
    /// Another thread holds the reactor (or the timeout is short): block, for the time left.
    LeftToTheDriver(Option<Duration>),
    /// Every poll came back empty: block, for the time left.
    Fruitless(Option<Duration>),
}

/// Wakes an [`IoParker`]: through the reactor's eventfd if it is in `epoll_wait`, through its
/// thread parker otherwise.
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
/// use spindle_io::IoParker;
///
/// let mut parker = IoParker::new(ThreadParker::new(), spindle_io::Reactor::new().unwrap());
/// parker.unparker().unpark(); // before the park: not lost
/// parker.park();
/// ```
#[derive(Clone)]
pub struct IoUnparker<U> {
    inner: U,
    reactor: Arc<Reactor>,
    state: Arc<AtomicU8>,
}

impl<P: Park> IoParker<P> {
    /// The I/O layer over `inner`, parking in `reactor` when it can.
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// let parkers: Vec<_> = (0..2)
    ///     .map(|_| spindle_io::IoParker::new(spindle_core::ThreadParker::new(), reactor.clone()))
    ///     .collect();
    /// # drop(parkers);
    /// ```
    pub fn new(inner: P, reactor: Arc<Reactor>) -> IoParker<P> {
        IoParker {
            inner,
            reactor,
            state: Arc::new(AtomicU8::new(EMPTY)),
            fruitless_rounds: 0,
        }
    }

    fn park_for(&mut self, timeout: Option<Duration>) {
        if timeout == Some(Duration::ZERO) {
            let _ = self.reactor.try_turn(Some(Duration::ZERO));
            return;
        }
        let paused = self.fruitless_rounds >= FRUITLESS_ROUNDS_TO_PAUSE;
        let timeout = if paused {
            timeout
        } else {
            match self.poll_before_blocking(timeout) {
                Polling::Over => {
                    self.fruitless_rounds = 0;
                    self.leave();
                    return;
                }
                Polling::LeftToTheDriver(timeout) => timeout,
                Polling::Fruitless(timeout) => {
                    self.fruitless_rounds += 1;
                    timeout
                }
            }
        };
        let blocked_since = paused.then(Instant::now);
        self.block(timeout);
        if blocked_since.is_some_and(|since| since.elapsed() < QUICK_WAKE_UP) {
            self.fruitless_rounds = 0;
        }
    }

    /// The blocking part of a park: in the reactor if no other thread is there, on the thread
    /// parker otherwise.
    fn block(&mut self, timeout: Option<Duration>) {
        if timeout.is_some_and(|timeout| timeout < EPOLL_RESOLUTION) {
            // epoll_wait would round it up to a whole millisecond.
            self.inner.park_timeout(timeout.unwrap_or_default());
            self.leave();
            return;
        }
        match self.reactor.try_drive() {
            Some(driver) => {
                let block = self
                    .state
                    .compare_exchange(EMPTY, IN_REACTOR, SeqCst, SeqCst)
                    .is_ok();
                let _ = driver.turn(if block { timeout } else { Some(Duration::ZERO) });
            }
            None => match timeout {
                Some(timeout) => self.inner.park_timeout(timeout),
                None => self.inner.park(),
            },
        }
        self.leave();
    }

    /// Ends a park: clears a notification with a swap, not a store, so that the parker reads
    /// the last unpark's write to the state and so sees the work that unpark announced. A store
    /// would erase an unpark made since the parker last read the state, unread: the worker
    /// could then miss its work and park again for good.
    fn leave(&self) {
        self.state.swap(EMPTY, SeqCst);
    }

    /// Polls the reactor without blocking before a park that may block (module docs), and
    /// says how that ended, with the timeout left for the blocking part.
    fn poll_before_blocking(&self, timeout: Option<Duration>) -> Polling {
        if timeout.is_some_and(|timeout| timeout < MIN_TIMEOUT_FOR_POLLING) {
            return Polling::LeftToTheDriver(timeout);
        }
        let start = timeout.map(|_| Instant::now());
        let time_left = || {
            timeout
                .zip(start)
                .map(|(timeout, start)| timeout.saturating_sub(start.elapsed()))
        };
        for _ in 0..POLLS_BEFORE_BLOCKING {
            if self.state.load(SeqCst) == NOTIFIED {
                return Polling::Over;
            }
            match self.reactor.try_turn(Some(Duration::ZERO)) {
                Some(Ok(events)) if events > 0 => return Polling::Over,
                Some(_) => {}
                None => return Polling::LeftToTheDriver(time_left()),
            }
            for _ in 0..SPINS_BETWEEN_POLLS {
                std::hint::spin_loop();
            }
        }
        Polling::Fruitless(time_left())
    }
}

impl<P: Park> Park for IoParker<P> {
    type Unparker = IoUnparker<P::Unparker>;

    fn unparker(&self) -> IoUnparker<P::Unparker> {
        IoUnparker {
            inner: self.inner.unparker(),
            reactor: self.reactor.clone(),
            state: self.state.clone(),
        }
    }

    /// Blocks until unparked: in the reactor's `epoll_wait` (delivering I/O events) if no other
    /// thread is there, on the inner parker otherwise. May return spuriously.
    fn park(&mut self) {
        self.park_for(None);
    }

    /// Like [`park`](Self::park), but returns after `timeout` at the latest. A zero timeout
    /// delivers the reactor's ready events without blocking (or leaves that to the thread
    /// already in the reactor).
    fn park_timeout(&mut self, timeout: Duration) {
        self.park_for(Some(timeout));
    }

    /// Turns the reactor without blocking if no other thread holds it. If one does (it is in
    /// `epoll_wait`), events may be ready that it has not delivered: it is woken to deliver
    /// them, and this says false.
    fn deliver_events(&mut self) -> bool {
        if self.reactor.try_turn(Some(Duration::ZERO)).is_some() {
            return true;
        }
        self.reactor.unpark();
        false
    }
}

impl<U: Unpark> Unpark for IoUnparker<U> {
    /// Makes the parker's current or next park return: writes the reactor's eventfd if the
    /// parker is in the reactor, unparks its inner parker otherwise.
    fn unpark(&self) {
        if self.state.swap(NOTIFIED, SeqCst) == IN_REACTOR {
            self.reactor.unpark();
        } else {
            self.inner.unpark();
        }
    }
}

impl<P> fmt::Debug for IoParker<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoParker")
            .field("state", &self.state.load(SeqCst))
            .finish_non_exhaustive()
    }
}

impl<U> fmt::Debug for IoUnparker<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoUnparker").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ready::Ready;
    use mio::Interest;
    use spindle_core::ThreadParker;

    fn parker() -> IoParker<ThreadParker> {
        IoParker::new(ThreadParker::new(), Reactor::new().unwrap())
    }

    #[test]
    fn polling_pauses_after_fruitless_rounds_and_resumes_after_a_quick_wake_up() {
        let mut parker = parker();
        for round in 1..=FRUITLESS_ROUNDS_TO_PAUSE {
            parker.park_timeout(Duration::from_millis(2));
            assert_eq!(parker.fruitless_rounds, round, "nothing came in");
        }
        let started = Instant::now();
        parker.park_timeout(Duration::from_millis(5));
        assert!(
            started.elapsed() >= Duration::from_millis(5),
            "paused: blocked at once"
        );
        assert_eq!(parker.fruitless_rounds, FRUITLESS_ROUNDS_TO_PAUSE);
        // An unpark before the park ends it at once: a quick wake-up, which resumes polling.
        // "At once" is a zero-timeout turn, a system call, which a sanitizer or a loaded
        // machine can stretch past QUICK_WAKE_UP now and then: some of 20 tries must count.
        let resumed = (0..20).any(|_| {
            parker.unparker().unpark();
            parker.park_timeout(Duration::from_millis(5));
            parker.fruitless_rounds == 0
        });
        assert!(resumed, "a quick wake-up resumes polling");
    }

    #[test]
    fn an_unpark_ends_the_polling_without_blocking() {
        let mut parker = parker();
        parker.fruitless_rounds = 1;
        parker.unparker().unpark();
        parker.park();
        assert_eq!(parker.fruitless_rounds, 0, "the round ended early: it paid");
    }

    #[test]
    fn a_socket_event_ends_the_polling() {
        let mut parker = parker();
        let mut socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (_token, _io) = parker
            .reactor
            .register(&mut socket, Interest::READABLE, Ready::EMPTY)
            .unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"x", socket.local_addr().unwrap()).unwrap();
        parker.fruitless_rounds = 1;
        parker.park();
        assert_eq!(
            parker.fruitless_rounds, 0,
            "a poll delivered the datagram's event"
        );
    }
}
