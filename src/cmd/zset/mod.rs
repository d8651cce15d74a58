//! Sorted set commands (Redis's `t_zset.c`): ZADD and friends, lookups by
//! member and rank, ranges (`range.rs`), unions, intersections and
//! differences (`setops.rs`), pops and blocking pops (`pop.rs`).
//!
//! Storage (packed while small, a skip list with a member map when large)
//! is [`crate::db::zset::ZSetValue`]. A sorted set that becomes empty is
//! deleted; clients blocked in BZPOPMIN/BZPOPMAX/BZMPOP are served when a
//! sorted set is created at their key (the keyspace signals every key it
//! creates, and only an absent key can have waiters). A write that changes nothing
//! is not counted as a modification (so it is not propagated).

mod pop;
mod range;
mod setops;

use bytes::Bytes;

use super::args::{self, err, fail, is};
use super::keys::{parse_cursor, parse_scan_opts, scan_positions, scan_reply};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::glob::glob_match;
use crate::db::zset::ZSetValue;
use crate::db::Value;
use crate::protocol::reply::format_double_reply;
use crate::protocol::Reply;
use crate::spec;

/// Redis's `ERR min or max is not a float`.
const ERR_RANGE_FLOAT: &str = "ERR min or max is not a float";
/// Redis's error when INCR produces NaN (`inf` + `-inf`).
const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";

/// The sorted set at `key` for a read (counts hit/miss): `None` if
/// missing, WRONGTYPE if it holds another type. O(1).
fn read_zset<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut ZSetValue>, Reply> {
    Ok(ctx.ks.read_as(key)?)
}

/// The sorted set at `key` before a possible change: looked up without
/// counting a modification (call [`mark_changed`] once something changed).
/// O(1).
fn peek_zset<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut ZSetValue>, Reply> {
    Ok(ctx.ks.peek_as(key)?)
}

/// Records a change of the sorted set at `key`, deleting it if it became
/// empty. O(1).
fn mark_changed(ctx: &mut Ctx, key: &[u8]) {
    let empty = match ctx.ks.write(key) {
        Some(e) => matches!(&e.value, Value::ZSet(z) if z.is_empty()),
        None => false,
    };
    if empty {
        ctx.ks.remove(key);
    }
}

/// Stores `z` at `dst` (clearing its TTL), or deletes `dst` if `z` is
/// empty; returns the stored size (the *STORE commands' reply; GEORADIUS
/// STORE and GEOSEARCHSTORE use it too). O(1).
pub(crate) fn store(ctx: &mut Ctx, dst: &Bytes, z: ZSetValue) -> i64 {
    let n = z.len() as i64;
    if n == 0 {
        ctx.ks.remove(dst);
    } else {
        ctx.ks.set(dst, Value::ZSet(z));
    }
    n
}

/// Parses a score, increment or weight as Redis's `getDoubleFromObject`:
/// [`args::parse_f64_bytes`], except that a value out of a double's range
/// (`1e400`, or `1e-400` rounding to zero) is refused as `strtod`'s ERANGE
/// is; `inf` spelled out is accepted. The geo commands read coordinates
/// and distances with it too.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let f = args::parse_f64_bytes(arg)?;
    let digits = arg.strip_prefix(b"-").or_else(|| arg.strip_prefix(b"+")).unwrap_or(arg);
    if f.is_infinite() && !digits.first().is_some_and(|c| c.eq_ignore_ascii_case(&b'i')) {
        return None;
    }
    let mantissa = digits.split(|c| c.eq_ignore_ascii_case(&b'e')).next().unwrap_or(b"");
    if f == 0.0 && mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
        return None;
    }
    Some(f)
}

/// A score argument, or `ERR value is not a valid float`.
fn score_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_score(arg).ok_or_else(|| Reply::err(err::NOT_FLOAT))
}

/// A score as ZSCAN shows it (Redis's `d2string`): integral scores as
/// integers, others as [`format_double_reply`].
fn scan_score(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return itoa::Buffer::new().format(f as i64).to_string();
    }
    format_double_reply(f)
}

/// Members (with their scores when `withscores`) as Redis 7.0 replies:
/// `member, score` flat, or `[member, score]` pairs when `nested` (RESP3
/// ranges, ZMPOP always); scores as doubles (bulk strings in RESP2).
fn members_reply(items: Vec<(Bytes, f64)>, withscores: bool, nested: bool) -> Reply {
    let mut out = Vec::with_capacity(items.len() * if withscores && !nested { 2 } else { 1 });
    for (m, s) in items {
        if !withscores {
            out.push(Reply::Bulk(m));
        } else if nested {
            out.push(Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]));
        } else {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
    }
    Reply::Array(out)
}

/// ZADD's flags.
#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
/// (and ZINCRBY as ZADD … INCR). O(log n) per member.
fn zadd_generic(ctx: &mut Ctx, a: &[Bytes], mut f: AddFlags) -> CmdResult {
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        match () {
            _ if is(o, "nx") => f.nx = true,
            _ if is(o, "xx") => f.xx = true,
            _ if is(o, "gt") => f.gt = true,
            _ if is(o, "lt") => f.lt = true,
            _ if is(o, "ch") => f.ch = true,
            _ if is(o, "incr") => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = &a[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return fail(err::SYNTAX);
    }
    if f.nx && f.xx {
        return fail("ERR XX and NX options at the same time are not compatible");
    }
    if [f.gt, f.lt, f.nx].iter().filter(|&&b| b).count() > 1 {
        return fail("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest.len() > 2 {
        return fail("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        pairs.push((score_arg(&p[0])?, &p[1]));
    }
    let key = &a[1];
    let nil_or_zero = || if f.incr { Reply::Nil } else { Reply::Int(0) };
    let created = match peek_zset(ctx, key)? {
        Some(_) => false,
        None if f.xx => return Ok(nil_or_zero()),
        None => {
            let longest = pairs.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
            ctx.ks.set_keep_ttl(key, Value::ZSet(ZSetValue::with_hint(pairs.len(), longest)));
            true
        }
    };
    let Some(z) = peek_zset(ctx, key)? else { return Ok(nil_or_zero()) };
    let (mut added, mut updated, mut last) = (0i64, 0i64, None);
    let mut nan = false;
    for (score, m) in pairs {
        match z.score(m) {
            Some(_) if f.nx => {}
            Some(cur) => {
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    nan = true;
                    break;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                last = Some(new);
                if new != cur {
                    z.insert(m, new);
                    updated += 1;
                }
            }
            None if f.xx => {}
            None => {
                z.insert(m, score);
                last = Some(score);
                added += 1;
            }
        }
    }
    if added + updated > 0 || created {
        mark_changed(ctx, key);
    }
    if nan {
        return fail(ERR_NAN);
    }
    if f.incr {
        return Ok(last.map_or(Reply::Nil, Reply::Double));
    }
    Ok(Reply::Int(if f.ch { added + updated } else { added }))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …; GEOADD calls it
/// with the scores it computed, as Redis's `geoaddCommand` calls
/// `zaddCommand` (same keyspace path: dirty, WATCH, encoding changes).
pub(crate) fn zadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, a, AddFlags::default())
}

/// ZINCRBY key increment member: ZADD key INCR increment member.
fn zincrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let args = [a[0].clone(), a[1].clone(), a[2].clone(), a[3].clone()];
    zadd_generic(ctx, &args, AddFlags { incr: true, ..AddFlags::default() })
}

fn zrem(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(z) = peek_zset(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let mut removed = 0;
    for m in &a[2..] {
        if z.remove(m) {
            removed += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        mark_changed(ctx, &a[1]);
    }
    Ok(Reply::Int(removed))
}

fn zcard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_zset(ctx, &a[1])?.map_or(0, |z| z.len() as i64)))
}

fn zscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let s = read_zset(ctx, &a[1])?.and_then(|z| z.score(&a[2]));
    Ok(s.map_or(Reply::Nil, Reply::Double))
}

fn zmscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let z = read_zset(ctx, &a[1])?;
    let out = a[2..].iter().map(|m| z.as_ref().and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double));
    Ok(Reply::Array(out.collect()))
}

/// ZRANK/ZREVRANK key member: the 0-based rank, or nil. O(log n).
fn rank_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> CmdResult {
    let Some(z) = read_zset(ctx, &a[1])? else { return Ok(Reply::Nil) };
    let len = z.len();
    Ok(match z.rank(&a[2]) {
        Some((r, _)) => Reply::Int(if rev { len - 1 - r } else { r } as i64),
        None => Reply::Nil,
    })
}

fn zrank(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    rank_generic(ctx, a, false)
}

fn zrevrank(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    rank_generic(ctx, a, true)
}

/// ZRANDMEMBER key [count [WITHSCORES]]. O(count) (O(n) to copy a
/// packed set's pairs).
fn zrandmember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let resp3 = ctx.client.resp >= 3;
    if a.len() == 2 {
        let Some(z) = read_zset(ctx, &a[1])? else { return Ok(Reply::Nil) };
        let pick = fastrand::usize(..z.len().max(1));
        return Ok(z.get(pick).map_or(Reply::Nil, |(m, _)| Reply::bulk_from(m)));
    }
    let (count, withscores) = args::random_count(&a[2..], Some("withscores"))?;
    let Some(z) = read_zset(ctx, &a[1])? else { return Ok(Reply::Array(Vec::new())) };
    let size = z.len();
    if count == 0 || size == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let items: Vec<(Bytes, f64)> = if count < 0 {
        let pairs: Vec<(&[u8], f64)> = if z.is_packed() { z.iter().collect() } else { Vec::new() };
        (0..count.unsigned_abs())
            .filter_map(|_| {
                let i = fastrand::usize(..size);
                if z.is_packed() {
                    pairs.get(i).copied()
                } else {
                    z.get(i)
                }
            })
            .map(|(m, s)| (Bytes::copy_from_slice(m), s))
            .collect()
    } else if count as u64 >= size as u64 {
        z.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect()
    } else {
        let mut out = sample(z, count as usize);
        fastrand::shuffle(&mut out);
        out
    };
    Ok(members_reply(items, withscores, resp3))
}

/// `count` distinct members of `z` (`count < len`): a selection walk
/// (O(n)) when many are asked for, else distinct random ranks (O(count
/// log n) on a large set).
fn sample(z: &ZSetValue, count: usize) -> Vec<(Bytes, f64)> {
    let size = z.len();
    let own = |(m, s): (&[u8], f64)| (Bytes::copy_from_slice(m), s);
    if z.is_packed() || count * 3 > size {
        let mut need = count;
        let mut out = Vec::with_capacity(count);
        for (seen, item) in z.iter().enumerate() {
            if fastrand::usize(..size - seen) < need {
                out.push(own(item));
                need -= 1;
            }
        }
        return out;
    }
    let mut picked = std::collections::HashSet::with_capacity(count);
    while picked.len() < count {
        picked.insert(fastrand::usize(..size));
    }
    picked.into_iter().filter_map(|i| z.get(i)).map(own).collect()
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: packed sets answer
/// whole with cursor 0 (as Redis); large ones walk their member map's
/// positions downwards (members only move to lower positions, so one
/// present for the whole scan is returned). O(count) per call.
fn zscan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let o = parse_scan_opts(&a[3..], false)?;
    let Some(z) = read_zset(ctx, &a[1])? else { return Ok(scan_reply(0, Vec::new())) };
    let mut out = Vec::new();
    let mut emit = |m: &[u8], s: f64| {
        if o.pattern.as_ref().is_none_or(|p| glob_match(p, m, false)) {
            out.push(Reply::bulk_from(m));
            out.push(Reply::Bulk(Bytes::from(scan_score(s))));
        }
    };
    let next = match z.as_list() {
        None => {
            z.iter().for_each(|(m, s)| emit(m, s));
            0
        }
        Some(l) => scan_positions(l.slots(), cursor, o.count, |i| {
            if let Some((m, s)) = l.slot(i) {
                emit(m, s);
            }
        }),
    };
    Ok(scan_reply(next, out))
}

/// The sorted set commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("zadd", -4, WRITE | DENYOOM | FAST, 1, 1, 1, zadd, "sorted-set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    spec!("zincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, zincrby, "sorted-set", "Increments the score of a member in a sorted set.", "O(log(N)) where N is the number of elements in the sorted set."),
    spec!("zrem", -3, WRITE | FAST, 1, 1, 1, zrem, "sorted-set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    spec!("zcard", 2, READONLY | FAST, 1, 1, 1, zcard, "sorted-set", "Returns the number of members in a sorted set.", "O(1)"),
    spec!("zscore", 3, READONLY | FAST, 1, 1, 1, zscore, "sorted-set", "Returns the score of a member in a sorted set.", "O(1)"),
    spec!("zmscore", -3, READONLY | FAST, 1, 1, 1, zmscore, "sorted-set", "Returns the score of one or more members in a sorted set.", "O(N) where N is the number of members being requested."),
    spec!("zrank", 3, READONLY | FAST, 1, 1, 1, zrank, "sorted-set", "Returns the index of a member in a sorted set ordered by ascending scores.", "O(log(N))"),
    spec!("zrevrank", 3, READONLY | FAST, 1, 1, 1, zrevrank, "sorted-set", "Returns the index of a member in a sorted set ordered by descending scores.", "O(log(N))"),
    spec!("zcount", 4, READONLY | FAST, 1, 1, 1, range::zcount, "sorted-set", "Returns the count of members in a sorted set that have scores within a range.", "O(log(N)) with N being the number of elements in the sorted set."),
    spec!("zlexcount", 4, READONLY | FAST, 1, 1, 1, range::zlexcount, "sorted-set", "Returns the number of members in a sorted set within a lexicographical range.", "O(log(N)) with N being the number of elements in the sorted set."),
    spec!("zrange", -4, READONLY, 1, 1, 1, range::zrange, "sorted-set", "Returns members in a sorted set within a range of indexes.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    spec!("zrangestore", -5, WRITE | DENYOOM, 1, 2, 1, range::zrangestore, "sorted-set", "Stores a range of members from sorted set in a key.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    spec!("zrevrange", -4, READONLY, 1, 1, 1, range::zrevrange, "sorted-set", "Returns members in a sorted set within a range of indexes in reverse order.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    spec!("zrangebyscore", -4, READONLY, 1, 1, 1, range::zrangebyscore, "sorted-set", "Returns members in a sorted set within a range of scores.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    spec!("zrevrangebyscore", -4, READONLY, 1, 1, 1, range::zrevrangebyscore, "sorted-set", "Returns members in a sorted set within a range of scores in reverse order.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    spec!("zrangebylex", -4, READONLY, 1, 1, 1, range::zrangebylex, "sorted-set", "Returns members in a sorted set within a lexicographical range.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    spec!("zrevrangebylex", -4, READONLY, 1, 1, 1, range::zrevrangebylex, "sorted-set", "Returns members in a sorted set within a lexicographical range in reverse order.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."),
    spec!("zremrangebyrank", 4, WRITE, 1, 1, 1, range::zremrangebyrank, "sorted-set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    spec!("zremrangebyscore", 4, WRITE, 1, 1, 1, range::zremrangebyscore, "sorted-set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    spec!("zremrangebylex", 4, WRITE, 1, 1, 1, range::zremrangebylex, "sorted-set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    spec!("zpopmin", -2, WRITE | FAST, 1, 1, 1, pop::zpopmin, "sorted-set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    spec!("zpopmax", -2, WRITE | FAST, 1, 1, 1, pop::zpopmax, "sorted-set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    spec!("zmpop", -4, WRITE | MOVABLE_KEYS, 0, 0, 0, pop::zmpop, "sorted-set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    spec!("bzpopmin", -3, WRITE | FAST | BLOCKING, 1, -2, 1, pop::bzpopmin, "sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "O(log(N)) with N being the number of elements in the sorted set."),
    spec!("bzpopmax", -3, WRITE | FAST | BLOCKING, 1, -2, 1, pop::bzpopmax, "sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", "O(log(N)) with N being the number of elements in the sorted set."),
    spec!("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, 0, 0, 0, pop::bzmpop, "sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    spec!("zrandmember", -2, READONLY, 1, 1, 1, zrandmember, "sorted-set", "Returns one or more random members from a sorted set.", "O(N) where N is the number of members returned"),
    spec!("zunion", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, setops::zunion, "sorted-set", "Returns the union of multiple sorted sets.", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    spec!("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, setops::zunionstore, "sorted-set", "Stores the union of multiple sorted sets in a key.", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    spec!("zinter", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, setops::zinter, "sorted-set", "Returns the intersect of multiple sorted sets.", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    spec!("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, setops::zinterstore, "sorted-set", "Stores the intersect of multiple sorted sets in a key.", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    spec!("zintercard", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, setops::zintercard, "sorted-set", "Returns the number of members of the intersect of multiple sorted sets.", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    spec!("zdiff", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, setops::zdiff, "sorted-set", "Returns the difference between multiple sorted sets.", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    spec!("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, setops::zdiffstore, "sorted-set", "Stores the difference of multiple sorted sets in a key.", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    spec!("zscan", -3, READONLY, 1, 1, 1, zscan, "sorted-set", "Iterates over members and scores of a sorted set.", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
];
