//! The I/O layer of each worker's parking stack (timer → I/O → thread parker): spindle-io's
//! [`spindle_io::IoParker`] over the scheduler's [`ThreadParker`], seen through the scheduler's
//! `Park`/`Unpark` seam.
//!
//! A worker with nothing to run blocks in the reactor's `epoll_wait` if no other worker is
//! already there, and on its `ThreadParker` otherwise; an unpark writes the reactor's eventfd
//! only for a worker in the reactor. The protocol, why it loses no wake-up, and its loom models
//! live with the code in spindle-io (`park.rs`), since loom cannot build this crate. The engine
//! crates do not know each other, so this module only adapts: newtypes that carry the
//! scheduler's parker into spindle-io's `ThreadPark`/`ThreadUnpark` traits and spindle-io's
//! parker into the scheduler's `Park`/`Unpark` (the orphan rule allows neither impl directly).
//! All of it is static dispatch: each method forwards to one call that the compiler inlines.

use spindle_io::{Reactor, ThreadPark, ThreadUnpark};
use spindle_scheduler::{Park, ThreadParker, ThreadUnparker, Unpark};
use std::sync::Arc;
use std::time::Duration;

/// One worker's I/O layer.
pub(crate) struct IoParker(spindle_io::IoParker<WorkerThread>);

/// Wakes an [`IoParker`]: through the reactor's eventfd if it is in `epoll_wait`, through its
/// `ThreadParker` otherwise.
#[derive(Clone)]
pub(crate) struct IoUnparker(spindle_io::IoUnparker<WorkerThreadUnparker>);

/// The scheduler's `ThreadParker` as spindle-io's `ThreadPark`.
struct WorkerThread(ThreadParker);

/// The scheduler's `ThreadUnparker` as spindle-io's `ThreadUnpark`.
#[derive(Clone)]
struct WorkerThreadUnparker(ThreadUnparker);

impl IoParker {
    pub(crate) fn new(reactor: Arc<Reactor>) -> IoParker {
        IoParker(spindle_io::IoParker::new(
            WorkerThread(ThreadParker::new()),
            reactor,
        ))
    }
}

impl Park for IoParker {
    type Unpark = IoUnparker;

    fn unpark(&self) -> IoUnparker {
        IoUnparker(self.0.unparker())
    }

    fn park(&mut self) {
        self.0.park();
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.0.park_timeout(timeout);
    }
}

impl Unpark for IoUnparker {
    fn unpark(&self) {
        self.0.unpark();
    }
}

impl ThreadPark for WorkerThread {
    type Unparker = WorkerThreadUnparker;

    fn unparker(&self) -> WorkerThreadUnparker {
        WorkerThreadUnparker(Park::unpark(&self.0))
    }

    fn park(&mut self) {
        Park::park(&mut self.0);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        Park::park_timeout(&mut self.0, timeout);
    }
}

impl ThreadUnpark for WorkerThreadUnparker {
    fn unpark(&self) {
        Unpark::unpark(&self.0);
    }
}
