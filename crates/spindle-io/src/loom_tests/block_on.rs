//! The standalone `block_on` (`Reactor::block_on`): its waker's `woken` / `in_reactor` flags,
//! and the `block_on_waiters` hand-off (rules 1 and 2 of `crate::block_on`).
//!
//! The real `block_on` runs on loom threads over the real reactor and the crate's epoll
//! stand-in (`crate::loom::epoll`); the "socket" of the hand-off model is a real `ScheduledIo`
//! in the reactor's registration set, whose data the model makes arrive through the stand-in's
//! kernel side. A `block_on` that never returns shows as a loom deadlock.

use super::model;
use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use loom::sync::Mutex;
use loom::thread;
use mio::{Interest, Registry, Token};
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A completion that another thread signals: the future stores its waker and reads the flag
/// under one lock, the signaller sets the flag and takes the waker under it, then wakes.
#[derive(Default)]
struct Completion(Mutex<(bool, Option<Waker>)>);

impl Completion {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }

    fn complete(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The model's socket. The epoll stand-in registers nothing with the OS, so mio never calls
/// these.
struct ModelSocket;

impl mio::event::Source for ModelSocket {
    fn register(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        unreachable!("the epoll stand-in does not register sources")
    }
    fn reregister(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        unreachable!("the epoll stand-in does not register sources")
    }
    fn deregister(&mut self, _: &Registry) -> io::Result<()> {
        unreachable!("the epoll stand-in does not register sources")
    }
}

/// A `block_on` whose future is woken from another thread once, anywhere between its first
/// poll and the end of the wait: before `block_on` publishes `in_reactor`, between that and
/// its re-read of `woken`, between the re-read and the turn, or while the turn blocks.
///
/// Catches: a waker that only unparks the thread (a thread blocked in `epoll_wait` is not
/// parked: the wake must write the eventfd when `in_reactor` is set), and a thread that enters
/// the reactor without re-reading `woken` after publishing `in_reactor` (a wake that read
/// `in_reactor` as false just before is then lost).
#[test]
fn a_wake_while_block_on_enters_the_reactor_is_not_lost() {
    model(|| {
        let reactor = Reactor::new().unwrap();
        let completion = Arc::new(Completion::default());
        let waker = {
            let completion = completion.clone();
            thread::spawn(move || completion.complete())
        };
        reactor.block_on(poll_fn(|cx| completion.poll(cx)));
        waker.join().unwrap();
    });
}

/// Two threads in `block_on` on one reactor (rule 2). B waits for its socket to become
/// readable and, on its first poll, wakes A's future; A's future then makes B's data arrive
/// and completes. When A was the driver and B lost `try_turn` and parked on its thread, nobody
/// is in the reactor once A returns, and B's data sits in the kernel: A's return must wake B
/// so that it takes over the poll, delivers its own event and completes.
///
/// Catches: a `block_on` that returns without waking the listed waiters (rule 2), a thread
/// that lists itself only after its failed `try_turn` (rule 1: A could read the list in
/// between), and a hand-off that reads the list before releasing the poll.
#[test]
fn a_returning_driver_hands_the_reactor_to_a_waiting_block_on() {
    model(|| {
        let reactor = Reactor::new().unwrap();
        let (token, io) = reactor
            .register(&mut ModelSocket, Interest::READABLE, Ready::EMPTY)
            .unwrap();
        let a_completion = Arc::new(Completion::default());
        let b = {
            let (reactor, a_completion) = (reactor.clone(), a_completion.clone());
            thread::spawn(move || {
                reactor.block_on(poll_fn(|cx| match io.poll_ready(Direction::Read, cx) {
                    Poll::Ready(event) => Poll::Ready(event.unwrap().ready),
                    Poll::Pending => {
                        a_completion.complete();
                        Poll::Pending
                    }
                }))
            })
        };
        reactor.block_on(poll_fn(|cx| {
            a_completion.poll(cx).map(|()| {
                reactor.registry.report(token, Ready::READABLE);
            })
        }));
        assert!(b.join().unwrap().contains(Ready::READABLE));
    });
}
