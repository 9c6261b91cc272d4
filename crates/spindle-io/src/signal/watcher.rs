//! A reactor's watch on the signal self-pipe: a registration of its own duplicate of the read
//! end, whose waker is not a task but the watcher itself.
//!
//! The reactor's turn wakes the wakers of a readable registration after it released the poll
//! (`reactor.rs`, "A turn"); for this registration that runs [`Watcher::wake`] on the reactor
//! thread, which drains the duplicate and dispatches (`registry.rs`), then stores the watcher
//! again as the registration's waker. So signals are dispatched by whichever watching reactor
//! sees the pipe readable first, whether or not any listener is being polled, and the reactor
//! turn has no signal code in it: a program that never listens pays nothing.
//!
//! Each reactor registers a duplicate rather than sharing one descriptor: epoll watches a
//! descriptor per epoll instance, and a duplicate makes each reactor's registration its own
//! (tokio does the same, after one descriptor registered twice lost wake-ups).
//!
//! | event | what the watcher does |
//! | --- | --- |
//! | made (first listener on this reactor) | registers the duplicate, readiness assumed readable; `arm`: drain, dispatch, store its waker |
//! | woken by a turn (pipe readable) | drain until `WouldBlock`, clearing the readiness it saw; dispatch; its waker is stored again by the last `poll_ready` |
//! | woken by the reactor's shutdown | the wait fails: retire (below) |
//! | retire | drop the registration, mark itself dead, leave the registry's list, wake every listener: those of this reactor then end (`recv` returns `None`) |
//!
//! A watcher lives as long as its reactor runs: it is kept by the registry's list and by its
//! registration's waker, and it goes when the reactor shuts down (a runtime shuts its reactor
//! down when dropped). A bare `Reactor` dropped without `shutdown` after a listener used it
//! stays allocated, with its duplicate open, for the rest of the process.

use super::registry::Registry;
use crate::loom::self_pipe;
use crate::loom::sync::atomic::AtomicBool;
use crate::loom::sync::Mutex;
use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use mio::Interest;
use std::fmt;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

pub(crate) struct Watcher {
    registry: &'static Registry,
    /// Which reactor this is, for [`Watcher::watches`]; not kept alive by it.
    reactor: Weak<Reactor>,
    /// `None` once retired.
    pipe: Mutex<Option<Registration<self_pipe::Reader>>>,
    alive: AtomicBool,
}

/// How a drain of the watcher's duplicate ended.
enum Drained {
    /// Empty, and the watcher is the registration's waker again.
    Armed,
    /// The reactor shut down (or the watcher already retired).
    ShutDown,
}

impl Watcher {
    /// Registers a duplicate of `registry`'s read end with `reactor`. Not armed yet.
    pub(super) fn new(
        registry: &'static Registry,
        reactor: Arc<Reactor>,
    ) -> io::Result<Arc<Watcher>> {
        let weak = Arc::downgrade(&reactor);
        let pipe = Registration::new(
            reactor,
            registry.reader()?,
            Interest::READABLE,
            Ready::READABLE,
        )?;
        Ok(Arc::new(Watcher {
            registry,
            reactor: weak,
            pipe: Mutex::new(Some(pipe)),
            alive: AtomicBool::new(true),
        }))
    }

    /// Whether this is `reactor`'s watcher, still watching.
    pub(super) fn watches(&self, reactor: &Arc<Reactor>) -> bool {
        self.alive.load(SeqCst) && std::ptr::eq(self.reactor.as_ptr(), Arc::as_ptr(reactor))
    }

    /// False once the reactor shut down. Read by a listener after storing its waker; set
    /// before every listener is woken (`retire`), so a listener of this reactor either sees it
    /// or is woken after it was set.
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(SeqCst)
    }

    /// Drains and dispatches once, leaving the watcher stored as the registration's waker.
    pub(super) fn arm(self: &Arc<Self>) {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let drained = self.registry.dispatch(|| self.drain(&mut cx));
        if let Drained::ShutDown = drained {
            self.retire();
        }
    }

    /// Reads the duplicate until `WouldBlock`, clearing the readiness each round saw; the
    /// final `poll_ready` stores `cx`'s waker (the watcher) for the next turn to wake.
    fn drain(&self, cx: &mut Context<'_>) -> Drained {
        let pipe = self.pipe.lock();
        let Some(registration) = pipe.as_ref() else {
            return Drained::ShutDown;
        };
        loop {
            match registration.poll_ready(Direction::Read, cx) {
                Poll::Ready(Ok(event)) => {
                    self_pipe::drain(registration.source());
                    registration.clear_readiness(event);
                }
                Poll::Ready(Err(_)) => return Drained::ShutDown,
                Poll::Pending => return Drained::Armed,
            }
        }
    }

    fn retire(self: &Arc<Self>) {
        let registration = self.pipe.lock().take();
        if registration.is_none() {
            return;
        }
        // Closes the duplicate; the reactor's turn is not running this (it woke us after it
        // released every lock).
        drop(registration);
        self.alive.store(false, SeqCst);
        self.registry.forget_watcher(self);
        self.registry.wake_all_listeners();
    }
}

impl Wake for Watcher {
    fn wake(self: Arc<Self>) {
        self.arm();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.arm();
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}
