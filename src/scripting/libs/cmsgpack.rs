//! The `cmsgpack` library: lua-cmsgpack 0.4.0 as Redis 7.0 embeds it.
//!
//! `cmsgpack.pack(...)` encodes each argument as MessagePack and returns
//! the concatenation: numbers that are integers (and fit 64 bits) in the
//! smallest integer format, others as float 32 when exact else float 64;
//! strings as str 8/16/32 (fixstr under 32 bytes); tables whose keys are
//! exactly 1..n as arrays (the empty table too), others as maps; tables
//! nested 16 deep, and values of other types, as nil.
//! `cmsgpack.unpack(s)` returns every value in `s`;
//! `cmsgpack.unpack_one(s[, offset])` and `cmsgpack.unpack_limit(s,
//! limit[, offset])` return the offset of the next value (-1 at the end)
//! followed by at most one, resp. `limit`, values. Formats without a Lua
//! meaning (bin, ext) are rejected. Results and error messages are
//! lua-cmsgpack's, including its limits (8000 stack slots of a C function:
//! about 8000 values at once and nesting about 4000 deep).

#[cfg(test)]
mod tests;

use mlua::{Lua, MultiValue, Table, Value};

use super::cfunction::{
    self, c_to_i32, c_to_i64, check_integer, check_string, opt_integer, LibResult, Outcome, Raise, Results, TableStack,
    MAX_C_STACK,
};

/// Tables nested deeper than this are encoded as nil
/// (`LUACMSGPACK_MAX_NESTING`), which also stops cycles.
const MAX_NESTING: usize = 16;

/// The `cmsgpack` table: `pack`, `unpack`, `unpack_one`, `unpack_limit`,
/// `_NAME`, `_VERSION`, `_COPYRIGHT` and `_DESCRIPTION`, set in
/// lua-cmsgpack's order.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let module = lua.create_table()?;
    // `pack` checks room for its arguments first: 2 * nargs slots.
    let pack_limit = Some((MAX_C_STACK / 2, "Too many arguments for MessagePack pack."));
    module.raw_set("pack", cfunction::create(lua, pack_limit, pack)?)?;
    module.raw_set("unpack", cfunction::create(lua, None, unpack)?)?;
    module.raw_set("unpack_one", cfunction::create(lua, None, unpack_one)?)?;
    module.raw_set("unpack_limit", cfunction::create(lua, None, unpack_limit)?)?;
    module.raw_set("_NAME", "cmsgpack")?;
    module.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    module.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    module.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(module)
}

// ----- Encoding -----

fn pack(lua: &Lua, args: MultiValue) -> LibResult<Outcome> {
    if args.is_empty() {
        return Err(Raise::arg(0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for value in &args {
        encode_value(&mut out, value, 0)?;
    }
    Ok(Outcome::one(Value::String(lua.create_string(out)?)))
}

fn encode_value(out: &mut Vec<u8>, value: &Value, level: usize) -> mlua::Result<()> {
    match value {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => encode_table(out, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        // lua-cmsgpack writes the low 32 bits of the length.
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Integers (that a C cast to int64 keeps) as integers, else floats.
fn encode_number(out: &mut Vec<u8>, n: f64) {
    let i = c_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_integer(out, i);
    } else {
        let f = n as f32;
        if f64::from(f) == n {
            out.push(0xca);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        } else {
            out.push(0xcb);
            out.extend_from_slice(&n.to_bits().to_be_bytes());
        }
    }
}

fn encode_integer(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&n.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Array (fixarray, array 16, array 32) or map header.
fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, code16: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(code16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(code16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_table(out: &mut Vec<u8>, table: &Table, level: usize) -> mlua::Result<()> {
    let scan = scan(table)?;
    if scan.is_array {
        let len = table.raw_len();
        encode_header(out, len, 0x90, 0xdc);
        if scan.values.len() == len {
            for value in &scan.values {
                encode_value(out, value, level + 1)?;
            }
        } else {
            for i in 1..=len {
                encode_value(out, &table.raw_get::<Value>(i)?, level + 1)?;
            }
        }
    } else {
        encode_header(out, scan.pairs, 0x80, 0xde);
        table.for_each::<Value, Value>(|key, value| {
            encode_value(out, &key, level + 1)?;
            encode_value(out, &value, level + 1)
        })?;
    }
    Ok(())
}

/// What [`scan`] finds out about a table.
struct Scan {
    /// The keys are exactly 1..n (numbers a C int keeps; the empty table
    /// counts as an array).
    is_array: bool,
    /// The number of pairs.
    pairs: usize,
    /// For a short array, its values in order (else empty).
    values: Vec<Value>,
}

/// Arrays up to this length keep their values from the scan (at most this
/// many mlua references per nesting level).
const SCAN_VALUES: usize = 64;

fn scan(table: &Table) -> mlua::Result<Scan> {
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    let mut is_array = true;
    let mut pairs = 0usize;
    let mut kept: Vec<(i32, Value)> = Vec::new();
    table.for_each::<Value, Value>(|key, value| {
        pairs += 1;
        match cfunction::number_of(&key) {
            Some(n) if is_array && n > 0.0 && !n.is_infinite() && f64::from(c_to_i32(n)) == n => {
                max = max.max(c_to_i32(n));
                count = count.wrapping_add(1);
                if pairs <= SCAN_VALUES {
                    kept.push((c_to_i32(n), value));
                }
            }
            _ => is_array = false,
        }
        Ok(())
    })?;
    let is_array = is_array && max == count;
    let mut values = Vec::new();
    if is_array && kept.len() == pairs {
        // Keys are exactly 1..=pairs here.
        values.resize(pairs, Value::Nil);
        for (i, value) in kept {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| values.get_mut(i.wrapping_sub(1))) {
                *slot = value;
            }
        }
    }
    Ok(Scan { is_array, pairs, values })
}

// ----- Decoding -----

fn unpack(lua: &Lua, args: MultiValue) -> LibResult<Outcome> {
    // The arguments stay on the C function's stack below the results.
    unpack_full(lua, &args, args.len(), 0, 0)
}

fn unpack_one(lua: &Lua, args: MultiValue) -> LibResult<Outcome> {
    let offset = opt_integer(lua, &args, 2, 0)?;
    unpack_full(lua, &args, 1, 1, offset)
}

fn unpack_limit(lua: &Lua, args: MultiValue) -> LibResult<Outcome> {
    let limit = check_integer(lua, &args, 2)?;
    let offset = opt_integer(lua, &args, 3, 0)?;
    unpack_full(lua, &args, 1, limit, offset)
}

/// Why a value could not be decoded.
enum DecodeError {
    /// The input ends inside the value.
    Eof,
    /// A format byte with no Lua meaning.
    BadFormat,
    /// Raised as it is by the C library.
    Raise(Raise),
}

impl From<mlua::Error> for DecodeError {
    fn from(err: mlua::Error) -> Self {
        DecodeError::Raise(Raise::Lua(err))
    }
}

/// lua-cmsgpack's `luaL_checkstack` failure.
fn stack_overflow(what: &str) -> Raise {
    Raise::error(format!("stack overflow ({what})"))
}

/// Decodes up to `limit` values from `offset` (all of them, without the
/// offset result, when both are 0). `base` is the number of arguments left
/// on the C function's stack.
fn unpack_full(lua: &Lua, args: &MultiValue, base: usize, limit: i64, offset: i64) -> LibResult<Outcome> {
    let input = check_string(lua, args, 1)?;
    let data = input.as_bytes();
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // (sic: the C library reports the input length as the limit)
        return Err(Raise::error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Raise::error(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let limit = if decode_all { i64::from(i32::MAX) } else { limit };
    let mut cursor = Cursor { data: &data[..], pos: offset as usize };
    let mut results = Results::default();
    if !decode_all {
        // The offset of the next value comes first; known at the end.
        results.push(lua, Value::Nil)?;
    }
    let mut count = 0usize;
    while cursor.left() > 0 && (count as i64) < limit {
        match decode_value(lua, &mut cursor, base + count) {
            Ok(value) => results.push(lua, value)?,
            Err(DecodeError::Eof) => return Err(Raise::error("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(Raise::error("Bad data format in input.")),
            Err(DecodeError::Raise(raise)) => return Err(raise),
        }
        count += 1;
    }
    if !decode_all {
        // Room for the offset, checked after the values in the C library.
        if base + results.len() > MAX_C_STACK {
            return Err(stack_overflow("in function mp_unpack_full"));
        }
        let next = if cursor.left() == 0 { -1 } else { cursor.pos as i64 };
        results.set(1, Value::Integer(next))?;
    }
    Ok(results.into_outcome())
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes, consumed; `Eof` when there are fewer.
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Eof);
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// The `N` bytes after the format byte, which is consumed with them.
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(1 + N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes[1..]);
        Ok(out)
    }
}

/// An open array or map being filled (its table is in a [`TableStack`]).
enum Frame {
    Array { left: u64, next: i64 },
    Map { left: u64, key: Option<Value> },
}

/// A container header: the element count (pairs for maps).
enum Header {
    Array(u64),
    Map(u64),
}

const TOO_MANY_VALUES: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// Decodes one value (with everything nested in it). `height` is the
/// number of stack slots lua-cmsgpack's recursive decoder would have in use
/// below it; each nesting level adds the table and its index or key.
fn decode_value(lua: &Lua, cursor: &mut Cursor, mut height: usize) -> Result<Value, DecodeError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut tables = TableStack::default();
    loop {
        if cursor.left() == 0 {
            return Err(DecodeError::Eof);
        }
        if height + 1 > MAX_C_STACK {
            return Err(DecodeError::Raise(stack_overflow(TOO_MANY_VALUES)));
        }
        let mut value = match decode_item(lua, cursor)? {
            Ok(value) => value,
            Err(header) => {
                let table = lua.create_table()?;
                height += 1;
                let frame = match header {
                    Header::Array(n) => {
                        if height + 1 > MAX_C_STACK {
                            return Err(DecodeError::Raise(stack_overflow("in function mp_decode_to_lua_array")));
                        }
                        Frame::Array { left: n, next: 1 }
                    }
                    Header::Map(n) => Frame::Map { left: n, key: None },
                };
                if let Frame::Array { left: 1.., .. } | Frame::Map { left: 1.., .. } = frame {
                    // The array's first index is pushed; a map's first key
                    // comes next.
                    height += usize::from(matches!(frame, Frame::Array { .. }));
                    stack.push(frame);
                    tables.push(lua, table)?;
                    continue;
                }
                height -= 1;
                Value::Table(table)
            }
        };
        // Store the value in the open container, closing the full ones.
        loop {
            let (Some(frame), Some(table)) = (stack.last_mut(), tables.top()) else { return Ok(value) };
            let done = match frame {
                Frame::Array { left, next } => {
                    table.raw_set(*next, value)?;
                    *next += 1;
                    *left -= 1;
                    *left == 0
                }
                Frame::Map { left, key } => match key.take() {
                    None => {
                        *key = Some(value);
                        height += 1;
                        break;
                    }
                    Some(k) => {
                        check_key(&k)?;
                        table.raw_set(k, value)?;
                        height -= 1;
                        *left -= 1;
                        *left == 0
                    }
                },
            };
            if !done {
                break;
            }
            // The index (arrays) and the table leave the stack.
            height -= match stack.pop() {
                Some(Frame::Array { .. }) => 2,
                _ => 1,
            };
            value = tables.pop()?.map_or(Value::Nil, Value::Table);
        }
    }
}

/// What `lua_settable` raises for keys a table cannot have.
fn check_key(key: &Value) -> Result<(), DecodeError> {
    match key {
        Value::Nil => Err(DecodeError::Raise(Raise::Bare(b"table index is nil".to_vec()))),
        Value::Number(n) if n.is_nan() => Err(DecodeError::Raise(Raise::Bare(b"table index is NaN".to_vec()))),
        _ => Ok(()),
    }
}

/// The value at the cursor if it is not a container, else the container's
/// header (consumed).
fn decode_item(lua: &Lua, c: &mut Cursor) -> Result<Result<Value, Header>, DecodeError> {
    let number = |n: f64| Ok(Ok(Value::Number(n)));
    let code = c.data[c.pos];
    match code {
        0x00..=0x7f => {
            c.pos += 1;
            number(f64::from(code))
        }
        0xe0..=0xff => {
            c.pos += 1;
            number(f64::from(code as i8))
        }
        0xcc => number(f64::from(c.fixed::<1>()?[0])),
        0xd0 => number(f64::from(c.fixed::<1>()?[0] as i8)),
        0xcd => number(f64::from(u16::from_be_bytes(c.fixed()?))),
        0xd1 => number(f64::from(i16::from_be_bytes(c.fixed()?))),
        0xce => number(f64::from(u32::from_be_bytes(c.fixed()?))),
        0xd2 => number(f64::from(i32::from_be_bytes(c.fixed()?))),
        // Pushed as a signed lua_Integer: values above 2^63 wrap.
        0xcf => number(u64::from_be_bytes(c.fixed()?) as i64 as f64),
        0xd3 => number(i64::from_be_bytes(c.fixed()?) as f64),
        0xca => number(f64::from(f32::from_bits(u32::from_be_bytes(c.fixed()?)))),
        0xcb => number(f64::from_bits(u64::from_be_bytes(c.fixed()?))),
        0xc0 => {
            c.pos += 1;
            Ok(Ok(Value::Nil))
        }
        0xc2 | 0xc3 => {
            c.pos += 1;
            Ok(Ok(Value::Boolean(code == 0xc3)))
        }
        0xa0..=0xbf => string(lua, c, 1, usize::from(code & 0x1f)),
        0xd9 => {
            let len = c.data.get(c.pos + 1).ok_or(DecodeError::Eof)?;
            string(lua, c, 2, usize::from(*len))
        }
        0xda => {
            let len = c.data.get(c.pos + 1..c.pos + 3).ok_or(DecodeError::Eof)?;
            string(lua, c, 3, usize::from(u16::from_be_bytes([len[0], len[1]])))
        }
        0xdb => {
            let len = u32::from_be_bytes(c.fixed()?) as usize;
            string(lua, c, 0, len)
        }
        0x90..=0x9f => {
            c.pos += 1;
            Ok(Err(Header::Array(u64::from(code & 0xf))))
        }
        0x80..=0x8f => {
            c.pos += 1;
            Ok(Err(Header::Map(u64::from(code & 0xf))))
        }
        0xdc => Ok(Err(Header::Array(u64::from(u16::from_be_bytes(c.fixed()?))))),
        0xdd => Ok(Err(Header::Array(u64::from(u32::from_be_bytes(c.fixed()?))))),
        0xde => Ok(Err(Header::Map(u64::from(u16::from_be_bytes(c.fixed()?))))),
        0xdf => Ok(Err(Header::Map(u64::from(u32::from_be_bytes(c.fixed()?))))),
        _ => Err(DecodeError::BadFormat),
    }
}

/// A string of `len` bytes after a `header`-byte header; the header and
/// the bytes must be there together, and are consumed together.
fn string(lua: &Lua, c: &mut Cursor, header: usize, len: usize) -> Result<Result<Value, Header>, DecodeError> {
    let bytes = c.take(header.checked_add(len).ok_or(DecodeError::Eof)?)?;
    Ok(Ok(Value::String(lua.create_string(&bytes[header..])?)))
}
