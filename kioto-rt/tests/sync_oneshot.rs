//! oneshot: hand-over across tasks, closing both ways, no leaks.

use kioto_rt::sync::oneshot::{
    self,
    error::{RecvError, TryRecvError},
};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

mod support;
use support::rt;

/// A value that counts its drops.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<oneshot::Sender<u8>>();
    send_sync::<oneshot::Receiver<u8>>();
}

#[test]
fn value_crosses_tasks_whichever_side_comes_first() {
    let rt = rt(2);
    for _ in 0..100 {
        let got = rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            let waiter = kioto_rt::spawn(rx);
            kioto_rt::spawn(async move { tx.send(7u32).unwrap() });
            waiter.await.unwrap()
        });
        assert_eq!(got, Ok(7));
    }
}

#[test]
fn dropping_the_sender_resolves_the_receiver_with_an_error() {
    let got = rt(1).block_on(async {
        let (tx, rx) = oneshot::channel::<u8>();
        kioto_rt::spawn(async move { drop(tx) });
        rx.await
    });
    assert!(matches!(got, Err(RecvError { .. })));
}

/// A real `RecvError` (it has no public constructor, as in tokio).
fn recv_error() -> RecvError {
    let (tx, mut rx) = oneshot::channel::<()>();
    drop(tx);
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(&mut rx).poll(&mut cx) {
        Poll::Ready(Err(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn send_to_a_dropped_receiver_hands_the_value_back() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    let back = tx.send(Counted(drops.clone())).unwrap_err();
    assert_eq!(drops.load(SeqCst), 0);
    drop(back);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn an_unreceived_value_is_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel();
    tx.send(Counted(drops.clone())).unwrap();
    assert_eq!(drops.load(SeqCst), 0);
    drop(rx);
    assert_eq!(drops.load(SeqCst), 1);

    // Received values are dropped by their owner, once.
    let (tx, mut rx) = oneshot::channel();
    tx.send(Counted(drops.clone())).unwrap();
    let v = rx.try_recv().unwrap();
    drop(rx);
    assert_eq!(drops.load(SeqCst), 1);
    drop(v);
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn try_recv_reports_empty_then_value_then_closed() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send("v").unwrap();
    assert_eq!(rx.try_recv(), Ok("v"));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn close_refuses_later_sends_but_keeps_an_earlier_value() {
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn closed_resolves_when_the_receiver_is_dropped_in_another_task() {
    rt(2).block_on(async {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let (ready_tx, ready_rx) = oneshot::channel::<()>();
        let waiter = kioto_rt::spawn(async move {
            ready_tx.send(()).unwrap();
            tx.closed().await;
            tx.is_closed()
        });
        ready_rx.await.unwrap();
        drop(rx);
        assert!(waiter.await.unwrap());
    });
}

#[test]
#[should_panic(expected = "polled after completion")]
fn polling_after_completion_panics() {
    let (tx, rx) = oneshot::channel();
    tx.send(1).unwrap();
    let mut rx = pin!(rx);
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(rx.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    let _ = rx.as_mut().poll(&mut cx);
}

#[test]
fn errors_display_like_tokio() {
    assert_eq!(recv_error().to_string(), "channel closed");
    assert_eq!(TryRecvError::Empty.to_string(), "channel empty");
    assert_eq!(TryRecvError::Closed.to_string(), "channel closed");
}
