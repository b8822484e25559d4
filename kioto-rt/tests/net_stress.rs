//! Stress where loom cannot reach: resources registered, woken and dropped
//! concurrently across workers while events are in flight. Counts, not
//! timings: every connection completes, and every registration is released.

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use kioto_rt::net::{TcpListener, TcpStream};
use kioto_rt::runtime::Builder;
use std::time::Duration;

#[test]
fn churn_connections_while_events_are_in_flight() {
    const TASKS: usize = 20;
    const CYCLES: usize = 100;
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = kioto_rt::spawn(async move {
            let mut served = 0;
            while served < TASKS * CYCLES {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                served += 1;
                kioto_rt::spawn(async move {
                    let mut b = [0u8; 8];
                    if s.read_exact(&mut b).await.is_ok() {
                        let _ = s.write_all(&b).await;
                    }
                    // Dropped right after writing: the client's read and
                    // our deregistration race.
                });
            }
        });
        let mut clients = Vec::new();
        for t in 0..TASKS {
            clients.push(kioto_rt::spawn(async move {
                for c in 0..CYCLES {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let (mut rd, mut wr) = s.into_split();
                    let msg = ((t * CYCLES + c) as u64).to_le_bytes();
                    // The read half waits in another task while this task
                    // drops the write half.
                    let reader = kioto_rt::spawn(async move {
                        let mut b = [0u8; 8];
                        rd.read_exact(&mut b).await.map(|_| b)
                    });
                    wr.write_all(&msg).await.unwrap();
                    drop(wr);
                    assert_eq!(reader.await.unwrap().unwrap(), msg);
                }
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
        // Let the last server tasks finish, then every registration is gone.
        let metrics = || kioto_rt::Handle::current().metrics();
        for _ in 0..5000 {
            if metrics().io_registered_sources() == 0 {
                break;
            }
            kioto_rt::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(metrics().io_registered_sources(), 0);
    });
}

#[test]
fn aborting_tasks_blocked_on_io_and_timers() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for round in 0..200 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let waiting = kioto_rt::spawn(async move {
                let mut b = [0u8; 1];
                let _ = client.read(&mut b).await;
                kioto_rt::time::sleep(Duration::from_secs(3600)).await;
            });
            // Race the abort against the readiness event that would wake it.
            if round % 2 == 0 {
                server.write_all(b"x").await.unwrap();
            }
            waiting.abort();
            assert!(waiting.await.unwrap_err().is_cancelled());
        }
        let m = kioto_rt::Handle::current().metrics();
        assert_eq!(m.io_registered_sources(), 1, "only the listener is left");
        assert_eq!(m.num_timers(), 0);
    });
}
