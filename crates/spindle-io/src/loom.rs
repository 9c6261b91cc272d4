//! The one switch between std's synchronization primitives and loom's.
//!
//! Every atomic and mutex of the readiness protocol ([`crate::scheduled_io`]) and of the
//! reactor comes from here, so the loom models (`RUSTFLAGS="--cfg loom"`) exercise the real
//! code. parking_lot is invisible to loom; under `cfg(loom)` its place is taken by loom's
//! mutex behind parking_lot's signature. mio cannot run under loom at all: the models drive
//! `ScheduledIo` directly, the way the reactor's turn does.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};

/// parking_lot's mutex: one word, no poisoning.
#[cfg(not(loom))]
pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};

/// loom's mutex behind parking_lot's signature.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock().ok()
    }
}
