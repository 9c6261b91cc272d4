//! A child's standard streams on the reactor: [`ChildStdin`] (`AsyncWrite`), [`ChildStdout`]
//! and [`ChildStderr`] (`AsyncRead`).
//!
//! std creates the pipes close-on-exec (`pipe2(O_CLOEXEC)`), so the parent's ends never leak
//! into another child; the child's ends become its descriptors 0, 1 and 2. Here the parent's
//! ends are switched to non-blocking mode and registered with the reactor the child was
//! spawned on, and read and written as a `TcpStream` is (`crate::registration`): try the
//! call, wait for the reactor after `WouldBlock`. A pipe read that returns fewer bytes than
//! asked for emptied the pipe, and a write that takes fewer filled it, so either clears the
//! readiness it used without a failing call (`Registration::poll_transfer`). Completed
//! operations spend the task's cooperative budget.

use crate::reactor::Reactor;
use crate::ready::{Direction, Ready};
use crate::registration::Registration;
use futures_io::{AsyncRead, AsyncWrite};
use mio::unix::pipe::{Receiver, Sender};
use mio::Interest;
use std::fmt;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// The writing end of a child's standard input ([`Child::stdin`](super::Child::stdin), when
/// the command's stdin was [`Stdio::piped`](std::process::Stdio::piped)). Implements
/// [`futures_io::AsyncWrite`]; closing it (`poll_close`, `AsyncWriteExt::close`) or dropping
/// it closes the pipe, so the child reads EOF.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use spindle_io::process::Command;
/// use std::process::Stdio;
///
/// spindle_io::block_on(async {
///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"meow").await?;
///     stdin.close().await?; // EOF: cat finishes
///     let mut echoed = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut echoed).await?;
///     assert_eq!(echoed, "meow");
///     assert!(child.wait().await?.success());
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct ChildStdin {
    /// `None` once closed.
    pipe: Option<Registration<Sender>>,
}

/// The reading end of a child's standard output ([`Child::stdout`](super::Child::stdout),
/// when the command's stdout was [`Stdio::piped`](std::process::Stdio::piped)). Implements
/// [`futures_io::AsyncRead`]; it reads EOF once the child (and every process it passed the
/// pipe to) has closed it, usually by exiting.
///
/// ```
/// use futures::io::AsyncReadExt;
/// use spindle_io::process::Command;
/// use std::process::Stdio;
///
/// spindle_io::block_on(async {
///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
///     let mut out = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut out).await?;
///     assert_eq!(out, "hi\n");
///     child.wait().await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct ChildStdout {
    pipe: PipeReader,
}

/// The reading end of a child's standard error ([`Child::stderr`](super::Child::stderr),
/// when the command's stderr was [`Stdio::piped`](std::process::Stdio::piped)). Implements
/// [`futures_io::AsyncRead`], as [`ChildStdout`] does.
///
/// ```
/// use futures::io::AsyncReadExt;
/// use spindle_io::process::Command;
/// use std::process::Stdio;
///
/// spindle_io::block_on(async {
///     let mut child = Command::new("sh")
///         .args(["-c", "echo oops >&2"])
///         .stderr(Stdio::piped())
///         .spawn()?;
///     let mut err = String::new();
///     child.stderr.take().unwrap().read_to_string(&mut err).await?;
///     assert_eq!(err, "oops\n");
///     child.wait().await?;
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct ChildStderr {
    pipe: PipeReader,
}

/// A registered, non-blocking pipe read end: what stdout and stderr share.
pub(super) struct PipeReader {
    registration: Registration<Receiver>,
}

impl ChildStdin {
    pub(super) fn new(stdin: std::process::ChildStdin, reactor: &Arc<Reactor>) -> io::Result<Self> {
        let sender = Sender::from(stdin);
        sender.set_nonblocking(true)?;
        let registration =
            Registration::new(reactor.clone(), sender, Interest::WRITABLE, Ready::WRITABLE)?;
        Ok(ChildStdin {
            pipe: Some(registration),
        })
    }

    fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let Some(pipe) = &self.pipe else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's stdin was closed",
            )));
        };
        pipe.poll_transfer(Direction::Write, cx, buf.len(), |mut sender| {
            sender.write(buf)
        })
    }
}

impl PipeReader {
    fn new(receiver: Receiver, reactor: &Arc<Reactor>) -> io::Result<PipeReader> {
        receiver.set_nonblocking(true)?;
        let registration = Registration::new(
            reactor.clone(),
            receiver,
            Interest::READABLE,
            Ready::READABLE,
        )?;
        Ok(PipeReader { registration })
    }

    pub(super) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.registration
            .poll_transfer(Direction::Read, cx, buf.len(), |mut receiver| {
                receiver.read(buf)
            })
    }

    /// Reads until EOF into `bytes`, in chunks; `Ready` at EOF.
    pub(super) fn poll_read_to_end(
        &self,
        cx: &mut Context<'_>,
        bytes: &mut Vec<u8>,
    ) -> Poll<io::Result<()>> {
        let mut chunk = [0u8; 8192];
        loop {
            match ready!(self.poll_read(cx, &mut chunk))? {
                0 => return Poll::Ready(Ok(())),
                n => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl ChildStdout {
    pub(super) fn new(
        stdout: std::process::ChildStdout,
        reactor: &Arc<Reactor>,
    ) -> io::Result<Self> {
        Ok(ChildStdout {
            pipe: PipeReader::new(Receiver::from(stdout), reactor)?,
        })
    }

    pub(super) fn into_pipe(self) -> PipeReader {
        self.pipe
    }
}

impl ChildStderr {
    pub(super) fn new(
        stderr: std::process::ChildStderr,
        reactor: &Arc<Reactor>,
    ) -> io::Result<Self> {
        Ok(ChildStderr {
            pipe: PipeReader::new(Receiver::from(stderr), reactor)?,
        })
    }

    pub(super) fn into_pipe(self) -> PipeReader {
        self.pipe
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    /// Writes go straight to the pipe: there is nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads EOF. Later writes fail with `BrokenPipe`.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pipe = None;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe.poll_read(cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe.poll_read(cx, buf)
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pipe {
            Some(pipe) => f.debug_tuple("ChildStdin").field(pipe).finish(),
            None => f.write_str("ChildStdin(closed)"),
        }
    }
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.registration.fmt(f)
    }
}

impl fmt::Debug for ChildStdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChildStdout").field(&self.pipe).finish()
    }
}

impl fmt::Debug for ChildStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChildStderr").field(&self.pipe).finish()
    }
}
