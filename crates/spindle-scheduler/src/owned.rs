//! The owned-task registry: every task that has not completed, so shutdown can reach it.
//!
//! Intrusive doubly linked lists (the links live in each task's header), sharded by a hash of
//! the task's address so that spawns and completions on different workers rarely take the same
//! lock. The header keeps no shard index and no "listed" flag: a task is listed exactly when it
//! has a predecessor or is its shard's head. The registry holds one reference to
//! each task it lists.
//!
//! # Invariants
//!
//! - A task's links are read and written only under its shard's lock.
//! - A task is listed at most once, from spawn until `remove` (its completion) or `pop`
//!   (shutdown); whoever unlinks it takes over the registry's reference.
//! - Once a shard is closed, `insert` refuses: no task can slip in after the shutdown sweep.

use crate::loom::HotMutex as Mutex;
use crate::task::{Header, OwnedLinks, TaskRef};
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;

pub(crate) struct OwnedTasks {
    /// A power of two of them, so that a task's shard is its hash masked, not divided: a
    /// division is some tens of cycles, twice per task (insert and remove).
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    closed: bool,
    /// Tasks listed now, and ever, here: the metrics' alive and spawned counts, kept under a
    /// lock that spawning and completing take anyway.
    len: usize,
    inserted: u64,
}

// SAFETY: the raw pointers are only followed under the shard lock, and tasks are `Send`.
unsafe impl Send for Shard {}

impl Shard {
    /// Runs `f` on `task`'s links. Borrowing the shard (so holding its lock) for the call keeps
    /// `f` from reaching any links itself, so the `&mut` it gets is the only one.
    ///
    /// # Safety
    /// `task` is a live task, kept allocated by the registry's reference (it is listed here) or
    /// by the caller's, and it hashes to this shard ([`OwnedTasks::shard_of`]), whose lock is
    /// the one guarding its links (invariant 1).
    unsafe fn links<R>(
        &mut self,
        task: NonNull<Header>,
        f: impl FnOnce(&mut OwnedLinks) -> R,
    ) -> R {
        // SAFETY: the task is allocated (the caller's promise), and its header is only ever
        // shared.
        let header = unsafe { task.as_ref() };
        header.owned.with_mut(|links| {
            // SAFETY: this shard's lock guards the links (the caller's promise) and is held for
            // the call, and `f` cannot reach links while the shard is borrowed.
            f(unsafe { &mut *links })
        })
    }
}

impl OwnedTasks {
    /// A registry of at least `shards` shards (the next power of two).
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        OwnedTasks {
            shards: (0..shards.max(1).next_power_of_two())
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        head: None,
                        closed: false,
                        len: 0,
                        inserted: 0,
                    }))
                })
                .collect(),
        }
    }

    /// Lists a new task. Returns false, listing nothing, once the registry is closed.
    #[inline]
    pub(crate) fn insert(&self, task: TaskRef) -> bool {
        let ptr = task.header();
        let mut shard = self.shard_of(ptr).lock();
        if shard.closed {
            return false;
        }
        let old_head = shard.head;
        // SAFETY: the caller's `TaskRef` keeps the new task allocated, and it hashes here.
        unsafe {
            shard.links(ptr, |l| {
                l.prev = None;
                l.next = old_head;
            })
        };
        if let Some(old) = old_head {
            // SAFETY: the old head is listed here, so the registry's reference keeps it.
            unsafe { shard.links(old, |l| l.prev = Some(ptr)) };
        }
        shard.head = Some(ptr);
        shard.len += 1;
        shard.inserted += 1;
        true
    }

    /// Unlinks a completed task. True if it was still listed: the caller now holds the
    /// registry's reference.
    #[inline]
    pub(crate) fn remove(&self, task: TaskRef) -> bool {
        let ptr = task.header();
        let mut shard = self.shard_of(ptr).lock();
        // SAFETY: a `TaskRef` names a live task (here the completing thread holds a reference
        // of its own), and it hashes here.
        let (prev, next) = unsafe { shard.links(ptr, |l| (l.prev, l.next)) };
        if prev.is_none() && shard.head != Some(ptr) {
            return false;
        }
        match prev {
            // SAFETY: a neighbour of a listed task is listed here too.
            Some(prev) => unsafe { shard.links(prev, |l| l.next = next) },
            None => shard.head = next,
        }
        if let Some(next) = next {
            // SAFETY: as for `prev`.
            unsafe { shard.links(next, |l| l.prev = prev) };
        }
        // SAFETY: as for the first call.
        unsafe {
            shard.links(ptr, |l| {
                l.next = None;
                l.prev = None;
            })
        };
        shard.len -= 1;
        true
    }

    /// Closes every shard: later inserts are refused.
    pub(crate) fn close(&self) {
        for shard in self.shards.iter() {
            shard.lock().closed = true;
        }
    }

    /// Unlinks some listed task, handing its registry reference to the caller.
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            if let Some(ptr) = shard.head {
                // SAFETY: the head is listed here, so the registry's reference keeps it.
                let next = unsafe { shard.links(ptr, |l| l.next.take()) };
                if let Some(next) = next {
                    // SAFETY: as for the head: listed here.
                    unsafe { shard.links(next, |l| l.prev = None) };
                }
                shard.head = next;
                shard.len -= 1;
                // SAFETY: the task was listed, so the registry's reference passes to the caller.
                return Some(unsafe { TaskRef::from_header(ptr) });
            }
        }
        None
    }

    /// Calls `f` on every listed task, one shard at a time, each under its shard's lock.
    pub(crate) fn for_each(&self, f: &mut dyn FnMut(&Header)) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let mut next = shard.head;
            while let Some(ptr) = next {
                // SAFETY: `ptr` is listed here, so the registry's reference keeps it allocated
                // while the lock is held; its header is only ever shared.
                f(unsafe { ptr.as_ref() });
                // SAFETY: as above; the lock guards the links.
                next = unsafe { shard.links(ptr, |l| l.next) };
            }
        }
    }

    /// Tasks listed now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().len).sum()
    }

    /// Tasks ever listed.
    pub(crate) fn inserted(&self) -> u64 {
        self.shards.iter().map(|shard| shard.lock().inserted).sum()
    }

    /// Only the loom models check that the registry ends empty.
    #[cfg(all(test, loom))]
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| shard.lock().head.is_none())
    }

    fn shard_of(&self, task: NonNull<Header>) -> &Mutex<Shard> {
        // Fibonacci hashing of the address: neighbouring allocations land in different shards.
        let hash = (task.as_ptr() as usize as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        &self.shards[hash as usize & (self.shards.len() - 1)]
    }
}
