//! Which reactor a socket created on this thread registers with.
//!
//! The runtime sets it: for a worker's whole life, and for the duration of a `block_on`
//! ([`enter`]). Outside both, sockets use the default reactor, which the runtime installs once
//! with [`set_default_reactor`]. A socket captures its reactor when it is created: in
//! `from_std`, or when the future of `bind`/`connect` is first polled (an accepted stream
//! takes its listener's). It keeps that reactor for life: moving the socket to another thread
//! or runtime does not move its registration, so that reactor must go on being driven (by its
//! runtime, or by a [`block_on`](crate::block_on) of it) for the socket to make progress.

use crate::reactor::Reactor;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

thread_local! {
    static CURRENT: RefCell<Option<Arc<Reactor>>> = const { RefCell::new(None) };
}

static DEFAULT_REACTOR: OnceLock<fn() -> Arc<Reactor>> = OnceLock::new();

/// Makes `reactor` this thread's current reactor until the guard is dropped: sockets created
/// here meanwhile register with it.
///
/// ```
/// let reactor = spindle_io::Reactor::new().unwrap();
/// let guard = spindle_io::enter(reactor.clone());
/// let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let _socket = spindle_io::net::UdpSocket::from_std(socket).unwrap();
/// assert_eq!(reactor.registrations(), 1);
/// drop(guard);
/// ```
pub fn enter(reactor: Arc<Reactor>) -> EnterGuard {
    let previous = CURRENT.with(|current| current.borrow_mut().replace(reactor));
    EnterGuard { previous }
}

/// Restores the previous current reactor when dropped.
///
/// ```
/// let reactor = spindle_io::Reactor::new().unwrap();
/// let _guard: spindle_io::EnterGuard = spindle_io::enter(reactor);
/// ```
#[must_use = "the reactor is current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Arc<Reactor>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

/// Installs the function that gives the reactor for sockets created outside any runtime (the
/// process-wide default runtime's). Only the first call has an effect.
///
/// ```
/// use std::sync::{Arc, OnceLock};
///
/// fn default_reactor() -> Arc<spindle_io::Reactor> {
///     static REACTOR: OnceLock<Arc<spindle_io::Reactor>> = OnceLock::new();
///     REACTOR.get_or_init(|| spindle_io::Reactor::new().unwrap()).clone()
/// }
/// spindle_io::set_default_reactor(default_reactor);
/// // No reactor is current here, so the socket registers with the default one.
/// let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let _socket = spindle_io::net::UdpSocket::from_std(socket).unwrap();
/// assert_eq!(default_reactor().registrations(), 1);
/// ```
pub fn set_default_reactor(provider: fn() -> Arc<Reactor>) {
    let _ = DEFAULT_REACTOR.set(provider);
}

/// The reactor entered on this thread, without falling back to the default one.
pub(crate) fn entered() -> Option<Arc<Reactor>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The reactor a socket created here registers with: the entered one, else the default.
///
/// # Panics
///
/// If no reactor is current and no default reactor was installed.
pub(crate) fn current() -> Arc<Reactor> {
    if let Some(reactor) = CURRENT.with(|current| current.borrow().clone()) {
        return reactor;
    }
    match DEFAULT_REACTOR.get() {
        Some(provider) => provider(),
        None => panic!(
            "a spindle socket was created outside any spindle runtime and no default reactor \
             is installed; create it inside spindle::block_on (or spindle_io::block_on), or in \
             a spawned task"
        ),
    }
}
