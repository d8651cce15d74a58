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
//! Handlers reach keys through a [`Locked`] view built by the dispatcher from
//! the command table's key positions. Every lookup applies lazy expiry.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use smallvec::SmallVec;

use super::compact::CompactBytes;
use super::value::{Entry, Hasher, Typed, Value, WrongType};
use super::{lru_clock, now_ms};

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
    shards: Vec<Shard>,
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
    groups: Box<[Mutex<Group>]>,
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
    fn group_of(&self, i: usize) -> (usize, usize) {
        (i >> self.group_shift, i & ((1 << self.group_shift) - 1))
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
            idx.sort_unstable();
            idx.dedup();
            guards.extend(idx.iter().map(|&i| self.groups[i as usize].lock()));
        }
        Locked {
            ks: self,
            db,
            idx,
            guards,
            all: false,
            ready: Vec::new(),
            wake_blocked: true,
            changes: Changes::default(),
        }
    }

    /// Locks every shard: the caller sees and changes the keyspace atomically.
    pub fn lock_all(&self) -> Locked<'_> {
        let mut guards = SmallVec::with_capacity(self.groups.len());
        guards.extend(self.groups.iter().map(|m| m.lock()));
        Locked {
            ks: self,
            db: 0,
            // All-mode finds a key's guard by its shard number: no index.
            idx: SmallVec::new(),
            guards,
            all: true,
            ready: Vec::new(),
            wake_blocked: true,
            changes: Changes::default(),
        }
    }

    /// Locks no shard (for commands that touch no key).
    pub fn lock_none(&self) -> Locked<'_> {
        Locked {
            ks: self,
            db: 0,
            idx: SmallVec::new(),
            guards: SmallVec::new(),
            all: false,
            ready: Vec::new(),
            wake_blocked: true,
            changes: Changes::default(),
        }
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

/// Shards locked for one command (or one `EXEC`), and the keys in them.
///
/// Every accessor takes the current database from [`Locked::db`]; a key whose
/// shard was not locked is a bug in the command table's key positions.
pub struct Locked<'a> {
    ks: &'a Keyspace,
    /// The database the command runs against (the client's `SELECT`).
    pub db: usize,
    idx: SmallVec<[u8; 4]>,
    guards: SmallVec<[MutexGuard<'a, Group>; 4]>,
    all: bool,
    /// Keys that received elements or were created while locked: the
    /// clients blocked on them are served before the locks are released.
    /// May hold repeats once longer than [`READY_SCAN_LIMIT`].
    pub ready: Vec<(usize, Bytes)>,
    /// Whether any client is blocked, read while these shards are locked: a
    /// client blocks only under its keys' locks, so none can start waiting
    /// on these keys meanwhile and skipping [`Locked::signal_ready`] loses
    /// nothing.
    pub wake_blocked: bool,
    /// What the command changed (Redis's `server.dirty` and `signalModifiedKey`).
    pub changes: Changes,
}

/// Modifications made through a [`Locked`]: how many, and (when asked to
/// record them, because someone WATCHes or keyspace notifications are on)
/// which keys, in order, and whether each created or deleted its key; and
/// (for `keymiss` notifications, when asked) the keys reads did not find.
#[derive(Default)]
pub struct Changes {
    /// Number of modifications.
    pub count: u64,
    /// Record the keys too.
    pub record_keys: bool,
    /// The modifications, when recorded (a key may appear several times).
    pub keys: Vec<KeyChange>,
    /// Record the (database, key) of each read that missed.
    pub record_misses: bool,
    /// Those misses, in order.
    pub misses: Vec<(usize, Bytes)>,
}

/// One recorded modification of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// Its database.
    pub db: usize,
    /// The key.
    pub key: Bytes,
    /// What happened to it.
    pub how: Change,
}

/// What a modification did to its key (Redis's `dbAdd` / `dbDelete` /
/// in-place change), as keyspace notifications need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The key existed and was changed in place or overwritten.
    Modified,
    /// The key was missing and was added.
    Created,
    /// The key existed and was deleted.
    Removed,
}

impl Changes {
    fn note(&mut self, db: usize, key: &[u8]) {
        self.note_as(db, key, Change::Modified);
    }

    fn note_as(&mut self, db: usize, key: &[u8], how: Change) {
        self.count += 1;
        if self.record_keys {
            self.keys.push(KeyChange { db, key: Bytes::copy_from_slice(key), how });
        }
    }
}

/// Where [`Locked::lookup`] found a key: its shard's place (see
/// [`Locked::place`]) and the key's position in that shard's map.
#[derive(Clone, Copy)]
struct Found {
    pos: usize,
    at: usize,
    i: usize,
}

impl<'a> Locked<'a> {
    /// The keyspace these locks belong to.
    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    /// True when every shard is locked (whole-keyspace commands, EXEC).
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// Releases the locks held and takes every shard's, in place: for a
    /// command found, once its keys are locked, to need them all (a write
    /// to a key clients are parked on). Nothing is held in between, as
    /// shards lock in one order only. Keeps what was recorded.
    pub fn relock_all(&mut self) {
        self.guards.clear();
        self.idx.clear();
        self.guards.extend(self.ks.groups.iter().map(|m| m.lock()));
        self.all = true;
    }

    /// Where `key`'s shard is: the place of its group among the held
    /// guards, and its place in the group (one hash of the key).
    fn place(&self, key: &[u8]) -> (usize, usize) {
        let (g, at) = self.ks.group_of(self.ks.shard_of(key));
        let pos = if self.all {
            g
        } else {
            match self.idx.iter().position(|&x| x as usize == g) {
                Some(p) => p,
                None => panic!("command touched a key whose shard it did not lock"),
            }
        };
        (pos, at)
    }

    fn shard_mut(&mut self, key: &[u8]) -> &mut Shard {
        let (pos, at) = self.place(key);
        &mut self.guards[pos].shards[at]
    }

    /// The current database's part of the shard at `place` (see
    /// [`Self::place`]).
    fn part(&mut self, (pos, at): (usize, usize)) -> &mut DbShard {
        let db = self.db;
        &mut self.guards[pos].shards[at].dbs[db]
    }

    fn dbs_mut(&mut self, key: &[u8], db: usize) -> &mut DbShard {
        &mut self.shard_mut(key).dbs[db]
    }

    /// Looks a key up for a read: applies lazy expiry, refreshes its LRU
    /// clock and counts a keyspace hit or miss. O(1).
    pub fn read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let found = self.lookup(key, true);
        let stat = if found.is_some() { &self.ks.stats.hits } else { &self.ks.stats.misses };
        stat.add(1);
        if found.is_none() && self.changes.record_misses {
            self.changes.misses.push((self.db, Bytes::copy_from_slice(key)));
        }
        self.entry_at(found?)
    }

    /// The entry [`Self::lookup`] found (no second hash of the key). O(1).
    fn entry_at(&mut self, at: Found) -> Option<&mut Entry> {
        self.part((at.pos, at.at)).map.get_index_mut(at.i).map(|(_, b)| b)
    }

    /// Looks a key up for a write or metadata query: lazy expiry, no stats,
    /// no LRU touch. O(1).
    pub fn peek(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let i = self.lookup(key, false)?;
        self.entry_at(i)
    }

    /// Looks a key up to change it in place: refreshes the LRU clock, no
    /// hit/miss stats, and counts as a modification when the key exists.
    pub fn write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let i = self.lookup(key, true)?;
        self.changes.note(self.db, key);
        self.entry_at(i)
    }

    /// Changes an existing key in place with one hash lookup (lazy expiry
    /// applied, LRU clock refreshed, TTL kept): `f` runs on its entry, and
    /// only when it returns `Ok` does the key count as modified (WATCH,
    /// keyspace notifications, `dirty`). `None` when the key is missing.
    /// O(1) plus `f`.
    pub fn modify<R, E>(&mut self, key: &[u8], f: impl FnOnce(&mut Entry) -> Result<R, E>) -> Option<Result<R, E>> {
        let i = self.lookup(key, true)?;
        let result = f(self.entry_at(i)?);
        if result.is_ok() {
            self.changes.note(self.db, key);
        }
        Some(result)
    }

    /// [`Locked::read`] of a value of type `T`: `None` if missing,
    /// [`WrongType`] if the key holds another type. O(1).
    pub fn read_as<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&mut T>, WrongType> {
        self.read(key).map(|e| T::of(&mut e.value).ok_or(WrongType)).transpose()
    }

    /// [`Locked::peek`] of a value of type `T` (no stats, not a
    /// modification: for a write that may change nothing). O(1).
    pub fn peek_as<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&mut T>, WrongType> {
        self.peek(key).map(|e| T::of(&mut e.value).ok_or(WrongType)).transpose()
    }

    /// [`Locked::write`] of a value of type `T` (counted as a
    /// modification when the key exists). O(1).
    pub fn write_as<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&mut T>, WrongType> {
        self.write(key).map(|e| T::of(&mut e.value).ok_or(WrongType)).transpose()
    }

    /// The value of type `T` at `key`, created empty if missing (the caller
    /// must add to it before its command ends: empty collections are not
    /// kept). The key's TTL is untouched. O(1).
    pub fn get_or_create<T: Typed>(&mut self, key: &Bytes) -> Result<&mut T, WrongType> {
        T::of(&mut self.entry_or_insert(key, || T::default().into_value()).value).ok_or(WrongType)
    }

    /// Lazy expiry: the key's position in its part if it exists (deleting
    /// it if its TTL passed). One hash lookup.
    fn lookup(&mut self, key: &[u8], touch: bool) -> Option<Found> {
        let db = self.db;
        let ks = self.ks;
        let (pos, at) = self.place(key);
        let d = self.part((pos, at));
        let (i, _, e) = d.map.get_full_mut(key)?;
        if e.expire_at != 0 && e.expire_at <= now_ms() && !super::loading() {
            // Under CLIENT PAUSE the key reads as gone but stays.
            if super::expiry_paused() {
                return None;
            }
            d.remove(key);
            ks.count_expired();
            ks.notify_expired(db, key);
            return None;
        }
        if touch && !super::no_touch() {
            e.freq = super::lfu_incr(super::lfu_decayed(e.freq, e.lru));
            e.lru = lru_clock();
        }
        Some(Found { pos, at, i })
    }

    /// Inserts or replaces a value, clearing any TTL (Redis's overwrite rule).
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.set_with_expiry(key, value, 0);
    }

    /// Inserts or replaces a value with an absolute expiry (0 = none).
    pub fn set_with_expiry(&mut self, key: &[u8], value: Value, expire_at: u64) {
        let db = self.db;
        let d = self.dbs_mut(key, db);
        let mut entry = Entry::new(value);
        entry.expire_at = expire_at;
        let old = d.replace(key, entry);
        let had_ttl = old.is_some_and(|ttl| ttl != 0);
        if expire_at != 0 && !had_ttl {
            d.expires.insert(CompactBytes::from_slice(key));
        } else if expire_at == 0 && had_ttl {
            d.expires.swap_remove(key);
        }
        self.changes.note_as(db, key, if old.is_some() { Change::Modified } else { Change::Created });
        self.signal_ready_in(db, key);
    }

    /// Replaces the value of an existing key, keeping its TTL (KEEPTTL), or
    /// inserts it without TTL.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        let ttl = self.peek(key).map_or(0, |e| e.expire_at);
        self.set_with_expiry(key, value, ttl);
    }

    /// Returns the entry of `key`, inserting `make()` first if it is missing.
    pub fn entry_or_insert(&mut self, key: &Bytes, make: impl FnOnce() -> Value) -> &mut Entry {
        let db = self.db;
        let i = match self.lookup(key, true) {
            Some(i) => {
                self.changes.note(db, key);
                i
            }
            None => {
                self.changes.note_as(db, key, Change::Created);
                let (pos, at) = self.place(key);
                let d = self.part((pos, at));
                d.put(key, Entry::new(make()));
                let i = d.map.len() - 1;
                self.signal_ready_in(db, key);
                Found { pos, at, i }
            }
        };
        match self.entry_at(i) {
            Some(e) => e,
            None => unreachable!("present or inserted above"),
        }
    }

    /// Deletes a key; true if it existed (and had not expired).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.lookup(key, false)?;
        let db = self.db;
        self.changes.note_as(db, key, Change::Removed);
        let removed = self.dbs_mut(key, db).remove(key);
        // A client blocked in XREADGROUP on a deleted stream is answered
        // at once, as in Redis 7.0.
        if matches!(&removed, Some(e) if matches!(e.value, Value::Stream(_))) {
            self.signal_ready_in(db, key);
        }
        removed
    }

    /// Deletes a key from database `db` (MOVE, COPY).
    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let saved = std::mem::replace(&mut self.db, db);
        let r = self.remove(key);
        self.db = saved;
        r
    }

    /// True if `key` exists in database `db`.
    pub fn exists_in(&mut self, db: usize, key: &[u8]) -> bool {
        let saved = std::mem::replace(&mut self.db, db);
        let r = self.lookup(key, false).is_some();
        self.db = saved;
        r
    }

    /// Inserts an entry as it is (value, TTL and access data) into database `db`.
    pub fn insert_entry_in(&mut self, db: usize, key: Bytes, entry: Entry) {
        let d = self.dbs_mut(&key, db);
        let how = if d.map.contains_key(&key[..]) { Change::Modified } else { Change::Created };
        if entry.expire_at != 0 {
            d.expires.insert(CompactBytes::from(&key));
        } else {
            d.expires.swap_remove(&key[..]);
        }
        d.put(&key, entry);
        self.changes.note_as(db, &key, how);
        self.signal_ready_in(db, &key);
    }

    /// Sets or clears (0) the expiry of an existing key. Returns false if missing.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) -> bool {
        let Some(found) = self.lookup(key, false) else { return false };
        let db = self.db;
        self.changes.note(db, key);
        let d = self.part((found.pos, found.at));
        let Some((k, e)) = d.map.get_index_mut(found.i) else { return false };
        let had = e.expire_at != 0;
        e.expire_at = at_ms;
        let k = k.clone();
        if at_ms != 0 && !had {
            d.expires.insert(k);
        } else if at_ms == 0 && had {
            d.expires.swap_remove(key);
        }
        true
    }

    /// Records that `key` got elements (or was created), so the clients
    /// blocked on it are served before these locks are released. Free when
    /// no client is blocked. O(keys signalled by this command).
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.signal_ready_in(self.db, key);
    }

    /// Short lists are kept free of duplicates here; past
    /// [`READY_SCAN_LIMIT`] entries a key is appended without the scan (a
    /// command writing a million keys while a client is blocked would
    /// otherwise scan quadratically) and the reader drops the repeats.
    fn signal_ready_in(&mut self, db: usize, key: &[u8]) {
        if !self.wake_blocked {
            return;
        }
        if self.ready.len() >= READY_SCAN_LIMIT || !self.ready.iter().any(|(d, k)| *d == db && k == key) {
            self.ready.push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Iterates over the databases' shards of the current database. Requires
    /// [`Locked::is_all`]; the order is shard order, then position.
    pub fn db_parts(&mut self, db: usize) -> impl Iterator<Item = &mut DbShard> + use<'_, 'a> {
        self.shards_mut().map(move |s| &mut s.dbs[db])
    }

    /// Mutable access to every shard (SWAPDB, FLUSHALL). Requires all locked.
    pub fn shards_mut(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        assert!(self.all, "whole-keyspace access needs every shard locked");
        self.guards.iter_mut().flat_map(|g| g.shards.iter_mut())
    }

    /// Number of live keys in database `db` (expired-but-unreclaimed keys
    /// included, as Redis's DBSIZE). Requires all locked.
    pub fn db_len(&mut self, db: usize) -> usize {
        self.db_parts(db).map(|d| d.map.len()).sum()
    }
}

#[cfg(test)]
#[path = "keyspace_tests.rs"]
mod tests;
