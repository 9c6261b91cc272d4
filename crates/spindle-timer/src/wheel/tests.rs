use super::level::{level_for, slot_for, SLOTS, SLOT_BITS};
use super::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// `advance(now)`, returning what fired, in firing order.
fn advance<T>(wheel: &mut TimerWheel<T>, now: u64) -> Vec<T> {
    let mut fired = Vec::new();
    wheel.advance(now, |value| fired.push(value));
    check_invariants(wheel);
    fired
}

/// Every rule of `placement.rs`'s "Invariants", checked by walking every list.
fn check_invariants<T>(wheel: &TimerWheel<T>) {
    let t = wheel.current;
    let mut count = 0;
    for list in 0..LISTS {
        let mut cursor = wheel.slab.first(list);
        while let Some(index) = cursor {
            count += 1;
            let d = wheel.slab.deadline(index);
            match list {
                PENDING => {
                    assert!(d <= t, "pending entry {d} not due at {t}");
                    assert!(wheel.pending_floor <= d);
                }
                OVERFLOW => {
                    assert!(
                        d >> WHEEL_BITS > t >> WHEEL_BITS,
                        "overflow entry {d} in epoch of {t}"
                    );
                    assert!(wheel.overflow_floor <= d);
                    assert!(wheel.overflow_floor >> WHEEL_BITS > t >> WHEEL_BITS);
                }
                _ => {
                    let (level, slot) = (list / SLOTS, list % SLOTS);
                    assert!(d > t, "wheel entry {d} due at {t}");
                    assert_eq!(level_for(t, d), Some(level), "level of {d} at {t}");
                    assert_eq!(slot_for(d, level), slot, "slot of {d} at {t}");
                }
            }
            cursor = wheel.slab.next(index);
        }
        if list < PENDING {
            let bit = wheel.occupied[list / SLOTS] >> (list % SLOTS) & 1 == 1;
            assert_eq!(bit, !wheel.slab.is_empty(list), "bitmap of list {list}");
        }
    }
    assert_eq!(count, wheel.len());
}

/// A small deterministic generator (xorshift), so the tests need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A value below `2^b`, with `b` uniform in `1..=max_bits`: spread over every level.
    fn spread(&mut self, max_bits: u64) -> u64 {
        let bits = 1 + self.below(max_bits);
        self.below(1 << bits)
    }
}

const LEVEL_BOUNDARIES: [u64; 6] = [64, 4_096, 262_144, 1 << 24, 1 << 30, 1 << 36];

#[test]
fn level_for_follows_the_highest_differing_bit() {
    assert_eq!(level_for(0, 1), Some(0));
    assert_eq!(level_for(0, 63), Some(0));
    assert_eq!(level_for(0, 64), Some(1));
    assert_eq!(level_for(63, 64), Some(1));
    assert_eq!(level_for(64, 127), Some(0));
    assert_eq!(level_for(0, 4_095), Some(1));
    assert_eq!(level_for(0, 4_096), Some(2));
    assert_eq!(level_for(0, (1 << 36) - 1), Some(5));
    assert_eq!(level_for(0, 1 << 36), None);
    assert_eq!(level_for(0, u64::MAX), None);
    assert_eq!(level_for(u64::MAX - 1, u64::MAX), Some(0));
}

#[test]
fn inserted_entry_fires_at_its_deadline() {
    let mut wheel = TimerWheel::new(0);
    let key = wheel.insert(10, "a");
    assert_eq!(wheel.len(), 1);
    assert!(advance(&mut wheel, 9).is_empty());
    assert_eq!(advance(&mut wheel, 10), ["a"]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.deadline(key), None);
}

#[test]
fn entries_never_fire_before_their_deadline_tick_by_tick() {
    let mut rng = Rng(0x5eed);
    let mut wheel = TimerWheel::new(7);
    for _ in 0..500 {
        let deadline = 7 + rng.below(20_000);
        wheel.insert(deadline, deadline);
    }
    for now in 7..=20_007 {
        for deadline in advance(&mut wheel, now) {
            assert_eq!(deadline, now, "fired at {now}, due at {deadline}");
        }
    }
    assert!(wheel.is_empty());
}

#[test]
fn entries_never_fire_before_their_deadline_across_jumps() {
    let mut rng = Rng(0xfeed);
    let mut wheel = TimerWheel::new(0);
    let mut now = 0;
    let mut live = 0usize;
    for _ in 0..2_000 {
        if rng.below(2) == 0 {
            let deadline = now + rng.spread(40);
            wheel.insert(deadline, deadline);
            live += 1;
        } else {
            now += rng.spread(37);
            for deadline in advance(&mut wheel, now) {
                assert!(deadline <= now, "fired at {now}, due at {deadline}");
                live -= 1;
            }
            if let Some(next) = wheel.next_deadline() {
                assert!(
                    next > now,
                    "{next} reported due, but advance({now}) fired everything due"
                );
            }
        }
        assert_eq!(wheel.len(), live);
    }
}

#[test]
fn deadline_at_or_before_now_fires_at_the_next_advance() {
    let mut wheel = TimerWheel::new(1_000);
    wheel.insert(1_000, "now");
    wheel.insert(3, "past");
    check_invariants(&wheel);
    assert_eq!(
        wheel.next_deadline(),
        Some(3),
        "reports the true (past) deadline"
    );
    let mut fired = advance(&mut wheel, 1_000);
    fired.sort();
    assert_eq!(fired, ["now", "past"]);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn an_earlier_now_is_taken_as_the_wheels_time() {
    let mut wheel = TimerWheel::new(100);
    wheel.insert(150, ());
    assert!(advance(&mut wheel, 50).is_empty());
    assert_eq!(wheel.now(), 100);
    assert_eq!(advance(&mut wheel, 150).len(), 1);
}

#[test]
fn cancel_removes_the_entry_and_returns_its_value() {
    let mut wheel = TimerWheel::new(0);
    let a = wheel.insert(10, "a");
    let b = wheel.insert(10, "b");
    assert_eq!(wheel.cancel(a), Some("a"));
    check_invariants(&wheel);
    assert_eq!(wheel.cancel(a), None, "second cancel");
    assert_eq!(wheel.len(), 1);
    assert_eq!(advance(&mut wheel, 100), ["b"]);
    assert_eq!(wheel.cancel(b), None, "cancel after fire");
}

#[test]
fn cancelling_the_last_entry_of_a_slot_clears_its_bitmap_bit() {
    let mut wheel = TimerWheel::new(0);
    let key = wheel.insert(5_000, ());
    assert_ne!(wheel.occupied, [0; LEVELS]);
    wheel.cancel(key);
    assert_eq!(wheel.occupied, [0; LEVELS]);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn a_stale_key_never_touches_the_entry_that_reuses_its_storage() {
    let mut wheel = TimerWheel::new(0);
    let fired_key = wheel.insert(1, "first");
    assert_eq!(advance(&mut wheel, 1), ["first"]);
    let reused = wheel.insert(50, "second");
    assert_eq!(
        reused.0.index, fired_key.0.index,
        "the slab reuses the freed node"
    );
    assert_eq!(wheel.cancel(fired_key), None);
    assert_eq!(wheel.reset(fired_key, 2), Err(StaleKey));
    assert_eq!(wheel.get(fired_key), None);
    assert_eq!(wheel.get_mut(fired_key), None);
    assert_eq!(wheel.deadline(fired_key), None);
    assert_eq!(wheel.deadline(reused), Some(50));

    let cancelled = reused;
    wheel.cancel(cancelled);
    let again = wheel.insert(60, "third");
    assert_eq!(wheel.cancel(cancelled), None);
    assert_eq!(advance(&mut wheel, 60), ["third"]);
    assert_eq!(wheel.cancel(again), None);
}

#[test]
fn far_future_deadlines_do_not_panic() {
    let far = [
        (1 << 36) - 1,
        1 << 36,
        (1 << 36) + 1,
        1 << 40,
        1 << 63,
        u64::MAX - 1,
        u64::MAX,
    ];
    for start in [
        0,
        12_345,
        (1 << 36) - 1,
        1 << 62,
        u64::MAX - 70,
        u64::MAX - 1,
    ] {
        let mut wheel = TimerWheel::new(start);
        for deadline in far {
            wheel.insert(deadline, deadline);
        }
        check_invariants(&wheel);
        assert!(wheel.next_deadline().unwrap() <= far[0]);
        let mut fired = Vec::new();
        for step in [1 << 20, 1 << 37, u64::MAX] {
            let now = start.saturating_add(step).min(u64::MAX - 1);
            fired.extend(advance(&mut wheel, now));
        }
        assert_eq!(
            fired.len(),
            far.len() - 1,
            "all but u64::MAX fired from {start}"
        );
        assert_eq!(wheel.next_deadline(), Some(u64::MAX));
        assert_eq!(advance(&mut wheel, u64::MAX), [u64::MAX]);
        fired.push(u64::MAX);
        // Entries due when inserted fire first (in no particular order), the rest in order.
        let later: Vec<_> = fired.into_iter().filter(|&d| d > start).collect();
        assert!(
            later.windows(2).all(|w| w[0] <= w[1]),
            "in deadline order: {later:?}"
        );
    }

    let mut wheel = TimerWheel::new(u64::MAX);
    for deadline in far {
        wheel.insert(deadline, deadline);
    }
    assert_eq!(wheel.next_deadline(), Some(far[0]));
    assert_eq!(advance(&mut wheel, u64::MAX).len(), far.len());
}

#[test]
fn u64_max_never_fires_within_a_long_horizon_but_can_be_cancelled() {
    let mut wheel = TimerWheel::new(0);
    let never = wheel.insert(u64::MAX, "never");
    let mut now = 0u64;
    for step in 0..200 {
        now += 1 << (step % 50);
        assert!(advance(&mut wheel, now).is_empty());
    }
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.deadline(never), Some(u64::MAX));
    assert_eq!(wheel.next_deadline(), Some(u64::MAX));
    assert_eq!(wheel.cancel(never), Some("never"));
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn overflow_entries_move_into_the_wheel_as_their_epoch_comes() {
    let epoch = 1u64 << 36;
    let mut wheel = TimerWheel::new(0);
    wheel.insert(epoch + 5, "next epoch");
    wheel.insert(3 * epoch, "two epochs on");
    assert!(!wheel.slab.is_empty(OVERFLOW));
    assert_eq!(wheel.next_deadline(), Some(epoch + 5));

    assert!(advance(&mut wheel, epoch - 10).is_empty());
    assert!(advance(&mut wheel, epoch).is_empty());
    assert_eq!(
        wheel.slab.first(OVERFLOW).map(|i| wheel.slab.deadline(i)),
        Some(3 * epoch)
    );
    assert_eq!(wheel.next_deadline(), Some(epoch + 5), "level 0 now: exact");
    assert!(advance(&mut wheel, epoch + 4).is_empty());
    assert_eq!(advance(&mut wheel, epoch + 5), ["next epoch"]);
    assert_eq!(advance(&mut wheel, 3 * epoch), ["two epochs on"]);
}

#[test]
fn entries_cascade_across_every_level_boundary() {
    for start in [0, 1, 12_345, (1 << 36) - 3] {
        for boundary in LEVEL_BOUNDARIES {
            for deadline in [boundary - 1, boundary, boundary + 1] {
                let deadline = start + deadline;
                // Advanced in two steps: not a tick early, then exactly on time.
                let mut wheel = TimerWheel::new(start);
                wheel.insert(deadline, deadline);
                assert!(
                    advance(&mut wheel, deadline - 1).is_empty(),
                    "{deadline} from {start}"
                );
                assert_eq!(advance(&mut wheel, deadline), [deadline]);

                // Driven by next_deadline: fires in the advance whose now is its deadline.
                let mut wheel = TimerWheel::new(start);
                wheel.insert(deadline, deadline);
                let mut steps = 0;
                while let Some(next) = wheel.next_deadline() {
                    assert!(next <= deadline && next > wheel.now());
                    let fired = advance(&mut wheel, next);
                    assert_eq!(
                        fired.is_empty(),
                        next != deadline,
                        "{deadline} from {start}"
                    );
                    steps += 1;
                }
                assert!(
                    steps <= LEVELS + 1,
                    "{steps} steps to reach {deadline} from {start}"
                );
            }
        }
    }
}

#[test]
fn driving_by_next_deadline_fires_each_entry_exactly_at_its_deadline() {
    let mut rng = Rng(42);
    let mut wheel = TimerWheel::new(0);
    for _ in 0..2_000 {
        let deadline = rng.spread(37);
        wheel.insert(deadline, deadline);
    }
    let mut fired = 0;
    while let Some(next) = wheel.next_deadline() {
        for deadline in advance(&mut wheel, next) {
            assert_eq!(deadline, next);
            fired += 1;
        }
    }
    assert_eq!(fired, 2_000);
}

#[test]
fn many_entries_in_one_slot_fire_together() {
    let mut wheel = TimerWheel::new(0);
    let keys: Vec<_> = (0..10_000).map(|i| wheel.insert(100_000, i)).collect();
    for key in keys.iter().step_by(2) {
        wheel.cancel(*key);
    }
    check_invariants(&wheel);
    assert!(advance(&mut wheel, 99_999).is_empty());
    let mut fired = advance(&mut wheel, 100_000);
    fired.sort();
    assert_eq!(fired, (1..10_000).step_by(2).collect::<Vec<_>>());
}

#[test]
fn reset_earlier_fires_earlier() {
    let mut wheel = TimerWheel::new(0);
    let key = wheel.insert(1 << 30, "moved");
    wheel.insert(1 << 30, "stays");
    wheel.reset(key, 100).unwrap();
    check_invariants(&wheel);
    assert_eq!(wheel.deadline(key), Some(100));
    assert_eq!(wheel.next_deadline(), Some(64), "level 1 slot start");
    assert_eq!(advance(&mut wheel, 100), ["moved"]);
    assert_eq!(wheel.len(), 1);
}

#[test]
fn reset_later_does_not_fire_at_the_old_deadline() {
    let mut wheel = TimerWheel::new(0);
    let key = wheel.insert(10, "moved");
    wheel.reset(key, 5_000).unwrap();
    assert!(advance(&mut wheel, 4_999).is_empty());
    assert_eq!(advance(&mut wheel, 5_000), ["moved"]);
}

#[test]
fn reset_to_the_past_or_beyond_the_range_and_back() {
    let mut wheel = TimerWheel::new(500);
    let key = wheel.insert(600, 'a');
    wheel.reset(key, u64::MAX).unwrap();
    check_invariants(&wheel);
    assert!(advance(&mut wheel, 1 << 40).is_empty());
    wheel.reset(key, 10).unwrap();
    check_invariants(&wheel);
    assert_eq!(wheel.next_deadline(), Some(10));
    assert_eq!(advance(&mut wheel, 1 << 40), ['a']);
}

#[test]
fn reset_keeps_the_value_and_the_key() {
    let mut wheel = TimerWheel::new(0);
    let key = wheel.insert(10, String::from("waker"));
    wheel.reset(key, 20).unwrap();
    wheel.get_mut(key).unwrap().push('!');
    assert_eq!(wheel.get(key).map(String::as_str), Some("waker!"));
    assert_eq!(advance(&mut wheel, 20), ["waker!"]);
}

#[test]
fn next_deadline_is_never_later_than_the_earliest_entry() {
    let mut rng = Rng(7);
    let mut wheel = TimerWheel::new(0);
    let mut keys = Vec::new();
    let mut now = 0;
    for _ in 0..3_000 {
        match rng.below(3) {
            0 => {
                let deadline = now + rng.spread(39);
                keys.push((wheel.insert(deadline, ()), deadline));
            }
            1 if !keys.is_empty() => {
                let (key, _) = keys.swap_remove(rng.below(keys.len() as u64) as usize);
                wheel.cancel(key);
            }
            _ => {
                now += rng.spread(29);
                advance(&mut wheel, now);
                keys.retain(|&(key, _)| wheel.deadline(key).is_some());
            }
        }
        check_invariants(&wheel);
        let earliest = keys.iter().map(|&(_, deadline)| deadline).min();
        match (wheel.next_deadline(), earliest) {
            (None, None) => {}
            (Some(next), Some(earliest)) => {
                assert!(next <= earliest);
                if earliest > now && earliest >> SLOT_BITS == now >> SLOT_BITS {
                    assert_eq!(next, earliest, "exact at level 0");
                }
            }
            other => panic!("next_deadline and contents disagree: {other:?}"),
        }
    }
}

#[test]
fn steady_state_reuses_storage() {
    // Each round inserts 64 timers, cancels half (timeouts that were not needed) and advances
    // 20 ticks; the other half fire up to ~110 rounds later, so ~1,200 entries stay live.
    fn round(wheel: &mut TimerWheel<u64>, round: u64) {
        let keys: Vec<_> = (0..64)
            .map(|i| wheel.insert(round * 20 + i * 100, i))
            .collect();
        for key in keys.into_iter().skip(32) {
            wheel.cancel(key);
        }
        wheel.advance(round * 20 + 2_000, drop);
    }
    let mut wheel = TimerWheel::new(0);
    (0..1_000).for_each(|r| round(&mut wheel, r));
    let nodes = wheel.slab.nodes();
    assert!(nodes < 1_500, "{nodes} nodes for ~1,200 live entries");
    (1_000..3_000).for_each(|r| round(&mut wheel, r));
    check_invariants(&wheel);
    assert_eq!(
        wheel.slab.nodes(),
        nodes,
        "the slab did not grow in steady state"
    );
}

#[test]
fn a_panicking_fire_leaves_the_wheel_consistent() {
    let mut wheel = TimerWheel::new(0);
    for value in 0..10u64 {
        wheel.insert(100, value);
    }
    wheel.insert(200, 99);
    let mut fired = Vec::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        wheel.advance(300, |value| {
            if fired.len() == 3 {
                panic!("fire panicked");
            }
            fired.push(value);
        })
    }));
    assert!(result.is_err());
    check_invariants(&wheel);
    assert_eq!(
        wheel.len(),
        11 - 4,
        "three fired, one was being fired when it panicked"
    );
    assert!(wheel.next_deadline().unwrap() <= 100, "the rest are due");
    fired.extend(advance(&mut wheel, 300));
    assert_eq!(fired.len(), 10);
    assert_eq!(fired.last(), Some(&99));
    assert!(wheel.is_empty());
}

#[test]
fn remove_all_empties_the_wheel_and_stales_every_key() {
    let mut wheel = TimerWheel::new(10);
    let keys = [
        wheel.insert(5, 'p'),
        wheel.insert(50, 'a'),
        wheel.insert(1 << 33, 'b'),
        wheel.insert(u64::MAX, 'c'),
    ];
    let mut removed = Vec::new();
    wheel.remove_all(|value| removed.push(value));
    removed.sort();
    assert_eq!(removed, ['a', 'b', 'c', 'p']);
    check_invariants(&wheel);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
    assert_eq!(wheel.now(), 10);
    assert!(keys.iter().all(|&key| wheel.cancel(key).is_none()));
}

#[test]
fn debug_shows_the_state_not_the_values() {
    struct Opaque;
    let mut wheel = TimerWheel::new(5);
    let key = wheel.insert(9, Opaque);
    assert_eq!(
        format!("{wheel:?}"),
        "TimerWheel { now: 5, len: 1, next_deadline: Some(9), .. }"
    );
    assert_eq!(format!("{key:?}"), "TimerKey { index: 0, generation: 0 }");
    assert_eq!(
        StaleKey.to_string(),
        "timer key is stale: its entry already fired or was cancelled; insert a new one"
    );
}
