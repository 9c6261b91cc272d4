//! Learning that a child exited, and reaping it, without a thread per child.
//!
//! # A child that is waited for
//!
//! On Linux 5.3 and later, right after the spawn, the child gets a pidfd (`pidfd_open`),
//! registered with the reactor: it becomes readable when the child exits, and `wait` then
//! collects the status with a non-blocking `waitpid` (std's `try_wait`). The child cannot be
//! reaped by anyone else in between (it is our child, and spindle never calls `waitpid(-1)`),
//! so its pid cannot be reused before the pidfd is open. If `pidfd_open` fails with `ENOSYS`
//! (an older kernel) or `EPERM` (a seccomp filter), pidfds are not tried again in this process;
//! any other failure (out of descriptors) affects this child only. Without a pidfd the child
//! listens for `SIGCHLD` through `crate::signal`, made before its first `try_wait`: a child
//! that exits after that `try_wait` raises a `SIGCHLD` that bumps the listener's generation,
//! so the next poll tries again (signals merge, so each `SIGCHLD` makes every waiting child
//! try).
//!
//! # A child that is dropped
//!
//! A [`Child`](super::Child) dropped before its status was collected (after killing it, with
//! `kill_on_drop`) is tried once; if it still runs, it goes to the process-wide orphan queue,
//! which is reaped:
//!
//! - at every `SIGCHLD`, by the orphan reaper: a `SIGCHLD` listener whose waker is the reaper
//!   itself, so the dispatching reactor runs the reaping on its own thread (as the signal
//!   watcher does, `crate::signal`). It is installed when the first orphan is queued, on the
//!   dropped child's reactor, and again whenever that reactor has shut down and a new orphan
//!   comes or a child is spawned;
//! - opportunistically at every spawn, if nobody else is reaping at that moment.
//!
//! So an orphan is reaped only while some spindle reactor that watches signals runs; one
//! left when every runtime is gone stays a zombie until the process exits.
//!
//! # The hand-off (orphan queue)
//!
//! | who | steps |
//! | --- | --- |
//! | dropper | O1 make sure the reaper listens for `SIGCHLD`; O2 push the orphan (under the queue lock); O3 reap the queue |
//! | reaper, at a `SIGCHLD` dispatched after the child's exit | R1 reap the queue |
//!
//! Reaping the queue is one pass under its lock: a non-blocking `waitpid` per orphan, keeping
//! those that still run. Why no orphan is left: the exit happens before the `SIGCHLD`, whose
//! dispatch reaches the reaper (it listens since O1, before the push). If R1 takes the lock
//! after O2, it finds the orphan, after its exit. If before, O2 waits for R1 to finish, and
//! O3 comes after O2, so after R1 and after the exit: O3 reaps it. An exit before O1 (no
//! handler yet) is also before O3. The loom model
//! `loom_tests::signal::an_orphan_dropped_while_the_reaper_runs_is_reaped` runs this hand-off
//! on the real queue.

use crate::loom::sync::Mutex;
use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use crate::signal::unix::{Signal, SignalKind};
use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll, Wake, Waker};

/// How a child's exit is learned.
pub(super) enum ExitWatch {
    /// Its pidfd, registered with the reactor: readable once it exited.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    PidFd(Registration<pidfd::PidFd>),
    /// A `SIGCHLD` listener, made before the first `try_wait`.
    Sigchld(Signal),
}

impl ExitWatch {
    /// Watches the child `pid` (just spawned, not reaped) on `reactor`.
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        allow(unused_variables)
    )]
    pub(super) fn new(pid: u32, reactor: &Arc<Reactor>) -> io::Result<ExitWatch> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(pidfd) = pidfd::open(pid) {
            // Readiness assumed: the first wait tries `waitpid` at once.
            let registration = Registration::new(
                reactor.clone(),
                pidfd,
                mio::Interest::READABLE,
                Ready::READABLE,
            )?;
            return Ok(ExitWatch::PidFd(registration));
        }
        Ok(ExitWatch::Sigchld(Signal::with_reactor(
            SignalKind::child(),
            reactor,
        )?))
    }

    /// Waits until `child` has exited and collects its status: tries `try_wait` whenever the
    /// watch says the child may have exited. Does not spend budget (the caller does).
    pub(super) fn poll_exit(
        &mut self,
        child: &mut std::process::Child,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ExitStatus>> {
        loop {
            match self {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                ExitWatch::PidFd(registration) => {
                    let event = ready!(registration.poll_ready(Direction::Read, cx))
                        .map_err(|_| reactor_gone())?;
                    if let Some(status) = child.try_wait()? {
                        return Poll::Ready(Ok(status));
                    }
                    registration.clear_readiness(event);
                }
                ExitWatch::Sigchld(signal) => {
                    if let Some(status) = child.try_wait()? {
                        return Poll::Ready(Ok(status));
                    }
                    if ready!(signal.poll_recv(cx)).is_none() {
                        return Poll::Ready(Err(reactor_gone()));
                    }
                }
            }
        }
    }
}

fn reactor_gone() -> io::Error {
    io::Error::other(
        "the spindle reactor this child was spawned on has shut down (its runtime was \
         dropped); its exit can no longer be awaited",
    )
}

impl fmt::Debug for ExitWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ExitWatch::PidFd(registration) => f.debug_tuple("PidFd").field(registration).finish(),
            ExitWatch::Sigchld(signal) => f.debug_tuple("Sigchld").field(signal).finish(),
        }
    }
}

/// Linux's pidfds.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) mod pidfd {
    use mio::event::Source;
    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    /// Set once `pidfd_open` answered `ENOSYS` or `EPERM`: not tried again in this process.
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

    /// A process file descriptor: readable once its process exited.
    #[derive(Debug)]
    pub(crate) struct PidFd(OwnedFd);

    /// Makes every later spawn of this process watch its child through `SIGCHLD`, as on a
    /// kernel without pidfds.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn disable() {
        UNSUPPORTED.store(true, Relaxed);
    }

    /// A pidfd for the child `pid`, or `None` if pidfds are not available (the reason is
    /// remembered when it is the system's, see the module docs).
    #[allow(unsafe_code)]
    pub(crate) fn open(pid: u32) -> Option<PidFd> {
        if UNSUPPORTED.load(Relaxed) {
            return None;
        }
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: `pidfd_open(pid, flags)` takes two integers and touches no memory of ours;
        // the result is a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if fd < 0 {
            if let Some(libc::ENOSYS | libc::EPERM) = io::Error::last_os_error().raw_os_error() {
                UNSUPPORTED.store(true, Relaxed);
            }
            return None;
        }
        let fd = RawFd::try_from(fd).ok()?;
        // SAFETY: `fd` was just returned by `pidfd_open`, which opens it close-on-exec; nothing
        // else owns it, so `OwnedFd` may close it.
        Some(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    impl Source for PidFd {
        fn register(
            &mut self,
            registry: &Registry,
            token: Token,
            interests: Interest,
        ) -> io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
        }

        fn reregister(
            &mut self,
            registry: &Registry,
            token: Token,
            interests: Interest,
        ) -> io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
        }

        fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).deregister(registry)
        }
    }
}

/// Something the orphan queue can try to reap.
pub(crate) trait Orphan {
    /// A non-blocking reap: true once the orphan is gone (reaped now, or by someone else).
    fn try_reap(&mut self) -> bool;
}

impl Orphan for std::process::Child {
    fn try_reap(&mut self) -> bool {
        // `Err` is `ECHILD`: it is not our child any more (reaped by someone's `waitpid(-1)`).
        !matches!(self.try_wait(), Ok(None))
    }
}

/// Children dropped before their status was collected (see the module docs).
pub(crate) struct OrphanQueue<C> {
    orphans: Mutex<Vec<C>>,
}

impl<C: Orphan> OrphanQueue<C> {
    pub(crate) fn new() -> OrphanQueue<C> {
        OrphanQueue {
            orphans: Mutex::new(Vec::new()),
        }
    }

    /// O2 and O3: queues `orphan`, then reaps the queue.
    pub(crate) fn adopt(&self, orphan: C) {
        self.orphans.lock().push(orphan);
        self.reap();
    }

    /// One pass over the queue (R1, O3): reaps every orphan that exited.
    pub(crate) fn reap(&self) {
        self.orphans.lock().retain_mut(|orphan| !orphan.try_reap());
    }

    /// A pass if nobody else is reaping right now (at a spawn); whether orphans are left.
    fn reap_if_free(&self) -> bool {
        match self.orphans.try_lock() {
            Some(mut orphans) => {
                orphans.retain_mut(|orphan| !orphan.try_reap());
                !orphans.is_empty()
            }
            None => false, // the thread reaping now sees to it
        }
    }
}

/// The process's orphans and their reaper.
struct Orphans {
    queue: OrphanQueue<std::process::Child>,
    reaper: Arc<Reaper>,
}

/// The `SIGCHLD` listener that reaps the orphan queue; it is its own waker.
struct Reaper {
    /// `None` before the first orphan, or once its reactor shut down.
    listener: Mutex<Option<Signal>>,
}

fn orphans() -> &'static Orphans {
    static ORPHANS: OnceLock<Orphans> = OnceLock::new();
    ORPHANS.get_or_init(|| Orphans {
        queue: OrphanQueue::new(),
        reaper: Arc::new(Reaper {
            listener: Mutex::new(None),
        }),
    })
}

/// Takes a child dropped before its status was collected: O1 to O3 of the module docs.
/// `reactor` is the one it was spawned on, where the reaper listens if it does not yet.
pub(super) fn adopt(child: std::process::Child, reactor: &Arc<Reactor>) {
    let orphans = orphans();
    orphans.reaper.listen(reactor);
    orphans.queue.adopt(child);
}

/// At a spawn, on `reactor`: reaps the orphans that exited, unless another thread is at it,
/// and makes sure the reaper listens if some are left (their reactor may have shut down).
pub(super) fn reap_orphans(reactor: &Arc<Reactor>) {
    let orphans = orphans();
    if orphans.queue.reap_if_free() {
        orphans.reaper.listen(reactor);
    }
}

impl Reaper {
    /// Listens for `SIGCHLD` on `reactor` unless it listens on a running reactor already.
    fn listen(self: &Arc<Self>, reactor: &Arc<Reactor>) {
        if self.listener.lock().as_ref().is_some_and(Signal::is_live) {
            return;
        }
        // Made outside the lock: making it may dispatch signals, which may wake the reaper
        // (through the waker a dead listener left), which takes the lock. On failure (the
        // reactor shut down, no descriptors) the orphans wait for the next spawn or orphan.
        let Ok(signal) = Signal::with_reactor(SignalKind::child(), reactor) else {
            return;
        };
        let replaced = {
            let mut listener = self.listener.lock();
            if listener.as_ref().is_some_and(Signal::is_live) {
                return; // another thread installed one meanwhile
            }
            listener.replace(signal)
        };
        drop(replaced);
        self.reap_on_signal();
    }

    /// Reaps the queue once per `SIGCHLD` dispatch seen, until the listener waits again with
    /// the reaper as its waker.
    fn reap_on_signal(self: &Arc<Self>) {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut listener = self.listener.lock();
        while let Some(signal) = listener.as_mut() {
            match signal.poll_recv(&mut cx) {
                Poll::Ready(Some(())) => orphans().queue.reap(),
                Poll::Ready(None) => *listener = None,
                Poll::Pending => return,
            }
        }
    }
}

impl Wake for Reaper {
    fn wake(self: Arc<Self>) {
        self.reap_on_signal();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reap_on_signal();
    }
}
