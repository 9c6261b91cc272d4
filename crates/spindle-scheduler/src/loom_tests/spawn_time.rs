//! The spawn time of tasks spawned from outside the workers (`Shared::spawn_time_outside`):
//! a worker's recent clock reading, published by workers that are not parked and by the one
//! keeping watch over them, and forgotten once every worker is parked. On the real `Shared`
//! and `Idle`.

use super::model;
use crate::loom::Arc;
use crate::queue::local_queue;
use crate::scheduler::Shared;
use crate::worker::Remote;
use loom::thread;
use spindle_core::{Park, ThreadParker, ThreadUnparker};

/// The spawn time of tasks spawned from outside the workers (`Shared::spawn_time_outside`):
/// worker 0, the last one running, parks, while worker 1, parked and keeping watch over it,
/// publishes a clock reading. Once both are done every worker is parked, so no reading may be
/// left for a spawn to take (a spawn minutes later would be dated now).
///
/// Catches: `forget_recent_ms_if_all_parked` without its fence. The watcher's count can then
/// miss the park, and the parked worker's 0 can come before the watcher's reading.
#[test]
fn the_last_worker_parking_vs_a_watcher_publishing_the_spawn_time() {
    model(|| {
        let shared = two_workers_one_parked();
        let last = {
            let shared = shared.clone();
            thread::spawn(move || {
                shared.idle.transition_worker_to_parked(0, false);
                shared.forget_recent_ms_if_all_parked();
            })
        };
        shared.publish_recent_ms(5);
        shared.forget_recent_ms_if_all_parked();
        last.join().unwrap();
        assert!(!shared.has_recent_ms());
    });
}

/// A scheduler of two workers: worker 0 running, worker 1 parked.
fn two_workers_one_parked() -> Arc<Shared<ThreadUnparker>> {
    let remotes = [0, 1].map(|_| {
        let parker = ThreadParker::new();
        let (_queue, stealer) = local_queue();
        Remote::new(stealer, parker.unparker())
    });
    let shared = Arc::new(Shared::new(Box::new(remotes), None, None));
    shared.idle.transition_worker_to_parked(1, false);
    shared
}
