//! Spawn sites: a task's spawn location kept in 4 bytes.
//!
//! A `&'static Location` is 8 bytes, and a task pays for every byte of its header a million
//! times over in a program that holds a million idle tasks. A [`SpawnSite`] is instead an index
//! into one process-wide table of the locations that have spawned, keyed by address. Each
//! location is a static (`#[track_caller]` makes one per call site, or a few when the caller is
//! compiled more than once), so the table stops growing once every call site has spawned.
//!
//! A spawn finds its site in a small cache of its own thread, indexed by the location's
//! address: one load and one comparison when the same call sites spawn again, as they do. A
//! miss takes the table's lock. Turning a site back into its location (task dumps, slow-poll
//! and panic reports) takes the lock too: those are the rare paths.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// A spawn location, interned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SpawnSite(u32);

/// Every location that has spawned, and the index of each.
struct Table {
    locations: Vec<&'static Location<'static>>,
    by_address: HashMap<usize, u32>,
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| {
    Mutex::new(Table {
        locations: Vec::new(),
        by_address: HashMap::new(),
    })
});

/// Entries in each thread's cache: a power of two.
const CACHE_SLOTS: usize = 64;

thread_local! {
    /// (location address, its site) pairs; address 0 marks an empty slot.
    static CACHE: [Cell<(usize, u32)>; CACHE_SLOTS] =
        const { [const { Cell::new((0, 0)) }; CACHE_SLOTS] };
}

fn table() -> MutexGuard<'static, Table> {
    // The table is consistent between any two statements that touch it (a push, then an
    // insert of the index pushed), and neither panics halfway, so a poisoned lock is usable.
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SpawnSite {
    /// The site of `location`.
    #[inline]
    pub(crate) fn of(location: &'static Location<'static>) -> SpawnSite {
        let address = std::ptr::from_ref(location) as usize;
        // `Location` is word-aligned, so the low bits carry nothing.
        let slot = (address >> 3) % CACHE_SLOTS;
        CACHE.with(|cache| {
            let (cached, site) = cache[slot].get();
            if cached == address {
                return SpawnSite(site);
            }
            let site = SpawnSite::intern(address, location);
            cache[slot].set((address, site.0));
            site
        })
    }

    #[cold]
    fn intern(address: usize, location: &'static Location<'static>) -> SpawnSite {
        let mut table = table();
        if let Some(&site) = table.by_address.get(&address) {
            return SpawnSite(site);
        }
        let site = u32::try_from(table.locations.len())
            .expect("fewer than 2^32 spawning call sites in one program");
        table.locations.push(location);
        table.by_address.insert(address, site);
        SpawnSite(site)
    }

    /// The location this site was made from.
    pub(crate) fn location(self) -> &'static Location<'static> {
        table().locations[self.0 as usize]
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
    pub(crate) fn from_u32(site: u32) -> SpawnSite {
        SpawnSite(site)
    }
}

/// The table, locked: [`SpawnSite::locations`].
pub(crate) struct Locations(MutexGuard<'static, Table>);

impl Locations {
    pub(crate) fn of(&self, site: SpawnSite) -> &'static Location<'static> {
        self.0.locations[site.0 as usize]
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn each_location_keeps_its_site_on_every_thread() {
        let first = here();
        let second = here();
        assert_ne!(first, second);
        let (a, b) = (SpawnSite::of(first), SpawnSite::of(second));
        assert_ne!(a, b);
        assert_eq!(SpawnSite::of(first), a, "cached");
        assert_eq!(a.location(), first);
        assert_eq!(b.location(), second);
        let on_another_thread = std::thread::spawn(move || SpawnSite::of(first))
            .join()
            .unwrap();
        assert_eq!(on_another_thread, a, "one table for the process");
    }

    /// More sites than cache slots, so that slots are shared and overwritten: each site still
    /// maps to its own location.
    #[test]
    fn cache_collisions_never_mix_sites_up() {
        // Copies of one location at distinct addresses stand in for distinct call sites.
        let locations: Vec<&'static Location<'static>> = (0..3 * CACHE_SLOTS)
            .map(|_| &*Box::leak(Box::new(*Location::caller())))
            .collect();
        let sites: Vec<_> = locations.iter().map(|&l| SpawnSite::of(l)).collect();
        for _ in 0..2 {
            for (&location, &site) in locations.iter().zip(&sites) {
                assert_eq!(SpawnSite::of(location), site);
                assert!(std::ptr::eq(site.location(), location));
            }
        }
    }
}
