//! Dataset images: the keyspace written as an RDB file or as the commands
//! of an AOF base, and an RDB file loaded back into the keyspace.
//!
//! Writers take a [`Locked`] holding every shard, so the image is one
//! point in time. They run either in the foreground (SAVE, shutdown) or in a
//! forked child (BGSAVE, BGREWRITEAOF), where the locks were taken by the
//! parent right before `fork` and the child sees that instant's memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::aof::encode_command;
use super::rdb::{
    read_rdb_ref, RdbConsumer, RdbError, RdbPending, RdbStats, RdbStream, RdbStreamGroup, RdbStreamId, RdbStreamMeta,
    RdbValueRef, RdbWriter, RdbWriterOptions,
};
use crate::db::stream::{Consumer, ConsumerGroup, Nack, StreamId, StreamValue};
use crate::db::value::{HashValue, ListValue, SetValue, ZSetValue};
use crate::db::{now_ms, Entry, Locked, Value};
use crate::protocol::reply::format_double;
use bytes::Bytes;

/// `rdb-key-save-delay` (Redis's hidden test knob): microseconds slept per
/// key written by an RDB save or an AOF rewrite. Process-wide: the setting
/// is stored here rather than in `Config`, so a forked child sees the value
/// of the instant it was forked.
static RDB_KEY_SAVE_DELAY: AtomicI64 = AtomicI64::new(0);

/// Sets `rdb-key-save-delay` (microseconds per key saved; `-n`: one
/// microsecond with probability 1/n, as Redis's `debugDelay`). O(1).
pub fn set_rdb_key_save_delay(micros: i64) {
    RDB_KEY_SAVE_DELAY.store(micros, Ordering::Relaxed);
}

/// The current `rdb-key-save-delay`. O(1).
pub fn rdb_key_save_delay() -> i64 {
    RDB_KEY_SAVE_DELAY.load(Ordering::Relaxed)
}

/// Sleeps as Redis's `debugDelay(micros)`: `micros` microseconds when
/// positive, one microsecond with probability 1/|micros| when negative.
pub(super) fn debug_delay(micros: i64) {
    if micros > 0 {
        std::thread::sleep(Duration::from_micros(micros.unsigned_abs()));
    } else if micros < 0 && fastrand::u64(..micros.unsigned_abs()) == 0 {
        std::thread::sleep(Duration::from_micros(1));
    }
}

/// Writes one key straight from the stored value (no copy): a packed
/// hash as a listpack (RDB type 16), a list as quicklist nodes (type 18),
/// an intset as type 11 and another set as type 2, a packed sorted set as
/// a listpack (type 17) and another as type 5 (highest score first), a
/// stream as listpack nodes with its groups (type 19), as Redis 7.0 does. O(size of the value; a
/// stream's groups are copied). Also DUMP's encoder (with a
/// [`RdbWriter::value_only`] writer, which ignores `key`).
pub(crate) fn write_value<W: Write>(
    w: &mut RdbWriter<W>,
    key: &[u8],
    v: &Value,
    expire_at_ms: Option<u64>,
) -> Result<(), RdbError> {
    match v {
        Value::Str(s) => w.write_string(key, s, expire_at_ms),
        Value::List(l) => w.write_list(key, l.iter(), expire_at_ms),
        Value::Hash(h) => w.write_hash(key, h.iter(), h.is_packed(), expire_at_ms),
        Value::Set(s) => w.write_set(key, s.len(), s.iter(), s.is_intset(), expire_at_ms),
        // A skiplist from the highest score down, as Redis writes it.
        Value::ZSet(z) => match z.as_list() {
            Some(l) => w.write_zset(key, z.len(), l.iter_rev(), false, expire_at_ms),
            None => w.write_zset(key, z.len(), z.iter(), true, expire_at_ms),
        },
        Value::Stream(st) => {
            let entries = || {
                st.nodes()
                    .flat_map(|(first, node)| node.entries(first))
                    .filter(|e| !e.deleted)
                    .map(|e| (rdb_id(e.id), e.pairs()))
            };
            let meta = RdbStreamMeta {
                last_id: rdb_id(st.last_id),
                first_id: rdb_id(st.first_id),
                max_deleted_entry_id: rdb_id(st.max_deleted_entry_id),
                entries_added: st.entries_added,
            };
            w.write_stream_parts(key, entries, &meta, &rdb_groups(st), expire_at_ms)
        }
    }
}

fn rdb_id(id: StreamId) -> RdbStreamId {
    (id.ms, id.seq)
}

fn stream_id(id: RdbStreamId) -> StreamId {
    StreamId::new(id.0, id.1)
}

/// A stream's consumer groups as the RDB codec takes them (names in
/// order, each pending entry's owner given by its consumer's list).
/// O(groups + pending entries + consumers).
fn rdb_groups(st: &StreamValue) -> Vec<RdbStreamGroup> {
    st.groups
        .iter()
        .map(|(name, g)| RdbStreamGroup {
            name: name.clone(),
            last_id: rdb_id(g.last_id),
            entries_read: g.entries_read,
            pending: g
                .pel
                .iter()
                .map(|(id, n)| RdbPending {
                    id: rdb_id(*id),
                    delivery_time: n.delivery_time,
                    delivery_count: n.delivery_count,
                })
                .collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(cname, c)| RdbConsumer {
                    name: cname.clone(),
                    seen_time: c.seen_time,
                    pending: c.pel.iter().map(|id| rdb_id(*id)).collect(),
                })
                .collect(),
        })
        .collect()
}

/// A stream read from an RDB file: its entries appended in order (cut
/// into nodes by this server's `stream-node-max-*`), then the file's
/// bookkeeping and groups. The reader checked that every pending entry has
/// exactly one consumer. O(size of the stream).
fn stream_from_rdb(s: &RdbStream) -> StreamValue {
    let mut st = StreamValue::default();
    let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
    for (id, p) in s.entries.iter() {
        pairs.clear();
        pairs.extend(p);
        st.append(stream_id(id), &pairs);
    }
    st.last_id = stream_id(s.meta.last_id);
    st.first_id = stream_id(s.meta.first_id);
    st.max_deleted_entry_id = stream_id(s.meta.max_deleted_entry_id);
    st.entries_added = s.meta.entries_added;
    for g in &s.groups {
        let mut cg = ConsumerGroup::new(stream_id(g.last_id), g.entries_read);
        for c in &g.consumers {
            let pel = c.pending.iter().map(|id| stream_id(*id)).collect();
            cg.consumers.insert(c.name.clone(), Consumer { seen_time: c.seen_time, pel });
        }
        let owners: std::collections::HashMap<RdbStreamId, &Bytes> =
            g.consumers.iter().flat_map(|c| c.pending.iter().map(move |id| (*id, &c.name))).collect();
        for p in &g.pending {
            if let Some(owner) = owners.get(&p.id) {
                let nack = Nack {
                    delivery_time: p.delivery_time,
                    delivery_count: p.delivery_count,
                    consumer: (*owner).clone(),
                };
                cg.pel.insert(stream_id(p.id), nack);
            }
        }
        st.groups.insert(g.name.clone(), cg);
    }
    st
}

/// A value read from an RDB file, in the encoding its size calls for. O(size).
pub(crate) fn from_rdb(v: RdbValueRef<'_>) -> Value {
    match v {
        RdbValueRef::Str(s) => Value::str(s),
        RdbValueRef::List(l) => Value::List(ListValue::from_items(l.iter())),
        RdbValueRef::Hash(h) => Value::Hash(HashValue::from_pairs(h.pairs())),
        RdbValueRef::Set(m) => Value::Set(SetValue::from_members(m.iter())),
        RdbValueRef::ZSet(z) => Value::ZSet(ZSetValue::from_pairs(z.iter())),
        RdbValueRef::Stream(s) => Value::Stream(Box::new(stream_from_rdb(s))),
    }
}

/// What RESTORE stores for a DUMP payload: the footer checked, the value
/// checked by the RDB reader as deeply as a dump file's, then converted to
/// the encoding its size calls for. Hostile input is a
/// [`PayloadError`](super::rdb::payload::PayloadError), whose text is
/// Redis's reply, never a panic (the fuzz targets in `fuzz/` and
/// `tests/fuzz_payloads.rs` drive this). O(len).
pub fn value_from_payload(payload: &[u8]) -> Result<Value, super::rdb::payload::PayloadError> {
    super::rdb::payload::decode_payload(payload, from_rdb)
}

/// Writes every live key of every database to `path` as an RDB file and
/// syncs it. Keys whose TTL has passed are left out. O(dataset), plus
/// `rdb-key-save-delay` per key.
pub fn write_rdb(locked: &mut Locked, path: &Path, compress: bool) -> Result<(), String> {
    let f = File::create(path).map_err(|e| format!("Failed opening the temp RDB file {}: {e}", path.display()))?;
    let f = write_rdb_to(locked, f, compress)?;
    f.sync_all().map_err(|e| format!("fsync of {} failed: {e}", path.display()))
}

/// As [`write_rdb`], to any writer (a diskless replication sync writes to
/// a pipe), flushed and given back. O(dataset).
pub fn write_rdb_to<W: Write>(locked: &mut Locked, out: W, compress: bool) -> Result<W, String> {
    let delay = rdb_key_save_delay();
    let opts = RdbWriterOptions { compression: compress, ..Default::default() };
    let mut w = RdbWriter::with_options(BufWriter::with_capacity(1 << 20, out), opts).map_err(|e| e.to_string())?;
    for code in crate::scripting::functions::library_codes() {
        w.write_function(&code).map_err(|e| e.to_string())?;
    }
    let now = now_ms();
    let ndb = locked.keyspace().databases();
    for db in 0..ndb {
        let (mut size, mut expires) = (0u64, 0u64);
        for part in locked.db_parts(db) {
            size += part.map.len() as u64;
            expires += part.expires.len() as u64;
        }
        if size == 0 {
            continue;
        }
        w.select_db(db, size, expires).map_err(|e| e.to_string())?;
        for part in locked.db_parts(db) {
            for (k, e) in part.map.iter() {
                if e.expire_at != 0 && e.expire_at <= now {
                    continue;
                }
                debug_delay(delay);
                let exp = (e.expire_at != 0).then_some(e.expire_at);
                write_value(&mut w, k, &e.value, exp).map_err(|e| e.to_string())?;
            }
        }
    }
    let buf = w.finish().map_err(|e| e.to_string())?;
    buf.into_inner().map_err(|e| e.to_string())
}

/// Writes an AOF base to `path` and syncs it: an RDB image when `rdb`
/// (`aof-use-rdb-preamble yes`, compressed as `compress` says), otherwise
/// commands. O(dataset), plus `rdb-key-save-delay` per key.
pub fn write_base(locked: &mut Locked, path: &Path, rdb: bool, compress: bool) -> Result<(), String> {
    if rdb {
        write_rdb(locked, path, compress)
    } else {
        write_aof_base(locked, path)
    }
}

/// Commands per RPUSH/HSET when writing an AOF base (Redis's value).
const ITEMS_PER_CMD: usize = 64;

/// Writes the dataset as commands (an AOF base) to `path` and syncs it.
/// O(dataset), plus `rdb-key-save-delay` per key (as Redis's rewrite).
pub fn write_aof_base(locked: &mut Locked, path: &Path) -> Result<(), String> {
    let delay = rdb_key_save_delay();
    let f = File::create(path).map_err(|e| format!("Failed opening the temp AOF file {}: {e}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut out = Vec::with_capacity(64 * 1024);
    let now = now_ms();
    let ndb = locked.keyspace().databases();
    let mut ib = itoa::Buffer::new();
    for code in crate::scripting::functions::library_codes() {
        encode_command(&mut out, &[b"FUNCTION", b"LOAD", &code]);
    }
    for db in 0..ndb {
        let mut selected = false;
        for part in locked.db_parts(db) {
            for (k, e) in part.map.iter() {
                if e.expire_at != 0 && e.expire_at <= now {
                    continue;
                }
                debug_delay(delay);
                if !selected {
                    encode_command(&mut out, &[b"SELECT", ib.format(db).as_bytes()]);
                    selected = true;
                }
                match &e.value {
                    Value::Str(s) => encode_command(&mut out, &[b"SET", k, s]),
                    Value::List(l) => {
                        let items: Vec<&[u8]> = l.iter().collect();
                        for chunk in items.chunks(ITEMS_PER_CMD) {
                            let mut args: Vec<&[u8]> = vec![b"RPUSH", k];
                            args.extend(chunk.iter().copied());
                            encode_command(&mut out, &args);
                        }
                    }
                    Value::Hash(h) => {
                        let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
                        for chunk in pairs.chunks(ITEMS_PER_CMD) {
                            let mut args: Vec<&[u8]> = vec![b"HSET", k];
                            for (f, v) in chunk {
                                args.push(f);
                                args.push(v);
                            }
                            encode_command(&mut out, &args);
                        }
                    }
                    Value::Set(set) => {
                        let members: Vec<_> = set.iter().collect();
                        for chunk in members.chunks(ITEMS_PER_CMD) {
                            let mut args: Vec<&[u8]> = vec![b"SADD", k];
                            args.extend(chunk.iter().map(|m| &m[..]));
                            encode_command(&mut out, &args);
                        }
                    }
                    Value::Stream(st) => {
                        for cmd in stream_rebuild_commands(k, st) {
                            let args: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
                            encode_command(&mut out, &args);
                        }
                    }
                    Value::ZSet(z) => {
                        let pairs: Vec<(&[u8], String)> = z.iter().map(|(m, s)| (m, format_double(s))).collect();
                        for chunk in pairs.chunks(ITEMS_PER_CMD) {
                            let mut args: Vec<&[u8]> = vec![b"ZADD", k];
                            for (m, s) in chunk {
                                args.push(s.as_bytes());
                                args.push(m);
                            }
                            encode_command(&mut out, &args);
                        }
                    }
                }
                if e.expire_at != 0 {
                    encode_command(&mut out, &[b"PEXPIREAT", k, ib.format(e.expire_at).as_bytes()]);
                }
                if out.len() >= 64 * 1024 {
                    w.write_all(&out).map_err(|e| e.to_string())?;
                    out.clear();
                }
            }
        }
    }
    w.write_all(&out).map_err(|e| e.to_string())?;
    let f = w.into_inner().map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| format!("fsync of {} failed: {e}", path.display()))
}

/// Refuses an entry for database `db` when this server does not have it.
pub(crate) fn check_db(db: usize, ndb: usize) -> Result<(), RdbError> {
    if db >= ndb {
        return Err(RdbError::Corrupt {
            offset: 0,
            reason: format!("database {db} is out of range (databases is {ndb})"),
        });
    }
    Ok(())
}

/// Loads an RDB file into shards the caller holds (every shard locked, the
/// databases emptied first: DEBUG RELOAD). Errors name the file and offset.
/// O(file size).
pub fn load_rdb_locked(locked: &mut Locked, path: &Path) -> Result<RdbStats, String> {
    let f = File::open(path).map_err(|e| format!("Can't open the RDB file {}: {e}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, f);
    let ndb = locked.keyspace().databases();
    read_rdb_ref(reader, now_ms(), |e| {
        check_db(e.db, ndb)?;
        let mut entry = Entry::new(from_rdb(e.value));
        entry.expire_at = e.expire_at_ms.unwrap_or(0);
        locked.insert_entry_in(e.db, Bytes::copy_from_slice(e.key), entry);
        Ok(())
    })
    .map_err(|e| format!("Error loading the RDB file {}: {e}", path.display()))
}

/// The commands that rebuild stream `st` at `key`, as Redis's AOF rewrite
/// emits them: an XADD per entry with its id (an empty stream as XADD
/// MAXLEN 0 of a dummy entry), XSETID with the stream's last id, entries
/// added and largest deleted id, then per group XGROUP CREATE with its
/// last id and read counter, an XCLAIM … FORCE JUSTID per pending entry
/// (with its delivery time and count) and XGROUP CREATECONSUMER for
/// consumers without pending entries. O(size of the stream).
fn stream_rebuild_commands(key: &[u8], st: &crate::db::stream::StreamValue) -> Vec<Vec<Bytes>> {
    use crate::db::stream::StreamId;
    let k = Bytes::copy_from_slice(key);
    let s = |t: &'static str| Bytes::from_static(t.as_bytes());
    let n = |v: u64| Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes());
    let mut out = Vec::new();
    if st.is_empty() {
        out.push(vec![s("XADD"), k.clone(), s("MAXLEN"), s("0"), StreamId::new(0, 1).to_bytes(), s("x"), s("y")]);
    }
    st.scan(StreamId::MIN, StreamId::MAX, false, |e| {
        let mut cmd = Vec::with_capacity(3 + 2 * e.len());
        cmd.extend([s("XADD"), k.clone(), e.id.to_bytes()]);
        for (f, v) in e.pairs() {
            cmd.push(Bytes::copy_from_slice(f));
            cmd.push(Bytes::copy_from_slice(v));
        }
        out.push(cmd);
        true
    });
    out.push(vec![
        s("XSETID"),
        k.clone(),
        st.last_id.to_bytes(),
        s("ENTRIESADDED"),
        n(st.entries_added),
        s("MAXDELETEDID"),
        st.max_deleted_entry_id.to_bytes(),
    ]);
    for (name, g) in &st.groups {
        let read = g.entries_read.map_or(Bytes::from_static(b"-1"), n);
        out.push(vec![s("XGROUP"), s("CREATE"), k.clone(), name.clone(), g.last_id.to_bytes(), s("ENTRIESREAD"), read]);
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                out.push(vec![s("XGROUP"), s("CREATECONSUMER"), k.clone(), name.clone(), cname.clone()]);
            }
            for id in &c.pel {
                let Some(nack) = g.pel.get(id) else { continue };
                out.push(vec![
                    s("XCLAIM"),
                    k.clone(),
                    name.clone(),
                    cname.clone(),
                    s("0"),
                    id.to_bytes(),
                    s("TIME"),
                    n(nack.delivery_time),
                    s("RETRYCOUNT"),
                    n(nack.delivery_count),
                    s("JUSTID"),
                    s("FORCE"),
                ]);
            }
        }
    }
    out
}
