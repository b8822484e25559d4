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
