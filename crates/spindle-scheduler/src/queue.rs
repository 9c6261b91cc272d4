//! Run queues: each worker's deque, the stealers onto it, and the shared injector.
//!
//! A thin wrapper over crossbeam-deque, so that under loom (which cannot see inside crossbeam)
//! the same calls run on a loom-built stand-in with the same semantics: FIFO pops for the owner,
//! batch steals of about half the victim's tasks.
//!
//! Miri runs the stand-in too (built from std and parking_lot there): crossbeam-epoch, under
//! crossbeam-deque, breaks Stacked Borrows, Miri's default aliasing model (a known issue:
//! crossbeam checks it under Tree Borrows only), which would stop every Miri run at the first
//! steal. The scheduler's own unsafe code is the same either way.

use crate::task::Runnable;

/// The outcome of a steal attempt.
pub(crate) enum Steal {
    Empty,
    Success(Runnable),
    /// Lost a race with another thread; trying again may succeed.
    // The stand-in is lock-based and never loses a race.
    #[cfg_attr(any(loom, miri), allow(dead_code))]
    Retry,
}

#[cfg(not(any(loom, miri)))]
mod imp {
    use super::Steal;
    use crate::task::Runnable;
    use crossbeam_deque as cb;

    fn steal(s: cb::Steal<Runnable>) -> Steal {
        match s {
            cb::Steal::Empty => Steal::Empty,
            cb::Steal::Success(task) => Steal::Success(task),
            cb::Steal::Retry => Steal::Retry,
        }
    }

    /// A worker's own FIFO deque; only the owning thread pushes and pops.
    pub(crate) struct LocalQueue(cb::Worker<Runnable>);
    /// A handle other threads use to take tasks from a worker's deque.
    pub(crate) struct Stealer(cb::Stealer<Runnable>);
    /// The shared queue for tasks scheduled from outside the workers.
    pub(crate) struct Injector(cb::Injector<Runnable>);

    pub(crate) fn local_queue() -> (LocalQueue, Stealer) {
        let worker = cb::Worker::new_fifo();
        let stealer = worker.stealer();
        (LocalQueue(worker), Stealer(stealer))
    }

    impl LocalQueue {
        pub(crate) fn push(&self, task: Runnable) {
            self.0.push(task);
        }
        pub(crate) fn pop(&self) -> Option<Runnable> {
            self.0.pop()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl Stealer {
        pub(crate) fn steal_batch_and_pop(&self, dest: &LocalQueue) -> Steal {
            steal(self.0.steal_batch_and_pop(&dest.0))
        }
        pub(crate) fn steal(&self) -> Steal {
            steal(self.0.steal())
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl Injector {
        pub(crate) fn new() -> Injector {
            Injector(cb::Injector::new())
        }
        pub(crate) fn push(&self, task: Runnable) {
            self.0.push(task);
        }
        pub(crate) fn steal_batch_and_pop(&self, dest: &LocalQueue) -> Steal {
            steal(self.0.steal_batch_and_pop(&dest.0))
        }
        pub(crate) fn steal(&self) -> Steal {
            steal(self.0.steal())
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }
}

#[cfg(any(loom, miri))]
mod imp {
    use super::Steal;
    use crate::loom::sync::Mutex;
    use crate::loom::Arc;
    use crate::task::Runnable;
    use std::collections::VecDeque;

    type Shared = Arc<Mutex<VecDeque<Runnable>>>;

    pub(crate) struct LocalQueue(Shared);
    pub(crate) struct Stealer(Shared);
    pub(crate) struct Injector(Mutex<VecDeque<Runnable>>);

    pub(crate) fn local_queue() -> (LocalQueue, Stealer) {
        let shared = Arc::new(Mutex::new(VecDeque::new()));
        (LocalQueue(shared.clone()), Stealer(shared))
    }

    fn batch_and_pop(src: &mut VecDeque<Runnable>, dest: &LocalQueue) -> Steal {
        let Some(first) = src.pop_front() else {
            return Steal::Empty;
        };
        let extra = src.len() / 2;
        if extra > 0 {
            let mut dest = dest.0.lock();
            dest.extend(src.drain(..extra));
        }
        Steal::Success(first)
    }

    impl LocalQueue {
        pub(crate) fn push(&self, task: Runnable) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn pop(&self) -> Option<Runnable> {
            self.0.lock().pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    impl Stealer {
        pub(crate) fn steal_batch_and_pop(&self, dest: &LocalQueue) -> Steal {
            let mut src = self.0.lock();
            batch_and_pop(&mut src, dest)
        }
        pub(crate) fn steal(&self) -> Steal {
            self.0
                .lock()
                .pop_front()
                .map_or(Steal::Empty, Steal::Success)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }

    impl Injector {
        pub(crate) fn new() -> Injector {
            Injector(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, task: Runnable) {
            self.0.lock().push_back(task);
        }
        pub(crate) fn steal_batch_and_pop(&self, dest: &LocalQueue) -> Steal {
            let mut src = self.0.lock();
            batch_and_pop(&mut src, dest)
        }
        pub(crate) fn steal(&self) -> Steal {
            self.0
                .lock()
                .pop_front()
                .map_or(Steal::Empty, Steal::Success)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }
    }
}

pub(crate) use imp::{local_queue, Injector, LocalQueue, Stealer};

/// Retries a steal until it succeeds or finds the queue empty.
pub(crate) fn steal_until_settled(mut attempt: impl FnMut() -> Steal) -> Option<Runnable> {
    loop {
        match attempt() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => crate::loom::thread::yield_now(),
        }
    }
}
