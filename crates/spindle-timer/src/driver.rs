//! A runtime's timers: one wheel per worker, the clock origin, and the timer's part of parking.
//!
//! # Design
//!
//! Each worker owns a [`TimerWheel`] of wakers, behind its own mutex. A `Sleep` first polled on
//! worker `i` registers in wheel `i`, so sleeps armed on different workers never share a lock;
//! the owner takes its own lock uncontended. A `Sleep` polled first outside the workers (under
//! `block_on`, or on a foreign executor) registers in a wheel chosen round-robin. Cancelling
//! (dropping a `Sleep`) off the owner's thread locks the wheel the entry lives in and removes
//! the entry in O(1): its memory returns at once.
//!
//! Firing is done by whoever parks: before a worker parks it fires the due entries of its own
//! wheel, and of every wheel whose owner is busy (not parked), then parks until the earliest
//! deadline among them. So a worker stuck in a long poll does not strand its timers: an idle
//! worker fires them (the scheduler parks idle workers with a short timeout while another
//! worker is busy). A worker that never runs dry fires its wheel at its maintenance interval.
//!
//! # Cancelling on the owner's thread
//!
//! Most timers are timeouts that a task arms and drops on the same worker, one after another.
//! The wheel's owner (the thread that [`enter`]ed the timer with the wheel's index first; it
//! claims the wheel until its guard drops) does not lock its wheel to cancel: it leaves the
//! entry's key in the wheel's *deferred cancel* slot, together with the registration's
//! reference to the wheel, and whoever locks the wheel next (the owner arming its next timer,
//! or any thread firing the wheel) removes that entry first, under the lock it already holds.
//! The owner arming its next timer also takes over the slot's reference to the wheel, and the
//! removed entry's waker if it wakes the same task, instead of counting new ones. So a task's
//! arm followed by a cancel costs one lock and no reference count. The slot holds one key; if
//! it is full, the owner locks and cancels as any other thread does (applying the deferred
//! cancel too).
//!
//! The slot is written by the owner only when it reads it empty, and emptied only by a lock
//! holder after reading a key, so neither needs a read-modify-write: the owner is the slot's
//! one producer and the lock serializes its consumers. A deferred entry lingers until the next
//! lock of its wheel, which the owner takes at least at its next park or maintenance tick, and
//! `Timer`'s drop takes for each wheel; if the entry falls due before then, a thread firing
//! the wheel between the owner's store and that lock may fire it, and the dropped sleep's task
//! gets a spurious wake-up.
//!
//! [`enter`]: crate::enter
//!
//! # Waking a parked worker for an earlier timer
//!
//! Each wheel publishes its owner's park deadline (`parked_until`: `RUNNING`, a tick, or
//! `FOREVER`). An insert from a thread other than the owner reads it after inserting; if the new
//! deadline is earlier, it unparks the owner. The owner publishes `FOREVER` *before* reading its
//! wheel's next deadline, then the real deadline: with both sides SeqCst, either the inserter
//! sees the published deadline (and unparks), or the owner sees the new entry.

use crate::clock::Clock;
use crate::context;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::wheel::{TimerKey, TimerWheel};
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

/// `parked_until` while the owner is running.
const RUNNING: u64 = 0;
/// `parked_until` while the owner is parked with no deadline.
const FOREVER: u64 = u64::MAX;

/// The deferred cancel slot while it holds no key (no live key packs to it: a slab index is
/// never `u32::MAX`).
const NO_DEFERRED_CANCEL: u64 = u64::MAX;

/// How long a worker parks at most while the clock is paused and the runtime busy, before it
/// asks the idle probe again: a paused runtime never stalls for a wake-up nobody sent, and a
/// task left runnable by the park's I/O turn waits at most this long.
const PAUSED_RECHECK: Duration = Duration::from_millis(1);

/// How far ahead "never" is: deadlines that overflow `Instant` are clamped to now + 30 years.
const FAR_FUTURE: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);

/// A runtime's timer state. Shared (in an `Arc`) by the runtime handle, every armed
/// [`Sleep`](crate::Sleep), and the workers' parkers.
///
/// ```
/// use spindle_timer::Timer;
///
/// let timer = Timer::new(vec![Box::new(|| {})]);
/// assert_eq!(timer.workers(), 1);
/// ```
pub struct Timer {
    origin: Instant,
    wheels: Box<[Arc<WorkerWheel>]>,
    next_outside: AtomicUsize,
    clock: Clock,
    /// Says whether the runtime is idle (every worker parked, nothing queued), for a paused
    /// clock's jump to the next deadline ("Paused time").
    idle_probe: OnceLock<IdleProbe>,
    /// Held by the worker making a paused clock jump, from its look at the probe until the
    /// tasks it fires are queued: another worker finding it held is not idle, so no second
    /// jump passes tasks the first one woke.
    jump: Mutex<()>,
}

/// What [`Timer::set_idle_probe`] installs.
type IdleProbe = Box<dyn Fn() -> bool + Send + Sync>;

/// One worker's wheel. Each is its own `Arc`, so a `Sleep` keeps alive (and counts a
/// reference on) only the wheel it is registered in: a worker arming and dropping sleeps
/// touches no cache line shared with the other workers.
struct WorkerWheel {
    origin: Instant,
    wheel: Mutex<TimerWheel<Waker>>,
    /// The key (packed) of an entry the owner dropped without locking, or
    /// `NO_DEFERRED_CANCEL` (module docs, "Cancelling on the owner's thread").
    deferred_cancel: AtomicU64,
    /// A thread has entered the timer as this wheel's owner (`Timer::claim_wheel`).
    claimed: AtomicBool,
    parked_until: AtomicU64,
    unpark: Box<dyn Fn() + Send + Sync>,
}

/// A locked wheel whose deferred cancel has been applied. Fields drop in order: the lock is
/// released before the cancelled entry's waker drops (so no waker code runs under it) and
/// before the slot's reference to the wheel does.
struct LockedWheel<'a> {
    wheel: MutexGuard<'a, TimerWheel<Waker>>,
    /// The deferred cancel's waker, unless taken for a new registration.
    cancelled: Option<Waker>,
    /// The deferred cancel's reference to the wheel, unless taken for a new registration.
    slot_reference: Option<Arc<WorkerWheel>>,
}

/// A registered timer entry: its wheel and its key there.
pub(crate) struct Registration {
    wheel: Arc<WorkerWheel>,
    key: TimerKey,
}

impl Timer {
    /// A timer with one wheel per worker. `unpark[i]` wakes worker `i` when a timer earlier
    /// than its park deadline is registered from another thread.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {}), Box::new(|| {})]);
    /// assert_eq!(timer.workers(), 2);
    /// ```
    pub fn new(unpark: Vec<Box<dyn Fn() + Send + Sync>>) -> Arc<Timer> {
        let origin = Instant::now();
        Arc::new(Timer {
            origin,
            wheels: unpark
                .into_iter()
                .map(|unpark| {
                    Arc::new(WorkerWheel {
                        origin,
                        wheel: Mutex::new(TimerWheel::new(0)),
                        deferred_cancel: AtomicU64::new(NO_DEFERRED_CANCEL),
                        claimed: AtomicBool::new(false),
                        parked_until: AtomicU64::new(RUNNING),
                        unpark,
                    })
                })
                .collect(),
            next_outside: AtomicUsize::new(0),
            clock: Clock::new(false),
            idle_probe: OnceLock::new(),
            jump: Mutex::new(()),
        })
    }

    /// The timer's time: the system clock, unless [paused](Self::pause).
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// let before = std::time::Instant::now();
    /// assert!(timer.now() >= before);
    /// ```
    pub fn now(&self) -> std::time::Instant {
        self.clock.now()
    }

    /// Stops the timer's clock: [`now`](Self::now) stands still, and deadlines come only by
    /// [`advance`](Self::advance), or, once an [idle probe](Self::set_idle_probe) says the
    /// runtime is idle, by the clock jumping to the earliest deadline (checked by each worker
    /// as it parks).
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.pause();
    /// let stopped = timer.now();
    /// std::thread::sleep(Duration::from_millis(2));
    /// assert_eq!(timer.now(), stopped);
    /// ```
    pub fn pause(&self) {
        if !self.clock.pause() {
            return;
        }
        // Onto a tick boundary (forward, by less than a tick): a sleep of a whole number of
        // ticks then falls due exactly when the clock has moved by its length.
        let now = self.clock.now();
        self.clock
            .advance_to(instant_of(self.origin, tick_at_or_after(self.origin, now)));
        // A worker parked until a deadline of the running clock would wait for it in real
        // time: let each look again, now that deadlines come by jumps.
        self.unpark_idle_workers();
    }

    /// Lets a paused clock run again, from the time it stands at.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.pause();
    /// timer.resume();
    /// assert!(!timer.is_paused());
    /// ```
    pub fn resume(&self) {
        self.clock.resume();
        // Parked workers computed no deadline while paused: let them compute one again.
        for wheel in self.wheels.iter() {
            wheel.wake_owner_if_later(0);
        }
    }

    /// True while the clock is paused.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// assert!(!timer.is_paused());
    /// ```
    pub fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    /// Moves a paused clock forward by `duration` and wakes every timer that falls due (in
    /// any wheel). False, and nothing moves, if the clock is not paused.
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// assert!(!timer.advance(Duration::from_secs(1)));
    /// timer.pause();
    /// let stopped = timer.now();
    /// assert!(timer.advance(Duration::from_secs(1)));
    /// assert_eq!(timer.now(), stopped + Duration::from_secs(1));
    /// ```
    pub fn advance(&self, duration: Duration) -> bool {
        let _jumping = self.jump.lock();
        if self.clock.advance(duration).is_none() {
            return false;
        }
        let mut due = Vec::new();
        self.fire_all_due(&mut due);
        wake_all(&mut due);
        true
    }

    /// Installs the runtime's idle probe: true when no task can run (every worker parked,
    /// nothing queued anywhere). With the clock paused, a worker about to park asks it, and
    /// if the runtime is idle moves the clock to the earliest deadline and fires what falls
    /// due, instead of waiting for time that does not pass. Set once; later calls are
    /// ignored.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.set_idle_probe(Box::new(|| true));
    /// ```
    pub fn set_idle_probe(&self, probe: Box<dyn Fn() -> bool + Send + Sync>) {
        let _ = self.idle_probe.set(probe);
    }

    /// With the clock paused, unparks every parked worker, so that each asks the idle probe
    /// again: something the probe counts as busy (a blocking closure, say) has just finished,
    /// and with no task woken by it nothing else would make a worker look.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.pause();
    /// timer.unpark_idle_workers();
    /// ```
    pub fn unpark_idle_workers(&self) {
        if self.clock.is_paused() {
            for wheel in self.wheels.iter() {
                wheel.wake_owner_if_later(0);
            }
        }
    }

    /// Fires the due entries of every wheel, busy or parked, into `due`.
    fn fire_all_due(&self, due: &mut Vec<Waker>) {
        let now = tick_before(self.origin, self.clock.now());
        for wheel in self.wheels.iter() {
            let mut guard = wheel.lock();
            if guard.next_deadline().is_some_and(|next| next <= now) {
                guard.advance(now, |waker| due.push(waker));
            }
        }
    }

    /// The earliest deadline in any wheel.
    fn next_deadline_of_all(&self) -> Option<u64> {
        self.wheels
            .iter()
            .filter_map(|wheel| wheel.lock().next_deadline())
            .min()
    }

    /// [`before_park`](Self::before_park) with the clock paused: no deadline comes while
    /// parked, so the park is bounded by `limit` alone, unless the runtime is idle, in which
    /// case the clock jumps to the earliest deadline and its timers fire now. The published
    /// park deadline stays `FOREVER`, so a timer armed from another thread unparks this worker,
    /// which then looks again.
    fn before_park_paused(
        &self,
        worker: usize,
        limit: Option<Duration>,
        may_jump: bool,
        due: &mut Vec<Waker>,
    ) -> Option<Duration> {
        // Not idle, the park is bounded all the same (`PAUSED_RECHECK`): what made the runtime
        // busy may end without waking this worker (the task woken by the I/O turn before this
        // park, queued here, or another worker's jump lock found held), and then some worker
        // must ask the probe again.
        let recheck = Some(limit.map_or(PAUSED_RECHECK, |limit| limit.min(PAUSED_RECHECK)));
        let Some(_jumping) = self.jump.try_lock() else {
            // Another worker is jumping: the tasks it fires make the runtime busy.
            return recheck;
        };
        if !may_jump || !self.idle_probe.get().is_some_and(|probe| probe()) {
            return recheck;
        }
        // A wheel's next deadline may be a level boundary, where entries only move down a
        // level: jump again until something fires (a few levels at most).
        while let Some(next) = self.next_deadline_of_all() {
            self.clock.advance_to(instant_of(self.origin, next));
            self.fire_all_due(due);
            if !due.is_empty() {
                // Woken here, under the jump lock, so that they are queued before any other
                // worker can find the runtime idle.
                wake_all(due);
                self.wheels[worker].parked_until.store(RUNNING, SeqCst);
                return Some(Duration::ZERO);
            }
        }
        // Idle with no timer at all: only a wake can bring work, and it unparks.
        limit
    }

    /// How many worker wheels there are.
    ///
    /// ```
    /// assert_eq!(spindle_timer::Timer::new(Vec::new()).workers(), 0);
    /// ```
    pub fn workers(&self) -> usize {
        self.wheels.len()
    }

    /// The instant `duration` after `now`; a duration that overflows `Instant` (such as
    /// `Duration::MAX`) means 30 years after `now`, which is never within a program's life.
    pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
        now.checked_add(duration)
            .unwrap_or_else(|| now + FAR_FUTURE)
    }

    /// Registers `waker` to be woken at `deadline`, in worker `worker`'s wheel (or a wheel
    /// chosen round-robin for `None`).
    pub(crate) fn register(
        &self,
        worker: Option<usize>,
        deadline: Instant,
        waker: &Waker,
    ) -> Registration {
        let index = match worker {
            Some(index) if index < self.wheels.len() => index,
            _ => self.next_outside.fetch_add(1, Relaxed) % self.wheels.len().max(1),
        };
        let wheel = &self.wheels[index];
        let tick = tick_at_or_after(wheel.origin, deadline);
        let mut locked = wheel.lock();
        let waker = locked.waker_like(waker);
        let key = locked.insert(tick, waker);
        let reference = locked.reference_for(wheel);
        drop(locked);
        if worker != Some(index) {
            wheel.wake_owner_if_later(tick);
        }
        Registration {
            wheel: reference,
            key,
        }
    }

    /// Makes the calling thread the owner of wheel `index`, the one thread that defers cancels
    /// into it, if the wheel exists and has no owner. Undone by
    /// [`release_wheel`](Self::release_wheel).
    pub(crate) fn claim_wheel(&self, index: usize) -> bool {
        self.wheels.get(index).is_some_and(|wheel| {
            wheel
                .claimed
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        })
    }

    /// Ends the calling thread's ownership of wheel `index`, which it claimed.
    pub(crate) fn release_wheel(&self, index: usize) {
        self.wheels[index].claimed.store(false, Release);
    }

    /// Fires every due entry of `worker`'s wheel and of the wheels of busy workers, pushing
    /// their wakers to `due` (wake them after this returns, outside any lock).
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// let mut due = Vec::new();
    /// timer.fire_due(0, &mut due);
    /// assert!(due.is_empty());
    /// ```
    pub fn fire_due(&self, worker: usize, due: &mut Vec<Waker>) {
        if self.clock.is_paused() {
            // Paused, entries are fired under the jump lock and woken there (as a jump and
            // `advance` do): fired outside it, an entry could be taken from under a jump and
            // its task left unqueued while the next jump passes it. Entries already due (made
            // due before the pause) fire here, as time need not move for them.
            let _jumping = self.jump.lock();
            self.fire_due_now(worker, due);
            wake_all(due);
            return;
        }
        self.fire_due_now(worker, due);
    }

    /// [`fire_due`](Self::fire_due)'s firing, at the clock's time.
    fn fire_due_now(&self, worker: usize, due: &mut Vec<Waker>) {
        // Read the clock only once a wheel has a deadline: most parks have none.
        let mut now = None;
        for (index, wheel) in self.wheels.iter().enumerate() {
            let busy = wheel.parked_until.load(SeqCst) == RUNNING;
            if index != worker && !busy {
                continue;
            }
            let guard = if index == worker {
                Some(wheel.lock())
            } else {
                wheel.try_lock()
            };
            let Some(mut guard) = guard else { continue };
            let Some(next) = guard.next_deadline() else {
                continue;
            };
            let now = *now.get_or_insert_with(|| tick_before(self.origin, self.clock.now()));
            if next <= now {
                guard.advance(now, |waker| due.push(waker));
            }
        }
    }

    /// Called by worker `worker` as it is about to park for at most `limit` (`None`: no
    /// limit). Fires what is due into `due`, publishes the park deadline, and returns how long
    /// the worker may park: until its own next deadline or a busy worker's, whichever is first.
    /// Must be followed by [`Timer::after_park`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// let mut due = Vec::new();
    /// let timeout = timer.before_park(0, Some(Duration::from_millis(5)), &mut due);
    /// assert_eq!(timeout, Some(Duration::from_millis(5)));
    /// timer.after_park(0);
    /// ```
    pub fn before_park(
        &self,
        worker: usize,
        limit: Option<Duration>,
        due: &mut Vec<Waker>,
    ) -> Option<Duration> {
        self.before_park_after_events(worker, limit, true, due)
    }

    /// [`before_park`](Self::before_park) for a worker whose layer below just delivered its
    /// ready I/O events, or could not (`events_delivered` false: another thread holds the
    /// reactor), in which case a paused clock does not jump now (events still undelivered are
    /// work the runtime has) and the worker looks again soon.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.pause();
    /// let mut due = Vec::new();
    /// let timeout = timer.before_park_after_events(0, None, false, &mut due);
    /// assert!(timeout.is_some(), "a paused worker that could not look at I/O looks again");
    /// timer.after_park(0);
    /// ```
    pub fn before_park_after_events(
        &self,
        worker: usize,
        limit: Option<Duration>,
        may_jump: bool,
        due: &mut Vec<Waker>,
    ) -> Option<Duration> {
        let own = &self.wheels[worker];
        own.parked_until.store(FOREVER, SeqCst);
        self.fire_due(worker, due);
        if !due.is_empty() {
            own.parked_until.store(RUNNING, SeqCst);
            return Some(Duration::ZERO);
        }
        if self.clock.is_paused() {
            return self.before_park_paused(worker, limit, may_jump, due);
        }
        let mut next = own.lock().next_deadline();
        for (index, wheel) in self.wheels.iter().enumerate() {
            if index != worker && wheel.parked_until.load(SeqCst) == RUNNING {
                if let Some(guard) = wheel.try_lock() {
                    next = match (next, guard.next_deadline()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        let now = self.clock.now();
        let timer_timeout =
            next.map(|tick| instant_of(self.origin, tick).saturating_duration_since(now));
        let timeout = match (timer_timeout, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let until = match timeout {
            Some(timeout) => tick_at_or_after(self.origin, now + timeout).max(1),
            None => FOREVER,
        };
        own.parked_until.store(until, SeqCst);
        timeout
    }

    /// Called by worker `worker` when its park returns.
    ///
    /// ```
    /// let timer = spindle_timer::Timer::new(vec![Box::new(|| {})]);
    /// timer.after_park(0);
    /// ```
    pub fn after_park(&self, worker: usize) {
        self.wheels[worker].parked_until.store(RUNNING, SeqCst);
    }

    /// The number of registered, unfired timers in all wheels.
    ///
    /// ```
    /// assert_eq!(spindle_timer::Timer::new(vec![Box::new(|| {})]).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.wheels.iter().map(|w| w.lock().len()).sum()
    }

    /// True if no timer is registered.
    ///
    /// ```
    /// assert!(spindle_timer::Timer::new(vec![Box::new(|| {})]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Timer {
    /// Applies each wheel's deferred cancel, which holds a reference to its wheel.
    fn drop(&mut self) {
        for wheel in self.wheels.iter() {
            drop(wheel.lock());
        }
    }
}

impl WorkerWheel {
    /// Locks the wheel and removes the entry of a deferred cancel, if any.
    fn lock(self: &Arc<Self>) -> LockedWheel<'_> {
        LockedWheel::applying_deferred_cancel(self, self.wheel.lock())
    }

    /// [`lock`](Self::lock) if the wheel is free now.
    fn try_lock(self: &Arc<Self>) -> Option<LockedWheel<'_>> {
        let wheel = self.wheel.try_lock()?;
        Some(LockedWheel::applying_deferred_cancel(self, wheel))
    }

    /// Unparks the owner if it is parked past `tick`.
    fn wake_owner_if_later(&self, tick: u64) {
        let parked_until = self.parked_until.load(SeqCst);
        if parked_until != RUNNING && tick < parked_until {
            (self.unpark)();
        }
    }
}

impl<'a> LockedWheel<'a> {
    fn applying_deferred_cancel(
        this: &Arc<WorkerWheel>,
        mut wheel: MutexGuard<'a, TimerWheel<Waker>>,
    ) -> LockedWheel<'a> {
        // Only a lock holder empties the slot, so the key read here is still there to take.
        let key = this.deferred_cancel.load(Acquire);
        if key == NO_DEFERRED_CANCEL {
            return LockedWheel {
                wheel,
                cancelled: None,
                slot_reference: None,
            };
        }
        this.deferred_cancel.store(NO_DEFERRED_CANCEL, Release);
        let cancelled = wheel.cancel(TimerKey::from_bits(key));
        // SAFETY: a key in the slot comes with one strong count of this wheel's `Arc`, left
        // there by `Registration::cancel_as_owner` (which never drops that registration's
        // `Arc`), and this lock holder, having emptied the slot, is the one that takes it over.
        // `Arc::as_ptr` of an `Arc` of the same allocation is the pointer `Arc::into_raw` would
        // give. It is not the last count: `this` is another.
        let slot_reference = unsafe { Arc::from_raw(Arc::as_ptr(this)) };
        LockedWheel {
            wheel,
            cancelled,
            slot_reference: Some(slot_reference),
        }
    }

    /// A waker for a new entry that wakes what `waker` wakes: the applied deferred cancel's,
    /// if it does (a task arming timeouts one after another), or a clone of `waker`.
    fn waker_like(&mut self, waker: &Waker) -> Waker {
        match self.cancelled.take() {
            Some(cancelled) if cancelled.will_wake(waker) => cancelled,
            cancelled => {
                self.cancelled = cancelled;
                waker.clone()
            }
        }
    }

    /// A reference to the wheel for a new registration: the applied deferred cancel's, or a
    /// new one.
    fn reference_for(&mut self, this: &Arc<WorkerWheel>) -> Arc<WorkerWheel> {
        self.slot_reference
            .take()
            .unwrap_or_else(|| Arc::clone(this))
    }
}

impl Deref for LockedWheel<'_> {
    type Target = TimerWheel<Waker>;

    fn deref(&self) -> &TimerWheel<Waker> {
        &self.wheel
    }
}

impl DerefMut for LockedWheel<'_> {
    fn deref_mut(&mut self) -> &mut TimerWheel<Waker> {
        &mut self.wheel
    }
}

impl Registration {
    /// Moves the entry to `deadline`. Returns false if it already fired.
    pub(crate) fn reset(&self, deadline: Instant) -> bool {
        let tick = tick_at_or_after(self.wheel.origin, deadline);
        let moved = self.wheel.lock().reset(self.key, tick).is_ok();
        if moved {
            self.wheel.wake_owner_if_later(tick);
        }
        moved
    }

    /// Replaces the entry's waker if it would wake a different task. Returns false if the
    /// entry already fired.
    pub(crate) fn update_waker(&self, waker: &Waker) -> bool {
        let mut wheel = self.wheel.lock();
        match wheel.get_mut(self.key) {
            Some(current) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Removes the entry (if it has not fired), returning its memory to the wheel. True if
    /// it was still armed.
    pub(crate) fn cancel(self) -> bool {
        let removed = self.wheel.lock().cancel(self.key);
        removed.is_some()
    }

    /// Removes the entry (if it has not fired): on the wheel's owner thread, by leaving it to
    /// the wheel's next lock ([`cancel_as_owner`](Self::cancel_as_owner)), elsewhere at once.
    pub(crate) fn cancel_soon(self) {
        let on_owner = context::with_owned_wheel(|timer, index| {
            timer
                .wheels
                .get(index)
                .is_some_and(|wheel| Arc::ptr_eq(wheel, &self.wheel))
        });
        if on_owner == Some(true) {
            self.cancel_as_owner();
        } else {
            self.cancel();
        }
    }

    /// Defers the cancel to the wheel's next lock if the deferred cancel slot is free, else
    /// cancels at once. Only the wheel's owner thread may call this: it is the slot's one
    /// producer (module docs, "Cancelling on the owner's thread"), and its current timer keeps
    /// the wheel alive while it writes the slot.
    pub(crate) fn cancel_as_owner(self) {
        let slot = &self.wheel.deferred_cancel;
        if slot.load(Acquire) != NO_DEFERRED_CANCEL {
            self.cancel();
            return;
        }
        // The slot keeps this registration's strong count of the wheel until a lock holder
        // applies the cancel and takes the count over (`LockedWheel::applying_deferred_cancel`).
        let key = self.key.to_bits();
        let wheel = ManuallyDrop::new(self.wheel);
        wheel.deferred_cancel.store(key, Release);
    }
}

/// The runtime's timer resolution: one wheel tick. Much finer than the usual millisecond, so
/// rounding makes a sleep at most 10 µs late; the wheel itself counts ticks and does not care
/// what one is.
///
/// ```
/// assert_eq!(spindle_timer::TICK, std::time::Duration::from_micros(10));
/// ```
pub const TICK: Duration = Duration::from_micros(10);

/// Wakes and empties `due`. A waker is user code: its panic must not unwind into the worker's
/// park or the caller of `advance`.
fn wake_all(due: &mut Vec<Waker>) {
    for waker in due.drain(..) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
    }
}

/// A tick in nanoseconds. Ticks are counted from whole seconds and subsecond nanoseconds apart,
/// in `u64` and `u32` arithmetic: a `u128` division is a library call on every arm.
const TICK_NANOS: u32 = TICK.subsec_nanos();
const TICKS_PER_SECOND: u64 = 1_000_000_000 / TICK_NANOS as u64;
const _: () = assert!(TICK.as_secs() == 0 && 1_000_000_000 % TICK_NANOS == 0);

/// The first tick at or after `instant` (deadlines round up: never fire early).
fn tick_at_or_after(origin: Instant, instant: Instant) -> u64 {
    let since = instant.saturating_duration_since(origin);
    ticks(since.as_secs(), since.subsec_nanos().div_ceil(TICK_NANOS))
}

/// The last tick that has fully begun at `instant`.
fn tick_before(origin: Instant, instant: Instant) -> u64 {
    let since = instant.saturating_duration_since(origin);
    ticks(since.as_secs(), since.subsec_nanos() / TICK_NANOS)
}

/// `seconds` whole seconds and `subsecond_ticks` ticks, in ticks; at most `u64::MAX - 1`.
fn ticks(seconds: u64, subsecond_ticks: u32) -> u64 {
    seconds
        .saturating_mul(TICKS_PER_SECOND)
        .saturating_add(u64::from(subsecond_ticks))
        .min(u64::MAX - 1)
}

fn instant_of(origin: Instant, tick: u64) -> Instant {
    let nanos = tick.saturating_mul(u64::from(TICK_NANOS));
    origin
        .checked_add(Duration::from_nanos(nanos))
        .unwrap_or_else(|| origin + FAR_FUTURE)
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("key", &self.key)
            .finish()
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("workers", &self.wheels.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn the_owner_arming_after_a_deferred_cancel_reuses_its_reference_to_the_wheel() {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let first = timer.register(Some(0), far(), Waker::noop());
        let wheel = Arc::downgrade(&first.wheel);
        assert_eq!(
            wheel.strong_count(),
            2,
            "the timer's and the registration's"
        );
        first.cancel_as_owner();
        assert_eq!(
            wheel.strong_count(),
            2,
            "the timer's and the deferred cancel's"
        );
        let second = timer.register(Some(0), far(), Waker::noop());
        assert_eq!(
            wheel.strong_count(),
            2,
            "the timer's and the new registration's"
        );
        assert_eq!(timer.len(), 1);
        assert!(second.cancel());
        assert!(timer.is_empty());
    }

    #[test]
    fn dropping_the_timer_applies_a_deferred_cancel_and_frees_the_wheel() {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let registration = timer.register(Some(0), far(), Waker::noop());
        let wheel = Arc::downgrade(&registration.wheel);
        registration.cancel_as_owner();
        drop(timer);
        assert_eq!(wheel.strong_count(), 0);
    }

    #[test]
    fn a_full_deferred_cancel_slot_falls_back_to_the_locked_cancel() {
        let timer = Timer::new(vec![Box::new(|| {})]);
        let registrations: Vec<_> = (0..3)
            .map(|_| timer.register(Some(0), far(), Waker::noop()))
            .collect();
        let wheel = Arc::downgrade(&registrations[0].wheel);
        registrations
            .into_iter()
            .for_each(Registration::cancel_as_owner);
        assert!(timer.is_empty());
        assert_eq!(wheel.strong_count(), 1, "only the timer's");
    }

    #[test]
    fn ticks_round_deadlines_up_and_the_clock_down() {
        let origin = Instant::now();
        let at = |nanos| origin + Duration::from_nanos(nanos);
        assert_eq!(tick_at_or_after(origin, at(0)), 0);
        assert_eq!(tick_at_or_after(origin, at(1)), 1);
        assert_eq!(tick_at_or_after(origin, at(10_000)), 1);
        assert_eq!(tick_at_or_after(origin, at(1_999_990_001)), 200_000);
        assert_eq!(tick_before(origin, at(19_999)), 1);
        assert_eq!(tick_before(origin, at(1_999_990_001)), 199_999);
        assert_eq!(tick_before(origin, origin - Duration::from_secs(1)), 0);
        assert_eq!(ticks(u64::MAX, 5), u64::MAX - 1);
    }
}
