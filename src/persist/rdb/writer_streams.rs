//! Writing streams as Redis 7.0 does: type 19 (`STREAM_LISTPACKS_2`).
//!
//! A node is a 16-byte big-endian master id (the node's first entry's)
//! stored as a string, then one listpack:
//!
//! ```text
//! master entry:  count  deleted(0)  nfields  field_1 .. field_n  0
//! entry:         flags  ms-delta  seq-delta  [nfields  field_1 value_1 ..]  lp-count
//!                (with SAMEFIELDS in flags:  values only, no nfields)
//! ```
//!
//! `flags` is SAMEFIELDS (2) when the entry's fields are the master's;
//! the deltas are the entry id minus the master id, part by part (as
//! signed 64-bit integers, wrapping); `lp-count` is the number of elements
//! of the entry before it. Nodes are cut where Redis's XADD cuts them with
//! the default `stream-node-max-entries` (100) and `stream-node-max-bytes`
//! (4096): an entry opens a new node when the open one holds 100 entries
//! or when its listpack's size plus the entry's fields and values reaches
//! 4096 bytes. So a stream built by XADD alone is stored byte for byte as
//! Redis stores it; deleted entries are left out (Redis keeps them flagged
//! until their node empties).
//!
//! After the nodes: length, last id, first id, largest deleted id, entries
//! added, then each group: name, last id, entries read (-1 unknown, as a
//! 64-bit length), pending entries (16-byte id, delivery time as 8 bytes
//! little-endian, delivery count), consumers (name, seen time, pending ids).

use std::io::Write;

use super::super::listpack::{entry_size, int_entry_size, Encoder, HEADER};
use super::super::stream::{RdbStream, RdbStreamGroup, RdbStreamId, RdbStreamMeta, FLAG_SAME_FIELDS};
use super::{op, RdbError, RdbWriter, SCRATCH_KEEP};

/// Redis's default `stream-node-max-entries`.
const NODE_MAX_ENTRIES: usize = 100;
/// Redis's default `stream-node-max-bytes`.
const NODE_MAX_BYTES: usize = 4096;

/// The error of a writer given entries that changed between its two walks
/// or do not ascend.
fn bad_entries(what: &str) -> RdbError {
    RdbError::Io(std::io::Error::other(format!("stream entries {what}")))
}

/// Where the entries of a stream go, node by node, decided as Redis's
/// `streamAppendItem` decides for entries appended with XADD (see the
/// module comment). Deterministic: both walks of the writer cut alike.
#[derive(Default)]
struct Chunker<'a> {
    /// Bytes of the open node's listpack (0: no node open).
    bytes: usize,
    /// Entries in the open node.
    entries: usize,
    /// The open node's master id and fields.
    master_id: RdbStreamId,
    master: Vec<&'a [u8]>,
}

/// How one entry is stored.
struct Placement {
    /// It opens a new node (and is its master).
    new_node: bool,
    /// Its fields are the master's (SAMEFIELDS).
    same: bool,
}

impl<'a> Chunker<'a> {
    fn place(&mut self, id: RdbStreamId, pairs: &[(&'a [u8], &'a [u8])]) -> Placement {
        let raw: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        let new_node = self.bytes == 0 || self.bytes + raw >= NODE_MAX_BYTES || self.entries >= NODE_MAX_ENTRIES;
        if new_node {
            self.master_id = id;
            self.master.clear();
            self.master.extend(pairs.iter().map(|(f, _)| *f));
            // Header, terminator, and the master entry: count (at most 100,
            // one byte whatever it reaches), deleted, nfields, fields, 0.
            self.bytes = HEADER + 1 + 3 * int_entry_size(0) + int_entry_size(pairs.len() as i64);
            self.bytes += self.master.iter().map(|f| entry_size(f)).sum::<usize>();
            self.entries = 0;
        }
        let same = pairs.len() == self.master.len() && pairs.iter().zip(&self.master).all(|((f, _), m)| f == m);
        let (ms, seq) = deltas(id, self.master_id);
        let n = pairs.len() as i64;
        let mut size = int_entry_size(flags(same)) + int_entry_size(ms) + int_entry_size(seq);
        if !same {
            size += int_entry_size(n) + pairs.iter().map(|(f, _)| entry_size(f)).sum::<usize>();
        }
        size += pairs.iter().map(|(_, v)| entry_size(v)).sum::<usize>();
        size += int_entry_size(lp_count(n, same));
        self.bytes += size;
        self.entries += 1;
        Placement { new_node, same }
    }
}

fn flags(same: bool) -> i64 {
    if same {
        FLAG_SAME_FIELDS
    } else {
        0
    }
}

/// The id deltas against the master id, as Redis stores them.
fn deltas(id: RdbStreamId, master: RdbStreamId) -> (i64, i64) {
    (id.0.wrapping_sub(master.0) as i64, id.1.wrapping_sub(master.1) as i64)
}

/// Elements of an entry of `n` pairs before its `lp-count`.
fn lp_count(n: i64, same: bool) -> i64 {
    if same {
        n + 3
    } else {
        2 * n + 4
    }
}

/// A stream id as 16 big-endian bytes.
fn raw_id(id: RdbStreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.0.to_be_bytes());
    b[8..].copy_from_slice(&id.1.to_be_bytes());
    b
}

impl<W: Write> RdbWriter<W> {
    /// Writes a stream key as Redis 7.0 does (type 19; layout and node
    /// cuts in the module comment of `writer_streams.rs`), entries and
    /// groups as [`RdbStream`] holds them (see
    /// [`write_stream_parts`](Self::write_stream_parts)). An empty stream is
    /// written too (Redis keeps empty streams). O(size of the stream).
    pub fn write_stream(&mut self, key: &[u8], s: &RdbStream, expire_at_ms: Option<u64>) -> Result<(), RdbError> {
        self.write_stream_parts(key, || s.entries.iter(), &s.meta, &s.groups, expire_at_ms)
    }

    /// Writes a stream key (type 19) from its parts, for a stream stored
    /// elsewhere: `entries` yields a fresh walk of the live entries, ids
    /// strictly ascending, each with its (field, value) pairs; it is called
    /// twice (to count the nodes, then to write them) and must yield the
    /// same entries both times. The length written is the number of
    /// entries. Each consumer's pending ids must be pending in its group,
    /// and each pending id owned by one consumer (Redis refuses the file
    /// otherwise); groups and consumers are written in the order given
    /// (Redis's: names ascending). Errors if the entries do not ascend or
    /// change between the walks. O(size of the stream); memory: one node.
    pub fn write_stream_parts<'a, F, I, P>(
        &mut self,
        key: &[u8],
        entries: F,
        meta: &RdbStreamMeta,
        groups: &[RdbStreamGroup],
        expire_at_ms: Option<u64>,
    ) -> Result<(), RdbError>
    where
        F: Fn() -> I,
        I: Iterator<Item = (RdbStreamId, P)>,
        P: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        // First walk: the entries of each node.
        let mut counts: Vec<usize> = Vec::new();
        let mut chunker = Chunker::default();
        let mut pairs: Vec<(&'a [u8], &'a [u8])> = Vec::new();
        let mut prev: Option<RdbStreamId> = None;
        for (id, p) in entries() {
            if prev.is_some_and(|q| id <= q) {
                return Err(bad_entries("do not ascend"));
            }
            prev = Some(id);
            pairs.clear();
            pairs.extend(p);
            if chunker.place(id, &pairs).new_node {
                counts.push(0);
            }
            if let Some(c) = counts.last_mut() {
                *c += 1;
            }
        }
        let length: usize = counts.iter().sum();

        self.key_header(op::TYPE_STREAM_LISTPACKS_2, key, expire_at_ms)?;
        self.len(counts.len() as u64)?;
        let mut lp = std::mem::take(&mut self.lp);
        let r = self.stream_nodes(&mut lp, entries(), &counts, &mut pairs);
        if lp.capacity() <= SCRATCH_KEEP {
            self.lp = lp;
        }
        r?;

        self.len(length as u64)?;
        for id in [meta.last_id, meta.first_id, meta.max_deleted_entry_id] {
            self.len(id.0)?;
            self.len(id.1)?;
        }
        self.len(meta.entries_added)?;
        self.len(groups.len() as u64)?;
        for g in groups {
            self.string(&g.name)?;
            self.len(g.last_id.0)?;
            self.len(g.last_id.1)?;
            // Redis's -1 ("unknown") as an unsigned 64-bit length.
            self.len(g.entries_read.unwrap_or(u64::MAX))?;
            self.len(g.pending.len() as u64)?;
            for p in &g.pending {
                self.raw(&raw_id(p.id))?;
                self.ms_time(p.delivery_time)?;
                self.len(p.delivery_count)?;
            }
            self.len(g.consumers.len() as u64)?;
            for c in &g.consumers {
                self.string(&c.name)?;
                self.ms_time(c.seen_time)?;
                self.len(c.pending.len() as u64)?;
                for id in &c.pending {
                    self.raw(&raw_id(*id))?;
                }
            }
        }
        Ok(())
    }

    /// A millisecond time as Redis stores it: 8 bytes, little-endian,
    /// signed (later times are clamped).
    fn ms_time(&mut self, ms: u64) -> Result<(), RdbError> {
        self.raw(&i64::try_from(ms).unwrap_or(i64::MAX).to_le_bytes())
    }

    /// The second walk of [`write_stream_parts`](Self::write_stream_parts):
    /// the nodes, `counts[k]` entries in node `k`, each built in `lp`.
    fn stream_nodes<'a, P>(
        &mut self,
        lp: &mut Encoder,
        entries: impl Iterator<Item = (RdbStreamId, P)>,
        counts: &[usize],
        pairs: &mut Vec<(&'a [u8], &'a [u8])>,
    ) -> Result<(), RdbError>
    where
        P: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        let mut chunker = Chunker::default();
        let mut node = 0usize;
        let mut in_node = 0usize;
        let mut master_id = (0, 0);
        for (id, p) in entries {
            pairs.clear();
            pairs.extend(p);
            let place = chunker.place(id, pairs);
            if place.new_node {
                if node > 0 {
                    self.stream_node(lp, master_id, counts.get(node - 1) == Some(&in_node))?;
                }
                let count = *counts.get(node).ok_or_else(|| bad_entries("changed while being written"))?;
                node += 1;
                in_node = 0;
                master_id = id;
                lp.clear();
                lp.push_int(count as i64);
                lp.push_int(0);
                lp.push_int(pairs.len() as i64);
                for (f, _) in pairs.iter() {
                    lp.push(f);
                }
                lp.push_int(0);
            }
            let (ms, seq) = deltas(id, master_id);
            let n = pairs.len() as i64;
            lp.push_int(flags(place.same));
            lp.push_int(ms);
            lp.push_int(seq);
            if !place.same {
                lp.push_int(n);
            }
            for (f, v) in pairs.iter() {
                if !place.same {
                    lp.push(f);
                }
                lp.push(v);
            }
            lp.push_int(lp_count(n, place.same));
            in_node += 1;
        }
        if node > 0 {
            self.stream_node(lp, master_id, counts.get(node - 1) == Some(&in_node))?;
        }
        if node != counts.len() {
            return Err(bad_entries("changed while being written"));
        }
        Ok(())
    }

    /// Writes the node built in `lp` under `master_id`; `counted`: it holds
    /// the entries its master entry says.
    fn stream_node(&mut self, lp: &mut Encoder, master_id: RdbStreamId, counted: bool) -> Result<(), RdbError> {
        if !counted {
            return Err(bad_entries("changed while being written"));
        }
        self.string(&raw_id(master_id))?;
        // A node holds at most one entry over 4096 bytes, itself under 1 GiB
        // in the server (and Redis); refuse rather than wrap past 4 GiB.
        let blob = lp.finish().ok_or_else(|| RdbError::Io(std::io::Error::other("stream node over 4 GiB")))?;
        self.string(blob)
    }
}
