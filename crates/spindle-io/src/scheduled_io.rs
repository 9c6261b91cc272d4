//! `ScheduledIo`: one registered socket's readiness and waiting tasks; the protocol between
//! the thread driving the reactor and the tasks that wait on the socket.
//!
//! It is plain atomics and a small mutex, with no mio inside, so the loom models
//! (`loom_tests.rs`) run it exactly as the reactor's turn and the sockets do.
//!
//! # The readiness word
//!
//! One `AtomicUsize` (the layout fits in 32 bits):
//!
//! | bits   | field |
//! | ------ | ----- |
//! | 0..5   | readiness: `READABLE`, `WRITABLE`, `READ_CLOSED`, `WRITE_CLOSED`, `ERROR` |
//! | 8      | `SHUTDOWN`: the reactor shut down; every wait ends with an error |
//! | 16..32 | tick: the reactor turn (mod 2¹⁶) that last set readiness; 0 = the registration |
//!
//! # Transitions
//!
//! | word before     | event                                              | word after            |
//! | --------------- | -------------------------------------------------- | --------------------- |
//! | (r, t)          | `new(assumed)` (registration)                      | (assumed, 0)          |
//! | (r, t)          | `set_readiness(T, e)` (driver, turn T ≠ 0)         | (r ∪ e, T)            |
//! | (r, t)          | `clear_readiness((t, m))` (waiter got `WouldBlock`) | (r − (m − closed), t) |
//! | (r, t)          | `clear_readiness((t', m))`, t' ≠ t                 | (r, t): unchanged     |
//! | (r, t)          | `shutdown()`                                       | (r, t) + `SHUTDOWN`   |
//!
//! # Invariants
//!
//! 1. Only the thread driving the reactor (it holds the poll) sets readiness bits and stamps
//!    the tick, so ticks increase turn by turn (mod 2¹⁶) and no two events of one turn target
//!    the same socket (epoll reports a descriptor once per wait).
//! 2. A waiter clears only the bits it observed, and only while the tick is still the one it
//!    observed: readiness set by a later turn is never erased.
//! 3. `READ_CLOSED` and `WRITE_CLOSED` are never cleared: a closed half does not reopen, and
//!    edge-triggered polling would never report it again.
//! 4. The driver sets readiness *before* it takes the waiters lock to collect wakers; a waiter
//!    stores its waker *under* that lock and re-reads readiness before returning `Pending`.
//!    So either the driver's collection sees the waker, or the waiter's re-read sees the
//!    readiness (the mutex orders the two): no wake-up is lost.
//! 5. Wakers are collected (moved out) under the lock and woken by the caller after every lock
//!    is released, so a waker that re-enters the socket (polls it inline) cannot deadlock.
//! 6. `SHUTDOWN` is final; it is set before the waiters are collected, with the same argument
//!    as rule 4.
//!
//! # Why a tick
//!
//! Readiness is edge-triggered: mio reports a change once. A task that saw `READABLE`, read
//! until `WouldBlock`, and then clears `READABLE` races with the driver setting `READABLE`
//! again for data that arrived after the read. Cleared blindly, the new readiness would be lost
//! and the task would sleep with data waiting, until some unrelated event. Stamping each turn's
//! readiness with the turn's tick, and clearing only if the tick did not move, keeps the newer
//! readiness (this is tokio's `Tick::Clear`). The tick wraps at 2¹⁶ turns: a waiter would have
//! to be preempted between its read and its clear for exactly a multiple of 65 535 turns to
//! erase newer readiness.
//!
//! # Why readiness is assumed at registration
//!
//! A freshly accepted or bound socket is usually ready: its request has often arrived already,
//! its send buffer is empty. Rather than wait a whole reactor turn to learn that, a socket may
//! be registered with readiness *assumed* at tick 0, a tick no driver turn uses. The first
//! operation is tried at once; if it answers `WouldBlock` the assumed bits are cleared, unless
//! a real event (tick ≠ 0) arrived in between, which is kept by rule 2. A connecting stream
//! assumes nothing: it must wait for the connect to complete.
//!
//! # Waiters
//!
//! Each direction keeps a list of wakers, deduplicated with `Waker::will_wake`, so that
//! several tasks sharing one socket (`&TcpStream`, an `Arc<UdpSocket>`) all get woken; the
//! ones that lose the race see `WouldBlock` and wait again. A waiter whose future is dropped
//! leaves its waker behind until the next readiness in that direction: at most one spurious
//! wake. The lists keep their capacity, so steady-state waits do not allocate.

use crate::loom::sync::{atomic::AtomicUsize, Mutex};
use crate::ready::{Direction, Ready};
use std::fmt;
use std::io;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::task::{Context, Poll, Waker};

/// The readiness bits of the word.
const READINESS: usize = Ready::ALL.bits();
/// Set once the reactor has shut down.
const SHUTDOWN: usize = 1 << 8;
const TICK_SHIFT: u32 = 16;
const TICK_MASK: usize = 0xFFFF << TICK_SHIFT;

/// The tick of readiness assumed at registration. Driver turns never use it.
pub(crate) const REGISTRATION_TICK: u16 = 0;

/// The tick that follows `tick`, skipping [`REGISTRATION_TICK`].
pub(crate) fn next_tick(tick: u16) -> u16 {
    match tick.wrapping_add(1) {
        REGISTRATION_TICK => 1,
        next => next,
    }
}

fn tick_of(word: usize) -> u16 {
    ((word & TICK_MASK) >> TICK_SHIFT) as u16
}

/// One registered socket's readiness and waiters. Shared (in an `Arc`) by the socket and the
/// reactor's registration set.
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    reader: Vec<Waker>,
    writer: Vec<Waker>,
}

impl Waiters {
    fn list(&mut self, direction: Direction) -> &mut Vec<Waker> {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

/// What a waiter observed: the readiness in its direction, and the turn that set it. Handed
/// back to [`ScheduledIo::clear_readiness`] after a `WouldBlock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyEvent {
    pub(crate) tick: u16,
    pub(crate) ready: Ready,
}

impl ScheduledIo {
    /// A registration's state, with `assumed` readiness at [`REGISTRATION_TICK`].
    pub(crate) fn new(assumed: Ready) -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(assumed.bits()),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Driver, turn `tick`: adds `ready` to the readiness and stamps the tick. Follow it with
    /// [`collect_wakers`](Self::collect_wakers).
    pub(crate) fn set_readiness(&self, tick: u16, ready: Ready) {
        debug_assert_ne!(tick, REGISTRATION_TICK, "driver turns never use tick 0");
        let stamp = (usize::from(tick) << TICK_SHIFT) | ready.bits();
        let mut word = self.readiness.load(Acquire);
        loop {
            let new = (word & (READINESS | SHUTDOWN)) | stamp;
            match self.readiness.compare_exchange(word, new, AcqRel, Acquire) {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// Waiter, after its operation answered `WouldBlock`: clears the bits it observed (never
    /// the closed ones), if no turn set readiness since. True if it cleared.
    pub(crate) fn clear_readiness(&self, observed: ReadyEvent) -> bool {
        let clear = (observed.ready - Ready::CLOSED).bits();
        let mut word = self.readiness.load(Acquire);
        loop {
            if tick_of(word) != observed.tick {
                return false;
            }
            match self
                .readiness
                .compare_exchange(word, word & !clear, AcqRel, Acquire)
            {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Reactor shutdown: every current and future wait ends with an error. Follow it with
    /// `collect_wakers(Ready::ALL, ..)`.
    pub(crate) fn shutdown(&self) {
        self.readiness.fetch_or(SHUTDOWN, AcqRel);
    }

    /// Waiter: ready in `direction` (the event to clear after a `WouldBlock`), an error if the
    /// reactor shut down, or `Pending` with the task's waker stored.
    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(outcome) = ready_in(self.readiness.load(Acquire), direction) {
            return Poll::Ready(outcome);
        }
        let mut waiters = self.waiters.lock();
        let list = waiters.list(direction);
        if !list.iter().any(|waker| waker.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        // Rule 4: re-read under the lock; readiness set before the driver's collection is
        // visible here, readiness set after it will find the waker.
        match ready_in(self.readiness.load(Acquire), direction) {
            Some(outcome) => Poll::Ready(outcome),
            None => Poll::Pending,
        }
    }

    /// Driver (after `set_readiness` or `shutdown`): moves the wakers of every direction that
    /// `ready` concerns into `wakers`. Wake them after releasing every lock (rule 5).
    pub(crate) fn collect_wakers(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        let mut waiters = self.waiters.lock();
        for direction in [Direction::Read, Direction::Write] {
            if ready.intersects(direction.mask()) {
                wakers.append(waiters.list(direction));
            }
        }
    }

    /// The current readiness and its tick, and whether the reactor shut down.
    pub(crate) fn snapshot(&self) -> (ReadyEvent, bool) {
        let word = self.readiness.load(Acquire);
        let event = ReadyEvent {
            tick: tick_of(word),
            ready: Ready::from_bits(word),
        };
        (event, word & SHUTDOWN != 0)
    }
}

/// The outcome of a wait in `direction` given the readiness word, if the wait is over.
fn ready_in(word: usize, direction: Direction) -> Option<io::Result<ReadyEvent>> {
    if word & SHUTDOWN != 0 {
        return Some(Err(shut_down_error()));
    }
    let ready = Ready::from_bits(word) & direction.mask();
    (!ready.is_empty()).then(|| {
        Ok(ReadyEvent {
            tick: tick_of(word),
            ready,
        })
    })
}

/// The error of an operation on a socket whose reactor has shut down.
pub(crate) fn shut_down_error() -> io::Error {
    io::Error::other(
        "the spindle reactor this socket is registered with has shut down (its runtime was \
         dropped); create the socket again on a running runtime",
    )
}

impl fmt::Debug for ScheduledIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (event, shut_down) = self.snapshot();
        f.debug_struct("ScheduledIo")
            .field("ready", &event.ready)
            .field("tick", &event.tick)
            .field("shut_down", &shut_down)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::Wake;

    struct WakeCount(StdAtomicUsize);
    impl Wake for WakeCount {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting_waker() -> (Arc<WakeCount>, Waker) {
        let count = Arc::new(WakeCount(StdAtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn poll(io: &ScheduledIo, direction: Direction, waker: &Waker) -> Poll<io::Result<ReadyEvent>> {
        io.poll_ready(direction, &mut Context::from_waker(waker))
    }

    #[test]
    fn ticks_skip_the_registration_tick() {
        assert_eq!(next_tick(0), 1);
        assert_eq!(next_tick(41), 42);
        assert_eq!(next_tick(u16::MAX), 1);
    }

    #[test]
    fn assumed_readiness_is_cleared_by_a_would_block() {
        let io = ScheduledIo::new(Ready::READABLE | Ready::WRITABLE);
        let (_count, waker) = counting_waker();
        let Poll::Ready(Ok(event)) = poll(&io, Direction::Read, &waker) else {
            panic!("assumed readiness should let the first read through");
        };
        assert_eq!(event.tick, REGISTRATION_TICK);
        assert_eq!(event.ready, Ready::READABLE);
        assert!(io.clear_readiness(event));
        assert!(poll(&io, Direction::Read, &waker).is_pending());
        // The write direction is untouched.
        assert!(poll(&io, Direction::Write, &waker).is_ready());
    }

    #[test]
    fn a_clear_with_a_stale_tick_keeps_newer_readiness() {
        let io = ScheduledIo::new(Ready::EMPTY);
        io.set_readiness(1, Ready::READABLE);
        let (_count, waker) = counting_waker();
        let Poll::Ready(Ok(observed)) = poll(&io, Direction::Read, &waker) else {
            panic!("readable");
        };
        io.set_readiness(2, Ready::READABLE);
        assert!(!io.clear_readiness(observed));
        assert!(poll(&io, Direction::Read, &waker).is_ready());
    }

    #[test]
    fn closed_bits_survive_a_clear() {
        let io = ScheduledIo::new(Ready::EMPTY);
        io.set_readiness(1, Ready::READABLE | Ready::READ_CLOSED);
        let (_count, waker) = counting_waker();
        let Poll::Ready(Ok(observed)) = poll(&io, Direction::Read, &waker) else {
            panic!("readable");
        };
        assert!(io.clear_readiness(observed));
        let (now, _) = io.snapshot();
        assert_eq!(now.ready, Ready::READ_CLOSED);
    }

    #[test]
    fn readiness_wakes_only_its_direction_and_wakers_are_deduplicated() {
        let io = ScheduledIo::new(Ready::EMPTY);
        let (reader_count, reader) = counting_waker();
        let (writer_count, writer) = counting_waker();
        assert!(poll(&io, Direction::Read, &reader).is_pending());
        assert!(poll(&io, Direction::Read, &reader).is_pending());
        assert!(poll(&io, Direction::Write, &writer).is_pending());
        io.set_readiness(1, Ready::READABLE);
        let mut wakers = Vec::new();
        io.collect_wakers(Ready::READABLE, &mut wakers);
        assert_eq!(wakers.len(), 1, "the same task waits once");
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(reader_count.0.load(SeqCst), 1);
        assert_eq!(writer_count.0.load(SeqCst), 0);
    }

    #[test]
    fn shutdown_ends_every_wait_with_an_error() {
        let io = ScheduledIo::new(Ready::EMPTY);
        let (count, waker) = counting_waker();
        assert!(poll(&io, Direction::Write, &waker).is_pending());
        io.shutdown();
        let mut wakers = Vec::new();
        io.collect_wakers(Ready::ALL, &mut wakers);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(count.0.load(SeqCst), 1);
        let Poll::Ready(Err(error)) = poll(&io, Direction::Read, &waker) else {
            panic!("a shut-down reactor fails every wait");
        };
        assert!(error.to_string().contains("shut down"));
        io.set_readiness(3, Ready::READABLE);
        assert!(io.snapshot().1, "shutdown is final");
    }
}
