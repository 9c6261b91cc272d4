//! asyncio's debug mode, on spindle: a small line-protocol server where one handler blocks its
//! worker for 300 ms, and what the runtime says about it.
//!
//! Run with `SPINDLE_DEBUG=1 cargo run --example debug_mode`. With `SPINDLE_DEBUG=1` (as with
//! `PYTHONASYNCIODEBUG=1`) every poll longer than 100 ms is reported on stderr: once while it
//! runs, naming the stuck task and the line that spawned it (the `spindle::spawn` in `serve`
//! below), and once when it ends. Meanwhile a plain thread prints the runtime's task dump and
//! a few metrics every second, as `asyncio.all_tasks()` would list the pending tasks.
//! Without `SPINDLE_DEBUG`, the dump and the metrics still print; the slow-poll reports do not.

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use spindle::net::{TcpListener, TcpStream};
use std::io;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// Answers each line: `fast` at once; `slow` after blocking the worker for 300 ms (the bug:
/// it should be `spindle::sleep(...).await`, or `spawn_blocking` for real blocking work).
async fn handle(stream: TcpStream) -> io::Result<()> {
    let mut writer = &stream;
    let mut lines = BufReader::new(&stream).lines();
    while let Some(line) = futures::StreamExt::next(&mut lines).await {
        let line = line?;
        if line == "slow" {
            std::thread::sleep(Duration::from_millis(300));
        }
        writer
            .write_all(format!("done: {line}\n").as_bytes())
            .await?;
    }
    Ok(())
}

/// Accepts connections, one task per connection.
async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        spindle::spawn(handle(stream));
    }
}

/// Sends `requests` on one connection, one after the other, and waits for each answer.
async fn client(addr: std::net::SocketAddr, requests: &[&str]) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let mut writer = &stream;
    let mut answers = BufReader::new(&stream).lines();
    for request in requests {
        writer.write_all(format!("{request}\n").as_bytes()).await?;
        let answer = futures::StreamExt::next(&mut answers).await.unwrap()?;
        println!("client: {answer}");
        spindle::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn main() -> io::Result<()> {
    if std::env::var_os("SPINDLE_DEBUG").is_none() {
        println!("(run with SPINDLE_DEBUG=1 to see the slow-poll reports)");
    }
    let runtime = spindle::Builder::new().worker_threads(2).build()?;
    let handle = runtime.handle();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let monitor = std::thread::spawn(move || {
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_secs(1)) {
            let metrics = handle.metrics();
            let polls: u64 = (0..metrics.num_workers())
                .map(|i| metrics.worker(i).poll_count())
                .sum();
            println!(
                "monitor: {} tasks alive, {} spawned, {polls} polls, {} timers, {} sockets",
                metrics.num_alive_tasks(),
                metrics.spawned_tasks_count(),
                metrics.armed_timers(),
                metrics.io_registrations(),
            );
            print!("{}", handle.dump());
        }
    });
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = spindle::spawn(serve(listener));
        let calm = spindle::spawn(client(addr, &["fast"; 10]));
        client(addr, &["fast", "slow", "fast", "slow", "fast"]).await?;
        calm.await??;
        server.abort();
        Ok::<_, io::Error>(())
    })?;
    drop(stop);
    monitor.join().unwrap();
    Ok(())
}
