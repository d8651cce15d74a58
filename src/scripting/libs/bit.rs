//! The `bit` library: LuaBitOp 1.0.2 as Redis 7.0 embeds it.
//!
//! Every function works on 32-bit integers and returns a signed 32-bit
//! result as a Lua number. Arguments are Lua numbers (doubles) or numeric
//! strings; LuaBitOp turns a double into 32 bits by adding 2^52 + 2^51 and
//! keeping the low 32 bits of the sum's representation, which rounds
//! fractions to nearest-even and wraps modulo 2^32 for moderate values, and
//! gives well-defined (if odd) bits for huge values, infinities and NaNs.
//! That conversion is reproduced exactly, as are LuaBitOp's error messages.

#[cfg(test)]
mod tests;

use mlua::{Lua, MultiValue, Table, Value};

use super::cfunction::{arg, create, to_number, type_name, LibResult, Outcome, Raise};

/// 2^52 + 2^51: adding it to a double moves the integer part (rounded to
/// nearest-even) into the low bits of the mantissa.
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// The 32 bits LuaBitOp takes from a Lua number.
fn number_bits(n: f64) -> u32 {
    if n.is_nan() {
        // x86 keeps a NaN operand's payload through the addition.
        n.to_bits() as u32
    } else {
        (n + MAGIC).to_bits() as u32
    }
}

/// The bits of argument `narg` (1-based), or LuaBitOp's "number expected"
/// error for a value that is not a number nor a numeric string.
fn bit_arg(lua: &Lua, args: &MultiValue, narg: i32) -> LibResult<u32> {
    let value = arg(args, narg);
    match value {
        Some(v) => match to_number(lua, v)? {
            Some(n) => Ok(number_bits(n)),
            None => Err(Raise::type_error(narg, "number", type_name(value))),
        },
        None => Err(Raise::type_error(narg, "number", type_name(None))),
    }
}

/// The result of a bit operation: the 32 bits read as a signed integer.
fn ret(b: u32) -> LibResult<Outcome> {
    Ok(Outcome::one(Value::Integer(i64::from(b as i32))))
}

/// `band`, `bor`, `bxor`: the first argument combined with all others,
/// checked from the last one down (so the error names the last bad one,
/// unless the first is bad).
fn fold(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> LibResult<Outcome> {
    let mut b = bit_arg(lua, args, 1)?;
    // A call has far fewer than `i32::MAX` arguments.
    let nargs = i32::try_from(args.len()).unwrap_or(i32::MAX);
    for narg in (2..=nargs).rev() {
        b = op(b, bit_arg(lua, args, narg)?);
    }
    ret(b)
}

/// `lshift` and friends: the first argument shifted by the second modulo 32.
fn shift(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> LibResult<Outcome> {
    let b = bit_arg(lua, args, 1)?;
    let n = bit_arg(lua, args, 2)? & 31;
    ret(op(b, n))
}

/// `tohex(x [, n])`: the low `|n|` hex digits of `x` (at most 8, default
/// 8), upper case when `n` is negative.
fn tohex(lua: &Lua, args: &MultiValue) -> LibResult<Outcome> {
    let mut b = bit_arg(lua, args, 1)?;
    let n = if args.len() < 2 { 8 } else { bit_arg(lua, args, 2)? as i32 };
    let digits: &[u8; 16] = if n < 0 { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    // |i32::MIN| does not fit an i32; it means "all 8 digits" like any
    // other width beyond 8 (Redis's fix for CVE-2024-31449 does the same).
    let width = n.unsigned_abs().min(8) as usize;
    let mut out = vec![0u8; width];
    for slot in out.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(Outcome::one(Value::String(lua.create_string(out)?)))
}

/// Builds the `bit` table: `tobit`, `bnot`, `band`, `bor`, `bxor`,
/// `lshift`, `rshift`, `arshift`, `rol`, `ror`, `bswap` and `tohex`,
/// behaving (results and error messages) as LuaBitOp 1.0.2 in Redis 7.0.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    let add = |name: &str, f: fn(&Lua, MultiValue) -> LibResult<Outcome>| table.raw_set(name, create(lua, None, f)?);
    add("tobit", |lua, args| ret(bit_arg(lua, &args, 1)?))?;
    add("bnot", |lua, args| ret(!bit_arg(lua, &args, 1)?))?;
    add("band", |lua, args| fold(lua, &args, |a, b| a & b))?;
    add("bor", |lua, args| fold(lua, &args, |a, b| a | b))?;
    add("bxor", |lua, args| fold(lua, &args, |a, b| a ^ b))?;
    add("lshift", |lua, args| shift(lua, &args, |b, n| b << n))?;
    add("rshift", |lua, args| shift(lua, &args, |b, n| b >> n))?;
    add("arshift", |lua, args| shift(lua, &args, |b, n| ((b as i32) >> n) as u32))?;
    add("rol", |lua, args| shift(lua, &args, u32::rotate_left))?;
    add("ror", |lua, args| shift(lua, &args, u32::rotate_right))?;
    add("bswap", |lua, args| ret(bit_arg(lua, &args, 1)?.swap_bytes()))?;
    add("tohex", |lua, args| tohex(lua, &args))?;
    Ok(table)
}
