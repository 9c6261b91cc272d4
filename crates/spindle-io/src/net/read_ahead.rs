//! Read-ahead for stream sockets, TCP and Unix alike.
//!
//! Readiness is edge-triggered, so a read must learn that the socket is drained before it may
//! wait for the next event. A read that returns fewer bytes than asked for says so (a stream
//! socket hands over everything queued, up to the buffer's size), and readiness is cleared
//! then. A read that fills the caller's buffer says nothing, and the next read pays a system
//! call that fails with `EWOULDBLOCK`: half the reads of a request/response protocol that reads
//! exact sizes (`read_exact` of a length-prefixed frame, a 64-byte echo).
//!
//! So a read asks the kernel for [`READ_AHEAD`] bytes more than the caller's buffer, into a
//! small buffer of the stream's own (one `readv`). If they do not all come, the socket is
//! drained and readiness is cleared, with no extra call; bytes that do come are handed out
//! first by the next read, without a system call. The only visible difference: closing a
//! stream whose last bytes were read ahead but never read by the caller sends FIN, where
//! unread bytes in the kernel would have made it RST.
//!
//! Only reads into buffers smaller than [`READ_AHEAD_BELOW`] read ahead. Beside a large copy a
//! failing call is cheap, and the two-segment `readv` is not: it made bulk transfers with large
//! reads measurably slower, all of it in the kernel (docs/benchmarks.md, `tcp_bulk`).

use crate::ready::Direction;
use crate::registration::Registration;
use mio::event::Source;
use parking_lot::Mutex;
use std::io::{self, IoSliceMut, Read};
use std::task::{ready, Context, Poll};

/// Bytes a read asks the kernel for beyond the caller's buffer.
pub(crate) const READ_AHEAD: usize = 64;
/// Reads into buffers at least this large do not read ahead.
pub(crate) const READ_AHEAD_BELOW: usize = 4096;

/// Bytes read from the socket ahead of the caller: `bytes[start..end]`, behind the stream's
/// lock, so that two tasks reading one stream through `&stream` never see a byte twice.
pub(crate) struct ReadAhead(Mutex<Buffer>);

struct Buffer {
    bytes: [u8; READ_AHEAD],
    start: usize,
    end: usize,
}

impl Buffer {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Moves as many bytes as fit into `bufs`; returns how many.
    fn take_into(&mut self, bufs: &mut [IoSliceMut<'_>]) -> usize {
        let mut taken = 0;
        for buf in bufs {
            let n = buf.len().min(self.end - self.start);
            buf[..n].copy_from_slice(&self.bytes[self.start..self.start + n]);
            self.start += n;
            taken += n;
        }
        taken
    }
}

impl ReadAhead {
    pub(crate) fn new() -> ReadAhead {
        ReadAhead(Mutex::new(Buffer {
            bytes: [0; READ_AHEAD],
            start: 0,
            end: 0,
        }))
    }

    /// A read of `registration`'s stream into `buf`: from the bytes read ahead if there are
    /// any, otherwise from the socket, reading ahead if `buf` is small.
    pub(crate) fn poll_read<S: Source>(
        &self,
        registration: &Registration<S>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: Read,
    {
        let mut ahead = self.0.lock();
        if !ahead.is_empty() {
            return Poll::Ready(Ok(ahead.take_into(&mut [IoSliceMut::new(buf)])));
        }
        if buf.is_empty() || buf.len() >= READ_AHEAD_BELOW {
            return registration
                .poll_transfer(Direction::Read, cx, 0, |mut stream| stream.read(buf));
        }
        let wanted = buf.len();
        let ahead = &mut *ahead;
        let read = ready!(registration.poll_transfer(
            Direction::Read,
            cx,
            wanted + READ_AHEAD,
            |mut stream| {
                stream.read_vectored(&mut [IoSliceMut::new(buf), IoSliceMut::new(&mut ahead.bytes)])
            }
        ))?;
        if read > wanted {
            ahead.start = 0;
            ahead.end = read - wanted;
        }
        Poll::Ready(Ok(read.min(wanted)))
    }

    /// A vectored read: the bytes read ahead if there are any, otherwise the socket's.
    pub(crate) fn poll_read_vectored<S: Source>(
        &self,
        registration: &Registration<S>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: Read,
    {
        let mut ahead = self.0.lock();
        if !ahead.is_empty() {
            return Poll::Ready(Ok(ahead.take_into(bufs)));
        }
        let len = bufs.iter().map(|buf| buf.len()).sum();
        registration.poll_transfer(Direction::Read, cx, len, |mut stream| {
            stream.read_vectored(bufs)
        })
    }
}
