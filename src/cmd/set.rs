//! Set commands (Redis's `t_set.c`): SADD/SREM and the membership queries,
//! random members (SRANDMEMBER, SPOP), SMOVE, SSCAN, and the set algebra
//! (SINTER/SUNION/SDIFF and their STORE and CARD forms, in [`algebra`]).
//!
//! Storage (integers, packed or a table) is [`crate::db::set::SetValue`].
//! A command only counts as a write (dirty counter, WATCH, AOF) when it
//! changes something: membership is checked before a key is opened for
//! writing.

mod algebra;

use bytes::Bytes;

use super::args::{self, err, fail};
use super::keys::{parse_cursor, parse_scan_opts, scan_positions, scan_reply};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::glob::glob_match;
use crate::db::sample::distinct_positions;
use crate::db::value::SetValue;
use crate::db::Value;
use crate::protocol::Reply;
use crate::spec;

/// The set at `key` for a read (counts hit/miss): `None` if missing,
/// WRONGTYPE if it holds another type. O(1).
fn read_set<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut SetValue>, Reply> {
    Ok(ctx.ks.read_as(key)?)
}

/// The set at `key` before a possible write: no stats, and not yet counted
/// as a modification (see [`write_set`]). O(1).
fn peek_set<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut SetValue>, Reply> {
    Ok(ctx.ks.peek_as(key)?)
}

/// The set at `key`, opened for a write that will change it (counted as a
/// modification). O(1).
fn write_set<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut SetValue>, Reply> {
    Ok(ctx.ks.write_as(key)?)
}

/// The set at `key`, created empty if missing (the caller adds a member
/// before returning). The key's TTL is untouched. O(1).
fn set_or_create<'c>(ctx: &'c mut Ctx<'_, '_>, key: &Bytes) -> Result<&'c mut SetValue, Reply> {
    Ok(ctx.ks.get_or_create(key)?)
}

/// Deletes `key` if its set became empty (Redis never keeps empty sets).
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if ctx.ks.peek(key).is_some_and(|e| matches!(&e.value, Value::Set(s) if s.is_empty())) {
        ctx.ks.remove(key);
    }
}

/// Bulk replies of `members`.
fn bulks<'m>(members: impl IntoIterator<Item = std::borrow::Cow<'m, [u8]>>) -> Vec<Reply> {
    members.into_iter().map(|m| Reply::bulk_from(&m)).collect()
}

fn sadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let members = &a[2..];
    if let Some(s) = peek_set(ctx, &a[1])? {
        if members.iter().all(|m| s.contains(m)) {
            return Ok(Reply::Int(0));
        }
    }
    let s = set_or_create(ctx, &a[1])?;
    Ok(Reply::Int(members.iter().filter(|m| s.insert(m)).count() as i64))
}

fn srem(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let members = &a[2..];
    let Some(s) = peek_set(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    if !members.iter().any(|m| s.contains(m)) {
        return Ok(Reply::Int(0));
    }
    let Some(s) = write_set(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let removed = members.iter().filter(|m| s.remove(m)).count();
    drop_if_empty(ctx, &a[1]);
    Ok(Reply::Int(removed as i64))
}

fn smove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    // As Redis: a missing source answers 0 before the destination's type is checked.
    let Some(s) = peek_set(ctx, src)? else { return Ok(Reply::Int(0)) };
    let in_src = s.contains(m);
    let in_dst = peek_set(ctx, dst)?.is_some_and(|d| d.contains(m));
    if src == dst || !in_src {
        return Ok(Reply::Int(in_src as i64));
    }
    if let Some(s) = write_set(ctx, src)? {
        s.remove(m);
    }
    drop_if_empty(ctx, src);
    // The destination is only modified (and WATCHers told) if the member is new there.
    if !in_dst {
        set_or_create(ctx, dst)?.insert(m);
    }
    Ok(Reply::Int(1))
}

fn scard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_set(ctx, &a[1])?.map_or(0, |s| s.len()) as i64))
}

fn sismember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_set(ctx, &a[1])?.is_some_and(|s| s.contains(&a[2])) as i64))
}

fn smismember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let s = read_set(ctx, &a[1])?;
    let found = |m: &Bytes| s.as_ref().is_some_and(|s| s.contains(m));
    Ok(Reply::Array(a[2..].iter().map(|m| Reply::Int(found(m) as i64)).collect()))
}

fn smembers(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Set(read_set(ctx, &a[1])?.map_or_else(Vec::new, |s| bulks(s.iter()))))
}

fn srandmember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        let s = read_set(ctx, &a[1])?;
        return Ok(s.and_then(|s| s.random().map(|m| Reply::bulk_from(&m))).unwrap_or(Reply::Nil));
    }
    let (count, _) = args::random_count(&a[2..], None)?;
    let Some(s) = read_set(ctx, &a[1])? else { return Ok(Reply::Array(Vec::new())) };
    let size = s.len();
    if count == 0 || size == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let n = count.unsigned_abs() as usize;
    let members = if count < 0 {
        // Repeats allowed: independent uniform draws.
        s.members_at((0..n).map(|_| fastrand::usize(..size)))
    } else if n >= size {
        s.iter().collect()
    } else {
        s.members_at(distinct_positions(size, n))
    };
    Ok(Reply::Array(bulks(members)))
}

fn spop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return fail(err::SYNTAX);
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => Some(args::positive_int(c, err::NOT_POSITIVE)? as usize),
    };
    let Some(s) = peek_set(ctx, &a[1])? else {
        return Ok(if count.is_some() { Reply::Set(Vec::new()) } else { Reply::Nil });
    };
    if s.is_empty() || count == Some(0) {
        return Ok(Reply::Set(Vec::new()));
    }
    let Some(s) = write_set(ctx, &a[1])? else { return Ok(Reply::Nil) };
    let popped = s.pop_random(count.unwrap_or(1));
    drop_if_empty(ctx, &a[1]);
    Ok(match count {
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
        None => popped.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
    })
}

/// SSCAN: sets in a compact form answer whole with cursor 0 (whatever
/// COUNT says, as Redis answers intsets); tables walk positions
/// downwards, the cursor being how many positions remain.
fn sscan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(s) = read_set(ctx, &a[1])? else { return Ok(scan_reply(0, Vec::new())) };
    let o = parse_scan_opts(&a[3..], false)?;
    let wanted = |m: &[u8]| o.pattern.as_ref().is_none_or(|p| glob_match(p, m, false));
    let mut out = Vec::new();
    let next = if s.is_compact() {
        out.extend(s.iter().filter(|m| wanted(m)).map(|m| Reply::bulk_from(&m)));
        0
    } else {
        scan_positions(s.len(), cursor, o.count, |i| {
            if let Some(m) = s.get_index(i).filter(|m| wanted(m)) {
                out.push(Reply::bulk_from(&m));
            }
        })
    };
    Ok(scan_reply(next, out))
}

/// The set commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("sadd", -3, WRITE | DENYOOM | FAST, 1, 1, 1, sadd, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    spec!("srem", -3, WRITE | FAST, 1, 1, 1, srem, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", "O(N) where N is the number of members to be removed."),
    spec!("smove", 4, WRITE | FAST, 1, 2, 1, smove, "set", "Moves a member from one set to another.", "O(1)"),
    spec!("scard", 2, READONLY | FAST, 1, 1, 1, scard, "set", "Returns the number of members in a set.", "O(1)"),
    spec!("sismember", 3, READONLY | FAST, 1, 1, 1, sismember, "set", "Determines whether a member belongs to a set.", "O(1)"),
    spec!("smismember", -3, READONLY | FAST, 1, 1, 1, smismember, "set", "Determines whether multiple members belong to a set.", "O(N) where N is the number of elements being checked for membership"),
    spec!("smembers", 2, READONLY, 1, 1, 1, smembers, "set", "Returns all members of a set.", "O(N) where N is the set cardinality."),
    spec!("srandmember", -2, READONLY, 1, 1, 1, srandmember, "set", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    spec!("spop", -2, WRITE | FAST, 1, 1, 1, spop, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    spec!("sinter", -2, READONLY, 1, -1, 1, algebra::sinter, "set", "Returns the intersect of multiple sets.", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    spec!("sintercard", -3, READONLY | MOVABLE_KEYS, 0, 0, 0, algebra::sintercard, "set", "Returns the number of members of the intersect of multiple sets.", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    spec!("sinterstore", -3, WRITE | DENYOOM, 1, -1, 1, algebra::sinterstore, "set", "Stores the intersect of multiple sets in a key.", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    spec!("sunion", -2, READONLY, 1, -1, 1, algebra::sunion, "set", "Returns the union of multiple sets.", "O(N) where N is the total number of elements in all given sets."),
    spec!("sunionstore", -3, WRITE | DENYOOM, 1, -1, 1, algebra::sunionstore, "set", "Stores the union of multiple sets in a key.", "O(N) where N is the total number of elements in all given sets."),
    spec!("sdiff", -2, READONLY, 1, -1, 1, algebra::sdiff, "set", "Returns the difference of multiple sets.", "O(N) where N is the total number of elements in all given sets."),
    spec!("sdiffstore", -3, WRITE | DENYOOM, 1, -1, 1, algebra::sdiffstore, "set", "Stores the difference of multiple sets in a key.", "O(N) where N is the total number of elements in all given sets."),
    spec!("sscan", -3, READONLY, 1, 1, 1, sscan, "set", "Iterates over members of a set.", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
];
