//! Child processes on the reactor: asyncio's `create_subprocess_exec`. A [`Command`] is
//! std's builder; [`spawn`](Command::spawn) gives a [`Child`] whose piped stdin, stdout and
//! stderr are `futures-io` streams and whose exit is awaited with [`Child::wait`], without a
//! thread per child.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle_io::process::Command;
//! use std::process::Stdio;
//!
//! spindle_io::block_on(async {
//!     // Run a program and collect what it printed.
//!     let output = Command::new("echo").arg("hello").output().await?;
//!     assert_eq!(output.stdout, b"hello\n");
//!     assert!(output.status.success());
//!
//!     // Talk to a running one through its pipes.
//!     let mut child = Command::new("tr")
//!         .arg("a-z")
//!         .arg("A-Z")
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()?;
//!     let mut stdin = child.stdin.take().unwrap();
//!     stdin.write_all(b"shout\n").await?;
//!     drop(stdin); // EOF
//!     let mut shouted = String::new();
//!     child.stdout.take().unwrap().read_to_string(&mut shouted).await?;
//!     assert_eq!(shouted, "SHOUT\n");
//!     assert!(child.wait().await?.success());
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # How a child is watched and reaped
//!
//! - Its pipes (std creates them close-on-exec, so they never leak into another child) are
//!   made non-blocking and registered with the reactor that is current at the spawn, as
//!   sockets are (`pipe.rs`).
//! - Its exit: on Linux 5.3 and later a pidfd registered with that reactor, which becomes
//!   readable when the child exits; elsewhere, or where `pidfd_open` is refused, a `SIGCHLD`
//!   listener ([`crate::signal`]). Either way [`Child::wait`] then collects the status with
//!   a non-blocking `waitpid` of that child only (never `waitpid(-1)`, so children spawned by
//!   other code are left alone).
//! - A `Child` dropped before its status was collected (killed first with
//!   [`kill_on_drop(true)`](Command::kill_on_drop)) goes to a process-wide orphan queue,
//!   reaped at every `SIGCHLD` by a listener installed with the first orphan, and at every
//!   spawn: no zombie is left behind, as long as some spindle reactor runs (an orphan left
//!   when every runtime is gone stays a zombie until the process exits). Installing that
//!   listener installs a `SIGCHLD` handler for the rest of the process (see
//!   [`crate::signal`]); `SIGCHLD`'s default action is to ignore it, so nothing else changes.
//!
//! The details, and why no exit and no orphan is missed, are in `reap.rs`.

mod child;
mod pipe;
mod reap;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
#[cfg(all(test, loom))]
pub(crate) use reap::{Orphan, OrphanQueue};

use crate::context;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

/// A process to spawn: std's [`std::process::Command`] builder (program, arguments,
/// environment, working directory, standard streams), whose [`spawn`](Command::spawn),
/// [`status`](Command::status) and [`output`](Command::output) do not block the thread.
///
/// ```
/// use spindle_io::process::Command;
///
/// spindle_io::block_on(async {
///     let output = Command::new("sh")
///         .args(["-c", "echo $GREETING from $PWD"])
///         .env("GREETING", "hello")
///         .current_dir("/")
///         .output()
///         .await?;
///     assert_eq!(output.stdout, b"hello from /\n");
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Which streams the caller set: `output` captures only the others.
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

impl Command {
    /// A command to run `program`, found on `PATH` unless it is a path, with no arguments,
    /// this process's environment and working directory, and (for `spawn` and `status`) its
    /// standard streams.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     assert!(Command::new("true").status().await?.success());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            std: std::process::Command::new(program),
            kill_on_drop: false,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }

    /// Adds an argument.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("echo").arg("one").arg("two").output().await?;
    ///     assert_eq!(output.stdout, b"one two\n");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("printf").args(["%s-%s", "a", "b"]).output().await?;
    ///     assert_eq!(output.stdout, b"a-b");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable of the child.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("sh").args(["-c", "echo $COLOR"]).env("COLOR", "red").output().await?;
    ///     assert_eq!(output.stdout, b"red\n");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables of the child.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("sh")
    ///         .args(["-c", "echo $A$B"])
    ///         .envs([("A", "1"), ("B", "2")])
    ///         .output()
    ///         .await?;
    ///     assert_eq!(output.stdout, b"12\n");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("sh")
    ///         .args(["-c", "echo ${COLOR-unset}"])
    ///         .env("COLOR", "red")
    ///         .env_remove("COLOR")
    ///         .output()
    ///         .await?;
    ///     assert_eq!(output.stdout, b"unset\n");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Clears the child's environment: it gets only the variables set after this.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("/usr/bin/env").env_clear().env("ONLY", "me").output().await?;
    ///     assert_eq!(output.stdout, b"ONLY=me\n");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("pwd").current_dir("/").output().await?;
    ///     assert_eq!(output.stdout, b"/\n");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: [`Stdio::piped`] makes [`Child::stdin`] a
    /// [`ChildStdin`]. The default is to inherit this process's, except for
    /// [`output`](Self::output), which gives the child an empty one ([`Stdio::null`]).
    ///
    /// ```
    /// use spindle_io::process::Command;
    /// use std::process::Stdio;
    ///
    /// spindle_io::block_on(async {
    ///     let child = Command::new("cat").stdin(Stdio::piped()).spawn()?;
    ///     assert!(child.stdin.is_some());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's standard output: [`Stdio::piped`] makes [`Child::stdout`] a
    /// [`ChildStdout`]. The default is to inherit this process's, except for
    /// [`output`](Self::output), which captures it.
    ///
    /// ```
    /// use spindle_io::process::Command;
    /// use std::process::Stdio;
    ///
    /// spindle_io::block_on(async {
    ///     // Discarded, even by `output`.
    ///     let output = Command::new("echo").arg("hi").stdout(Stdio::null()).output().await?;
    ///     assert!(output.stdout.is_empty());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Sets the child's standard error: [`Stdio::piped`] makes [`Child::stderr`] a
    /// [`ChildStderr`]. The default is to inherit this process's, except for
    /// [`output`](Self::output), which captures it.
    ///
    /// ```
    /// use spindle_io::process::Command;
    /// use std::process::Stdio;
    ///
    /// spindle_io::block_on(async {
    ///     let child = Command::new("true").stderr(Stdio::piped()).spawn()?;
    ///     assert!(child.stderr.is_some());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// Whether a [`Child`] dropped before its exit status was collected is killed
    /// (`SIGKILL`) first. Off by default: the child then runs on, and is reaped in the
    /// background when it exits. Either way no zombie is left (see the module docs).
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let child = Command::new("sleep").arg("60").kill_on_drop(true).spawn()?;
    ///     drop(child); // killed now, reaped in the background
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Starts the program, registering its piped streams and its exit with the current
    /// runtime's reactor. Also reaps the dropped children that have exited meanwhile.
    ///
    /// # Errors
    ///
    /// std's spawn error, its kind kept and the program named: `NotFound` for a program that
    /// does not exist, `PermissionDenied` for one that is not executable. An error if the
    /// reactor has shut down or the process is out of file descriptors; then a child that did
    /// start is killed and reaped.
    ///
    /// # Panics
    ///
    /// If no reactor is current and no default reactor is installed.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let error = Command::new("no-such-program").spawn().unwrap_err();
    ///     assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    ///     assert!(error.to_string().contains("no-such-program"));
    ///
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.wait().await.unwrap().success());
    /// });
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let reactor = context::current();
        reap::reap_orphans(&reactor);
        let child = self.std.spawn().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot spawn {:?}: {error}", self.std.get_program()),
            )
        })?;
        Child::new(child, reactor, self.kill_on_drop)
    }

    /// Spawns the program and waits for it to exit. Its standard streams are this process's
    /// unless set; streams set to [`Stdio::piped`] are closed at once (nobody would read or
    /// write them).
    ///
    /// # Errors
    ///
    /// [`spawn`](Self::spawn)'s and [`Child::wait`]'s.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping the future drops the [`Child`], which is killed if
    /// [`kill_on_drop`](Self::kill_on_drop) is set, and otherwise runs on and is reaped in the
    /// background; its status is lost.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let status = Command::new("false").status().await?;
    ///     assert_eq!(status.code(), Some(1));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        child.stdin = None;
        child.stdout = None;
        child.stderr = None;
        child.wait().await
    }

    /// Spawns the program, collects its stdout and stderr (read at the same time, so a child
    /// that fills one pipe cannot deadlock), and waits for it to exit. Unless set otherwise,
    /// stdout and stderr are captured and stdin is empty ([`Stdio::null`]), as in std; the
    /// command's own defaults are left as they were.
    ///
    /// # Errors
    ///
    /// [`spawn`](Self::spawn)'s, a pipe's read error, and [`Child::wait`]'s.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping the future drops the [`Child`] (killed if
    /// [`kill_on_drop`](Self::kill_on_drop) is set, otherwise reaped in the background) and
    /// what was read so far.
    ///
    /// ```
    /// use spindle_io::process::Command;
    ///
    /// spindle_io::block_on(async {
    ///     let output = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 2"]).output().await?;
    ///     assert_eq!(output.stdout, b"out\n");
    ///     assert_eq!(output.stderr, b"err\n");
    ///     assert_eq!(output.status.code(), Some(2));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        let (stdin, stdout, stderr) = (self.stdin_set, self.stdout_set, self.stderr_set);
        if !stdin {
            self.std.stdin(Stdio::null());
        }
        if !stdout {
            self.std.stdout(Stdio::piped());
        }
        if !stderr {
            self.std.stderr(Stdio::piped());
        }
        let spawned = self.spawn();
        // Back to what `spawn` and `status` use by default.
        if !stdin {
            self.std.stdin(Stdio::inherit());
        }
        if !stdout {
            self.std.stdout(Stdio::inherit());
        }
        if !stderr {
            self.std.stderr(Stdio::inherit());
        }
        spawned?.wait_with_output().await
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("command", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// Whether `pid` is a zombie child of this process.
    fn is_zombie_child(pid: u32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        fields[0] == "Z" && fields[1] == std::process::id().to_string()
    }

    /// Without pidfds (Linux before 5.3, or a seccomp filter that refuses `pidfd_open`), a
    /// child's exit is learned through `SIGCHLD`: `wait` returns the status, a killed child is
    /// reaped, and a dropped one is reaped by the orphan reaper at its `SIGCHLD`. The test
    /// turns pidfds off for this test binary (no other test in it spawns children).
    ///
    /// Catches: a child that subscribes to `SIGCHLD` after its first `try_wait` (an exit in
    /// between hangs `wait`), a dispatch that does not reach the child's listener, and an
    /// orphan nobody reaps (a zombie).
    #[test]
    fn children_are_waited_for_through_sigchld_without_pidfds() {
        reap::pidfd::disable();
        crate::block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "sleep 0.05; exit 4"])
                .spawn()
                .unwrap();
            assert!(format!("{child:?}").contains("Sigchld"), "{child:?}");
            assert_eq!(child.wait().await.unwrap().code(), Some(4));

            let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
            sleeper.kill().unwrap();
            assert_eq!(sleeper.wait().await.unwrap().signal(), Some(libc::SIGKILL));

            let dropped = Command::new("sleep").arg("0.1").spawn().unwrap();
            let pid = dropped.id().unwrap();
            drop(dropped);
            // Waiting for a longer child drives the reactor past the dropped one's exit.
            let status = Command::new("sleep").arg("0.4").status().await.unwrap();
            assert!(status.success());
            assert!(
                !is_zombie_child(pid),
                "the dropped child {pid} was left a zombie"
            );
        });
    }
}
