//! Ranges of a sorted set by rank, score or member (lex): the ZRANGE
//! family, ZRANGESTORE, ZCOUNT/ZLEXCOUNT and ZREMRANGEBY*.
//!
//! Every range is first turned into an interval of ascending ranks
//! `lo..hi` ([`Range::ranks`]: O(log n) on a large set), then LIMIT and
//! direction pick the part of it to walk.

use bytes::Bytes;

use super::{mark_changed, members_reply, peek_zset, read_zset, store, ERR_RANGE_FLOAT};
use crate::cmd::args::{self, err, fail, is};
use crate::cmd::{CmdResult, Ctx};
use crate::db::zset::ZSetValue;
use crate::protocol::Reply;

/// Redis's error for a malformed lex range bound.
const ERR_LEX: &str = "ERR min or max not valid string range item";

/// How the range bounds are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Rank,
    Score,
    Lex,
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone)]
pub(super) enum Lex {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

/// A parsed range.
pub(super) enum Range {
    /// Redis indexes (negative from the end), inclusive.
    Rank(i64, i64),
    /// Scores `min..max`, each end exclusive when flagged.
    Score { min: f64, minex: bool, max: f64, maxex: bool },
    /// Members (all scores equal).
    Lex { min: Lex, max: Lex },
}

/// One end of a score range: `(` makes it exclusive; as `strtod`, the
/// empty string reads as 0 and NaN is refused.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, ex) = match arg.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (arg, false),
    };
    let trimmed = text.trim_ascii_start();
    if trimmed.is_empty() && text.len() == trimmed.len() {
        return Some((0.0, ex));
    }
    let (neg, digits) = match trimmed.first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    // strtod also reads hexadecimal (integers here).
    if let Some(hex) = digits.strip_prefix(b"0x").or_else(|| digits.strip_prefix(b"0X")) {
        let v = u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()? as f64;
        return Some((if neg { -v } else { v }, ex));
    }
    args::parse_f64_bytes(trimmed).map(|f| (f, ex))
}

fn lex_bound(arg: &Bytes) -> Option<Lex> {
    match arg.first() {
        Some(b'+') if arg.len() == 1 => Some(Lex::Max),
        Some(b'-') if arg.len() == 1 => Some(Lex::Min),
        Some(b'[') => Some(Lex::Incl(arg.slice(1..))),
        Some(b'(') => Some(Lex::Excl(arg.slice(1..))),
        _ => None,
    }
}

impl Range {
    /// Parses `min max` as `kind`, with Redis's error for each kind.
    pub(super) fn parse(kind: Kind, min: &Bytes, max: &Bytes) -> Result<Range, Reply> {
        Ok(match kind {
            Kind::Rank => Range::Rank(args::int(min)?, args::int(max)?),
            Kind::Score => match (score_bound(min), score_bound(max)) {
                (Some((min, minex)), Some((max, maxex))) => Range::Score { min, minex, max, maxex },
                _ => return fail(ERR_RANGE_FLOAT),
            },
            Kind::Lex => match (lex_bound(min), lex_bound(max)) {
                (Some(min), Some(max)) => Range::Lex { min, max },
                _ => return fail(ERR_LEX),
            },
        })
    }

    /// The ascending ranks `lo..hi` the range covers in `z` (a rank range
    /// counts from the top when `rev`). O(log n) large, O(bytes) packed.
    pub(super) fn ranks(&self, z: &ZSetValue, rev: bool) -> (usize, usize) {
        let len = z.len();
        match self {
            Range::Rank(start, stop) => match args::range(*start, *stop, len) {
                None => (0, 0),
                Some((s, e)) if rev => (len - 1 - e, len - s),
                Some((s, e)) => (s, e + 1),
            },
            Range::Score { min, minex, max, maxex } => {
                let lo = z.score_prefix_len(|s| if *minex { s <= *min } else { s < *min });
                let hi = z.score_prefix_len(|s| if *maxex { s < *max } else { s <= *max });
                (lo, hi.max(lo))
            }
            Range::Lex { min, max } => lex_ranks(z, min, max, rev),
        }
    }
}

/// Whether `m` is at or past the lower end of a lex range.
fn gte_min(m: &[u8], min: &Lex) -> bool {
    match min {
        Lex::Min => true,
        Lex::Max => false,
        Lex::Incl(b) => m >= &b[..],
        Lex::Excl(b) => m > &b[..],
    }
}

/// Whether `m` is at or before the upper end of a lex range.
fn lte_max(m: &[u8], max: &Lex) -> bool {
    match max {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(b) => m <= &b[..],
        Lex::Excl(b) => m < &b[..],
    }
}

/// The ascending ranks `lo..hi` of a lex range, found as Redis finds them
/// (the same as a plain search when all scores are equal; otherwise
/// Redis's answer is defined by its walk, which this follows): empty if
/// the bounds cross or the set lies outside them; forwards, from the first
/// member at or past `min` while members stay within `max`; backwards,
/// from the last member within `max` while members stay at or past `min`.
/// O(log n + matched) large, O(bytes) packed.
fn lex_ranks(z: &ZSetValue, min: &Lex, max: &Lex, rev: bool) -> (usize, usize) {
    let crossed = match (min, max) {
        (Lex::Max, _) | (_, Lex::Min) => true,
        (Lex::Min, _) | (_, Lex::Max) => false,
        (Lex::Incl(a), Lex::Incl(b)) => a > b,
        (Lex::Incl(a) | Lex::Excl(a), Lex::Incl(b) | Lex::Excl(b)) => a >= b,
    };
    let len = z.len();
    let ends_in = |i: usize, f: &dyn Fn(&[u8]) -> bool| z.get(i).is_some_and(|(m, _)| f(m));
    if crossed || len == 0 || !ends_in(len - 1, &|m| gte_min(m, min)) || !ends_in(0, &|m| lte_max(m, max)) {
        return (0, 0);
    }
    if rev {
        let Some(last) = z.last_where(|m| lte_max(m, max)) else { return (0, 0) };
        let n = z.count_while(last, true, |m| gte_min(m, min));
        (last + 1 - n, last + 1)
    } else {
        let first = z.prefix_len(|_, m| !gte_min(m, min));
        let n = z.count_while(first, false, |m| lte_max(m, max));
        (first, first + n)
    }
}

/// A ZRANGE-family request, parsed.
struct Request {
    range: Range,
    rev: bool,
    withscores: bool,
    /// LIMIT offset count (count < 0: all).
    limit: Option<(i64, i64)>,
}

/// Parses `src min max [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT o c]`
/// from `a[at..]` as Redis's `zrangeGenericCommand`; `kind`/`rev` given
/// by the legacy commands fix what the options may change.
fn parse_request(a: &[Bytes], at: usize, store: bool, kind: Option<Kind>, rev: Option<bool>) -> Result<Request, Reply> {
    let (mut k, mut r) = (kind, rev);
    let (mut withscores, mut limit) = (false, None);
    let mut j = at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        if !store && is(&a[j], "withscores") {
            withscores = true;
        } else if is(&a[j], "limit") && left >= 2 {
            limit = Some((args::int(&a[j + 1])?, args::int(&a[j + 2])?));
            j += 2;
        } else if r.is_none() && is(&a[j], "rev") {
            r = Some(true);
        } else if k.is_none() && is(&a[j], "bylex") {
            k = Some(Kind::Lex);
        } else if k.is_none() && is(&a[j], "byscore") {
            k = Some(Kind::Score);
        } else {
            return fail(err::SYNTAX);
        }
        j += 1;
    }
    let (kind, rev) = (k.unwrap_or(Kind::Rank), r.unwrap_or(false));
    if limit.is_some() && kind == Kind::Rank {
        return fail("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    }
    if withscores && kind == Kind::Lex {
        return fail("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (min, max) = if rev && kind != Kind::Rank { (&a[at + 2], &a[at + 1]) } else { (&a[at + 1], &a[at + 2]) };
    Ok(Request { range: Range::parse(kind, min, max)?, rev, withscores, limit })
}

/// The members and scores a request selects from `z`, in reply order.
/// O(log n + returned) large.
fn select(z: &ZSetValue, q: &Request) -> Vec<(Bytes, f64)> {
    if let Range::Score { min, minex, max, maxex } = q.range {
        return select_scores(z, (min, minex, max, maxex), q.rev, q.limit.unwrap_or((0, -1)));
    }
    let (lo, hi) = q.range.ranks(z, q.rev);
    let (offset, count) = q.limit.unwrap_or((0, -1));
    if offset < 0 || lo >= hi || offset as u64 >= (hi - lo) as u64 {
        return Vec::new();
    }
    let avail = hi - lo - offset as usize;
    let n = if count < 0 { avail } else { avail.min(count as usize) };
    let start = if q.rev { hi - 1 - offset as usize } else { lo + offset as usize };
    let mut out = Vec::with_capacity(n);
    z.walk(start, n, q.rev, |m, s| out.push((Bytes::copy_from_slice(m), s)));
    out
}

/// A score range's members as Redis finds them: one search for the end
/// the walk starts from, then a walk while members stay in range (LIMIT
/// skips `offset`, keeps `count`; a negative count keeps all). O(log n +
/// offset + returned) large.
fn select_scores(z: &ZSetValue, r: (f64, bool, f64, bool), rev: bool, limit: (i64, i64)) -> Vec<(Bytes, f64)> {
    let (min, minex, max, maxex) = r;
    let (offset, count) = limit;
    let mut out = Vec::new();
    if offset < 0 || count == 0 {
        return out;
    }
    let above_min = |s: f64| if minex { s > min } else { s >= min };
    let below_max = |s: f64| if maxex { s < max } else { s <= max };
    let want = if count < 0 { usize::MAX } else { count as usize };
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let start = if rev {
        match z.score_prefix_len(below_max).checked_sub(1).and_then(|last| last.checked_sub(offset)) {
            Some(s) => s,
            None => return out,
        }
    } else {
        match z.score_prefix_len(|s| !above_min(s)).checked_add(offset) {
            Some(s) if s < z.len() => s,
            _ => return out,
        }
    };
    let in_range = |s: f64| if rev { above_min(s) } else { below_max(s) };
    z.walk_while(start, rev, |m, s| {
        if !in_range(s) {
            return false;
        }
        out.push((Bytes::copy_from_slice(m), s));
        out.len() < want
    });
    out
}

/// The body of every ZRANGE variant reading `a[1]`.
fn range_reply(ctx: &mut Ctx, a: &[Bytes], kind: Option<Kind>, rev: Option<bool>) -> CmdResult {
    let q = parse_request(a, 1, false, kind, rev)?;
    let resp3 = ctx.client.resp >= 3;
    let Some(z) = read_zset(ctx, &a[1])? else { return Ok(Reply::Array(Vec::new())) };
    Ok(members_reply(select(z, &q), q.withscores, resp3))
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES].
pub(super) fn zrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_reply(ctx, a, None, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_reply(ctx, a, Some(Kind::Rank), Some(true))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_reply(ctx, a, Some(Kind::Score), Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_reply(ctx, a, Some(Kind::Score), Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_reply(ctx, a, Some(Kind::Lex), Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_reply(ctx, a, Some(Kind::Lex), Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]:
/// the destination is replaced (TTL cleared), or deleted when the range is
/// empty; replies its size. O(log n + stored · log stored).
pub(super) fn zrangestore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let q = parse_request(a, 2, true, None, None)?;
    let items = match read_zset(ctx, &a[2])? {
        None => Vec::new(),
        Some(z) => select(z, &q),
    };
    let hint = if matches!(q.range, Range::Rank(..)) { items.len() } else { 0 };
    let mut out = ZSetValue::with_hint(hint, 0);
    for (m, s) in &items {
        out.insert(m, *s);
    }
    Ok(Reply::Int(store(ctx, &a[1], out)))
}

/// ZCOUNT/ZLEXCOUNT body: the size of a range. O(log n).
fn count(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> CmdResult {
    let range = Range::parse(kind, &a[2], &a[3])?;
    let Some(z) = read_zset(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let (lo, hi) = range.ranks(z, false);
    Ok(Reply::Int((hi - lo) as i64))
}

pub(super) fn zcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    count(ctx, a, Kind::Score)
}

pub(super) fn zlexcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    count(ctx, a, Kind::Lex)
}

/// ZREMRANGEBY* body: removes a range, deleting an emptied set; replies
/// how many were removed. O(log n + removed).
fn remove_range(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> CmdResult {
    let range = Range::parse(kind, &a[2], &a[3])?;
    let Some(z) = peek_zset(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let (lo, hi) = range.ranks(z, false);
    if lo >= hi {
        return Ok(Reply::Int(0));
    }
    let removed = z.remove_range(lo, hi - 1);
    mark_changed(ctx, &a[1]);
    Ok(Reply::Int(removed as i64))
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    remove_range(ctx, a, Kind::Rank)
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    remove_range(ctx, a, Kind::Score)
}

pub(super) fn zremrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    remove_range(ctx, a, Kind::Lex)
}
