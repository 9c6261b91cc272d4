//! Resource cleanup, asyncio's `try/finally` and `async with`: in Rust a value's `Drop` runs
//! however the task holding it ends, so a guard cleans up on completion, on `abort`
//! (`Task.cancel`), on `timeout` (`wait_for`) and when the runtime shuts down.
//!
//! `Drop` cannot await, so cleanup that must do I/O has an explicit async `close()`: the
//! last part writes through a `futures::io::BufWriter` over a `TcpStream`. `close().await`
//! flushes the buffer and shuts the write half down, so the peer gets every byte and then EOF;
//! dropping the writer without `close` loses what was still buffered.
//!
//! Run with `cargo run --example cleanup`.

use futures::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use spindle::net::{TcpListener, TcpStream};
use std::future::pending;
use std::io;
use std::time::Duration;

/// Stands for a resource (a connection, a temp file, a lock) released in `Drop`.
struct Guard(&'static str);

impl Drop for Guard {
    fn drop(&mut self) {
        println!("   guard released: {}", self.0);
    }
}

/// Accepts one connection and returns how many bytes arrived before EOF.
async fn count_until_eof(listener: &TcpListener) -> io::Result<usize> {
    let (mut stream, _) = listener.accept().await?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await?;
    Ok(received.len())
}

fn main() -> io::Result<()> {
    spindle::block_on(async {
        println!("1. the task completes");
        let task = spindle::spawn(async {
            let _guard = Guard("on completion");
            spindle::sleep(Duration::from_millis(10)).await;
            "done"
        });
        println!("   task returned {:?}", task.await);

        println!("2. the task is aborted (Task.cancel)");
        let task = spindle::spawn(async {
            let _guard = Guard("on abort");
            pending::<()>().await;
        });
        spindle::sleep(Duration::from_millis(10)).await;
        task.abort();
        println!("   task returned {:?}", task.await);

        println!("3. a timeout runs out (wait_for)");
        let outcome = spindle::timeout(Duration::from_millis(20), async {
            let _guard = Guard("on timeout");
            spindle::sleep(Duration::from_secs(60)).await;
        })
        .await;
        println!("   timeout returned {outcome:?}");
    });

    println!("4. the runtime shuts down with the task still running");
    let runtime = spindle::Runtime::builder().worker_threads(2).build()?;
    let task = runtime.spawn(async {
        let _guard = Guard("on runtime shutdown");
        pending::<()>().await;
    });
    runtime.block_on(spindle::sleep(Duration::from_millis(10)));
    println!("   dropping the runtime");
    drop(runtime);
    println!("   task returned {:?}", spindle::block_on(task));

    println!("5. an explicit async close");
    spindle::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let message = b"every byte of this must arrive";

        let mut writer = BufWriter::new(TcpStream::connect(addr).await?);
        writer.write_all(message).await?;
        drop(writer);
        let received = count_until_eof(&listener).await?;
        println!(
            "   dropped without close: the peer got {received} of {} bytes",
            message.len()
        );

        let mut writer = BufWriter::new(TcpStream::connect(addr).await?);
        writer.write_all(message).await?;
        writer.close().await?;
        let received = count_until_eof(&listener).await?;
        println!(
            "   after close().await:   the peer got {received} of {} bytes, then EOF",
            message.len()
        );
        Ok(())
    })
}
