//! BITOP AND|OR|XOR|NOT destkey key [key ...]

use bytes::Bytes;

use super::super::args::{err, fail, is};
use super::super::string::read_str;
use super::super::{CmdResult, Ctx};
use super::bits::{self, BitOp};
use crate::db::Value;
use crate::protocol::Reply;
use crate::pubsub::notify::{self, class};

/// Parses the operation name.
fn operation(arg: &[u8]) -> Result<BitOp, Reply> {
    [("and", BitOp::And), ("or", BitOp::Or), ("xor", BitOp::Xor), ("not", BitOp::Not)]
        .into_iter()
        .find(|(name, _)| is(arg, name))
        .map(|(_, op)| op)
        .ok_or_else(|| Reply::err(err::SYNTAX))
}

/// Stores the operation over the source strings (missing keys read as
/// empty, shorter strings are zero-padded) at the destination, replacing
/// whatever it held and its TTL, or deletes the destination when the
/// result is empty; replies with the result's length. O(total length).
pub fn bitop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let op = operation(&a[1])?;
    if op == BitOp::Not && a.len() != 4 {
        return fail("ERR BITOP NOT must be called with a single source key.");
    }
    // Strings past the inline size are shared, not copied, by read_str.
    let mut sources = Vec::with_capacity(a.len() - 3);
    for key in &a[3..] {
        sources.push(read_str(ctx, key)?.unwrap_or_default());
    }
    let slices: Vec<&[u8]> = sources.iter().map(|s| &s[..]).collect();
    let result = bits::combine(op, &slices);
    drop(sources);
    let dest = &a[2];
    let len = result.len();
    if len == 0 {
        if ctx.ks.remove(dest).is_some() {
            notify::raise(ctx.client, class::GENERIC, "del", dest);
        }
        return Ok(Reply::Int(0));
    }
    ctx.ks.set(dest, Value::str(&result));
    // A string built by BITOP is `raw` in Redis whatever its length.
    if let Some(e) = ctx.ks.peek(dest) {
        e.modified_in_place = true;
    }
    notify::raise(ctx.client, class::STRING, "set", dest);
    Ok(Reply::Int(len as i64))
}
