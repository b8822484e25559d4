//! A CPU-bound task that never parks its worker (spinning with `yield_now`)
//! must not stop sockets or timers from making progress: busy workers poll
//! the driver every `event_interval` ticks. Completion is asserted, never
//! duration.

use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use kioto_rt::net::{TcpListener, TcpStream};
use kioto_rt::runtime::Builder;
use kioto_rt::time::{sleep, Instant};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn spinning_workers_do_not_starve_io_or_timers() {
    const WORKERS: usize = 2;
    let rt = Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();

        // One spinner per worker (and one more), so no worker ever idles.
        for _ in 0..WORKERS + 1 {
            let stop = stop.clone();
            let spins = spins.clone();
            kioto_rt::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    spins.fetch_add(1, Ordering::Relaxed);
                    kioto_rt::task::yield_now().await;
                }
            });
        }
        // Make sure the spinners are running before the I/O starts.
        while spins.load(Ordering::Relaxed) < 1000 {
            std::thread::sleep(Duration::from_millis(1));
        }

        let reader = kioto_rt::spawn(async move {
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).await.unwrap();
            buf
        });
        let sleeper = kioto_rt::spawn(async {
            let deadline = Instant::now() + Duration::from_millis(20);
            sleep(Duration::from_millis(20)).await;
            assert!(Instant::now() >= deadline);
        });
        kioto_rt::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            client.write_all(b"ping").await.unwrap();
            client
        });
        assert_eq!(&reader.await.unwrap(), b"ping");
        sleeper.await.unwrap();
        stop.store(true, Ordering::Relaxed);
    });
}

/// A yielded task waits for the next driver poll before it runs again (as
/// in tokio), so readiness that arrives while a task spins on `yield_now`
/// reaches its task within a yield or two, not after a maintenance tick's
/// worth of yields.
#[test]
fn a_yielding_task_lets_pending_io_through_at_once() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let yields = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(AtomicBool::new(false));
        let (registered_tx, registered) = kioto_rt::sync::oneshot::channel();
        let acceptor = {
            let accepted = accepted.clone();
            kioto_rt::spawn(async move {
                let accept = listener.accept();
                let mut accept = std::pin::pin!(accept);
                // Registered with the driver before the peer connects.
                assert!(futures_util::poll!(accept.as_mut()).is_pending());
                let _ = registered_tx.send(());
                let _conn = accept.await.unwrap();
                accepted.store(true, Ordering::SeqCst);
            })
        };
        registered.await.unwrap();
        // Keeps the only worker busy: it never parks, so only a driver
        // poll between its yields can notice the connection.
        let (spinning_tx, spinning) = kioto_rt::sync::oneshot::channel();
        let spinner = {
            let (accepted, connected) = (accepted.clone(), connected.clone());
            kioto_rt::spawn(async move {
                let _ = spinning_tx.send(());
                let mut yields_after_connect = 0u32;
                while !accepted.load(Ordering::SeqCst) && yields_after_connect < 100_000 {
                    kioto_rt::task::yield_now().await;
                    if connected.load(Ordering::SeqCst) {
                        yields_after_connect += 1;
                    }
                }
                yields_after_connect
            })
        };
        spinning.await.unwrap();
        // `connect` returns once the connection is in the listener's
        // backlog: from then on its readiness is pending in the driver.
        let peer = std::net::TcpStream::connect(addr).unwrap();
        connected.store(true, Ordering::SeqCst);
        let yields = spinner.await.unwrap();
        acceptor.await.unwrap();
        drop(peer);
        yields
    });
    assert!(
        yields <= 3,
        "the accept waited {yields} yields for the driver"
    );
}
