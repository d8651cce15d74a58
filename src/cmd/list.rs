//! List commands (Redis's `t_list.c`): pushes and pops at both ends, access
//! by index and range, LREM/LINSERT/LPOS, moves between lists, LMPOP, and
//! (in `list_blocking.rs`) the blocking pops BLPOP, BRPOP, BLMOVE,
//! BRPOPLPUSH and BLMPOP.
//!
//! Storage (packed while small, a deque when large) is
//! [`crate::db::list::ListValue`]. A list that becomes empty is deleted,
//! and every command that adds elements signals the key so clients blocked
//! on it retry.

use bytes::Bytes;

use super::args::{self, err, fail, int, is};
use super::table::flags::*;
use super::{CmdResult, Ctx};
pub(crate) use crate::db::list::End;
use crate::db::list::ListValue;
use crate::db::{Locked, Value};
use crate::protocol::Reply;
use crate::spec;

#[path = "list_blocking.rs"]
mod blocking;

type List = ListValue;

/// Parses `LEFT|RIGHT`, or `ERR syntax error`.
fn parse_end(arg: &[u8]) -> Result<End, Reply> {
    if is(arg, "left") {
        Ok(End::Left)
    } else if is(arg, "right") {
        Ok(End::Right)
    } else {
        fail(err::SYNTAX)
    }
}

/// Redis's `getRangeLongFromObjectOrReply`: an integer in `min..=max`. With
/// `msg`, that text answers both a non-integer and an out-of-range value.
fn ranged_int(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, Reply> {
    let Some(v) = args::parse_i64_bytes(arg) else { return fail(msg.unwrap_or(err::NOT_INT)) };
    if v < min || v > max {
        return match msg {
            Some(m) => fail(m),
            None => Err(Reply::Error(format!("ERR value is out of range, value must between {min} and {max}"))),
        };
    }
    Ok(v)
}

/// The list at `key` for a write (LRU touch, no hit/miss stats): `None` if
/// missing, WRONGTYPE if the key holds another type. O(1).
fn write_list<'c>(ks: &'c mut Locked<'_>, key: &[u8]) -> Result<Option<&'c mut List>, Reply> {
    Ok(ks.write_as(key)?)
}

/// The list at `key` for a read (counts a hit or miss). O(1).
fn read_list<'c>(ks: &'c mut Locked<'_>, key: &[u8]) -> Result<Option<&'c mut List>, Reply> {
    Ok(ks.read_as(key)?)
}

/// Pushes `items` one by one at `end` (so LPUSH reverses them, as Redis).
fn push_all(l: &mut List, end: End, items: &[Bytes]) {
    for v in items {
        l.push(end, v);
    }
}

/// Pops up to `n` elements from `end` of the list at `key` (in pop order)
/// and deletes the key if it becomes empty. O(n).
fn pop_n(ks: &mut Locked<'_>, key: &[u8], end: End, n: usize) -> Vec<Bytes> {
    let (out, empty) = match write_list(ks, key) {
        Ok(Some(l)) => {
            let n = n.min(l.len());
            let out: Vec<Bytes> = (0..n).filter_map(|_| l.pop(end)).map(|v| v.to_bytes()).collect();
            (out, l.is_empty())
        }
        _ => return Vec::new(),
    };
    if empty {
        ks.remove(key);
    }
    out
}

/// Pushes onto the list at `key`, creating it unless `only_existing`;
/// returns the new length (0 when nothing was pushed).
fn push_to(ctx: &mut Ctx, key: &Bytes, end: End, items: &[Bytes], only_existing: bool) -> Result<usize, Reply> {
    let n = match write_list(ctx.ks, key)? {
        Some(l) => {
            push_all(l, end, items);
            l.len()
        }
        None if only_existing => return Ok(0),
        None => {
            let mut l = ListValue::default();
            push_all(&mut l, end, items);
            let n = l.len();
            ctx.ks.set(key, Value::List(l));
            n
        }
    };
    ctx.ks.signal_ready(key);
    Ok(n)
}

fn lpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(push_to(ctx, &a[1], End::Left, &a[2..], false)? as i64))
}

fn rpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(push_to(ctx, &a[1], End::Right, &a[2..], false)? as i64))
}

fn lpushx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(push_to(ctx, &a[1], End::Left, &a[2..], true)? as i64))
}

fn rpushx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(push_to(ctx, &a[1], End::Right, &a[2..], true)? as i64))
}

/// LPOP/RPOP key [count].
fn pop(ctx: &mut Ctx, a: &[Bytes], end: End) -> CmdResult {
    if a.len() > 3 {
        return Err(args::arity_error(if end == End::Left { "lpop" } else { "rpop" }));
    }
    let count = match a.get(2) {
        Some(c) => Some(ranged_int(c, 0, i64::MAX, Some(err::NOT_POSITIVE))? as usize),
        None => None,
    };
    let key = &a[1];
    if write_list(ctx.ks, key)?.is_none() {
        return Ok(if count.is_some() { Reply::NilArray } else { Reply::Nil });
    }
    match count {
        None => Ok(Reply::opt_bulk(pop_n(ctx.ks, key, end, 1).into_iter().next())),
        Some(n) => Ok(Reply::bulk_array(pop_n(ctx.ks, key, end, n))),
    }
}

fn lpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    pop(ctx, a, End::Left)
}

fn rpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    pop(ctx, a, End::Right)
}

fn llen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_list(ctx.ks, &a[1])?.map_or(0, |l| l.len() as i64)))
}

fn lindex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(l) = read_list(ctx.ks, &a[1])? else { return Ok(Reply::Nil) };
    let idx = int(&a[2])?;
    Ok(args::index(idx, l.len()).and_then(|i| l.get(i)).map_or(Reply::Nil, Reply::bulk_from))
}

fn lset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(l) = write_list(ctx.ks, &a[1])? else { return fail(err::NO_KEY) };
    let idx = int(&a[2])?;
    match args::index(idx, l.len()) {
        Some(i) if l.set(i, &a[3]) => args::ok(),
        _ => fail(err::INDEX_RANGE),
    }
}

fn lrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    let Some(l) = read_list(ctx.ks, &a[1])? else { return Ok(Reply::Array(Vec::new())) };
    Ok(match args::range(start, stop, l.len()) {
        Some((s, e)) => Reply::bulk_array_encoded(l.range(s, e)),
        None => Reply::Array(Vec::new()),
    })
}

fn ltrim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    let key = &a[1];
    let Some(l) = write_list(ctx.ks, key)? else { return args::ok() };
    match args::range(start, stop, l.len()) {
        Some((s, e)) => l.trim(s, e),
        None => {
            ctx.ks.remove(key);
        }
    }
    args::ok()
}

fn lrem(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let count = ranged_int(&a[2], -i64::MAX, i64::MAX, None)?;
    let key = &a[1];
    let elem = &a[3];
    let Some(l) = write_list(ctx.ks, key)? else { return Ok(Reply::Int(0)) };
    // Which matches go: those at positions in `lo..=hi` (the first `count`
    // from the head, the last `-count` from the tail, or all).
    let limit = count.unsigned_abs() as usize;
    let (lo, hi) = if count == 0 {
        (0, usize::MAX)
    } else if count > 0 {
        let last = l.iter().enumerate().filter(|(_, v)| *v == &elem[..]).take(limit).last();
        (0, last.map_or(0, |(i, _)| i))
    } else {
        let matches: Vec<usize> = l.iter().enumerate().filter(|(_, v)| *v == &elem[..]).map(|(i, _)| i).collect();
        let first = matches.get(matches.len().saturating_sub(limit));
        (first.map_or(usize::MAX, |&i| i), usize::MAX)
    };
    let before = l.len();
    l.retain(|i, v| i < lo || i > hi || v != &elem[..]);
    let removed = before - l.len();
    if l.is_empty() {
        ctx.ks.remove(key);
    }
    Ok(Reply::Int(removed as i64))
}

fn linsert(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let after = if is(&a[2], "after") {
        true
    } else if is(&a[2], "before") {
        false
    } else {
        return fail(err::SYNTAX);
    };
    let key = &a[1];
    let Some(l) = write_list(ctx.ks, key)? else { return Ok(Reply::Int(0)) };
    let Some(pos) = l.iter().position(|v| v == &a[3][..]) else { return Ok(Reply::Int(-1)) };
    l.insert(if after { pos + 1 } else { pos }, &a[4]);
    let n = l.len();
    ctx.ks.signal_ready(key);
    Ok(Reply::Int(n as i64))
}

fn lpos(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    let mut i = 3;
    while i < a.len() {
        let more = i + 1 < a.len();
        if is(&a[i], "rank") && more {
            rank = ranged_int(&a[i + 1], -i64::MAX, i64::MAX, None)?;
            if rank == 0 {
                return fail(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                );
            }
        } else if is(&a[i], "count") && more {
            count = Some(ranged_int(&a[i + 1], 0, i64::MAX, Some("ERR COUNT can't be negative"))? as usize);
        } else if is(&a[i], "maxlen") && more {
            maxlen = ranged_int(&a[i + 1], 0, i64::MAX, Some("ERR MAXLEN can't be negative"))? as usize;
        } else {
            return fail(err::SYNTAX);
        }
        i += 2;
    }
    let Some(l) = read_list(ctx.ks, &a[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
    };
    let elem = &a[2];
    let len = l.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let skip = rank.unsigned_abs() as usize - 1;
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let found: Vec<usize> = if rank > 0 {
        l.iter().take(scan).enumerate().filter(|(_, v)| v == &&elem[..]).map(|(p, _)| p).skip(skip).take(want).collect()
    } else {
        // A walk from the head finds the matches; the tail's come last.
        let mut m: Vec<usize> = l
            .range(len - scan, len - 1)
            .enumerate()
            .filter(|(_, v)| v == &&elem[..])
            .map(|(p, _)| p + len - scan)
            .collect();
        m.reverse();
        m.into_iter().skip(skip).take(want).collect()
    };
    Ok(match count {
        Some(_) => Reply::Array(found.into_iter().map(|p| Reply::Int(p as i64)).collect()),
        None => found.first().map_or(Reply::Nil, |&p| Reply::Int(p as i64)),
    })
}

/// LMOVE's work once its directions are parsed: nil if `src` is missing,
/// WRONGTYPE if either key holds another type, else the moved element.
/// Deletes `src` if emptied and signals `dst`. O(1).
fn move_one(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from: End, to: End) -> CmdResult {
    if write_list(ctx.ks, src)?.is_none_or(|l| l.is_empty()) {
        return Ok(Reply::Nil);
    }
    if src == dst {
        // A rotation: the list is never empty in between, so it keeps its TTL.
        let Some(l) = write_list(ctx.ks, src)? else { return Ok(Reply::Nil) };
        let Some(v) = l.pop(from) else { return Ok(Reply::Nil) };
        l.push(to, &v);
        ctx.ks.signal_ready(dst);
        return Ok(Reply::Bulk(v.to_bytes()));
    }
    write_list(ctx.ks, dst)?;
    let Some(v) = pop_n(ctx.ks, src, from, 1).into_iter().next() else { return Ok(Reply::Nil) };
    push_to(ctx, dst, to, std::slice::from_ref(&v), false)?;
    Ok(Reply::Bulk(v))
}

fn lmove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (from, to) = (parse_end(&a[3])?, parse_end(&a[4])?);
    move_one(ctx, &a[1], &a[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    move_one(ctx, &a[1], &a[2], End::Right, End::Left)
}

/// The parsed tail of LMPOP/BLMPOP: `numkeys key... LEFT|RIGHT [COUNT n]`.
struct MpopArgs<'a> {
    keys: &'a [Bytes],
    end: End,
    count: usize,
}

/// Parses LMPOP/BLMPOP arguments; `numkeys_at` is the position of numkeys.
fn parse_mpop(a: &[Bytes], numkeys_at: usize) -> Result<MpopArgs<'_>, Reply> {
    let numkeys = ranged_int(&a[numkeys_at], 1, i64::MAX, Some("ERR numkeys should be greater than 0"))? as usize;
    let end_at = match numkeys_at.checked_add(numkeys).and_then(|n| n.checked_add(1)) {
        Some(i) if i < a.len() => i,
        _ => return fail(err::SYNTAX),
    };
    let end = parse_end(&a[end_at])?;
    let mut count = None;
    let mut i = end_at + 1;
    while i < a.len() {
        if count.is_none() && is(&a[i], "count") && i + 1 < a.len() {
            count = Some(ranged_int(&a[i + 1], 1, i64::MAX, Some("ERR count should be greater than 0"))? as usize);
            i += 2;
        } else {
            return fail(err::SYNTAX);
        }
    }
    Ok(MpopArgs { keys: &a[numkeys_at + 1..end_at], end, count: count.unwrap_or(1) })
}

/// Pops up to `count` elements from `key` (which must hold a non-empty
/// list) as LMPOP's `[key, [elements]]` reply, and marks WATCHers dirty
/// (the table cannot name LMPOP's keys).
fn mpop_from(ctx: &mut Ctx, key: &Bytes, end: End, count: usize) -> Reply {
    let items = pop_n(ctx.ks, key, end, count);
    ctx.srv.signal_modified_key(ctx.ks.db, key, Some(ctx.client.id()));
    Reply::Array(vec![Reply::Bulk(key.clone()), Reply::bulk_array(items)])
}

fn lmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let m = parse_mpop(a, 1)?;
    for key in m.keys {
        if write_list(ctx.ks, key)?.is_some_and(|l| !l.is_empty()) {
            return Ok(mpop_from(ctx, key, m.end, m.count));
        }
    }
    Ok(Reply::NilArray)
}

/// The list family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("lpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, lpush, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    spec!("rpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, rpush, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    spec!("lpushx", -3, WRITE | DENYOOM | FAST, 1, 1, 1, lpushx, "list", "Prepends one or more elements to a list only when the list exists.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    spec!("rpushx", -3, WRITE | DENYOOM | FAST, 1, 1, 1, rpushx, "list", "Appends an element to a list only when the list exists.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    spec!("lpop", -2, WRITE | FAST, 1, 1, 1, lpop, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "O(N) where N is the number of elements returned"),
    spec!("rpop", -2, WRITE | FAST, 1, 1, 1, rpop, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "O(N) where N is the number of elements returned"),
    spec!("llen", 2, READONLY | FAST, 1, 1, 1, llen, "list", "Returns the length of a list.", "O(1)"),
    spec!("lindex", 3, READONLY, 1, 1, 1, lindex, "list", "Returns an element from a list by its index.", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    spec!("lset", 4, WRITE | DENYOOM, 1, 1, 1, lset, "list", "Sets the value of an element in a list by its index.", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    spec!("lrange", 4, READONLY, 1, 1, 1, lrange, "list", "Returns a range of elements from a list.", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    spec!("ltrim", 4, WRITE, 1, 1, 1, ltrim, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "O(N) where N is the number of elements to be removed by the operation."),
    spec!("lrem", 4, WRITE, 1, 1, 1, lrem, "list", "Removes elements from a list. Deletes the list if the last element was removed.", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    spec!("linsert", 5, WRITE | DENYOOM, 1, 1, 1, linsert, "list", "Inserts an element before or after another element in a list.", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    spec!("lpos", -3, READONLY, 1, 1, 1, lpos, "list", "Returns the index of matching elements in a list.", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    spec!("lmove", 5, WRITE | DENYOOM, 1, 2, 1, lmove, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "O(1)"),
    spec!("rpoplpush", 3, WRITE | DENYOOM, 1, 2, 1, rpoplpush, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "O(1)"),
    spec!("lmpop", -4, WRITE | MOVABLE_KEYS, 0, 0, 0, lmpop, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    spec!("blpop", -3, WRITE | BLOCKING, 1, -2, 1, blocking::blpop, "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N) where N is the number of provided keys."),
    spec!("brpop", -3, WRITE | BLOCKING, 1, -2, 1, blocking::brpop, "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N) where N is the number of provided keys."),
    spec!("blmove", 6, WRITE | DENYOOM | BLOCKING, 1, 2, 1, blocking::blmove, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "O(1)"),
    spec!("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, 1, 2, 1, blocking::brpoplpush, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "O(1)"),
    spec!("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, 0, 0, 0, blocking::blmpop, "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];
