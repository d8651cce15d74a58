//! Bit operations on strings (Redis's `bitops.c`): SETBIT GETBIT BITCOUNT
//! BITPOS BITOP BITFIELD BITFIELD_RO.
//!
//! A bitmap is an ordinary string value (an integer-looking string works
//! as its decimal text); bit 0 is the high bit of the first byte. Reads
//! run on the stored bytes without copying them. Writes change the stored
//! bytes in place when the string is long enough and no reply still shares
//! it (O(1) for SETBIT on a string of any length); otherwise they build
//! the zero-padded string once and store it with the string family's
//! in-place store, as SETRANGE does. Either way a write that changes no
//! bit and no length is not a change: no dirty count, no WATCH
//! invalidation, no propagation, no event (Redis 7.0's rule).
//!
//! - [`bits`] holds the bit arithmetic (counts, searches, fields, BITOP).
//! - [`count`] holds BITCOUNT and BITPOS, and their BYTE/BIT ranges.
//! - [`bitop`] holds BITOP.
//! - [`bitfield`] holds BITFIELD and BITFIELD_RO.

use bytes::Bytes;

use super::args::{fail, wrongtype};
use super::table::flags::*;
use super::table::CommandSpec;
use super::{CmdResult, Ctx};
use crate::db::compact::CompactBytes;
use crate::db::Value;
use crate::protocol::Reply;
use crate::pubsub::notify::{self, class};
use crate::spec;

pub mod bitfield;
pub mod bitop;
pub mod bits;
pub mod count;

/// Redis's error for a bad or too large bit offset.
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Parses a bit offset as Redis's `getBitOffsetFromArgument`: a
/// non-negative integer whose byte lies below `proto-max-bulk-len` (not
/// enforced while replaying persisted data). With `field_bits`, the
/// `#<n>` form means `n × field_bits` (BITFIELD's field indexes).
fn bit_offset(arg: &[u8], field_bits: Option<u32>) -> Result<u64, Reply> {
    let (digits, times) = match (arg.strip_prefix(b"#"), field_bits) {
        (Some(rest), Some(bits)) => (rest, i64::from(bits)),
        _ => (arg, 1),
    };
    let n = super::args::parse_i64_bytes(digits).and_then(|n| n.checked_mul(times));
    let Some(n) = n.filter(|&n| n >= 0) else { return fail(BAD_OFFSET) };
    if !crate::db::loading() && (n as u64 >> 3) >= super::args::proto_max_bulk_len() {
        return fail(BAD_OFFSET);
    }
    Ok(n as u64)
}

/// Runs `f` on the bytes of the string at `key`, looked up for a read
/// (hit/miss statistics, access time): `None` if the key is missing,
/// WRONGTYPE if it holds another type. No copy.
fn read_bits<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, Reply> {
    match ctx.ks.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(f(s))),
            _ => wrongtype(),
        },
    }
}

/// The stored bytes of `s` for changing in place, when nothing else shares
/// them (a long string handed to a reply that is still being written is
/// shared, and must be copied instead).
fn exclusive_bytes(s: &mut CompactBytes) -> Option<&mut [u8]> {
    match s {
        CompactBytes::Inline(len, buf) => Some(&mut buf[..*len as usize]),
        CompactBytes::Boxed(b) => Some(b),
        CompactBytes::Shared(a) => std::sync::Arc::get_mut(a),
        // Shared with the request it came in (and maybe a reply): copied.
        CompactBytes::Received(_) => None,
    }
}

/// The write path of SETBIT and BITFIELD (Redis's
/// `lookupStringForBitCommand`): makes the string at `key` at least `len`
/// bytes long (created, or zero-padded), then runs `f(bytes, grew)`, which
/// returns its result and how many changes it made (`grew`: the key was
/// created or lengthened, which Redis counts as a change of every write).
/// Changes are recorded as writes (dirty counter, WATCH, propagation) and
/// raise one `setbit` event; the key's TTL is kept; the string reports
/// the `raw` encoding afterwards, as Redis unshares it. WRONGTYPE if the
/// key holds another type. O(1) plus `f` in place; O(len) when the string
/// must be copied (created, lengthened, or shared with a pending reply).
fn edit_bits<R>(
    ctx: &mut Ctx,
    key: &Bytes,
    len: usize,
    f: impl FnOnce(&mut [u8], bool) -> (R, u64),
) -> Result<R, Reply> {
    let mut f = Some(f);
    let mut run = |b: &mut [u8], grew: bool| match f.take() {
        Some(f) => f(b, grew),
        None => unreachable!("edit_bits runs its function once"),
    };
    // Peek (no change recorded yet): a write that changes nothing is none.
    let copy = match ctx.ks.peek(key) {
        None => None,
        Some(e) => {
            let Value::Str(s) = &mut e.value else { return wrongtype() };
            e.modified_in_place = true;
            match exclusive_bytes(s).filter(|b| b.len() >= len) {
                Some(b) => {
                    let (r, changes) = run(b, false);
                    if changes > 0 {
                        // Records the change (and the access). Should the key
                        // expire between the two lookups it is gone, and so
                        // is this write, as if it had expired just after it.
                        ctx.ks.write(key);
                        record_changes(ctx, key, changes);
                    }
                    return Ok(r);
                }
                None => Some(s.to_vec()),
            }
        }
    };
    let grew = copy.as_ref().is_none_or(|c| c.len() < len);
    let mut b = copy.unwrap_or_default();
    if b.len() < len {
        b.resize(len, 0);
    }
    let (r, changes) = run(&mut b, grew);
    if changes > 0 || grew {
        super::string::store_in_place(ctx, key, Bytes::from(b));
        record_changes(ctx, key, changes);
    }
    Ok(r)
}

/// Counts `changes` writes to `key` (one is already recorded by the
/// keyspace: Redis adds one to its dirty counter per changed field) and
/// raises the `setbit` event.
fn record_changes(ctx: &mut Ctx, key: &Bytes, changes: u64) {
    if changes == 0 {
        return;
    }
    ctx.ks.changes.count += changes - 1;
    notify::raise(ctx.client, class::STRING, "setbit", key);
}

/// Parses SETBIT's value: 0 or 1.
fn bit_value(arg: &[u8]) -> Result<u8, Reply> {
    match super::args::parse_i64_bytes(arg) {
        Some(v @ (0 | 1)) => Ok(v as u8),
        _ => fail("ERR bit is not an integer or out of range"),
    }
}

fn setbit(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&a[2], None)?;
    let on = bit_value(&a[3])?;
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7);
    let old = edit_bits(ctx, &a[1], byte + 1, |b, grew| {
        let old = (b[byte] >> shift) & 1;
        b[byte] = (b[byte] & !(1 << shift)) | (on << shift);
        (old, u64::from(grew || old != on))
    })?;
    Ok(Reply::Int(i64::from(old)))
}

fn getbit(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let offset = bit_offset(&a[2], None)?;
    let bit = read_bits(ctx, &a[1], |b| bits::get_bit(b, offset))?;
    Ok(Reply::Int(i64::from(bit.unwrap_or(0))))
}

/// The bitmap family's rows of the command table (Redis 7.0's arity,
/// flags and key positions).
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("setbit", 4, WRITE | DENYOOM, 1, 1, 1, setbit, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "O(1)"),
    spec!("getbit", 3, READONLY | FAST, 1, 1, 1, getbit, "bitmap", "Returns a bit value by offset.", "O(1)"),
    spec!("bitcount", -2, READONLY, 1, 1, 1, count::bitcount, "bitmap", "Counts the number of set bits (population counting) in a string.", "O(N)"),
    spec!("bitpos", -3, READONLY, 1, 1, 1, count::bitpos, "bitmap", "Finds the first set (1) or clear (0) bit in a string.", "O(N)"),
    spec!("bitop", -4, WRITE | DENYOOM, 2, -1, 1, bitop::bitop, "bitmap", "Performs bitwise operations on multiple strings, and stores the result.", "O(N)"),
    spec!("bitfield", -2, WRITE | DENYOOM, 1, 1, 1, bitfield::bitfield, "bitmap", "Performs arbitrary bitfield integer operations on strings.", "O(1) for each subcommand specified"),
    spec!("bitfield_ro", -2, READONLY | FAST, 1, 1, 1, bitfield::bitfield_ro, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.", "O(1) for each subcommand specified"),
];
