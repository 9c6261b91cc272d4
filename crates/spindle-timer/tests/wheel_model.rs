//! The wheel against a reference model (a `BTreeMap` ordered by deadline) over random
//! sequences of insert, cancel, reset and advance on a virtual clock, with steps from 0 ticks to
//! jumps across epochs and up to the end of time.
//!
//! Catches: an entry fired early, late or twice, or lost in a cascade or in the overflow list;
//! a stale key that still touches an entry; `next_deadline` later than the earliest entry, or
//! reporting "due" when nothing is; `len` drifting. About 1,000 cases of up to 300 operations,
//! a few seconds in a debug build.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use spindle_timer::{StaleKey, TimerKey, TimerWheel};

/// The first tick of each level above 0, and of the overflow (2^36).
const LEVEL_BOUNDARIES: [u64; 6] = [64, 4_096, 262_144, 1 << 24, 1 << 30, 1 << 36];

/// A deadline, relative to the clock when the operation runs.
#[derive(Clone, Debug)]
enum When {
    After(u64),
    Before(u64),
    At(u64),
}

impl When {
    fn resolve(&self, clock: u64) -> u64 {
        match *self {
            When::After(delta) => clock.saturating_add(delta),
            When::Before(delta) => clock.saturating_sub(delta),
            When::At(tick) => tick,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(When),
    /// Cancel the key issued `n`-th (mod the number issued): live, fired or cancelled.
    Cancel(usize),
    Reset(usize, When),
    /// Advance the clock by this much (saturating).
    Advance(u64),
    /// Advance the clock to this tick, if it is later.
    AdvanceTo(u64),
}

/// A delta that lands on every level: near a level boundary, or log-uniform below 2^40.
fn delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0..70u64,
        3 => (0..LEVEL_BOUNDARIES.len(), -2i64..=2)
            .prop_map(|(level, offset)| LEVEL_BOUNDARIES[level].wrapping_add_signed(offset)),
        4 => (1..41u32).prop_flat_map(|bits| 0..1u64 << bits),
    ]
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        8 => delta().prop_map(When::After),
        1 => delta().prop_map(When::Before),
        1 => prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()].prop_map(When::At),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => when().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        2 => (any::<usize>(), when()).prop_map(|(n, when)| Op::Reset(n, when)),
        4 => delta().prop_map(Op::Advance),
        1 => prop_oneof![
            (1u64 << 36..1 << 40),
            (0..1u64 << 20).prop_map(|back| u64::MAX - back),
        ]
        .prop_map(Op::AdvanceTo),
    ]
}

/// The reference: live entries by `(deadline, sequence number)`.
struct Model {
    clock: u64,
    queue: BTreeMap<(u64, u64), usize>,
    /// Per live id: its queue key and its firing rank, `max(deadline, clock when placed)`.
    live: HashMap<usize, ((u64, u64), u64)>,
    sequence: u64,
}

impl Model {
    fn place(&mut self, id: usize, deadline: u64) {
        self.sequence += 1;
        let key = (deadline, self.sequence);
        self.queue.insert(key, id);
        self.live.insert(id, (key, deadline.max(self.clock)));
    }

    fn remove(&mut self, id: usize) -> bool {
        match self.live.remove(&id) {
            Some((key, _)) => self.queue.remove(&key).is_some(),
            None => false,
        }
    }
}

fn check_next_deadline(wheel: &TimerWheel<usize>, model: &Model) -> Result<(), TestCaseError> {
    let earliest = model.queue.keys().next().map(|&(deadline, _)| deadline);
    match (wheel.next_deadline(), earliest) {
        (None, None) => {}
        (Some(next), Some(earliest)) => {
            prop_assert!(
                next <= earliest,
                "next_deadline {} > earliest {}",
                next,
                earliest
            );
            let clock = model.clock;
            if earliest > clock {
                prop_assert!(
                    next > clock,
                    "next_deadline {} reports due at {}",
                    next,
                    clock
                );
                if earliest >> 6 == clock >> 6 {
                    prop_assert_eq!(next, earliest, "level 0 is exact");
                }
            }
        }
        (next, earliest) => {
            prop_assert!(
                false,
                "next_deadline {:?} but earliest {:?}",
                next,
                earliest
            )
        }
    }
    Ok(())
}

fn run(start: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut wheel = TimerWheel::new(start);
    let mut model = Model {
        clock: start,
        queue: BTreeMap::new(),
        live: HashMap::new(),
        sequence: 0,
    };
    let mut keys: Vec<TimerKey> = Vec::new();

    for op in ops {
        match op {
            Op::Insert(when) => {
                let deadline = when.resolve(model.clock);
                let id = keys.len();
                keys.push(wheel.insert(deadline, id));
                model.place(id, deadline);
            }
            Op::Cancel(_) | Op::Reset(..) if keys.is_empty() => {}
            Op::Cancel(n) => {
                let id = n % keys.len();
                let expected = model.remove(id).then_some(id);
                prop_assert_eq!(wheel.cancel(keys[id]), expected);
            }
            Op::Reset(n, when) => {
                let id = n % keys.len();
                let deadline = when.resolve(model.clock);
                if model.remove(id) {
                    prop_assert_eq!(wheel.reset(keys[id], deadline), Ok(()));
                    model.place(id, deadline);
                } else {
                    prop_assert_eq!(wheel.reset(keys[id], deadline), Err(StaleKey));
                }
            }
            Op::Advance(_) | Op::AdvanceTo(_) => {
                let now = match op {
                    Op::Advance(delta) => model.clock.saturating_add(delta),
                    Op::AdvanceTo(tick) => tick.max(model.clock),
                    _ => unreachable!(),
                };
                let mut fired = Vec::new();
                wheel.advance(now, |id| fired.push(id));
                model.clock = now;

                let due = match now.checked_add(1) {
                    Some(after) => {
                        let later = model.queue.split_off(&(after, 0));
                        std::mem::replace(&mut model.queue, later)
                    }
                    None => std::mem::take(&mut model.queue),
                };
                let ranks: Vec<u64> = fired.iter().map(|id| model.live[id].1).collect();
                prop_assert!(
                    ranks.windows(2).all(|w| w[0] <= w[1]),
                    "fired out of order: {:?}",
                    ranks
                );
                let mut expected: Vec<usize> = due.into_values().collect();
                for id in &expected {
                    model.live.remove(id);
                }
                expected.sort_unstable();
                fired.sort_unstable();
                prop_assert_eq!(&fired, &expected, "fired at {}", now);
                for &id in &fired {
                    prop_assert_eq!(wheel.deadline(keys[id]), None, "a fired key is stale");
                }
            }
        }
        prop_assert_eq!(wheel.len(), model.live.len());
        prop_assert_eq!(wheel.is_empty(), model.live.is_empty());
        prop_assert_eq!(wheel.now(), model.clock);
        for (&id, &((deadline, _), _)) in &model.live {
            prop_assert_eq!(wheel.deadline(keys[id]), Some(deadline));
            prop_assert_eq!(wheel.get(keys[id]), Some(&id));
        }
        check_next_deadline(&wheel, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// After every operation the wheel and the model agree on what fired, on every live
    /// entry's deadline and on `len`; `next_deadline` is a sound lower bound.
    #[test]
    fn wheel_matches_a_btreemap_model(
        start in prop_oneof![4 => 0..1u64 << 40, 1 => (0..1u64 << 20).prop_map(|b| u64::MAX - b)],
        ops in prop::collection::vec(op(), 1..300),
    ) {
        run(start, ops)?;
    }

    /// A runtime sleeps until `next_deadline` and advances to it: driven that way, each entry
    /// fires in the advance whose `now` is its deadline (or at once, if it was due already),
    /// within a few steps per entry.
    #[test]
    fn driving_by_next_deadline_fires_each_entry_on_time(
        start in 0..1u64 << 40,
        deadlines in prop::collection::vec(when(), 1..100),
    ) {
        let mut wheel = TimerWheel::new(start);
        let deadlines: Vec<u64> = deadlines.iter().map(|when| when.resolve(start)).collect();
        for (id, &deadline) in deadlines.iter().enumerate() {
            wheel.insert(deadline, id);
        }
        let mut fired = 0;
        let mut steps = 0;
        while let Some(next) = wheel.next_deadline() {
            let now = next.max(start);
            wheel.advance(now, |id| {
                assert_eq!(deadlines[id].max(start), now, "entry {} fired off time", id);
                fired += 1;
            });
            steps += 1;
            prop_assert!(steps <= 8 * deadlines.len(), "{} steps for {} entries", steps, deadlines.len());
        }
        prop_assert_eq!(fired, deadlines.len());
    }
}
