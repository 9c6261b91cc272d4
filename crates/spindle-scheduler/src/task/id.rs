//! Task ids, and which task this thread is polling.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A task's id: unique among all the tasks of the process, for its whole life (ids are never
/// reused). The ids of the tasks spawned from one thread increase; across threads, spawn order
/// is not id order.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let handle = scheduler.spawn(async { spindle_scheduler::try_current_task_id() });
/// let id = handle.id();
/// assert_eq!(futures::executor::block_on(handle).unwrap(), Some(id));
/// println!("task {id}"); // `Display` is the number alone
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// A fresh id. Each thread takes a block of [`ID_BLOCK`] ids from one shared counter and
    /// hands them out in turn, so that a spawn costs a thread-local increment rather than a
    /// locked one on a line every spawning thread shares.
    pub(crate) fn next() -> Id {
        NEXT_IN_BLOCK.with(Id::next_in)
    }

    /// A fresh id from `block`, the rest of a block (the next id and the end), which it
    /// refills from the shared counter when empty: a worker keeps its own block.
    #[inline]
    pub(crate) fn next_in(block: &Cell<(u64, u64)>) -> Id {
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        let (mut next, mut end) = block.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(ID_BLOCK, Relaxed);
            end = next + ID_BLOCK;
        }
        block.set((next + 1, end));
        // At a billion spawns a second, 2^64 ids last 584 years.
        Id(NonZeroU64::new(next).expect("task ids never wrap"))
    }

    /// The id whose [`as_u64`](Self::as_u64) is `id`, if `id` is one.
    pub(crate) fn from_u64(id: u64) -> Option<Id> {
        NonZeroU64::new(id).map(Id)
    }

    /// The id as a number.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// assert!(scheduler.spawn(async {}).id().as_u64() > 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

/// How many ids a thread takes from the shared counter at once.
const ID_BLOCK: u64 = 1024;

#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: Cell<Option<Id>> = const { Cell::new(None) };
    /// The rest of this thread's block of ids: the next one, and the end.
    static NEXT_IN_BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}
#[cfg(loom)]
loom::thread_local! {
    static CURRENT: Cell<Option<Id>> = Cell::new(None);
    static NEXT_IN_BLOCK: Cell<(u64, u64)> = Cell::new((0, 0));
}

/// The id of the task this thread is polling (or running, for a blocking closure), if any.
///
/// ```
/// use spindle_scheduler::{try_current_task_id, Scheduler, ThreadParker};
///
/// assert_eq!(try_current_task_id(), None);
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let inside = scheduler.spawn(async { try_current_task_id() });
/// assert!(futures::executor::block_on(inside).unwrap().is_some());
/// ```
pub fn try_current_task_id() -> Option<Id> {
    CURRENT.with(Cell::get)
}

/// Makes `id` this thread's current task: set by the thread that polls tasks (a worker, a
/// blocking-pool thread) before each poll, and cleared when it stops polling.
#[inline]
pub(crate) fn set_current_task(id: Option<Id>) {
    CURRENT.with(|c| c.set(id));
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_from_many_threads_are_unique() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..3 * ID_BLOCK).map(|_| Id::next()).collect::<Vec<_>>())
            })
            .collect();
        let mut seen = HashSet::new();
        for thread in threads {
            let ids = thread.join().unwrap();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "one thread's ids increase"
            );
            for id in ids {
                assert!(seen.insert(id), "{id:?} handed out twice");
            }
        }
    }
}
