//! The process-wide signal registry: per signal number a pending flag, a generation counter
//! and the listeners' wakers; the self-pipe the handler writes to; the reactors that watch it.
//!
//! # The protocol
//!
//! | who | step |
//! | --- | --- |
//! | handler (any thread, async-signal context) | H1 `pending[n] = true`; H2 write one byte to the self-pipe |
//! | a watching reactor, its duplicate of the read end readable | D1 drain the pipe; D2 for every `n`: if `pending[n].swap(false)` { `generation[n] += 1`; take `n`'s wakers }; D3 wake them |
//! | listener, `poll_recv` | L1 `generation[n] != seen`: `seen = generation[n]`, ready; L2 else store the waker under `n`'s lock, re-read the generation under it, ready if it moved, else pending |
//!
//! # Invariants
//!
//! 1. A flag set by H1 is cleared only by a D2 swap that happens after it, and that D2 bumps
//!    the generation: a signal is never cleared without being dispatched.
//! 2. Every H1 is followed by an H2 whose byte some drain D1 consumes, and that drain's D2
//!    comes after its D1: so some D2 after H1 finds the flag set, or a D2 between H1 and it
//!    already took it. No signal is left pending with the pipe empty. (D2 before D1 would
//!    break this: a handler running between them leaves its flag set and its byte drained.)
//! 3. The generation is bumped before the wakers are taken, under the lock that L2 stores its
//!    waker under, and L2 re-reads the generation under that lock: either D2 finds the waker
//!    or L2 sees the new generation (scheduled_io's rule 4). No wake-up is lost.
//! 4. Only L1/L2 move a listener's `seen`, and only to a generation it returns ready for: a
//!    dispatch between two `recv`s is seen by the next one. Several dispatches between two
//!    `recv`s are seen as one, and so are several signals before one dispatch (the kernel
//!    already merges a signal that arrives while the same one is pending).
//!
//! The dispatch (D1 to D3) runs on whichever reactor thread finds its duplicate of the read
//! end readable, in the waker of that registration (`watcher.rs`), after the reactor released
//! its poll; several reactors may run it at once, which the swaps make harmless (each flag is
//! taken by exactly one of them). The loom models in `loom_tests::signal` run this code.

use super::watcher::Watcher;
use crate::loom::self_pipe::{self, SelfPipe};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};
use crate::loom::sync::Mutex;
use crate::reactor::Reactor;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

/// Signal numbers a listener may ask for: 1 to `SLOTS - 1` (Linux's real-time signals end at 64).
pub(crate) const SLOTS: usize = 65;

pub(crate) struct Registry {
    pipe: SelfPipe,
    /// Indexed by signal number; slot 0 is never used.
    slots: Box<[Slot]>,
    /// Serializes handler installation, so each signal gets one handler.
    install: Mutex<()>,
    /// The reactors watching the pipe, one watcher each.
    watchers: Mutex<Vec<Arc<Watcher>>>,
}

/// One signal number's state.
pub(crate) struct Slot {
    /// Set by the handler, taken by a dispatch.
    pending: AtomicBool,
    /// Dispatches of this signal so far.
    generation: AtomicUsize,
    /// Whether the handler is installed (never uninstalled).
    installed: AtomicBool,
    listeners: Mutex<Listeners>,
}

/// The listeners of one signal: a slab, each listener owning its key from `listen` to
/// `forget`, so the list stays as long as the live listeners however many come and go.
#[derive(Default)]
struct Listeners {
    entries: Vec<Entry>,
    free: Vec<usize>,
}

enum Entry {
    Vacant,
    /// A live listener, and its waker while it waits.
    Listening(Option<Waker>),
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// A registry for signals `1..slots` with a fresh self-pipe.
    pub(crate) fn new(slots: usize) -> io::Result<Registry> {
        Ok(Registry {
            pipe: SelfPipe::new()?,
            slots: (0..slots).map(|_| Slot::new()).collect(),
            install: Mutex::new(()),
            watchers: Mutex::new(Vec::new()),
        })
    }

    /// The process's registry, created on first use.
    pub(crate) fn global() -> io::Result<&'static Registry> {
        if let Some(registry) = GLOBAL.get() {
            return Ok(registry);
        }
        let registry = Registry::new(SLOTS)?;
        // A thread that lost the race drops its pipe here.
        Ok(GLOBAL.get_or_init(|| registry))
    }

    /// The slot of `signum`, which the caller has validated.
    pub(crate) fn slot(&self, signum: i32) -> &Slot {
        &self.slots[signum as usize]
    }

    /// The handler's whole work for `signum` (H1, H2): async-signal-safe, an atomic store and
    /// one `write(2)`.
    pub(crate) fn record(&self, signum: i32) {
        if let Some(slot) = self.slots.get(signum as usize) {
            // A swap where a store would do: loom 0.7 lets a read-modify-write read past a
            // plain store that happens before it when that store races with another
            // read-modify-write (a false alarm, seen in `two_reactors_dispatch_a_signal_once`);
            // with read-modify-writes on both sides the model is exact. Still lock-free and
            // async-signal-safe.
            slot.pending.swap(true, SeqCst);
        }
        self.pipe.notify();
    }

    /// A duplicate of the pipe's read end, for one more reactor.
    pub(crate) fn reader(&self) -> io::Result<self_pipe::Reader> {
        self.pipe.reader()
    }

    /// The reactor side (D1 to D3): runs `drain` (which empties the caller's duplicate of the
    /// read end), then dispatches every pending signal and wakes its listeners, and returns
    /// what `drain` returned. Draining first is invariant 2.
    pub(crate) fn dispatch<R>(&self, drain: impl FnOnce() -> R) -> R {
        let drained = drain();
        let mut wakers = Vec::new();
        for slot in self.slots.iter() {
            if slot.pending.swap(false, SeqCst) {
                slot.generation.fetch_add(1, SeqCst);
                slot.listeners.lock().take_wakers(&mut wakers);
            }
        }
        wakers.into_iter().for_each(wake_containing_panic);
        drained
    }

    /// Wakes every listener of every signal (a watched reactor shut down: its listeners learn
    /// it on their next poll, the others wait again).
    pub(crate) fn wake_all_listeners(&self) {
        let mut wakers = Vec::new();
        for slot in self.slots.iter() {
            slot.listeners.lock().take_wakers(&mut wakers);
        }
        wakers.into_iter().for_each(wake_containing_panic);
    }

    /// Validates `signum` and installs its handler if this is the first listener for it.
    ///
    /// The handler stays installed for the rest of the process (see the `signal` module docs).
    #[allow(unsafe_code)]
    pub(crate) fn install(&'static self, signum: i32) -> io::Result<&'static Slot> {
        if signum <= 0 || signum as usize >= self.slots.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {signum} is not a signal number spindle can listen for (1 to {})",
                    self.slots.len() - 1
                ),
            ));
        }
        if signal_hook_registry::FORBIDDEN.contains(&signum) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {signum} ({}) cannot be listened for: the kernel does not let it \
                     be caught, or catching it cannot be done safely",
                    forbidden_name(signum)
                ),
            ));
        }
        let slot = self.slot(signum);
        if slot.installed.load(SeqCst) {
            return Ok(slot);
        }
        let _installing = self.install.lock();
        if !slot.installed.load(SeqCst) {
            // SAFETY: the action runs in a signal handler, so it may only do async-signal-safe
            // work: `record` is an atomic store into a slot of this `'static` registry (whose
            // slots are allocated before any handler exists and never freed) and one
            // `write(2)` on a socket the registry keeps open for good; it neither allocates,
            // locks nor panics (`slots.get` bounds the index). signal-hook-registry saves and
            // restores errno around it. `signum` is not in `FORBIDDEN` (checked above), so
            // `register` does not panic.
            unsafe { signal_hook_registry::register(signum, move || self.record(signum)) }
                .map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!("cannot install a handler for signal {signum}: {error}"),
                    )
                })?;
            slot.installed.store(true, SeqCst);
        }
        Ok(slot)
    }

    /// The watcher of `reactor`, made (and armed) if `reactor` does not watch the pipe yet.
    pub(crate) fn watcher(&'static self, reactor: &Arc<Reactor>) -> io::Result<Arc<Watcher>> {
        let mut watchers = self.watchers.lock();
        if let Some(watcher) = watchers.iter().find(|watcher| watcher.watches(reactor)) {
            return Ok(watcher.clone());
        }
        let watcher = Watcher::new(self, reactor.clone())?;
        watchers.push(watcher.clone());
        drop(watchers);
        // Outside the lock: arming may find the reactor shut down and retire the watcher.
        watcher.arm();
        Ok(watcher)
    }

    /// Forgets `watcher` (its reactor shut down).
    pub(crate) fn forget_watcher(&self, watcher: &Arc<Watcher>) {
        self.watchers
            .lock()
            .retain(|other| !Arc::ptr_eq(other, watcher));
    }
}

/// Wakes a listener's task. A waker is anyone's code: its panic must not unwind into the
/// reactor thread that dispatches, nor leave the wakers after it unwoken.
fn wake_containing_panic(waker: Waker) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
}

fn forbidden_name(signum: i32) -> &'static str {
    match signum {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGSEGV => "SIGSEGV",
        _ => "a forbidden signal",
    }
}

impl Slot {
    fn new() -> Slot {
        Slot {
            pending: AtomicBool::new(false),
            generation: AtomicUsize::new(0),
            installed: AtomicBool::new(false),
            listeners: Mutex::new(Listeners::default()),
        }
    }

    /// Dispatches of this signal so far.
    pub(crate) fn generation(&self) -> usize {
        self.generation.load(SeqCst)
    }

    /// A new listener: its key, and the generation it has seen (signals dispatched before it
    /// existed are not its).
    pub(crate) fn listen(&self) -> (usize, usize) {
        let key = self.listeners.lock().insert();
        (key, self.generation())
    }

    /// Removes the listener `key`.
    pub(crate) fn forget(&self, key: usize) {
        self.listeners.lock().remove(key);
    }

    /// L1/L2: ready if a dispatch happened since `seen` (which moves to it), else pending with
    /// the waker stored for the next dispatch.
    pub(crate) fn poll(&self, key: usize, seen: &mut usize, cx: &mut Context<'_>) -> Poll<()> {
        let now = self.generation();
        if now != *seen {
            *seen = now;
            return Poll::Ready(());
        }
        let mut listeners = self.listeners.lock();
        listeners.store_waker(key, cx.waker());
        // Invariant 3: re-read under the lock.
        let now = self.generation();
        drop(listeners);
        if now != *seen {
            *seen = now;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Listeners {
    fn insert(&mut self) -> usize {
        match self.free.pop() {
            Some(key) => {
                self.entries[key] = Entry::Listening(None);
                key
            }
            None => {
                self.entries.push(Entry::Listening(None));
                self.entries.len() - 1
            }
        }
    }

    fn remove(&mut self, key: usize) {
        self.entries[key] = Entry::Vacant;
        self.free.push(key);
    }

    fn store_waker(&mut self, key: usize, waker: &Waker) {
        if let Entry::Listening(stored) = &mut self.entries[key] {
            match stored {
                Some(stored) if stored.will_wake(waker) => {}
                _ => *stored = Some(waker.clone()),
            }
        }
    }

    fn take_wakers(&mut self, wakers: &mut Vec<Waker>) {
        for entry in &mut self.entries {
            if let Entry::Listening(stored) = entry {
                wakers.extend(stored.take());
            }
        }
    }
}
