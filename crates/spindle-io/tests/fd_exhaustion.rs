//! File-descriptor exhaustion: `accept` fails with `EMFILE`, the listener survives, and the
//! queued connection is accepted once descriptors are freed.
//!
//! The test re-runs itself in a child process whose descriptor limit is lowered with the
//! shell's `ulimit -n` (so the suite's other tests keep their descriptors), then fills the
//! descriptor table with `/dev/null` handles.

mod common;

use common::assert_passes_in_child;
use spindle_io::net::TcpListener;
use std::fs::File;
use std::io;
use std::process::Command;

const CHILD: &str = "SPINDLE_IO_FD_EXHAUSTION_CHILD";
/// Descriptor limit in the child: room for the harness, the reactor, the sockets.
const LIMIT: u32 = 64;
/// `EMFILE` on Linux.
const EMFILE: i32 = 24;

/// Fails if `accept` under `EMFILE` kills the listener or loses the queued connection, or if
/// the reactor does not retry it (readiness must survive an error that is not `WouldBlock`).
/// Runs for well under a second.
#[test]
fn accept_reports_emfile_and_recovers_once_descriptors_are_freed() {
    if std::env::var_os(CHILD).is_some() {
        exhaust_and_recover();
        return;
    }
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("ulimit -n {LIMIT} && exec \"$0\" \"$@\""))
        .arg(std::env::current_exe().unwrap());
    assert_passes_in_child(
        shell,
        "accept_reports_emfile_and_recovers_once_descriptors_are_freed",
        CHILD,
    );
}

fn exhaust_and_recover() {
    spindle_io::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let first = std::net::TcpStream::connect(addr)?; // queued, not accepted yet

        let mut hoard = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(file) => hoard.push(file),
                Err(error) if error.raw_os_error() == Some(EMFILE) => break,
                Err(error) => return Err(error),
            }
            assert!(
                hoard.len() <= LIMIT as usize,
                "the descriptor limit was not applied"
            );
        }

        for _ in 0..2 {
            let error = listener.accept().await.unwrap_err();
            assert_eq!(error.raw_os_error(), Some(EMFILE), "{error}");
        }

        hoard.truncate(hoard.len() - 4);
        let (_stream, peer) = listener.accept().await?;
        assert_eq!(peer, first.local_addr()?);

        // The listener still accepts new connections.
        let second = std::net::TcpStream::connect(addr)?;
        let (_stream, peer) = listener.accept().await?;
        assert_eq!(peer, second.local_addr()?);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}
