//! The keyspace: all databases, split into lock shards.
//!
//! A key's shard is chosen from the key bytes alone, the same in every
//! database, so a command touching one key locks one mutex, `MOVE` between
//! databases locks one, and `SWAPDB`/`EXEC` lock every shard in index order
//! (which is what makes them atomic with respect to other clients). Locks are
//! `parking_lot` mutexes held only while a command executes, never across an
//! `.await`.
//!
//! One mutex guards a *group* of consecutive shards. With several worker
//! threads every shard is its own group ([`SHARDS`] locks, so commands on
//! different keys rarely wait for each other); with one worker there is
//! one group, since nothing runs beside it to contend and a command that
//! needs the whole keyspace (EXEC, EVAL, FCALL) then takes one lock
//! instead of 64 (64 lock/unlock pairs were 17% of EVALSHA's CPU). The
//! shards themselves (what SCAN cursors and background sweeps walk) are
//! the same in both layouts.
//!
//! Handlers reach keys through a [`Locked`] view (`locked.rs`) built by the
//! dispatcher from the command table's key positions. Every lookup applies
//! lazy expiry.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use indexmap::{IndexMap, IndexSet};
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use smallvec::SmallVec;

use super::compact::CompactBytes;
pub use super::locked::{Change, Changes, KeyChange, Locked};
use super::value::{Entry, Hasher, Value};

/// Number of lock shards (a power of two, well above the core count).
pub const SHARDS: usize = 64;

/// Length up to which [`Locked::ready`] is kept free of repeats on insert.
pub const READY_SCAN_LIMIT: usize = 16;

/// One database's part of one shard.
pub struct DbShard {
    /// Keys in insertion order; removal swaps the last key into the hole,
    /// which is what lets SCAN walk positions downwards without missing keys.
    /// Entries sit in the table's slots (one allocation per key fewer than
    /// boxing them: 16 bytes less per key, and a lookup reads the entry
    /// beside its key). Change it only through the methods below, which
    /// keep `used_memory` counting occupied slots (see [`DbShard::settle`]).
    pub map: IndexMap<CompactBytes, Entry, Hasher>,
    /// Keys that have an expiry, for sampling by the active expire cycle.
    pub expires: IndexSet<CompactBytes, Hasher>,
    /// Bytes of empty entry slots last taken out of `used_memory`.
    uncounted: usize,
    /// Slots of the entry array. `IndexMap::capacity` is the smaller of
    /// this and the hash index's capacity, which removals that leave a
    /// tombstone lower; the array grows only to that figure (or by
    /// `reserve_exact`, to it too), so the largest value seen since the
    /// last shrink is the array's size.
    entries_cap: usize,
    /// By how many 1024ths of its length this part's full entry array
    /// grows (see [`ENTRY_GROWTH_FROM`] and [`DbShard::new`]).
    growth_1024ths: usize,
}

impl DbShard {
    /// An empty part of shard number `shard`. Its entry array grows by a
    /// step of its own, one of 64 between 0.19 and 0.31 of its length
    /// (0.25 on average), a different one in each shard: keys spread evenly
    /// over the shards, so with one step for all every part's array would
    /// fill, and be copied, at the same moment (a load adding keys to 5M
    /// stalled for milliseconds: p99 2.6-3.4 ms against 0.5-0.6 for the
    /// next load); with differing steps their growths fall apart over the
    /// whole interval.
    pub fn new(shard: usize) -> DbShard {
        DbShard::growing_by(192 + 2 * (shard.wrapping_mul(37) % 64))
    }

    fn growing_by(growth_1024ths: usize) -> DbShard {
        DbShard { map: IndexMap::default(), expires: IndexSet::default(), uncounted: 0, entries_cap: 0, growth_1024ths }
    }

    /// Takes the part's keys away, leaving it empty with its growth step
    /// (FLUSHDB, FLUSHALL, DEBUG RELOAD, a replica's full load). O(1).
    pub fn take(&mut self) -> DbShard {
        std::mem::replace(self, DbShard::growing_by(self.growth_1024ths))
    }
}

/// Bytes of one slot of a part's entry array: hash, key and entry.
pub const SLOT_BYTES: usize = std::mem::size_of::<(usize, CompactBytes, Entry)>();

/// From this many keys a database part grows its entry array by about a
/// quarter at a time (its own step, see [`DbShard::new`]) instead of
/// matching the hash index, which doubles: just past a doubling the array
/// would otherwise hold up to twice the slots it needs. The index itself
/// (9 bytes a slot) still doubles.
const ENTRY_GROWTH_FROM: usize = 1024;

impl DbShard {
    /// Removes a key and its expiry record. O(1) amortized; the table
    /// shrinks when three quarters of it are empty.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.map.swap_remove(key)?;
        if e.expire_at != 0 {
            self.expires.swap_remove(key);
        }
        self.maybe_shrink();
        Some(e)
    }

    /// Stores `entry` under `key`, reusing the existing slot when the key
    /// is present (no allocation for an overwrite). A full table grows its
    /// entries by about a quarter (see [`ENTRY_GROWTH_FROM`]). O(1) amortized.
    pub fn put(&mut self, key: &[u8], entry: Entry) {
        self.replace(key, entry);
    }

    /// As [`DbShard::put`], giving back the TTL the replaced entry had
    /// (`None` if the key was new). One hash lookup. O(1) amortised.
    pub fn replace(&mut self, key: &[u8], entry: Entry) -> Option<u64> {
        if let Some(slot) = self.map.get_mut(key) {
            let old_ttl = slot.expire_at;
            *slot = entry;
            return Some(old_ttl);
        }
        let len = self.map.len();
        if len >= ENTRY_GROWTH_FROM && len == self.map.capacity() {
            self.map.reserve_exact(len * self.growth_1024ths / 1024);
        }
        self.map.insert(CompactBytes::from_slice(key), entry);
        self.settle();
        None
    }

    /// Gives memory back after mass deletion (eviction, expiry, DEL), and
    /// settles the count (see [`DbShard::settle`]).
    pub fn maybe_shrink(&mut self) {
        let cap = self.map.capacity();
        if cap > 1024 && self.map.len() < cap / 4 {
            self.map.shrink_to(self.map.len() * 2);
            self.entries_cap = self.map.capacity();
        }
        let cap = self.expires.capacity();
        if cap > 1024 && self.expires.len() < cap / 4 {
            self.expires.shrink_to(self.expires.len() * 2);
        }
        self.settle();
    }

    /// Keeps the empty slots of the entry array out of `used_memory`, as
    /// Redis's count holds a dictEntry only per key: deleting or evicting a
    /// key then lowers `used_memory` by its slot, which is what lets
    /// eviction reach the limit by removing keys (the slot's bytes stay
    /// allocated for the next key). The hash index (9 bytes a slot) is
    /// counted whole, as Redis counts its bucket arrays. Reconciles from
    /// the table's state, so a missed call is corrected by the next. O(1).
    fn settle(&mut self) {
        self.entries_cap = self.entries_cap.max(self.map.capacity());
        let empty = (self.entries_cap - self.map.len()) * SLOT_BYTES;
        if empty != self.uncounted {
            crate::memory::adjust(self.uncounted as isize - empty as isize);
            self.uncounted = empty;
        }
    }
}

/// Reads `key`'s slot in `part` (its entry's expiry, so the entry's line
/// is loaded too) and, for a string kept out of line, its first byte;
/// returns something derived from them so the reads stay.
fn touch(part: &DbShard, key: &[u8]) -> u64 {
    part.map.get(key).map_or(0, |e| match &e.value {
        Value::Str(s) => e.expire_at ^ u64::from(s.first().copied().unwrap_or(0)),
        _ => e.expire_at,
    })
}

impl Drop for DbShard {
    /// The array's empty slots were taken out of the count; the allocator
    /// now takes out the whole array.
    fn drop(&mut self) {
        crate::memory::adjust(self.uncounted as isize);
    }
}

/// A shard: the same slice of the key hash space in every database.
pub struct Shard {
    /// One part per database.
    pub dbs: Vec<DbShard>,
}

/// The shards one mutex guards (consecutive shard numbers).
pub struct Group {
    pub(super) shards: Vec<Shard>,
}

/// Counters the keyspace keeps for INFO.
#[derive(Default)]
pub struct KeyspaceStats {
    /// Reads that found their key (`keyspace_hits`; per-thread slots, as
    /// every read bumps one of these two).
    pub hits: crate::counter::Counter,
    /// Reads that did not (`keyspace_misses`).
    pub misses: crate::counter::Counter,
    /// Keys removed because their TTL passed (`expired_keys`).
    pub expired: AtomicU64,
    /// Keys removed by eviction (`evicted_keys`).
    pub evicted: AtomicU64,
    /// Writes since the last save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
}

/// All databases of the server.
pub struct Keyspace {
    pub(super) groups: Box<[Mutex<Group>]>,
    /// log2 of the shards per group.
    group_shift: u32,
    ndb: usize,
    hasher: Hasher,
    /// Counters for INFO.
    pub stats: KeyspaceStats,
    expired_sink: std::sync::OnceLock<ExpiredSink>,
}

/// Receives (database, key) of each key removed by expiry.
pub type ExpiredSink = Box<dyn Fn(usize, &[u8]) + Send + Sync>;

impl Keyspace {
    /// An empty keyspace with `databases` databases, one lock per shard.
    pub fn new(databases: usize) -> Keyspace {
        Keyspace::with_locks(databases, SHARDS)
    }

    /// An empty keyspace whose [`SHARDS`] shards are guarded by `locks`
    /// mutexes (rounded down to a power of two, 1 to [`SHARDS`]): one
    /// suits a single worker thread, [`SHARDS`] several (see the module
    /// notes).
    pub fn with_locks(databases: usize, locks: usize) -> Keyspace {
        let locks = locks.clamp(1, SHARDS);
        let locks = 1usize << locks.ilog2();
        let per = SHARDS / locks;
        let shard = |i| Shard { dbs: (0..databases).map(|_| DbShard::new(i)).collect() };
        let groups =
            (0..locks).map(|g| Mutex::new(Group { shards: (0..per).map(|i| shard(g * per + i)).collect() })).collect();
        Keyspace {
            groups,
            group_shift: per.ilog2(),
            ndb: databases,
            hasher: Hasher::default(),
            stats: KeyspaceStats::default(),
            expired_sink: std::sync::OnceLock::new(),
        }
    }

    /// Number of databases (`databases` setting).
    pub fn databases(&self) -> usize {
        self.ndb
    }

    /// The shard a key lives in.
    pub fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) >> 58) as usize & (SHARDS - 1)
    }

    /// Number of mutexes guarding the shards (1 to [`SHARDS`]).
    pub fn locks(&self) -> usize {
        self.groups.len()
    }

    /// Shard `i`'s group and its place in that group.
    pub(super) fn group_of(&self, i: usize) -> (usize, usize) {
        (i >> self.group_shift, i & ((1 << self.group_shift) - 1))
    }

    /// Locks the group of `key`'s shard: [`Keyspace::lock_keys`] for the
    /// one key most commands name, taking the key itself rather than an
    /// iterator (moving an iterator into the call cost store-forwarding
    /// stalls, about 5% of a dispatched GET). O(key length) to hash.
    pub fn lock_key(&self, db: usize, key: &[u8]) -> Locked<'_> {
        let i = if self.groups.len() == 1 { 0 } else { self.group_of(self.shard_of(key)).0 };
        // Moving `guards` in costs a store-forwarding stall (about 0.9% of a
        // pipelined-GET server). Pushing the guard into the built `Locked`
        // instead was tried twice: the compiler then copies the whole
        // `Locked` to the return slot, a 184-byte `memcpy` (1.6%).
        let mut guards = SmallVec::new();
        guards.push(self.groups[i].lock());
        self.locked(db, SmallVec::from_buf_and_len([i as u8, 0, 0, 0], 1), guards, false)
    }

    /// Locks the groups of the shards of `keys` (deduplicated, in index
    /// order: no deadlock).
    pub fn lock_keys<'a, I: IntoIterator<Item = &'a [u8]>>(&self, db: usize, keys: I) -> Locked<'_> {
        let mut idx: SmallVec<[u8; 4]> = SmallVec::new();
        let mut guards = SmallVec::new();
        let mut keys = keys.into_iter();
        if self.groups.len() == 1 {
            // One mutex for every shard (one worker): no key to hash.
            if keys.next().is_some() {
                idx.push(0);
                guards.push(self.groups[0].lock());
            }
        } else {
            idx.extend(keys.map(|k| self.group_of(self.shard_of(k)).0 as u8));
            // One key needs no ordering: the sort is a call.
            if idx.len() > 1 {
                idx.sort_unstable();
                idx.dedup();
            }
            guards.extend(idx.iter().map(|&i| self.groups[i as usize].lock()));
        }
        self.locked(db, idx, guards, false)
    }

    /// Locks every shard: the caller sees and changes the keyspace atomically.
    pub fn lock_all(&self) -> Locked<'_> {
        let mut guards = SmallVec::with_capacity(self.groups.len());
        guards.extend(self.groups.iter().map(|m| m.lock()));
        // All-mode finds a key's guard by its shard number: no index.
        self.locked(0, SmallVec::new(), guards, true)
    }

    /// Locks no shard (for commands that touch no key).
    pub fn lock_none(&self) -> Locked<'_> {
        self.locked(0, SmallVec::new(), SmallVec::new(), false)
    }

    /// A [`Locked`] over the guards just taken, nothing changed yet.
    #[inline]
    fn locked<'s>(
        &'s self,
        db: usize,
        idx: SmallVec<[u8; 4]>,
        guards: SmallVec<[MutexGuard<'s, Group>; 4]>,
        all: bool,
    ) -> Locked<'s> {
        Locked { ks: self, db, idx, guards, all, ready: Vec::new(), wake_blocked: true, changes: Changes::default() }
    }

    /// Looks `keys` up in database `db` back to back, changing nothing (no
    /// expiry, no access time), so that their table slots are in the CPU's
    /// cache when the commands that name them run. Why: a lookup in a large
    /// table is a few dependent cache misses; taken one request at a time
    /// they add up, while lookups issued together overlap. For a pipelined
    /// batch (see `server::connection`). Skips a contended lock. O(keys).
    pub fn warm(&self, db: usize, keys: &[&[u8]]) {
        if db >= self.ndb {
            return;
        }
        let mut touched = 0u64;
        if self.groups.len() == 1 {
            let Some(g) = self.groups[0].try_lock() else { return };
            for k in keys {
                touched ^= touch(&g.shards[self.shard_of(k)].dbs[db], k);
            }
        } else {
            for k in keys {
                let (g, at) = self.group_of(self.shard_of(k));
                if let Some(g) = self.groups[g].try_lock() {
                    touched ^= touch(&g.shards[at].dbs[db], k);
                }
            }
        }
        std::hint::black_box(touched);
    }

    /// Locks one shard by index (for background sweeps such as active
    /// expiry), with the rest of its group.
    pub fn lock_shard(&self, i: usize) -> MappedMutexGuard<'_, Shard> {
        let (g, at) = self.group_of(i);
        MutexGuard::map(self.groups[g].lock(), |g| &mut g.shards[at])
    }

    /// Keys and keys-with-expiry per database, for INFO keyspace. O(shards × dbs).
    pub fn db_sizes(&self) -> Vec<(usize, usize)> {
        let mut out = vec![(0, 0); self.ndb];
        for g in self.groups.iter() {
            let g = g.lock();
            for (i, d) in g.shards.iter().flat_map(|s| s.dbs.iter().enumerate()) {
                out[i].0 += d.map.len();
                out[i].1 += d.expires.len();
            }
        }
        out
    }

    pub(crate) fn count_expired(&self) {
        self.stats.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// Installs the function told about every key removed because its TTL
    /// passed (the AOF logs a DEL, as Redis propagates expirations). It is
    /// called with the key's shard still locked, so the DEL takes its place
    /// among the key's other writes.
    pub fn set_expired_sink(&self, sink: ExpiredSink) {
        let _ = self.expired_sink.set(sink);
    }

    /// Reports a key removed because its TTL passed.
    pub fn notify_expired(&self, db: usize, key: &[u8]) {
        if let Some(sink) = self.expired_sink.get() {
            sink(db, key);
        }
    }
}

#[cfg(test)]
#[path = "keyspace_tests.rs"]
mod tests;
