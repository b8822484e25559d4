//! mpsc channels: ordering, back-pressure, closing, no leaks, budget.

use futures_util::StreamExt;
use kioto_rt::sync::mpsc::{
    self,
    error::{SendError, TryRecvError, TrySendError},
};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

mod support;
use std::time::Duration;
use support::{poll_once, poll_with, rt, waker_calling_on_drop, within};

/// A value that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn channel_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<mpsc::Sender<u8>>();
    send_sync::<mpsc::Receiver<u8>>();
    send_sync::<mpsc::UnboundedSender<u8>>();
    send_sync::<mpsc::UnboundedReceiver<u8>>();
    send_sync::<mpsc::WeakSender<u8>>();
    send_sync::<mpsc::WeakUnboundedSender<u8>>();
    send::<mpsc::Permit<'static, u8>>();
}

#[test]
fn bounded_keeps_order_across_tasks() {
    let values = rt(2).block_on(async {
        let (tx, mut rx) = mpsc::channel(3);
        kioto_rt::spawn(async move {
            for i in 0..1000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    assert_eq!(values, (0..1000).collect::<Vec<_>>());
}

#[test]
fn every_value_from_many_senders_arrives_once() {
    let (count, sum) = rt(2).block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        for t in 0..8u64 {
            let tx = tx.clone();
            kioto_rt::spawn(async move {
                for i in 0..250u64 {
                    tx.send(t * 1000 + i).await.unwrap();
                }
            });
        }
        drop(tx);
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(v) = rx.recv().await {
            count += 1;
            sum += v;
        }
        (count, sum)
    });
    let expected: u64 = (0..8u64)
        .flat_map(|t| (0..250u64).map(move |i| t * 1000 + i))
        .sum();
    assert_eq!((count, sum), (2000, expected));
}

#[test]
fn send_waits_for_capacity() {
    let (tx, mut rx) = mpsc::channel(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.capacity(), 0);
    assert_eq!(tx.max_capacity(), 2);
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    let mut send = pin!(tx.send(3));
    assert!(poll_once(send.as_mut()).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(poll_once(send.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(tx.capacity(), 2);
}

#[test]
fn a_cancelled_send_gives_its_place_to_the_next_sender() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut second = pin!(tx.send(2));
    {
        let mut first = pin!(tx.send(1));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
    }
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn recv_returns_none_after_all_senders_drop_and_queue_drains() {
    rt(1).block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        drop(tx);
        tx2.send(2).await.unwrap();
        drop(tx2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn send_after_receiver_drop_hands_the_value_back() {
    rt(1).block_on(async {
        let (tx, rx) = mpsc::channel::<String>(4);
        drop(rx);
        assert!(tx.is_closed());
        let err = tx.send("lost".to_string()).await.unwrap_err();
        assert_eq!(err, SendError("lost".to_string()));
        assert_eq!(
            tx.try_send("x".to_string()),
            Err(TrySendError::Closed("x".to_string()))
        );
        assert!(tx.reserve().await.is_err());

        let (utx, urx) = mpsc::unbounded_channel::<u8>();
        drop(urx);
        assert_eq!(utx.send(5), Err(SendError(5)));
    });
}

#[test]
fn values_queued_when_the_receiver_drops_are_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel(8);
    for _ in 0..5 {
        tx.try_send(Counted(drops.clone())).unwrap();
    }
    let (utx, urx) = mpsc::unbounded_channel();
    for _ in 0..7 {
        utx.send(Counted(drops.clone())).unwrap();
    }
    assert_eq!(drops.load(SeqCst), 0);
    drop(rx);
    assert_eq!(drops.load(SeqCst), 5);
    drop(urx);
    assert_eq!(drops.load(SeqCst), 12);
    // Senders still alive; nothing else to drop.
    drop((tx, utx));
    assert_eq!(drops.load(SeqCst), 12);
}

#[test]
fn a_waiting_sender_gets_its_value_back_when_the_receiver_drops() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(Counted(drops.clone())).unwrap();
    let mut send = pin!(tx.send(Counted(drops.clone())));
    assert!(poll_once(send.as_mut()).is_pending());
    drop(rx);
    assert_eq!(drops.load(SeqCst), 1, "the queued value is dropped");
    match poll_once(send.as_mut()) {
        Poll::Ready(Err(SendError(v))) => drop(v),
        _ => panic!("a waiting sender must fail once the receiver is gone"),
    }
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn close_lets_the_receiver_drain_then_ends() {
    rt(1).block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        rx.close();
        assert!(rx.is_closed());
        assert_eq!(tx.send(3), Err(SendError(3)));
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert!(rx.is_empty());
        // A sender is still alive, but the closed channel has ended.
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn closed_resolves_when_the_receiver_goes() {
    rt(2).block_on(async {
        let (tx, rx) = mpsc::channel::<u8>(1);
        let (utx, urx) = mpsc::unbounded_channel::<u8>();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (tx, utx) = (tx.clone(), utx.clone());
                kioto_rt::spawn(async move {
                    tx.closed().await;
                    utx.closed().await;
                })
            })
            .collect();
        drop(rx);
        drop(urx);
        for w in waiters {
            w.await.unwrap();
        }
        assert!(tx.is_closed() && utx.is_closed());
    });
}

#[test]
fn permits_reserve_and_return_capacity() {
    rt(1).block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        let p1 = tx.reserve().await.unwrap();
        let p2 = tx.try_reserve().unwrap();
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
        drop(p1);
        assert_eq!(tx.capacity(), 1);
        p2.send(10);
        assert_eq!(rx.recv().await, Some(10));
        assert_eq!(tx.capacity(), 2);
    });
}

#[test]
fn recv_many_takes_up_to_the_limit() {
    rt(1).block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 0).await, 0);
        assert_eq!(rx.recv_many(&mut buf, 2).await, 2);
        assert_eq!(rx.recv_many(&mut buf, 10).await, 3);
        assert_eq!(buf, [0, 1, 2, 3, 4]);
        drop(tx);
        assert_eq!(rx.recv_many(&mut buf, 10).await, 0);
    });
}

#[test]
fn receivers_are_streams() {
    let (bounded, unbounded) = rt(2).block_on(async {
        let (tx, rx) = mpsc::channel(2);
        kioto_rt::spawn(async move {
            for i in 0..10 {
                tx.send(i).await.unwrap();
            }
        });
        let (utx, urx) = mpsc::unbounded_channel();
        for i in 0..3 {
            utx.send(i).unwrap();
        }
        drop(utx);
        (rx.collect::<Vec<_>>().await, urx.collect::<Vec<_>>().await)
    });
    assert_eq!(bounded, (0..10).collect::<Vec<_>>());
    assert_eq!(unbounded, [0, 1, 2]);
}

#[test]
fn same_channel_tells_senders_apart() {
    let (a, _ra) = mpsc::channel::<u8>(1);
    let (b, _rb) = mpsc::channel::<u8>(1);
    assert!(a.same_channel(&a.clone()));
    assert!(!a.same_channel(&b));
}

#[test]
#[should_panic(expected = "buffer > 0")]
fn zero_capacity_is_refused() {
    let _ = mpsc::channel::<u8>(0);
}

/// A task that loops over an always-ready channel must still let another
/// task on the same (only) worker run: `recv` spends coop budget and forces
/// a yield when it runs out.
#[test]
fn recv_on_an_always_full_channel_does_not_starve_the_worker() {
    const GIVE_UP: u64 = 10_000_000;
    let rt = rt(1);
    let (saw_flag, iterations) = rt.block_on(async {
        let flag = Arc::new(AtomicBool::new(false));
        let greedy = {
            let flag = flag.clone();
            kioto_rt::spawn(async move {
                let (tx, mut rx) = mpsc::unbounded_channel();
                tx.send(0u64).unwrap();
                let mut n = 0u64;
                while n < GIVE_UP {
                    if flag.load(SeqCst) {
                        return (true, n);
                    }
                    // Always one value queued: `recv` is always ready.
                    let v = rx.recv().await.unwrap();
                    tx.send(v + 1).unwrap();
                    n += 1;
                }
                (false, n)
            })
        };
        let setter = {
            let flag = flag.clone();
            kioto_rt::spawn(async move { flag.store(true, SeqCst) })
        };
        setter.await.unwrap();
        greedy.await.unwrap()
    });
    assert!(
        saw_flag,
        "the other task never ran within {iterations} receives"
    );
}

#[test]
fn weak_senders_do_not_keep_the_channel_open() {
    rt(1).block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        let weak = tx.downgrade();
        let strong = weak.upgrade().expect("a sender is alive");
        strong.send(1).await.unwrap();
        drop(strong);
        drop(tx);
        // Only the weak handle is left: the stream ends, and it stays ended.
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
        assert!(weak.upgrade().is_none());

        let (utx, mut urx) = mpsc::unbounded_channel();
        let uweak = utx.downgrade();
        uweak.upgrade().unwrap().send(2).unwrap();
        drop(utx);
        assert_eq!(urx.recv().await, Some(2));
        assert_eq!(urx.recv().await, None);
        assert!(uweak.clone().upgrade().is_none());
    });
}

#[test]
fn a_replaced_sender_waker_may_drop_the_receiver_when_dropped() {
    within(Duration::from_secs(10), || {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let mut send = pin!(tx.send(1));
        // Dropping this waker drops the receiver, which closes the channel
        // and so fails the waiting sender.
        let calls_back = waker_calling_on_drop(move || drop(rx));
        assert!(poll_with(send.as_mut(), &calls_back).is_pending());
        drop(calls_back);
        let result = loop {
            if let Poll::Ready(result) = poll_once(send.as_mut()) {
                break result;
            }
        };
        assert_eq!(result, Err(SendError(1)));
    });
}

#[test]
fn a_reserve_granted_before_close_but_polled_after_fails() {
    rt(1).block_on(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let held = tx.try_reserve().unwrap();
        let mut reserve = Box::pin(tx.reserve());
        assert!(poll_once(reserve.as_mut()).is_pending());
        drop(held); // the slot is handed to `reserve`, which has not seen it
        rx.close();
        assert!(matches!(
            poll_once(reserve.as_mut()),
            Poll::Ready(Err(SendError(())))
        ));
        drop(reserve);
        // The slot came back: the closed channel is idle and has ended.
        assert_eq!(tx.capacity(), 1);
        assert_eq!(rx.recv().await, None);

        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(1).unwrap();
        let mut send = Box::pin(tx.send(2));
        assert!(poll_once(send.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(1)); // hands the slot to `send`
        rx.close();
        assert!(matches!(
            poll_once(send.as_mut()),
            Poll::Ready(Err(SendError(2)))
        ));
        drop(send);
        assert_eq!(rx.recv().await, None);
    });
}

/// A waker whose last clone's drop is counted.
fn counted_waker(drops: &Arc<AtomicUsize>) -> std::task::Waker {
    let drops = drops.clone();
    waker_calling_on_drop(move || {
        drops.fetch_add(1, SeqCst);
    })
}

#[test]
fn dropping_the_receiver_releases_its_waker_while_senders_live() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let waker = counted_waker(&drops);
    assert!(rx
        .poll_recv(&mut std::task::Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    assert_eq!(drops.load(SeqCst), 0, "the channel keeps the waker");
    drop(rx);
    assert_eq!(drops.load(SeqCst), 1, "released at receiver drop");

    let (utx, mut urx) = mpsc::unbounded_channel::<u8>();
    let waker = counted_waker(&drops);
    assert!(urx
        .poll_recv(&mut std::task::Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    drop(urx);
    assert_eq!(drops.load(SeqCst), 2, "released at receiver drop");
    drop((tx, utx));
}

#[test]
fn is_closed_once_every_sender_is_gone() {
    let (tx, rx) = mpsc::channel::<u8>(1);
    let weak = tx.downgrade();
    let tx2 = tx.clone();
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed(), "no sender left (a weak one does not count)");
    drop(weak);

    let (utx, urx) = mpsc::unbounded_channel::<u8>();
    let uweak = utx.downgrade();
    utx.send(1).unwrap();
    assert!(!urx.is_closed());
    drop(utx);
    assert!(urx.is_closed(), "closed even with a value still queued");
    drop(uweak);
}

/// Counts its drops and panics in some of them.
struct PanicsOnDrop {
    drops: Arc<AtomicUsize>,
    panic: bool,
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.panic {
            panic!("value {} panicked in drop", self.drops.load(SeqCst));
        }
    }
}

#[test]
fn dropping_the_receiver_drops_every_value_even_if_some_panic() {
    let drops = Arc::new(AtomicUsize::new(0));
    let value = |panic| PanicsOnDrop {
        drops: drops.clone(),
        panic,
    };
    let (tx, rx) = mpsc::channel(8);
    let (utx, urx) = mpsc::unbounded_channel();
    for i in 0..6 {
        tx.try_send(value(i == 1 || i == 3)).unwrap();
        utx.send(value(i == 2 || i == 4)).unwrap();
    }
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rx)))
        .expect_err("the first panic is resumed once every value is dropped");
    assert_eq!(
        support::panic_text(&*payload),
        "value 2 panicked in drop",
        "the first one"
    );
    assert_eq!(drops.load(SeqCst), 6);
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(urx))).is_err());
    assert_eq!(drops.load(SeqCst), 12);

    // Values sent after the receiver is gone go with the last sender.
    let (tx, rx) = mpsc::channel(4);
    let a = tx.try_reserve().unwrap();
    let b = tx.try_reserve().unwrap();
    let c = tx.try_reserve().unwrap();
    drop(rx);
    a.send(value(true));
    b.send(value(true));
    c.send(value(false));
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(tx))).is_err());
    assert_eq!(drops.load(SeqCst), 15);
}
