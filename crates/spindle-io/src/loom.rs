//! spindle-core's switch between the real primitives and loom's ([`sync`]), and the loom
//! stand-ins only this crate needs.
//!
//! Every atomic, mutex and thread handle of the readiness protocol ([`crate::scheduled_io`]),
//! the reactor, the I/O parking word ([`crate::park`]) and the standalone `block_on` comes from
//! here, so the loom models (`RUSTFLAGS="--cfg loom"`) exercise the real code. Without
//! `cfg(loom)` every name below is a re-export or type alias.
//!
//! What loom cannot run, or cannot run faithfully, gets a loom-built stand-in under `cfg(loom)`:
//!
//! - the reactor's poll lock, only ever taken with `try_lock`: a [`TryMutex`] built on a loom
//!   atomic (loom's own `try_lock` can block its caller: see there).
//! - mio's epoll and eventfd ([`epoll`]): a "kernel" made of a loom mutex and condition
//!   variable, behind the slice of mio's API the reactor uses (`Poll`, `Registry`, `Waker`,
//!   `Events`).
//! - std's thread park and unpark, for `block_on` ([`thread`]): a token per loom thread under
//!   a loom mutex and condition variable.
//! - the signal self-pipe ([`self_pipe`]): a loom atomic counting the bytes in the pipe, so
//!   that the handler's write and a reactor's drain are steps loom can interleave.

pub(crate) use spindle_core::loom::sync;

/// A mutex only ever taken with `try_lock`: an ordinary one.
#[cfg(not(loom))]
pub(crate) type TryMutex<T> = sync::Mutex<T>;
#[cfg(not(loom))]
pub(crate) type TryMutexGuard<'a, T> = sync::MutexGuard<'a, T>;

/// Thread handles and parking, for the standalone `block_on`.
#[cfg(all(not(loom), feature = "standalone"))]
pub(crate) mod thread {
    pub(crate) use std::thread::{current, park, Thread};
}

/// mio's epoll, as the reactor uses it.
#[cfg(not(loom))]
pub(crate) mod epoll {
    use crate::ready::Ready;
    pub(crate) use mio::{Events, Poll, Registry, Waker};

    /// The readiness one polled event carries.
    pub(crate) fn readiness(event: &mio::event::Event) -> Ready {
        Ready::from_mio(event)
    }
}

/// The signal self-pipe (`crate::signal`): a non-blocking socket pair. The signal handler
/// writes a byte to one end; each reactor that watches for signals registers a duplicate of the
/// other end and drains it when it is readable.
#[cfg(not(loom))]
pub(crate) mod self_pipe {
    use std::io::{self, Read, Write};
    use std::os::unix::net::UnixStream;

    /// The duplicate of the read end that one reactor registers.
    pub(crate) type Reader = mio::net::UnixStream;

    pub(crate) struct SelfPipe {
        sender: UnixStream,
        receiver: UnixStream,
    }

    impl SelfPipe {
        /// A socket pair, both ends non-blocking and close-on-exec (std creates it so).
        pub(crate) fn new() -> io::Result<SelfPipe> {
            let (sender, receiver) = UnixStream::pair()?;
            sender.set_nonblocking(true)?;
            receiver.set_nonblocking(true)?;
            Ok(SelfPipe { sender, receiver })
        }

        /// The signal handler's write: one `write(2)`, async-signal-safe (no allocation, no
        /// lock; errno is restored by signal-hook-registry around the handler). A full buffer
        /// (`WouldBlock`) loses nothing: bytes are waiting, so a drain is due anyway.
        pub(crate) fn notify(&self) {
            let _ = (&self.sender).write(&[1]);
        }

        /// A duplicate of the read end (`F_DUPFD_CLOEXEC`) for one more reactor to register. It
        /// shares the open file, so it is non-blocking too.
        pub(crate) fn reader(&self) -> io::Result<Reader> {
            Ok(mio::net::UnixStream::from_std(self.receiver.try_clone()?))
        }
    }

    /// Reads `reader` until it is empty. Every end is held by the process-wide registry, so it
    /// never reads EOF; any error but `Interrupted` ends the drain (it is `WouldBlock`).
    pub(crate) fn drain(reader: &Reader) {
        let mut buf = [0u8; 64];
        loop {
            match (&*reader).read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// The signal self-pipe, for loom: a loom atomic counts the bytes in it. A write adds one, a
/// drain takes them all, so both are steps the models interleave with the flags around them.
/// The reader's mio registration does nothing, as with every source of the epoll stand-in.
#[cfg(loom)]
pub(crate) mod self_pipe {
    use loom::sync::atomic::AtomicUsize;
    use std::io;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::Arc;

    pub(crate) struct SelfPipe {
        bytes: Arc<AtomicUsize>,
    }

    #[derive(Debug)]
    pub(crate) struct Reader {
        bytes: Arc<AtomicUsize>,
    }

    impl SelfPipe {
        pub(crate) fn new() -> io::Result<SelfPipe> {
            Ok(SelfPipe {
                bytes: Arc::new(AtomicUsize::new(0)),
            })
        }

        pub(crate) fn notify(&self) {
            self.bytes.fetch_add(1, SeqCst);
        }

        pub(crate) fn reader(&self) -> io::Result<Reader> {
            Ok(Reader {
                bytes: self.bytes.clone(),
            })
        }
    }

    pub(crate) fn drain(reader: &Reader) {
        reader.bytes.swap(0, SeqCst);
    }

    impl Reader {
        /// Whether bytes are waiting: the kernel would report the pipe readable to every
        /// reactor that registered it.
        #[cfg(test)]
        pub(crate) fn is_readable(&self) -> bool {
            self.bytes.load(SeqCst) > 0
        }
    }

    impl mio::event::Source for Reader {
        fn register(
            &mut self,
            _registry: &mio::Registry,
            _token: mio::Token,
            _interests: mio::Interest,
        ) -> io::Result<()> {
            Ok(())
        }

        fn reregister(
            &mut self,
            _registry: &mio::Registry,
            _token: mio::Token,
            _interests: mio::Interest,
        ) -> io::Result<()> {
            Ok(())
        }

        fn deregister(&mut self, _registry: &mio::Registry) -> io::Result<()> {
            Ok(())
        }
    }
}

/// A mutex only ever taken with `try_lock`, for loom: a loom atomic flag says who holds it.
///
/// loom 0.7's own `try_lock` can block: if another thread takes the lock between the caller's
/// scheduling point and its attempt, loom marks the caller blocked until the lock is released
/// (tokio-rs/loom#376), which is a false deadlock whenever the holder waits for the caller,
/// as a worker in the reactor waits for its unparker. A compare-exchange never blocks. The data
/// sits in a std mutex that is never contended, since only the flag's owner locks it.
#[cfg(loom)]
pub(crate) struct TryMutex<T> {
    held: sync::atomic::AtomicBool,
    data: std::sync::Mutex<T>,
}

#[cfg(loom)]
pub(crate) struct TryMutexGuard<'a, T> {
    /// `None` only while the guard is dropped.
    data: Option<std::sync::MutexGuard<'a, T>>,
    held: &'a sync::atomic::AtomicBool,
}

#[cfg(loom)]
impl<T> TryMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        TryMutex {
            held: sync::atomic::AtomicBool::new(false),
            data: std::sync::Mutex::new(value),
        }
    }

    pub(crate) fn try_lock(&self) -> Option<TryMutexGuard<'_, T>> {
        use std::sync::atomic::Ordering::SeqCst;
        self.held
            .compare_exchange(false, true, SeqCst, SeqCst)
            .ok()?;
        Some(TryMutexGuard {
            data: Some(self.data.lock().unwrap()),
            held: &self.held,
        })
    }
}

#[cfg(loom)]
impl<T> std::ops::Deref for TryMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_ref().unwrap()
    }
}

#[cfg(loom)]
impl<T> std::ops::DerefMut for TryMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data.as_mut().unwrap()
    }
}

#[cfg(loom)]
impl<T> Drop for TryMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.data = None;
        self.held.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// std's thread handles and parking, for the standalone `block_on`: a token per loom thread
/// under a loom mutex and condition variable, which `Thread::unpark` sets and `park` waits
/// for and consumes, as std's token.
///
/// Not loom's own `thread::park`/`Thread::unpark`: loom keeps one blocked state per thread, so
/// its unpark also ends whatever else the thread is blocked in (a mutex, a condition variable,
/// a join), which fails loom's own assertions or eats a notification meant for that wait.
#[cfg(all(loom, feature = "standalone"))]
pub(crate) mod thread {
    use loom::sync::{Condvar, Mutex};
    use loom::thread::ThreadId;
    use std::sync::Arc;

    #[derive(Clone)]
    pub(crate) struct Thread {
        id: ThreadId,
        token: Arc<Token>,
    }

    struct Token {
        set: Mutex<bool>,
        changed: Condvar,
    }

    loom::thread_local! {
        static CURRENT: Thread = Thread {
            id: loom::thread::current().id(),
            token: Arc::new(Token {
                set: Mutex::new(false),
                changed: Condvar::new(),
            }),
        };
    }

    impl Thread {
        pub(crate) fn id(&self) -> ThreadId {
            self.id
        }

        pub(crate) fn unpark(&self) {
            *self.token.set.lock().unwrap() = true;
            self.token.changed.notify_one();
        }
    }

    pub(crate) fn current() -> Thread {
        CURRENT.with(Thread::clone)
    }

    pub(crate) fn park() {
        CURRENT.with(|thread| {
            let mut set = thread.token.set.lock().unwrap();
            while !*set {
                set = thread.token.changed.wait(set).unwrap();
            }
            *set = false;
        });
    }
}

/// A stand-in for epoll and the eventfd behind `mio::Waker`, built from loom's mutex and
/// condition variable: the "kernel" keeps a list of pending events; `Waker::wake` adds the
/// waker's event (once: the eventfd is edge-triggered, so writes before the next poll make one
/// event), `Registry::report` adds a socket's (the model makes data arrive), and
/// `Poll::poll` takes them all, blocking while there are none if its timeout is `None`.
///
/// loom has no clock, so a poll with a timeout never blocks: a zero timeout returns at once as
/// it does for real, and any other timeout is modelled as having elapsed, i.e. a spurious
/// return, which the callers must tolerate anyway. The models therefore park untimed where they
/// test for lost wake-ups. Registering a source does nothing: no descriptor is ever read.
#[cfg(loom)]
pub(crate) mod epoll {
    use crate::ready::Ready;
    use loom::sync::{Condvar, Mutex};
    use mio::{Interest, Token};
    use std::io;
    use std::sync::Arc;
    use std::time::Duration;

    struct Kernel {
        pending: Mutex<Vec<Event>>,
        became_ready: Condvar,
    }

    impl Kernel {
        fn push(&self, event: Event) {
            let mut pending = self.pending.lock().unwrap();
            match pending
                .iter_mut()
                .find(|queued| queued.token == event.token)
            {
                Some(queued) => queued.ready = queued.ready | event.ready,
                None => pending.push(event),
            }
            self.became_ready.notify_one();
        }
    }

    /// One event a poll returned.
    pub(crate) struct Event {
        token: Token,
        ready: Ready,
    }

    impl Event {
        pub(crate) fn token(&self) -> Token {
            self.token
        }
    }

    /// The readiness one polled event carries.
    pub(crate) fn readiness(event: &Event) -> Ready {
        event.ready
    }

    pub(crate) struct Events(Vec<Event>);

    impl Events {
        pub(crate) fn with_capacity(_capacity: usize) -> Events {
            Events(Vec::new())
        }
        pub(crate) fn iter(&self) -> std::slice::Iter<'_, Event> {
            self.0.iter()
        }
        pub(crate) fn clear(&mut self) {
            self.0.clear();
        }
    }

    pub(crate) struct Poll {
        registry: Registry,
    }

    impl Poll {
        pub(crate) fn new() -> io::Result<Poll> {
            Ok(Poll {
                registry: Registry {
                    kernel: Arc::new(Kernel {
                        pending: Mutex::new(Vec::new()),
                        became_ready: Condvar::new(),
                    }),
                },
            })
        }

        pub(crate) fn registry(&self) -> &Registry {
            &self.registry
        }

        pub(crate) fn poll(
            &mut self,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            events.clear();
            let kernel = &self.registry.kernel;
            let mut pending = kernel.pending.lock().unwrap();
            while pending.is_empty() && timeout.is_none() {
                pending = kernel.became_ready.wait(pending).unwrap();
            }
            events.0.append(&mut pending);
            Ok(())
        }
    }

    pub(crate) struct Registry {
        kernel: Arc<Kernel>,
    }

    impl Registry {
        pub(crate) fn try_clone(&self) -> io::Result<Registry> {
            Ok(Registry {
                kernel: self.kernel.clone(),
            })
        }

        pub(crate) fn register<S: ?Sized>(
            &self,
            _source: &mut S,
            _token: Token,
            _interest: Interest,
        ) -> io::Result<()> {
            Ok(())
        }

        pub(crate) fn reregister<S: ?Sized>(
            &self,
            _source: &mut S,
            _token: Token,
            _interest: Interest,
        ) -> io::Result<()> {
            Ok(())
        }

        pub(crate) fn deregister<S: ?Sized>(&self, _source: &mut S) -> io::Result<()> {
            Ok(())
        }

        /// The kernel side of a socket: `ready` happened on the source registered as `token`
        /// (data arrived, say), which ends a blocked poll or shows up in the next one.
        #[cfg(test)]
        pub(crate) fn report(&self, token: Token, ready: Ready) {
            self.kernel.push(Event { token, ready });
        }
    }

    pub(crate) struct Waker {
        kernel: Arc<Kernel>,
        token: Token,
    }

    impl Waker {
        pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<Waker> {
            Ok(Waker {
                kernel: registry.kernel.clone(),
                token,
            })
        }

        pub(crate) fn wake(&self) -> io::Result<()> {
            self.kernel.push(Event {
                token: self.token,
                ready: Ready::READABLE,
            });
            Ok(())
        }
    }
}
