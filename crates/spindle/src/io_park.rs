//! The I/O layer of each worker's parking stack (timer → I/O → thread parker).
//!
//! A worker with nothing to run blocks in the reactor's `epoll_wait` if no other worker is
//! already there, and on its own condition variable otherwise: one idle worker at a time
//! polls the reactor, the others sleep. The reactor is held only while parked, never while a
//! task runs, so a worker stuck in a long poll cannot hold I/O hostage: the next worker to
//! park takes the reactor (and while any worker is busy, idle workers re-park every 2 ms, so
//! one of them is soon in `epoll_wait`). The protocol, and why no wake-up is lost, is in
//! `spindle_io::Reactor`'s module doc.

use spindle_io::Reactor;
use spindle_scheduler::{Park, ThreadParker, ThreadUnparker, Unpark};
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

const EMPTY: u8 = 0;
const IN_REACTOR: u8 = 1;
const NOTIFIED: u8 = 2;

/// One worker's I/O layer.
pub(crate) struct IoParker {
    inner: ThreadParker,
    reactor: Arc<Reactor>,
    state: Arc<AtomicU8>,
}

/// Wakes an [`IoParker`]: through the reactor's eventfd if it is in `epoll_wait`, through its
/// condition variable otherwise.
#[derive(Clone)]
pub(crate) struct IoUnparker {
    inner: ThreadUnparker,
    reactor: Arc<Reactor>,
    state: Arc<AtomicU8>,
}

impl IoParker {
    pub(crate) fn new(reactor: Arc<Reactor>) -> IoParker {
        IoParker {
            inner: ThreadParker::new(),
            reactor,
            state: Arc::new(AtomicU8::new(EMPTY)),
        }
    }

    fn park_for(&mut self, timeout: Option<Duration>) {
        if timeout == Some(Duration::ZERO) {
            // Maintenance: deliver ready events without blocking (or let the worker already
            // in the reactor deliver them).
            let _ = self.reactor.try_turn(Some(Duration::ZERO));
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
        self.state.store(EMPTY, SeqCst);
    }
}

impl Park for IoParker {
    type Unpark = IoUnparker;

    fn unpark(&self) -> IoUnparker {
        IoUnparker {
            inner: self.inner.unpark(),
            reactor: self.reactor.clone(),
            state: self.state.clone(),
        }
    }

    fn park(&mut self) {
        self.park_for(None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.park_for(Some(timeout));
    }
}

impl Unpark for IoUnparker {
    fn unpark(&self) {
        if self.state.swap(NOTIFIED, SeqCst) == IN_REACTOR {
            self.reactor.unpark();
        } else {
            self.inner.unpark();
        }
    }
}
