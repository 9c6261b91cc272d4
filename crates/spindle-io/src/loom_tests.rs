//! loom models of the crate's cross-thread protocols, run on the real code:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p spindle-io --release --lib
//! --target-dir target/loom -- loom_tests`.
//!
//! This file models the readiness protocol, on the real `ScheduledIo` code exactly as the
//! reactor's turn (`set_readiness` + `collect_wakers`, then wake) and a socket operation
//! (`poll_ready`, try, `clear_readiness` after `WouldBlock`) use it. mio cannot run under loom,
//! so here "the socket" is a loom atomic counting the bytes waiting in the kernel: the driver's
//! turn first makes data arrive (as the kernel would) and then reports the edge; the waiter's
//! "read" takes what is there or answers `WouldBlock`.
//!
//! The submodules run the real reactor (`Reactor::new`, `try_drive`, `Driver::turn`,
//! `unpark`) over the crate's epoll stand-in (`crate::loom::epoll`):
//!
//! - [`park`]: the I/O parking word of a runtime worker ([`crate::IoParker`]);
//! - [`block_on`]: the standalone `block_on`'s wake flags and its hand-off rules.
//!
//! [`signal`] runs the signal registry's dispatch (handler, reactors, listeners) over the
//! self-pipe stand-in (`crate::loom::self_pipe`), and the orphan queue's hand-off.
//!
//! Besides the models' own assertions, loom fails an execution on a deadlock (every thread
//! blocked): that is how a lost wake-up shows.

#[cfg(feature = "standalone")]
mod block_on;
mod park;
mod signal;

use crate::ready::{Direction, Ready};
use crate::scheduled_io::{ReadyEvent, ScheduledIo};
use loom::sync::atomic::AtomicUsize;
use loom::sync::Arc;
use spindle_core::loom::model;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Wake, Waker};

/// Counts the wakes of the wakers made from it.
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (std::sync::Arc<WakeCount>, Waker) {
    let count = std::sync::Arc::new(WakeCount(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

/// A socket's receive queue, as far as the model cares: bytes waiting to be read.
struct Kernel {
    waiting: AtomicUsize,
}

impl Kernel {
    fn read(&self) -> io::Result<usize> {
        match self.waiting.swap(0, SeqCst) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

/// The driver's turn `tick`: data arrives, then the edge is applied and the waiters woken
/// after the waiters lock is released, as `Driver::turn` does.
fn driver_turn(io: &ScheduledIo, kernel: &Kernel, tick: u16, ready: Ready) {
    kernel.waiting.fetch_add(1, SeqCst);
    io.set_readiness(tick, ready);
    let mut wakers = Vec::new();
    io.collect_wakers(ready, &mut wakers);
    wakers.into_iter().for_each(Waker::wake);
}

/// The socket operation loop (`Registration::poll_io`) for one read.
fn poll_read(io: &ScheduledIo, kernel: &Kernel, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    loop {
        let event = match io.poll_ready(Direction::Read, cx) {
            Poll::Ready(Ok(event)) => event,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => return Poll::Pending,
        };
        match kernel.read() {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                io.clear_readiness(event);
            }
            result => return Poll::Ready(result),
        }
    }
}

/// Data arrives (driver turn 2) while a reader that saw the previous turn's readiness reads,
/// gets `WouldBlock` and clears. The bug it catches: a clear that erases readiness set by the
/// newer turn (no tick check), after which the reader sleeps with data waiting and nobody
/// wakes it. Asserts the reader either read the data or was woken, and that the data is
/// never left behind without readiness saying so.
#[test]
fn readiness_set_by_a_newer_turn_survives_a_stale_clear() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(Ready::EMPTY));
        let kernel = Arc::new(Kernel {
            waiting: AtomicUsize::new(0),
        });
        // Turn 1 reported readable; the data was already consumed by an earlier read.
        io.set_readiness(1, Ready::READABLE);

        let driver = {
            let (io, kernel) = (io.clone(), kernel.clone());
            loom::thread::spawn(move || driver_turn(&io, &kernel, 2, Ready::READABLE))
        };

        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let outcome = poll_read(&io, &kernel, &mut cx);
        driver.join().unwrap();

        match outcome {
            Poll::Ready(result) => assert_eq!(result.unwrap(), 1),
            Poll::Pending => {
                assert_eq!(count.0.load(SeqCst), 1, "a pending reader must be woken");
                // Woken, it retries and finds the data.
                assert!(matches!(
                    poll_read(&io, &kernel, &mut cx),
                    Poll::Ready(Ok(1))
                ));
            }
        }
        assert_eq!(kernel.waiting.load(SeqCst), 0);
    });
}

/// The assumed readiness of a new registration (tick 0) against the first real event: the
/// reader tries at once, gets `WouldBlock`, clears; the driver's first turn sets readiness for
/// data that just arrived. The clear of tick 0 must not erase turn 1's readiness.
///
/// Catches: a registration's assumed readiness treated as newer than a real event (its stale
/// clear wipes turn 1's readiness, and the reader sleeps on data that arrived, failing the
/// final read), and a pending reader the turn does not wake.
#[test]
fn assumed_readiness_never_hides_the_first_real_event() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(Ready::READABLE | Ready::WRITABLE));
        let kernel = Arc::new(Kernel {
            waiting: AtomicUsize::new(0),
        });
        let driver = {
            let (io, kernel) = (io.clone(), kernel.clone());
            loom::thread::spawn(move || driver_turn(&io, &kernel, 1, Ready::READABLE))
        };
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let outcome = poll_read(&io, &kernel, &mut cx);
        driver.join().unwrap();
        if outcome.is_pending() {
            assert_eq!(count.0.load(SeqCst), 1, "a pending reader must be woken");
        }
        let got = match outcome {
            Poll::Ready(result) => result.unwrap(),
            Poll::Pending => match poll_read(&io, &kernel, &mut cx) {
                Poll::Ready(result) => result.unwrap(),
                Poll::Pending => panic!("data waiting, readiness lost"),
            },
        };
        assert_eq!(got, 1);
    });
}

/// A waiter registering its waker while the driver sets readiness and collects wakers: either
/// the waiter's re-check under the lock sees the readiness (Ready), or the driver's collection
/// sees the waker (woken exactly once). Catches a lost wake-up if `poll_ready` did not
/// re-read readiness after storing the waker, or the driver collected before setting it.
#[test]
fn a_wake_racing_with_waker_registration_is_not_lost() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(Ready::EMPTY));
        let driver = {
            let io = io.clone();
            loom::thread::spawn(move || {
                io.set_readiness(1, Ready::WRITABLE);
                let mut wakers = Vec::new();
                io.collect_wakers(Ready::WRITABLE, &mut wakers);
                wakers.len()
            })
        };
        let (count, waker) = counting_waker();
        let outcome = io.poll_ready(Direction::Write, &mut Context::from_waker(&waker));
        let collected = driver.join().unwrap();
        match outcome {
            Poll::Ready(event) => {
                let event: ReadyEvent = event.unwrap();
                assert_eq!(event.tick, 1);
                assert!(event.ready.contains(Ready::WRITABLE));
            }
            Poll::Pending => assert_eq!(collected, 1, "the driver must find the waiter"),
        }
        // Wakers are only moved here, never woken: a stored one is collected at most once.
        assert!(collected <= 1);
        assert_eq!(count.0.load(SeqCst), 0);
    });
}

/// Readiness in one direction wakes only that direction's waiters, and each of two waiters
/// (a reader and a writer on one socket, as with `&TcpStream`) racing with two events of one
/// turn is either ready or woken.
///
/// Catches: a writable event that wakes the reader (the directions' waiters mixed up, or
/// sharing one slot), and a waiter of the ready direction neither ready nor woken (a lost
/// wake-up).
#[test]
fn readers_and_writers_are_woken_independently() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(Ready::EMPTY));
        let (reader_count, reader_waker) = counting_waker();
        let writer = {
            let io = io.clone();
            loom::thread::spawn(move || {
                let (count, waker) = counting_waker();
                let ready = io.poll_ready(Direction::Write, &mut Context::from_waker(&waker));
                (ready.is_ready(), count)
            })
        };
        let reader_ready = io
            .poll_ready(Direction::Read, &mut Context::from_waker(&reader_waker))
            .is_ready();
        // The driver (here, after the reader registered) reports writable only.
        io.set_readiness(1, Ready::WRITABLE);
        let mut wakers = Vec::new();
        io.collect_wakers(Ready::WRITABLE, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        let (writer_ready, writer_count) = writer.join().unwrap();
        assert!(!reader_ready);
        assert_eq!(
            reader_count.0.load(SeqCst),
            0,
            "writable must not wake the reader"
        );
        assert!(
            writer_ready || writer_count.0.load(SeqCst) == 1,
            "the writer is ready or woken"
        );
    });
}

/// Reactor shutdown racing with a waiter: the waiter gets the shutdown error or is woken (and
/// then gets the error). Catches a waiter stranded forever on a dead reactor.
#[test]
fn shutdown_racing_with_a_waiter_ends_the_wait() {
    model(|| {
        let io = Arc::new(ScheduledIo::new(Ready::EMPTY));
        let shutdown = {
            let io = io.clone();
            loom::thread::spawn(move || {
                io.shutdown();
                let mut wakers = Vec::new();
                io.collect_wakers(Ready::ALL, &mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            })
        };
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let outcome = io.poll_ready(Direction::Read, &mut cx);
        shutdown.join().unwrap();
        match outcome {
            Poll::Ready(result) => assert!(result.is_err()),
            Poll::Pending => {
                assert_eq!(count.0.load(SeqCst), 1);
                assert!(matches!(
                    io.poll_ready(Direction::Read, &mut cx),
                    Poll::Ready(Err(_))
                ));
            }
        }
    });
}
