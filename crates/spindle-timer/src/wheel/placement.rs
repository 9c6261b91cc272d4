//! Where each entry of a [`TimerWheel`] lives, and how entries move between lists as the
//! wheel's time advances: placing an entry, unlinking it, expiring a slot (cascading its
//! entries down), firing the pending list, and pulling overflow entries into the wheel.
//!
//! Every entry is a node of the wheel's slab, linked into one of [`LISTS`] lists: one per slot
//! (list `level * SLOTS + slot`), then [`PENDING`] (entries already due) and [`OVERFLOW`]
//! (entries in a later epoch, e.g. `u64::MAX`).
//!
//! # Invariants
//!
//! With `t` the wheel's time, every live entry with deadline `d` is in exactly one list:
//!
//! | condition | list |
//! | --- | --- |
//! | `d ≤ t` | pending |
//! | `t < d`, same epoch (`d >> 36 == t >> 36`) | the slot `level.rs` gives it: level `k = h / 6`, slot `(d >> 6k) % 64`, where `h` is the highest bit in which `d` and `t` differ |
//! | `d >> 36 > t >> 36` | overflow |
//!
//! Further:
//!
//! 1. A level's bitmap bit `s` is set iff slot `s` is non-empty.
//! 2. `pending_floor` ≤ every pending deadline; `overflow_floor` ≤ every overflow deadline, and
//!    lies in a later epoch than `t`. Cancels may leave a floor low (still a lower bound).
//! 3. Nodes and keys follow the slab's rules (`slab.rs`): a key is live until its entry fires
//!    or is cancelled, and never again.
//!
//! [`place`](TimerWheel::place) is the table above. [`unlink`](TimerWheel::unlink) and
//! [`pop_front`](TimerWheel::pop_front) leave a node detached; their callers place or free it
//! before returning.
//!
//! # Advancing and cascading
//!
//! [`TimerWheel::advance`]`(now)` first fires the pending list. Then it repeats: take the
//! first occupied slot of the lowest non-empty level; if its start `D` is later than `now`,
//! stop. Otherwise [`expire`](TimerWheel::expire) it: set `t = D` and empty the slot,
//! re-placing each entry by the table above: entries with `d == D` go to pending (and fire at
//! once), the rest now agree with `t` on level `k`'s digit and drop to a lower level (they
//! *cascade*). When the wheel is empty and the overflow floor is ≤ `now`, `t` jumps to the
//! floor and the overflow entries of `t`'s epoch move into the wheel. Finally `t = now`; if
//! that enters the overflow floor's epoch, the overflow entries of that epoch move into the
//! wheel too. Entries fire in order of `max(deadline, t at insert)`: by deadline, except that
//! entries already due when inserted fire first; ties fire in no particular order.
//!
//! Firing is panic-safe because each entry is freed before `fire` runs, and a slot is fully
//! re-placed before any of its entries fires.

use super::level::{level_for, slot_for, Expiration, LEVELS, SLOTS, WHEEL_BITS};
use super::TimerWheel;

/// The pending list's id: after the `LEVELS * SLOTS` slot lists.
pub(super) const PENDING: usize = LEVELS * SLOTS;
/// The overflow list's id.
pub(super) const OVERFLOW: usize = PENDING + 1;
/// The number of lists: every slot, pending and overflow.
pub(super) const LISTS: usize = OVERFLOW + 1;

impl<T> TimerWheel<T> {
    /// Links the detached node `index` into the list its deadline calls for (module docs,
    /// "Invariants").
    pub(super) fn place(&mut self, index: u32) {
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
    pub(super) fn unlink(&mut self, index: u32) {
        let (list, now_empty) = self.slab.unlink(index);
        if now_empty && list < PENDING {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
    }

    /// Unlinks the first node of `list`, keeping the bitmaps in step. It is left detached.
    pub(super) fn pop_front(&mut self, list: usize) -> Option<u32> {
        let index = self.slab.first(list)?;
        self.unlink(index);
        Some(index)
    }

    /// Moves time to the start of an expiring slot and re-places its entries: due ones onto
    /// the pending list, the others one or more levels down.
    pub(super) fn expire(&mut self, expiration: Expiration) {
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
    pub(super) fn fire_pending(&mut self, fire: &mut impl FnMut(T)) {
        while let Some(index) = self.pop_front(PENDING) {
            fire(self.slab.release(index));
        }
    }

    /// Moves every overflow entry of the current epoch into the wheel (or the pending list)
    /// and recomputes the overflow floor exactly.
    pub(super) fn pull_overflow(&mut self) {
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
