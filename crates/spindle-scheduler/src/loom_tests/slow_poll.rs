//! The slow-poll stamp (`slow_poll`): a worker publishes the poll it is in, another reads it
//! to report a stall.

use super::model;
use crate::loom::Arc;
use crate::slow_poll::PollStamp;
use crate::task::{Id, SpawnSite};
use loom::thread;

/// A stall report names the poll whose stamp it read, never the next poll's task with the
/// previous poll's start: the release fence at the start of `begin` and the acquire fence in
/// `stalled` are what make the second stamp load see the 0 that ended the stamped poll. And
/// a poll is reported once, however many readers see it.
#[test]
fn a_stall_report_names_the_stamped_poll_once() {
    model(|| {
        let stamp = Arc::new(PollStamp::new());
        let (first, second) = (Id::from_u64(1).unwrap(), Id::from_u64(2).unwrap());
        let (first_at, second_at) = (SpawnSite::from_u32(7), SpawnSite::from_u32(9));
        let writer = {
            let stamp = stamp.clone();
            thread::spawn(move || {
                stamp.begin(first, first_at, 10, 1);
                stamp.end();
                stamp.begin(second, second_at, 20, 2);
            })
        };
        let reader = {
            let stamp = stamp.clone();
            thread::spawn(move || stamp.stalled(u64::MAX / 2, 0))
        };
        let here = stamp.stalled(u64::MAX / 2, 0);
        writer.join().unwrap();
        let there = reader.join().unwrap();
        for report in [here, there].into_iter().flatten() {
            match report {
                (id, at, 10) => assert!(id == first && at == first_at),
                (id, at, 20) => assert!(id == second && at == second_at),
                other => panic!("no poll started then: {other:?}"),
            }
        }
        if let (Some(a), Some(b)) = (here, there) {
            assert_ne!(a.2, b.2, "one poll reported twice");
        }
    });
}
