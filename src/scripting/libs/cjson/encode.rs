//! `cjson.encode`: Lua value to JSON text.
//!
//! Walks nested tables with an explicit stack (no Rust recursion), and
//! counts the Lua stack slots lua-cjson's recursive C walk would hold, so
//! that the nesting limits are the same: `encode_max_depth`, and the 8000
//! slots (`LUAI_MAXCSTACK`) a C function may use.

use mlua::{Lua, Table, Value};

use super::Config;
use crate::scripting::libs::cfunction::{c_to_i32, type_name, LibResult, Raise, TableStack, MAX_C_STACK};

/// Values taken while scanning tables are kept to spare a lookup each, up
/// to this many per table and `HELD_VALUES` in all (each holds an mlua
/// reference, of which a Lua state has about 8000); the others are looked
/// up when written.
const HELD_PER_TABLE: usize = 64;
const HELD_VALUES: usize = 2048;

/// A table key, kept without holding a Lua reference.
enum Key {
    Str(Vec<u8>),
    Num(f64),
    /// A key that cannot be written (its Lua type name).
    Other(&'static str),
}

/// A table being written (the table itself is in a [`TableStack`]), with
/// the values taken while scanning it, if any, and how many those are.
enum Frame {
    /// `[t[1],...,t[len]]`, holes as `null`.
    Array { len: i32, next: i64, values: Vec<Value>, held: usize },
    /// `{"k":v,...}` in `next` order.
    Object { entries: Vec<(Key, Option<Value>)>, next: usize, held: usize },
}

/// The JSON text for `value`, or lua-cjson's error for it.
pub(super) fn encode(lua: &Lua, cfg: &Config, value: Value) -> LibResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut tables = TableStack::default();
    let mut held = 0usize;
    // Slots in use below the value being written: the argument, plus per
    // open table the value (array) or key and value (object) being written.
    let mut height = 1usize;
    let mut pending = Some(value);
    loop {
        if let Some(value) = pending.take() {
            match value {
                Value::Table(table) => {
                    let depth = stack.len() + 1;
                    if depth > cfg.encode_max_depth as usize || height + 3 > MAX_C_STACK {
                        return Err(Raise::error(format!("Cannot serialise, excessive nesting ({depth})")));
                    }
                    let frame = scan(&table, cfg, HELD_VALUES.saturating_sub(held).min(HELD_PER_TABLE))?;
                    match &frame {
                        Frame::Array { held: n, .. } => {
                            out.push(b'[');
                            height += 1;
                            held += n;
                        }
                        Frame::Object { held: n, .. } => {
                            out.push(b'{');
                            height += 2;
                            held += n;
                        }
                    }
                    stack.push(frame);
                    tables.push(lua, table)?;
                }
                other => append_scalar(&mut out, cfg, &other)?,
            }
        }
        let (Some(frame), Some(table)) = (stack.last_mut(), tables.top()) else { break };
        match frame {
            Frame::Array { len, next, values, held: n } => {
                if *next > i64::from(*len) {
                    out.push(b']');
                    held -= *n;
                    stack.pop();
                    tables.pop()?;
                    height -= 1;
                } else {
                    if *next > 1 {
                        out.push(b',');
                    }
                    pending = Some(match values.get_mut(*next as usize - 1) {
                        Some(value) => std::mem::take(value),
                        None => table.raw_get(*next)?,
                    });
                    *next += 1;
                }
            }
            Frame::Object { entries, next, held: n } => {
                let Some((key, value)) = entries.get_mut(*next) else {
                    out.push(b'}');
                    held -= *n;
                    stack.pop();
                    tables.pop()?;
                    height -= 2;
                    continue;
                };
                if *next > 0 {
                    out.push(b',');
                }
                match key {
                    Key::Str(bytes) => {
                        append_string(&mut out, bytes);
                        out.push(b':');
                    }
                    Key::Num(n) => {
                        out.push(b'"');
                        append_number(&mut out, cfg, *n)?;
                        out.extend_from_slice(b"\":");
                    }
                    Key::Other(type_name) => {
                        return Err(cannot_serialise(type_name, "table key must be a number or string"));
                    }
                }
                pending = Some(match (value.take(), key) {
                    (Some(value), _) => value,
                    (None, Key::Str(bytes)) => table.raw_get(lua.create_string(bytes)?)?,
                    (None, Key::Num(n)) => table.raw_get(*n)?,
                    (None, Key::Other(_)) => Value::Nil,
                });
                *next += 1;
            }
        }
    }
    Ok(out)
}

/// `Cannot serialise <type>: <reason>`.
fn cannot_serialise(type_name: &str, reason: &str) -> Raise {
    Raise::error(format!("Cannot serialise {type_name}: {reason}"))
}

/// Array or object, as lua-cjson decides: an array when every key is an
/// integer >= 1 and the array is not excessively sparse (then an error,
/// or an object if `encode_sparse_array` converts); empty tables are
/// objects. Keeps up to `room` of the values seen.
fn scan(table: &Table, cfg: &Config, room: usize) -> LibResult<Frame> {
    // lua-cjson keeps the largest index in a C int (assigned from the
    // double, so out-of-range indexes become INT_MIN) and counts items.
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    let mut is_array = true;
    let mut entries = Vec::new();
    let mut held = 0;
    table.for_each::<Value, Value>(|key, value| {
        let key = match key {
            Value::String(s) => Key::Str(s.as_bytes().to_vec()),
            Value::Integer(i) => Key::Num(i as f64),
            Value::Number(n) => Key::Num(n),
            other => Key::Other(type_name(Some(&other))),
        };
        if is_array {
            match key {
                Key::Num(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                    if k > f64::from(max) {
                        max = c_to_i32(k);
                    }
                    items = items.wrapping_add(1);
                }
                _ => is_array = false,
            }
        }
        let keep = held < room;
        held += usize::from(keep);
        entries.push((key, keep.then_some(value)));
        Ok(())
    })?;
    if is_array {
        let ratio = cfg.encode_sparse_ratio;
        if ratio > 0 && max > items.wrapping_mul(ratio) && max > cfg.encode_sparse_safe {
            if cfg.encode_sparse_convert == 0 {
                return Err(cannot_serialise("table", "excessively sparse array"));
            }
        } else if max > 0 {
            // Values by index when all were kept and holes are few.
            let len = max as usize;
            let mut values = Vec::new();
            if held == entries.len() && len <= room {
                values.resize(len, Value::Nil);
                for (key, value) in entries {
                    // (Keys beyond `max` are possible: lua-cjson's int
                    // `max` can skip indexes above INT_MAX.)
                    if let (Key::Num(k), Some(value)) = (key, value) {
                        if let Some(slot) = values.get_mut(k as usize - 1) {
                            *slot = value;
                        }
                    }
                }
            }
            let held = values.len();
            return Ok(Frame::Array { len: max, next: 1, values, held });
        }
    }
    Ok(Frame::Object { entries, next: 0, held })
}

/// Writes a value that is not a table.
fn append_scalar(out: &mut Vec<u8>, cfg: &Config, value: &Value) -> LibResult<()> {
    match value {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(i) => append_number(out, cfg, *i as f64)?,
        Value::Number(n) => append_number(out, cfg, *n)?,
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        other => return Err(cannot_serialise(type_name(Some(other)), "type not supported")),
    }
    Ok(())
}

/// Writes a number: `%.<precision>g`, with NaN and infinities refused,
/// written (`encode_invalid_numbers` on) or written as `null`.
fn append_number(out: &mut Vec<u8>, cfg: &Config, n: f64) -> LibResult<()> {
    match cfg.encode_invalid_numbers {
        0 if !n.is_finite() => return Err(cannot_serialise("number", "must not be NaN or Inf")),
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    format_g(out, n, cfg.encode_number_precision.clamp(1, 17) as usize);
    Ok(())
}

/// Appends `n` formatted like C's `printf("%.<precision>g", n)`.
pub(super) fn format_g(out: &mut Vec<u8>, n: f64, precision: usize) {
    if n.is_nan() {
        out.extend_from_slice(if n.is_sign_negative() { b"-nan" } else { b"nan" });
        return;
    }
    if n.is_infinite() {
        out.extend_from_slice(if n < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if n == 0.0 {
        out.extend_from_slice(if n.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let p = precision.max(1);
    // Integers with at most p digits print as they are.
    if n.fract() == 0.0 && n.abs() < 1e15 {
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(n as i64);
        if digits.trim_start_matches('-').len() <= p {
            out.extend_from_slice(digits.as_bytes());
            return;
        }
    }
    // The p significant digits and the decimal exponent after rounding,
    // which decides between the fixed and the exponent style as in C.
    let sci = format!("{:.*e}", p - 1, n.abs());
    let Some((mantissa, exp)) = sci.split_once('e') else { return };
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    // Trailing zeros are dropped (%g without '#'); one digit stays.
    let significant = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
    let digits = &digits[..significant];
    if n < 0.0 {
        out.push(b'-');
    }
    if exp < -4 || exp >= p as i32 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(abs).as_bytes());
    } else if exp < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', exp.unsigned_abs() as usize - 1));
        out.extend_from_slice(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

/// Writes a JSON string: quotes, backslash and `/` escaped, control
/// characters and DEL as `\b \t \n \f \r` or `\u00XX`; other bytes as they
/// are (UTF-8 is not checked).
pub(super) fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}
