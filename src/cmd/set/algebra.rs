//! Set algebra: SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD.
//!
//! The sets named by a command are moved out of their keys for the
//! computation (no copy, whatever their size) and put back before the
//! command returns; a key named twice is moved once. The same computation
//! serves the plain, STORE and CARD forms.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;
use indexmap::IndexSet;

use super::bulks;
use crate::cmd::args::{self, err, fail};
use crate::cmd::{CmdResult, Ctx};
use crate::db::value::{Hasher, SetValue};
use crate::db::Value;
use crate::protocol::Reply;

/// The sets named by a command's keys, moved out of the keyspace.
struct Operands {
    /// The distinct keys that hold a set, and their sets.
    keys: Vec<Bytes>,
    sets: Vec<SetValue>,
    /// Per key argument, in order: which of `sets` it names (`None`: missing).
    slots: Vec<Option<usize>>,
}

impl Operands {
    /// Reads every key (counting hits and misses, as Redis does per
    /// argument) and moves each set out once. WRONGTYPE at the first key
    /// holding another type, after putting back what was taken. O(keys).
    fn take(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Operands, Reply> {
        let mut ops = Operands { keys: Vec::new(), sets: Vec::new(), slots: Vec::with_capacity(keys.len()) };
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        for k in keys {
            let known = seen.get(&k[..]).copied();
            let taken = ctx.ks.read_as::<SetValue>(k).map(|s| s.filter(|_| known.is_none()).map(std::mem::take));
            match taken {
                Err(e) => {
                    ops.restore(ctx);
                    return Err(e.into());
                }
                Ok(Some(set)) => {
                    seen.insert(k, ops.sets.len());
                    ops.slots.push(Some(ops.sets.len()));
                    ops.keys.push(k.clone());
                    ops.sets.push(set);
                }
                Ok(None) => ops.slots.push(known),
            }
        }
        Ok(ops)
    }

    /// Puts the sets back into their keys. O(keys).
    fn restore(self, ctx: &mut Ctx) {
        for (k, set) in self.keys.iter().zip(self.sets) {
            if let Some(Value::Set(s)) = ctx.ks.peek(k).map(|e| &mut e.value) {
                *s = set;
            }
        }
    }

    /// The set of key argument `i`, if the key exists.
    fn set(&self, i: usize) -> Option<&SetValue> {
        self.slots[i].map(|j| &self.sets[j])
    }

    /// Calls `each` with the members common to every set, at most `limit`
    /// of them (0: no limit), walking the smallest set. O(N*M), N the
    /// smallest set's size and M the number of sets.
    fn inter_each<'s>(&'s self, limit: usize, mut each: impl FnMut(Cow<'s, [u8]>)) {
        let Some(mut distinct) = self.slots.iter().copied().collect::<Option<Vec<usize>>>() else { return };
        distinct.sort_unstable();
        distinct.dedup();
        distinct.sort_by_key(|&j| self.sets[j].len());
        let Some((&first, rest)) = distinct.split_first() else { return };
        let mut found = 0;
        for m in self.sets[first].iter() {
            if rest.iter().all(|&j| self.sets[j].contains(&m)) {
                each(m);
                found += 1;
                if found == limit {
                    return;
                }
            }
        }
    }

    /// Members of any set, each once. O(N), N the total size.
    fn union(&self) -> Vec<Cow<'_, [u8]>> {
        let mut distinct: Vec<usize> = self.slots.iter().flatten().copied().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if let [only] = distinct[..] {
            return self.sets[only].iter().collect();
        }
        let total = distinct.iter().map(|&j| self.sets[j].len()).sum();
        let mut out: IndexSet<Cow<'_, [u8]>, Hasher> = IndexSet::with_capacity_and_hasher(total, Hasher::default());
        for j in distinct {
            out.extend(self.sets[j].iter());
        }
        out.into_iter().collect()
    }

    /// Members of the first set in none of the others, with Redis's choice
    /// of algorithm: test each member of the first set against the others
    /// (O(N*M)) unless copying it and removing the others' members costs
    /// less (O(total size)).
    fn diff(&self) -> Vec<Cow<'_, [u8]>> {
        let (Some(first), Some(j0)) = (self.set(0), self.slots[0]) else { return Vec::new() };
        let mut others: Vec<usize> = self.slots[1..].iter().flatten().copied().collect();
        if others.contains(&j0) {
            return Vec::new();
        }
        others.sort_unstable();
        others.dedup();
        let per_member = first.len() * (others.len() + 1) / 2;
        let copying = first.len() + others.iter().map(|&j| self.sets[j].len()).sum::<usize>();
        if per_member <= copying {
            // Largest first: a member shared with another set is found sooner.
            others.sort_by_key(|&j| std::cmp::Reverse(self.sets[j].len()));
            return first.iter().filter(|m| others.iter().all(|&j| !self.sets[j].contains(m))).collect();
        }
        let mut out: IndexSet<Cow<'_, [u8]>, Hasher> = first.iter().collect();
        for j in others {
            for m in self.sets[j].iter() {
                out.swap_remove(&m);
            }
            if out.is_empty() {
                break;
            }
        }
        out.into_iter().collect()
    }
}

/// Which computation.
#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Computes `op` over `keys`; with `dst`, stores the result there (deleting
/// it when the result is empty, any TTL cleared) and answers its size,
/// else answers the members as a set.
fn compute(ctx: &mut Ctx, op: Op, keys: &[Bytes], dst: Option<&Bytes>) -> CmdResult {
    let ops = Operands::take(ctx, keys)?;
    let members = match op {
        Op::Inter => {
            let mut v = Vec::new();
            ops.inter_each(0, |m| v.push(m));
            v
        }
        Op::Union => ops.union(),
        Op::Diff => ops.diff(),
    };
    let Some(dst) = dst else {
        let reply = Reply::Set(bulks(members));
        ops.restore(ctx);
        return Ok(reply);
    };
    let set = SetValue::from_members(members.iter().map(|m| &m[..]));
    ops.restore(ctx);
    let n = set.len();
    if n == 0 {
        ctx.ks.remove(dst);
    } else {
        ctx.ks.set(dst, Value::Set(set));
    }
    Ok(Reply::Int(n as i64))
}

pub(super) fn sinter(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    compute(ctx, Op::Inter, &a[1..], None)
}

pub(super) fn sinterstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    compute(ctx, Op::Inter, &a[2..], Some(&a[1]))
}

pub(super) fn sunion(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    compute(ctx, Op::Union, &a[1..], None)
}

pub(super) fn sunionstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    compute(ctx, Op::Union, &a[2..], Some(&a[1]))
}

pub(super) fn sdiff(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    compute(ctx, Op::Diff, &a[1..], None)
}

pub(super) fn sdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    compute(ctx, Op::Diff, &a[2..], Some(&a[1]))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: Redis's argument checks
/// and errors, then the intersection's size, stopping at the limit.
pub(super) fn sintercard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = args::parse_i64_bytes(&a[1]).filter(|&n| n > 0).ok_or_else(|| Reply::err(NUMKEYS))?;
    if numkeys > (a.len() - 2) as i64 {
        return fail("ERR Number of keys can't be greater than number of args");
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < a.len() {
        if args::is(&a[i], "limit") && i + 1 < a.len() {
            let n = args::parse_i64_bytes(&a[i + 1]).filter(|&n| n >= 0);
            limit = n.ok_or_else(|| Reply::err("ERR LIMIT can't be negative"))? as usize;
            i += 2;
        } else {
            return fail(err::SYNTAX);
        }
    }
    let ops = Operands::take(ctx, &a[2..end])?;
    let mut n = 0;
    ops.inter_each(limit, |_| n += 1);
    ops.restore(ctx);
    Ok(Reply::Int(n as i64))
}
