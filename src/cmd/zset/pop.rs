//! Pops: ZPOPMIN, ZPOPMAX, ZMPOP, and the blocking BZPOPMIN, BZPOPMAX,
//! BZMPOP on the shared mechanism of [`crate::cmd::blocking`].

use bytes::Bytes;

use super::{mark_changed, members_reply, peek_zset};
use crate::cmd::args::{self, err, fail, is};
use crate::cmd::blocking::{parse_timeout, serve};
use crate::cmd::{CmdResult, Ctx};
use crate::db::Value;
use crate::protocol::Reply;

/// A sorted-set key serves a blocked pop when it holds members.
fn zset_ready(v: &Value) -> Option<bool> {
    match v {
        Value::ZSet(z) => Some(!z.is_empty()),
        _ => None,
    }
}

/// Pops up to `n` members from the low (or, with `max`, high) end of the
/// sorted set at `key`, in pop order; deletes it if emptied. O(log len + n).
fn pop_n(ctx: &mut Ctx, key: &[u8], max: bool, n: usize) -> Vec<(Bytes, f64)> {
    let Ok(Some(z)) = peek_zset(ctx, key) else { return Vec::new() };
    let len = z.len();
    let n = n.min(len);
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(n);
    let start = if max { len - 1 } else { 0 };
    z.walk(start, n, max, |m, s| out.push((Bytes::copy_from_slice(m), s)));
    if max {
        z.remove_range(len - n, len - 1);
    } else {
        z.remove_range(0, n - 1);
    }
    mark_changed(ctx, key);
    out
}

/// ZPOPMIN/ZPOPMAX key [count]: flat `member, score` pairs (nested in
/// RESP3 when a count is given). O(log n + count).
fn zpop(ctx: &mut Ctx, a: &[Bytes], max: bool) -> CmdResult {
    if a.len() > 3 {
        return fail(err::SYNTAX);
    }
    let count = match a.get(2) {
        Some(c) => Some(args::positive_int(c, err::NOT_POSITIVE)? as usize),
        None => None,
    };
    if peek_zset(ctx, &a[1])?.is_none() || count == Some(0) {
        return Ok(Reply::Array(Vec::new()));
    }
    let items = pop_n(ctx, &a[1], max, count.unwrap_or(1));
    let resp3 = ctx.client.resp >= 3;
    Ok(members_reply(items, true, resp3 && count.is_some()))
}

pub(super) fn zpopmin(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zpop(ctx, a, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zpop(ctx, a, true)
}

/// The parsed tail of ZMPOP/BZMPOP: `numkeys key... MIN|MAX [COUNT n]`.
struct Mpop<'a> {
    keys: &'a [Bytes],
    max: bool,
    count: usize,
}

/// Parses ZMPOP/BZMPOP arguments; `at` is the position of numkeys.
fn parse_mpop(a: &[Bytes], at: usize) -> Result<Mpop<'_>, Reply> {
    let bad_numkeys = || Reply::err("ERR numkeys should be greater than 0");
    let n = args::parse_i64_bytes(&a[at]).filter(|&n| n >= 1).ok_or_else(bad_numkeys)? as u64;
    let where_at = match (at as u64).checked_add(n).and_then(|x| x.checked_add(1)) {
        Some(i) if i < a.len() as u64 => i as usize,
        _ => return fail(err::SYNTAX),
    };
    let max = if is(&a[where_at], "min") {
        false
    } else if is(&a[where_at], "max") {
        true
    } else {
        return fail(err::SYNTAX);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if count.is_none() && is(&a[j], "count") && j + 1 < a.len() {
            let bad = || Reply::err("ERR count should be greater than 0");
            count = Some(args::parse_i64_bytes(&a[j + 1]).filter(|&c| c >= 1).ok_or_else(bad)? as usize);
            j += 2;
        } else {
            return fail(err::SYNTAX);
        }
    }
    Ok(Mpop { keys: &a[at + 1..where_at], max, count: count.unwrap_or(1) })
}

/// Pops from `key` (a non-empty sorted set) as ZMPOP's `[key, [[member,
/// score], ...]]`.
fn mpop_from(ctx: &mut Ctx, key: &Bytes, max: bool, count: usize) -> Reply {
    let items = pop_n(ctx, key, max, count);
    Reply::Array(vec![Reply::Bulk(key.clone()), members_reply(items, true, true)])
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first
/// existing key (WRONGTYPE if it is not a sorted set), or a null array.
pub(super) fn zmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let m = parse_mpop(a, 1)?;
    for key in m.keys {
        if peek_zset(ctx, key)?.is_some() {
            return Ok(mpop_from(ctx, key, m.max, m.count));
        }
    }
    Ok(Reply::NilArray)
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout: `[key, member, score]`, or a
/// null array on timeout. O(keys + log n).
fn bzpop(ctx: &mut Ctx, a: &[Bytes], max: bool) -> CmdResult {
    let timeout = parse_timeout(&a[a.len() - 1])?;
    serve(ctx, &a[1..a.len() - 1], timeout, Reply::NilArray, zset_ready, |ctx, key| {
        let mut out = vec![Reply::Bulk(key.clone())];
        for (m, s) in pop_n(ctx, key, max, 1) {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
        Ok(Reply::Array(out))
    })
}

pub(super) fn bzpopmin(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bzpop(ctx, a, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bzpop(ctx, a, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: as ZMPOP,
/// blocking while every key is empty; a null array on timeout.
pub(super) fn bzmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let m = parse_mpop(a, 2)?;
    let timeout = parse_timeout(&a[1])?;
    serve(ctx, m.keys, timeout, Reply::NilArray, zset_ready, |ctx, key| Ok(mpop_from(ctx, key, m.max, m.count)))
}
