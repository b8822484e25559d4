//! UDP round trips through the public API.

use kioto_rt::net::UdpSocket;
use kioto_rt::runtime::Builder;
use std::sync::Arc;

#[test]
fn udp_round_trip_connected_and_unconnected() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let server_addr = server.local_addr().unwrap();
        let echo = {
            let server = server.clone();
            kioto_rt::spawn(async move {
                let mut buf = [0u8; 1500];
                for _ in 0..100 {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    server.send_to(&buf[..n], from).await.unwrap();
                }
            })
        };
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(server_addr).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), server_addr);
        let mut buf = [0u8; 1500];
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            assert_eq!(client.send(&msg).await.unwrap(), 4);
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg);
        }
        echo.await.unwrap();

        // try_* without waiting.
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut small = [0u8; 8];
        assert_eq!(
            a.try_recv_from(&mut small).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        b.writable().await.unwrap();
        b.try_send_to(b"x", a.local_addr().unwrap()).unwrap();
        a.readable().await.unwrap();
        let (n, from) = loop {
            match a.try_recv_from(&mut small) {
                Ok(r) => break r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => a.readable().await.unwrap(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!((&small[..n], from), (&b"x"[..], b.local_addr().unwrap()));
    });
}

#[test]
fn several_tasks_receiving_on_one_socket_all_make_progress() {
    const RECEIVERS: usize = 4;
    const DATAGRAMS: usize = 400;
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..RECEIVERS {
            let sock = sock.clone();
            let received = received.clone();
            tasks.push(kioto_rt::spawn(async move {
                let mut buf = [0u8; 16];
                let mut mine = 0;
                loop {
                    let n = sock.recv(&mut buf).await.unwrap();
                    if &buf[..n] == b"stop" {
                        return mine;
                    }
                    mine += 1;
                    received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }));
        }
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.connect(sender.local_addr().unwrap()).await.unwrap();
        // Batches of 20 in flight at most, so the socket's receive buffer
        // can never overflow (loopback UDP drops only then).
        for batch in 0..DATAGRAMS / 20 {
            for i in 0..20 {
                let n = (batch * 20 + i) as u32;
                sender.send_to(&n.to_le_bytes(), addr).await.unwrap();
            }
            while received.load(std::sync::atomic::Ordering::SeqCst) < (batch + 1) * 20 {
                kioto_rt::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        for _ in 0..RECEIVERS {
            sender.send_to(b"stop", addr).await.unwrap();
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, DATAGRAMS);
    });
}
