//! The stream type's storage (Redis's `t_stream.c` data model): entries
//! with 128-bit ids in packed nodes, plus consumer groups.
//!
//! * Entries live in [`Node`]s of at most `stream-node-max-entries` entries
//!   and `stream-node-max-bytes` bytes, each compressing the entries that
//!   repeat its first entry's fields (see [`node`]). Nodes are kept in a
//!   B-tree by their first id, as Redis keeps listpacks in a radix tree:
//!   finding an id is O(log n) plus one node scan, a range read is
//!   O(log n + m), XADD appends to the last node in amortised O(1).
//! * Deletion marks an entry in place; a node goes when its last live
//!   entry does. Trimming drops whole nodes from the front, and with the
//!   exact strategy also marks entries inside the first remaining node —
//!   so approximate (`~`) trimming keeps exactly as many entries as
//!   Redis's does.
//! * Bookkeeping as Redis 7.0: `last_id`, `first_id`, `entries_added`,
//!   `max_deleted_entry_id`, used for consumer groups' `entries-read` and
//!   `lag` (see [`StreamValue::estimate_entries_read`]).
//!
//! Consumer groups are in [`group`].

pub mod group;
pub mod node;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

pub use group::{Consumer, ConsumerGroup, Nack};
use node::{EntryRef, Node};

/// `stream-node-max-bytes` (Redis's default 4096; 0 = no limit).
static NODE_MAX_BYTES: AtomicUsize = AtomicUsize::new(4096);
/// `stream-node-max-entries` (Redis's default 100; 0 = no limit).
static NODE_MAX_ENTRIES: AtomicUsize = AtomicUsize::new(100);

/// Applies `stream-node-max-bytes` and `stream-node-max-entries` to entries
/// added from now on.
pub fn set_node_limits(max_bytes: u64, max_entries: u64) {
    let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    NODE_MAX_BYTES.store(clamp(max_bytes), Ordering::Relaxed);
    NODE_MAX_ENTRIES.store(clamp(max_entries), Ordering::Relaxed);
}

/// The current `stream-node-max-entries` (approximate trimming's work limit
/// is 100 times it, as in Redis).
pub fn node_max_entries() -> usize {
    NODE_MAX_ENTRIES.load(Ordering::Relaxed)
}

/// Largest total size of one entry's fields and values (Redis's
/// `STREAM_LISTPACK_MAX_SIZE`, 1 GiB).
pub const MAX_ENTRY_BYTES: usize = 1 << 30;

/// A stream entry id: milliseconds and sequence number, ordered as the
/// pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest id, `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest id.
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// `ms-seq`.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// True for `0-0`.
    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next id, `None` past the largest.
    pub fn next(&self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_add(1).map(|ms| StreamId::new(ms, 0)),
        }
    }

    /// The previous id, `None` before the smallest.
    pub fn prev(&self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
        }
    }

    /// The id as text, `ms-seq`.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = itoa::Buffer::new();
        let mut s = String::with_capacity(24);
        s.push_str(b.format(self.ms));
        s.push('-');
        s.push_str(b.format(self.seq));
        Bytes::from(s)
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// How to trim a stream (XADD's and XTRIM's MAXLEN / MINID options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with smaller ids.
    MinId(StreamId),
}

/// A stream: entries in id order, and its consumer groups.
#[derive(Debug, Clone, Default)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    pub length: u64,
    /// The largest id ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's id (0-0 when empty).
    pub first_id: StreamId,
    /// The largest id ever deleted.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added (XADD count, or set by XSETID).
    pub entries_added: u64,
    /// Consumer groups by name (an empty map allocates nothing).
    pub groups: BTreeMap<Bytes, ConsumerGroup>,
}

/// A read entry: its id and field-value pairs.
pub type Entry = (StreamId, Vec<(Bytes, Bytes)>);

impl StreamValue {
    /// Number of live entries. O(1).
    pub fn len(&self) -> u64 {
        self.length
    }

    /// True without live entries (a stream key may exist empty).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// An estimate of the heap bytes held. O(nodes + groups' entries).
    pub fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|n| n.heap_size() + 48).sum();
        let groups: usize = self.groups.iter().map(|(k, g)| k.len() + 64 + g.heap_size()).sum();
        std::mem::size_of::<Self>() + nodes + groups
    }

    /// The id XADD `*` gives at `now_ms`: the time, or the last id's next
    /// if the clock is behind it. `None` when the last id is the largest.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.next()
        }
    }

    /// Appends an entry whose id is greater than [`Self::last_id`] (the
    /// caller checked). Amortised O(size of the entry).
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let size: usize = pairs.iter().map(|(f, v)| f.len() + v.len() + 4).sum::<usize>() + 12;
        let max_bytes = NODE_MAX_BYTES.load(Ordering::Relaxed);
        let max_entries = NODE_MAX_ENTRIES.load(Ordering::Relaxed);
        let tail_full = match self.nodes.last_key_value() {
            None => true,
            Some((_, n)) => {
                (max_bytes != 0 && n.byte_len() + size >= max_bytes)
                    || (max_entries != 0 && n.total() as usize >= max_entries)
            }
        };
        if tail_full {
            if let Some(mut last) = self.nodes.last_entry() {
                last.get_mut().shrink();
            }
            self.nodes.insert(id, Node::new(pairs.iter().map(|(f, _)| *f)));
        }
        if let Some(mut last) = self.nodes.last_entry() {
            let first = *last.key();
            last.get_mut().push(first, id, pairs);
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Calls `f` on every live entry with `start <= id <= end`, ascending
    /// (or descending when `rev`), until it returns false. O(log n + m).
    pub fn scan(&self, start: StreamId, end: StreamId, rev: bool, mut f: impl FnMut(&EntryRef<'_>) -> bool) {
        if start > end {
            return;
        }
        // The node holding `start` begins at or before it.
        let from = self.nodes.range(..=start).next_back().map_or(start, |(k, _)| *k);
        let nodes = self.nodes.range(from..=end);
        let mut visit = |first: &StreamId, node: &Node| -> bool {
            let mut go = |e: EntryRef<'_>| -> Option<bool> {
                if e.deleted {
                    return None;
                }
                if e.id < start || e.id > end {
                    return None;
                }
                Some(f(&e))
            };
            if rev {
                for e in node.entries(*first).rev() {
                    if go(e) == Some(false) {
                        return false;
                    }
                }
            } else {
                for e in node.forward(*first) {
                    if e.id > end {
                        return false;
                    }
                    if go(e) == Some(false) {
                        return false;
                    }
                }
            }
            true
        };
        if rev {
            for (k, n) in nodes.rev() {
                if !visit(k, n) {
                    return;
                }
            }
        } else {
            for (k, n) in nodes {
                if !visit(k, n) {
                    return;
                }
            }
        }
    }

    /// Up to `count` (0: all) live entries in `start..=end`, copied out.
    /// O(log n + m).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        self.scan(start, end, rev, |e| {
            out.push((e.id, e.pairs().map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))).collect()));
            count == 0 || out.len() < count
        });
        out
    }

    /// The entry with id `id`, if live. O(log n + node).
    pub fn get(&self, id: StreamId) -> Option<Entry> {
        self.range(id, id, false, 1).pop()
    }

    /// Whether a live entry has id `id`. O(log n + node).
    pub fn contains(&self, id: StreamId) -> bool {
        let mut found = false;
        self.scan(id, id, false, |_| {
            found = true;
            false
        });
        found
    }

    /// The first (or last) live entry's id, `None` when empty. O(log n +
    /// node).
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        let mut found = None;
        self.scan(StreamId::MIN, StreamId::MAX, last, |e| {
            found = Some(e.id);
            false
        });
        found
    }

    /// Deletes the live entry `id` (XDEL): true if it was there. Updates
    /// `max_deleted_entry_id` and `first_id`. O(log n + node).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&first, node)) = self.nodes.range_mut(..=id).next_back() else { return false };
        let Some(at) = node.forward(first).find(|e| e.id == id && !e.deleted).map(|e| e.at) else { return false };
        node.mark_deleted(at);
        if node.live == 0 {
            self.nodes.remove(&first);
        }
        self.length -= 1;
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or_default();
        }
        true
    }

    /// Trims as `how` says; `approx` (`~`) removes whole nodes only;
    /// `limit` (0: none) bounds the entries removed. Returns how many
    /// entries went. O(removed nodes + one node).
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        while let Some(mut first_node) = self.nodes.first_entry() {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let first = *first_node.key();
            let live = first_node.get().live as u64;
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.length - live >= max,
                Trim::MinId(min) => first_node.get().entries(first).next_back().is_some_and(|e| e.id < min),
            };
            if whole {
                first_node.remove();
                self.length -= live;
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            let node = first_node.get_mut();
            let mut marks = Vec::new();
            let mut length = self.length;
            for e in node.forward(first) {
                let stop = match how {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    marks.push(e.at);
                    length -= 1;
                }
            }
            for at in &marks {
                node.mark_deleted(*at);
            }
            removed += marks.len() as u64;
            self.length = length;
            break;
        }
        if removed > 0 || self.length == 0 {
            self.first_id = if self.length == 0 { StreamId::MIN } else { self.edge_id(false).unwrap_or_default() };
        }
        removed
    }

    /// Whether a deleted entry may lie in `start..=end` (Redis's
    /// `streamRangeHasTombstones`: judged by the largest deleted id only).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() || self.first_id > self.max_deleted_entry_id {
            return false;
        }
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// The logical position (`entries-read`) of `id` in the stream's
    /// history, when it can be known without counting (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`); `None` when not.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - self.length),
                std::cmp::Ordering::Equal => return Some(self.entries_added - self.length + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// A group's lag (entries not yet delivered to it), `None` when it
    /// cannot be known (XINFO GROUPS answers nil). Negative when a group
    /// was created claiming more reads than the stream has entries, as in
    /// Redis.
    pub fn group_lag(&self, g: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let lag = |read: u64| self.entries_added as i64 - read as i64;
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id, StreamId::MAX) {
                return Some(lag(read));
            }
        }
        self.estimate_entries_read(g.last_id).map(lag)
    }

    /// Records that group `name` was just served entry `id` with `>`:
    /// advances its last id and `entries-read` as Redis 7.0 does.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tombstones = self.range_has_tombstones(id, StreamId::MAX);
        let estimate = self.estimate_entries_read(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(name) else { return };
        if id <= g.last_id {
            return;
        }
        match g.entries_read {
            Some(read) if !tombstones => g.entries_read = Some(read + 1),
            _ if added != 0 => g.entries_read = estimate,
            _ => {}
        }
        g.last_id = id;
    }

    /// Every node with its first id, in order (for persistence).
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, &Node)> + '_ {
        self.nodes.iter().map(|(k, n)| (*k, n))
    }
}
