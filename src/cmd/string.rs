//! String commands (Redis's `t_string.c`): GET, SET and its options,
//! counters, ranges, MGET/MSET, LCS.

use bytes::{Bytes, BytesMut};

use super::args::{self, err, fail, int, is, wrongtype};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::compact::CompactBytes;
use crate::db::{now_ms, Value};
use crate::protocol::parser::BIG_ARG;
use crate::protocol::{Reply, OK};
use crate::server::client::ClientState;
use crate::spec;

pub mod float80;

/// The string at `key` for a read: `None` if missing, WRONGTYPE if not a string.
pub fn read_str(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    read_str_with(ctx, key, CompactBytes::to_bytes)
}

/// [`read_str`], handing the stored value to `f` instead of copying it out.
fn read_str_with<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&CompactBytes) -> R) -> Result<Option<R>, Reply> {
    match ctx.ks.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(f(s))),
            _ => wrongtype(),
        },
    }
}

/// A stored string as a bulk reply: held in the reply when short (no
/// allocation), else as [`CompactBytes::to_bytes`] hands it out.
fn value_reply(s: &CompactBytes) -> Reply {
    Reply::bulk_short_or(s, || s.to_bytes())
}

/// The string at `key` for a write (no hit/miss stats).
fn peek_str(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match ctx.ks.peek(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s.to_bytes())),
            _ => wrongtype(),
        },
    }
}

/// Replaces the string at `key` keeping its TTL (counters, APPEND, SETRANGE).
fn store_keep_ttl(ctx: &mut Ctx, key: &Bytes, v: Bytes) {
    ctx.ks.set_keep_ttl(key, Value::str(&v));
}

/// Stores the result of an in-place modification (APPEND, SETRANGE, and
/// SETBIT/BITFIELD when they grow or unshare a string):
/// keeps the key's TTL and access data, and marks the string `raw` as
/// Redis does for strings it modified in place. O(1).
pub(crate) fn store_in_place(ctx: &mut Ctx, key: &Bytes, v: Bytes) {
    if let Some(e) = ctx.ks.write(key) {
        e.value = Value::str(&v);
        e.modified_in_place = true;
        return;
    }
    ctx.ks.set(key, Value::str(&v));
    if let Some(e) = ctx.ks.peek(key) {
        e.modified_in_place = true;
    }
}

/// A request argument as the string value SET and its kin store: one of at
/// least [`BIG_ARG`] bytes is kept without a copy when the client's
/// arguments are exactly sized (see `ClientState::args_exact`), as Redis
/// keeps a big argument's buffer as the value. O(1) then, O(len) otherwise.
fn arg_value(client: &ClientState, v: &Bytes) -> Value {
    if v.len() >= BIG_ARG && client.args_exact {
        Value::Str(CompactBytes::received(v.clone()))
    } else {
        Value::str(v)
    }
}

/// Refuses a write that would make a string longer than `proto-max-bulk-len`.
fn check_size(len: usize) -> Result<(), Reply> {
    if len as u64 > super::args::proto_max_bulk_len() {
        return fail("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    Ok(())
}

fn get(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(read_str_with(ctx, &a[1], value_reply)?.unwrap_or(Reply::Nil))
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    None,
    At(u64),
    KeepTtl,
    Persist,
}

/// Converts `EX/PX/EXAT/PXAT n` into an absolute time, with Redis's errors.
fn expiry_at(cmd: &str, unit: &[u8], n: &[u8]) -> Result<u64, Reply> {
    let v = int(n)?;
    let invalid = || Reply::Error(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = if is(unit, "ex") || is(unit, "exat") { v.checked_mul(1000).ok_or_else(invalid)? } else { v };
    let at = if is(unit, "ex") || is(unit, "px") { ms.checked_add(now_ms() as i64).ok_or_else(invalid)? } else { ms };
    Ok(at as u64)
}

/// The options of a SET or GETEX command line.
struct StrOpts {
    nx: bool,
    xx: bool,
    get: bool,
    exp: Expiry,
}

/// Parses SET (`is_set`) or GETEX options from `a[from..]` as Redis's
/// `parseExtendedStringArgumentsOrReply`: a repeated option is allowed, the
/// last expiry given wins, conflicting ones are a syntax error, and the
/// expiry value is checked only once the whole line is known to parse.
fn parse_str_opts(a: &[Bytes], from: usize, is_set: bool) -> Result<StrOpts, Reply> {
    let (mut nx, mut xx, mut get, mut keepttl, mut persist) = (false, false, false, false, false);
    let mut unit: Option<(&Bytes, &Bytes)> = None;
    let mut i = from;
    while i < a.len() {
        let o = &a[i];
        let next = a.get(i + 1);
        let other_unit = |u: &str| unit.is_some_and(|(cur, _)| !is(cur, u));
        if is_set && is(o, "nx") && !xx {
            nx = true;
        } else if is_set && is(o, "xx") && !nx {
            xx = true;
        } else if is_set && is(o, "get") {
            get = true;
        } else if is_set && is(o, "keepttl") && !persist && unit.is_none() {
            keepttl = true;
        } else if !is_set && is(o, "persist") && !keepttl && unit.is_none() {
            persist = true;
        } else if let Some(u) = ["ex", "px", "exat", "pxat"].into_iter().find(|u| is(o, u)) {
            let Some(v) = next.filter(|_| !keepttl && !persist && !other_unit(u)) else { return fail(err::SYNTAX) };
            unit = Some((o, v));
            i += 1;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    let cmd = if is_set { "set" } else { "getex" };
    let exp = match unit {
        Some((u, v)) => Expiry::At(expiry_at(cmd, u, v)?),
        None if keepttl => Expiry::KeepTtl,
        None if persist => Expiry::Persist,
        None => Expiry::None,
    };
    Ok(StrOpts { nx, xx, get, exp })
}

fn set(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let StrOpts { nx, xx, get, exp } = parse_str_opts(a, 3, true)?;
    let key = &a[1];
    let old = if get { read_str(ctx, key)? } else { None };
    // Only NX/XX need to know whether the key exists (a plain SET is one lookup).
    let mut exists = || if get { old.is_some() } else { ctx.ks.peek(key).is_some() };
    if (nx || xx) && exists() == nx {
        return Ok(if get { Reply::opt_bulk(old) } else { Reply::Nil });
    }
    let value = arg_value(ctx.client, &a[2]);
    match exp {
        Expiry::KeepTtl => ctx.ks.set_keep_ttl(key, value),
        Expiry::At(at) if at <= now_ms() && !crate::db::loading() => {
            ctx.ks.remove(key);
        }
        Expiry::At(at) => ctx.ks.set_with_expiry(key, value, at),
        _ => ctx.ks.set(key, value),
    }
    Ok(if get { Reply::opt_bulk(old) } else { OK })
}

fn setnx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.ks.peek(&a[1]).is_some() {
        return Ok(Reply::Int(0));
    }
    ctx.ks.set(&a[1], arg_value(ctx.client, &a[2]));
    Ok(Reply::Int(1))
}

fn setex_generic(ctx: &mut Ctx, a: &[Bytes], unit: &str) -> CmdResult {
    let name = a[0].to_ascii_lowercase();
    let at = expiry_at(&String::from_utf8_lossy(&name), unit.as_bytes(), &a[2])?;
    ctx.ks.set_with_expiry(&a[1], arg_value(ctx.client, &a[3]), at);
    args::ok()
}

fn setex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    setex_generic(ctx, a, "ex")
}

fn psetex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    setex_generic(ctx, a, "px")
}

fn getset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let old = peek_str(ctx, &a[1])?;
    ctx.ks.set(&a[1], arg_value(ctx.client, &a[2]));
    Ok(Reply::opt_bulk(old))
}

fn getdel(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let v = read_str(ctx, &a[1])?;
    if v.is_some() {
        ctx.ks.remove(&a[1]);
    }
    Ok(Reply::opt_bulk(v))
}

fn getex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let exp = parse_str_opts(a, 2, false)?.exp;
    let Some(v) = read_str(ctx, &a[1])? else { return Ok(Reply::Nil) };
    match exp {
        Expiry::At(at) if at <= now_ms() && !crate::db::loading() => {
            ctx.ks.remove(&a[1]);
        }
        Expiry::At(at) => {
            ctx.ks.set_expire(&a[1], at);
        }
        // Only a TTL removed is a change (and raises `persist`).
        Expiry::Persist if ctx.ks.peek(&a[1]).is_some_and(|e| e.expire_at != 0) => {
            ctx.ks.set_expire(&a[1], 0);
        }
        _ => {}
    }
    Ok(Reply::Bulk(v))
}

fn mget(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(a.len() - 1);
    for k in &a[1..] {
        let v = match ctx.ks.read(k) {
            Some(e) => match &e.value {
                Value::Str(s) => value_reply(s),
                _ => Reply::Nil,
            },
            None => Reply::Nil,
        };
        out.push(v);
    }
    Ok(Reply::Array(out))
}

fn mset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(args::arity_error("mset"));
    }
    for kv in a[1..].chunks(2) {
        ctx.ks.set(&kv[0], arg_value(ctx.client, &kv[1]));
    }
    args::ok()
}

fn msetnx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(args::arity_error("msetnx"));
    }
    if a[1..].chunks(2).any(|kv| ctx.ks.peek(&kv[0]).is_some()) {
        return Ok(Reply::Int(0));
    }
    for kv in a[1..].chunks(2) {
        ctx.ks.set(&kv[0], arg_value(ctx.client, &kv[1]));
    }
    Ok(Reply::Int(1))
}

fn append(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(cur) = peek_str(ctx, &a[1])? else {
        // A new key holds the argument as SET would store it.
        ctx.ks.set(&a[1], arg_value(ctx.client, &a[2]));
        return Ok(Reply::Int(a[2].len() as i64));
    };
    check_size(cur.len() + a[2].len())?;
    let mut b = BytesMut::with_capacity(cur.len() + a[2].len());
    b.extend_from_slice(&cur);
    b.extend_from_slice(&a[2]);
    let len = b.len();
    store_in_place(ctx, &a[1], b.freeze());
    Ok(Reply::Int(len as i64))
}

fn strlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_str(ctx, &a[1])?.map_or(0, |s| s.len() as i64)))
}

fn getrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (start, end) = (int(&a[2])?, int(&a[3])?);
    let s = read_str(ctx, &a[1])?.unwrap_or_default();
    let len = s.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Ok(Reply::Bulk(Bytes::new()));
    }
    let mut st = if start < 0 { len + start } else { start };
    let mut en = if end < 0 { len + end } else { end };
    st = st.max(0);
    en = en.max(0);
    if en >= len {
        en = len - 1;
    }
    if st > en {
        return Ok(Reply::Bulk(Bytes::new()));
    }
    Ok(Reply::Bulk(s.slice(st as usize..=en as usize)))
}

fn setrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let off = int(&a[2])?;
    if off < 0 {
        return fail("ERR offset is out of range");
    }
    let off = off as usize;
    let val = &a[3];
    let cur = peek_str(ctx, &a[1])?;
    let cur_len = cur.as_ref().map_or(0, |c| c.len());
    if val.is_empty() {
        return Ok(Reply::Int(cur_len as i64));
    }
    check_size(off + val.len())?;
    let mut b = BytesMut::from(cur.as_deref().unwrap_or(&[]));
    if b.len() < off + val.len() {
        b.resize(off + val.len(), 0);
    }
    b[off..off + val.len()].copy_from_slice(val);
    let len = b.len();
    store_in_place(ctx, &a[1], b.freeze());
    Ok(Reply::Int(len as i64))
}

/// Adds `by` to the integer at `key` (INCR, INCRBY, DECR, DECRBY).
/// INCR and friends: the counter is changed in place (one lookup, no
/// allocation: a counter is short enough to be stored inline), keeping
/// the key's TTL, as Redis's `incrDecrCommand`. O(1).
fn incr_by(ctx: &mut Ctx, key: &Bytes, by: i64) -> CmdResult {
    let add = |cur: i64| cur.checked_add(by).ok_or_else(|| Reply::err(err::OVERFLOW));
    let changed = ctx.ks.modify(key, |e| {
        let Value::Str(s) = &e.value else { return wrongtype() };
        let new = add(args::parse_i64_bytes(s).ok_or_else(|| Reply::err(err::NOT_INT))?)?;
        e.value = Value::str(itoa::Buffer::new().format(new).as_bytes());
        e.modified_in_place = false;
        Ok(new)
    });
    let new = match changed {
        Some(result) => result?,
        None => {
            let new = add(0)?;
            ctx.ks.set(key, Value::str(itoa::Buffer::new().format(new).as_bytes()));
            new
        }
    };
    Ok(Reply::Int(new))
}

fn incr(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    incr_by(ctx, &a[1], 1)
}

fn decr(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    incr_by(ctx, &a[1], -1)
}

fn incrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    incr_by(ctx, &a[1], int(&a[2])?)
}

fn decrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let by = int(&a[2])?;
    let neg = by.checked_neg().ok_or_else(|| Reply::err("ERR decrement would overflow"))?;
    incr_by(ctx, &a[1], neg)
}

/// INCRBYFLOAT in x87 extended precision, as Redis computes it (see [`float80`]).
fn incrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let not_float = || Reply::err(err::NOT_FLOAT);
    let cur = match peek_str(ctx, &a[1])? {
        None => float80::parse(b"0"),
        Some(s) => float80::parse(&s),
    }
    .ok_or_else(not_float)?;
    let by = float80::parse(&a[2]).ok_or_else(not_float)?;
    let new = float80::add(cur, by).ok_or_else(|| Reply::err(err::NAN_INF))?;
    let s = Bytes::from(float80::to_human(&new));
    store_keep_ttl(ctx, &a[1], s.clone());
    Ok(Reply::Bulk(s))
}

/// The string at `key` for LCS, which has its own error for other types.
fn lcs_input(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    read_str(ctx, key).map_err(|_| Reply::err("ERR The specified keys must contain string values"))
}

fn lcs(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let x = lcs_input(ctx, &a[1]);
    let y = lcs_input(ctx, &a[2]);
    let (x, y) = (x?.unwrap_or_default(), y?.unwrap_or_default());
    let (mut want_len, mut want_idx, mut withmatchlen, mut minlen) = (false, false, false, 0i64);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "len") {
            want_len = true;
        } else if is(&a[i], "idx") {
            want_idx = true;
        } else if is(&a[i], "withmatchlen") {
            withmatchlen = true;
        } else if is(&a[i], "minmatchlen") && i + 1 < a.len() {
            minlen = int(&a[i + 1])?.max(0);
            i += 1;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    if want_len && want_idx {
        return fail("ERR If you want both the length and indexes, please just use IDX.");
    }
    // Redis refuses when its table of (|x|+1)·(|y|+1) u32 cells would exceed proto-max-bulk-len.
    let cells = (x.len() as u128 + 1) * (y.len() as u128 + 1);
    if cells * 4 > super::args::proto_max_bulk_len() as u128 {
        return fail("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    // Classic dynamic programme: table[i][j] = LCS length of x[..i], y[..j].
    let w = y.len() + 1;
    let mut t = vec![0u32; (x.len() + 1) * w];
    for i in 1..=x.len() {
        for j in 1..=y.len() {
            t[i * w + j] = if x[i - 1] == y[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[x.len() * w + y.len()];
    if want_len {
        return Ok(Reply::Int(total as i64));
    }
    // Walk back from the end collecting the common subsequence and its ranges.
    let (mut i, mut j) = (x.len(), y.len());
    let mut seq = Vec::with_capacity(total as usize);
    let mut matches: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let mut cur: Option<((usize, usize), (usize, usize))> = None;
    while i > 0 && j > 0 {
        if x[i - 1] == y[j - 1] {
            seq.push(x[i - 1]);
            let (xi, yj) = (i - 1, j - 1);
            cur = match cur {
                Some(((xs, xe), (ys, ye))) if xs == xi + 1 && ys == yj + 1 => Some(((xi, xe), (yj, ye))),
                Some(m) => {
                    matches.push(m);
                    Some(((xi, xi), (yj, yj)))
                }
                None => Some(((xi, xi), (yj, yj))),
            };
            i -= 1;
            j -= 1;
        } else if t[(i - 1) * w + j] > t[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some(m) = cur {
        matches.push(m);
    }
    if !want_idx {
        seq.reverse();
        return Ok(Reply::Bulk(Bytes::from(seq)));
    }
    let mut out = Vec::new();
    for ((xs, xe), (ys, ye)) in matches {
        let len = (xe - xs + 1) as i64;
        if len < minlen {
            continue;
        }
        let mut m = vec![
            Reply::Array(vec![Reply::Int(xs as i64), Reply::Int(xe as i64)]),
            Reply::Array(vec![Reply::Int(ys as i64), Reply::Int(ye as i64)]),
        ];
        if withmatchlen {
            m.push(Reply::Int(len));
        }
        out.push(Reply::Array(m));
    }
    Ok(Reply::Map(vec![
        (Reply::bulk_str("matches"), Reply::Array(out)),
        (Reply::bulk_str("len"), Reply::Int(total as i64)),
    ]))
}

/// The string family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("get", 2, READONLY | FAST, 1, 1, 1, get, "string", "Returns the string value of a key.", "O(1)"),
    spec!("set", -3, WRITE | DENYOOM, 1, 1, 1, set, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)"),
    spec!("setnx", 3, WRITE | DENYOOM | FAST, 1, 1, 1, setnx, "string", "Set the string value of a key only when the key doesn't exist.", "O(1)"),
    spec!("setex", 4, WRITE | DENYOOM, 1, 1, 1, setex, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "O(1)"),
    spec!("psetex", 4, WRITE | DENYOOM, 1, 1, 1, psetex, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "O(1)"),
    spec!("getset", 3, WRITE | DENYOOM | FAST, 1, 1, 1, getset, "string", "Returns the previous string value of a key after setting it to a new value.", "O(1)"),
    spec!("getdel", 2, WRITE | FAST, 1, 1, 1, getdel, "string", "Returns the string value of a key after deleting the key.", "O(1)"),
    spec!("getex", -2, WRITE | FAST, 1, 1, 1, getex, "string", "Returns the string value of a key after setting its expiration time.", "O(1)"),
    spec!("mget", -2, READONLY | FAST, 1, -1, 1, mget, "string", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve."),
    spec!("mset", -3, WRITE | DENYOOM, 1, -1, 2, mset, "string", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set."),
    spec!("msetnx", -3, WRITE | DENYOOM, 1, -1, 2, msetnx, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set."),
    spec!("append", 3, WRITE | DENYOOM | FAST, 1, 1, 1, append, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1)"),
    spec!("strlen", 2, READONLY | FAST, 1, 1, 1, strlen, "string", "Returns the length of a string value.", "O(1)"),
    spec!("getrange", 4, READONLY, 1, 1, 1, getrange, "string", "Returns a substring of the string stored at a key.", "O(N) where N is the length of the returned string."),
    spec!("substr", 4, READONLY, 1, 1, 1, getrange, "string", "Returns a substring from a string value.", "O(N) where N is the length of the returned string."),
    spec!("setrange", 4, WRITE | DENYOOM, 1, 1, 1, setrange, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "O(1), not counting the time taken to copy the new string in place."),
    spec!("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, incr, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    spec!("decr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, decr, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    spec!("incrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, incrby, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    spec!("decrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, decrby, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    spec!("incrbyfloat", 3, WRITE | DENYOOM | FAST, 1, 1, 1, incrbyfloat, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)"),
    spec!("lcs", -3, READONLY, 1, 2, 1, lcs, "string", "Finds the longest common substring.", "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
];
