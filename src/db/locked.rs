//! [`Locked`]: the shards one command (or one `EXEC`) holds, and every
//! access to keys through them: lookups with lazy expiry, typed reads and
//! writes, creation and deletion, the modifications a command made
//! ([`Changes`], for the AOF, WATCH and keyspace notifications) and the
//! keys it made ready for blocked clients. The shards themselves and how
//! they are locked are `keyspace.rs`.

use bytes::Bytes;
use parking_lot::MutexGuard;
use smallvec::SmallVec;

use super::compact::CompactBytes;
use super::keyspace::{DbShard, Group, Keyspace, Shard, READY_SCAN_LIMIT};
use super::value::{Entry, Typed, Value, WrongType};
use super::{lru_clock, now_ms};

/// Shards locked for one command (or one `EXEC`), and the keys in them.
///
/// Every accessor takes the current database from [`Locked::db`]; a key whose
/// shard was not locked is a bug in the command table's key positions.
pub struct Locked<'a> {
    pub(super) ks: &'a Keyspace,
    /// The database the command runs against (the client's `SELECT`).
    pub db: usize,
    pub(super) idx: SmallVec<[u8; 4]>,
    pub(super) guards: SmallVec<[MutexGuard<'a, Group>; 4]>,
    pub(super) all: bool,
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
    /// Nothing changed and no miss recorded (the recording switches aside). O(1).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.keys.is_empty() && self.misses.is_empty()
    }

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
