//! Listening for any Unix signal: [`signal`] gives a [`Signal`] whose [`recv`](Signal::recv)
//! waits for the next delivery of one [`SignalKind`].

use super::registry::{Registry, Slot};
use super::watcher::Watcher;
use crate::context;
use crate::reactor::Reactor;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A Unix signal number, as [`signal`] takes it.
///
/// ```
/// use spindle_io::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
/// assert_eq!(SignalKind::from_raw(libc::SIGTERM), SignalKind::terminate());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// The signal numbered `signum` on this system. Whether it can be listened for is checked
    /// by [`signal`].
    ///
    /// ```
    /// use spindle_io::signal::unix::SignalKind;
    ///
    /// let window_change = SignalKind::from_raw(libc::SIGWINCH);
    /// assert_eq!(window_change.as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    ///
    /// ```
    /// use spindle_io::signal::unix::SignalKind;
    ///
    /// assert_eq!(SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// `SIGINT`: Ctrl-C at a terminal. See also [`ctrl_c`](super::ctrl_c).
    ///
    /// ```
    /// assert_eq!(spindle_io::signal::unix::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: a polite request to terminate (what `kill` and service managers send).
    ///
    /// ```
    /// assert_eq!(spindle_io::signal::unix::SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; daemons take it as "reload the configuration".
    ///
    /// ```
    /// assert_eq!(spindle_io::signal::unix::SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGUSR1`, for the application's own use.
    ///
    /// ```
    /// let kind = spindle_io::signal::unix::SignalKind::user_defined1();
    /// assert_eq!(kind.as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, for the application's own use.
    ///
    /// ```
    /// let kind = spindle_io::signal::unix::SignalKind::user_defined2();
    /// assert_eq!(kind.as_raw_value(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process exited (or stopped, or continued).
    ///
    /// ```
    /// assert_eq!(spindle_io::signal::unix::SignalKind::child().as_raw_value(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }
}

/// A listener for one kind of signal, made by [`signal`]: [`recv`](Signal::recv) waits for
/// the next delivery after the previous `recv` returned (or after the listener was made).
///
/// Deliveries merge: however many signals of this kind arrive between two `recv`s, the next
/// `recv` returns once, and the one after waits for a new signal. Several listeners of one
/// kind each see every delivery, in any task, runtime or thread.
///
/// Once a listener has been made for a signal, spindle's handler for it stays installed for
/// the rest of the process, also after every listener is dropped: the signal's default action
/// (`SIGINT` and `SIGTERM` ending the process, say) does not come back, and a signal that no
/// listener waits for is ignored.
///
/// ```
/// use spindle_io::signal::unix::{signal, SignalKind};
///
/// spindle_io::block_on(async {
///     let mut user1 = signal(SignalKind::user_defined1())?;
///     let me = std::process::id().to_string();
///     std::process::Command::new("kill").args(["-USR1", &me]).status()?;
///     user1.recv().await.expect("the reactor is running");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Signal {
    kind: SignalKind,
    slot: &'static Slot,
    key: usize,
    /// The generation (count of dispatches) this listener has returned for.
    seen: usize,
    /// The watch of the reactor this listener was made on: when that reactor shuts down,
    /// `recv` returns `None`.
    watcher: Arc<Watcher>,
}

/// Listens for signals of `kind` from now on, on the current runtime's reactor (its watch of
/// the signal pipe is set up on first use): see [`Signal`]. The first listener for a signal
/// installs spindle's handler for it, for the rest of the process.
///
/// # Errors
///
/// `InvalidInput` (naming the signal) for a signal that cannot be caught or must not be
/// (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`) or a number that is no signal; the
/// operating system's error if the handler cannot be installed; an error if the reactor has
/// shut down or the process is out of file descriptors.
///
/// # Panics
///
/// If no reactor is current and no default reactor is installed.
///
/// ```
/// use spindle_io::signal::unix::{signal, SignalKind};
///
/// spindle_io::block_on(async {
///     let error = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
///     assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
///     assert!(error.to_string().contains("SIGKILL"));
///
///     let mut user2 = signal(SignalKind::user_defined2()).unwrap();
///     let me = std::process::id().to_string();
///     std::process::Command::new("kill").args(["-USR2", &me]).status().unwrap();
///     assert_eq!(user2.recv().await, Some(()));
/// });
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    Signal::with_reactor(kind, &context::current())
}

impl Signal {
    /// A listener for `kind` whose deliveries `reactor` (among any others that watch) reports.
    pub(crate) fn with_reactor(kind: SignalKind, reactor: &Arc<Reactor>) -> io::Result<Signal> {
        let registry = Registry::global()?;
        let slot = registry.install(kind.0)?;
        let watcher = registry.watcher(reactor)?;
        let (key, seen) = slot.listen();
        Ok(Signal {
            kind,
            slot,
            key,
            seen,
            watcher,
        })
    }

    /// Waits for the next signal of this kind: `Some(())` once one was delivered since the
    /// previous `recv` returned (or since the listener was made), `None` once the reactor the
    /// listener was made on has shut down (its runtime was dropped), after which no signal is
    /// reported.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a `recv` dropped before it returned consumes nothing, and the next `recv`
    /// reports a signal that arrived meanwhile.
    ///
    /// ```
    /// use spindle_io::signal::unix::{signal, SignalKind};
    ///
    /// spindle_io::block_on(async {
    ///     let mut hangups = signal(SignalKind::hangup())?;
    ///     let me = std::process::id().to_string();
    ///     for _ in 0..2 {
    ///         std::process::Command::new("kill").args(["-HUP", &me]).status()?;
    ///         assert_eq!(hangups.recv().await, Some(()));
    ///     }
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll function, for hand-written futures and streams:
    /// `Ready(Some(()))` if a signal was delivered since the last `Ready`, `Ready(None)` if
    /// the listener's reactor has shut down, `Pending` otherwise, with `cx`'s waker stored to
    /// be woken by the next delivery.
    ///
    /// ```
    /// use spindle_io::signal::unix::{signal, SignalKind};
    /// use std::task::{Context, Poll, Waker};
    ///
    /// spindle_io::block_on(async {
    ///     let mut user1 = signal(SignalKind::user_defined1()).unwrap();
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     assert_eq!(user1.poll_recv(&mut cx), Poll::Pending);
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.slot.poll(self.key, &mut self.seen, cx).is_ready() {
            return Poll::Ready(Some(()));
        }
        // After the waker is stored (see `Watcher::is_alive`).
        if self.watcher.is_alive() {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }

    /// Whether the reactor this listener was made on still runs (else `recv` returns `None`).
    pub(crate) fn is_live(&self) -> bool {
        self.watcher.is_alive()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.slot.forget(self.key);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .field("live", &self.is_live())
            .finish()
    }
}
