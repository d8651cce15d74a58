//! Key serialization (Redis's `cluster.c` DUMP/RESTORE/MIGRATE): DUMP
//! RESTORE RESTORE-ASKING MIGRATE.
//!
//! A value travels as a DUMP payload (see [`crate::persist::rdb::payload`]):
//! its RDB encoding as the snapshot writer writes it, the RDB version and a
//! CRC-64. RESTORE decodes it through the RDB reader, which checks it as
//! deeply as a dump file (so a hostile payload is `ERR Bad data format`,
//! never a crash), then stores it through the keyspace's normal write path
//! (dirty counter, WATCH, keyspace events, AOF). MIGRATE is in `migrate.rs`.

mod migrate;

pub use migrate::{cached_sockets, key_positions};

use bytes::Bytes;

use super::args::{self, err, fail, int, is};
use super::table::flags::*;
use super::table::CommandSpec;
use super::{CmdResult, Ctx};
use crate::db::{lru_clock, now_ms, Entry, Value};
use crate::persist::rdb::payload::encode_payload;
use crate::persist::snapshot::{value_from_payload, write_value};
use crate::protocol::Reply;
use crate::spec;

/// The DUMP payload of `value`, strings compressed as `rdbcompression`
/// says. O(size of the value).
pub fn payload_of(value: &Value, compression: bool) -> Result<Vec<u8>, Reply> {
    encode_payload(compression, |w| write_value(w, b"", value, None))
        .map_err(|e| Reply::Error(format!("ERR DUMP failed: {e}")))
}

fn dump(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let compression = ctx.srv.config.read().rdbcompression;
    let Some(e) = ctx.ks.read(&a[1]) else { return Ok(Reply::Nil) };
    Ok(Reply::Bulk(Bytes::from(payload_of(&e.value, compression)?)))
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    /// IDLETIME seconds.
    idle: Option<u64>,
    /// FREQ counter.
    freq: Option<u8>,
}

/// Parses RESTORE's options as Redis does (IDLETIME and FREQ exclude
/// each other: the second is a syntax error).
fn restore_opts(a: &[Bytes]) -> Result<RestoreOpts, Reply> {
    let mut o = RestoreOpts::default();
    let mut i = 4;
    while i < a.len() {
        let more = i + 1 < a.len();
        if is(&a[i], "replace") {
            o.replace = true;
        } else if is(&a[i], "absttl") {
            o.absttl = true;
        } else if is(&a[i], "idletime") && more && o.freq.is_none() {
            let n = int(&a[i + 1])?;
            if n < 0 {
                return fail("ERR Invalid IDLETIME value, must be >= 0");
            }
            o.idle = Some(n as u64);
            i += 1;
        } else if is(&a[i], "freq") && more && o.idle.is_none() {
            let n = int(&a[i + 1])?;
            o.freq = Some(u8::try_from(n).map_err(|_| Reply::err("ERR Invalid FREQ value, must be >= 0 and <= 255"))?);
            i += 1;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// RESTORE and RESTORE-ASKING (the same command here: there is no cluster
/// mode to ask). Checks in Redis's order: options, BUSYKEY, TTL, payload
/// footer, payload value. A TTL already past stores nothing (and with
/// REPLACE deletes the old key, logged as DEL). A relative TTL is logged
/// as an absolute one with ABSTTL, so a replay restores the same expiry.
/// O(size of the value).
fn restore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let opts = restore_opts(a)?;
    let key = &a[1];
    if !opts.replace && ctx.ks.peek(key).is_some() {
        return fail("BUSYKEY Target key name already exists.");
    }
    let ttl = int(&a[2])?;
    if ttl < 0 {
        return fail("ERR Invalid TTL value, must be >= 0");
    }
    let value = value_from_payload(&a[3]).map_err(|e| Reply::Error(e.to_string()))?;
    let deleted = opts.replace && ctx.ks.remove(key).is_some();
    let now = now_ms() as i64;
    let expire_at = if ttl != 0 && !opts.absttl { ttl.saturating_add(now) } else { ttl };
    if expire_at != 0 && expire_at <= now && !crate::db::loading() {
        if deleted {
            ctx.client.propagate_as = Some(vec![vec![Bytes::from_static(b"DEL"), key.clone()]]);
        }
        return args::ok();
    }
    let mut entry = Entry::new(value);
    entry.expire_at = expire_at as u64;
    set_lru_or_lfu(ctx, &mut entry, &opts);
    ctx.ks.insert_entry_in(ctx.client.db, key.clone(), entry);
    if ttl != 0 && !opts.absttl {
        let mut logged = a.to_vec();
        logged[2] = args::int_bytes(expire_at);
        logged.push(Bytes::from_static(b"ABSTTL"));
        ctx.client.propagate_as = Some(vec![logged]);
    }
    args::ok()
}

/// Applies IDLETIME or FREQ as Redis's `objectSetLRUOrLFU`: FREQ under an
/// LFU policy, IDLETIME under any other (the other is ignored).
fn set_lru_or_lfu(ctx: &Ctx, entry: &mut Entry, opts: &RestoreOpts) {
    let lfu = ctx.srv.config.read().maxmemory_policy.contains("lfu");
    match (lfu, opts.freq, opts.idle) {
        (true, Some(f), _) => {
            entry.freq = f;
            entry.lru = lru_clock();
        }
        (false, _, Some(idle)) => {
            // The LRU clock is 24 bits of seconds and wraps.
            const CLOCK: i64 = 1 << 24;
            let idle = idle.min(CLOCK as u64 - 1) as i64;
            entry.lru = (i64::from(lru_clock()) - idle).rem_euclid(CLOCK) as u32;
        }
        _ => {}
    }
}

/// This family's rows in the command table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("dump", 2, READONLY, 1, 1, 1, dump, "generic", "Returns a serialized representation of the value stored at a key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    spec!("restore", -4, WRITE | DENYOOM | DANGEROUS, 1, 1, 1, restore, "generic", "Creates a key from the serialized representation of a value.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
    spec!("restore-asking", -4, WRITE | DENYOOM | DANGEROUS, 1, 1, 1, restore, "server", "An internal command for migrating keys in a cluster.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
    spec!("migrate", -6, WRITE | DANGEROUS | MOVABLE_KEYS, 3, 3, 1, migrate::migrate, "generic", "Atomically transfers a key from one Redis instance to another.", "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed."),
];
