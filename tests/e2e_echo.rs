//! The echo server example (`examples/echo-server.rs`) over real loopback
//! TCP: its `serve` function is compiled into this test as is.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use kioto::rt::net::{TcpListener, TcpStream};
use kioto::rt::sync::oneshot;
use kioto::rt::task::{JoinHandle, JoinSet};
use kioto::rt::time::timeout;

#[path = "../examples/echo-server.rs"]
#[allow(dead_code)] // its `main` is not used here
mod echo_server;

use echo_server::Totals;

/// A running server on an ephemeral port: its address, the switch that
/// stops it, and the task that returns its totals.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Totals>,
}

async fn start_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = kioto::rt::spawn(echo_server::serve(listener, async {
        let _ = stopped.await;
    }));
    Server { addr, stop, task }
}

impl Server {
    async fn stop(self) -> Totals {
        self.stop.send(()).unwrap();
        timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops promptly")
            .unwrap()
    }
}

/// A deterministic, non-repeating-looking payload.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[kioto::test]
async fn std_client_gets_its_bytes_back() {
    let server = start_server().await;
    let addr = server.addr;
    // A plain blocking client, as any non-kioto program would be.
    let echoed = kioto::rt::spawn_blocking(move || {
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"hello, echo\n").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).unwrap();
        back
    })
    .await
    .unwrap();
    assert_eq!(echoed, b"hello, echo\n");

    let totals = server.stop().await;
    assert_eq!(
        totals,
        Totals {
            open: 0,
            accepted: 1,
            bytes: 12
        }
    );
}

#[kioto::test]
async fn a_megabyte_round_trips_while_being_written() {
    let server = start_server().await;
    let data = payload(1 << 20, 7);
    let client = TcpStream::connect(server.addr).await.unwrap();
    // `into_split`, not `split`: with `AsyncReadExt` in scope, `client.split()`
    // resolves to that trait's by-value `split`, not `TcpStream::split`.
    let (mut reader, mut writer) = client.into_split();
    // Write and read at once: the server cannot buffer a megabyte for us.
    let write = async {
        writer.write_all(&data).await.unwrap();
        writer.close().await.unwrap();
    };
    let read = async {
        let mut back = Vec::with_capacity(data.len());
        reader.read_to_end(&mut back).await.unwrap();
        back
    };
    let ((), back) = futures_util::future::join(write, read).await;
    assert!(back == data, "echoed bytes differ");
    drop((reader, writer));

    let totals = server.stop().await;
    assert_eq!(totals.bytes, 1 << 20);
    assert_eq!(totals.accepted, 1);
}

#[kioto::test(worker_threads = 4)]
async fn many_clients_at_once() {
    const CLIENTS: u8 = 50;
    let server = start_server().await;
    let mut clients = JoinSet::new();
    for seed in 0..CLIENTS {
        let addr = server.addr;
        clients.spawn(async move {
            let data = payload(10_000 + usize::from(seed) * 100, seed);
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut reader, mut writer) = stream.into_split();
            let write = async {
                writer.write_all(&data).await.unwrap();
                writer.close().await.unwrap();
            };
            let mut back = Vec::new();
            let read = reader.read_to_end(&mut back);
            let ((), read) = futures_util::future::join(write, read).await;
            read.unwrap();
            assert!(back == data, "client {seed}: echoed bytes differ");
            data.len() as u64
        });
    }
    let mut sent = 0;
    while let Some(bytes) = clients.join_next().await {
        sent += bytes.unwrap();
    }

    let totals = server.stop().await;
    assert_eq!(totals.accepted, u64::from(CLIENTS));
    assert_eq!(totals.open, 0);
    assert_eq!(totals.bytes, sent);
}

#[kioto::test]
async fn shutdown_closes_open_connections() {
    let server = start_server().await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    // Prove the connection is being served before stopping the server.
    idle.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    idle.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");

    let totals = server.stop().await;
    assert_eq!(totals.accepted, 1);
    assert_eq!(
        totals.open, 1,
        "the idle connection was closed by the shutdown"
    );

    // The aborted connection task dropped its socket: the client sees EOF
    // (or a reset), never a hang.
    let mut rest = Vec::new();
    let read = timeout(Duration::from_secs(10), idle.read_to_end(&mut rest))
        .await
        .expect("the client is not left hanging");
    assert!(read.is_err() || rest.is_empty(), "no stray bytes: {rest:?}");
}
