//! The parking seam: how a worker with nothing to run blocks, and how it is woken.
//!
//! Each worker owns one [`Park`]. The scheduler calls [`Park::park`] when the worker has found
//! no task anywhere, [`Park::park_timeout`] with a zero timeout at its maintenance interval
//! (so a driver stacked underneath can process events without blocking), and keeps the
//! [`Unpark`] handle to wake it. A timer or an I/O reactor stacks underneath by implementing
//! `Park` around an inner `Park`: it blocks in its own way (`epoll_wait` until the next
//! deadline, say) and turns its events into task wake-ups before returning. The scheduler
//! depends on neither; with no driver, [`ThreadParker`] blocks on a condition variable.
//!
//! # Contract
//!
//! - A call to `unpark` that happens before or during `park` makes that `park` return: a
//!   wake-up is never lost. One `unpark` releases at most one `park`.
//! - `park` and `park_timeout` may return spuriously; the scheduler re-checks its queues.

use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::{Condvar, Mutex};
use crate::loom::Arc;
use std::fmt;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// Blocks the current worker thread until it is unparked (or a driver's event arrives).
///
/// # Examples
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
/// use std::time::Duration;
///
/// let mut parker = ThreadParker::new();
/// let unparker = parker.unparker();
/// std::thread::spawn(move || unparker.unpark());
/// parker.park(); // returns once the other thread has called unpark
/// parker.park_timeout(Duration::from_millis(1)); // returns after at most about 1 ms
/// ```
pub trait Park: Send + 'static {
    /// The handle that wakes this parker from any thread.
    type Unparker: Unpark;

    /// A handle that wakes this parker.
    fn unparker(&self) -> Self::Unparker;

    /// Blocks until unparked, or until the driver underneath has work.
    fn park(&mut self);

    /// Like [`park`](Park::park), but returns after `timeout` at the latest. A zero timeout
    /// processes pending driver events without blocking.
    fn park_timeout(&mut self, timeout: Duration);

    /// Delivers the driver's ready events without blocking, as `park_timeout(Duration::ZERO)`
    /// does, and says whether every ready event is now delivered: false if another thread
    /// holds the driver (which is then woken, to deliver them itself). A paused clock jumps
    /// ahead only after `true`: an event still undelivered is work the runtime has. The
    /// default, for a parker without a driver, delivers and says true.
    ///
    /// ```
    /// use spindle_core::{Park, ThreadParker};
    /// assert!(ThreadParker::new().deliver_events());
    /// ```
    fn deliver_events(&mut self) -> bool {
        self.park_timeout(Duration::ZERO);
        true
    }
}

/// Wakes a [`Park`] from any thread.
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
///
/// let mut parker = ThreadParker::new();
/// parker.unparker().unpark(); // an unpark before the park is not lost
/// parker.park();
/// ```
pub trait Unpark: Send + Sync + 'static {
    /// Makes the parker's current or next `park` return.
    fn unpark(&self);
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// The default [`Park`]: a condition variable, with an atomic fast path so that an `unpark`
/// of a thread that is not parked takes no lock.
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
///
/// let mut parker = ThreadParker::new();
/// let unparker = parker.unparker();
/// let waker = std::thread::spawn(move || unparker.unpark());
/// parker.park();
/// waker.join().unwrap();
/// ```
pub struct ThreadParker {
    inner: Arc<ParkState>,
}

/// Wakes a [`ThreadParker`].
///
/// ```
/// use spindle_core::{Park, ThreadParker, Unpark};
/// let parker = ThreadParker::new();
/// let unparker = parker.unparker();
/// unparker.unpark();
/// ```
#[derive(Clone)]
pub struct ThreadUnparker {
    inner: Arc<ParkState>,
}

struct ParkState {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl ThreadParker {
    /// A parker with no pending wake-up.
    ///
    /// ```
    /// let parker = spindle_core::ThreadParker::new();
    /// # drop(parker);
    /// ```
    pub fn new() -> ThreadParker {
        ThreadParker {
            inner: Arc::new(ParkState {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                condvar: Condvar::new(),
            }),
        }
    }
}

impl Default for ThreadParker {
    fn default() -> Self {
        ThreadParker::new()
    }
}

impl ParkState {
    /// Consumes a pending notification without blocking.
    fn take_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    fn park(&self, timeout: Option<Duration>) {
        if self.take_notification() {
            return;
        }
        if timeout == Some(Duration::ZERO) {
            return;
        }
        let mut guard = self.lock.lock();
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // A swap, not a store: another unpark may have come since the failed exchange
                // read `NOTIFIED`, and its writes (the work it announces) are seen here only
                // by reading its write to the state. A store would erase that notification
                // unread, and the caller, not seeing the work, would park again for good (loom
                // model `a_flag_published_before_an_unpark_is_seen_after_a_racing_unpark`).
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(actual) => unreachable!("parker state {actual} while parking"),
        }
        match timeout {
            None => loop {
                guard = self.condvar.wait(guard);
                if self.take_notification() {
                    return;
                }
            },
            Some(timeout) => {
                guard = self.condvar.wait_for(guard, timeout);
                drop(guard);
                // Timed out or notified: either way leave the PARKED state, consuming a
                // notification if one arrived.
                self.state.swap(EMPTY, SeqCst);
            }
        }
    }

    #[inline]
    fn unpark(&self) {
        if self.state.swap(NOTIFIED, SeqCst) == PARKED {
            // Taking the lock orders this notify after the parker's wait began.
            drop(self.lock.lock());
            self.condvar.notify_one();
        }
    }
}

impl Park for ThreadParker {
    type Unparker = ThreadUnparker;

    #[inline]
    fn unparker(&self) -> ThreadUnparker {
        ThreadUnparker {
            inner: self.inner.clone(),
        }
    }

    fn park(&mut self) {
        self.inner.park(None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.inner.park(Some(timeout));
    }
}

impl Unpark for ThreadUnparker {
    #[inline]
    fn unpark(&self) {
        self.inner.unpark();
    }
}

impl fmt::Debug for ThreadParker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadParker").finish_non_exhaustive()
    }
}

impl fmt::Debug for ThreadUnparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadUnparker").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Far longer than any of these parks takes, even on a loaded machine or under Miri.
    const LIMIT: Duration = Duration::from_secs(10);

    /// Runs `park` on a thread of its own and returns the parker once it has returned. Fails
    /// the test, instead of hanging it, if `park` has not returned within [`LIMIT`].
    fn park_within_limit(
        mut parker: ThreadParker,
        park: impl FnOnce(&mut ThreadParker) + Send + 'static,
    ) -> ThreadParker {
        let unparker = parker.unparker();
        let (returned_tx, returned_rx) = mpsc::channel();
        let parking = std::thread::spawn(move || {
            park(&mut parker);
            let _ = returned_tx.send(());
            parker
        });
        match returned_rx.recv_timeout(LIMIT) {
            Ok(()) => parking.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => match parking.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(_) => unreachable!("the parking thread returned without saying so"),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Release the parked thread if unpark works at all, then fail.
                unparker.unpark();
                panic!(
                    "park did not return within {LIMIT:?}: a lost wake-up or an ignored timeout"
                );
            }
        }
    }

    fn state(parker: &ThreadParker) -> usize {
        parker.inner.state.load(SeqCst)
    }

    #[test]
    fn unpark_before_park_is_not_lost() {
        let parker = ThreadParker::new();
        parker.unparker().unpark();
        assert_eq!(state(&parker), NOTIFIED);
        let parker = park_within_limit(parker, |parker| parker.park());
        assert_eq!(
            state(&parker),
            EMPTY,
            "the park did not consume the notification"
        );
    }

    #[test]
    fn unpark_during_park_releases_it() {
        let parker = ThreadParker::new();
        let unparker = parker.unparker();
        let unparking = std::thread::spawn(move || {
            while unparker.inner.state.load(SeqCst) != PARKED {
                std::thread::yield_now();
            }
            unparker.unpark();
        });
        let parker = park_within_limit(parker, |parker| parker.park());
        unparking.join().unwrap();
        assert_eq!(
            state(&parker),
            EMPTY,
            "the park did not consume the notification"
        );
    }

    #[test]
    fn park_timeout_returns_without_unpark() {
        let parker = park_within_limit(ThreadParker::new(), |parker| {
            parker.park_timeout(Duration::from_millis(1))
        });
        assert_eq!(state(&parker), EMPTY, "a timed-out park stayed PARKED");
        let parker = park_within_limit(parker, |parker| parker.park_timeout(Duration::ZERO));
        assert_eq!(state(&parker), EMPTY);
        // The timed-out parks leave the parker as new: an unpark is stored for the next park.
        parker.unparker().unpark();
        assert_eq!(state(&parker), NOTIFIED);
        let parker = park_within_limit(parker, |parker| parker.park());
        assert_eq!(state(&parker), EMPTY);
    }

    #[test]
    fn one_unpark_releases_one_park() {
        let parker = ThreadParker::new();
        let unparker = parker.unparker();
        unparker.unpark();
        unparker.unpark();
        let mut parker = park_within_limit(parker, |parker| parker.park());
        assert_eq!(
            state(&parker),
            EMPTY,
            "the second unpark left a second notification"
        );
        parker.park_timeout(Duration::from_millis(1));
        assert_eq!(state(&parker), EMPTY);
    }
}
