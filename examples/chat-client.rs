//! A line client for `examples/chat-server.rs`: prints what the server
//! sends, sends what you type.
//!
//! ```text
//! cargo run --example chat-client [-- --addr 127.0.0.1:7878]
//! ```
//!
//! Exits when the server closes the connection (after `/quit`, for
//! instance). At the end of standard input it half-closes the connection
//! and prints the server's last replies before exiting, so
//! `echo /rooms | cargo run --example chat-client` works too.

#[path = "chat/protocol.rs"]
#[allow(dead_code)]
mod protocol;

#[path = "common/addr_arg.rs"]
mod addr_arg;

use std::io::BufRead;
use std::process::ExitCode;

use futures_util::io::AsyncWriteExt;
use kioto::rt::net::TcpStream;
use kioto::rt::sync::mpsc;
use protocol::{Frame, LineReader};

const USAGE: &str = "usage: chat-client [--addr HOST:PORT]   (default 127.0.0.1:7878)";

/// Lines from the server are not limited like the client's (they carry a
/// room and a name before the text); this only bounds memory.
const MAX_SERVER_LINE: usize = 64 * 1024;

#[kioto::main]
async fn main() -> ExitCode {
    let addr = match addr_arg::addr_arg("127.0.0.1:7878", USAGE) {
        Ok(addr) => addr,
        Err(code) => return code,
    };

    let stream = match TcpStream::connect(addr.as_str()).await {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("chat-client: cannot connect to {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();

    // Standard input blocks, so it is read on a plain thread (not the
    // blocking pool: a thread stuck in `read` must not hold up the exit).
    let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        })
        .expect("spawn the stdin thread");

    kioto::rt::spawn(async move {
        while let Some(mut line) = lines_rx.recv().await {
            line.push('\n');
            if wr.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
        // End of input: let the server finish and close.
        let _ = wr.close().await;
    });

    let mut reader = LineReader::new(rd, MAX_SERVER_LINE);
    while let Some(frame) = reader.next_frame().await {
        match frame {
            Frame::Line(line) => println!("{line}"),
            Frame::InvalidUtf8 => println!("<a line that is not UTF-8>"),
            Frame::TooLong => {
                eprintln!("chat-client: the server sent a line over {MAX_SERVER_LINE} bytes");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("chat-client: connection closed");
    ExitCode::SUCCESS
}
