//! BITFIELD and BITFIELD_RO: signed and unsigned integers of 1 to 64 bits
//! (`u64` excepted, as RESP cannot carry it) at any bit offset of a string.
//!
//! The whole command line is parsed before anything runs (a bad argument
//! anywhere fails the call and changes nothing); the operations then run
//! in order on the same string, which a writing call first extends to its
//! farthest written bit.

use bytes::Bytes;

use super::super::args::{err, fail, int, is};
use super::super::{CmdResult, Ctx};
use super::{bit_offset, bits, edit_bits, read_bits};
use crate::protocol::Reply;

/// What an operation does when its result does not fit its field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Keep the low bits (two's complement for signed fields).
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Change nothing and answer null.
    Fail,
}

/// An integer field: its width and signedness.
#[derive(Clone, Copy)]
struct Field {
    signed: bool,
    bits: u32,
}

#[derive(Clone, Copy)]
enum Action {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One parsed GET, SET or INCRBY, with the OVERFLOW mode then in force.
struct Op {
    action: Action,
    field: Field,
    offset: u64,
    overflow: Overflow,
}

/// Parses a field type such as `i16` or `u8` (lower-case letter, as Redis).
fn field_type(arg: &[u8]) -> Result<Field, Reply> {
    let parsed = match arg.split_first() {
        Some((b'i', n)) => super::super::args::parse_i64_bytes(n).filter(|n| (1..=64).contains(n)).map(|n| (true, n)),
        Some((b'u', n)) => super::super::args::parse_i64_bytes(n).filter(|n| (1..=63).contains(n)).map(|n| (false, n)),
        _ => None,
    };
    match parsed {
        Some((signed, bits)) => Ok(Field { signed, bits: bits as u32 }),
        None => {
            fail("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
        }
    }
}

/// Parses the operations of `a[2..]`.
fn parse(a: &[Bytes]) -> Result<Vec<Op>, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < a.len() {
        let (sub, rest) = (&a[j], a.len() - j - 1);
        let action = if is(sub, "get") && rest >= 2 {
            Action::Get
        } else if is(sub, "set") && rest >= 3 {
            Action::Set(0)
        } else if is(sub, "incrby") && rest >= 3 {
            Action::IncrBy(0)
        } else if is(sub, "overflow") && rest >= 1 {
            let mode = &a[j + 1];
            overflow = if is(mode, "wrap") {
                Overflow::Wrap
            } else if is(mode, "sat") {
                Overflow::Sat
            } else if is(mode, "fail") {
                Overflow::Fail
            } else {
                return fail("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return fail(err::SYNTAX);
        };
        let field = field_type(&a[j + 1])?;
        let offset = bit_offset(&a[j + 2], Some(field.bits))?;
        let action = match action {
            Action::Get => Action::Get,
            Action::Set(_) => Action::Set(int(&a[j + 3])?),
            Action::IncrBy(_) => Action::IncrBy(int(&a[j + 3])?),
        };
        ops.push(Op { action, field, offset, overflow });
        j += if matches!(action, Action::Get) { 3 } else { 4 };
    }
    Ok(ops)
}

/// Fits `value` into `field`: `Ok` if it fits, else `Err` with what the
/// overflow mode makes of it (`None` for FAIL). Exact, in 128 bits.
fn fit(value: i128, field: Field, mode: Overflow) -> Result<u64, Option<u64>> {
    let (min, max) = if field.signed {
        (-(1i128 << (field.bits - 1)), (1i128 << (field.bits - 1)) - 1)
    } else {
        (0, (1i128 << field.bits) - 1)
    };
    if (min..=max).contains(&value) {
        return Ok(value as u64);
    }
    Err(match mode {
        Overflow::Fail => None,
        Overflow::Sat => Some(if value > max { max } else { min } as u64),
        // The low bits; a signed field's reader extends its sign bit.
        Overflow::Wrap => Some(value as u64),
    })
}

/// The field's value as a signed number (unsigned fields are below 2^63).
fn read(b: &[u8], offset: u64, field: Field) -> i64 {
    if field.signed {
        bits::get_signed_field(b, offset, field.bits)
    } else {
        bits::get_field(b, offset, field.bits) as i64
    }
}

/// Runs one SET or INCRBY on `b`: its reply (the old value for SET, the
/// new one for INCRBY, null when FAIL refused it) and whether it changed
/// the field.
fn write(b: &mut [u8], op: &Op, value: i64, incr: bool) -> (Reply, bool) {
    let old = read(b, op.offset, op.field);
    // Redis reads a negative SET value for an unsigned field as the huge
    // unsigned number it is in two's complement: too large, never too small.
    let as_unsigned = |v: i64| if op.field.signed { i128::from(v) } else { i128::from(v as u64) };
    let target = if incr { i128::from(old) + i128::from(value) } else { as_unsigned(value) };
    let stored = match fit(target, op.field, op.overflow) {
        Ok(v) | Err(Some(v)) => v,
        Err(None) => return (Reply::Nil, false),
    };
    bits::set_field(b, op.offset, op.field.bits, stored);
    let new = read(b, op.offset, op.field);
    (Reply::Int(if incr { new } else { old }), new != old)
}

/// Runs `ops` on `b` (extended to every written field): the replies and
/// how many operations changed the string (all that ran, if it `grew`).
fn run(b: &mut [u8], ops: &[Op], grew: bool) -> (Vec<Reply>, u64) {
    let mut changes = 0;
    let replies = ops
        .iter()
        .map(|op| {
            let (reply, changed) = match op.action {
                Action::Get => (Reply::Int(read(b, op.offset, op.field)), false),
                Action::Set(v) => write(b, op, v, false),
                Action::IncrBy(v) => write(b, op, v, true),
            };
            if changed || (grew && !matches!(reply, Reply::Nil) && !matches!(op.action, Action::Get)) {
                changes += 1;
            }
            reply
        })
        .collect();
    (replies, changes)
}

/// BITFIELD and BITFIELD_RO (`read_only`: refuses SET and INCRBY).
fn bitfield_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> CmdResult {
    let ops = parse(a)?;
    let key = &a[1];
    let mut write_end = None;
    for op in ops.iter().filter(|op| !matches!(op.action, Action::Get)) {
        let end = op.offset + u64::from(op.field.bits);
        write_end = Some(write_end.map_or(end, |e: u64| e.max(end)));
    }
    let Some(end_bit) = write_end else {
        let replies = read_bits(ctx, key, |b| ops.iter().map(|op| Reply::Int(read(b, op.offset, op.field))).collect())?;
        let replies = replies.unwrap_or_else(|| ops.iter().map(|_| Reply::Int(0)).collect());
        return Ok(Reply::Array(replies));
    };
    if read_only {
        return fail("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let len = end_bit.div_ceil(8) as usize;
    Ok(Reply::Array(edit_bits(ctx, key, len, |b, grew| run(b, &ops, grew))?))
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment | OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, a, false)
}

/// BITFIELD_RO key [GET type offset] ...
pub fn bitfield_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const I8: Field = Field { signed: true, bits: 8 };
    const U8: Field = Field { signed: false, bits: 8 };
    const I64: Field = Field { signed: true, bits: 64 };

    #[test]
    fn overflow_modes() {
        assert_eq!(fit(127, I8, Overflow::Fail), Ok(127));
        assert_eq!(fit(128, I8, Overflow::Fail), Err(None));
        assert_eq!(fit(128, I8, Overflow::Sat), Err(Some(127)));
        assert_eq!(fit(-129, I8, Overflow::Sat), Err(Some(-128i64 as u64)));
        assert_eq!(fit(128, I8, Overflow::Wrap).map_err(|v| v.map(|v| v as u8 as i8)), Err(Some(-128)));
        assert_eq!(fit(357, U8, Overflow::Wrap).map_err(|v| v.map(|v| v as u8)), Err(Some(101)));
        assert_eq!(fit(-1, U8, Overflow::Sat), Err(Some(0)));
        assert_eq!(fit(i128::from(i64::MAX) + 1, I64, Overflow::Wrap), Err(Some(i64::MIN as u64)));
    }

    #[test]
    fn writes_report_changes() {
        let ops = [
            Op { action: Action::Set(-100), field: I8, offset: 0, overflow: Overflow::Wrap },
            Op { action: Action::IncrBy(-100), field: I8, offset: 0, overflow: Overflow::Fail },
            Op { action: Action::Set(-100), field: I8, offset: 0, overflow: Overflow::Wrap },
            Op { action: Action::Get, field: U8, offset: 0, overflow: Overflow::Wrap },
        ];
        let mut b = [0u8];
        let (replies, changes) = run(&mut b, &ops, false);
        assert_eq!(replies, [Reply::Int(0), Reply::Nil, Reply::Int(-100), Reply::Int(156)]);
        assert_eq!(changes, 1);
    }
}
