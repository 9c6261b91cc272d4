//! A spin lock for critical sections of a few instructions: the task registry's shards.
//!
//! Locking is one atomic swap and unlocking one release store, where a general mutex pays a
//! second atomic to unlock (to learn whether a sleeper must be woken). A waiter spins with
//! exponential backoff and then yields its thread (`crossbeam_utils::Backoff::snooze`), so a
//! holder that was preempted (more workers than cores) gets the core back. It never sleeps:
//! use it only where the lock is held for a handful of pointer writes, as the registry does.
//!
//! # Invariants
//!
//! `locked` is true exactly while a [`SpinLockGuard`] exists; the guard is the only way to the
//! value. The swap that takes the lock acquires what the store that released it published.

use crossbeam_utils::Backoff;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out one guard at a time (see the invariants), so sharing the lock
// shares `T` only by moving exclusive access between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for SpinLock<T> {}

pub(crate) struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    pub(crate) fn lock(&self) -> SpinLockGuard<'_, T> {
        if self.locked.swap(true, Acquire) {
            let backoff = Backoff::new();
            loop {
                while self.locked.load(Relaxed) {
                    backoff.snooze();
                }
                if !self.locked.swap(true, Acquire) {
                    break;
                }
            }
        }
        SpinLockGuard { lock: self }
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the guard's only borrow.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn increments_under_contention_are_not_lost() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*lock.lock(), 40_000);
    }
}
