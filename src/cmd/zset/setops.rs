//! ZUNION, ZINTER, ZDIFF (and their STORE forms) and ZINTERCARD: Redis's
//! `zunionInterDiffGenericCommand`. Inputs may be sorted sets or plain sets
//! (whose members score 1); a missing key is an empty input.

use std::collections::HashMap;

use bytes::Bytes;

use super::{members_reply, store};
use crate::cmd::args::{self, err, fail, is, wrongtype};
use crate::cmd::{CmdResult, Ctx};
use crate::db::zset::ZSetValue;
use crate::db::Value;
use crate::protocol::Reply;

/// Which operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// AGGREGATE SUM|MIN|MAX.
#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate` (a NaN sum, `inf + -inf`, becomes 0).
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            // Redis's comparisons (so -0 against 0 keeps what is there).
            Aggregate::Min if v < *acc => *acc = v,
            Aggregate::Max if v > *acc => *acc = v,
            Aggregate::Min | Aggregate::Max => {}
        }
    }
}

/// One input: its members and scores, and a member → score index built
/// when needed.
struct Source {
    items: Vec<(Bytes, f64)>,
    weight: f64,
    index: Option<HashMap<Bytes, f64, crate::db::value::Hasher>>,
}

impl Source {
    fn find(&mut self, m: &Bytes) -> Option<f64> {
        let items = &self.items;
        self.index.get_or_insert_with(|| items.iter().cloned().collect()).get(m).copied()
    }
}

/// Options after the keys.
struct Opts {
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Reads the input keys (WRONGTYPE for anything but sets and sorted sets).
fn load(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Source>, Reply> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let items = match ctx.ks.read(k).map(|e| &e.value) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect(),
            Some(Value::Set(s)) => s.iter().map(|m| (Bytes::copy_from_slice(&m), 1.0)).collect(),
            Some(_) => return wrongtype(),
        };
        out.push(Source { items, weight: 1.0, index: None });
    }
    Ok(out)
}

/// Parses `numkeys key... [options]` from `a[at..]`, reads the keys and
/// the options the command accepts.
fn parse(ctx: &mut Ctx, a: &[Bytes], at: usize, op: Op, store: bool, card: bool) -> Result<(Vec<Source>, Opts), Reply> {
    let n = args::int(&a[at])?;
    if n < 1 {
        let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
        return Err(Reply::Error(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    if n as u64 > (a.len() - at - 1) as u64 {
        return fail(err::SYNTAX);
    }
    let n = n as usize;
    let mut src = load(ctx, &a[at + 1..at + 1 + n])?;
    let mut o = Opts { aggregate: Aggregate::Sum, withscores: false, limit: 0 };
    let mut j = at + 1 + n;
    while j < a.len() {
        let left = a.len() - j;
        if op != Op::Diff && !card && left > n && is(&a[j], "weights") {
            for (i, s) in src.iter_mut().enumerate() {
                s.weight =
                    super::parse_score(&a[j + 1 + i]).ok_or_else(|| Reply::err("ERR weight value is not a float"))?;
            }
            j += n + 1;
        } else if op != Op::Diff && !card && left >= 2 && is(&a[j], "aggregate") {
            let v = &a[j + 1];
            o.aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return fail(err::SYNTAX);
            };
            j += 2;
        } else if !store && !card && is(&a[j], "withscores") {
            o.withscores = true;
            j += 1;
        } else if card && left >= 2 && is(&a[j], "limit") {
            let bad = || Reply::err("ERR LIMIT can't be negative");
            o.limit = args::parse_i64_bytes(&a[j + 1]).filter(|&l| l >= 0).ok_or_else(bad)? as usize;
            j += 2;
        } else {
            return fail(err::SYNTAX);
        }
    }
    Ok((src, o))
}

/// A weighted score (NaN, `0 * inf`, becomes 0).
fn weighted(s: f64, w: f64) -> f64 {
    let v = s * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Computes the operation; `limit` (> 0) stops an intersection early.
/// O(total input) expected.
fn compute(mut src: Vec<Source>, op: Op, agg: Aggregate, limit: usize) -> Vec<(Bytes, f64)> {
    if op != Op::Diff {
        // Smallest input first, as Redis (it decides the aggregation order).
        src.sort_by_key(|s| s.items.len());
    }
    match op {
        Op::Union => {
            let mut acc: HashMap<Bytes, f64, crate::db::value::Hasher> = HashMap::default();
            for s in &src {
                for (m, v) in &s.items {
                    let v = weighted(*v, s.weight);
                    match acc.get_mut(m) {
                        Some(a) => agg.apply(a, v),
                        None => {
                            acc.insert(m.clone(), v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        Op::Inter => {
            let (first, rest) = src.split_at_mut(1);
            let mut out = Vec::new();
            'outer: for (m, v) in &first[0].items {
                let mut score = weighted(*v, first[0].weight);
                for s in rest.iter_mut() {
                    match s.find(m) {
                        Some(x) => agg.apply(&mut score, x * s.weight),
                        None => continue 'outer,
                    }
                }
                out.push((m.clone(), score));
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        Op::Diff => {
            let (first, rest) = src.split_at_mut(1);
            let mut out = Vec::new();
            for (m, v) in &first[0].items {
                if rest.iter_mut().all(|s| s.find(m).is_none()) {
                    out.push((m.clone(), *v));
                }
            }
            out
        }
    }
}

/// Sorts results as a sorted set orders them: by score (-0 equal to 0,
/// scores are never NaN), then member.
fn sorted(mut items: Vec<(Bytes, f64)>) -> Vec<(Bytes, f64)> {
    items.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
    items
}

/// ZUNION/ZINTER/ZDIFF numkeys key... [WEIGHTS w...] [AGGREGATE a] [WITHSCORES].
fn reply_op(ctx: &mut Ctx, a: &[Bytes], op: Op) -> CmdResult {
    let (src, o) = parse(ctx, a, 1, op, false, false)?;
    let items = sorted(compute(src, op, o.aggregate, 0));
    let resp3 = ctx.client.resp >= 3;
    Ok(members_reply(items, o.withscores, resp3))
}

/// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE dst numkeys key... [options]: the
/// destination is replaced (or deleted if the result is empty), in the
/// encoding its size calls for.
fn store_op(ctx: &mut Ctx, a: &[Bytes], op: Op) -> CmdResult {
    let (src, o) = parse(ctx, a, 2, op, true, false)?;
    let items = compute(src, op, o.aggregate, 0);
    let z = ZSetValue::from_pairs(items.iter().map(|(m, s)| (&m[..], *s)));
    Ok(Reply::Int(store(ctx, &a[1], z)))
}

pub(super) fn zunion(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    reply_op(ctx, a, Op::Union)
}

pub(super) fn zinter(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    reply_op(ctx, a, Op::Inter)
}

pub(super) fn zdiff(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    reply_op(ctx, a, Op::Diff)
}

pub(super) fn zunionstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    store_op(ctx, a, Op::Union)
}

pub(super) fn zinterstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    store_op(ctx, a, Op::Inter)
}

pub(super) fn zdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    store_op(ctx, a, Op::Diff)
}

/// ZINTERCARD numkeys key... [LIMIT n]: the intersection's size, counting
/// stopped at `n` (0: no limit).
pub(super) fn zintercard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (src, o) = parse(ctx, a, 1, Op::Inter, false, true)?;
    Ok(Reply::Int(compute(src, Op::Inter, Aggregate::Sum, o.limit).len() as i64))
}
