//! The hierarchical timing wheel: [`TimerWheel`], its keys, and the one error it returns.
//!
//! A hashed hierarchical wheel after Varghese & Lauck, with tokio's geometry (6 levels × 64
//! slots). It is pure: it never reads a clock, never allocates once warm, and every operation
//! that depends on time takes the caller's `now`.
//!
//! # Time and resolution
//!
//! Time is a `u64` count of ticks since an origin the caller picks. The wheel does not care
//! how long a tick is; spindle's runtime uses [`TICK`](crate::TICK) = 10 µs, and the table
//! below is written for 1 ms ticks (divide the times by a hundred for the runtime's). The
//! caller rounds a deadline *up* to the next whole tick; the wheel fires an entry at the first
//! [`advance`](TimerWheel::advance) whose `now` is ≥ its deadline, never earlier. The wheel's
//! own time `t` ([`TimerWheel::now`]) starts at the `now` given to [`TimerWheel::new`] and
//! becomes the `now` of each `advance`; a `now` earlier than `t` is taken as `t` (time never
//! runs backward).
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
//! | level | slot width | span (64 slots) |
//! | --- | --- | --- |
//! | 0 | 1 ms | 64 ms |
//! | 1 | 64 ms | 4.1 s |
//! | 2 | 4.1 s | 4.4 min |
//! | 3 | 4.4 min | 4.7 h |
//! | 4 | 4.7 h | 12.4 days |
//! | 5 | 12.4 days | 2^36 ms ≈ 2.2 years (one *epoch*) |
//!
//! Level `k`'s slot `s` holds entries whose deadline `d` has `(d >> 6k) % 64 == s`. Each
//! level keeps a 64-bit occupancy bitmap; the next occupied slot at or after slot `i` is
//! `i + occupied.rotate_right(i).trailing_zeros()`. Besides the 384 slots there are two lists:
//! *pending* (entries already due) and *overflow* (entries in a later epoch, e.g. `u64::MAX`).
//!
//! # Invariants
//!
//! With `t` the wheel's time, every live entry with deadline `d` is in exactly one list:
//!
//! | condition | list |
//! | --- | --- |
//! | `d ≤ t` | pending |
//! | `t < d`, same epoch (`d >> 36 == t >> 36`) | level `k = h / 6`, slot `(d >> 6k) % 64`, where `h` is the highest bit in which `d` and `t` differ |
//! | `d >> 36 > t >> 36` | overflow |
//!
//! So a level-`k` entry lies in the same level-`k` span as `t` but in a later slot: every
//! occupied slot is strictly after `t`'s slot at its level, and every level-`k` entry is earlier
//! than every entry above level `k`. Further:
//!
//! 1. A level's bitmap bit `s` is set iff slot `s` is non-empty.
//! 2. `pending_floor` ≤ every pending deadline; `overflow_floor` ≤ every overflow deadline, and
//!    lies in a later epoch than `t`. Cancels may leave a floor low (still a lower bound).
//! 3. Nodes and keys follow the slab's rules (`slab.rs`): a key is live until its entry fires
//!    or is cancelled, and never again.
//!
//! # Advancing and cascading
//!
//! `advance(now)` first fires the pending list. Then it repeats: take the first occupied slot
//! of the lowest non-empty level; if its start `D` is later than `now`, stop. Otherwise set
//! `t = D` and empty the slot, re-placing each entry by the table above: entries with `d == D`
//! go to pending (and fire at once), the rest now agree with `t` on level `k`'s digit and
//! drop to a lower level (they *cascade*). When the wheel is empty and the overflow floor is
//! ≤ `now`, `t` jumps to the floor and the overflow entries of `t`'s epoch move into the
//! wheel. Finally `t = now`; if that enters the overflow floor's epoch, the overflow entries of
//! that epoch move into the wheel too. Entries fire in order of `max(deadline, t at insert)`:
//! by deadline, except that entries already due when inserted fire first; ties fire in no
//! particular order.
//!
//! # Complexity
//!
//! | operation | cost |
//! | --- | --- |
//! | [`insert`](TimerWheel::insert), [`cancel`](TimerWheel::cancel), [`reset`](TimerWheel::reset) | O(1): a `leading_zeros`, a bitmap update and an index-list splice |
//! | [`next_deadline`](TimerWheel::next_deadline) | O(1): at most 6 bitmap scans; exact for level 0 and the pending list, the start of the entry's slot (a lower bound) above |
//! | [`advance`](TimerWheel::advance) | O(6 + slots visited + entries fired + entries cascaded); an entry cascades at most 5 times in its life, so the amortized cost per entry is O(1) |
//! | overflow | each time `t` enters the epoch of the overflow floor, one pass over the overflow list (at most once per 2.2 years of wheel time, or per jump across epochs) |
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

use core::fmt;

use crate::slab::{Slab, SlabKey};

/// Bits of a deadline that index one level: 64 slots.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 6;
/// Bits covered by the whole wheel: one epoch is `1 << WHEEL_BITS` ms.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Slab list ids: `level * SLOTS + slot` for the wheel's slots, then these two.
const PENDING: usize = LEVELS * SLOTS;
const OVERFLOW: usize = PENDING + 1;
const LISTS: usize = OVERFLOW + 1;

/// A hierarchical timing wheel holding values of type `T`, each with a deadline in
/// milliseconds; see the [module docs](self) for its geometry, invariants and costs.
///
/// In a runtime `T` is a `Waker` or an `Arc` of a shared timer entry; the wheel only stores it
/// and hands it back (to `fire`, or from `cancel`).
///
/// ```
/// use spindle_timer::TimerWheel;
///
/// let mut wheel = TimerWheel::new(0);
/// wheel.insert(10, "ten");
/// wheel.insert(5_000, "five seconds");
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

/// The next slot to expire: `deadline` is the slot's start.
struct Expiration {
    level: usize,
    slot: usize,
    deadline: u64,
}

/// The level for a deadline later than `now` in the same epoch, or `None` for a later epoch.
fn level_for(now: u64, deadline: u64) -> Option<usize> {
    // `| (SLOTS - 1)` puts deadlines that differ from `now` only in the low 6 bits at level 0.
    let masked = (now ^ deadline) | (SLOTS as u64 - 1);
    let highest_differing_bit = 63 - masked.leading_zeros();
    let level = (highest_differing_bit / SLOT_BITS) as usize;
    (level < LEVELS).then_some(level)
}

/// The slot of `tick` at `level`.
fn slot_for(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS * level as u32)) as usize) % SLOTS
}

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
    /// [`advance`](Self::advance); one more than about 2.2 years ahead (up to `u64::MAX`) waits
    /// in the overflow list until its epoch comes.
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
    /// current 64 ms span (level 0). Otherwise it is the start of the entry's slot (a level-`k`
    /// slot is `64^k` ms wide) or, for deadlines beyond the wheel's range, a lower bound on
    /// them; advancing to it cascades entries down and a second call is more precise. After a
    /// [`cancel`](Self::cancel) it may stay earlier than the earliest remaining deadline.
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
        if let Some(expiration) = self.next_expiration() {
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
            match self.next_expiration() {
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

    /// Links the detached node `index` into the list its deadline calls for (module docs,
    /// "Invariants").
    fn place(&mut self, index: u32) {
        let deadline = self.slab.deadline(index);
        if deadline <= self.current {
            if self.slab.is_empty(PENDING) || deadline < self.pending_floor {
                self.pending_floor = deadline;
            }
            self.slab.push_front(PENDING, index);
        } else if let Some(level) = level_for(self.current, deadline) {
            let slot = slot_for(deadline, level);
            self.occupied[level] |= 1 << slot;
            self.slab.push_front(level * SLOTS + slot, index);
        } else {
            if self.slab.is_empty(OVERFLOW) || deadline < self.overflow_floor {
                self.overflow_floor = deadline;
            }
            self.slab.push_front(OVERFLOW, index);
        }
    }

    /// Unlinks the linked node `index`, keeping the bitmaps in step. It is left detached.
    fn unlink(&mut self, index: u32) {
        let (list, now_empty) = self.slab.unlink(index);
        if now_empty && list < PENDING {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
    }

    /// Unlinks the first node of `list`, keeping the bitmaps in step. It is left detached.
    fn pop_front(&mut self, list: usize) -> Option<u32> {
        let index = self.slab.first(list)?;
        self.unlink(index);
        Some(index)
    }

    /// The first occupied slot of the lowest non-empty level, with its start tick.
    fn next_expiration(&self) -> Option<Expiration> {
        (0..LEVELS).find_map(|level| {
            let occupied = self.occupied[level];
            if occupied == 0 {
                return None;
            }
            let current_slot = slot_for(self.current, level);
            let slot = (current_slot
                + occupied.rotate_right(current_slot as u32).trailing_zeros() as usize)
                % SLOTS;
            debug_assert!(
                slot > current_slot,
                "slots at or before the current one are empty"
            );
            let shift = SLOT_BITS * level as u32;
            let span_start = self.current & !((1 << (shift + SLOT_BITS)) - 1);
            let deadline = span_start + ((slot as u64) << shift);
            Some(Expiration {
                level,
                slot,
                deadline,
            })
        })
    }

    /// Moves time to the start of an expiring slot and re-places its entries: due ones onto
    /// the pending list, the others one or more levels down.
    fn expire(&mut self, expiration: Expiration) {
        debug_assert!(expiration.deadline > self.current);
        self.current = expiration.deadline;
        let list = expiration.level * SLOTS + expiration.slot;
        while let Some(index) = self.pop_front(list) {
            self.place(index);
            let deadline = self.slab.deadline(index);
            debug_assert!(
                deadline <= self.current
                    || level_for(self.current, deadline).is_some_and(|l| l < expiration.level),
                "an expiring slot's entries fire or cascade to a lower level"
            );
        }
    }

    /// Frees each pending entry, then hands its value to `fire`.
    fn fire_pending(&mut self, fire: &mut impl FnMut(T)) {
        while let Some(index) = self.pop_front(PENDING) {
            fire(self.slab.release(index));
        }
    }

    /// Moves every overflow entry of the current epoch into the wheel (or the pending list)
    /// and recomputes the overflow floor exactly.
    fn pull_overflow(&mut self) {
        let epoch = self.current >> WHEEL_BITS;
        let mut floor = u64::MAX;
        let mut cursor = self.slab.first(OVERFLOW);
        while let Some(index) = cursor {
            cursor = self.slab.next(index);
            let deadline = self.slab.deadline(index);
            if deadline >> WHEEL_BITS <= epoch {
                self.unlink(index);
                self.place(index);
            } else {
                floor = floor.min(deadline);
            }
        }
        self.overflow_floor = floor;
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

#[cfg(test)]
mod tests;
