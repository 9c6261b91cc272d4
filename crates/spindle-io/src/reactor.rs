//! The reactor: one `mio::Poll`, driven by at most one thread at a time, and the set of
//! registered sockets whose readiness it sets.
//!
//! # Shape
//!
//! - The `mio::Poll` (with its `Events` buffer and the turn counter) sits behind a mutex. A
//!   thread that wins [`Reactor::try_drive`] (or [`Reactor::try_turn`]) holds it for one turn:
//!   it blocks in `epoll_wait`, applies the events, releases the poll, and only then wakes the
//!   tasks (rule 5 of [`crate::scheduled_io`]). Whoever loses `try_lock` knows somebody else
//!   is driving and parks elsewhere: the reactor never makes a thread wait for the poll lock.
//! - A `mio::Registry` (a clone of the poll's epoll descriptor, usable from any thread without
//!   the poll lock) registers and deregisters sockets.
//! - A `mio::Waker` (an eventfd) on the reserved token `WAKE_TOKEN`: [`Reactor::unpark`]
//!   writes it, which ends a concurrent `epoll_wait`, or the next one if nobody is blocked.
//! - The registration set (`registrations`): the sockets' `ScheduledIo`s under generational
//!   tokens, so an event is never applied to a socket that reused a dropped one's slot.
//!
//! # A turn
//!
//! 1. Advance the tick (skipping 0, the registration tick).
//! 2. `poll.poll(events, timeout)`; `EINTR` counts as a turn with no events.
//! 3. Under the registration set's lock, for each event: look its token up (stale tokens find
//!    nothing), `set_readiness(tick, ready)`, then move the waiting wakers into a buffer.
//! 4. Release the poll, then wake the buffered wakers on this thread. In a runtime, that
//!    schedules the woken tasks onto the driving worker's own queue.
//!
//! # Dropping a socket
//!
//! The socket removes its entry from the registration set (bumping the slot's generation), and
//! only then closes the descriptor. Closing it is what takes it off epoll's interest list:
//! epoll drops a descriptor when its last copy closes, so an explicit `EPOLL_CTL_DEL` first
//! would be a system call for nothing (two of the eleven or so that one loopback connection,
//! accepted and closed, costs its two ends). A copy kept elsewhere (a child forked without `exec`) keeps it listed
//! until that copy closes; its events carry the old token, which finds an empty slot or a
//! newer generation, and are dropped, as is an event already returned by a turn in progress.
//! On other systems the socket deregisters explicitly before the entry is removed, as mio asks
//! of every source. The `ScheduledIo` is freed when
//! its last `Arc` (the socket's) goes, which no turn can still hold (the turn touches entries
//! only under the set's lock).
//!
//! # Stacking under the scheduler's parking seam (what the facade does)
//!
//! The facade puts an I/O layer between the timer and the thread parker: each worker's stack
//! becomes timer → I/O → `ThreadParker`. The timer fires what is due and calls the I/O
//! layer's `park`/`park_timeout` with its next deadline; the I/O layer blocks in the reactor
//! (winning [`Reactor::try_drive`], then [`Driver::turn`]) if no other thread is in it, on the
//! `ThreadParker` otherwise, and its unparker writes the eventfd ([`Reactor::unpark`]) only for
//! a worker it knows is in the reactor. That layer is [`crate::IoParker`], generic over the
//! thread parker: its module (`park.rs`) holds the per-worker state word (`EMPTY`,
//! `IN_REACTOR`, `NOTIFIED`), the protocol, why it loses no wake-up, and the loom models that
//! check it; the facade's `io_park.rs` only plugs the scheduler's parker into it.
//! [`Reactor::is_driving`] says whether *some* thread holds the poll; it is for metrics and
//! tests, since the per-worker state is what tells *which* worker to wake and how.
//!
//! The maintenance tick's `park_timeout(Duration::ZERO)` becomes `try_turn(Some(ZERO))` there
//! (a worker that never parks still delivers I/O events; it returns `None` at once if another
//! worker is blocked in the reactor, which is then the one delivering them). Other duties of
//! the facade: make the reactor current on its threads ([`crate::enter`]), install
//! [`crate::set_default_reactor`], and call [`Reactor::shutdown`] when the runtime is dropped,
//! so sockets that outlive it fail their pending and later operations instead of hanging.

use crate::loom::epoll::{self, Events, Poll, Registry, Waker as EventFd};
use crate::loom::sync::{atomic::AtomicBool, Mutex};
#[cfg(feature = "standalone")]
use crate::loom::thread::Thread;
use crate::loom::{TryMutex, TryMutexGuard};
use crate::ready::Ready;
use crate::registrations::{RegistrationSet, WAKE_TOKEN};
use crate::scheduled_io::{next_tick, shut_down_error, ScheduledIo, REGISTRATION_TICK};
use mio::event::Source;
use mio::{Interest, Token};
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

/// How many events one turn takes from epoll at most (tokio's default too). More stay queued
/// in the kernel for the next turn.
const EVENTS_PER_TURN: usize = 1024;
/// Whether closing a descriptor takes it off the selector's interest list (epoll's rule; see
/// "Dropping a socket" in the module docs).
const CLOSING_DEREGISTERS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// A mio-based I/O reactor, shared in an `Arc` by a runtime's workers and every socket
/// registered with it.
///
/// ```
/// use std::time::Duration;
///
/// let reactor = spindle_io::Reactor::new().unwrap();
/// reactor.unpark();
/// // The unpark makes the next turn return at once instead of blocking for a minute.
/// let events = reactor.try_turn(Some(Duration::from_secs(60))).unwrap().unwrap();
/// assert_eq!(events, 0);
/// ```
pub struct Reactor {
    poll: TryMutex<PollState>,
    driving: AtomicBool,
    /// Registers sockets; `pub(crate)` so that the loom models can play the kernel through
    /// its stand-in ([`crate::loom::epoll`]).
    pub(crate) registry: Registry,
    waker: EventFd,
    registrations: Mutex<Registrations>,
    /// Threads in [`Reactor::block_on`] that could not drive and wait for a wake; woken when a
    /// `block_on` returns, so that one of them takes over the driving.
    #[cfg(feature = "standalone")]
    pub(crate) block_on_waiters: Mutex<Vec<Thread>>,
    /// Where host-name lookups run: the runtime's blocking pool, once it sets one.
    blocking_spawner: std::sync::OnceLock<BlockingSpawner>,
}

/// Runs a blocking job off the runtime's workers (see [`Reactor::set_blocking_spawner`]).
type BlockingSpawner = Box<dyn Fn(Box<dyn FnOnce() + Send>) + Send + Sync>;

struct PollState {
    poll: Poll,
    events: Events,
    tick: u16,
}

struct Registrations {
    set: RegistrationSet,
    shut_down: bool,
}

thread_local! {
    /// The buffer a turn collects wakers into, kept per thread so that it is reused without
    /// taking the poll lock again after releasing it.
    static WAKE_BUFFER: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// The right to drive a [`Reactor`] for one turn: the reactor's poll, held. At most one exists
/// per reactor at a time. See [`Reactor::try_drive`].
///
/// ```
/// use std::time::Duration;
///
/// let reactor = spindle_io::Reactor::new().unwrap();
/// let driver = reactor.try_drive().expect("nobody else drives this reactor");
/// assert!(reactor.is_driving());
/// assert!(reactor.try_drive().is_none());
/// assert_eq!(driver.turn(Some(Duration::ZERO)).unwrap(), 0);
/// assert!(!reactor.is_driving());
/// ```
#[must_use = "a Driver holds the reactor's poll until it turns or is dropped"]
pub struct Driver<'a> {
    reactor: &'a Reactor,
    state: TryMutexGuard<'a, PollState>,
}

impl Reactor {
    /// A new reactor: an epoll instance and its eventfd waker.
    ///
    /// # Errors
    ///
    /// If the process is out of file descriptors (or the kernel refuses epoll).
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// assert_eq!(reactor.registrations(), 0);
    /// ```
    pub fn new() -> io::Result<Arc<Reactor>> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = EventFd::new(poll.registry(), WAKE_TOKEN)?;
        Ok(Arc::new(Reactor {
            poll: TryMutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS_PER_TURN),
                tick: REGISTRATION_TICK,
            }),
            driving: AtomicBool::new(false),
            registry,
            waker,
            registrations: Mutex::new(Registrations {
                set: RegistrationSet::new(),
                shut_down: false,
            }),
            #[cfg(feature = "standalone")]
            block_on_waiters: Mutex::new(Vec::new()),
            blocking_spawner: std::sync::OnceLock::new(),
        }))
    }

    /// Makes host-name lookups of sockets on this reactor run through `spawn` (a runtime's
    /// blocking pool) instead of a thread of their own. Set once; later calls are ignored. A
    /// job that `spawn` drops without running fails its lookup instead of hanging it.
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// reactor.set_blocking_spawner(|job| {
    ///     std::thread::spawn(job);
    /// });
    /// ```
    pub fn set_blocking_spawner(
        &self,
        spawn: impl Fn(Box<dyn FnOnce() + Send>) + Send + Sync + 'static,
    ) {
        let _ = self.blocking_spawner.set(Box::new(spawn));
    }

    /// Runs `job` through the blocking spawner; gives it back if none is set.
    pub(crate) fn spawn_blocking(
        &self,
        job: Box<dyn FnOnce() + Send>,
    ) -> Result<(), Box<dyn FnOnce() + Send>> {
        match self.blocking_spawner.get() {
            Some(spawn) => {
                spawn(job);
                Ok(())
            }
            None => Err(job),
        }
    }

    /// Takes the poll if no other thread holds it: the caller may then [`Driver::turn`] once.
    /// `None` if another thread is driving (it delivers the events; park elsewhere).
    ///
    /// Splitting [`try_turn`](Self::try_turn) in two lets a parker publish "I am in the
    /// reactor" after winning the poll and before blocking (see the module docs).
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// if let Some(driver) = reactor.try_drive() {
    ///     driver.turn(Some(std::time::Duration::ZERO)).unwrap();
    /// };
    /// ```
    pub fn try_drive(&self) -> Option<Driver<'_>> {
        let state = self.poll.try_lock()?;
        self.driving.store(true, SeqCst);
        Some(Driver {
            reactor: self,
            state,
        })
    }

    /// If no other thread is driving: polls once, blocking up to `timeout` (`None`: until an
    /// event or an [`unpark`](Self::unpark); `Some(Duration::ZERO)`: not at all), sets the
    /// readiness of the sockets that had events, wakes their waiting tasks after releasing the
    /// poll, and returns the number of socket events. `None` if another thread holds the poll.
    ///
    /// # Errors
    ///
    /// `Some(Err(_))` if `epoll_wait` fails for a reason other than a signal (`EINTR` is a
    /// turn with no events).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// let events = reactor.try_turn(Some(Duration::ZERO));
    /// assert_eq!(events.unwrap().unwrap(), 0);
    /// ```
    pub fn try_turn(&self, timeout: Option<Duration>) -> Option<io::Result<usize>> {
        self.try_drive().map(|driver| driver.turn(timeout))
    }

    /// Makes a concurrent `epoll_wait` on this reactor return, or the next one if no thread is
    /// blocked in it. Callable from any thread; costs one eventfd write (a syscall), so a
    /// runtime calls it only for a worker it knows is in the reactor (module docs).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// let waker = {
    ///     let reactor = reactor.clone();
    ///     std::thread::spawn(move || reactor.unpark())
    /// };
    /// // Returns once the other thread has unparked it, not after an hour.
    /// reactor.try_turn(Some(Duration::from_secs(3600))).unwrap().unwrap();
    /// waker.join().unwrap();
    /// ```
    pub fn unpark(&self) {
        // eventfd writes fail only when the counter would overflow, which mio handles by
        // resetting it; any other error means the descriptor is gone, i.e. a bug elsewhere.
        if let Err(error) = self.waker.wake() {
            debug_assert!(
                false,
                "spindle-io: writing the reactor's eventfd failed: {error}"
            );
        }
    }

    /// True while some thread holds the poll (between [`try_drive`](Self::try_drive) and the
    /// end of its turn). A snapshot, for metrics and tests: the facade decides whom to wake
    /// from its own per-worker state, not from this.
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// assert!(!reactor.is_driving());
    /// ```
    pub fn is_driving(&self) -> bool {
        self.driving.load(SeqCst)
    }

    /// How many sockets are registered with this reactor right now.
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// let _guard = spindle_io::enter(reactor.clone());
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let socket = spindle_io::net::UdpSocket::from_std(socket).unwrap();
    /// assert_eq!(reactor.registrations(), 1);
    /// drop(socket);
    /// assert_eq!(reactor.registrations(), 0);
    /// ```
    pub fn registrations(&self) -> usize {
        self.registrations.lock().set.len()
    }

    /// Shuts the reactor down: every pending and later operation on a socket registered here
    /// fails with an error (`ErrorKind::Other`), and new sockets cannot register. The waiting
    /// tasks are woken. Idempotent. A runtime calls this when it is dropped.
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// reactor.shutdown();
    /// assert!(reactor.is_shutdown());
    /// let _guard = spindle_io::enter(reactor.clone());
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(spindle_io::net::UdpSocket::from_std(socket).is_err());
    /// ```
    pub fn shutdown(&self) {
        let mut wakers = Vec::new();
        {
            let mut registrations = self.registrations.lock();
            registrations.shut_down = true;
            for io in registrations.set.iter() {
                io.shutdown();
                io.collect_wakers(Ready::ALL, &mut wakers);
            }
        }
        wakers.into_iter().for_each(wake_containing_panic);
        self.unpark();
    }

    /// True once [`shutdown`](Self::shutdown) was called.
    ///
    /// ```
    /// assert!(!spindle_io::Reactor::new().unwrap().is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.registrations.lock().shut_down
    }

    /// Registers `source` for `interest`, its readiness assumed to be `assumed` until the
    /// first turn reports otherwise.
    pub(crate) fn register(
        &self,
        source: &mut impl Source,
        interest: Interest,
        assumed: Ready,
    ) -> io::Result<(Token, Arc<ScheduledIo>)> {
        let io = Arc::new(ScheduledIo::new(assumed));
        let token = {
            let mut registrations = self.registrations.lock();
            if registrations.shut_down {
                return Err(shut_down_error());
            }
            registrations.set.insert(io.clone())?
        };
        if let Err(error) = self.registry.register(source, token, interest) {
            self.registrations.lock().set.remove(token);
            return Err(error);
        }
        Ok((token, io))
    }

    /// Asks the kernel to report `fd`'s readiness for `interest` from now on, in place of what
    /// it was registered for (`registration.rs`, "Write events on demand").
    pub(crate) fn reregister_fd(
        &self,
        fd: std::os::fd::RawFd,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.registry
            .reregister(&mut mio::unix::SourceFd(&fd), token, interest)
    }

    /// Forgets `token`, having first deregistered `source` where closing it would not (see the
    /// module docs). The caller closes the descriptor afterwards.
    pub(crate) fn deregister(&self, source: &mut impl Source, token: Token) {
        if !CLOSING_DEREGISTERS {
            // Failure means the descriptor was not registered (or is already closed): either
            // way the selector no longer reports it, which is all that matters here.
            let _ = self.registry.deregister(source);
        }
        self.registrations.lock().set.remove(token);
    }
}

impl Driver<'_> {
    /// Polls once, blocking up to `timeout` (`None`: until an event or an unpark), applies the
    /// events, releases the poll, then wakes the tasks that were waiting on the sockets that
    /// had events. Returns the number of socket events (the unpark wake-up is not counted).
    ///
    /// # Errors
    ///
    /// If `epoll_wait` fails for a reason other than a signal.
    ///
    /// ```
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// let driver = reactor.try_drive().unwrap();
    /// assert_eq!(driver.turn(Some(std::time::Duration::from_millis(1))).unwrap(), 0);
    /// ```
    pub fn turn(mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let mut wakers = WAKE_BUFFER.with(|buffer| std::mem::take(&mut *buffer.borrow_mut()));
        let state = &mut *self.state;
        state.tick = next_tick(state.tick);
        let tick = state.tick;
        match state.poll.poll(&mut state.events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => state.events.clear(),
            Err(error) => return Err(error),
        }
        let mut applied = 0;
        {
            let registrations = self.reactor.registrations.lock();
            for event in state.events.iter() {
                if event.token() == WAKE_TOKEN {
                    continue;
                }
                applied += 1;
                if let Some(io) = registrations.set.get(event.token()) {
                    let ready = epoll::readiness(event);
                    io.set_readiness(tick, ready);
                    io.collect_wakers(ready, &mut wakers);
                }
            }
        }
        drop(self); // releases the poll before any task runs
        wakers.drain(..).for_each(wake_containing_panic);
        WAKE_BUFFER.with(|buffer| {
            if let Ok(mut buffer) = buffer.try_borrow_mut() {
                if buffer.capacity() < wakers.capacity() {
                    *buffer = wakers;
                }
            }
        });
        Ok(applied)
    }
}

/// Wakes a task waiting on a socket. The waker may be anyone's code (a future can poll a
/// socket with a waker of its own); its panic must neither unwind into the reactor's caller (a
/// runtime's worker, or a runtime's drop) nor leave the wakers after it unwoken. The panic hook
/// has already reported it.
fn wake_containing_panic(waker: Waker) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
}

impl Drop for Driver<'_> {
    fn drop(&mut self) {
        // Cleared before the guard field releases the poll.
        self.reactor.driving.store(false, SeqCst);
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("registrations", &self.registrations())
            .field("driving", &self.is_driving())
            .field("shut_down", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Driver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("tick", &self.state.tick)
            .finish_non_exhaustive()
    }
}
