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

use bytes::Bytes;

use super::aof::encode_command;
use super::rdb::{read_rdb, RdbEntry, RdbStats, RdbValue, RdbWriter, RdbWriterOptions};
use crate::db::value::{HashValue, ListValue};
use crate::db::{now_ms, Entry, Keyspace, Locked, Value};

fn to_rdb(v: &Value) -> RdbValue {
    match v {
        Value::Str(s) => RdbValue::Str(s.to_bytes()),
        Value::List(l) => RdbValue::List(l.iter().map(Bytes::copy_from_slice).collect()),
        Value::Hash(h) => {
            RdbValue::Hash(h.iter().map(|(k, v)| (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v))).collect())
        }
    }
}

fn from_rdb(v: RdbValue) -> Value {
    match v {
        RdbValue::Str(s) => Value::str(&s),
        RdbValue::List(l) => Value::List(ListValue::from_items(l.iter().map(|e| &e[..]))),
        RdbValue::Hash(h) => Value::Hash(HashValue::from_pairs(h.iter().map(|(f, v)| (&f[..], &v[..])))),
    }
}

/// Writes every live key of every database to `path` as an RDB file and
/// syncs it. Keys whose TTL has passed are left out.
pub fn write_rdb(locked: &mut Locked, path: &Path, compress: bool) -> Result<(), String> {
    let f = File::create(path).map_err(|e| format!("Failed opening the temp RDB file {}: {e}", path.display()))?;
    let opts = RdbWriterOptions { compression: compress, ..Default::default() };
    let mut w = RdbWriter::with_options(BufWriter::with_capacity(1 << 20, f), opts).map_err(|e| e.to_string())?;
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
                let exp = (e.expire_at != 0).then_some(e.expire_at);
                w.write_entry(k, &to_rdb(&e.value), exp).map_err(|e| e.to_string())?;
            }
        }
    }
    let buf = w.finish().map_err(|e| e.to_string())?;
    let f = buf.into_inner().map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| format!("fsync of {} failed: {e}", path.display()))
}

/// Commands per RPUSH/HSET when writing an AOF base (Redis's value).
const ITEMS_PER_CMD: usize = 64;

/// Writes the dataset as commands (an AOF base) to `path` and syncs it.
pub fn write_aof_base(locked: &mut Locked, path: &Path) -> Result<(), String> {
    let f = File::create(path).map_err(|e| format!("Failed opening the temp AOF file {}: {e}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut out = Vec::with_capacity(64 * 1024);
    let now = now_ms();
    let ndb = locked.keyspace().databases();
    let mut ib = itoa::Buffer::new();
    for db in 0..ndb {
        let mut selected = false;
        for part in locked.db_parts(db) {
            for (k, e) in part.map.iter() {
                if e.expire_at != 0 && e.expire_at <= now {
                    continue;
                }
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

/// Keys handed to a loader thread at a time.
const LOAD_BATCH: usize = 512;

/// Loads an RDB file into the keyspace (which should be empty). The calling
/// thread parses; keys are inserted by worker threads that each own a subset
/// of the lock shards (so they never contend, and a key's shard — hence its
/// worker — is fixed, keeping file order per key). O(file size). Errors name
/// the file and the byte offset; on error the caller refuses to start.
pub fn load_rdb(ks: &Keyspace, path: &Path) -> Result<RdbStats, String> {
    let f = File::open(path).map_err(|e| format!("Can't open the RDB file {}: {e}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, f);
    let ndb = ks.databases();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(2, 9) - 1;
    std::thread::scope(|scope| {
        let mut txs = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RdbEntry>>(16);
            txs.push(tx);
            scope.spawn(move || {
                for batch in rx {
                    for e in batch {
                        let mut l = ks.lock_keys(e.db, [&e.key[..]]);
                        let mut entry = Entry::new(from_rdb(e.value));
                        entry.expire_at = e.expire_at_ms.unwrap_or(0);
                        l.insert_entry_in(e.db, e.key, entry);
                    }
                }
            });
        }
        let mut batches: Vec<Vec<RdbEntry>> = (0..workers).map(|_| Vec::with_capacity(LOAD_BATCH)).collect();
        let r = read_rdb(reader, now_ms(), |e| {
            if e.db >= ndb {
                return Err(super::rdb::RdbError::Corrupt {
                    offset: 0,
                    reason: format!("database {} is out of range (databases is {ndb})", e.db),
                });
            }
            let w = ks.shard_of(&e.key) % workers;
            batches[w].push(e);
            if batches[w].len() >= LOAD_BATCH {
                let full = std::mem::replace(&mut batches[w], Vec::with_capacity(LOAD_BATCH));
                txs[w].send(full).map_err(|_| super::rdb::RdbError::Aborted("a loader thread stopped".into()))?;
            }
            Ok(())
        });
        for (tx, batch) in txs.iter().zip(batches) {
            let _ = tx.send(batch);
        }
        drop(txs);
        r
    })
    .map_err(|e| format!("Error loading the RDB file {}: {e}", path.display()))
}

/// Loads an RDB file into shards the caller holds (every shard locked, the
/// databases emptied first: DEBUG RELOAD). Errors name the file and offset.
/// O(file size).
pub fn load_rdb_locked(locked: &mut Locked, path: &Path) -> Result<RdbStats, String> {
    let f = File::open(path).map_err(|e| format!("Can't open the RDB file {}: {e}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, f);
    let ndb = locked.keyspace().databases();
    read_rdb(reader, now_ms(), |e| {
        if e.db >= ndb {
            return Err(super::rdb::RdbError::Corrupt {
                offset: 0,
                reason: format!("database {} is out of range (databases is {ndb})", e.db),
            });
        }
        let mut entry = Entry::new(from_rdb(e.value));
        entry.expire_at = e.expire_at_ms.unwrap_or(0);
        locked.insert_entry_in(e.db, e.key, entry);
        Ok(())
    })
    .map_err(|e| format!("Error loading the RDB file {}: {e}", path.display()))
}
