//! The signal registry's dispatch protocol (`signal/registry.rs`) and the orphan queue's
//! hand-off (`process/reap.rs`), on the real code.
//!
//! The self-pipe is `crate::loom::self_pipe`'s stand-in, a loom atomic counting its bytes, so
//! the handler's write and a reactor's drain are steps loom interleaves with the flags. A
//! "turn" below is what a watching reactor does when its duplicate of the read end is
//! readable (`Registry::dispatch` draining that duplicate); "settling" is the turns that
//! follow while bytes are left, since the kernel reports a non-empty pipe readable to every
//! reactor watching it. The signal handler's body (`Registry::record`) runs on a loom thread,
//! as a handler runs on whatever thread the kernel interrupts.

use super::{counting_waker, model};
use crate::loom::self_pipe::{self, Reader};
use crate::process::{Orphan, OrphanQueue};
use crate::signal::Registry;
use loom::sync::atomic::AtomicBool;
use loom::thread;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::Context;

/// The one signal number the models use (slot 0 is never used, as in the real registry).
const SIGNUM: i32 = 1;

fn registry() -> Arc<Registry> {
    Arc::new(Registry::new(2).unwrap())
}

/// One reactor's turn with its duplicate `reader` readable: drain, then dispatch.
fn turn(registry: &Registry, reader: &Reader) {
    registry.dispatch(|| self_pipe::drain(reader));
}

/// The turns that follow while bytes are left in the pipe.
fn settle(registry: &Registry, reader: &Reader) {
    while reader.is_readable() {
        turn(registry, reader);
    }
}

/// A signal is in flight (flag set, byte written) when a reactor starts its turn; a second
/// one is raised while it dispatches, and a listener polls meanwhile.
///
/// Asserts that the in-flight signal is dispatched; that a signal raised after a dispatch was
/// published (the handler read that generation first) leads to a later dispatch, so no signal
/// is lost between two `recv`s; and that a listener that returned `Pending` was woken.
///
/// Catches: a dispatch that takes the flags before draining the pipe (a handler between the
/// two leaves its flag set and its byte drained: no later turn comes), one that clears a flag
/// after bumping the generation instead of taking it with a swap (a handler between the two
/// has its flag erased), and a listener that does not re-read the generation after storing
/// its waker, or a dispatch that takes the wakers before bumping it (a lost wake-up).
#[test]
fn a_signal_raised_during_a_dispatch_is_dispatched_and_wakes_the_listener() {
    model(|| {
        let registry = registry();
        registry.record(SIGNUM);
        let slot = registry.slot(SIGNUM);
        let (key, mut seen) = slot.listen();

        let reactor = {
            let (registry, reader) = (registry.clone(), registry.reader().unwrap());
            thread::spawn(move || turn(&registry, &reader))
        };
        let handler = {
            let registry = registry.clone();
            thread::spawn(move || {
                let published = registry.slot(SIGNUM).generation();
                registry.record(SIGNUM);
                published
            })
        };
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let first = slot.poll(key, &mut seen, &mut cx);

        reactor.join().unwrap();
        let published = handler.join().unwrap();
        settle(&registry, &registry.reader().unwrap());

        let generation = slot.generation();
        assert!(generation >= 1, "the signal in flight was never dispatched");
        assert!(
            generation > published,
            "a signal raised after dispatch {published} was published was lost"
        );
        if first.is_pending() {
            assert!(
                wakes.0.load(SeqCst) >= 1,
                "a waiting listener was not woken"
            );
        }
        if generation != seen {
            assert!(slot.poll(key, &mut seen, &mut cx).is_ready());
        }
        slot.forget(key);
    });
}

/// Two reactors (two runtimes, each with its own duplicate of the read end) turn at once
/// while the handler raises one signal and a listener waits for it.
///
/// Asserts the signal is dispatched exactly once, whichever reactor drains its byte, and the
/// listener is woken exactly once. Catches a dispatch that reads a flag and then clears it
/// (both reactors see it set: dispatched twice) instead of one swap, and a byte drained by
/// one reactor while the other takes the flag too early (dispatched never).
#[test]
fn two_reactors_dispatch_a_signal_once() {
    model(|| {
        let registry = registry();
        let slot = registry.slot(SIGNUM);
        let (key, mut seen) = slot.listen();
        let (wakes, waker) = counting_waker();
        assert!(slot
            .poll(key, &mut seen, &mut Context::from_waker(&waker))
            .is_pending());

        let reactors: Vec<_> = (0..2)
            .map(|_| {
                let (registry, reader) = (registry.clone(), registry.reader().unwrap());
                thread::spawn(move || turn(&registry, &reader))
            })
            .collect();
        registry.record(SIGNUM);
        for reactor in reactors {
            reactor.join().unwrap();
        }
        settle(&registry, &registry.reader().unwrap());

        assert_eq!(slot.generation(), 1, "one signal, one dispatch");
        assert_eq!(wakes.0.load(SeqCst), 1);
        slot.forget(key);
    });
}

/// A stand-in child: `exited` is its exit, `reaped` the `waitpid` that collected it.
struct FakeChild {
    exited: Arc<AtomicBool>,
    reaped: Arc<AtomicBool>,
}

impl Orphan for FakeChild {
    fn try_reap(&mut self) -> bool {
        let exited = self.exited.load(SeqCst);
        if exited {
            self.reaped.store(true, SeqCst);
        }
        exited
    }
}

/// A child is dropped unreaped (O2, O3 of `reap.rs`: queue it, then reap the queue) while it
/// exits and the `SIGCHLD` that follows makes the reaper reap the queue (R1).
///
/// Asserts the orphan is reaped and gone from the queue. Catches a drop that only queues the
/// orphan (the reaper's pass ran before the push, and no `SIGCHLD` comes after the exit: a
/// zombie), and a reap pass that looks at a copy of the queue taken before the push.
#[test]
fn an_orphan_dropped_while_the_reaper_runs_is_reaped() {
    model(|| {
        let queue = Arc::new(OrphanQueue::new());
        let exited = Arc::new(AtomicBool::new(false));
        let reaped = Arc::new(AtomicBool::new(false));
        let child = FakeChild {
            exited: exited.clone(),
            reaped: reaped.clone(),
        };
        let exit = {
            let queue = queue.clone();
            thread::spawn(move || {
                exited.store(true, SeqCst);
                queue.reap(); // the reaper, woken by the SIGCHLD dispatch
            })
        };
        queue.adopt(child);
        exit.join().unwrap();
        assert!(reaped.load(SeqCst), "the orphan was left a zombie");
    });
}
