//! TCP through the public API: echo under load, misbehaving clients, split
//! halves, error kinds, shutdown.

use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_util::StreamExt;
use kioto_rt::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod support;
use support::rt;

/// Spawns an echo server (one task per connection, copying the read half
/// into the write half) and returns its address and a count of finished
/// connections.
async fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let served = done.clone();
    kioto_rt::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue; // e.g. ECONNABORTED: keep serving
            };
            let served = served.clone();
            kioto_rt::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                // Errors (resets) end the connection, never the server.
                let _ = futures_util::io::copy(rd, &mut wr).await;
                served.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, done)
}

#[test]
fn echo_50_clients_1000_messages_each() {
    const CLIENTS: usize = 50;
    const MESSAGES: usize = 1000;
    let rt = rt(2);
    rt.block_on(async {
        let (addr, _) = echo_server().await;
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            clients.push(kioto_rt::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut msg = [0u8; 64];
                let mut back = [0u8; 64];
                for m in 0..MESSAGES {
                    for (i, b) in msg.iter_mut().enumerate() {
                        *b = (c * 31 + m * 7 + i) as u8;
                    }
                    msg[..8].copy_from_slice(&((c * MESSAGES + m) as u64).to_le_bytes());
                    stream.write_all(&msg).await.unwrap();
                    stream.read_exact(&mut back).await.unwrap();
                    assert_eq!(msg, back, "client {c} message {m}");
                }
                MESSAGES * 64
            }));
        }
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        assert_eq!(total, CLIENTS * MESSAGES * 64);
    });
}

/// Sets SO_LINGER to 0 so `close` sends RST instead of FIN.
fn set_linger_zero(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is a valid open socket for the duration of the call and
    // `linger` is a properly initialised `struct linger` of the given size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

#[test]
fn accept_loop_survives_half_lines_and_resets() {
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = outcomes.clone();
        kioto_rt::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue; // a connection reset before accept: keep serving
                };
                let log = log.clone();
                kioto_rt::spawn(async move {
                    let (rd, mut wr) = stream.into_split();
                    let mut lines = BufReader::new(rd).lines();
                    let outcome = loop {
                        match lines.next().await {
                            Some(Ok(line)) => {
                                wr.write_all(format!("{line}\n").as_bytes()).await.ok();
                            }
                            Some(Err(e)) => break format!("error:{:?}", e.kind()),
                            None => break "eof".to_string(),
                        }
                    };
                    log.lock().unwrap().push(outcome);
                });
            }
        });

        // 1. Half a line, then a clean close.
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"no newline here").await.unwrap();
        half.close().await.unwrap();
        drop(half);

        // 2. A reset from a std socket with SO_LINGER 0.
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        set_linger_zero(&std_stream);
        (&std_stream).write_all_std(b"partial");
        drop(std_stream);

        // 3. The server still serves.
        let mut ok = TcpStream::connect(addr).await.unwrap();
        ok.write_all(b"hello\n").await.unwrap();
        let mut buf = [0u8; 6];
        ok.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello\n");
        ok.close().await.unwrap();
        let mut rest = Vec::new();
        ok.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());

        // Every connection ended without hanging the server.
        for _ in 0..10_000 {
            if outcomes.lock().unwrap().len() == 3 {
                break;
            }
            kioto_rt::time::sleep(Duration::from_millis(1)).await;
        }
        let outcomes = outcomes.lock().unwrap().clone();
        assert_eq!(outcomes.len(), 3, "{outcomes:?}");
        // The half line is delivered by `lines` as a last line, then EOF.
        assert!(outcomes.contains(&"eof".to_string()), "{outcomes:?}");
    });
}

/// `std::io::Write` for `&std::net::TcpStream`, named to avoid clashing
/// with futures' `AsyncWriteExt::write_all`.
trait WriteAllStd {
    fn write_all_std(self, buf: &[u8]);
}
impl WriteAllStd for &std::net::TcpStream {
    fn write_all_std(mut self, buf: &[u8]) {
        io::Write::write_all(&mut self, buf).unwrap();
    }
}

#[test]
fn peer_reset_is_an_error_not_a_hang() {
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let reader = kioto_rt::spawn(async move {
            let mut buf = [0u8; 16];
            let mut results = Vec::new();
            loop {
                match server.read(&mut buf).await {
                    Ok(0) => {
                        results.push(Ok(0));
                        break;
                    }
                    Ok(n) => results.push(Ok(n)),
                    Err(e) => {
                        results.push(Err(e.kind()));
                        break;
                    }
                }
            }
            // Writing to a reset connection fails too (possibly after one
            // buffered write).
            let mut write_err = None;
            for _ in 0..100 {
                if let Err(e) = server.write_all(&[0u8; 1024]).await {
                    write_err = Some(e.kind());
                    break;
                }
            }
            (results, write_err)
        });
        kioto_rt::time::sleep(Duration::from_millis(10)).await;
        set_linger_zero(&client);
        drop(client);
        let (results, write_err) = reader.await.unwrap();
        assert!(
            matches!(
                results.last(),
                Some(Err(io::ErrorKind::ConnectionReset)) | Some(Ok(0))
            ),
            "{results:?}"
        );
        assert!(write_err.is_some(), "writes to a reset socket must fail");
    });
}

#[test]
fn connect_to_closed_port_is_refused() {
    let rt = rt(1);
    rt.block_on(async {
        // Bind then drop to find a port nobody listens on.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn read_after_peer_close_is_zero_and_addresses_match() {
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.peer_addr().unwrap(), peer);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.write_all(b"bye").await.unwrap();
        drop(client);
        let mut buf = Vec::new();
        server.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"bye");
        let mut more = [0u8; 4];
        assert_eq!(server.read(&mut more).await.unwrap(), 0);
        assert_eq!(server.read(&mut more).await.unwrap(), 0);
        let metrics = || kioto_rt::Handle::current().metrics();
        assert_eq!(metrics().io_registered_sources(), 2, "listener + server");
        assert!(metrics().io_driver_ready_count() > 0);
        drop((server, listener));
        assert_eq!(metrics().io_registered_sources(), 0, "dropping deregisters");
    });
}

#[test]
fn lines_over_an_owned_read_half() {
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = kioto_rt::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            for i in 0..500 {
                s.write_all(format!("line {i}\n").as_bytes()).await.unwrap();
            }
            s.write_all(b"tail without newline").await.unwrap();
        });
        let (stream, _) = listener.accept().await.unwrap();
        let (rd, _wr) = stream.into_split();
        let lines: Vec<String> = BufReader::new(rd)
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        writer.await.unwrap();
        assert_eq!(lines.len(), 501);
        for (i, line) in lines.iter().take(500).enumerate() {
            assert_eq!(line, &format!("line {i}"));
        }
        assert_eq!(lines[500], "tail without newline");
    });
}

#[test]
fn owned_halves_in_different_tasks_and_dropping_one_while_the_other_waits() {
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (mut rd, wr) = client.into_split();
        // A task waits on the read half...
        let reader = kioto_rt::spawn(async move {
            let mut buf = [0u8; 5];
            rd.read_exact(&mut buf).await.map(|_| buf)
        });
        // ...while another task drops the write half (shutting down our
        // write direction: the server reads EOF).
        kioto_rt::spawn(async move { drop(wr) }).await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty());
        server.write_all(b"later").await.unwrap();
        assert_eq!(&reader.await.unwrap().unwrap(), b"later");

        // Reunite: mismatched halves are refused, matching ones come back.
        let a = TcpStream::connect(addr).await.unwrap();
        let _a_srv = listener.accept().await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        let _b_srv = listener.accept().await.unwrap();
        let (ar, aw) = a.into_split();
        let (br, bw) = b.into_split();
        let kioto_rt::net::tcp::ReuniteError(ar, bw) = ar.reunite(bw).unwrap_err();
        let a = ar.reunite(aw).unwrap();
        let b = bw.reunite(br).unwrap();
        assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
    });
}

#[test]
fn borrowed_split_reads_and_writes_concurrently() {
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = kioto_rt::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            // Fully qualified: with `AsyncReadExt` in scope, `s.split()`
            // would pick futures' by-value `split` instead.
            let (rd, mut wr) = TcpStream::split(&mut s);
            futures_util::io::copy(rd, &mut wr).await.unwrap()
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        const N: usize = 1 << 20;
        let (mut rd, mut wr) = TcpStream::split(&mut client);
        let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        let send = async {
            wr.write_all(&data).await.unwrap();
            wr.close().await.unwrap();
        };
        let recv = async {
            let mut back = Vec::new();
            rd.read_to_end(&mut back).await.unwrap();
            back
        };
        let ((), back) = futures_util::future::join(send, recv).await;
        assert_eq!(back, data);
        assert_eq!(server.await.unwrap(), N as u64);
    });
}

#[test]
fn try_read_and_try_write_with_readiness() {
    let rt = rt(1);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        client.writable().await.unwrap();
        assert_eq!(client.try_write(b"abc").unwrap(), 3);
        let n = loop {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"abc");
    });
}

#[test]
fn from_std_listener_and_stream() {
    let rt = rt(1);
    rt.block_on(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let mut client = TcpStream::from_std(std_client).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        server.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"x");
    });
}

/// Counts drops of the futures left pending at shutdown.
struct Tracked(Arc<AtomicUsize>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn runtime_drop_with_pending_io_and_timers_does_not_hang_or_leak() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = rt(2);
    let listener_addr = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let t1 = Tracked(drops.clone());
        kioto_rt::spawn(async move {
            let _t = t1;
            let _ = listener.accept().await; // first accept succeeds
            let _ = listener.accept().await; // then waits forever
        });
        let t2 = Tracked(drops.clone());
        kioto_rt::spawn(async move {
            let _t = t2;
            let mut buf = [0u8; 1];
            let _ = client.read(&mut buf).await; // nobody writes
        });
        let t3 = Tracked(drops.clone());
        kioto_rt::spawn(async move {
            let _t = t3;
            kioto_rt::time::sleep(Duration::from_secs(3600)).await;
        });
        kioto_rt::time::sleep(Duration::from_millis(20)).await;
        addr
    });
    drop(rt);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "every pending task was dropped"
    );
    // The listener was closed with its task.
    assert!(std::net::TcpStream::connect(listener_addr).is_err());
}

#[test]
fn resources_of_a_shut_down_runtime_fail_instead_of_hanging() {
    let first = rt(1);
    let (client, server, sleep) = first.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let sleep = kioto_rt::time::sleep(Duration::from_secs(3600));
        (client, server, sleep)
    });
    drop(first); // shuts its driver down
    let second = rt(1);
    second.block_on(async move {
        let mut client = client;
        let mut buf = [0u8; 4];
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert_eq!(err.to_string(), "runtime is shutting down");
        assert!(client.write_all(b"x").await.is_err());
        drop(server);
        // New resources on the live runtime work as usual.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(l.local_addr().is_ok());
    });
    // Timers of a shut-down runtime neither hang nor complete as though
    // their time had passed: polling one panics, as in tokio.
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| second.block_on(sleep)))
        .expect_err("a sleep of a shut-down runtime must not complete");
    let msg = support::panic_text(&*payload);
    assert!(msg.contains("shut down"), "message was {msg:?}");
}
