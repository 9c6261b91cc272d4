//! The owned-task registry: every task that has not completed, so shutdown can reach it.
//!
//! Intrusive doubly linked lists (the links live in each task's header), sharded by worker so
//! that spawns on different workers take different locks. The registry holds one reference to
//! each task it lists.
//!
//! # Invariants
//!
//! - A task's links are read and written only under its shard's lock.
//! - A task is listed at most once, from spawn until `remove` (its completion) or `pop`
//!   (shutdown); whoever unlinks it takes over the registry's reference.
//! - Once a shard is closed, `insert` refuses: no task can slip in after the shutdown sweep.

use crate::loom::sync::Mutex;
use crate::task::{Header, OwnedLinks, TaskRef};
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    closed: bool,
}

// SAFETY: the raw pointers are only followed under the shard lock, and tasks are `Send`.
unsafe impl Send for Shard {}

/// Runs `f` on a task's links. Callers hold the task's shard lock.
fn links<R>(task: NonNull<Header>, f: impl FnOnce(&mut OwnedLinks) -> R) -> R {
    // SAFETY: the caller holds a reference to the task (the registry's, or its own), and the
    // shard lock, which is what guards the links (invariant 1).
    unsafe { task.as_ref() }
        .owned
        .with_mut(|l| f(unsafe { &mut *l }))
}

impl OwnedTasks {
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        OwnedTasks {
            shards: (0..shards.max(1))
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        head: None,
                        closed: false,
                    }))
                })
                .collect(),
        }
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Lists a new task. Returns false, listing nothing, once the registry is closed.
    pub(crate) fn insert(&self, task: TaskRef) -> bool {
        let ptr = task.header();
        let mut shard = self.shard_of(ptr).lock();
        if shard.closed {
            return false;
        }
        let old_head = shard.head;
        links(ptr, |l| {
            l.prev = None;
            l.next = old_head;
            l.linked = true;
        });
        if let Some(old) = old_head {
            links(old, |l| l.prev = Some(ptr));
        }
        shard.head = Some(ptr);
        true
    }

    /// Unlinks a completed task. True if it was still listed: the caller now holds the
    /// registry's reference.
    pub(crate) fn remove(&self, task: TaskRef) -> bool {
        let ptr = task.header();
        let mut shard = self.shard_of(ptr).lock();
        let (prev, next, linked) = links(ptr, |l| (l.prev, l.next, l.linked));
        if !linked {
            return false;
        }
        match prev {
            Some(prev) => links(prev, |l| l.next = next),
            None => shard.head = next,
        }
        if let Some(next) = next {
            links(next, |l| l.prev = prev);
        }
        links(ptr, |l| l.linked = false);
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
                let next = links(ptr, |l| {
                    l.linked = false;
                    l.next
                });
                if let Some(next) = next {
                    links(next, |l| l.prev = None);
                }
                shard.head = next;
                // SAFETY: the task was listed, so the registry's reference passes to the caller.
                return Some(unsafe { TaskRef::from_header(ptr) });
            }
        }
        None
    }

    /// Only the loom models check that the registry ends empty.
    #[cfg(all(test, loom))]
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| shard.lock().head.is_none())
    }

    fn shard_of(&self, task: NonNull<Header>) -> &Mutex<Shard> {
        // SAFETY: the caller holds a reference; `shard` is immutable after spawn.
        let index = unsafe { task.as_ref() }.shard as usize;
        &self.shards[index % self.shards.len()]
    }
}
