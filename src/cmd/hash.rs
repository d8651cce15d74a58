//! Hash commands (Redis's `t_hash.c`): HSET/HGET and friends, counters,
//! HRANDFIELD and HSCAN.
//!
//! Storage (packed while small, a table when large) is
//! [`crate::db::hash::HashValue`]. Either way fields only move to lower
//! positions, and HSCAN walks a table's positions from the highest down, so
//! a field present for the whole scan is never missed.

use bytes::Bytes;

use super::args::{self, err, fail, is};
use super::keys::{parse_cursor, parse_scan_opts, scan_positions, scan_reply};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::glob::glob_match;
use crate::db::sample::distinct_positions;
use crate::db::value::HashValue;
use crate::protocol::reply::format_double;
use crate::protocol::Reply;
use crate::spec;

/// The hash at `key` for a read (counts hit/miss): `None` if missing,
/// WRONGTYPE if it holds another type. O(1).
fn read_hash<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut HashValue>, Reply> {
    Ok(ctx.ks.read_as(key)?)
}

/// The hash at `key` for a write (no hit/miss stats). O(1).
fn write_hash<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut HashValue>, Reply> {
    Ok(ctx.ks.write_as(key)?)
}

/// The hash at `key`, created empty if missing (the caller must add a
/// field before returning). The key's TTL is untouched. O(1).
fn hash_or_create<'c>(ctx: &'c mut Ctx<'_, '_>, key: &Bytes) -> Result<&'c mut HashValue, Reply> {
    Ok(ctx.ks.get_or_create(key)?)
}

/// HSET/HMSET: sets every pair; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx, a: &[Bytes]) -> Result<i64, Reply> {
    if a.len() % 2 == 1 {
        return Err(args::arity_error(&String::from_utf8_lossy(&a[0])));
    }
    let h = hash_or_create(ctx, &a[1])?;
    let mut created = 0;
    for pair in a[2..].chunks_exact(2) {
        if h.insert(&pair[0], &pair[1]) {
            created += 1;
        }
    }
    Ok(created)
}

fn hset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(set_pairs(ctx, a)?))
}

fn hmset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    set_pairs(ctx, a)?;
    args::ok()
}

fn hsetnx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if write_hash(ctx, &a[1])?.is_some_and(|h| h.contains(&a[2])) {
        return Ok(Reply::Int(0));
    }
    hash_or_create(ctx, &a[1])?.insert(&a[2], &a[3]);
    Ok(Reply::Int(1))
}

fn hget(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(read_hash(ctx, &a[1])?.and_then(|h| h.get(&a[2])).map_or(Reply::Nil, Reply::bulk_from))
}

fn hmget(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let h = read_hash(ctx, &a[1])?;
    let out = a[2..].iter().map(|f| h.as_ref().and_then(|h| h.get(f)).map_or(Reply::Nil, Reply::bulk_from)).collect();
    Ok(Reply::Array(out))
}

fn hgetall(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let pairs = match read_hash(ctx, &a[1])? {
        None => Vec::new(),
        Some(h) => h.iter().map(|(f, v)| (Reply::bulk_from(f), Reply::bulk_from(v))).collect(),
    };
    Ok(Reply::Map(pairs))
}

fn hkeys(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let h = read_hash(ctx, &a[1])?;
    Ok(Reply::bulk_array_encoded(h.as_deref().into_iter().flat_map(|h| h.iter()).map(|(f, _)| f)))
}

fn hvals(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let h = read_hash(ctx, &a[1])?;
    Ok(Reply::bulk_array_encoded(h.as_deref().into_iter().flat_map(|h| h.iter()).map(|(_, v)| v)))
}

fn hdel(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(h) = write_hash(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let deleted = a[2..].iter().filter(|f| h.remove(f)).count();
    if h.is_empty() {
        ctx.ks.remove(&a[1]);
    }
    Ok(Reply::Int(deleted as i64))
}

fn hexists(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let found = read_hash(ctx, &a[1])?.is_some_and(|h| h.contains(&a[2]));
    Ok(Reply::Int(found as i64))
}

fn hlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_hash(ctx, &a[1])?.map_or(0, |h| h.len()) as i64))
}

fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = read_hash(ctx, &a[1])?.and_then(|h| h.get(&a[2]).map(|v| v.len())).unwrap_or(0);
    Ok(Reply::Int(n as i64))
}

/// The current value of a field for a counter (`None`: key or field missing).
fn field_value(ctx: &mut Ctx, key: &[u8], field: &[u8]) -> Result<Option<Bytes>, Reply> {
    Ok(write_hash(ctx, key)?.and_then(|h| h.get(field)).map(Bytes::copy_from_slice))
}

fn hincrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let by = args::int(&a[3])?;
    let cur = match field_value(ctx, &a[1], &a[2])? {
        None => 0,
        Some(v) => args::parse_i64_bytes(&v).ok_or_else(|| Reply::err(err::HASH_NOT_INT))?,
    };
    let new = cur.checked_add(by).ok_or_else(|| Reply::err(err::OVERFLOW))?;
    hash_or_create(ctx, &a[1])?.insert(&a[2], &args::int_bytes(new));
    Ok(Reply::Int(new))
}

fn hincrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let by = args::float(&a[3])?;
    if !by.is_finite() {
        return fail("ERR value is NaN or Infinity");
    }
    let cur = match field_value(ctx, &a[1], &a[2])? {
        None => 0.0,
        Some(v) => args::parse_f64_bytes(&v).ok_or_else(|| Reply::err(err::HASH_NOT_FLOAT))?,
    };
    let new = cur + by;
    if !new.is_finite() {
        return fail(err::NAN_INF);
    }
    let s = Bytes::from(format_double(new));
    hash_or_create(ctx, &a[1])?.insert(&a[2], &s);
    Ok(Reply::Bulk(s))
}

/// Replies with fields (and values): RESP3 nests `[field, value]` pairs,
/// RESP2 flattens them.
fn fields_reply<'h>(items: impl Iterator<Item = (&'h [u8], &'h [u8])>, withvalues: bool, resp3: bool) -> Reply {
    let mut out = Vec::new();
    for (f, v) in items {
        match (withvalues, resp3) {
            (false, _) => out.push(Reply::bulk_from(f)),
            (true, true) => out.push(Reply::Array(vec![Reply::bulk_from(f), Reply::bulk_from(v)])),
            (true, false) => {
                out.push(Reply::bulk_from(f));
                out.push(Reply::bulk_from(v));
            }
        }
    }
    Reply::Array(out)
}

fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        let Some(h) = read_hash(ctx, &a[1])? else { return Ok(Reply::Nil) };
        let pick = fastrand::usize(..h.len().max(1));
        return Ok(h.get_index(pick).map_or(Reply::Nil, |(f, _)| Reply::bulk_from(f)));
    }
    let (count, withvalues) = args::random_count(&a[2..], Some("withvalues"))?;
    let resp3 = ctx.client.resp >= 3;
    let Some(h) = read_hash(ctx, &a[1])? else { return Ok(Reply::Array(Vec::new())) };
    let size = h.len();
    if count == 0 || size == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let items: Vec<(&[u8], &[u8])> = if count < 0 {
        // Packed hashes are walked once per pick: copy their pairs out first.
        let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
        (0..count.unsigned_abs()).map(|_| pairs[fastrand::usize(..size)]).collect()
    } else if count as u64 >= size as u64 {
        h.iter().collect()
    } else {
        let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
        distinct_positions(size, count as usize).into_iter().map(|i| pairs[i]).collect()
    };
    Ok(fields_reply(items.into_iter(), withvalues, resp3))
}

/// HSCAN options: MATCH/COUNT through the shared parser, plus NOVALUES.
fn hscan_opts(a: &[Bytes]) -> Result<(super::keys::ScanOpts, bool), Reply> {
    let mut rest = Vec::with_capacity(a.len());
    let mut novalues = false;
    let mut i = 0;
    while i < a.len() {
        if is(&a[i], "novalues") {
            novalues = true;
            i += 1;
        } else {
            rest.extend(a[i..].iter().take(2).cloned());
            i += 2;
        }
    }
    Ok((parse_scan_opts(&rest, false)?, novalues))
}

/// HSCAN: hashes Redis would keep as a listpack answer whole with cursor
/// 0 (whatever COUNT says, as in Redis); others walk
/// positions downwards, the cursor being how many positions remain.
fn hscan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(h) = read_hash(ctx, &a[1])? else { return Ok(scan_reply(0, Vec::new())) };
    let (o, novalues) = hscan_opts(&a[3..])?;
    let mut out = Vec::new();
    let mut emit = |f: &[u8], v: &[u8]| {
        if o.pattern.as_ref().is_none_or(|p| glob_match(p, f, false)) {
            out.push(Reply::bulk_from(f));
            if !novalues {
                out.push(Reply::bulk_from(v));
            }
        }
    };
    let next = if h.is_packed() {
        h.iter().for_each(|(f, v)| emit(f, v));
        0
    } else {
        scan_positions(h.len(), cursor, o.count, |i| {
            if let Some((f, v)) = h.get_index(i) {
                emit(f, v);
            }
        })
    };
    Ok(scan_reply(next, out))
}

/// The hash commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("hset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, hset, "hash", "Creates or modifies the value of a field in a hash.", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    spec!("hsetnx", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hsetnx, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", "O(1)"),
    spec!("hmset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, hmset, "hash", "Sets the values of multiple fields.", "O(N) where N is the number of fields being set."),
    spec!("hget", 3, READONLY | FAST, 1, 1, 1, hget, "hash", "Returns the value of a field in a hash.", "O(1)"),
    spec!("hmget", -3, READONLY | FAST, 1, 1, 1, hmget, "hash", "Returns the values of all fields in a hash.", "O(N) where N is the number of fields being requested."),
    spec!("hgetall", 2, READONLY, 1, 1, 1, hgetall, "hash", "Returns all fields and values in a hash.", "O(N) where N is the size of the hash."),
    spec!("hkeys", 2, READONLY, 1, 1, 1, hkeys, "hash", "Returns all fields in a hash.", "O(N) where N is the size of the hash."),
    spec!("hvals", 2, READONLY, 1, 1, 1, hvals, "hash", "Returns all values in a hash.", "O(N) where N is the size of the hash."),
    spec!("hdel", -3, WRITE | FAST, 1, 1, 1, hdel, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "O(N) where N is the number of fields to be removed."),
    spec!("hexists", 3, READONLY | FAST, 1, 1, 1, hexists, "hash", "Determines whether a field exists in a hash.", "O(1)"),
    spec!("hlen", 2, READONLY | FAST, 1, 1, 1, hlen, "hash", "Returns the number of fields in a hash.", "O(1)"),
    spec!("hstrlen", 3, READONLY | FAST, 1, 1, 1, hstrlen, "hash", "Returns the length of the value of a field.", "O(1)"),
    spec!("hincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hincrby, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "O(1)"),
    spec!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hincrbyfloat, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "O(1)"),
    spec!("hrandfield", -2, READONLY, 1, 1, 1, hrandfield, "hash", "Returns one or more random fields from a hash.", "O(N) where N is the number of fields returned"),
    spec!("hscan", -3, READONLY, 1, 1, 1, hscan, "hash", "Iterates over fields and values of a hash.", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
];
