//! Out-of-band output for one connection: pub/sub messages (and the
//! subscription confirmations, which Redis also sends as pushes) queued by
//! any thread, written by the connection's own task between replies.
//!
//! Each message is already encoded for the client's protocol (a RESP3 push
//! frame or a RESP2 array), so the connection only copies bytes. The queue
//! counts every byte not yet written to the socket — queued, or moved to the
//! connection's output buffer and not flushed — so the publisher can apply
//! the `pubsub` class of `client-output-buffer-limit` and disconnect a
//! subscriber that does not read, as Redis does, instead of growing memory
//! without bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::BytesMut;
use parking_lot::Mutex;

use super::output_limit::Limit;

/// Messages waiting for a connection to write them.
#[derive(Debug, Default)]
pub struct PushQueue {
    /// The encoded messages, in the order queued: copied in by the
    /// publisher, so a message costs no allocation of its own.
    queued: Mutex<BytesMut>,
    /// Bytes pushed and not yet written to the socket.
    pending: AtomicUsize,
    /// When `pending` first passed the soft limit (ms since `epoch`, 0: not
    /// over it).
    soft_since_ms: AtomicU64,
}

/// What [`PushQueue::push`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// Queued, but the client is over its output limit: disconnect it.
    OverLimit,
}

/// A drained queue buffer larger than this is given back to the allocator
/// instead of being kept for the next messages (after a burst).
const KEEP_CAPACITY: usize = 64 * 1024;

/// Milliseconds of [`crate::stopwatch::uptime`], plus one (0 means "not set").
fn now_ms() -> u64 {
    crate::stopwatch::uptime_ms() + 1
}

impl PushQueue {
    /// Queues a copy of `msg`; returns what the limit says. The caller then
    /// wakes the connection ([`super::client::ClientHandle::deliver`] does
    /// both, and is the way in). O(size of msg).
    pub(super) fn push(&self, msg: &[u8], limit: Limit) -> Pushed {
        let len = msg.len();
        // Counted before the connection can see (and write, and release) it.
        let pending = self.pending.fetch_add(len, Ordering::AcqRel) + len;
        self.queued.lock().extend_from_slice(msg);
        self.check(pending as u64, limit)
    }

    /// Applies `limit` to `pending` bytes: over the hard limit, or over the
    /// soft one for longer than its seconds.
    fn check(&self, pending: u64, limit: Limit) -> Pushed {
        if limit.hard > 0 && pending >= limit.hard {
            return Pushed::OverLimit;
        }
        if limit.soft > 0 && pending >= limit.soft {
            let now = now_ms();
            let since = match self.soft_since_ms.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => now,
                Err(t) => t,
            };
            if now.saturating_sub(since) >= limit.soft_secs * 1000 {
                return Pushed::OverLimit;
            }
        } else {
            self.soft_since_ms.store(0, Ordering::Release);
        }
        Pushed::Queued
    }

    /// Moves every queued message to `out`; returns the bytes moved (to be
    /// [`Self::written`] once flushed). O(1) when `out` is empty (the
    /// buffers are exchanged), else O(bytes moved).
    pub fn drain_into(&self, out: &mut BytesMut) -> usize {
        // Every queued message is counted in `pending` before it is queued:
        // nothing counted, nothing queued (the common case, once per reply).
        if self.pending.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let mut q = self.queued.lock();
        let n = q.len();
        if out.is_empty() {
            std::mem::swap(out, &mut *q);
        } else {
            out.extend_from_slice(&q);
        }
        q.clear();
        if q.capacity() > KEEP_CAPACITY {
            *q = BytesMut::new();
        }
        n
    }

    /// True if a message is waiting.
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0 && !self.queued.lock().is_empty()
    }

    /// `n` drained bytes reached the socket.
    pub fn written(&self, n: usize) {
        if n > 0 {
            let left = self.pending.fetch_sub(n, Ordering::AcqRel).saturating_sub(n);
            if left == 0 {
                self.soft_since_ms.store(0, Ordering::Release);
            }
        }
    }

    /// Bytes pushed and not yet written (`CLIENT LIST` `omem`).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_drain_in_order() {
        let q = PushQueue::default();
        assert_eq!(q.push(b"one ", Limit::default()), Pushed::Queued);
        assert_eq!(q.push(b"two ", Limit::default()), Pushed::Queued);
        // Into an empty output: the queued bytes themselves.
        let mut out = BytesMut::new();
        assert_eq!(q.drain_into(&mut out), 8);
        assert_eq!(&out[..], b"one two ");
        // Into output already holding a reply: after it.
        assert_eq!(q.push(b"three", Limit::default()), Pushed::Queued);
        assert_eq!(q.drain_into(&mut out), 5);
        assert_eq!(&out[..], b"one two three");
        assert_eq!(q.pending(), 13);
        q.written(13);
        assert_eq!(q.pending(), 0);
        assert_eq!(q.drain_into(&mut out), 0);
    }

    #[test]
    fn a_burst_s_buffer_is_given_back_once_drained() {
        let q = PushQueue::default();
        let big = vec![b'x'; KEEP_CAPACITY + 1];
        q.push(&big, Limit::default());
        let mut out = BytesMut::from(&b"reply"[..]);
        assert_eq!(q.drain_into(&mut out), big.len());
        assert_eq!(q.queued.lock().capacity(), 0);
        assert_eq!(out.len(), 5 + big.len());
    }

    #[test]
    fn the_hard_limit_is_reported_when_reached() {
        let q = PushQueue::default();
        let limit = Limit { hard: 10, soft: 0, soft_secs: 0 };
        assert_eq!(q.push(b"12345", limit), Pushed::Queued);
        assert_eq!(q.push(b"67890", limit), Pushed::OverLimit);
    }
}
