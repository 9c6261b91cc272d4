//! Task ids, and which task this thread is running.

use super::Header;
use std::cell::Cell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::num::NonZeroU64;
use std::ptr::NonNull;
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

/// [`RUNNING_HERE`]'s bit for "the task woke itself" (a header is aligned to more than 1).
const WOKE_ITSELF: usize = 1;

#[cfg(not(loom))]
std::thread_local! {
    /// The address of the task this thread is running ([`RunningHere`]), with
    /// [`WOKE_ITSELF`] set once it woke itself meanwhile; 0 outside any task.
    static RUNNING_HERE: Cell<usize> = const { Cell::new(0) };
    /// The rest of this thread's block of ids: the next one, and the end.
    static NEXT_IN_BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

#[cfg(loom)]
loom::thread_local! {
    static RUNNING_HERE: Cell<usize> = Cell::new(0);
    static NEXT_IN_BLOCK: Cell<(u64, u64)> = Cell::new((0, 0));
}

/// The id of the task this thread is polling (or running, for a blocking closure, or whose
/// future it is dropping), if any.
///
/// ```
/// use spindle_scheduler::{try_current_task_id, Scheduler, ThreadParker};
///
/// assert_eq!(try_current_task_id(), None);
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let inside = scheduler.spawn(async { try_current_task_id() });
/// assert!(futures::executor::block_on(inside).unwrap().is_some());
/// assert_eq!(try_current_task_id(), None);
/// ```
pub fn try_current_task_id() -> Option<Id> {
    let running = RUNNING_HERE.with(Cell::get) & !WOKE_ITSELF;
    // SAFETY: the address is set only inside a `RunningHere`, which the thread running a task
    // holds while that run's reference keeps the task allocated; a nested run restores the
    // outer one's address, whose run is still on this thread's stack.
    NonNull::new(running as *mut Header).map(|header| unsafe { header.as_ref() }.id)
}

/// This thread runs a task: from before its poll until its future is dropped or the poll is
/// over, and no longer (nothing here may outlive the run's reference to the task). Records
/// the task as this thread's current one, and a wake of it by this thread meanwhile.
pub(crate) struct RunningHere {
    outer: usize,
}

impl RunningHere {
    #[inline]
    pub(crate) fn enter(task: NonNull<Header>) -> RunningHere {
        let outer = RUNNING_HERE.with(|running| running.replace(task.as_ptr() as usize));
        RunningHere { outer }
    }

    /// Ends the run here; true if the task woke itself on this thread meanwhile
    /// ([`note_wake_of_running_task`]).
    #[inline]
    pub(crate) fn leave(self) -> bool {
        let this = ManuallyDrop::new(self);
        RUNNING_HERE.with(|running| running.replace(this.outer)) & WOKE_ITSELF != 0
    }
}

impl Drop for RunningHere {
    fn drop(&mut self) {
        RUNNING_HERE.with(|running| running.set(self.outer));
    }
}

/// A wake of `task` by the thread that is running it (`yield_now`, a spent budget, a channel
/// it sends to itself): recorded here, for the runner to requeue the task when the poll ends,
/// instead of in the task's state word, which saves a read-modify-write per self-wake. True if
/// so; false if this thread is not running `task`.
#[inline]
pub(crate) fn note_wake_of_running_task(task: NonNull<Header>) -> bool {
    let task = task.as_ptr() as usize;
    RUNNING_HERE.with(|running| {
        let here = running.get();
        if here & !WOKE_ITSELF == task {
            running.set(here | WOKE_ITSELF);
            true
        } else {
            false
        }
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_wake_is_noted_only_for_the_task_running_here_and_nested_runs_restore_the_outer() {
        // Never dereferenced: only `try_current_task_id` reads through the address.
        let outer_task = NonNull::<Header>::dangling();
        let inner_task = NonNull::new(outer_task.as_ptr().wrapping_add(1)).unwrap();
        assert!(!note_wake_of_running_task(outer_task), "no task runs here");
        let outer = RunningHere::enter(outer_task);
        let inner = RunningHere::enter(inner_task);
        assert!(
            !note_wake_of_running_task(outer_task),
            "the outer task is not the one running now: its wake goes to its state word"
        );
        assert!(note_wake_of_running_task(inner_task));
        assert!(inner.leave(), "the inner task woke itself");
        assert!(note_wake_of_running_task(outer_task));
        assert!(outer.leave(), "the outer task woke itself");
        assert!(
            !note_wake_of_running_task(outer_task),
            "its run here is over"
        );
        // Unwinding restores too.
        let left = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _running = RunningHere::enter(outer_task);
            panic!("a run that unwinds");
        }));
        assert!(left.is_err());
        assert_eq!(try_current_task_id(), None);
    }

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
