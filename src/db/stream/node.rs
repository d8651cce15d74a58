//! One node of a stream: up to `stream-node-max-entries` entries packed in
//! one buffer, with Redis's master-entry compression.
//!
//! Layout of the buffer (all integers LEB128 varints):
//!
//! ```text
//! header:  nfields (field-len field-bytes)*          -- the master fields
//! entry:   flags ms-delta seq [nfields (len bytes)*2n | (len bytes)*nmaster]
//! ```
//!
//! `flags` has [`DELETED`] (the entry was removed by XDEL or trimming; it
//! stays in place, as in Redis, until its whole node goes) and
//! [`SAME_FIELDS`] (the entry has exactly the master fields, so only their
//! values are stored). `ms-delta` is the entry's milliseconds minus the
//! node's first id's; `seq` is the entry's sequence number. An entry with
//! the master fields and short values costs 3 bytes plus one length byte
//! per value plus the values: less than Redis's listpack entry (which
//! stores a back-length byte per element and a trailing count).

use bytes::Bytes;

use super::StreamId;

/// The entry was deleted (XDEL, trimming inside a node).
pub const DELETED: u8 = 1;
/// The entry's fields are the node's master fields (only values stored).
pub const SAME_FIELDS: u8 = 2;

/// Appends `v` as a LEB128 varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a LEB128 varint at `*at`, advancing it. A truncated buffer reads
/// as the bits present (buffers are only ever written by this module).
pub fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*at) {
        *at += 1;
        if shift < 64 {
            v |= ((b & 0x7f) as u64) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn get_bytes<'a>(buf: &'a [u8], at: &mut usize) -> &'a [u8] {
    let n = get_varint(buf, at) as usize;
    let start = (*at).min(buf.len());
    let end = start.saturating_add(n).min(buf.len());
    *at = end;
    &buf[start..end]
}

/// A packed node. Its first id (the key it is stored under in the stream's
/// tree) is passed in by the caller, as Redis keeps it in the radix tree key.
#[derive(Debug, Clone)]
pub struct Node {
    buf: Vec<u8>,
    /// Offset of the first entry (just past the master fields).
    entries_at: u32,
    /// Entries not deleted.
    pub live: u32,
    /// Entries marked deleted.
    pub deleted: u32,
}

/// One entry of a node as read in place.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// The entry's id.
    pub id: StreamId,
    /// The entry's flags byte offset (for [`Node::mark_deleted`]).
    pub at: usize,
    /// Whether it is marked deleted.
    pub deleted: bool,
    node: &'a Node,
    /// Offset of the first field (or value, with the master fields).
    body: usize,
    same_fields: bool,
    nfields: usize,
}

impl<'a> EntryRef<'a> {
    /// Number of field-value pairs.
    pub fn len(&self) -> usize {
        self.nfields
    }

    /// True for an entry without fields (never written by XADD).
    pub fn is_empty(&self) -> bool {
        self.nfields == 0
    }

    /// The entry's field-value pairs, in the order they were added. O(size).
    pub fn pairs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let buf = &self.node.buf[..];
        let mut at = self.body;
        let mut master_at = 0usize;
        let same = self.same_fields;
        if same {
            get_varint(buf, &mut master_at);
        }
        (0..self.nfields).map(move |_| {
            let field = if same { get_bytes(buf, &mut master_at) } else { get_bytes(buf, &mut at) };
            let value = get_bytes(buf, &mut at);
            (field, value)
        })
    }
}

impl Node {
    /// An empty node whose master fields are `fields` (the first entry's).
    pub fn new<'f>(fields: impl ExactSizeIterator<Item = &'f [u8]>) -> Node {
        let mut buf = Vec::with_capacity(64);
        put_varint(&mut buf, fields.len() as u64);
        for f in fields {
            put_bytes(&mut buf, f);
        }
        let entries_at = buf.len() as u32;
        Node { buf, entries_at, live: 0, deleted: 0 }
    }

    /// Bytes the node's buffer uses.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (the buffer's capacity).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Entries in the node, deleted ones included (Redis counts both
    /// against `stream-node-max-entries`).
    pub fn total(&self) -> u32 {
        self.live + self.deleted
    }

    /// Releases spare capacity once the node is full.
    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// The master fields, in order.
    fn master_fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0usize;
        let n = get_varint(&self.buf, &mut at) as usize;
        (0..n).map(move |_| get_bytes(&self.buf, &mut at))
    }

    /// Appends an entry (`id` greater than every id in the node, `first`
    /// the node's first id). O(size of the entry + master fields).
    pub fn push(&mut self, first: StreamId, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same =
            pairs.len() == self.master_fields().count() && self.master_fields().zip(pairs).all(|(m, (f, _))| m == *f);
        self.buf.push(if same { SAME_FIELDS } else { 0 });
        put_varint(&mut self.buf, id.ms - first.ms);
        put_varint(&mut self.buf, id.seq);
        if !same {
            put_varint(&mut self.buf, pairs.len() as u64);
        }
        for (f, v) in pairs {
            if !same {
                put_bytes(&mut self.buf, f);
            }
            put_bytes(&mut self.buf, v);
        }
        self.live += 1;
    }

    /// Reads the entry whose flags byte is at `at`; returns it and the
    /// offset of the next entry. O(size of the entry).
    fn entry_at(&self, first: StreamId, at: usize) -> (EntryRef<'_>, usize) {
        let buf = &self.buf[..];
        let flags = buf[at];
        let mut p = at + 1;
        let ms = first.ms.wrapping_add(get_varint(buf, &mut p));
        let seq = get_varint(buf, &mut p);
        let same = flags & SAME_FIELDS != 0;
        let nfields = if same {
            let mut m = 0;
            get_varint(buf, &mut m) as usize
        } else {
            get_varint(buf, &mut p) as usize
        };
        let body = p;
        for _ in 0..nfields {
            if !same {
                get_bytes(buf, &mut p);
            }
            get_bytes(buf, &mut p);
        }
        let e = EntryRef {
            id: StreamId { ms, seq },
            at,
            deleted: flags & DELETED != 0,
            node: self,
            body,
            same_fields: same,
            nfields,
        };
        (e, p)
    }

    /// Every entry, deleted ones included, first to last, each read once.
    /// O(node bytes).
    pub fn forward(&self, first: StreamId) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let mut at = self.entries_at as usize;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let (e, next) = self.entry_at(first, at);
            at = next;
            Some(e)
        })
    }

    /// Every entry, deleted ones included, in either direction (entries
    /// are located first, then read). O(node bytes).
    pub fn entries(&self, first: StreamId) -> impl DoubleEndedIterator<Item = EntryRef<'_>> + '_ {
        let mut offsets = smallvec::SmallVec::<[u32; 128]>::new();
        let mut at = self.entries_at as usize;
        while at < self.buf.len() {
            offsets.push(at as u32);
            at = self.entry_at(first, at).1;
        }
        offsets.into_iter().map(move |at| self.entry_at(first, at as usize).0)
    }

    /// Marks the entry at `at` deleted (it must be live). O(1).
    pub fn mark_deleted(&mut self, at: usize) {
        self.buf[at] |= DELETED;
        self.live -= 1;
        self.deleted += 1;
    }
}

/// Owned field-value pairs, for building entries from arguments.
pub type Pairs = Vec<(Bytes, Bytes)>;
