//! Sizing of a client's query buffer, as Redis sizes it (`readQueryFromClient`
//! and `clientsCronResizeQueryBuffer`), so `CLIENT LIST`'s `qbuf`/`qbuf-free`
//! tell the truth and idle or once-big buffers are given back:
//!
//! - before each read the buffer has room for [`READ_CHUNK`] bytes, or for the
//!   rest of a bulk argument being received when that is bigger (one
//!   allocation for a big argument instead of doubling towards it);
//! - the clients cron ([`cron_visit`], every 100 ms) asks a client whose
//!   buffer wastes more than [`MIN_WASTE`] bytes to release it all when the
//!   client has been idle for more than [`IDLE_FREE`], or to shrink it when it
//!   is over [`RESIZE_THRESHOLD`] and more than twice the largest amount of
//!   data it held since the previous visit (its *peak*);
//! - the connection applies the request between two batches ([`prepare_read`]).
//!
//! In the steady state (small requests, the buffer consumed batch after batch)
//! [`prepare_read`] only moves the unparsed tail back to the start of the same
//! allocation: no allocation per request.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;

use super::client::ClientHandle;

/// Room made before each read (Redis's `PROTO_IOBUF_LEN`).
pub const READ_CHUNK: usize = 16 * 1024;
/// A buffer at most this big is never shrunk while in use
/// (`PROTO_RESIZE_THRESHOLD`).
pub const RESIZE_THRESHOLD: usize = 32 * 1024;
/// Less free space than this is not worth a reallocation.
pub const MIN_WASTE: usize = 4 * 1024;
/// A client idle for longer than this gives its buffer back.
pub const IDLE_FREE: Duration = Duration::from_secs(2);

/// What the clients cron asked a connection to do with its query buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shrink {
    /// Nothing asked.
    None = 0,
    /// Idle: release the buffer (kept if it holds a partial request).
    Release = 1,
    /// Busy but the buffer is far bigger than recent use: reallocate it to fit.
    Trim = 2,
}

/// The query-buffer figures a connection publishes for `CLIENT LIST` and the
/// clients cron. All relaxed atomics: written by the connection task, read
/// (and the peak reset) by others.
#[derive(Debug, Default)]
pub struct QueryBufStats {
    /// Bytes received and not yet executed (`qbuf`).
    pub len: AtomicUsize,
    /// The buffer's capacity (`qbuf` + `qbuf-free`).
    pub cap: AtomicUsize,
    /// Largest `len` seen after a read since the cron's last visit.
    pub peak: AtomicUsize,
    /// A [`Shrink`] request from the cron, taken by the connection.
    shrink: AtomicU8,
}

impl QueryBufStats {
    /// Takes the pending request, if any. O(1).
    pub fn take_request(&self) -> Shrink {
        match self.shrink.swap(Shrink::None as u8, Ordering::AcqRel) {
            1 => Shrink::Release,
            2 => Shrink::Trim,
            _ => Shrink::None,
        }
    }

    /// Records the amount buffered after a read (for the peak). O(1).
    pub fn note_read(&self, len: usize) {
        if len > self.peak.load(Ordering::Relaxed) {
            self.peak.store(len, Ordering::Relaxed);
        }
    }
}

/// The clients cron's visit of one client: decides whether its buffer should
/// be released or trimmed (asking the connection, which is woken), then
/// restarts the peak from what the buffer holds now. O(1).
pub fn cron_visit(c: &ClientHandle) {
    let q = &c.qbuf;
    let (len, cap) = (q.len.load(Ordering::Relaxed), q.cap.load(Ordering::Relaxed));
    let request = if cap.saturating_sub(len) <= MIN_WASTE {
        Shrink::None
    } else if c.idle() > IDLE_FREE {
        Shrink::Release
    } else if cap > RESIZE_THRESHOLD && cap / 2 > q.peak.load(Ordering::Relaxed) {
        Shrink::Trim
    } else {
        Shrink::None
    };
    q.peak.store(len, Ordering::Relaxed);
    if request != Shrink::None && q.shrink.swap(request as u8, Ordering::AcqRel) == Shrink::None as u8 {
        c.wake.ring();
    }
}

/// Readies `buf` for the next read: applies `request`, then makes room for
/// [`READ_CHUNK`] bytes or for the rest of the bulk argument being received
/// (`bulk_left`), whichever is bigger. Returns whether the buffer is now
/// released (empty, no allocation): it stays so until data arrives, the read
/// then allocating what it needs. O(bytes buffered) at most; no allocation
/// when the buffer is already large enough and nothing else shares it.
pub fn prepare_read(buf: &mut BytesMut, bulk_left: usize, request: Shrink, released: bool) -> bool {
    let want = READ_CHUNK.max(bulk_left);
    match request {
        Shrink::Release if buf.is_empty() => {
            *buf = BytesMut::new();
            return true;
        }
        Shrink::Trim if buf.len() + want < buf.capacity() => {
            let mut fresh = BytesMut::with_capacity(buf.len() + want);
            fresh.extend_from_slice(buf);
            *buf = fresh;
        }
        _ if released && buf.is_empty() => return true,
        _ => {}
    }
    buf.reserve(want);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    #[test]
    fn steady_state_reuses_the_allocation() {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let base = buf.as_ptr() as usize;
        for _ in 0..100 {
            buf.extend_from_slice(&[b'x'; 100]);
            drop(buf.split_to(90).freeze());
            buf.advance(10);
            assert!(!prepare_read(&mut buf, 0, Shrink::None, false));
            assert!(buf.capacity() >= READ_CHUNK);
            let at = buf.as_ptr() as usize;
            assert!(at >= base && at < base + READ_CHUNK, "reallocated");
        }
    }

    #[test]
    fn big_bulk_reserves_its_rest_at_once() {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        buf.extend_from_slice(&[b'a'; 1000]);
        prepare_read(&mut buf, 400_002 - 1000, Shrink::None, false);
        assert!(buf.capacity() >= 400_002);
        assert!(buf.capacity() < 2 * 400_002);
    }

    #[test]
    fn release_and_trim() {
        let mut buf = BytesMut::with_capacity(400_000);
        assert!(prepare_read(&mut buf, 0, Shrink::Release, false));
        assert_eq!(buf.capacity(), 0);
        // Stays released until something arrives.
        assert!(prepare_read(&mut buf, 0, Shrink::None, true));
        buf.extend_from_slice(b"*1\r\n");
        assert!(!prepare_read(&mut buf, 0, Shrink::None, true));
        assert!(buf.capacity() >= READ_CHUNK);

        let mut buf = BytesMut::with_capacity(400_000);
        buf.extend_from_slice(b"partial");
        prepare_read(&mut buf, 0, Shrink::Trim, false);
        assert_eq!(&buf[..], b"partial");
        assert!(buf.capacity() >= READ_CHUNK && buf.capacity() < RESIZE_THRESHOLD);
        // A release request keeps a partial request.
        assert!(!prepare_read(&mut buf, 0, Shrink::Release, false));
        assert_eq!(&buf[..], b"partial");
    }
}
