//! The one switch between std's synchronization primitives and loom's.
//!
//! Every atomic, mutex, condition variable, `UnsafeCell` and thread function the engine crates
//! share comes from here (each crate re-exports it as its own `crate::loom`), so the loom
//! models (`RUSTFLAGS="--cfg loom"`) exercise the real code. Without `cfg(loom)` every name is
//! std's, or a thin wrapper with loom's shape: [`sync::Mutex`] never poisons (a panic while
//! holding one of spindle's locks leaves data that is still consistent, since no lock is held
//! across user code), [`sync::Condvar`]'s waits take and return the guard, and
//! [`cell::UnsafeCell`] has loom's closure-based access.
//!
//! ```
//! use spindle_core::loom::sync::{atomic::AtomicUsize, Mutex};
//! use std::sync::atomic::Ordering::SeqCst;
//!
//! let count = AtomicUsize::new(0);
//! let list = Mutex::new(Vec::new());
//! list.lock().push(count.fetch_add(1, SeqCst));
//! assert_eq!(*list.lock(), [0]);
//! ```

#[cfg(loom)]
pub use loom::sync::Arc;
/// `Arc`: std's, or loom's (which checks that every `Arc` of a model is dropped).
#[cfg(not(loom))]
pub use std::sync::Arc;

/// Atomics, locks and condition variables.
pub mod sync {
    /// Atomics: std's, or loom's.
    pub mod atomic {
        #[cfg(loom)]
        pub use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
        };
        #[cfg(not(loom))]
        pub use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
        };
    }

    #[cfg(loom)]
    use loom::sync as imp;
    #[cfg(not(loom))]
    use std::sync as imp;

    use std::fmt;
    use std::time::Duration;

    /// A mutual-exclusion lock that does not poison.
    ///
    /// ```
    /// let lock = spindle_core::loom::sync::Mutex::new(1);
    /// *lock.lock() += 1;
    /// assert_eq!(lock.try_lock().map(|n| *n), Some(2));
    /// ```
    pub struct Mutex<T>(imp::Mutex<T>);

    /// The guard of a [`Mutex`].
    pub type MutexGuard<'a, T> = imp::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// A lock holding `value`.
        #[inline]
        pub fn new(value: T) -> Mutex<T> {
            Mutex(imp::Mutex::new(value))
        }

        /// Blocks until the lock is held.
        #[inline]
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// The lock if it is free now, `None` if another thread holds it.
        #[inline]
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    impl<T> fmt::Debug for Mutex<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Mutex").finish_non_exhaustive()
        }
    }

    /// A condition variable for [`Mutex`]. Waits may return spuriously.
    ///
    /// ```
    /// use spindle_core::loom::sync::{Condvar, Mutex};
    ///
    /// let (lock, condvar) = (Mutex::new(()), Condvar::new());
    /// let guard = lock.lock();
    /// let _guard = condvar.wait_for(guard, std::time::Duration::from_millis(1));
    /// condvar.notify_one();
    /// ```
    #[derive(Default)]
    pub struct Condvar(imp::Condvar);

    impl Condvar {
        /// A condition variable nobody waits on.
        pub fn new() -> Condvar {
            Condvar(imp::Condvar::new())
        }

        /// Releases `guard` and blocks until notified, then takes the lock again.
        pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// Like [`wait`](Condvar::wait), but for at most `timeout`. loom has no time: there a
        /// timed wait is one whose timeout has already elapsed, and returns at once.
        pub fn wait_for<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> MutexGuard<'a, T> {
            #[cfg(loom)]
            {
                let _ = timeout;
                guard
            }
            #[cfg(not(loom))]
            {
                self.0
                    .wait_timeout(guard, timeout)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner().0)
            }
        }

        /// Wakes one waiter.
        #[inline]
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        #[inline]
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    impl fmt::Debug for Condvar {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Condvar").finish_non_exhaustive()
        }
    }
}

/// `UnsafeCell` with loom's closure-based access, so loom can check every access.
pub mod cell {
    #[cfg(loom)]
    pub use loom::cell::UnsafeCell;

    /// std's `UnsafeCell` behind loom's API.
    ///
    /// ```
    /// let cell = spindle_core::loom::cell::UnsafeCell::new(1);
    /// // SAFETY: no other reference to the cell's value exists.
    /// cell.with_mut(|value| unsafe { *value += 1 });
    /// // SAFETY: as above.
    /// assert_eq!(cell.with(|value| unsafe { *value }), 2);
    /// ```
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        /// A cell holding `value`.
        #[inline]
        pub const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a pointer for reading the value.
        #[inline]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a pointer for writing the value.
        #[inline]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Thread functions: std's, or loom's.
pub mod thread {
    #[cfg(loom)]
    pub use loom::thread::yield_now;
    #[cfg(not(loom))]
    pub use std::thread::yield_now;
}

/// Runs `f` under loom, every interleaving within the preemption bound: `LOOM_MAX_PREEMPTIONS`,
/// or 2 when that is unset, so that a bare `cargo test` stays fast. Prints how many executions
/// were explored (shown with `--nocapture`). For the engine crates' loom models.
#[cfg(loom)]
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    builder.check(move || {
        counter.fetch_add(1, Relaxed);
        f();
    });
    eprintln!(
        "{}: {} executions",
        std::thread::current().name().unwrap_or("model"),
        executions.load(Relaxed)
    );
}
