//! loom models of the driver's cross-thread protocol, run on the real `Timer` code:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p spindle-timer --release --lib
//! --target-dir target/loom -- loom_tests`.
//!
//! The wheels' locks and the published park deadlines are loom's (`crate::loom`); the clock is
//! real, so a model makes an entry due by sleeping past its deadline before the race starts.

use crate::driver::Timer;
use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::Arc;
use spindle_core::loom::model;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

/// Counts the wakes of the wakers made from it.
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (std::sync::Arc<WakeCount>, Waker) {
    let count = std::sync::Arc::new(WakeCount(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

/// A worker about to park forever while another thread arms a timer in its wheel: either the
/// worker sees the timer (and parks with a timeout), or the arming thread sees the published
/// park deadline and unparks it.
///
/// Catches: a lost wake-up that would leave the timer unfired until some unrelated event
/// (the bug if `before_park` read the wheel before publishing `FOREVER`, or `register` read
/// `parked_until` before inserting).
#[test]
fn a_timer_armed_while_a_worker_parks_is_never_missed() {
    model(|| {
        let unparked = Arc::new(AtomicBool::new(false));
        let flag = unparked.clone();
        let timer = Timer::new(vec![Box::new(move || flag.store(true, SeqCst))]);
        let arming = {
            let timer = timer.clone();
            loom::thread::spawn(move || {
                let (_count, waker) = counting_waker();
                let deadline = Instant::now() + Duration::from_secs(3600);
                timer.register(None, deadline, &waker)
            })
        };
        let mut due = Vec::new();
        let timeout = timer.before_park(0, None, &mut due);
        arming.join().unwrap();
        assert!(
            timeout.is_some() || unparked.load(SeqCst),
            "the worker would park forever with a timer armed and nobody unparking it"
        );
        timer.after_park(0);
    });
}

/// Dropping a sleep (cancel) on one thread while a parking worker fires the same due entry on
/// another: exactly one of them gets the entry: the waker is woken once or the cancel removed
/// it, never both, never neither.
///
/// Catches: an entry both fired and reported cancelled (a `Sleep` dropped after its waker was
/// taken, or a waker woken for a dropped sleep), an entry neither fired nor removed (left in
/// the wheel: `is_empty` fails), and a waker woken twice.
#[test]
fn cancel_and_fire_race_resolves_to_exactly_one() {
    model(|| {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let (count, waker) = counting_waker();
        let registration = timer.register(Some(0), Instant::now(), &waker);
        let cancelling = loom::thread::spawn(move || registration.cancel());
        let mut due = Vec::new();
        // The entry's deadline tick has begun once a millisecond has passed.
        std::thread::sleep(Duration::from_millis(2));
        timer.fire_due(0, &mut due);
        let fired = due.len();
        due.drain(..).for_each(Waker::wake);
        let cancelled = cancelling.join().unwrap();
        assert_eq!(fired + usize::from(cancelled), 1);
        assert_eq!(count.0.load(SeqCst), fired);
        assert!(timer.is_empty());
    });
}

/// A worker fires a busy worker's due timer (take-over) while the owner fires its own wheel:
/// one of them fires it, the other finds it gone (or the wheel locked, and leaves it).
///
/// Catches: an entry fired twice (two threads advancing one wheel), and an entry stranded
/// because the take-over's `try_lock` lost to the owner and the owner then skipped it (the
/// waker is never woken).
#[test]
fn take_over_of_a_busy_wheel_fires_each_entry_once() {
    model(|| {
        let timer = Timer::new(vec![Box::new(|| {}), Box::new(|| {})]);
        let (count, waker) = counting_waker();
        timer.register(Some(1), Instant::now(), &waker);
        std::thread::sleep(Duration::from_millis(2));
        let owner = {
            let timer = timer.clone();
            loom::thread::spawn(move || {
                let mut due = Vec::new();
                timer.fire_due(1, &mut due);
                due.drain(..).for_each(Waker::wake);
            })
        };
        let mut due = Vec::new();
        timer.fire_due(0, &mut due);
        due.drain(..).for_each(Waker::wake);
        owner.join().unwrap();
        assert!(count.0.load(SeqCst) <= 1);
        // Whoever lost a try_lock left it for the owner, which always locks: fired once.
        assert_eq!(count.0.load(SeqCst), 1);
    });
}

/// A thread outside the workers arms an already due timer and then drops it (register, then
/// cancel), while the wheel's owner fires its wheel; the owner fires once more afterwards, as
/// its next park would. Exactly one of them gets the entry: the owner's firing, or the
/// cancel.
///
/// Catches: an entry inserted while the owner advances the wheel and then skipped by every
/// later firing (a registration that lands behind the wheel's time: neither fired nor
/// cancelled), an entry fired and still cancelled, and one fired twice.
#[test]
fn a_timer_registered_while_its_wheel_fires_is_fired_or_cancelled_once() {
    model(|| {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let (count, waker) = counting_waker();
        let deadline = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let outside = {
            let timer = timer.clone();
            loom::thread::spawn(move || timer.register(None, deadline, &waker).cancel())
        };
        let mut due = Vec::new();
        timer.fire_due(0, &mut due);
        let cancelled = outside.join().unwrap();
        timer.fire_due(0, &mut due);
        let fired = due.len();
        due.drain(..).for_each(Waker::wake);
        assert_eq!(fired + usize::from(cancelled), 1);
        assert_eq!(count.0.load(SeqCst), fired);
        assert!(timer.is_empty());
    });
}

/// The owner drops a due timer without locking (its key goes to the deferred cancel slot)
/// while another worker, finding the owner busy, fires the owner's wheel; then the owner locks
/// its wheel, as its next park would. The waker is woken at most once (a fire after the
/// deferral is a spurious wake-up, allowed), and the entry is gone either way.
///
/// Catches: an entry fired twice or left in the wheel because the firing thread emptied the
/// slot while the owner wrote it (the key lost), and a deferred key applied twice.
#[test]
fn a_deferred_cancel_races_a_take_over_and_the_entry_goes_once() {
    model(|| {
        let timer = Timer::new(vec![Box::new(|| {}), Box::new(|| {})]);
        let (count, waker) = counting_waker();
        let registration = timer.register(Some(0), Instant::now(), &waker);
        std::thread::sleep(Duration::from_millis(2));
        let other_worker = {
            let timer = timer.clone();
            loom::thread::spawn(move || {
                let mut due = Vec::new();
                timer.fire_due(1, &mut due);
                due.drain(..).for_each(Waker::wake);
            })
        };
        registration.cancel_as_owner();
        other_worker.join().unwrap();
        assert!(count.0.load(SeqCst) <= 1);
        assert!(
            timer.is_empty(),
            "the deferred entry was neither fired nor removed"
        );
    });
}

/// The owner defers two cancels in a row while another thread cancels a third entry of the
/// same wheel with the lock (which applies whatever deferred cancel it finds). The slot holds
/// one key: the owner's second cancel finds it full, or emptied by the other thread, and never
/// overwrites a key nobody applied.
///
/// Catches: a deferred key overwritten (its entry left in the wheel: `is_empty` fails) and a
/// key applied by two lock holders.
#[test]
fn deferred_cancels_and_a_locked_cancel_remove_every_entry() {
    model(|| {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let far = Instant::now() + Duration::from_secs(3600);
        let register = || timer.register(Some(0), far, Waker::noop());
        let (first, second, elsewhere) = (register(), register(), register());
        let other_thread = loom::thread::spawn(move || elsewhere.cancel());
        first.cancel_as_owner();
        second.cancel_as_owner();
        assert!(other_thread.join().unwrap());
        assert!(timer.is_empty(), "a deferred cancel was lost");
    });
}

/// Queues a stand-in task when woken: a count the idle probe reads.
struct QueuesATask(Arc<AtomicUsize>);

impl Wake for QueuesATask {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Two workers park at once on a paused clock, with a timer due in 1 s in one wheel and one
/// due in 2 s in the other, and an idle probe that says "idle" while no task is queued: the
/// first jump fires the 1 s timer, whose task makes the runtime busy, so no worker may jump on
/// to 2 s. (Nothing runs the queued task in this model, so the 2 s timer must never fire.)
///
/// Catches: a second jump between the first one's probe and the wake of what it fired (the
/// bug without `Timer`'s jump lock, or with the wakes left to the caller after it): timers
/// fired out of deadline order while an earlier one's task had not run.
#[test]
fn two_workers_jumping_a_paused_clock_fire_one_deadline_at_a_time() {
    model(|| {
        let timer = Timer::new(vec![Box::new(|| {}), Box::new(|| {})]);
        timer.pause();
        let queued = Arc::new(AtomicUsize::new(0));
        let probe = queued.clone();
        timer.set_idle_probe(Box::new(move || probe.load(SeqCst) == 0));
        let now = timer.now();
        let early = Waker::from(std::sync::Arc::new(QueuesATask(queued.clone())));
        let (late_count, late) = counting_waker();
        let _early = timer.register(Some(0), now + Duration::from_secs(1), &early);
        let _late = timer.register(Some(1), now + Duration::from_secs(2), &late);
        let other = {
            let timer = timer.clone();
            loom::thread::spawn(move || {
                let mut due = Vec::new();
                timer.before_park(1, None, &mut due);
                timer.after_park(1);
                due.into_iter().for_each(Waker::wake);
            })
        };
        let mut due = Vec::new();
        timer.before_park(0, None, &mut due);
        timer.after_park(0);
        due.into_iter().for_each(Waker::wake);
        other.join().unwrap();
        assert_eq!(
            queued.load(SeqCst),
            1,
            "the first deadline's timer fired once"
        );
        assert_eq!(
            late_count.0.load(SeqCst),
            0,
            "the clock jumped past a task that an earlier jump had woken"
        );
        assert_eq!(timer.now(), now + Duration::from_secs(1));
    });
}
