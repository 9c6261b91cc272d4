//! Readiness: which operations on a socket may succeed without blocking, as a small bit set,
//! and the two directions a waiter waits in.
//!
//! Readiness is a hint, never a promise: the socket may still answer `WouldBlock` (another
//! task got there first, or the event was for data already consumed), and the waiter then
//! clears what it observed (see [`crate::scheduled_io`]).

use std::fmt;
use std::ops;

/// A set of readiness bits, as kept in the low byte of a `ScheduledIo`'s readiness word.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(usize);

impl Ready {
    /// Nothing is ready.
    pub(crate) const EMPTY: Ready = Ready(0);
    /// A read (or accept, or recv) may make progress.
    pub(crate) const READABLE: Ready = Ready(0b0_0001);
    /// A write (or send, or a connect's completion) may make progress.
    pub(crate) const WRITABLE: Ready = Ready(0b0_0010);
    /// The peer closed its write half (or hung up): reads return what is left, then EOF.
    pub(crate) const READ_CLOSED: Ready = Ready(0b0_0100);
    /// Our write half is closed (or the connection hung up): writes fail.
    pub(crate) const WRITE_CLOSED: Ready = Ready(0b0_1000);
    /// The socket has a pending error: the next operation reports it.
    pub(crate) const ERROR: Ready = Ready(0b1_0000);
    /// Every bit above.
    pub(crate) const ALL: Ready = Ready(0b1_1111);
    /// The bits that, once set, stay set: a closed half never reopens, and with edge-triggered
    /// polling no new event would set them again.
    pub(crate) const CLOSED: Ready = Ready(0b0_1100);
    /// The bits with which epoll reports a non-blocking connect that failed (`EPOLLERR`, and
    /// `EPOLLHUP` with it).
    pub(crate) const CONNECT_FAILED: Ready = Ready(0b1_1000);

    /// The readiness carried by one mio event.
    pub(crate) fn from_mio(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready = ready | Ready::READABLE;
        }
        if event.is_writable() {
            ready = ready | Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready = ready | Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready = ready | Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready = ready | Ready::ERROR;
        }
        ready
    }

    pub(crate) const fn from_bits(bits: usize) -> Ready {
        Ready(bits & Ready::ALL.0)
    }

    pub(crate) const fn bits(self) -> usize {
        self.0
    }

    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl ops::Sub for Ready {
    type Output = Ready;
    /// The bits of `self` that are not in `other`.
    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut set = f.debug_set();
        for (bit, name) in names {
            if self.contains(bit) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// The direction a task waits in. Each has its own waiters, so a task blocked on a full send
/// buffer is not woken by incoming data, and the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reads, accepts, receives.
    Read,
    /// Writes, sends, connect completion.
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction make progress (possibly by
    /// failing: a closed half or an error also ends the wait).
    pub(crate) const fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready(Ready::READABLE.0 | Ready::READ_CLOSED.0 | Ready::ERROR.0),
            Direction::Write => Ready(Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0 | Ready::ERROR.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_share_only_the_error_bit() {
        let common = Direction::Read.mask() & Direction::Write.mask();
        assert_eq!(common, Ready::ERROR);
        assert_eq!(Direction::Read.mask() | Direction::Write.mask(), Ready::ALL);
    }

    #[test]
    fn closed_bits_are_the_two_halves() {
        assert_eq!(Ready::CLOSED, Ready::READ_CLOSED | Ready::WRITE_CLOSED);
        assert_eq!(
            format!("{:?}", Ready::CLOSED),
            "{READ_CLOSED, WRITE_CLOSED}"
        );
        assert_eq!(Ready::from_bits(usize::MAX), Ready::ALL);
        assert_eq!((Ready::ALL - Ready::CLOSED).bits(), 0b1_0011);
    }
}
