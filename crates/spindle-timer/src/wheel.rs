//! The hierarchical timing wheel: [`TimerWheel`], its keys, and the one error it returns.
//!
//! A hashed hierarchical wheel after Varghese & Lauck, with tokio's geometry (6 levels × 64
//! slots). It is pure: it never reads a clock, never allocates once warm, and every operation
//! that depends on time takes the caller's `now`.
//!
//! # Time and resolution
//!
//! Time is a `u64` count of ticks since an origin the caller picks. The wheel does not care
//! how long a tick is; spindle's runtime counts in [`TICK`](crate::TICK)s since its
//! [`Timer`](crate::Timer) was made, rounding each deadline *up* to the next whole tick. The
//! wheel fires an entry at the first [`advance`](TimerWheel::advance) whose `now` is ≥ its
//! deadline, never earlier. The wheel's own time `t` ([`TimerWheel::now`]) starts at the `now`
//! given to [`TimerWheel::new`] and becomes the `now` of each `advance`; a `now` earlier than
//! `t` is taken as `t` (time never runs backward).
//!
//! ```
//! use spindle_timer::TimerWheel;
//!
//! let mut wheel = TimerWheel::new(0);
//! let key = wheel.insert(100, "at tick 100");
//! let mut fired = Vec::new();
//! wheel.advance(99, |value| fired.push(value));
//! assert!(fired.is_empty());
//! wheel.advance(100, |value| fired.push(value));
//! assert_eq!(fired, ["at tick 100"]);
//! # let _ = key;
//! ```
//!
//! # Geometry
//!
//! | level | slot width | span (64 slots) | width / span when a tick is [`TICK`](crate::TICK) |
//! | --- | --- | --- | --- |
//! | 0 | 1 tick | 64 ticks | 10 µs / 640 µs |
//! | 1 | 64 ticks | 2^12 ticks | 640 µs / 41 ms |
//! | 2 | 2^12 ticks | 2^18 ticks | 41 ms / 2.6 s |
//! | 3 | 2^18 ticks | 2^24 ticks | 2.6 s / 2.8 min |
//! | 4 | 2^24 ticks | 2^30 ticks | 2.8 min / 3.0 h |
//! | 5 | 2^30 ticks | 2^36 ticks (one *epoch*) | 3.0 h / 8.0 days |
//!
//! An entry sits in the slot its deadline falls in, at the lowest level whose span around the
//! wheel's time contains it; as time reaches that slot its entries fire or *cascade* to a finer
//! level. Besides the 384 slots there are two lists: *pending* (entries already due) and
//! *overflow* (entries past the end of the current epoch, e.g. `u64::MAX`), which move into the
//! wheel when their epoch comes.
//!
//! # Invariants
//!
//! What the wheel guarantees its caller, whatever the sequence of calls (`tests/wheel_model.rs`
//! checks them against a `BTreeMap` model; the unit tests check the panic case):
//!
//! 1. Time never runs backward: [`now`](TimerWheel::now) never decreases.
//! 2. An entry fires exactly once, in the first [`advance`](TimerWheel::advance) whose `now`
//!    is ≥ its deadline (or the next one, if a `fire` call before it panicked), never earlier;
//!    a cancelled or removed entry never fires.
//! 3. A key is live until its entry fires or is removed, and never again, even once the
//!    entry's storage holds another.
//! 4. [`next_deadline`](TimerWheel::next_deadline) is `None` iff the wheel is empty, and never
//!    later than the earliest deadline it holds.
//!
//! The internal ones that carry these (every entry in exactly one list, the bitmaps, the
//! floors) are stated where they are kept: see "Source layout" below.
//!
//! # Complexity
//!
//! | operation | cost |
//! | --- | --- |
//! | [`insert`](TimerWheel::insert), [`cancel`](TimerWheel::cancel), [`reset`](TimerWheel::reset) | O(1): a `leading_zeros`, a bitmap update and an index-list splice |
//! | [`next_deadline`](TimerWheel::next_deadline) | O(1): at most 6 bitmap scans; exact for level 0 and the pending list, the start of the entry's slot (a lower bound) above |
//! | [`advance`](TimerWheel::advance) | O(6 + slots visited + entries fired + entries cascaded); an entry cascades at most 5 times in its life, so the amortized cost per entry is O(1) |
//! | overflow | each time `t` enters the epoch of the overflow floor, one pass over the overflow list (at most once per epoch of wheel time, or per jump across epochs) |
//!
//! Memory: one 40-byte node per live entry for a 16-byte `T`, in a slab that grows to the peak
//! number of live entries and is reused through a free list; steady-state operation allocates
//! nothing.
//!
//! # Why
//!
//! - **A wheel, not a heap.** Most runtime timers are timeouts cancelled before they fire;
//!   a wheel inserts and cancels in O(1) and pays for ordering only for entries that survive,
//!   a few cheap cascades each. A binary heap pays O(log n) for both and cannot cancel in
//!   place.
//! - **Clock-free.** The runtime owns the clock and the origin; the wheel can then be driven by
//!   a virtual clock in tests (`tests/wheel_model.rs` checks it against a `BTreeMap` over
//!   jumps of any size), and each worker can feed its own wheel with the `now` it already has.
//! - **A slab with index links.** No `unsafe`, no allocation per timer, nodes contiguous in
//!   memory, and generational keys so a stale key (kept by a `Sleep` after its timer fired)
//!   can never cancel the slot's next occupant.
//! - **An overflow list instead of clamping.** tokio clamps far deadlines to the wheel's range
//!   and re-inserts them each time they come round. Here they wait, untouched, in one list
//!   until their epoch: `u64::MAX` (or `now + Duration::MAX`, saturated) costs nothing, and no
//!   arithmetic can overflow because the wheel only XORs, masks and shifts deadlines.
//! - **A pending list.** An entry inserted already due is fired by the next `advance`, and
//!   [`next_deadline`](TimerWheel::next_deadline) reports its true deadline (≤ `t`), so the
//!   runtime knows not to sleep.
//! - **Panic-safe firing.** Each entry is freed before `fire` runs, and a slot is fully
//!   re-placed before any of its entries fires, so a panicking `fire` leaves the wheel
//!   consistent; the due entries it did not reach stay pending and fire at the next `advance`.
//!
//! # Source layout
//!
//! This file holds the public API. `wheel/level.rs` holds the level and slot arithmetic and
//! the bitmap scan; `wheel/placement.rs` holds the rule that puts every entry in exactly one
//! list, with the moves that keep it (placing, cascading, pulling in overflow); each states
//! its invariants in its module docs. The storage under them, a slab of index-linked nodes
//! with generational keys, is `slab.rs`.

use core::fmt;

use crate::slab::{Slab, SlabKey};

mod level;
mod placement;
#[cfg(test)]
mod tests;

use level::{next_expiration, LEVELS, WHEEL_BITS};
use placement::{LISTS, OVERFLOW, PENDING};

/// A hierarchical timing wheel holding values of type `T`, each with a deadline in ticks
/// (a `u64`; a runtime's tick is [`TICK`](crate::TICK)); see the [module docs](self) for its
/// geometry and costs.
///
/// In a runtime `T` is a `Waker` or an `Arc` of a shared timer entry; the wheel only stores it
/// and hands it back (to `fire`, or from `cancel`).
///
/// ```
/// use spindle_timer::TimerWheel;
///
/// let mut wheel = TimerWheel::new(0);
/// wheel.insert(10, "ten");
/// wheel.insert(5_000, "five thousand ticks");
///
/// let mut fired = Vec::new();
/// wheel.advance(10, |value| fired.push(value));
/// assert_eq!(fired, ["ten"]);
/// assert_eq!(wheel.len(), 1);
/// ```
pub struct TimerWheel<T> {
    slab: Slab<T, LISTS>,
    /// Per level, bit `s` set iff slot `s` is non-empty.
    occupied: [u64; LEVELS],
    /// The wheel's time `t`.
    current: u64,
    /// A lower bound on the pending deadlines (meaningful while the list is non-empty).
    pending_floor: u64,
    /// A lower bound on the overflow deadlines, in a later epoch than `current` (meaningful
    /// while the list is non-empty).
    overflow_floor: u64,
}

/// A handle to one entry of a [`TimerWheel`], returned by [`TimerWheel::insert`].
///
/// A key is live until its entry fires or is cancelled; after that every operation given the
/// key reports it stale (`None`, or [`StaleKey`]), even once the entry's storage is reused.
/// A key is only meaningful to the wheel that issued it.
///
/// ```
/// use spindle_timer::TimerWheel;
///
/// let mut wheel = TimerWheel::new(0);
/// let key = wheel.insert(1, 'a');
/// wheel.advance(1, drop);
/// let reused = wheel.insert(1, 'b'); // most likely in the same storage
/// assert_eq!(wheel.cancel(key), None);
/// assert_eq!(wheel.cancel(reused), Some('b'));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey(SlabKey);

impl TimerKey {
    /// The key in one `u64` (generation high, index low), for the driver to keep in an atomic.
    /// No key packs to `u64::MAX`: a slab index is never `u32::MAX`.
    pub(crate) fn to_bits(self) -> u64 {
        u64::from(self.0.generation) << 32 | u64::from(self.0.index)
    }

    /// The key [`to_bits`](Self::to_bits) packed.
    pub(crate) fn from_bits(bits: u64) -> TimerKey {
        TimerKey(SlabKey {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        })
    }
}

impl fmt::Debug for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerKey")
            .field("index", &self.0.index)
            .field("generation", &self.0.generation)
            .finish()
    }
}

/// The error of [`TimerWheel::reset`]: the key's entry already fired or was cancelled.
///
/// ```
/// use spindle_timer::{StaleKey, TimerWheel};
///
/// let mut wheel = TimerWheel::new(0);
/// let key = wheel.insert(5, ());
/// wheel.cancel(key);
/// assert_eq!(wheel.reset(key, 10), Err(StaleKey));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct StaleKey;

impl fmt::Display for StaleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "timer key is stale: its entry already fired or was cancelled; insert a new one",
        )
    }
}

impl std::error::Error for StaleKey {}

impl<T> TimerWheel<T> {
    /// An empty wheel whose time is `now`.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let wheel = TimerWheel::<()>::new(1_000);
    /// assert_eq!(wheel.now(), 1_000);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn new(now: u64) -> Self {
        Self::with_capacity(now, 0)
    }

    /// An empty wheel whose time is `now`, with room for `capacity` entries before it
    /// allocates.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::with_capacity(0, 1024);
    /// for deadline in 0..1024 {
    ///     wheel.insert(deadline, deadline); // no allocation
    /// }
    /// assert_eq!(wheel.len(), 1024);
    /// ```
    pub fn with_capacity(now: u64, capacity: usize) -> Self {
        TimerWheel {
            slab: Slab::with_capacity(capacity),
            occupied: [0; LEVELS],
            current: now,
            pending_floor: 0,
            overflow_floor: 0,
        }
    }

    /// The wheel's time: the `now` of the latest [`advance`](Self::advance) (or of
    /// [`new`](Self::new)), whichever is larger.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::<()>::new(10);
    /// wheel.advance(25, drop);
    /// assert_eq!(wheel.now(), 25);
    /// wheel.advance(20, drop); // time never runs backward
    /// assert_eq!(wheel.now(), 25);
    /// ```
    pub fn now(&self) -> u64 {
        self.current
    }

    /// The number of entries: inserted, and neither fired nor cancelled.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// wheel.insert(3, ());
    /// wheel.insert(u64::MAX, ());
    /// assert_eq!(wheel.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether the wheel holds no entry.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// assert!(wheel.is_empty());
    /// wheel.insert(3, ());
    /// wheel.advance(3, drop);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `value`, due at tick `deadline`, and returns its key. O(1).
    ///
    /// Any `u64` is a valid deadline: one at or before [`now`](Self::now) fires at the next
    /// [`advance`](Self::advance); one past the end of the current epoch (the aligned block of
    /// 2^36 ticks holding `now`; up to `u64::MAX`) waits in the overflow list until its epoch
    /// comes.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(100);
    /// wheel.insert(50, "already due");
    /// wheel.insert(u64::MAX, "never, in practice");
    /// let mut fired = Vec::new();
    /// wheel.advance(100, |value| fired.push(value));
    /// assert_eq!(fired, ["already due"]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the wheel already holds `u32::MAX - 1` entries.
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let key = self.slab.allocate(deadline, value);
        self.place(key.index);
        TimerKey(key)
    }

    /// Removes the entry `key` names and returns its value, or `None` if it already fired or
    /// was cancelled. O(1).
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// let key = wheel.insert(10, "timeout");
    /// assert_eq!(wheel.cancel(key), Some("timeout"));
    /// assert_eq!(wheel.cancel(key), None);
    /// let mut fired = 0;
    /// wheel.advance(10, |_| fired += 1);
    /// assert_eq!(fired, 0);
    /// ```
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let index = self.slab.lookup(key.0)?;
        self.unlink(index);
        Some(self.slab.release(index))
    }

    /// Moves the entry `key` names to `deadline` (earlier or later); the key stays valid.
    /// O(1). Fails with [`StaleKey`] if the entry already fired or was cancelled.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// let key = wheel.insert(10, "sleep");
    /// wheel.reset(key, 20).unwrap();
    /// let mut fired = Vec::new();
    /// wheel.advance(10, |value| fired.push(value));
    /// assert!(fired.is_empty());
    /// wheel.advance(20, |value| fired.push(value));
    /// assert_eq!(fired, ["sleep"]);
    /// assert!(wheel.reset(key, 30).is_err());
    /// ```
    pub fn reset(&mut self, key: TimerKey, deadline: u64) -> Result<(), StaleKey> {
        let index = self.slab.lookup(key.0).ok_or(StaleKey)?;
        self.unlink(index);
        self.slab.set_deadline(index, deadline);
        self.place(index);
        Ok(())
    }

    /// The deadline of the entry `key` names, or `None` if it already fired or was cancelled.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// let key = wheel.insert(42, ());
    /// assert_eq!(wheel.deadline(key), Some(42));
    /// wheel.advance(42, drop);
    /// assert_eq!(wheel.deadline(key), None);
    /// ```
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.slab
            .lookup(key.0)
            .map(|index| self.slab.deadline(index))
    }

    /// The value of the entry `key` names, or `None` if it already fired or was cancelled.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// let key = wheel.insert(42, "value");
    /// assert_eq!(wheel.get(key), Some(&"value"));
    /// ```
    pub fn get(&self, key: TimerKey) -> Option<&T> {
        self.slab.lookup(key.0).map(|index| self.slab.value(index))
    }

    /// The value of the entry `key` names, mutably (e.g. to replace a stored `Waker` when a
    /// `Sleep` is polled by another task), or `None` if it already fired or was cancelled.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// let key = wheel.insert(42, 1);
    /// *wheel.get_mut(key).unwrap() = 2;
    /// assert_eq!(wheel.cancel(key), Some(2));
    /// ```
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.slab
            .lookup(key.0)
            .map(|index| self.slab.value_mut(index))
    }

    /// The earliest tick at which [`advance`](Self::advance) could fire something, or `None`
    /// if the wheel is empty. O(1).
    ///
    /// Never later than the earliest deadline of any entry. It is exact when that entry is due
    /// already (the result is then ≤ [`now`](Self::now): advance at once) or lies within the
    /// current 64-tick span (level 0). Otherwise it is the start of the entry's slot (a
    /// level-`k` slot is `64^k` ticks wide) or, for deadlines beyond the wheel's range, a lower
    /// bound on them; advancing to it cascades entries down and a second call is more precise.
    /// After a [`cancel`](Self::cancel) it may stay earlier than the earliest remaining
    /// deadline.
    ///
    /// A runtime sleeps until this tick, then calls `advance`: driven that way, every entry
    /// fires in the `advance` whose `now` equals its deadline (or in the first one, if it was
    /// due when inserted).
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// assert_eq!(wheel.next_deadline(), None);
    /// wheel.insert(5_000, ());
    /// wheel.insert(30, ());
    /// assert_eq!(wheel.next_deadline(), Some(30)); // level 0: exact
    /// wheel.advance(30, drop);
    /// assert_eq!(wheel.next_deadline(), Some(4_096)); // level 2 slot start: 4096 ≤ 5000
    /// wheel.advance(4_096, drop);
    /// assert_eq!(wheel.next_deadline(), Some(4_992)); // level 1 slot start
    /// wheel.advance(4_992, drop);
    /// assert_eq!(wheel.next_deadline(), Some(5_000)); // level 0: exact
    /// ```
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.slab.is_empty(PENDING) {
            return Some(self.pending_floor);
        }
        if let Some(expiration) = next_expiration(&self.occupied, self.current) {
            return Some(expiration.deadline);
        }
        (!self.slab.is_empty(OVERFLOW)).then_some(self.overflow_floor)
    }

    /// Moves the wheel's time to `now` and calls `fire` with the value of every entry whose
    /// deadline is ≤ `now`; their keys go stale. Entries fire in deadline order, except that
    /// entries already due when inserted fire first; ties fire in no particular order.
    ///
    /// Entries fire slot by slot as time sweeps forward; entries still ahead cascade to finer
    /// levels. A jump of any size is one call: its cost is the number of entries fired or
    /// cascaded and slots visited, not the number of ticks. A `now` earlier than
    /// [`now()`](Self::now) is taken as `now()`.
    ///
    /// If `fire` panics, the wheel stays consistent: the entry being fired is gone, the due
    /// entries not yet fired fire at the next `advance`.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// for deadline in [70_000, 3, 64, 1] {
    ///     wheel.insert(deadline, deadline);
    /// }
    /// let mut fired = Vec::new();
    /// wheel.advance(100, |deadline| fired.push(deadline));
    /// assert_eq!(fired, [1, 3, 64]);
    /// wheel.advance(1 << 20, |deadline| fired.push(deadline));
    /// assert_eq!(fired, [1, 3, 64, 70_000]);
    /// ```
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(T)) {
        let now = now.max(self.current);
        loop {
            self.fire_pending(&mut fire);
            match next_expiration(&self.occupied, self.current) {
                Some(expiration) if expiration.deadline <= now => self.expire(expiration),
                Some(_) => break,
                None if !self.slab.is_empty(OVERFLOW) && self.overflow_floor <= now => {
                    // The wheel is empty and every overflow deadline is ≥ the floor: jump.
                    self.current = self.current.max(self.overflow_floor);
                    self.pull_overflow();
                }
                None => break,
            }
        }
        // Whatever is left is due after `now` (so nothing lands on the pending list here).
        self.current = now;
        if !self.slab.is_empty(OVERFLOW)
            && self.overflow_floor >> WHEEL_BITS <= self.current >> WHEEL_BITS
        {
            self.pull_overflow();
        }
        debug_assert!(self.slab.is_empty(PENDING));
    }

    /// Removes every entry, due or not, calling `each` with its value (e.g. to wake every
    /// sleeper at shutdown); every key goes stale. Keeps the wheel's time and storage.
    ///
    /// ```
    /// use spindle_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new(0);
    /// wheel.insert(1, 'a');
    /// wheel.insert(1 << 30, 'b');
    /// wheel.insert(u64::MAX, 'c');
    /// let mut removed = Vec::new();
    /// wheel.remove_all(|value| removed.push(value));
    /// removed.sort();
    /// assert_eq!(removed, ['a', 'b', 'c']);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn remove_all(&mut self, mut each: impl FnMut(T)) {
        for list in 0..LISTS {
            while let Some(index) = self.pop_front(list) {
                each(self.slab.release(index));
            }
        }
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("now", &self.current)
            .field("len", &self.len())
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}
