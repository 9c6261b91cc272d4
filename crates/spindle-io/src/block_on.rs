//! The standalone driver: run a future on the calling thread, driving a reactor in between
//! polls. For tests, tools and docs that need sockets without a runtime.
//!
//! # Several threads, one reactor
//!
//! [`block_on`] uses one process-wide reactor, so a socket made in one `block_on` works in any
//! later one, on any thread. Threads in `block_on` at the same time share it: whoever wins the
//! poll blocks in `epoll_wait` and delivers everybody's events (a woken task's waker unparks its
//! own thread); the others park on their thread. Two rules keep the reactor driven:
//!
//! 1. A thread that cannot drive lists itself in `block_on_waiters` *before* its `try_turn`.
//! 2. A `block_on` that returns (or unwinds) wakes every listed thread, so one of them takes
//!    over the poll. Its release of the poll comes before it reads the list, so a thread that
//!    lost `try_turn` to it is either on the list it reads or retries after the release.
//!
//! While the driving thread is busy polling its own future, nobody is in `epoll_wait`: events
//! for the others wait in the kernel until it comes back (as on tokio's current-thread
//! runtime). A future that blocks its thread therefore stalls the other `block_on`s' I/O.
//!
//! # Waking the thread
//!
//! A `block_on` waker sets `woken`, then unparks the thread, and also writes the reactor's
//! eventfd if the thread may be in `epoll_wait` (`in_reactor`). The thread publishes
//! `in_reactor` before re-reading `woken` and the waker publishes `woken` before reading
//! `in_reactor`, each with a SeqCst fence between its store and its load: either the thread
//! sees the wake and does not block, or the waker sees the thread in the reactor and interrupts
//! it. (SeqCst stores and loads alone would do in C++'s model; the fences are what loom can
//! check, since it treats SeqCst accesses as AcqRel, and they cost one barrier next to a
//! system call.)
//!
//! The eventfd edge of such an interruption is not addressed to anybody: whichever turn comes
//! next uses it up. `in_reactor` is published before the thread holds the poll, so the waker
//! may write the eventfd while *another* thread's turn is running, and that turn takes the
//! edge. So a thread that wins the poll re-reads `woken` before blocking, and turns with a zero
//! timeout if it was woken meanwhile: the other turn released the poll after it consumed the
//! edge, and this thread took the poll after that, so it sees the waker's `woken`. (The loom
//! model `a_returning_driver_hands_the_reactor_to_a_waiting_block_on` found this: without the
//! re-read, a thread sat in `epoll_wait` with `woken` set while the other thread, its turn done,
//! parked.)
//!
//! The loom models in `loom_tests::block_on` run this code (with `crate::loom`'s stand-ins for
//! epoll and the thread parker): a wake that fires while the thread goes from polling into the
//! reactor, and rule 2's hand-off from a driver whose future completes to a thread still
//! waiting for its socket.

use crate::context;
use crate::loom::sync::atomic::{fence, AtomicBool};
use crate::loom::thread::{self, Thread};
use crate::reactor::Reactor;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Runs `future` to completion on the calling thread, driving the process-wide standalone
/// reactor while it waits: spindle-io's own driver, for tests and tools that need sockets
/// without a runtime. Sockets created inside register with that reactor and keep working in
/// later `block_on` calls, on any thread.
///
/// # Panics
///
/// If the standalone reactor cannot be created (the process is out of file descriptors), or
/// `epoll_wait` fails.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use spindle_io::net::{TcpListener, TcpStream};
///
/// let echoed = spindle_io::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = async {
///         let (mut stream, _) = listener.accept().await?;
///         let mut buf = [0; 5];
///         stream.read_exact(&mut buf).await?;
///         stream.write_all(&buf).await
///     };
///     let client = async {
///         let mut stream = TcpStream::connect(addr).await?;
///         stream.write_all(b"hello").await?;
///         let mut buf = [0; 5];
///         stream.read_exact(&mut buf).await?;
///         Ok::<_, std::io::Error>(buf)
///     };
///     let (served, echoed) = futures::join!(server, client);
///     served?;
///     echoed
/// })
/// .unwrap();
/// assert_eq!(&echoed, b"hello");
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    standalone().block_on(future)
}

fn standalone() -> &'static Arc<Reactor> {
    static STANDALONE: OnceLock<Arc<Reactor>> = OnceLock::new();
    STANDALONE.get_or_init(|| {
        Reactor::new().unwrap_or_else(|error| {
            panic!("spindle_io::block_on could not create its reactor: {error}")
        })
    })
}

/// Wakes a thread in [`Reactor::block_on`].
struct ThreadSignal {
    thread: Thread,
    woken: AtomicBool,
    in_reactor: AtomicBool,
    reactor: Weak<Reactor>,
}

impl Wake for ThreadSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A swap, not a store: the same instruction on x86 (a SeqCst store is an `xchg`), and
        // loom 0.7 lets a plain store slip between the read and the write of the thread's
        // concurrent `swap(false)` (tokio-rs/loom#254), which would lose this wake in the model.
        self.woken.swap(true, SeqCst);
        fence(SeqCst);
        if self.in_reactor.load(SeqCst) {
            if let Some(reactor) = self.reactor.upgrade() {
                reactor.unpark();
            }
        }
        self.thread.unpark();
    }
}

/// On drop (return or unwind), takes the thread off the waiters list and wakes the others so
/// one of them takes over the driving (rule 2).
struct HandOff<'a>(&'a Reactor);

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        let waiting = std::mem::take(&mut *self.0.block_on_waiters.lock());
        let me = thread::current().id();
        for thread in waiting.into_iter().filter(|thread| thread.id() != me) {
            thread.unpark();
        }
    }
}

impl Reactor {
    /// Runs `future` to completion on the calling thread with this reactor current, driving
    /// it whenever the future waits and no other thread is driving it. Several threads may
    /// call it on the same reactor at once (see [`block_on`] for how they share it).
    ///
    /// # Panics
    ///
    /// If `epoll_wait` fails.
    ///
    /// ```
    /// use spindle_io::net::UdpSocket;
    ///
    /// let reactor = spindle_io::Reactor::new().unwrap();
    /// let got = reactor.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"ping", b.local_addr()?).await?;
    ///     let mut buf = [0; 4];
    ///     let (n, from) = b.recv_from(&mut buf).await?;
    ///     assert_eq!(from, a.local_addr()?);
    ///     Ok::<_, std::io::Error>(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"ping");
    /// assert_eq!(reactor.registrations(), 0);
    /// ```
    pub fn block_on<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        let _current = context::enter(self.clone());
        let _hand_off = HandOff(self);
        let signal = Arc::new(ThreadSignal {
            thread: thread::current(),
            woken: AtomicBool::new(true),
            in_reactor: AtomicBool::new(false),
            reactor: Arc::downgrade(self),
        });
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if signal.woken.swap(false, SeqCst) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
                continue;
            }
            self.wait_for_wake(&signal);
        }
    }

    /// Blocks until `signal` is woken: in the reactor if no other thread drives it, otherwise
    /// parked on the thread. May return early (spuriously); the caller loops.
    fn wait_for_wake(&self, signal: &ThreadSignal) {
        signal.in_reactor.store(true, SeqCst);
        fence(SeqCst);
        if signal.woken.load(SeqCst) {
            signal.in_reactor.store(false, SeqCst);
            return;
        }
        self.list_waiter(&signal.thread); // rule 1: before trying
        let turned = self.try_drive().map(|driver| {
            // Holding the poll now: re-read `woken`, since the eventfd edge of a wake that came
            // before may have been used up by another thread's turn.
            let timeout = signal.woken.load(SeqCst).then_some(Duration::ZERO);
            driver.turn(timeout)
        });
        signal.in_reactor.store(false, SeqCst);
        match turned {
            Some(result) => {
                self.unlist_waiter(&signal.thread);
                if let Err(error) = result {
                    panic!("spindle_io::block_on: polling the reactor failed: {error}");
                }
            }
            None => {
                if !signal.woken.load(SeqCst) {
                    thread::park();
                }
            }
        }
    }

    fn list_waiter(&self, thread: &Thread) {
        let mut waiters = self.block_on_waiters.lock();
        if !waiters.iter().any(|listed| listed.id() == thread.id()) {
            waiters.push(thread.clone());
        }
    }

    fn unlist_waiter(&self, thread: &Thread) {
        self.block_on_waiters
            .lock()
            .retain(|listed| listed.id() != thread.id());
    }
}
