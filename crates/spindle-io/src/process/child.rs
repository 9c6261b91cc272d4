//! [`Child`]: a spawned process, its pipes, and its exit as a future.

use super::pipe::{ChildStderr, ChildStdin, ChildStdout, PipeReader};
use super::reap::{self, ExitWatch};
use crate::reactor::Reactor;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::process::{ExitStatus, Output};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A child process spawned by [`Command::spawn`](super::Command::spawn): asyncio's `Process`.
///
/// Its piped standard streams are the public fields (take them out with `Option::take` to use
/// them while the child is waited for). [`wait`](Child::wait) waits for the exit without
/// blocking a thread; [`kill`](Child::kill) sends `SIGKILL`.
///
/// A `Child` dropped before its exit status was collected is not waited for, but it is reaped
/// when it exits (no zombie is left) while some spindle runtime runs; with
/// [`kill_on_drop(true)`](super::Command::kill_on_drop) it is killed first. See the module
/// docs of [`process`](super).
///
/// ```
/// use spindle_io::process::Command;
///
/// spindle_io::block_on(async {
///     let mut child = Command::new("sleep").arg("60").spawn()?;
///     assert!(child.id().is_some());
///     child.kill()?;
///     let status = child.wait().await?;
///     assert!(!status.success());
///     assert_eq!(child.id(), None, "reaped");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Child {
    /// The child's stdin, if the command's was [`Stdio::piped`](std::process::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if the command's was [`Stdio::piped`](std::process::Stdio::piped).
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if the command's was [`Stdio::piped`](std::process::Stdio::piped).
    pub stderr: Option<ChildStderr>,
    state: State,
    kill_on_drop: bool,
}

enum State {
    /// Not reaped yet.
    Running(Running),
    /// Reaped, with this status.
    Exited(ExitStatus),
}

struct Running {
    child: std::process::Child,
    exit: ExitWatch,
    /// Where it was spawned: where the orphan reaper listens if it is dropped unreaped.
    reactor: Arc<Reactor>,
}

impl Child {
    /// Takes over `child` (just spawned, its pipes still in it), registering its pipes and
    /// its exit watch with `reactor`. On failure the child is killed and reaped.
    pub(super) fn new(
        mut child: std::process::Child,
        reactor: Arc<Reactor>,
        kill_on_drop: bool,
    ) -> io::Result<Child> {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let registered = (|| {
            Ok::<_, io::Error>((
                stdin.map(|s| ChildStdin::new(s, &reactor)).transpose()?,
                stdout.map(|s| ChildStdout::new(s, &reactor)).transpose()?,
                stderr.map(|s| ChildStderr::new(s, &reactor)).transpose()?,
                ExitWatch::new(child.id(), &reactor)?,
            ))
        })();
        match registered {
            Ok((stdin, stdout, stderr, exit)) => Ok(Child {
                stdin,
                stdout,
                stderr,
                state: State::Running(Running {
                    child,
                    exit,
                    reactor,
                }),
                kill_on_drop,
            }),
            Err(error) => {
                // Nobody holds a handle to it: stop it rather than leave it running unwatched.
                // SIGKILL ends it promptly, so the blocking wait is short.
                let _ = child.kill();
                let _ = child.wait();
                Err(error)
            }
        }
    }

    /// The child's process id, or `None` once its exit status was collected (by
    /// [`wait`](Self::wait) or [`try_wait`](Self::try_wait)): after that the id may belong to
    /// another process.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let mut child = Command::new("true").spawn()?;
    ///     assert!(child.id().is_some());
    ///     child.wait().await?;
    ///     assert_eq!(child.id(), None);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn id(&self) -> Option<u32> {
        match &self.state {
            State::Running(running) => Some(running.child.id()),
            State::Exited(_) => None,
        }
    }

    /// Sends `SIGKILL` to the child and returns at once, without waiting for it to exit: follow
    /// it with [`wait`](Self::wait) to collect the status. Does nothing once the status was
    /// collected.
    ///
    /// # Errors
    ///
    /// What `kill(2)` reports.
    ///
    /// ```
    /// use spindle_io::process::Command;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// spindle_io::block_on(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     child.start_kill()?;
    ///     assert_eq!(child.wait().await?.signal(), Some(libc::SIGKILL));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Running(running) => running.child.kill(),
            State::Exited(_) => Ok(()),
        }
    }

    /// Sends `SIGKILL` to the child, as std's `Child::kill` does; the same as
    /// [`start_kill`](Self::start_kill). It does not wait: [`wait`](Self::wait) reaps it.
    ///
    /// # Errors
    ///
    /// What `kill(2)` reports.
    ///
    /// ```
    /// use spindle_io::process::Command;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// spindle_io::block_on(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     child.kill()?;
    ///     assert_eq!(child.wait().await?.signal(), Some(libc::SIGKILL));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.start_kill()
    }

    /// The child's exit status if it has exited (reaping it), `None` if it still runs. Never
    /// blocks.
    ///
    /// # Errors
    ///
    /// What `waitpid(2)` reports.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn()?;
    ///     assert_eq!(child.try_wait()?, None);
    ///     child.kill()?;
    ///     child.wait().await?;
    ///     assert!(child.try_wait()?.is_some(), "the status stays");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let running = match &mut self.state {
            State::Running(running) => running,
            State::Exited(status) => return Ok(Some(*status)),
        };
        let status = running.child.try_wait()?;
        if let Some(status) = status {
            // Drops the pidfd (or the SIGCHLD listener) now that it served.
            self.state = State::Exited(status);
        }
        Ok(status)
    }

    /// Waits for the child to exit and returns its status; afterwards the status is kept, so
    /// waiting again returns it at once. The child's stdin, if still here, is closed first, so
    /// that a child reading it to its end is not waited for forever (std does the same).
    ///
    /// # Errors
    ///
    /// What `waitpid(2)` reports, or an error if the reactor the child was spawned on has
    /// shut down (its runtime was dropped).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a status collected by a `wait` is stored in the `Child` before the `wait`
    /// returns, so a `wait` dropped at any point loses nothing, and the next one (or
    /// [`try_wait`](Self::try_wait)) returns it.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    ///     assert_eq!(child.wait().await?.code(), Some(3));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.stdin = None;
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        let running = match &mut self.state {
            State::Running(running) => running,
            State::Exited(status) => return Poll::Ready(Ok(*status)),
        };
        let spent = ready!(crate::coop::poll_spend(cx));
        let status = ready!(running.exit.poll_exit(&mut running.child, cx))?;
        spent.made_progress();
        self.state = State::Exited(status);
        Poll::Ready(Ok(status))
    }

    /// Closes stdin, reads stdout and stderr to their ends (at the same time, so a child that
    /// fills one pipe while spindle waits on the other cannot deadlock), then waits for the
    /// exit: asyncio's `Process.communicate()` once stdin was written. Streams taken out of
    /// the `Child` before are not read (their fields in the [`Output`] are empty).
    ///
    /// # Errors
    ///
    /// A read error of either pipe, or a [`wait`](Self::wait) error.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the `Child` was moved in, so dropping the future drops it (it is then
    /// reaped in the background, or killed first with `kill_on_drop`), and what was read is
    /// lost.
    ///
    /// ```
    /// use futures::io::AsyncWriteExt;
    /// use spindle_io::process::Command;
    /// use std::process::Stdio;
    ///
    /// spindle_io::block_on(async {
    ///     let mut child = Command::new("sort")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()?;
    ///     child.stdin.as_mut().unwrap().write_all(b"b\na\n").await?;
    ///     let output = child.wait_with_output().await?; // closes stdin: sort sees EOF
    ///     assert_eq!(output.stdout, b"a\nb\n");
    ///     assert!(output.status.success());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.stdin = None;
        let mut stdout = ReadToEnd::new(self.stdout.take().map(ChildStdout::into_pipe));
        let mut stderr = ReadToEnd::new(self.stderr.take().map(ChildStderr::into_pipe));
        poll_fn(|cx| {
            // Both are polled every time, so each keeps its waker stored.
            let stdout_done = stdout.poll(cx)?.is_ready();
            let stderr_done = stderr.poll(cx)?.is_ready();
            if stdout_done && stderr_done {
                Poll::Ready(Ok::<_, io::Error>(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: stdout.bytes,
            stderr: stderr.bytes,
        })
    }
}

/// One pipe read to its end, for `wait_with_output`.
struct ReadToEnd {
    /// `None` at EOF (or if there was no pipe).
    pipe: Option<PipeReader>,
    bytes: Vec<u8>,
}

impl ReadToEnd {
    fn new(pipe: Option<PipeReader>) -> ReadToEnd {
        ReadToEnd {
            pipe,
            bytes: Vec::new(),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(pipe) = &self.pipe {
            ready!(pipe.poll_read_to_end(cx, &mut self.bytes))?;
            self.pipe = None; // closes it
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // The placeholder status is never read: the `Child` is going.
        let State::Running(mut running) =
            std::mem::replace(&mut self.state, State::Exited(ExitStatus::default()))
        else {
            return;
        };
        if self.kill_on_drop {
            let _ = running.child.kill();
        }
        if let Ok(None) = running.child.try_wait() {
            reap::adopt(running.child, &running.reactor);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Child");
        match &self.state {
            State::Running(running) => debug
                .field("id", &running.child.id())
                .field("exit", &running.exit),
            State::Exited(status) => debug.field("status", status),
        };
        debug
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}
