//! An echo server, and a client that opens three connections at once with `join_all` and
//! prints what came back: asyncio's "fetch three URLs at once", over TCP.
//!
//! Run with `cargo run --example echo`.

use futures::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};
use std::io;

/// Echoes every connection's bytes back until the peer closes it.
async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (mut stream, peer) = listener.accept().await?;
        spindle::spawn(async move {
            let mut buf = [0u8; 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            println!("server: {peer} closed");
        });
    }
}

/// Sends one message on a new connection and returns the echo.
async fn fetch(addr: std::net::SocketAddr, message: String) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(message.as_bytes()).await?;
    let mut reply = vec![0u8; message.len()];
    stream.read_exact(&mut reply).await?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn main() -> io::Result<()> {
    spindle::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        println!("echo server on {addr}");
        let server = spindle::spawn(serve(listener));

        let requests = (1..=3).map(|n| fetch(addr, format!("hello from client {n}")));
        for reply in spindle::try_join_all(requests).await? {
            println!("client got: {reply}");
        }
        server.abort();
        Ok(())
    })
}
