//! The one wake-up a connection task listens for besides its socket: a
//! pushed pub/sub message, a kill, a request to release its buffers, or the
//! server shutting down. The task finds out which by looking at the state
//! the ringer changed first (the push queue, `killed`, the shrink request,
//! the shutdown flag).
//!
//! Why not `tokio::sync::Notify`: waiting on a `Notify` puts a waiter in a
//! mutex-guarded list and takes it out again when the wait is dropped, and
//! a connection used to wait on three of them for every request it read
//! (about a fifth of the user-space time of a one-request-at-a-time GET).
//! A doorbell has one waiter, the connection task, so waiting costs one
//! atomic swap and, when the task's waker is unchanged, no clone.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

/// A wake-up signal for one waiting task; rings are not counted (several
/// rings before the task looks are one).
#[derive(Debug, Default)]
pub struct Doorbell {
    rung: AtomicBool,
    waker: AtomicWaker,
}

impl Doorbell {
    /// Rings: the waiting task (or, if none waits now, its next wait) wakes.
    /// The ringer changes the state the task will look at before ringing.
    /// O(1), from any thread.
    pub fn ring(&self) {
        self.rung.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready once the bell has rung since the last ready wait (clearing it).
    /// Only one task may wait on a doorbell. O(1).
    pub fn poll_rung(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Checked before and after registering, so a ring in between is not
        // lost (AtomicWaker's documented pattern).
        if self.rung.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.rung.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Waits for a ring (see [`Doorbell::poll_rung`]). Cancel-safe: a ring
    /// seen by a dropped wait is lost only if that wait returned it.
    pub async fn rung(&self) {
        poll_fn(|cx| self.poll_rung(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_ring_before_the_wait_is_kept_and_rings_are_not_counted() {
        let bell = Doorbell::default();
        bell.ring();
        bell.ring();
        bell.rung().await;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(bell.poll_rung(&mut cx).is_pending());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ring_from_another_thread_wakes_the_waiting_task() {
        let bell = Arc::new(Doorbell::default());
        for _ in 0..1000 {
            let b = bell.clone();
            let ringer = std::thread::spawn(move || b.ring());
            bell.rung().await;
            ringer.join().expect("ringer thread");
        }
    }
}
