//! The `struct` library (Roberto Ierusalimschy's `struct.c` 1.7 as Redis
//! 7.0 embeds it): `struct.pack`, `struct.unpack` and `struct.size` convert
//! between Lua values and binary strings laid out by a format.
//!
//! Format characters: `>` big endian, `<` little endian (the default, as on
//! the x86-64 Linux build of Redis), `![n]` maximum alignment (default 8),
//! `x` a zero byte, `b`/`B` signed/unsigned char, `h`/`H` short (2 bytes),
//! `l`/`L` long (8), `T` size_t (8), `i[n]`/`I[n]` an integer of n bytes
//! (default 4, at most 32), `f` float, `d` double, `c[n]` n bytes of string
//! (`c0`: the whole string when packing, the previous value as length when
//! unpacking), `s` a zero-terminated string and ` ` (ignored).
//!
//! The results, including those of the C code's unchecked conversions
//! (out-of-range numbers to integers, integers wider than 8 bytes), are the
//! ones the x86-64 build of Redis 7.0 gives; the error messages are the C
//! library's, with its argument numbers and the position of the caller.

#[cfg(test)]
mod tests;

use mlua::{BorrowedBytes, Lua, LuaString, MultiValue, Table, Value};

use super::cfunction::{arg, create, to_number, to_string, type_name, LibResult, Outcome, Raise, MAX_C_STACK};

/// Largest `n` in `i[n]` / `I[n]`.
const MAX_INT_SIZE: i32 = 32;
/// Default of `!` without a number: the alignment of a double.
const MAX_ALIGN: i32 = 8;

/// The endianness and maximum alignment in effect while reading a format.
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header { little: true, align: 1 }
    }
}

/// Reads a format string option by option.
struct Format {
    bytes: BorrowedBytes,
    /// The format as the C code sees it ends at the first zero byte.
    end: usize,
    at: usize,
}

impl Format {
    fn new(fmt: &LuaString) -> Self {
        let bytes = fmt.as_bytes();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Format { bytes, end, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        if self.at < self.end {
            self.bytes.get(self.at).copied()
        } else {
            None
        }
    }

    fn next_option(&mut self) -> Option<u8> {
        let opt = self.peek()?;
        self.at += 1;
        Some(opt)
    }

    /// The decimal number at the cursor, or `default` if there is none.
    fn number(&mut self, default: i32) -> LibResult<i32> {
        let mut value: Option<i32> = None;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            let next = value
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|v| v.checked_add(i32::from(c - b'0')))
                .ok_or_else(|| Raise::error("integral size overflow"))?;
            value = Some(next);
            self.at += 1;
        }
        Ok(value.unwrap_or(default))
    }

    /// The size of option `opt` (reading its number if it takes one);
    /// 0 for options without data (and unknown ones).
    fn size_of(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => non_negative(self.number(1)?),
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(Raise::error(format!("integral size {size} is larger than limit of {MAX_INT_SIZE}")));
                }
                non_negative(size)
            }
            _ => 0,
        })
    }

    /// Applies an option that has no data: endianness, alignment, space;
    /// anything else is an invalid option.
    fn control(&mut self, opt: u8, header: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => header.little = false,
            b'<' => header.little = true,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if align <= 0 || align & (align - 1) != 0 {
                    return Err(Raise::error(format!("alignment {align} is not a power of 2")));
                }
                header.align = non_negative(align);
            }
            _ => {
                let mut msg = b"invalid format option '".to_vec();
                msg.push(opt);
                msg.push(b'\'');
                return Err(Raise::arg(1, msg));
            }
        }
        Ok(())
    }
}

/// Format numbers are never negative; the conversion cannot fail.
fn non_negative(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Padding needed before an item of `size` bytes at offset `len`: items
/// align to their size, capped by the header's alignment (`c` never
/// aligns). Sizes that are not powers of two give the C code's odd but
/// harmless padding.
fn padding(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    let mask = size.wrapping_sub(1);
    size.wrapping_sub(len & mask) & mask
}

/// `(long)n` as compiled for x86-64: truncation, and the "integer
/// indefinite" value `i64::MIN` for NaN and out-of-range numbers.
fn truncate_i64(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if (-LIMIT..LIMIT).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// `(unsigned long)n` as compiled for x86-64: numbers from 2^63 on are
/// converted after subtracting 2^63; everything else (NaN included) as by
/// [`truncate_i64`].
fn truncate_u64(n: f64) -> u64 {
    const HALF: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if n >= HALF {
        (truncate_i64(n - HALF) as u64) ^ (1 << 63)
    } else {
        truncate_i64(n) as u64
    }
}

/// The number at argument `narg` (1-based) as `luaL_checknumber` takes it.
/// A missing argument reads as nil: `pack` leaves a nil right after its
/// arguments, so that is what the C code finds there.
fn number_arg(lua: &Lua, args: &MultiValue, narg: i32) -> LibResult<f64> {
    let value = arg(args, narg);
    match value {
        Some(v) => to_number(lua, v)?.ok_or_else(|| Raise::type_error(narg, "number", type_name(value))),
        None => Err(Raise::type_error(narg, "number", "nil")),
    }
}

/// The string at argument `narg` as `luaL_checklstring` takes it (numbers
/// are converted); `missing` is how a missing argument is named.
fn string_arg(lua: &Lua, args: &MultiValue, narg: i32, missing: &str) -> LibResult<LuaString> {
    let value = arg(args, narg);
    match value {
        Some(v) => to_string(lua, v)?.ok_or_else(|| Raise::type_error(narg, "string", type_name(value))),
        None => Err(Raise::type_error(narg, "string", missing)),
    }
}

fn is_integer_option(opt: u8) -> bool {
    matches!(opt, b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I')
}

/// Appends the `size` low bytes of `n` (converted as the C code does) in
/// the given byte order; bytes beyond the 8 of a long are zeros.
fn put_integer(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value = if n < 0.0 { truncate_i64(n) as u64 } else { truncate_u64(n) };
    let mut bytes: Vec<u8> = (0..size)
        .map(|_| {
            let byte = value as u8;
            value >>= 8;
            byte
        })
        .collect();
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

/// Reads an integer of `bytes.len()` bytes. Only the last 8 bytes read
/// count; sign extension uses the C code's mask, whose shift count x86-64
/// takes modulo 64 (so widths above 8 bytes extend from an inner bit).
fn get_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    let mut value = if little { bytes.iter().rev().fold(0, fold) } else { bytes.iter().fold(0, fold) };
    if !signed {
        return value as f64;
    }
    let bits = u32::try_from(bytes.len()).unwrap_or(u32::MAX).wrapping_mul(8).wrapping_sub(1);
    let mask = (!0u64).wrapping_shl(bits);
    if value & mask != 0 {
        value |= mask;
    }
    value as i64 as f64
}

/// `struct.pack(fmt, ...)`: the values laid out by `fmt` as a string.
fn pack(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let mut fmt = Format::new(&string_arg(lua, args, 1, "no value")?);
    let mut header = Header::default();
    let mut out = Vec::new();
    let mut narg = 2;
    let mut total = 0usize;
    while let Some(opt) = fmt.next_option() {
        let size = fmt.size_of(opt)?;
        let pad = padding(total, &header, opt, size);
        total = total.wrapping_add(pad);
        out.resize(out.len() + pad, 0);
        let size = match opt {
            _ if is_integer_option(opt) => {
                put_integer(&mut out, number_arg(lua, args, narg)?, header.little, size);
                narg += 1;
                size
            }
            b'x' => {
                out.push(0);
                size
            }
            b'f' => {
                let f = number_arg(lua, args, narg)? as f32;
                narg += 1;
                out.extend_from_slice(&if header.little { f.to_le_bytes() } else { f.to_be_bytes() });
                size
            }
            b'd' => {
                let d = number_arg(lua, args, narg)?;
                narg += 1;
                out.extend_from_slice(&if header.little { d.to_le_bytes() } else { d.to_be_bytes() });
                size
            }
            b'c' | b's' => {
                let s = string_arg(lua, args, narg, "nil")?.as_bytes();
                narg += 1;
                let size = if size == 0 { s.len() } else { size };
                // The C code names the argument after the string's.
                let bytes = s.get(..size).ok_or_else(|| Raise::arg(narg, "string too short"))?;
                out.extend_from_slice(bytes);
                if opt == b's' {
                    out.push(0);
                    size + 1
                } else {
                    size
                }
            }
            _ => {
                fmt.control(opt, &mut header)?;
                size
            }
        };
        total = total.wrapping_add(size);
    }
    Ok(MultiValue::from_vec(vec![Value::String(lua.create_string(out)?)]))
}

/// `struct.unpack(fmt, data [, pos])`: the values `fmt` describes, read
/// from `data` at byte `pos` (1-based, default 1), then the position after
/// them.
fn unpack(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let mut fmt = Format::new(&string_arg(lua, args, 1, "no value")?);
    let data = string_arg(lua, args, 2, "no value")?.as_bytes();
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(v) => match to_number(lua, v)? {
            Some(n) => truncate_i64(n),
            None => return Err(Raise::type_error(3, "number", type_name(Some(v)))),
        },
    };
    // The position is a size_t in the C code: negative offsets wrap around
    // (and are then past the end of any string).
    let mut pos = start as u64 as usize;
    if pos == 0 {
        return Err(Raise::arg(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let len = data.len();
    let too_short = || Raise::arg(2, "data string too short");
    let mut header = Header::default();
    let mut results: Vec<Value> = Vec::new();
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &header, opt, size));
        if size > len || pos > len - size {
            return Err(too_short());
        }
        if args.len() + results.len() + 2 > MAX_C_STACK {
            return Err(Raise::error("stack overflow (too many results)"));
        }
        match opt {
            _ if is_integer_option(opt) => {
                let bytes = data.get(pos..pos + size).ok_or_else(too_short)?;
                results.push(Value::Number(get_integer(bytes, header.little, opt.is_ascii_lowercase())));
            }
            b'x' => {}
            b'f' => {
                let bytes: [u8; 4] = data.get(pos..pos + 4).and_then(|b| b.try_into().ok()).ok_or_else(too_short)?;
                let f = if header.little { f32::from_le_bytes(bytes) } else { f32::from_be_bytes(bytes) };
                results.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let bytes: [u8; 8] = data.get(pos..pos + 8).and_then(|b| b.try_into().ok()).ok_or_else(too_short)?;
                let d = if header.little { f64::from_le_bytes(bytes) } else { f64::from_be_bytes(bytes) };
                results.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let previous = match results.last() {
                        Some(v) => to_number(lua, v)?,
                        None => None,
                    };
                    let n = previous.ok_or_else(|| Raise::error("format 'c0' needs a previous size"))?;
                    results.pop();
                    size = truncate_u64(n) as usize;
                    if size > len || pos > len - size {
                        return Err(too_short());
                    }
                }
                let bytes = data.get(pos..pos + size).ok_or_else(too_short)?;
                results.push(Value::String(lua.create_string(bytes)?));
            }
            b's' => {
                let rest = data.get(pos..).ok_or_else(too_short)?;
                let end = rest.iter().position(|&b| b == 0).ok_or_else(|| Raise::error("unfinished string in data"))?;
                results.push(Value::String(lua.create_string(&rest[..end])?));
                size = end + 1;
            }
            _ => fmt.control(opt, &mut header)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Integer(pos.wrapping_add(1) as i64));
    Ok(MultiValue::from_vec(results))
}

/// `struct.size(fmt)`: the number of bytes `fmt` packs to.
fn size(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let mut fmt = Format::new(&string_arg(lua, args, 1, "no value")?);
    let mut header = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next_option() {
        let size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &header, opt, size));
        if opt == b's' {
            return Err(Raise::arg(1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(Raise::arg(1, "option 'c0' has no fixed size"));
        }
        // Letters and digits without a size are silently worth nothing.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut header)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(MultiValue::from_vec(vec![Value::Integer(pos as i64)]))
}

/// Builds the `struct` table: `pack`, `unpack` and `size`, behaving
/// (results and error messages) as the `struct` library in Redis 7.0.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("pack", create(lua, None, |lua, args| pack(lua, &args).map(Outcome::Values))?)?;
    table.raw_set("unpack", create(lua, None, |lua, args| unpack(lua, &args).map(Outcome::Values))?)?;
    table.raw_set("size", create(lua, None, |lua, args| size(lua, &args).map(Outcome::Values))?)?;
    Ok(table)
}
