//! BITCOUNT and BITPOS: counting and finding bits over a whole string or
//! a BYTE or BIT range of it, with Redis's rules for negative and
//! out-of-range indexes.

use bytes::Bytes;

use super::super::args::{err, fail, int, is};
use super::super::{CmdResult, Ctx};
use super::{bits, read_bits};
use crate::protocol::Reply;

/// Whether a range argument counts bytes or bits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Byte,
    Bit,
}

/// Parses the optional `BYTE|BIT` word.
fn unit(arg: Option<&Bytes>) -> Result<Unit, Reply> {
    match arg {
        None => Ok(Unit::Byte),
        Some(a) if is(a, "bit") => Ok(Unit::Bit),
        Some(a) if is(a, "byte") => Ok(Unit::Byte),
        Some(_) => fail(err::SYNTAX),
    }
}

/// The bits `first..=last` of a `len`-byte string that `start..=end` (in
/// `unit`s, negative counting from the end) covers once clamped to the
/// string, or `None` when that is empty. O(1).
fn bit_range(start: i64, end: i64, unit: Unit, len: usize) -> Option<(u64, u64)> {
    let total = match unit {
        Unit::Byte => len as i64,
        Unit::Bit => len as i64 * 8,
    };
    let from_end = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(total - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(match unit {
        Unit::Byte => (start * 8, end * 8 + 7),
        Unit::Bit => (start, end),
    })
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    // The key comes first: a missing key counts 0 whatever the arguments.
    let n = read_bits(ctx, &a[1], |s| -> Result<u64, Reply> {
        let range = match a.len() {
            2 => Some((0, -1, Unit::Byte)),
            4 | 5 => {
                let (start, end) = (int(&a[2])?, int(&a[3])?);
                if start < 0 && end < 0 && start > end {
                    None
                } else {
                    Some((start, end, unit(a.get(4))?))
                }
            }
            _ => return fail(err::SYNTAX),
        };
        Ok(match range.and_then(|(st, en, u)| bit_range(st, en, u, s.len())) {
            Some((first, last)) => bits::count_range(s, first, last),
            None => 0,
        })
    })?;
    Ok(Reply::Int(n.transpose()?.unwrap_or(0) as i64))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let bit = match int(&a[2])? {
        0 => false,
        1 => true,
        _ => return fail("ERR The bit argument must be 1 or 0."),
    };
    // A missing key is an endless run of zeros.
    let pos = read_bits(ctx, &a[1], |s| -> Result<i64, Reply> {
        let (start, end, unit) = match a.len() {
            3 => (0, None, Unit::Byte),
            4..=6 => {
                let start = int(&a[3])?;
                let unit = unit(a.get(5))?;
                let end = a.get(4).map(|e| int(e)).transpose()?;
                (start, end, unit)
            }
            _ => return fail(err::SYNTAX),
        };
        let Some((first, last)) = bit_range(start, end.unwrap_or(-1), unit, s.len()) else { return Ok(-1) };
        Ok(match bits::find_in_range(s, bit, first, last) {
            Some(p) => p as i64,
            // No 1 in range; no 0 either: with no end given the string
            // reads as followed by zeros, so the next bit is the answer.
            None if bit || end.is_some() => -1,
            None => last as i64 + 1,
        })
    })?;
    Ok(Reply::Int(pos.transpose()?.unwrap_or(if bit { -1 } else { 0 })))
}
