//! Unix signals on a runtime: deliveries reach listeners, merge but are never lost between two
//! `recv`s, reach every runtime's listeners, and `ctrl_c` ends a process cleanly.
//!
//! Tests in this binary run on parallel threads and a signal goes to the whole process, so
//! each test uses a signal of its own.

mod common;

use common::{runtime, with_watchdog};
use spindle::signal::unix::{signal, SignalKind};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Sends `signum` to this process.
fn raise(signum: i32) {
    // SAFETY: `kill` takes two integers and touches no memory of ours.
    let sent = unsafe { libc::kill(libc::getpid(), signum) };
    assert_eq!(sent, 0, "kill failed: {}", std::io::Error::last_os_error());
}

/// A thread sends SIGUSR1 ten times, 20 ms apart, while a task counts what its listener
/// reports. Deliveries may merge (the kernel keeps one pending SIGUSR1, and spindle reports
/// several dispatches between two `recv`s once), so the count is between 1 and 10; then the
/// runtime still runs tasks and timers.
///
/// Catches: a handler that never reaches the reactor (0), a listener that reports a delivery
/// twice or spuriously (more than 10), and a reactor left wedged by the dispatch.
#[test]
fn ten_sigusr1_are_seen_between_once_and_ten_times() {
    with_watchdog("sigusr1", Duration::from_secs(30), || {
        let runtime = runtime(2);
        let seen = runtime.block_on(async {
            let mut user1 = signal(SignalKind::user_defined1()).unwrap();
            let sender = std::thread::spawn(|| {
                for _ in 0..10 {
                    raise(libc::SIGUSR1);
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let mut seen = 0;
            // Counts until no delivery came for 500 ms after the sender finished.
            loop {
                match spindle::timeout(Duration::from_millis(500), user1.recv()).await {
                    Ok(Some(())) => seen += 1,
                    Ok(None) => panic!("the runtime's reactor is running"),
                    Err(_) if sender.is_finished() => break,
                    Err(_) => {}
                }
            }
            sender.join().unwrap();
            seen
        });
        println!("10 SIGUSR1 sent, {seen} seen");
        assert!((1..=10).contains(&seen), "{seen} deliveries reported");

        let after = runtime.block_on(async {
            let task = spindle::spawn(async {
                spindle::sleep(Duration::from_millis(20)).await;
                7
            });
            task.await.unwrap()
        });
        assert_eq!(after, 7);
    });
}

/// A SIGUSR2 sent while no `recv` is waiting (after one returned, before the next starts) is
/// reported by the next `recv`; and with nothing sent, the next one waits.
///
/// Catches: a listener that only learns of signals while it waits (the second one lost), and
/// one that reports a delivery twice.
#[test]
fn a_signal_sent_between_two_recvs_is_seen_by_the_next() {
    with_watchdog("between recvs", Duration::from_secs(30), || {
        runtime(2).block_on(async {
            let mut user2 = signal(SignalKind::user_defined2()).unwrap();
            raise(libc::SIGUSR2);
            assert_eq!(user2.recv().await, Some(()));

            raise(libc::SIGUSR2);
            // Dispatched by the reactor while nobody waits.
            spindle::sleep(Duration::from_millis(100)).await;
            let next = spindle::timeout(Duration::from_secs(5), user2.recv()).await;
            assert_eq!(
                next,
                Ok(Some(())),
                "the signal sent between two recvs was lost"
            );

            let nothing = spindle::timeout(Duration::from_millis(200), user2.recv()).await;
            assert!(nothing.is_err(), "reported a delivery that never happened");
        });
    });
}

/// Two runtimes each listen for SIGWINCH; one signal reaches both. Then one runtime is dropped:
/// its listener's `recv` returns `None` (instead of hanging), and the other runtime's
/// listener still gets the next signal.
///
/// Catches: a dispatch that wakes only the listeners of the reactor that read the pipe, a
/// listener stranded on a dropped runtime, and a surviving runtime that stops watching when
/// the other one goes.
#[test]
fn every_runtime_sees_a_signal_and_a_dropped_one_ends_its_listeners() {
    with_watchdog("two runtimes", Duration::from_secs(30), || {
        let first = runtime(1);
        let second = runtime(1);
        let mut in_first = first
            .block_on(async { signal(SignalKind::from_raw(libc::SIGWINCH)) })
            .unwrap();
        let mut in_second = second
            .block_on(async { signal(SignalKind::from_raw(libc::SIGWINCH)) })
            .unwrap();
        raise(libc::SIGWINCH);
        let waited = |runtime: &spindle::Runtime, listener: &mut spindle::signal::unix::Signal| {
            runtime.block_on(spindle::timeout(Duration::from_secs(5), listener.recv()))
        };
        assert_eq!(waited(&first, &mut in_first), Ok(Some(())));
        assert_eq!(waited(&second, &mut in_second), Ok(Some(())));

        drop(first);
        let ended = second.block_on(spindle::timeout(Duration::from_secs(5), in_first.recv()));
        assert_eq!(ended, Ok(None), "a dropped runtime's listener must end");

        raise(libc::SIGWINCH);
        assert_eq!(waited(&second, &mut in_second), Ok(Some(())));
    });
}

/// Selects the child side of [`ctrl_c_ends_a_child_process_cleanly`].
const CTRL_C_CHILD: &str = "SPINDLE_SIGNAL_TEST_CTRL_C_CHILD";

/// The child side of [`ctrl_c_ends_a_child_process_cleanly`] (a no-op in a normal run): waits
/// for Ctrl-C on a runtime, after saying it is ready once its handler is installed. It gives
/// up after 30 s, so a parent that failed does not leave it behind.
#[test]
fn ctrl_c_child() {
    if std::env::var_os(CTRL_C_CHILD).is_none() {
        return;
    }
    runtime(2).block_on(async {
        let mut ctrl_c = std::pin::pin!(spindle::signal::ctrl_c());
        assert!(futures::poll!(&mut ctrl_c).is_pending());
        // The harness prints "test ctrl_c_child ... " first, on the same line.
        println!("ctrl-c child ready");
        spindle::timeout(Duration::from_secs(30), ctrl_c)
            .await
            .expect("no SIGINT came")
            .unwrap();
        println!("got ctrl-c");
    });
}

/// This test binary, re-run as a child in `ctrl_c_child` mode, waits in `ctrl_c()`; SIGINT
/// sent after it said it is ready makes it return, and the child exits with 0 (the test
/// harness's success), where without a handler SIGINT would kill it.
///
/// Catches: a handler installed too late or not at all (the child dies of SIGINT), and a
/// `ctrl_c` future that never completes (the watchdog fires).
#[test]
fn ctrl_c_ends_a_child_process_cleanly() {
    with_watchdog("ctrl_c child", Duration::from_secs(60), || {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["ctrl_c_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CTRL_C_CHILD, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines
            .by_ref()
            .map(Result::unwrap)
            .any(|line| line.ends_with("ctrl-c child ready"));
        assert!(ready, "the child never got ready");
        let sent_at = Instant::now();
        // SAFETY: `kill` takes two integers and touches no memory of ours.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let status = child.wait().unwrap();
        println!("child exited {:?} after SIGINT", sent_at.elapsed());
        assert!(rest.iter().any(|line| line == "got ctrl-c"), "{rest:?}");
        assert_eq!(status.code(), Some(0), "{status:?}");
    });
}

/// Signals that cannot or must not be caught, and numbers that are no signal, are refused
/// with `InvalidInput`, naming them.
///
/// Catches: a forbidden signal passed on to signal-hook-registry, which panics on it.
#[test]
fn forbidden_signals_are_invalid_input() {
    runtime(1).block_on(async {
        for (signum, name) in [
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGSTOP, "SIGSTOP"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGFPE, "SIGFPE"),
            (libc::SIGSEGV, "SIGSEGV"),
        ] {
            let error = signal(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
            assert!(error.to_string().contains(name), "{error}");
        }
        for signum in [0, -1, 1000] {
            let error = signal(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
            assert!(error.to_string().contains(&signum.to_string()), "{error}");
        }
    });
}

/// A listener can be moved to and shared with other tasks and threads.
#[test]
fn signal_types_are_send_and_sync() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<spindle::signal::unix::Signal>();
    send_and_sync::<SignalKind>();
}
