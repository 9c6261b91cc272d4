use std::any::Any;
use std::fmt;

/// Why a task's [`JoinHandle`](crate::JoinHandle) holds no output: the task was cancelled, or
/// its future panicked.
///
/// # Examples
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let handle = scheduler.spawn(async { panic!("boom") });
/// let err = futures::executor::block_on(handle).unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// Boxed, so that a task's output slot (`Result<T, JoinError>`) stays one word plus `T`.
    Panic(Box<PanicInfo>),
}

struct PanicInfo {
    /// The payload's message (if it was a string), copied out for `Display`.
    message: Option<String>,
    payload: Payload,
}

/// A panic payload that is only ever reached by value.
struct Payload(Box<dyn Any + Send + 'static>);

// SAFETY: no `&self` method reaches the box: it is only moved out (`into_panic`), so sharing
// a `&Payload` between threads shares nothing.
unsafe impl Sync for Payload {}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            repr: Repr::Panic(Box::new(PanicInfo {
                message: panic_message(payload.as_ref()).map(str::to_owned),
                payload: Payload(payload),
            })),
        }
    }

    /// True if the task was aborted, or dropped by a runtime shutdown.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let handle = scheduler.spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(futures::executor::block_on(handle).unwrap_err().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task's future panicked (while polled, or while dropped).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let err = futures::executor::block_on(scheduler.spawn(async { panic!() })).unwrap_err();
    /// assert!(err.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(..))
    }

    /// The panic payload, to inspect or to resume with `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicked; check [`is_panic`](Self::is_panic), or
    /// use [`try_into_panic`](Self::try_into_panic).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let err = futures::executor::block_on(scheduler.spawn(async { panic!("{}", 7) })).unwrap_err();
    /// assert_eq!(*err.into_panic().downcast::<String>().unwrap(), "7");
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancelled task; check is_panic() first")
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let handle = scheduler.spawn(std::future::pending::<()>());
    /// handle.abort();
    /// let err = futures::executor::block_on(handle).unwrap_err();
    /// assert!(err.try_into_panic().is_err());
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(info) => Ok(info.payload.0),
            Repr::Cancelled => Err(self),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(info) => match &info.message {
                Some(message) => write!(f, "task panicked with message {message:?}"),
                None => f.write_str("task panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(info) => match &info.message {
                Some(message) => write!(f, "JoinError::Panic({message:?})"),
                None => f.write_str("JoinError::Panic(..)"),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(err: JoinError) -> std::io::Error {
        std::io::Error::other(err)
    }
}
