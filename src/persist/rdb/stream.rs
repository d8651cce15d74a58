//! The stream value as RDB files hold it ([`RdbStream`]): live entries in
//! id order, the stream's bookkeeping ids and counters, and its consumer
//! groups with their pending entries and consumers.
//!
//! On disk (types 15, 19 and 21) a stream is its nodes — each a 16-byte
//! big-endian master id and a listpack of entries delta-encoded against it
//! (layout in `writer_streams.rs`) — then its length, last id, (type 19
//! and up) first id, largest deleted id and entries added, then its groups:
//! name, last delivered id, (19 and up) entries read, the group's pending
//! entries (raw id, delivery time, delivery count) and its consumers (name,
//! seen time, (21) active time, their pending ids).

use bytes::Bytes;

use super::elements::Pairs;
use super::Elements;

/// A stream entry id: (milliseconds, sequence number), ordered as the pair.
pub type RdbStreamId = (u64, u64);

/// The largest id, `18446744073709551615-18446744073709551615`.
pub const MAX_STREAM_ID: RdbStreamId = (u64::MAX, u64::MAX);

/// Entry flag in a node: the entry was deleted (it stays in its node as a
/// tombstone until the node empties).
pub(super) const FLAG_DELETED: i64 = 1;
/// Entry flag in a node: the entry has its node's master fields (only its
/// values are stored).
pub(super) const FLAG_SAME_FIELDS: i64 = 2;

/// A stream's entries, packed: all fields and values in one buffer, so
/// reading a stream allocates nothing per entry. Equality compares ids,
/// fields and values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdbStreamEntries {
    ids: Vec<RdbStreamId>,
    /// Per entry: the index in `items` one past its last value.
    ends: Vec<usize>,
    /// Every entry's fields and values alternately, back to back.
    items: Elements,
}

impl RdbStreamEntries {
    /// No entries (no allocation).
    pub fn new() -> RdbStreamEntries {
        RdbStreamEntries::default()
    }

    /// Number of entries. O(1).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there is no entry. O(1).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends entry `id` with `pairs` (field, value). Ids are expected to
    /// ascend ([`super::RdbWriter::write_stream`] refuses them otherwise).
    /// O(size of the entry).
    pub fn push<'a>(&mut self, id: RdbStreamId, pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
        for (f, v) in pairs {
            self.items.push(f);
            self.items.push(v);
        }
        self.end_entry(id);
    }

    /// The buffer a reader appends an entry's fields and values to, before
    /// closing the entry with [`end_entry`](Self::end_entry).
    pub(super) fn items_mut(&mut self) -> &mut Elements {
        &mut self.items
    }

    /// Closes the entry whose fields and values were just appended. O(1).
    pub(super) fn end_entry(&mut self, id: RdbStreamId) {
        self.ids.push(id);
        self.ends.push(self.items.len());
    }

    /// The first id, if any. O(1).
    pub fn first_id(&self) -> Option<RdbStreamId> {
        self.ids.first().copied()
    }

    /// The last id, if any. O(1).
    pub fn last_id(&self) -> Option<RdbStreamId> {
        self.ids.last().copied()
    }

    /// Entry `i`: its id and its (field, value) pairs. O(1).
    pub fn get(&self, i: usize) -> Option<(RdbStreamId, Pairs<'_>)> {
        let id = *self.ids.get(i)?;
        let start = if i == 0 { 0 } else { *self.ends.get(i - 1)? };
        let end = *self.ends.get(i)?;
        Some((id, self.items.range(start, end).pairs()))
    }

    /// The entries in order: id and (field, value) pairs. Each step O(1).
    pub fn iter(&self) -> impl Iterator<Item = (RdbStreamId, Pairs<'_>)> + Clone + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Removes every entry, keeping the buffers. O(1).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.ends.clear();
        self.items.clear();
    }

    /// Heap bytes held by the buffers (capacity). O(1).
    pub fn capacity_bytes(&self) -> usize {
        self.items.capacity_bytes() + self.ids.capacity() * 16 + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// Reserves room for `n` more entries (a hint). O(1).
    pub(super) fn reserve(&mut self, n: usize) {
        self.ids.reserve(n);
        self.ends.reserve(n);
    }
}

/// A stream's bookkeeping besides its entries (Redis 7.0's `stream`
/// fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdbStreamMeta {
    /// The largest id ever added or set by XSETID (XADD `*` goes above it).
    pub last_id: RdbStreamId,
    /// The first live entry's id as Redis recorded it (0-0 for a stream
    /// emptied by XDEL; the largest id for an empty stream read from a
    /// type-15 file, as Redis derives it).
    pub first_id: RdbStreamId,
    /// The largest id ever deleted (0-0: none).
    pub max_deleted_entry_id: RdbStreamId,
    /// Entries ever added (type 15 files: the length, as Redis derives it).
    pub entries_added: u64,
}

/// A pending entry of a group: delivered, not acknowledged. Its owner is
/// the consumer whose [`RdbConsumer::pending`] lists its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdbPending {
    /// The entry's id (it may since have been deleted).
    pub id: RdbStreamId,
    /// Last delivery, Unix milliseconds (a negative time on disk reads as 0).
    pub delivery_time: u64,
    /// Times delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbConsumer {
    /// The consumer's name (binary safe).
    pub name: Bytes,
    /// Last time it was seen, Unix milliseconds (a negative time on disk
    /// reads as 0). Redis 7.2's separate active time is read and dropped.
    pub seen_time: u64,
    /// The ids it owns, each in its group's pending entries.
    pub pending: Vec<RdbStreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbStreamGroup {
    /// The group's name (binary safe).
    pub name: Bytes,
    /// The last id delivered to it with `>`.
    pub last_id: RdbStreamId,
    /// Its logical read counter (`None`: unknown, Redis's -1; type 15
    /// files: estimated from the stream as Redis does on load).
    pub entries_read: Option<u64>,
    /// Its pending entries (as read: the file's order, ids ascending).
    pub pending: Vec<RdbPending>,
    /// Its consumers (as read: the file's order, names ascending).
    pub consumers: Vec<RdbConsumer>,
}

/// A stream value: live entries (ids ascending), bookkeeping and groups.
///
/// As read, it is checked the way Redis's deep sanitization checks it:
/// entries in order inside and across nodes, counts matching, unique group
/// and consumer names, and each pending id owned by exactly one consumer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdbStream {
    /// The live entries, ids ascending (deleted ones are not kept; their
    /// trace is [`RdbStreamMeta::max_deleted_entry_id`]).
    pub entries: RdbStreamEntries,
    /// Last id, first id, largest deleted id, entries added.
    pub meta: RdbStreamMeta,
    /// Consumer groups.
    pub groups: Vec<RdbStreamGroup>,
}

impl RdbStream {
    /// An empty stream (no allocation).
    pub fn new() -> RdbStream {
        RdbStream::default()
    }

    /// Number of live entries (the stream's length). O(1).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no live entry (a stream key may exist empty). O(1).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Empties the stream, keeping the entries' buffers. O(groups).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.meta = RdbStreamMeta::default();
        self.groups.clear();
    }

    /// The `entries-read` Redis gives a group whose last delivered id is
    /// `id` when the file does not say (type 15), from the stream's
    /// bookkeeping alone (Redis's `streamEstimateDistanceFromFirstEverEntry`):
    /// exact at the ends of the stream and before its first entry when
    /// nothing was deleted past it, unknown (`None`) otherwise. O(1).
    pub fn estimate_entries_read(&self, id: RdbStreamId) -> Option<u64> {
        let m = &self.meta;
        let length = self.len() as u64;
        if m.entries_added == 0 {
            return Some(0);
        }
        if length == 0 && id <= m.last_id {
            return Some(m.entries_added);
        }
        if id == m.last_id {
            return Some(m.entries_added);
        }
        if id > m.last_id {
            return None;
        }
        let no_gap = m.max_deleted_entry_id == (0, 0) || m.max_deleted_entry_id < m.first_id;
        if no_gap && id < m.first_id {
            return Some(m.entries_added.saturating_sub(length));
        }
        if no_gap && id == m.first_id {
            return Some(m.entries_added.saturating_sub(length).saturating_add(1));
        }
        None
    }
}
