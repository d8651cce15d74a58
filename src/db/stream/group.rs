//! Consumer groups (Redis's `streamCG`): the group's last delivered id and
//! `entries-read` counter, its pending entries list (PEL) of delivered but
//! unacknowledged ids, and its consumers with their own PELs.
//!
//! Each pending id is in the group's PEL (with its delivery time, count and
//! owner) and in its owner's PEL; the two are kept in step by the methods
//! here, so commands never edit one without the other.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::StreamId;

/// A pending entry: delivered to `consumer`, not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Last delivery, Unix milliseconds.
    pub delivery_time: u64,
    /// Times delivered.
    pub delivery_count: u64,
    /// The consumer owning it.
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Last time it was seen (read, claimed), Unix milliseconds.
    pub seen_time: u64,
    /// Ids pending for it.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerGroup {
    /// The last id delivered with `>`.
    pub last_id: StreamId,
    /// The group's logical read counter (`None`: unknown, Redis's -1).
    pub entries_read: Option<u64>,
    /// Pending entries of every consumer, by id.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl ConsumerGroup {
    /// A group starting after `last_id`.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> ConsumerGroup {
        ConsumerGroup { last_id, entries_read, ..Default::default() }
    }

    /// An estimate of the heap bytes held.
    pub fn heap_size(&self) -> usize {
        self.pel.values().map(|n| 64 + n.consumer.len() / 8).sum::<usize>()
            + self.consumers.iter().map(|(k, c)| 64 + k.len() + c.pel.len() * 24).sum::<usize>()
    }

    /// The consumer `name`, created (seen now) if missing; the bool is true
    /// when it was created. O(log consumers).
    pub fn consumer(&mut self, name: &Bytes, now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self.consumers.entry(name.clone()).or_insert_with(|| Consumer { seen_time: now, ..Default::default() });
        (c, created)
    }

    /// Makes `consumer` (which must exist) the owner of pending entry
    /// `id`, creating the entry (delivered once, at time 0) if it is not
    /// pending, as Redis's XCLAIM FORCE does; the caller sets its time and
    /// count. O(log n).
    pub fn assign(&mut self, id: StreamId, consumer: &Bytes) -> &mut Nack {
        let nack = self.pel.entry(id).or_insert_with(|| Nack {
            delivery_time: 0,
            delivery_count: 1,
            consumer: consumer.clone(),
        });
        if nack.consumer != *consumer {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = consumer.clone();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        nack
    }

    /// Records a delivery of `id` to `consumer` at `now` by a `>` read:
    /// pending for `consumer`, delivered once (an entry already pending
    /// for another consumer moves, its count starting again, as in
    /// Redis). O(log n).
    pub fn deliver(&mut self, id: StreamId, consumer: &Bytes, now: u64) {
        let nack = self.assign(id, consumer);
        nack.delivery_time = now;
        nack.delivery_count = 1;
    }

    /// Acknowledges `id`: true if it was pending. O(log n).
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(n) = self.pel.remove(&id) else { return false };
        if let Some(c) = self.consumers.get_mut(&n.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Removes consumer `name`; returns how many entries it had pending
    /// (they leave the group's PEL too), `None` if it did not exist.
    pub fn remove_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}
