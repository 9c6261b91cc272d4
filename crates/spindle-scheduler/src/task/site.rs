//! Spawn sites: a task's spawn location and its vtable, kept in 4 bytes.
//!
//! A `&'static Location` is 8 bytes and a `&'static Vtable` another 8, and a task pays for every
//! byte of its header a million times over in a program that holds a million idle tasks. A
//! [`SpawnSite`] is instead an index into one process-wide table of the (location, vtable)
//! pairs that have spawned. Each location is a static (`#[track_caller]` makes one per call
//! site, or a few when the caller is compiled more than once) and each vtable a static per task
//! type, so the table stops growing once every call site has spawned each of its task types.
//!
//! A spawn finds its site in a small cache of its own thread, indexed by the pair's addresses:
//! one load and two comparisons when the same call sites spawn again, as they do. A miss takes
//! the table's lock. Turning a site back into its location (task dumps, slow-poll and panic
//! reports) takes the lock too: those are the rare paths.
//!
//! # Invariant
//!
//! The vtable is read on every poll, wake and release, so it is read without the lock. That is
//! sound because an entry is written once, under the lock, before its index is handed out, and
//! never again; and every index in a task header was handed to the thread that spawned the task
//! by that lock (directly, or through that thread's cache, filled after taking it). So the
//! entry's write happens before the header's, which happens before any use of the task by
//! another thread, as the task's allocation itself must.

use super::raw::Vtable;
use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::panic::Location;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// A spawn location and task type, interned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SpawnSite(u32);

/// How many (location, vtable) pairs one process can spawn from. The vtables are a static of 8
/// bytes per site (512 KiB of address space, of which only the pages in use are ever touched),
/// so that finding one is a single indexed load from a fixed address.
const CAPACITY: usize = 1 << 16;

/// Each site's vtable, written as the module's invariant says.
struct Vtables([UnsafeCell<MaybeUninit<&'static Vtable>>; CAPACITY]);

// SAFETY: an entry is written once, under `TABLE`'s lock, before any thread can know its index,
// and only read after that (the module's invariant).
unsafe impl Sync for Vtables {}

static VTABLES: Vtables = Vtables([const { UnsafeCell::new(MaybeUninit::uninit()) }; CAPACITY]);

/// Each site's location, and the site of each (location, vtable) pair, by their addresses.
struct Table {
    locations: Vec<&'static Location<'static>>,
    by_addresses: HashMap<(usize, usize), u32>,
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| {
    Mutex::new(Table {
        locations: Vec::new(),
        by_addresses: HashMap::new(),
    })
});

/// Entries in each thread's cache: a power of two.
const CACHE_SLOTS: usize = 64;

thread_local! {
    /// (location address, vtable address, site) triples; location address 0 marks an empty
    /// slot.
    static CACHE: [Cell<(usize, usize, u32)>; CACHE_SLOTS] =
        const { [const { Cell::new((0, 0, 0)) }; CACHE_SLOTS] };
}

fn table() -> MutexGuard<'static, Table> {
    // The table is consistent between any two statements that touch it (an entry written, then
    // counted, then indexed), and none of them panics halfway, so a poisoned lock is usable.
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SpawnSite {
    /// The site of the tasks with this `vtable` spawned at `location`.
    #[inline]
    pub(crate) fn of(location: &'static Location<'static>, vtable: &'static Vtable) -> SpawnSite {
        let addresses = (
            std::ptr::from_ref(location) as usize,
            std::ptr::from_ref(vtable) as usize,
        );
        // Both are word-aligned, so their low bits carry nothing.
        let slot = ((addresses.0 ^ addresses.1.rotate_right(7)) >> 3) % CACHE_SLOTS;
        CACHE.with(|cache| {
            let (cached_location, cached_vtable, site) = cache[slot].get();
            if (cached_location, cached_vtable) == addresses {
                return SpawnSite(site);
            }
            let site = SpawnSite::intern(addresses, location, vtable);
            cache[slot].set((addresses.0, addresses.1, site.0));
            site
        })
    }

    #[cold]
    fn intern(
        addresses: (usize, usize),
        location: &'static Location<'static>,
        vtable: &'static Vtable,
    ) -> SpawnSite {
        let mut table = table();
        if let Some(&site) = table.by_addresses.get(&addresses) {
            return SpawnSite(site);
        }
        let index = table.locations.len();
        assert!(
            index < CAPACITY,
            "more than {CAPACITY} distinct pairs of spawn call site and task type in one process"
        );
        // SAFETY: entry `index` is not written yet, so no thread knows its index to read it,
        // and the lock held keeps any other thread from writing it.
        unsafe { VTABLES.0[index].get().write(MaybeUninit::new(vtable)) };
        table.locations.push(location);
        let site = u32::try_from(index).expect("CAPACITY fits in a u32");
        table.by_addresses.insert(addresses, site);
        SpawnSite(site)
    }

    /// The vtable of this site's tasks.
    #[inline]
    pub(crate) fn vtable(self) -> &'static Vtable {
        // SAFETY: a `SpawnSite` is made by `intern` (or by `from_u32`, from the number of one
        // that was), so its index is below `CAPACITY` and its entry is written, and that write
        // happened before this read (the module's invariant).
        unsafe { (*VTABLES.0.get_unchecked(self.0 as usize).get()).assume_init_ref() }
    }

    /// The location this site was made from.
    pub(crate) fn location(self) -> &'static Location<'static> {
        Locations(table()).of(self)
    }

    /// Every site's location, under one lock, for looking many up.
    pub(crate) fn locations() -> Locations {
        Locations(table())
    }

    /// The site as a plain number, to publish through an atomic (`slow_poll`).
    pub(crate) fn to_u32(self) -> u32 {
        self.0
    }

    /// A site published with [`SpawnSite::to_u32`].
    ///
    /// # Safety
    /// `site` is the `to_u32` of a `SpawnSite` ([`SpawnSite::vtable`] relies on it).
    pub(crate) unsafe fn from_u32(site: u32) -> SpawnSite {
        SpawnSite(site)
    }
}

/// Sites for tests of what carries them, of a task type never spawned.
#[cfg(test)]
impl SpawnSite {
    pub(crate) fn for_tests(location: &'static Location<'static>) -> SpawnSite {
        SpawnSite::of(location, tests::vtable_of::<()>())
    }
}

/// The table, locked: [`SpawnSite::locations`].
pub(crate) struct Locations(MutexGuard<'static, Table>);

impl Locations {
    pub(crate) fn of(&self, site: SpawnSite) -> &'static Location<'static> {
        self.0.locations[site.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Runnable, Schedule, TaskRef};
    use std::future::Pending;

    struct NeverScheduled;

    impl Schedule for NeverScheduled {
        fn schedule(&self, _task: Runnable) {
            unreachable!("no task of this type is spawned");
        }

        fn release(&self, _task: TaskRef) -> bool {
            false
        }
    }

    /// The vtable of a task type that no test spawns: one per `T`.
    pub(super) fn vtable_of<T: 'static>() -> &'static Vtable {
        Vtable::of::<Pending<T>, NeverScheduled>()
    }

    #[cfg(not(loom))]
    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[cfg(not(loom))]
    #[test]
    fn each_location_keeps_its_site_on_every_thread() {
        let first = here();
        let second = here();
        assert_ne!(first, second);
        let (a, b) = (SpawnSite::for_tests(first), SpawnSite::for_tests(second));
        assert_ne!(a, b);
        assert_eq!(SpawnSite::for_tests(first), a, "cached");
        assert_eq!(a.location(), first);
        assert_eq!(b.location(), second);
        let on_another_thread = std::thread::spawn(move || SpawnSite::for_tests(first))
            .join()
            .unwrap();
        assert_eq!(on_another_thread, a, "one table for the process");
    }

    /// One call site spawning two task types has a site for each, and each site gives back
    /// its own type's vtable.
    #[cfg(not(loom))]
    #[test]
    fn each_task_type_at_one_location_keeps_its_own_vtable() {
        let location = here();
        let (units, bytes) = (vtable_of::<()>(), vtable_of::<u8>());
        assert!(!std::ptr::eq(units, bytes));
        let (a, b) = (
            SpawnSite::of(location, units),
            SpawnSite::of(location, bytes),
        );
        assert_ne!(a, b);
        assert!(std::ptr::eq(a.vtable(), units) && std::ptr::eq(b.vtable(), bytes));
        assert_eq!((a.location(), b.location()), (location, location));
        let from_another_thread = std::thread::spawn(move || SpawnSite::of(location, bytes))
            .join()
            .unwrap();
        assert!(std::ptr::eq(from_another_thread.vtable(), bytes));
    }

    /// More sites than cache slots, so that slots are shared and overwritten: each site still
    /// maps to its own location and vtable.
    #[cfg(not(loom))]
    #[test]
    fn cache_collisions_never_mix_sites_up() {
        // Copies of one location at distinct addresses stand in for distinct call sites.
        let locations: Vec<&'static Location<'static>> = (0..3 * CACHE_SLOTS)
            .map(|_| &*Box::leak(Box::new(*Location::caller())))
            .collect();
        let vtables = [vtable_of::<()>(), vtable_of::<u8>()];
        let sites: Vec<_> = locations
            .iter()
            .flat_map(|&l| vtables.map(|v| SpawnSite::of(l, v)))
            .collect();
        for _ in 0..2 {
            let pairs = locations.iter().flat_map(|&l| vtables.map(|v| (l, v)));
            for ((location, vtable), &site) in pairs.zip(&sites) {
                assert_eq!(SpawnSite::of(location, vtable), site);
                assert!(std::ptr::eq(site.location(), location));
                assert!(std::ptr::eq(site.vtable(), vtable));
            }
        }
    }
}
