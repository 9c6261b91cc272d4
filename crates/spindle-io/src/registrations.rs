//! The reactor's registration set: every live socket's `ScheduledIo`, found from a mio token
//! in O(1), with generational tokens.
//!
//! # Tokens
//!
//! A token packs a slot index (low half of the word) and the slot's generation (high half).
//! Removing an entry bumps its slot's generation, so a token names one registration, never a
//! later one that reuses the slot: an event still in flight for a socket that was dropped (it
//! was in the `Events` buffer of a turn running while the socket deregistered) finds either
//! an empty slot or a newer generation, and is ignored. It is never applied to the new socket
//! that got the same descriptor and slot.
//!
//! # Invariants
//!
//! 1. An index is live (`io` is `Some`) from `insert` until `remove` with a token of the
//!    current generation; `get` and `remove` with any other token find nothing.
//! 2. The index with every bit set is never allocated, so `WAKE_TOKEN` (all ones) names no
//!    registration.
//! 3. Entries are `Arc`s: the set and the socket each hold one. No turn holds a reference to
//!    an entry outside the set's lock, so a removed entry lives exactly as long as its socket,
//!    and nothing the reactor does can touch it after that (no unsafe, no deferred release).
//!
//! # Why a slab and not pointers as tokens
//!
//! tokio uses the `ScheduledIo`'s address as the token and releases memory only between turns.
//! That saves a lock per turn but needs unsafe pointer casts and a deferred-release list. Here
//! the turn takes this set's lock once for all its events (the lock is otherwise held only for
//! an insert or a remove), and the generation check makes stale events harmless without any
//! unsafe. The generation wraps after 2³² reuses of one slot (2¹⁶ on 32-bit targets), far more
//! than can happen while one turn's events are applied.

use crate::scheduled_io::ScheduledIo;
use mio::Token;
use std::io;
use std::sync::Arc;

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: usize = usize::MAX >> INDEX_BITS;

/// The token of the reactor's `mio::Waker` (invariant 2).
pub(crate) const WAKE_TOKEN: Token = Token(usize::MAX);

pub(crate) struct RegistrationSet {
    slots: Vec<Slot>,
    free: Vec<usize>,
    len: usize,
}

struct Slot {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

fn split(token: Token) -> (usize, usize) {
    (
        token.0 & INDEX_MASK,
        (token.0 >> INDEX_BITS) & GENERATION_MASK,
    )
}

impl RegistrationSet {
    pub(crate) fn new() -> RegistrationSet {
        RegistrationSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Adds `io`, returning its token.
    pub(crate) fn insert(&mut self, io: Arc<ScheduledIo>) -> io::Result<Token> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < INDEX_MASK => {
                self.slots.push(Slot {
                    generation: 0,
                    io: None,
                });
                self.slots.len() - 1
            }
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("a spindle reactor holds at most {INDEX_MASK} registrations"),
                ))
            }
        };
        let slot = &mut self.slots[index];
        debug_assert!(slot.io.is_none());
        slot.io = Some(io);
        self.len += 1;
        Ok(Token((slot.generation << INDEX_BITS) | index))
    }

    /// The entry `token` names, if it is still registered.
    pub(crate) fn get(&self, token: Token) -> Option<&Arc<ScheduledIo>> {
        let (index, generation) = split(token);
        let slot = self.slots.get(index)?;
        if slot.generation == generation {
            slot.io.as_ref()
        } else {
            None
        }
    }

    /// Removes the entry `token` names; its slot's next occupant gets a new generation.
    pub(crate) fn remove(&mut self, token: Token) -> Option<Arc<ScheduledIo>> {
        let (index, generation) = split(token);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let io = slot.io.take()?;
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        self.free.push(index);
        self.len -= 1;
        Some(io)
    }

    /// How many entries are registered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every registered entry.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<ScheduledIo>> {
        self.slots.iter().filter_map(|slot| slot.io.as_ref())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ready::Ready;

    fn entry() -> Arc<ScheduledIo> {
        Arc::new(ScheduledIo::new(Ready::EMPTY))
    }

    #[test]
    fn a_reused_slot_does_not_answer_to_the_old_token() {
        let mut set = RegistrationSet::new();
        let old = set.insert(entry()).unwrap();
        assert!(set.remove(old).is_some());
        let new = set.insert(entry()).unwrap();
        assert_eq!(split(old).0, split(new).0, "the slot is reused");
        assert_ne!(old, new);
        assert!(set.get(old).is_none());
        assert!(set.remove(old).is_none());
        assert!(set.get(new).is_some());
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn the_wake_token_names_no_registration() {
        let mut set = RegistrationSet::new();
        let tokens: Vec<_> = (0..100).map(|_| set.insert(entry()).unwrap()).collect();
        assert!(tokens.iter().all(|&token| token != WAKE_TOKEN));
        assert!(set.get(WAKE_TOKEN).is_none());
        assert_eq!(set.iter().count(), 100);
        for token in tokens {
            set.remove(token).unwrap();
        }
        assert_eq!(set.len(), 0);
    }
}
