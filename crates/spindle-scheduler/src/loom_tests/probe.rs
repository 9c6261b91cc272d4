//! The paused clock's idle probe (`Spawner::is_idle_with`) against hand-offs between the
//! things it reads, on the real `Shared`, `Idle` and injector: the probe must never answer
//! "idle" from a reading that caught neither side of a hand-off. The blocking pool's count
//! and a `block_on`'s parked flag are loom atomics standing in for the facade's.
//!
//! In both models the only worker is parked throughout, so the probe's answer rests on the
//! hand-off alone.

use super::model;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};
use crate::loom::Arc;
use crate::queue::local_queue;
use crate::scheduler::{Shared, Spawner};
use crate::task::{new_task, Spawned};
use crate::worker::Remote;
use loom::thread;
use spindle_core::{Park, ThreadParker, ThreadUnparker};
use std::sync::atomic::Ordering::SeqCst;

/// A scheduler of one worker, counted parked.
fn parked_scheduler() -> (Arc<Shared<ThreadUnparker>>, Spawner<ThreadUnparker>) {
    let parker = ThreadParker::new();
    let (_queue, stealer) = local_queue();
    let shared = Arc::new(Shared::new(
        Box::new([Remote::new(stealer, parker.unparker())]),
        None,
        None,
    ));
    shared.idle.transition_worker_to_parked(0, false);
    let spawner = Spawner::new(shared.clone());
    (shared, spawner)
}

/// A blocking closure finishes: it queues the task that awaits it, then counts itself done,
/// as the pool's threads do. The probe asks about the pool before it reads the queues, so if
/// it sees the pool done it sees the task queued.
///
/// Catches: the probe reading the queues before asking about the pool (the order before this
/// model), which lets a reading between the push and the count pass for idle: the clock would
/// jump while the task that awaited the closure is runnable.
#[test]
fn a_blocking_closure_queuing_its_joiner_vs_the_idle_probe() {
    model(|| {
        let (shared, spawner) = parked_scheduler();
        let busy = Arc::new(AtomicUsize::new(1));
        let finishing = {
            let (shared, busy) = (shared.clone(), busy.clone());
            thread::spawn(move || {
                let (runnable, _handle, registered) = new_task(
                    async {},
                    shared.clone(),
                    Spawned::now(std::panic::Location::caller()),
                );
                registered.drop_ref();
                shared.injector.push(runnable);
                busy.fetch_sub(1, SeqCst);
            })
        };
        let idle = spawner.is_idle_with(|| busy.load(SeqCst) == 0);
        assert!(!idle, "a task was runnable whatever the probe read");
        finishing.join().unwrap();
        shared.drain_all();
    });
}

/// A `block_on` starts a blocking closure (the pool counts it), then parks. Read in the
/// probe's order (the pool, then the `block_on`), a reading can catch the pool before the
/// closure and the `block_on` after it parked: the `block_on`'s note that it goes idle, made
/// before it parks, moves the word the probe reads before and after.
///
/// Catches: `BlockOnCall::parking` without `note_going_idle` (or the note made after the
/// flag), which lets that reading pass for idle while the closure runs.
#[test]
fn a_block_on_starting_a_blocking_closure_then_parking_vs_the_idle_probe() {
    model(|| {
        let (shared, spawner) = parked_scheduler();
        let busy = Arc::new(AtomicUsize::new(0));
        let parked = Arc::new(AtomicBool::new(false));
        let blocking_on = {
            let (spawner, busy, parked) = (spawner.clone(), busy.clone(), parked.clone());
            thread::spawn(move || {
                busy.fetch_add(1, SeqCst);
                spawner.note_going_idle();
                parked.store(true, SeqCst);
            })
        };
        let idle = spawner.is_idle_with(|| busy.load(SeqCst) == 0 && parked.load(SeqCst));
        assert!(!idle, "the closure was running whatever the probe read");
        blocking_on.join().unwrap();
        shared.drain_all();
    });
}

/// As above, but the `block_on` returns instead of parking: it leaves the runtime's list of
/// `block_on` calls, which the probe then finds empty. Leaving notes that it goes idle too.
///
/// Catches: `BlockOnCall`'s drop without `note_going_idle`, which lets a reading that caught
/// the pool before the closure and the list after the call left pass for idle.
#[test]
fn a_block_on_starting_a_blocking_closure_then_returning_vs_the_idle_probe() {
    model(|| {
        let (shared, spawner) = parked_scheduler();
        let busy = Arc::new(AtomicUsize::new(0));
        let registered = Arc::new(AtomicBool::new(true));
        let returning = {
            let (spawner, busy, registered) = (spawner.clone(), busy.clone(), registered.clone());
            thread::spawn(move || {
                busy.fetch_add(1, SeqCst);
                spawner.note_going_idle();
                registered.store(false, SeqCst);
            })
        };
        // Registered and not parked: busy; gone: nothing to ask.
        let idle = spawner.is_idle_with(|| busy.load(SeqCst) == 0 && !registered.load(SeqCst));
        assert!(!idle, "the closure was running whatever the probe read");
        returning.join().unwrap();
        shared.drain_all();
    });
}
