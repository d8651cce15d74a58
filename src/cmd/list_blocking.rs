//! Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, on
//! the shared mechanism of [`crate::cmd::blocking`].

use std::time::Duration;

use bytes::Bytes;

use super::{move_one, mpop_from, parse_end, parse_mpop, pop_n, End};
use crate::cmd::blocking::{parse_timeout, serve};
use crate::cmd::{CmdResult, Ctx};
use crate::db::Value;
use crate::protocol::Reply;

/// A list key serves a blocked pop when it holds elements.
fn list_ready(v: &Value) -> Option<bool> {
    match v {
        Value::List(l) => Some(!l.is_empty()),
        _ => None,
    }
}

/// BLPOP/BRPOP key [key ...] timeout: `[key, element]`, or a null array
/// on timeout. O(number of keys).
fn bpop(ctx: &mut Ctx, a: &[Bytes], end: End) -> CmdResult {
    let timeout = parse_timeout(&a[a.len() - 1])?;
    serve(ctx, &a[1..a.len() - 1], timeout, Reply::NilArray, list_ready, |ctx, key| {
        let v = pop_n(ctx.ks, key, end, 1).into_iter().next();
        Ok(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::opt_bulk(v)]))
    })
}

/// BLPOP: pops the head of the first non-empty list, blocking until one is
/// non-empty. O(number of keys).
pub(super) fn blpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bpop(ctx, a, End::Left)
}

/// BRPOP: pops the tail of the first non-empty list, blocking until one is
/// non-empty. O(number of keys).
pub(super) fn brpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bpop(ctx, a, End::Right)
}

/// BLMOVE/BRPOPLPUSH body: LMOVE once `src` holds elements; null bulk on
/// timeout. O(1).
fn bmove(ctx: &mut Ctx, a: &[Bytes], from: End, to: End, timeout: Option<Duration>) -> CmdResult {
    let dst = a[2].clone();
    serve(ctx, &a[1..2], timeout, Reply::Nil, list_ready, |ctx, src| move_one(ctx, src, &dst, from, to))
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout. O(1).
pub(super) fn blmove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (from, to) = (parse_end(&a[3])?, parse_end(&a[4])?);
    let timeout = parse_timeout(&a[5])?;
    bmove(ctx, a, from, to, timeout)
}

/// BRPOPLPUSH source destination timeout (BLMOVE … RIGHT LEFT). O(1).
pub(super) fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&a[3])?;
    bmove(ctx, a, End::Right, End::Left, timeout)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT n]:
/// `[key, [elements]]`, or a null array on timeout. O(keys + popped).
pub(super) fn blmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let m = parse_mpop(a, 2)?;
    let timeout = parse_timeout(&a[1])?;
    serve(ctx, m.keys, timeout, Reply::NilArray, list_ready, |ctx, key| Ok(mpop_from(ctx, key, m.end, m.count)))
}
