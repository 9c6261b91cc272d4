//! [`ThreadParker`]: an `unpark` that happens before or during a `park` makes it return.
//!
//! A lost wake-up shows as a loom deadlock: the parking thread blocks on the condition
//! variable forever while the main thread waits to join it.

use crate::loom::model;
use crate::loom::sync::atomic::AtomicBool;
use crate::loom::Arc;
use crate::park::{Park, ThreadParker, Unpark};
use loom::thread;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::time::Duration;

/// One `park` against one `unpark` from another thread, in every interleaving: the unpark
/// before the park's fast path, between its `EMPTY -> PARKED` step and its wait, or while it
/// waits.
///
/// Catches: a notification set after the parker's last check but before it blocks (the
/// unparker must take the lock, so its `notify_one` cannot fall between the parker's state
/// change and its wait), a `NOTIFIED` state ignored by the slow path, and a park that returns
/// leaving the state `PARKED` (the next park's `EMPTY -> PARKED` step then hits its
/// `unreachable!`: the model parks once more, with a timeout, to check).
#[test]
fn unpark_is_never_lost() {
    model(|| {
        let mut parker = ThreadParker::new();
        let unparker = parker.unparker();
        let waker = thread::spawn(move || unparker.unpark());
        parker.park();
        waker.join().unwrap();
        parker.park_timeout(Duration::from_millis(1));
    });
}

/// A timed park (which loom models as timing out at once) followed by an untimed park, against
/// two unparks: the first may be consumed by the timed park or not; the second is issued only
/// after the timed park returned, so it must release the untimed one.
///
/// Catches: a timed park that returns while leaving the state `PARKED` (a later unpark then
/// takes the slow path and notifies nobody, so the untimed park deadlocks, or the next park
/// hits `unreachable!`), and an unpark that lands during the timed park's wait and is then
/// neither consumed by it nor left for the next park.
#[test]
fn unpark_after_timed_park_is_not_lost() {
    model(|| {
        let mut parker = ThreadParker::new();
        let unparker = parker.unparker();
        let timed_out = Arc::new(AtomicBool::new(false));
        let waker = {
            let timed_out = timed_out.clone();
            thread::spawn(move || {
                unparker.unpark();
                while !timed_out.load(Acquire) {
                    thread::yield_now();
                }
                unparker.unpark();
            })
        };
        parker.park_timeout(Duration::from_millis(1));
        timed_out.store(true, Release);
        parker.park();
        waker.join().unwrap();
        parker.park_timeout(Duration::from_millis(1));
    });
}

/// Two unparks race: one with nothing to announce (a nudge), one made after publishing a
/// flag. The parker parks until it sees the flag, so the second unpark must either wake it
/// or be read by it: whichever of its reads of the state consumes a notification must read the
/// publishing unpark's write whenever that write came first.
///
/// Catches: the park's `Err(NOTIFIED)` path clearing the state with a store (as it did). The
/// store erases the publishing unpark's notification after the park read only the nudge's;
/// the parker, not yet seeing the flag, parks again and is never woken.
#[test]
fn a_flag_published_before_an_unpark_is_seen_after_a_racing_unpark() {
    model(|| {
        let mut parker = ThreadParker::new();
        let flag = Arc::new(AtomicBool::new(false));
        let nudger = {
            let unparker = parker.unparker();
            thread::spawn(move || unparker.unpark())
        };
        let publisher = {
            let (unparker, flag) = (parker.unparker(), flag.clone());
            thread::spawn(move || {
                flag.store(true, Release);
                unparker.unpark();
            })
        };
        while !flag.load(Acquire) {
            parker.park();
        }
        nudger.join().unwrap();
        publisher.join().unwrap();
    });
}
