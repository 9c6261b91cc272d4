//! Child processes: asyncio's `create_subprocess_exec`. A [`Command`] is std's builder (program,
//! arguments, environment, working directory, standard streams, plus
//! [`kill_on_drop`](Command::kill_on_drop)); [`Command::output`] runs a program and collects
//! what it printed, [`Command::spawn`] gives a [`Child`] to talk to through its pipes
//! ([`ChildStdin`] is a `futures::io::AsyncWrite`, [`ChildStdout`] and [`ChildStderr`] are
//! `AsyncRead`s) and to wait for, without a thread per child.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use spindle::process::Command;
//! use std::process::Stdio;
//!
//! spindle::block_on(async {
//!     // asyncio: proc = await create_subprocess_exec("ls", "/", stdout=PIPE)
//!     //          stdout, _ = await proc.communicate()
//!     let output = Command::new("ls").arg("/").output().await?;
//!     assert!(output.status.success());
//!     assert!(String::from_utf8_lossy(&output.stdout).lines().any(|name| name == "tmp"));
//!
//!     // Feed a child's stdin while reading its stdout, at the same time.
//!     let mut cat = Command::new("cat")
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()?;
//!     let mut stdin = cat.stdin.take().unwrap();
//!     let mut stdout = cat.stdout.take().unwrap();
//!     let write = async {
//!         stdin.write_all(&[b'x'; 100_000]).await?;
//!         stdin.close().await // EOF: cat exits once it has copied everything
//!     };
//!     let mut echoed = Vec::new();
//!     let (written, read) = futures::join!(write, stdout.read_to_end(&mut echoed));
//!     written?;
//!     assert_eq!(read?, 100_000);
//!     assert!(cat.wait().await?.success());
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! What to know:
//!
//! - [`Child::wait`] reaps the child; [`Child::kill`] sends `SIGKILL` and returns at once
//!   (wait afterwards for the status). A `Child` dropped without being waited for keeps
//!   running (or is killed, with `kill_on_drop(true)`), and is reaped in the background when
//!   it exits: no zombie is left, as long as some spindle runtime is running.
//! - A missing program is an `io::ErrorKind::NotFound` error from `spawn` that names it.
//! - `output` reads stdout and stderr at the same time, so a child that fills one pipe while
//!   the other is being read cannot deadlock.
//! - The pipes and exit of a child belong to the runtime it was spawned in: waiting for it
//!   after that runtime was dropped fails.
//! - Exits are learned from a pidfd on Linux 5.3 and later, from `SIGCHLD` otherwise; the
//!   `SIGCHLD` handler, once installed (also for reaping dropped children), stays for the
//!   rest of the process. See `spindle_io::process` for the details.

pub use spindle_io::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
/// std's `Stdio`, which [`Command::stdin`], [`Command::stdout`] and [`Command::stderr`] take,
/// re-exported so that `use spindle::process::{Command, Stdio}` is enough.
pub use std::process::Stdio;
