//! The storage behind [`TimerWheel`](crate::TimerWheel): a slab of nodes threaded into
//! index-based intrusive doubly linked lists.
//!
//! # Invariants
//!
//! 1. A node is in exactly one of three states:
//!    - *free*: `value` is `None`, `list == NO_LIST`, and the node is on the free list (linked
//!      through `next`), or it is *retired* (its generation is spent, see 4) and on no list;
//!    - *linked*: `value` is `Some`, `list` names the list (a wheel slot, the pending list or
//!      the overflow list) whose chain, starting at `heads[list]`, contains it;
//!    - *detached*: `value` is `Some`, `list == NO_LIST`: between [`Slab::allocate`] or
//!      [`Slab::unlink`] and the next [`Slab::push_front`] or
//!      [`Slab::release`]. No method of the wheel returns with a node detached, and none calls
//!      out to user code (the `fire` callback) while one is.
//! 2. In every list, `prev`/`next` are mirror images: `nodes[i].next == j` iff
//!    `nodes[j].prev == i`; the head's `prev` and the tail's `next` are `NIL`.
//! 3. `len` counts the nodes whose `value` is `Some`.
//! 4. A key `(index, generation)` is live iff `nodes[index].generation == generation` and the
//!    node holds a value. Releasing a node bumps its generation, so every key issued for the
//!    node's previous occupant goes stale. A node whose generation would wrap is retired
//!    instead of reused, so a stale key can never match a later occupant (this leaks one node,
//!    a few dozen bytes, per 2^32 reuses of one slot).
//!
//! # Why
//!
//! Index links instead of pointers keep the whole crate free of `unsafe`, and one `Vec` of
//! nodes means no allocation per timer: the slab grows to the peak number of live entries and
//! then only recycles. `u32` indices keep a node at 40 bytes for a 16-byte `T` (a `Waker`).

/// "No node": the end of a chain.
pub(crate) const NIL: u32 = u32::MAX;

/// "On no list": a free, retired or detached node.
const NO_LIST: u16 = u16::MAX;

/// A generational handle to a slab node: stale once the node is released.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct SlabKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

struct Node<T> {
    value: Option<T>,
    deadline: u64,
    generation: u32,
    prev: u32,
    next: u32,
    list: u16,
}

/// `LISTS` list heads over one slab of nodes (see the module docs).
pub(crate) struct Slab<T, const LISTS: usize> {
    nodes: Vec<Node<T>>,
    heads: [u32; LISTS],
    free: u32,
    len: usize,
}

impl<T, const LISTS: usize> Slab<T, LISTS> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Slab {
            nodes: Vec::with_capacity(capacity),
            heads: [NIL; LISTS],
            free: NIL,
            len: 0,
        }
    }

    /// The number of nodes holding a value.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The number of nodes ever allocated (live, free or retired): the slab's footprint.
    #[cfg(test)]
    pub(crate) fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Stores `value` in a free node (or a new one) and returns its key. The node is detached.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` nodes (hundreds of gigabytes) are already allocated.
    pub(crate) fn allocate(&mut self, deadline: u64, value: T) -> SlabKey {
        self.len += 1;
        if self.free != NIL {
            let index = self.free;
            let node = &mut self.nodes[index as usize];
            self.free = node.next;
            node.value = Some(value);
            node.deadline = deadline;
            node.next = NIL;
            return SlabKey {
                index,
                generation: node.generation,
            };
        }
        let index = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&index| index != NIL)
            .expect(
                "TimerWheel holds u32::MAX - 1 entries; cancel or fire some before inserting more",
            );
        self.nodes.push(Node {
            value: Some(value),
            deadline,
            generation: 0,
            prev: NIL,
            next: NIL,
            list: NO_LIST,
        });
        SlabKey {
            index,
            generation: 0,
        }
    }

    /// Takes the value out of a detached node and frees the node; every key for it goes stale.
    pub(crate) fn release(&mut self, index: u32) -> T {
        let node = &mut self.nodes[index as usize];
        debug_assert_eq!(node.list, NO_LIST, "release of a linked node");
        let value = node.value.take().expect("release of a free node");
        self.len -= 1;
        match node.generation.checked_add(1) {
            Some(generation) => {
                node.generation = generation;
                node.next = self.free;
                self.free = index;
            }
            // Retired: never reused, so no stale key can ever match it again.
            None => node.next = NIL,
        }
        value
    }

    /// The node `key` names, if the key is live.
    pub(crate) fn lookup(&self, key: SlabKey) -> Option<u32> {
        let node = self.nodes.get(key.index as usize)?;
        (node.generation == key.generation && node.value.is_some()).then_some(key.index)
    }

    pub(crate) fn deadline(&self, index: u32) -> u64 {
        self.nodes[index as usize].deadline
    }

    pub(crate) fn set_deadline(&mut self, index: u32, deadline: u64) {
        self.nodes[index as usize].deadline = deadline;
    }

    pub(crate) fn value(&self, index: u32) -> &T {
        self.nodes[index as usize]
            .value
            .as_ref()
            .expect("value of a free node")
    }

    pub(crate) fn value_mut(&mut self, index: u32) -> &mut T {
        self.nodes[index as usize]
            .value
            .as_mut()
            .expect("value of a free node")
    }

    pub(crate) fn is_empty(&self, list: usize) -> bool {
        self.heads[list] == NIL
    }

    /// Links the detached node `index` at the front of `list`.
    pub(crate) fn push_front(&mut self, list: usize, index: u32) {
        let head = self.heads[list];
        let node = &mut self.nodes[index as usize];
        debug_assert_eq!(node.list, NO_LIST, "push of a linked node");
        node.list = list as u16;
        node.prev = NIL;
        node.next = head;
        if head != NIL {
            self.nodes[head as usize].prev = index;
        }
        self.heads[list] = index;
    }

    /// Unlinks the linked node `index` from its list and returns that list and whether it is
    /// now empty. The node is left detached.
    pub(crate) fn unlink(&mut self, index: u32) -> (usize, bool) {
        let node = &mut self.nodes[index as usize];
        let (list, prev, next) = (usize::from(node.list), node.prev, node.next);
        debug_assert_ne!(node.list, NO_LIST, "unlink of a detached node");
        node.list = NO_LIST;
        node.prev = NIL;
        node.next = NIL;
        if prev == NIL {
            self.heads[list] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        (list, self.heads[list] == NIL)
    }

    /// The first node of `list`.
    pub(crate) fn first(&self, list: usize) -> Option<u32> {
        let head = self.heads[list];
        (head != NIL).then_some(head)
    }

    /// The node after the linked node `index` in its list.
    pub(crate) fn next(&self, index: u32) -> Option<u32> {
        let next = self.nodes[index as usize].next;
        (next != NIL).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(slab: &Slab<char, 2>, list: usize) -> Vec<char> {
        let mut values = Vec::new();
        let mut cursor = slab.first(list);
        while let Some(index) = cursor {
            values.push(*slab.value(index));
            cursor = slab.next(index);
        }
        values
    }

    #[test]
    fn unlinking_from_the_middle_keeps_both_directions_linked() {
        let mut slab = Slab::<char, 2>::with_capacity(3);
        let keys: Vec<_> = ['a', 'b', 'c'].map(|v| slab.allocate(0, v)).into();
        for key in &keys {
            slab.push_front(1, key.index);
        }
        assert_eq!(chain(&slab, 1), ['c', 'b', 'a']);
        assert_eq!(slab.unlink(keys[1].index), (1, false));
        assert_eq!(chain(&slab, 1), ['c', 'a']);
        assert_eq!(slab.unlink(keys[0].index), (1, false));
        assert_eq!(slab.unlink(keys[2].index), (1, true));
        assert!(slab.is_empty(1) && slab.is_empty(0));
        assert_eq!(slab.len(), 3, "unlinked nodes still hold their values");
    }

    #[test]
    fn release_bumps_the_generation_and_reuses_the_node() {
        let mut slab = Slab::<char, 2>::with_capacity(0);
        let first = slab.allocate(7, 'a');
        assert_eq!(slab.lookup(first), Some(first.index));
        assert_eq!(slab.release(first.index), 'a');
        assert_eq!(slab.lookup(first), None);
        let second = slab.allocate(8, 'b');
        assert_eq!(
            (second.index, second.generation),
            (first.index, first.generation + 1)
        );
        assert_eq!(slab.lookup(first), None);
        assert_eq!(slab.deadline(second.index), 8);
        assert_eq!((slab.len(), slab.nodes()), (1, 1));
    }

    #[test]
    fn a_node_whose_generation_is_spent_is_retired_not_reused() {
        let mut slab = Slab::<char, 2>::with_capacity(0);
        let key = slab.allocate(0, 'a');
        slab.nodes[key.index as usize].generation = u32::MAX;
        let last = SlabKey {
            index: key.index,
            generation: u32::MAX,
        };
        assert_eq!(slab.release(last.index), 'a');
        let next = slab.allocate(0, 'b');
        assert_ne!(
            next.index, last.index,
            "the spent node is never handed out again"
        );
        assert_eq!(slab.lookup(last), None);
        assert_eq!(slab.nodes(), 2);
    }
}
