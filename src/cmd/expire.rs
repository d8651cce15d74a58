//! The EXPIRE family (Redis's `expire.c` commands): EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL and PTTL (and the original
//! project's two-argument `TTL key seconds`, dispatched as EXPIRE),
//! EXPIRETIME, PEXPIRETIME and PERSIST. Expiry itself (lazy on access,
//! the active cycle) is `db/expire.rs`.

use bytes::Bytes;

use super::args::{self, fail, int, is};
use super::keys::read_notouch;
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::now_ms;
use crate::protocol::Reply;
use crate::spec;

/// NX/XX/GT/LT flags of the EXPIRE family.
fn expire_generic(ctx: &mut Ctx, a: &[Bytes], unit_ms: i64, absolute: bool) -> CmdResult {
    let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
    let n = int(&a[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &a[3..] {
        match () {
            _ if is(o, "nx") => nx = true,
            _ if is(o, "xx") => xx = true,
            _ if is(o, "gt") => gt = true,
            _ if is(o, "lt") => lt = true,
            _ => return fail(&format!("ERR Unsupported option {}", String::from_utf8_lossy(o))),
        }
    }
    if nx && (xx || gt || lt) {
        return fail("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return fail("ERR GT and LT options at the same time are not compatible");
    }
    let invalid = || Reply::Error(format!("ERR invalid expire time in '{name}' command"));
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now_ms() as i64).ok_or_else(invalid)? };
    let key = &a[1];
    let Some(cur) = ctx.ks.peek(key).map(|e| e.expire_at) else { return Ok(Reply::Int(0)) };
    let cur_ttl = if cur == 0 { None } else { Some(cur as i64) };
    let ok = match cur_ttl {
        None => !(xx || gt),
        Some(c) => !nx && (!gt || at > c) && (!lt || at < c),
    };
    if !ok {
        return Ok(Reply::Int(0));
    }
    if at <= now_ms() as i64 && !crate::db::loading() {
        ctx.ks.remove(key);
    } else {
        ctx.ks.set_expire(key, at as u64);
    }
    Ok(Reply::Int(1))
}

fn expire(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1000, false)
}

fn pexpire(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1, false)
}

fn expireat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1000, true)
}

fn pexpireat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1, true)
}

/// Remaining TTL in ms: -2 missing, -1 no expiry.
fn ttl_ms(ctx: &mut Ctx, key: &[u8]) -> i64 {
    match read_notouch(ctx, key, |e| e.expire_at) {
        None => -2,
        Some(0) => -1,
        Some(at) => (at as i64 - now_ms() as i64).max(0),
    }
}

/// `TTL key` as Redis; `TTL key seconds` sets a TTL as the original project did.
fn ttl(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match a.len() {
        2 => {
            let t = ttl_ms(ctx, &a[1]);
            Ok(Reply::Int(if t < 0 { t } else { (t + 500) / 1000 }))
        }
        3 => {
            // The table marks TTL read-only, so the dispatcher does not
            // signal WATCHers of this write: do it here.
            let r = expire_generic(ctx, a, 1000, false)?;
            if r == Reply::Int(1) {
                ctx.srv.signal_modified_key(ctx.client.db, &a[1], Some(ctx.client.id()));
            }
            Ok(r)
        }
        _ => Err(args::arity_error("ttl")),
    }
}

fn pttl(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ttl_ms(ctx, &a[1])))
}

fn expiretime_generic(ctx: &mut Ctx, key: &[u8], div: i64) -> CmdResult {
    Ok(Reply::Int(match read_notouch(ctx, key, |e| e.expire_at) {
        None => -2,
        Some(0) => -1,
        Some(at) => at as i64 / div,
    }))
}

fn expiretime(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expiretime_generic(ctx, &a[1], 1000)
}

fn pexpiretime(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expiretime_generic(ctx, &a[1], 1)
}

fn persist(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let has_ttl = ctx.ks.peek(&a[1]).is_some_and(|e| e.expire_at != 0);
    if has_ttl {
        ctx.ks.set_expire(&a[1], 0);
    }
    Ok(Reply::Int(has_ttl as i64))
}

/// The EXPIRE family's rows of the command table.
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!(
        "expire",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        expire,
        "generic",
        "Sets the expiration time of a key in seconds.",
        "O(1)"
    ),
    spec!(
        "pexpire",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        pexpire,
        "generic",
        "Sets the expiration time of a key in milliseconds.",
        "O(1)"
    ),
    spec!(
        "expireat",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        expireat,
        "generic",
        "Sets the expiration time of a key to a Unix timestamp.",
        "O(1)"
    ),
    spec!(
        "pexpireat",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        pexpireat,
        "generic",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        "O(1)"
    ),
    spec!(
        "expiretime",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        expiretime,
        "generic",
        "Returns the expiration time of a key as a Unix timestamp.",
        "O(1)"
    ),
    spec!(
        "pexpiretime",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        pexpiretime,
        "generic",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        "O(1)"
    ),
    spec!(
        "ttl",
        -2,
        READONLY | FAST,
        1,
        1,
        1,
        ttl,
        "generic",
        "Returns the expiration time in seconds of a key (TTL key seconds: sets it, as the original project did).",
        "O(1)"
    ),
    spec!(
        "pttl",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        pttl,
        "generic",
        "Returns the expiration time in milliseconds of a key.",
        "O(1)"
    ),
    spec!("persist", 2, WRITE | FAST, 1, 1, 1, persist, "generic", "Removes the expiration time of a key.", "O(1)"),
];
