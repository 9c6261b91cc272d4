//! `AsyncFd` over pipes and sockets, driven by `spindle_io::block_on`.

mod common;

use common::within_deadline;
use spindle_io::{block_on, AsyncFd, AsyncFdReadyGuard, Interest, TryIoError};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pipe: its read end non-blocking (for `AsyncFd`), its write end blocking (for a plain
/// thread), both close-on-exec.
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: `pipe2` succeeded: both descriptors are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_nonblocking(read.as_raw_fd());
    (File::from(read), File::from(write))
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: `fcntl` on an open descriptor, reading then setting its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
    }
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid `timespec` for `clock_gettime` to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Reads once from `fd` into `buf`, waiting for readiness and clearing it on `WouldBlock`.
async fn read_once(fd: &AsyncFd<File>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|mut file| file.read(buf)) {
            Ok(result) => return result,
            Err(TryIoError { .. }) => continue,
        }
    }
}

const TOTAL: usize = 1 << 20;
const PIECE: usize = 4096;
const PAUSE: Duration = Duration::from_millis(300);

/// 1 MiB through a pipe in 4 KiB writes from a thread that pauses for 300 ms halfway; the
/// reader is the `block_on` future. Every byte must arrive in order, and across the pause the
/// reader's thread must sleep: if readiness were not cleared on `WouldBlock`, `readable` would
/// return at once forever and the thread would spin for the whole pause. The CPU time it may
/// use while waiting (50 ms) is a sixth of the pause; the wait measured must be at least 200 ms
/// so that the test sees most of the pause. About half a second.
#[test]
fn a_mebibyte_through_a_pipe_and_no_cpu_spent_waiting_out_a_pause() {
    within_deadline(|| {
        let (reader, mut writer) = pipe();
        let expected: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        let sent = expected.clone();
        let writer = std::thread::spawn(move || {
            for (i, piece) in sent.chunks(PIECE).enumerate() {
                if i * PIECE == TOTAL / 2 {
                    std::thread::sleep(PAUSE);
                }
                writer.write_all(piece)?;
            }
            Ok::<_, io::Error>(())
        });
        let (got, at_half, after_pause) = block_on(async {
            let reader = AsyncFd::with_interest(reader, Interest::READABLE)?;
            let mut got = Vec::with_capacity(TOTAL);
            let mut buf = [0; PIECE];
            let mut at_half = None;
            let mut after_pause = None;
            loop {
                let n = read_once(&reader, &mut buf).await?;
                if n == 0 {
                    break;
                }
                if at_half.is_some() && after_pause.is_none() {
                    after_pause = Some((Instant::now(), thread_cpu_time()));
                }
                got.extend_from_slice(&buf[..n]);
                if got.len() == TOTAL / 2 {
                    at_half = Some((Instant::now(), thread_cpu_time()));
                }
            }
            Ok::<_, io::Error>((got, at_half, after_pause))
        })
        .unwrap();
        writer.join().unwrap().unwrap();
        assert!(got == expected, "the bytes read differ from those written");
        let (half_time, half_cpu) = at_half.expect("the reader never stopped at the halfway mark");
        let (resumed_time, resumed_cpu) = after_pause.unwrap();
        let waited = resumed_time - half_time;
        let spent = resumed_cpu - half_cpu;
        assert!(
            waited >= Duration::from_millis(200),
            "the reader reached the halfway mark late in the pause (waited {waited:?}): the \
             test measured too little of it"
        );
        assert!(
            spent < Duration::from_millis(50),
            "the reader's thread used {spent:?} of CPU while waiting {waited:?} for data: a busy \
             loop"
        );
    });
}

/// `writable` on a full pipe waits until a reader makes room: the first `writable` (readiness
/// assumed at registration) lets writes through until one answers `WouldBlock` and `try_io`
/// clears it; the next must wait for the reader thread.
#[test]
fn writable_waits_until_the_pipe_has_room() {
    within_deadline(|| {
        let (mut reader, writer) = pipe();
        let writer_fd = writer.as_raw_fd();
        set_nonblocking(writer_fd);
        let drained = Arc::new(AtomicBool::new(false));
        block_on(async {
            let writer = AsyncFd::with_interest(writer, Interest::WRITABLE)?;
            let mut filled = 0;
            loop {
                let mut guard = writer.writable().await?;
                match guard.try_io(|mut file| file.write(&[7; PIECE])) {
                    Ok(written) => filled += written?,
                    Err(_would_block) => break,
                }
            }
            assert!(filled >= PIECE, "a pipe holds at least a page");
            // Inside the `block_on`, so that the guard's wait below is the one that gets woken.
            let drainer = {
                let drained = drained.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    drained.store(true, Ordering::SeqCst);
                    let mut buf = vec![0; filled];
                    // Handed back, so the read end stays open until the write below.
                    reader.read_exact(&mut buf).map(|()| reader)
                })
            };
            let mut guard = writer.writable().await?;
            assert!(
                drained.load(Ordering::SeqCst),
                "writable returned before the reader made room"
            );
            let written = guard.try_io(|mut file| file.write(b"room"));
            assert_eq!(written.expect("writable after the drain").unwrap(), 4);
            drainer.join().unwrap()?;
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// `into_inner` deregisters and hands the descriptor back open: it still reads, and a new
/// `AsyncFd` can register it again (a registration left in epoll would make that `EEXIST`, as
/// the first assertion shows).
#[test]
fn into_inner_gives_the_descriptor_back_open_and_deregistered() {
    within_deadline(|| {
        block_on(async {
            let (reader, mut writer) = pipe();
            let fd = reader.as_raw_fd();
            let registered = AsyncFd::new(reader)?;
            let error = AsyncFd::new(Borrowed(fd)).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{error}");

            let mut reader = registered.into_inner();
            assert_eq!(reader.as_raw_fd(), fd);
            writer.write_all(b"still open")?;
            let mut buf = [0; 10];
            reader.read_exact(&mut buf)?;
            assert_eq!(&buf, b"still open");

            let again = AsyncFd::new(reader)?;
            writer.write_all(b"again")?;
            let n = read_once(&again, &mut buf).await?;
            assert_eq!(&buf[..n], b"again");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// A handle that does not own its descriptor (a borrowed one, a foreign library's).
#[derive(Debug)]
struct Borrowed(RawFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Dropping an `AsyncFd` whose inner value does not close the descriptor still takes it off
/// epoll's interest list, so it can be registered again.
#[test]
fn dropping_an_async_fd_deregisters_a_descriptor_it_does_not_close() {
    within_deadline(|| {
        block_on(async {
            let (reader, mut writer) = pipe();
            let fd = reader.as_raw_fd();
            drop(AsyncFd::new(Borrowed(fd))?);
            let again = AsyncFd::new(reader)?;
            writer.write_all(b"x")?;
            assert_eq!(read_once(&again, &mut [0; 4]).await?, 1);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// A regular file is refused with epoll's own error (`EPERM`), not a panic.
#[test]
fn a_regular_file_is_refused_with_epoll_s_error() {
    within_deadline(|| {
        block_on(async {
            let file = File::open(std::env::current_exe()?)?;
            let error = AsyncFd::new(file).unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EPERM), "{error}");
            assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// Waiting in a direction the descriptor was not registered for is an error naming the fix,
/// not a wait that never ends.
#[test]
fn waiting_without_the_interest_is_invalid_input() {
    within_deadline(|| {
        block_on(async {
            let (reader, _writer) = pipe();
            let reader = AsyncFd::with_interest(reader, Interest::READABLE)?;
            let error = reader.writable().await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            assert!(error.to_string().contains("Interest::WRITABLE"), "{error}");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

/// The writer closes: `readable` reports it (a closed side stays ready) and the read sees EOF.
#[test]
fn a_closed_writer_makes_the_reader_readable_at_eof() {
    within_deadline(|| {
        let (reader, writer) = pipe();
        block_on(async {
            let reader = AsyncFd::new(reader)?;
            let mut buf = [0; 4];
            let mut guard = reader.readable().await?;
            assert!(guard.try_io(|mut file| file.read(&mut buf)).is_err());
            drop(writer);
            assert_eq!(read_once(&reader, &mut buf).await?, 0, "EOF");
            assert_eq!(read_once(&reader, &mut buf).await?, 0, "EOF again, at once");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}

#[test]
fn async_fd_and_its_guard_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<AsyncFd<File>>();
    check::<AsyncFdReadyGuard<'static, File>>();
    check::<Interest>();
    check::<TryIoError>();
    within_deadline(|| {
        block_on(async {
            let (reader, _writer) = pipe();
            let reader = AsyncFd::with_interest(reader, Interest::READABLE)?;
            let shown = format!("{reader:?}");
            assert!(
                shown.starts_with("AsyncFd") && shown.contains("READABLE"),
                "{shown}"
            );
            let guard = reader.readable().await?;
            assert!(format!("{guard:?}").starts_with("AsyncFdReadyGuard"));
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}
