//! Multi-producer, single-consumer channels for sending values between
//! tasks.
//!
//! Two flavours, with tokio's names and semantics:
//!
//! - [`channel(n)`](channel): bounded. [`Sender::send`] waits while `n`
//!   values are queued, which is how a slow consumer pushes back on fast
//!   producers. Waiting senders are served first come, first served.
//! - [`unbounded_channel()`](unbounded_channel): sending never waits; the
//!   queue grows instead.
//!
//! The receiver gets `None` once every sender is gone and the queue is
//! drained; its `is_closed` is true from the moment it is closed or the last
//! sender is dropped. Once the receiver is closed or dropped, sends fail and
//! hand the value back; values still queued when the receiver is dropped are
//! dropped with it, and so is its registered waker. Both receivers implement
//! [`futures_core::Stream`].
//!
//! One difference from tokio: if several queued values panic in `Drop`
//! when the receiver is dropped, every value is still dropped exactly once
//! and the first panic propagates; the later ones are logged with
//! `tracing::error!` (tokio aborts the process at the second one).
//!
//! ```
//! use kioto_rt::sync::mpsc;
//!
//! kioto_rt::Runtime::new().unwrap().block_on(async {
//!     let (tx, mut rx) = mpsc::channel(16);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         kioto_rt::spawn(async move { tx.send(id).await.unwrap() });
//!     }
//!     drop(tx);
//!     let mut sum = 0;
//!     while let Some(id) = rx.recv().await {
//!         sum += id;
//!     }
//!     assert_eq!(sum, 3);
//! });
//! ```
//!
//! # Design
//!
//! Values travel through a lock-free queue (`crossbeam_queue::SegQueue`);
//! the receiver's waker sits in an atomic slot; sender count and closed
//! state are atomics. A bounded channel's capacity is a fair semaphore
//! whose waiter queue is the only lock, met only by senders that must wait.
//! `chan.rs` has the shared protocol and its invariants.

mod bounded;
mod chan;
pub mod error;
mod unbounded;

pub use bounded::{channel, Permit, Receiver, Sender, WeakSender};
pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn waiting_senders_are_served_in_order() {
        let (tx, mut rx) = channel(1);
        let mut cx = Context::from_waker(Waker::noop());
        tx.try_send(0).unwrap();
        let mut a = pin!(tx.send(1));
        let mut b = pin!(tx.send(2));
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        // The freed slot went to `a`, not to a newcomer.
        assert!(tx.try_send(9).is_err());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert_eq!(rx.try_recv(), Ok(1));
        assert!(b.as_mut().poll(&mut cx).is_ready());
        assert_eq!(rx.try_recv(), Ok(2));
    }

    #[test]
    fn close_fails_a_waiting_sender_with_its_value() {
        let (tx, mut rx) = channel(1);
        let mut cx = Context::from_waker(Waker::noop());
        tx.try_send(1).unwrap();
        let mut send = pin!(tx.send(2));
        assert!(send.as_mut().poll(&mut cx).is_pending());
        rx.close();
        match send.as_mut().poll(&mut cx) {
            Poll::Ready(Err(error::SendError(2))) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(error::TryRecvError::Disconnected));
    }

    #[test]
    fn a_closed_receiver_waits_for_outstanding_permits() {
        let (tx, mut rx) = channel::<u8>(2);
        let permit = tx.try_reserve().unwrap();
        rx.close();
        assert_eq!(rx.try_recv(), Err(error::TryRecvError::Empty));
        permit.send(7);
        assert_eq!(rx.try_recv(), Ok(7));
        assert_eq!(rx.try_recv(), Err(error::TryRecvError::Disconnected));
    }

    /// Counts wake-ups.
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_closed_receiver_is_woken_when_a_granted_send_is_cancelled() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        let mut send = Box::pin(tx.send(2));
        let mut noop = Context::from_waker(Waker::noop());
        assert!(send.as_mut().poll(&mut noop).is_pending());
        // Popping hands the slot to the queued send, which has not seen it.
        assert_eq!(rx.try_recv(), Ok(1));
        rx.close();
        let counter = Arc::new(CountingWaker(Default::default()));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        // The granted slot may still turn into a value: not the end yet.
        assert!(rx.poll_recv(&mut cx).is_pending());
        drop(send);
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn values_pushed_after_the_receiver_dropped_are_dropped_with_the_channel() {
        let token = Arc::new(());
        let (tx, rx) = channel(2);
        let permit = tx.try_reserve().unwrap();
        drop(rx);
        permit.send(token.clone());
        assert_eq!(Arc::strong_count(&token), 2);
        drop(tx);
        assert_eq!(Arc::strong_count(&token), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
    use crate::loom::sync::Arc;

    /// Counts its drops, so a model can prove no value leaks.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn two_senders_then_end_of_stream() {
        loom::model(|| {
            let (tx, mut rx) = unbounded_channel();
            let tx2 = tx.clone();
            let th = loom::thread::spawn(move || {
                tx2.send(1).unwrap();
            });
            tx.send(2).unwrap();
            drop(tx);
            let sum = loom::future::block_on(async {
                let mut sum = 0;
                while let Some(v) = rx.recv().await {
                    sum += v;
                }
                sum
            });
            assert_eq!(sum, 3);
            th.join().unwrap();
        });
    }

    #[test]
    fn bounded_capacity_wakes_the_waiting_sender() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            let th = loom::thread::spawn(move || {
                loom::future::block_on(async {
                    tx.send(1).await.unwrap();
                    tx.send(2).await.unwrap();
                });
            });
            let got = loom::future::block_on(async {
                let a = rx.recv().await;
                let b = rx.recv().await;
                let end = rx.recv().await;
                (a, b, end)
            });
            assert_eq!(got, (Some(1), Some(2), None));
            th.join().unwrap();
        });
    }

    #[test]
    fn two_bounded_senders_share_one_slot() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            let ths: Vec<_> = [1, 2]
                .into_iter()
                .map(|v| {
                    let tx = tx.clone();
                    loom::thread::spawn(move || loom::future::block_on(tx.send(v)).unwrap())
                })
                .collect();
            drop(tx);
            // Both values arrive (the end of stream is covered by
            // `two_senders_then_end_of_stream`; waiting for it here
            // multiplies the schedules for no new edge).
            let sum = loom::future::block_on(async {
                rx.recv().await.unwrap() + rx.recv().await.unwrap()
            });
            assert_eq!(sum, 3);
            for th in ths {
                th.join().unwrap();
            }
        });
    }

    #[test]
    fn receiver_close_races_a_sender_without_loss_or_leak() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, mut rx) = channel(1);
            let value = Counted(drops.clone());
            let th = loom::thread::spawn(move || {
                loom::future::block_on(async {
                    // Returned in the error (and dropped here) or queued.
                    let _ = tx.send(value).await;
                });
            });
            rx.close();
            // Whatever arrives is received; then the stream ends.
            let received = loom::future::block_on(async {
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            });
            th.join().unwrap();
            drop(rx);
            assert!(received <= 1);
            assert_eq!(drops.load(SeqCst), 1);
        });
    }

    /// A waker that does nothing; its clones are counted by its `Arc`.
    struct NoopWake;

    impl std::task::Wake for NoopWake {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    #[test]
    fn receiver_drop_races_an_unbounded_sender_without_leak() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, mut rx) = unbounded_channel();
            let value = Counted(drops.clone());
            // The receiver waits with a waker that the sender may be waking
            // while the receiver drops: it is released either way.
            let wake = std::sync::Arc::new(NoopWake);
            let waker = std::task::Waker::from(wake.clone());
            let polled = rx.poll_recv(&mut std::task::Context::from_waker(&waker));
            assert!(polled.is_pending());
            drop(waker);
            let th = loom::thread::spawn(move || {
                let _ = tx.send(value);
                tx
            });
            drop(rx);
            let tx = th.join().unwrap();
            assert_eq!(drops.load(SeqCst), 1);
            assert_eq!(
                std::sync::Arc::strong_count(&wake),
                1,
                "the channel (its sender still alive) keeps no waker"
            );
            drop(tx);
        });
    }
}
