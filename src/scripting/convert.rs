//! Conversions between command replies and Lua values, both ways, as
//! Redis documents them for scripts ("Conversion between Lua and Redis data
//! types"): what `redis.call` hands the script depends on the protocol the
//! script chose with `redis.setresp` (2 unless changed); what a script
//! returns becomes a reply the caller's protocol then encodes.

use bytes::{Bytes, BytesMut};
use mlua::{ffi, Lua, Table, Value};

use crate::protocol::frame::{Frame, FrameReader};
use crate::protocol::reply::format_double_reply;
use crate::protocol::Reply;

/// Deepest nesting converted (a script's self-referencing or absurdly deep
/// table must not exhaust the stack).
const MAX_DEPTH: usize = 256;

/// Builds Redis's error table `{err = "CODE message"}` from an error text
/// as Redis's `luaPushErrorBuff` does: a leading `-CODE ` gives the code,
/// any other text gets `ERR`; trailing CR/LF are trimmed.
pub fn error_text(raw: &[u8]) -> Vec<u8> {
    let trimmed = trim_end(raw);
    match trimmed.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(sp) => {
                let mut out = rest[..sp].to_vec();
                out.push(b' ');
                out.extend_from_slice(trim_end(&rest[sp + 1..]));
                out
            }
            None => [b"ERR ".as_slice(), rest].concat(),
        },
        None => [b"ERR ".as_slice(), trimmed].concat(),
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &b[..end]
}

/// An error table `{err = text}`; `text` is used as given.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(text)?)?;
    Ok(t)
}

/// Pushes Redis's error table `{err = text}` (with
/// `ignore_error_stats_update = true` when the error was already counted).
///
/// # Safety
/// `state` must be a running Lua state with room for 3 more values.
pub(crate) unsafe fn push_error_table(state: *mut ffi::lua_State, text: &[u8], counted: bool) {
    // SAFETY: three pushes at most, each popped into the new table.
    unsafe {
        ffi::lua_createtable(state, 0, 2);
        ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
        ffi::lua_setfield(state, -2, c"err".as_ptr());
        if counted {
            ffi::lua_pushboolean(state, 1);
            ffi::lua_setfield(state, -2, c"ignore_error_stats_update".as_ptr());
        }
    }
}

/// Pushes the Lua value of a command's reply for a script speaking `resp`
/// (2 or 3), as Redis's `redisProtocolToLuaType`: status → `{ok=…}`,
/// error → error table, integer → number, null → `false` (RESP2) or `nil`
/// (RESP3), arrays → tables; under RESP3 maps, sets, doubles, booleans,
/// big numbers and verbatim strings get their typed tables. One value is
/// pushed. O(size of the reply).
///
/// # Safety
/// `state` must be a running Lua state (the stack is grown as needed).
pub(crate) unsafe fn push_reply(state: *mut ffi::lua_State, reply: &Reply, resp: u8) {
    // SAFETY: forwarded.
    unsafe { push_reply_at(state, reply, resp, 0) }
}

unsafe fn push_bytes(state: *mut ffi::lua_State, b: &[u8]) {
    // SAFETY: one push; the caller made room.
    unsafe {
        ffi::lua_pushlstring(state, b.as_ptr().cast(), b.len());
    }
}

/// Pushes `{field = text}`.
unsafe fn push_single(state: *mut ffi::lua_State, field: &std::ffi::CStr, text: &[u8]) {
    // SAFETY: two pushes, one popped into the table.
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        push_bytes(state, text);
        ffi::lua_setfield(state, -2, field.as_ptr());
    }
}

/// Pushes `{verbatim_string = {format = …, string = …}}`.
unsafe fn push_verbatim(state: *mut ffi::lua_State, format: &[u8], text: &[u8]) {
    // SAFETY: at most three values above the outer table at a time.
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_createtable(state, 0, 2);
        push_bytes(state, format);
        ffi::lua_setfield(state, -2, c"format".as_ptr());
        push_bytes(state, text);
        ffi::lua_setfield(state, -2, c"string".as_ptr());
        ffi::lua_setfield(state, -2, c"verbatim_string".as_ptr());
    }
}

/// RESP2's null is `false` in Lua; RESP3's is `nil`.
unsafe fn push_null(state: *mut ffi::lua_State, resp3: bool) {
    // SAFETY: one push.
    unsafe {
        if resp3 {
            ffi::lua_pushnil(state)
        } else {
            ffi::lua_pushboolean(state, 0)
        }
    }
}

/// Sets `t[k] = v` for the key and value on top (`t` below them), unless
/// the key is nil (which would be a Lua error); pops both.
unsafe fn set_pair(state: *mut ffi::lua_State) {
    // SAFETY: the two values on top are the pair.
    unsafe {
        if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
            ffi::lua_settop(state, -3);
        } else {
            ffi::lua_rawset(state, -3);
        }
    }
}

/// The typed-table wrapper `{field = <table>}` around the table built by `fill`.
unsafe fn push_wrapped(state: *mut ffi::lua_State, field: &std::ffi::CStr, fill: impl FnOnce()) {
    // SAFETY: the outer table stays below the inner one until it is set.
    unsafe {
        ffi::lua_createtable(state, 0, 1);
        fill();
        ffi::lua_setfield(state, -2, field.as_ptr());
    }
}

unsafe fn push_reply_at(state: *mut ffi::lua_State, reply: &Reply, resp: u8, depth: usize) {
    // SAFETY: every arm pushes exactly one value; room for it and for the
    // key/value pairs of one level is checked first.
    unsafe {
        if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
            return push_error_table(state, b"ERR reached lua stack limit", false);
        }
        let resp3 = resp >= 3;
        let nested = |r: &Reply| push_reply_at(state, r, resp, depth + 1);
        match reply {
            Reply::Status(s) => push_single(state, c"ok", s.as_bytes()),
            Reply::StatusOwned(s) => push_single(state, c"ok", s.as_bytes()),
            Reply::Error(e) => {
                let text = error_text(&[b"-".as_slice(), e.as_bytes()].concat());
                push_error_table(state, &text, true);
            }
            Reply::Int(n) => ffi::lua_pushnumber(state, *n as f64),
            Reply::Bulk(b) => push_bytes(state, b),
            Reply::ShortBulk(b) => push_bytes(state, b),
            Reply::Verbatim(b) if !resp3 => push_bytes(state, b),
            Reply::Verbatim(b) => push_verbatim(state, b"txt", b),
            Reply::Nil | Reply::NilArray | Reply::None => push_null(state, resp3),
            Reply::Array(items) | Reply::Push(items) => push_array(state, items.iter(), nested),
            Reply::Set(items) if !resp3 => push_array(state, items.iter(), nested),
            Reply::Set(items) => push_wrapped(state, c"set", || {
                ffi::lua_createtable(state, 0, items.len().min(1 << 20) as i32);
                for r in items {
                    nested(r);
                    ffi::lua_pushboolean(state, 1);
                    set_pair(state);
                }
            }),
            Reply::Map(pairs) if !resp3 => push_array(state, pairs.iter().flat_map(|(k, v)| [k, v]), nested),
            Reply::Map(pairs) => push_wrapped(state, c"map", || {
                ffi::lua_createtable(state, 0, pairs.len().min(1 << 20) as i32);
                for (k, v) in pairs {
                    nested(k);
                    nested(v);
                    set_pair(state);
                }
            }),
            Reply::Double(d) if !resp3 => push_bytes(state, format_double_reply(*d).as_bytes()),
            Reply::Double(d) => push_wrapped(state, c"double", || ffi::lua_pushnumber(state, *d)),
            Reply::Bool(b) if !resp3 => ffi::lua_pushnumber(state, if *b { 1.0 } else { 0.0 }),
            Reply::Bool(b) => ffi::lua_pushboolean(state, *b as i32),
            Reply::BigNumber(b) if !resp3 => push_bytes(state, b),
            Reply::BigNumber(b) => push_single(state, c"big_number", b),
            Reply::Raw(raw) => {
                let mut buf = BytesMut::from(&raw[..]);
                match FrameReader::new().next(&mut buf) {
                    Ok(Some(frame)) => push_reply_at(state, &frame_to_reply(frame), resp, depth),
                    _ => ffi::lua_pushboolean(state, 0),
                }
            }
        }
    }
}

/// Pushes an array of the items, each pushed by `push`.
unsafe fn push_array<'r>(state: *mut ffi::lua_State, items: impl Iterator<Item = &'r Reply>, push: impl Fn(&Reply)) {
    // SAFETY: the table stays below each item until it is stored.
    unsafe {
        ffi::lua_createtable(state, 0, 0);
        for (i, r) in items.enumerate() {
            push(r);
            ffi::lua_rawseti(state, -2, (i + 1) as _);
        }
    }
}

/// The reply an already-encoded one (`Reply::Raw`) stands for, so that
/// [`push_reply`] alone decides what Lua sees.
fn frame_to_reply(frame: Frame) -> Reply {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let list = |items: Vec<Frame>| items.into_iter().map(frame_to_reply).collect();
    match frame {
        Frame::Simple(s) => Reply::StatusOwned(text(&s)),
        Frame::Error(e) => Reply::Error(text(&e)),
        Frame::Int(n) => Reply::Int(n),
        Frame::Bulk(Some(b)) => Reply::Bulk(b),
        Frame::Bulk(None) | Frame::Null => Reply::Nil,
        Frame::Array(None) => Reply::NilArray,
        Frame::Array(Some(items)) => Reply::Array(list(items)),
        Frame::Push(items) => Reply::Push(list(items)),
        Frame::Set(items) => Reply::Set(list(items)),
        Frame::Map(pairs) => {
            Reply::Map(pairs.into_iter().map(|(k, v)| (frame_to_reply(k), frame_to_reply(v))).collect())
        }
        Frame::Double(d) => Reply::Double(std::str::from_utf8(&d).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0)),
        Frame::Bool(b) => Reply::Bool(b),
        // The payload starts with its 3-letter format and a colon.
        Frame::Verbatim(b) => Reply::Verbatim(if b.len() >= 4 { b.slice(4..) } else { b }),
        Frame::BigNumber(b) => Reply::BigNumber(b),
    }
}

/// The reply for a script's return value (Redis's `luaReplyToRedisReply`).
/// `resp` is the script's protocol: under RESP2 `true` is 1 and `false` nil.
/// Numbers are truncated to integers; `{err=…}`, `{ok=…}`, `{double=…}`,
/// `{big_number=…}`, `{verbatim_string=…}`, `{map=…}`, `{set=…}` are the
/// typed forms; other tables are arrays up to their first nil.
pub fn lua_to_reply(value: &Value, resp: u8) -> Reply {
    to_reply(value, resp, 0)
}

fn to_reply(value: &Value, resp: u8, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::err("ERR reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp >= 3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(*n as i64),
        Value::Table(t) => table_to_reply(t, resp, depth),
        _ => Reply::Nil,
    }
}

/// Status and error texts may not hold CR or LF (they end the line).
fn one_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

fn table_to_reply(t: &Table, resp: u8, depth: usize) -> Reply {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        return Reply::Error(one_line(&e.as_bytes()));
    }
    if let Value::String(s) = field("ok") {
        return Reply::StatusOwned(one_line(&s.as_bytes()));
    }
    match field("double") {
        Value::Number(d) => return Reply::Double(d),
        Value::Integer(d) => return Reply::Double(d as f64),
        _ => {}
    }
    if let Value::String(s) = field("big_number") {
        return Reply::BigNumber(Bytes::from(one_line(&s.as_bytes())));
    }
    if let Value::Table(v) = field("verbatim_string") {
        if let (Ok(Value::String(_)), Ok(Value::String(s))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            return Reply::Verbatim(Bytes::copy_from_slice(&s.as_bytes()));
        }
    }
    if let Value::Table(m) = field("map") {
        let pairs = m
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, v)| (to_reply(&k, resp, depth + 1), to_reply(&v, resp, depth + 1)))
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(s) = field("set") {
        let items =
            s.pairs::<Value, Value>().filter_map(Result::ok).map(|(k, _)| to_reply(&k, resp, depth + 1)).collect();
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp, depth + 1)),
        }
    }
    Reply::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_follow_redis() {
        assert_eq!(error_text(b"-WRONGTYPE Operation"), b"WRONGTYPE Operation");
        assert_eq!(error_text(b"-MY_ERR"), b"ERR MY_ERR");
        assert_eq!(error_text(b"plain message\r\n"), b"ERR plain message");
        assert_eq!(error_text(b"-ERR x\r\n"), b"ERR x");
    }

    /// The Lua value `push_reply` makes of `reply`.
    fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
        // SAFETY: pushes one value, which exec_raw returns.
        unsafe { lua.exec_raw::<Value>((), |state| push_reply(state, reply, resp)) }
    }

    #[test]
    fn replies_convert_both_ways() {
        let lua = Lua::new();
        let v = reply_to_lua(&lua, &Reply::Array(vec![Reply::Int(1), Reply::Nil, Reply::bulk_str("a")]), 2).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::Array(vec![Reply::Int(1), Reply::Nil, Reply::bulk_str("a")]));
        let v = reply_to_lua(&lua, &Reply::Double(1.5), 3).unwrap();
        assert_eq!(lua_to_reply(&v, 3), Reply::Double(1.5));
        let v = reply_to_lua(&lua, &Reply::Double(1.5), 2).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::bulk_str("1.5"));
        let v = reply_to_lua(&lua, &Reply::Map(vec![(Reply::bulk_str("k"), Reply::Int(2))]), 2).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::Array(vec![Reply::bulk_str("k"), Reply::Int(2)]));
        let v = reply_to_lua(&lua, &Reply::Map(vec![(Reply::bulk_str("k"), Reply::Int(2))]), 3).unwrap();
        assert_eq!(lua_to_reply(&v, 3), Reply::Map(vec![(Reply::bulk_str("k"), Reply::Int(2))]));
        let v = reply_to_lua(&lua, &Reply::Bool(true), 3).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::Int(1));
        assert_eq!(lua_to_reply(&Value::Boolean(false), 2), Reply::Nil);
        assert_eq!(lua_to_reply(&Value::Number(3.99), 2), Reply::Int(3));
        let v = reply_to_lua(&lua, &Reply::Status("OK"), 2).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::StatusOwned("OK".into()));
        let v = reply_to_lua(&lua, &Reply::err("ERR bad\r\nthing"), 2).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::err("ERR bad  thing"));
        let raw = Reply::bulk_array_encoded([b"a".as_slice(), b"b"].into_iter());
        let v = reply_to_lua(&lua, &raw, 2).unwrap();
        assert_eq!(lua_to_reply(&v, 2), Reply::Array(vec![Reply::bulk_str("a"), Reply::bulk_str("b")]));
    }
}
