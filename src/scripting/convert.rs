//! Conversions between command replies and Lua values, both ways, as
//! Redis documents them for scripts ("Conversion between Lua and Redis data
//! types"): what `redis.call` hands the script depends on the protocol the
//! script chose with `redis.setresp` (2 unless changed); what a script
//! returns becomes a reply the caller's protocol then encodes.

use bytes::{Bytes, BytesMut};
use mlua::{Lua, Table, Value};

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
    let trimmed = {
        let mut end = raw.len();
        while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        &raw[..end]
    };
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

/// The Lua value of a command's reply for a script speaking `resp` (2 or
/// 3). Error replies become error tables (the caller decides to raise).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    let resp3 = resp >= 3;
    Ok(match reply {
        Reply::Status(s) => single(lua, "ok", s.as_bytes())?,
        Reply::StatusOwned(s) => single(lua, "ok", s.as_bytes())?,
        Reply::Error(e) => {
            let t = error_table(lua, &error_text(&[b"-".as_slice(), e.as_bytes()].concat()))?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(b) | Reply::Verbatim(b) if !resp3 => Value::String(lua.create_string(b)?),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Verbatim(b) => verbatim(lua, b"txt", b)?,
        Reply::Nil | Reply::NilArray | Reply::None => null(resp3),
        Reply::Array(items) | Reply::Push(items) => array(lua, items.iter().map(|r| reply_to_lua(lua, r, resp)))?,
        Reply::Set(items) if !resp3 => array(lua, items.iter().map(|r| reply_to_lua(lua, r, resp)))?,
        Reply::Set(items) => {
            let set = lua.create_table()?;
            for r in items {
                set.raw_set(reply_to_lua(lua, r, resp)?, true)?;
            }
            Value::Table(wrap(lua, "set", set)?)
        }
        Reply::Map(pairs) if !resp3 => {
            array(lua, pairs.iter().flat_map(|(k, v)| [reply_to_lua(lua, k, resp), reply_to_lua(lua, v, resp)]))?
        }
        Reply::Map(pairs) => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
            }
            Value::Table(wrap(lua, "map", map)?)
        }
        Reply::Double(d) if !resp3 => Value::String(lua.create_string(format_double_reply(*d))?),
        Reply::Double(d) => Value::Table(wrap(lua, "double", *d)?),
        Reply::Bool(b) if !resp3 => Value::Number(if *b { 1.0 } else { 0.0 }),
        Reply::Bool(b) => Value::Boolean(*b),
        Reply::BigNumber(b) if !resp3 => Value::String(lua.create_string(b)?),
        Reply::BigNumber(b) => single(lua, "big_number", b)?,
        Reply::Raw(raw) => {
            let mut buf = BytesMut::from(&raw[..]);
            match FrameReader::new().next(&mut buf) {
                Ok(Some(frame)) => frame_to_lua(lua, &frame, resp)?,
                _ => Value::Boolean(false),
            }
        }
    })
}

/// The Lua value of an already-encoded reply (see [`reply_to_lua`]).
fn frame_to_lua(lua: &Lua, frame: &Frame, resp: u8) -> mlua::Result<Value> {
    let resp3 = resp >= 3;
    Ok(match frame {
        Frame::Simple(s) => single(lua, "ok", s)?,
        Frame::Error(e) => {
            let t = error_table(lua, &error_text(&[b"-".as_slice(), e].concat()))?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        Frame::Int(n) => Value::Number(*n as f64),
        Frame::Bulk(Some(b)) => Value::String(lua.create_string(b)?),
        Frame::Bulk(None) | Frame::Array(None) | Frame::Null => null(resp3),
        Frame::Array(Some(items)) | Frame::Push(items) => array(lua, items.iter().map(|f| frame_to_lua(lua, f, resp)))?,
        Frame::Set(items) if !resp3 => array(lua, items.iter().map(|f| frame_to_lua(lua, f, resp)))?,
        Frame::Set(items) => {
            let set = lua.create_table()?;
            for f in items {
                set.raw_set(frame_to_lua(lua, f, resp)?, true)?;
            }
            Value::Table(wrap(lua, "set", set)?)
        }
        Frame::Map(pairs) if !resp3 => {
            array(lua, pairs.iter().flat_map(|(k, v)| [frame_to_lua(lua, k, resp), frame_to_lua(lua, v, resp)]))?
        }
        Frame::Map(pairs) => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(frame_to_lua(lua, k, resp)?, frame_to_lua(lua, v, resp)?)?;
            }
            Value::Table(wrap(lua, "map", map)?)
        }
        Frame::Double(d) if !resp3 => Value::String(lua.create_string(d)?),
        Frame::Double(d) => {
            let v: f64 = std::str::from_utf8(d).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0);
            Value::Table(wrap(lua, "double", v)?)
        }
        Frame::Bool(b) if !resp3 => Value::Number(if *b { 1.0 } else { 0.0 }),
        Frame::Bool(b) => Value::Boolean(*b),
        Frame::Verbatim(b) if !resp3 => Value::String(lua.create_string(b.get(4..).unwrap_or_default())?),
        Frame::Verbatim(b) => {
            let (format, text) = if b.len() >= 4 { (&b[..3], &b[4..]) } else { (&b"txt"[..], &b[..]) };
            verbatim(lua, format, text)?
        }
        Frame::BigNumber(b) if !resp3 => Value::String(lua.create_string(b)?),
        Frame::BigNumber(b) => single(lua, "big_number", b)?,
    })
}

/// RESP2's null is `false` in Lua; RESP3's is `nil`.
fn null(resp3: bool) -> Value {
    if resp3 {
        Value::Nil
    } else {
        Value::Boolean(false)
    }
}

fn single(lua: &Lua, field: &str, text: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, lua.create_string(text)?)?;
    Ok(Value::Table(t))
}

fn wrap(lua: &Lua, field: &str, inner: impl mlua::IntoLua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(field, inner)?;
    Ok(t)
}

fn verbatim(lua: &Lua, format: &[u8], text: &[u8]) -> mlua::Result<Value> {
    let inner = lua.create_table()?;
    inner.raw_set("format", lua.create_string(format)?)?;
    inner.raw_set("string", lua.create_string(text)?)?;
    Ok(Value::Table(wrap(lua, "verbatim_string", inner)?))
}

fn array(lua: &Lua, items: impl Iterator<Item = mlua::Result<Value>>) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for (i, v) in items.enumerate() {
        t.raw_set(i + 1, v?)?;
    }
    Ok(Value::Table(t))
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
