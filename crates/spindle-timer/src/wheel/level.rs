//! The wheel's geometry: which level and slot a deadline belongs in, and how the occupancy
//! bitmaps find the next slot to expire.
//!
//! Everything here is arithmetic on ticks: no state, no clock, and nothing that can overflow
//! (deadlines are only XORed, masked and shifted, so `u64::MAX` is as good as any other).
//!
//! # Geometry
//!
//! There are [`LEVELS`] levels of [`SLOTS`] slots. A level-`k` slot is `64^k` ticks wide, so
//! level `k` spans `64^(k + 1)` ticks and the whole wheel `2^36` ticks: one *epoch*, the
//! aligned block of `1 << WHEEL_BITS` ticks that holds the wheel's time `t`.
//!
//! # Rules
//!
//! 1. A deadline `d` later than `t` in the same epoch (`d >> 36 == t >> 36`) belongs at level
//!    `k = h / 6`, where `h` is the highest bit in which `d` and `t` differ, counting bits
//!    0 to 5 as differing (so level 0 takes every deadline in `t`'s 64-tick span), and in
//!    slot `(d >> 6k) % 64` of that level ([`level_for`], [`slot_for`]). A deadline in a later
//!    epoch has no level.
//! 2. Hence a level-`k` deadline lies in `t`'s level-`k` span but in a slot strictly after
//!    `t`'s slot at that level, and is earlier than every deadline that belongs above level
//!    `k`.
//! 3. Each level keeps a 64-bit occupancy bitmap, bit `s` set iff slot `s` holds an entry (the
//!    wheel keeps the bits in step with its lists). By rule 2 every set bit is after `t`'s
//!    slot `i`, so the first one is slot `i + occupied.rotate_right(i).trailing_zeros()`,
//!    and the lowest level with a set bit holds the earliest entries ([`next_expiration`]).

/// Bits of a deadline that index one level: 64 slots.
pub(super) const SLOT_BITS: u32 = 6;
/// Slots per level.
pub(super) const SLOTS: usize = 1 << SLOT_BITS;
/// Levels in the wheel.
pub(super) const LEVELS: usize = 6;
/// Bits covered by the whole wheel: one epoch is `1 << WHEEL_BITS` ticks.
pub(super) const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;

/// The next slot to expire: `deadline` is the slot's start.
pub(super) struct Expiration {
    pub(super) level: usize,
    pub(super) slot: usize,
    pub(super) deadline: u64,
}

/// The level for a deadline later than `now` in the same epoch, or `None` for a later epoch.
pub(super) fn level_for(now: u64, deadline: u64) -> Option<usize> {
    // `| (SLOTS - 1)` puts deadlines that differ from `now` only in the low 6 bits at level 0.
    let masked = (now ^ deadline) | (SLOTS as u64 - 1);
    let highest_differing_bit = 63 - masked.leading_zeros();
    let level = (highest_differing_bit / SLOT_BITS) as usize;
    (level < LEVELS).then_some(level)
}

/// The slot of `tick` at `level`.
pub(super) fn slot_for(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS * level as u32)) as usize) % SLOTS
}

/// The first occupied slot of the lowest non-empty level of `occupied`, with its start tick,
/// for a wheel whose time is `now`.
pub(super) fn next_expiration(occupied: &[u64; LEVELS], now: u64) -> Option<Expiration> {
    (0..LEVELS).find_map(|level| {
        let occupied = occupied[level];
        if occupied == 0 {
            return None;
        }
        let current_slot = slot_for(now, level);
        let slot = (current_slot
            + occupied.rotate_right(current_slot as u32).trailing_zeros() as usize)
            % SLOTS;
        debug_assert!(
            slot > current_slot,
            "slots at or before the current one are empty"
        );
        let shift = SLOT_BITS * level as u32;
        let span_start = now & !((1 << (shift + SLOT_BITS)) - 1);
        let deadline = span_start + ((slot as u64) << shift);
        Some(Expiration {
            level,
            slot,
            deadline,
        })
    })
}
