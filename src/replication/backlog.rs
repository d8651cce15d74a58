//! The replication backlog: the last `repl-backlog-size` bytes of the
//! replication stream, so a replica that lost its link can continue from
//! the offset it reached (`+CONTINUE`) instead of a full resync.

use std::collections::VecDeque;

use bytes::Bytes;

/// A bounded window of the stream, ending at the stream's current offset.
/// Appending is O(bytes appended) (amortised); reading a tail is
/// O(bytes read).
#[derive(Debug)]
pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
}

impl Backlog {
    /// An empty backlog keeping at most `size` bytes (at least 16 KiB, as
    /// Redis's minimum).
    pub fn new(size: u64) -> Backlog {
        Backlog { buf: VecDeque::new(), size: clamp(size) }
    }

    /// Appends stream bytes, dropping the oldest beyond the size.
    pub fn push(&mut self, data: &[u8]) {
        if data.len() >= self.size {
            self.buf.clear();
            self.buf.extend(&data[data.len() - self.size..]);
            return;
        }
        self.buf.extend(data);
        let over = self.buf.len().saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
        }
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The configured size (`repl-backlog-size`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Changes the size, keeping the newest bytes that fit.
    pub fn resize(&mut self, size: u64) {
        self.size = clamp(size);
        let over = self.buf.len().saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
        }
    }

    /// Forgets every byte (a new history starts).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The bytes after the first `skip` held ones. O(bytes returned).
    pub fn tail(&self, skip: usize) -> Bytes {
        let skip = skip.min(self.buf.len());
        let (a, b) = self.buf.as_slices();
        let mut out = Vec::with_capacity(self.buf.len() - skip);
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
        Bytes::from(out)
    }
}

/// Redis's lower bound for the backlog (`CONFIG_REPL_BACKLOG_MIN_SIZE`).
fn clamp(size: u64) -> usize {
    usize::try_from(size.max(16 * 1024)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes() {
        let mut b = Backlog::new(0);
        let size = b.size();
        let data: Vec<u8> = (0..size + 100).map(|i| (i % 251) as u8).collect();
        b.push(&data[..50]);
        b.push(&data[50..]);
        assert_eq!(b.len(), size);
        assert_eq!(&b.tail(0)[..], &data[100..]);
        assert_eq!(&b.tail(10)[..], &data[110..]);
        b.resize(0);
        assert_eq!(b.len(), size);
    }
}
