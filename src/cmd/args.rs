//! Argument parsing and the error replies shared by every command, so each
//! error text is written once and matches Redis's exactly.

use bytes::Bytes;

use crate::protocol::Reply;

use super::CmdResult;

/// Error texts used by several commands (Redis 7 wording).
pub mod err {
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const NOT_INT: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NO_KEY: &str = "ERR no such key";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const INDEX_RANGE: &str = "ERR index out of range";
    pub const DB_INDEX: &str = "ERR DB index is out of range";
    pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    pub const TIMEOUT_NEG: &str = "ERR timeout is negative";
    pub const NAN_INF: &str = "ERR increment would produce NaN or Infinity";
    pub const HASH_NOT_INT: &str = "ERR hash value is not an integer";
    pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
    pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
}

/// WRONGTYPE, whichever collection a command expected (so `?` on the
/// keyspace's typed lookups answers Redis's error).
impl From<crate::db::value::WrongType> for Reply {
    fn from(_: crate::db::value::WrongType) -> Reply {
        Reply::err(err::WRONGTYPE)
    }
}

/// `proto-max-bulk-len`, published by its setter so the commands that
/// bound sizes by it (SETRANGE, APPEND, SETBIT offsets) read one atomic
/// instead of taking the config lock on every call.
static PROTO_MAX_BULK_LEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(512 * 1024 * 1024);

/// The `proto-max-bulk-len` in force. O(1).
pub fn proto_max_bulk_len() -> u64 {
    PROTO_MAX_BULK_LEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Publishes `proto-max-bulk-len` (see [`proto_max_bulk_len`]).
pub fn set_proto_max_bulk_len(v: u64) {
    PROTO_MAX_BULK_LEN.store(v, std::sync::atomic::Ordering::Relaxed);
}

/// An error reply as a command result.
pub fn fail<T>(msg: &str) -> Result<T, Reply> {
    Err(Reply::Error(msg.to_string()))
}

/// The wrong-type error.
pub fn wrongtype<T>() -> Result<T, Reply> {
    fail(err::WRONGTYPE)
}

/// Redis's arity error for command `name`.
pub fn arity_error(name: &str) -> Reply {
    Reply::Error(format!("ERR wrong number of arguments for '{}' command", name.to_ascii_lowercase()))
}

/// Parses a signed 64-bit decimal integer exactly as Redis's `string2ll`:
/// no spaces, no `+`, no leading zeros, at most 20 characters.
pub fn parse_i64_bytes(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    // Redis's string2ll: no leading zeros, no "-0", no "+".
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.first().is_none_or(|&c| c == b'0') {
        return None;
    }
    crate::protocol::parse_decimal(b)
}

/// An integer argument, or `ERR value is not an integer or out of range`.
pub fn int(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64_bytes(arg).ok_or_else(|| Reply::err(err::NOT_INT))
}

/// A non-negative integer argument with a specific error for negatives.
pub fn positive_int(arg: &[u8], neg_err: &str) -> Result<i64, Reply> {
    let n = int(arg)?;
    if n < 0 {
        return fail(neg_err);
    }
    Ok(n)
}

/// Parses a float as Redis's `string2ld`/`strtod` accepts it: no spaces,
/// `inf`/`-inf` allowed, NaN refused.
pub fn parse_f64_bytes(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b.len() > 5120 || b[0].is_ascii_whitespace() || b[b.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let f: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    };
    if f.is_nan() {
        return None;
    }
    Some(f)
}

/// A float argument, or `ERR value is not a valid float`.
pub fn float(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64_bytes(arg).ok_or_else(|| Reply::err(err::NOT_FLOAT))
}

/// A blocking timeout in seconds (float allowed); `None` means forever (0).
pub fn timeout(arg: &[u8]) -> Result<Option<std::time::Duration>, Reply> {
    let f = parse_f64_bytes(arg).filter(|f| f.is_finite()).ok_or_else(|| Reply::err(err::TIMEOUT_NOT_FLOAT))?;
    if f < 0.0 {
        return fail(err::TIMEOUT_NEG);
    }
    if f == 0.0 {
        return Ok(None);
    }
    std::time::Duration::try_from_secs_f64(f).map(Some).map_err(|_| Reply::err("ERR timeout is out of range"))
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Converts a Redis-style index (negative counts from the end) into a
/// position in a sequence of `len` items, if it is inside it.
pub fn index(idx: i64, len: usize) -> Option<usize> {
    let i = if idx < 0 { len as i64 + idx } else { idx };
    (i >= 0 && i < len as i64).then_some(i as usize)
}

/// Clamps a Redis `start stop` range (inclusive, negatives from the end) to
/// `len` items. `None` when the range is empty.
pub fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

/// Most elements a negative count (repeats allowed) may ask of HRANDFIELD,
/// SRANDMEMBER or ZRANDMEMBER. Redis streams such replies; this server
/// builds them in memory, so a bound keeps one request from exhausting it.
pub const MAX_RANDOM_REPEATS: u64 = 1 << 24;

/// The `count [WITH…]` arguments (`rest`, after the key) of HRANDFIELD and
/// ZRANDMEMBER (`with`: `withvalues`, `withscores`) or SRANDMEMBER (`None`),
/// checked in Redis's order with Redis's errors: the count, and whether the
/// WITH word was given. O(1).
pub fn random_count(rest: &[Bytes], with: Option<&str>) -> Result<(i64, bool), Reply> {
    if with.is_none() && rest.len() > 1 {
        return fail(err::SYNTAX);
    }
    let count = int(&rest[0])?;
    if count == i64::MIN {
        return fail("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
    }
    let paired = match (with, rest.get(1)) {
        (_, None) => false,
        (Some(word), Some(w)) if rest.len() == 2 && is(w, word) => true,
        _ => return fail(err::SYNTAX),
    };
    if paired && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return fail("ERR value is out of range");
    }
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPEATS {
        return fail("ERR value is out of range");
    }
    Ok((count, paired))
}

/// Formats an integer into bytes.
pub fn int_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// Shorthand for an `OK` result.
pub fn ok() -> CmdResult {
    Ok(crate::protocol::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64_bytes(b"123"), Some(123));
        assert_eq!(parse_i64_bytes(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64_bytes(b"9223372036854775808"), None);
        assert_eq!(parse_i64_bytes(b"+1"), None);
        assert_eq!(parse_i64_bytes(b" 1"), None);
        assert_eq!(parse_i64_bytes(b"01"), None);
        assert_eq!(parse_i64_bytes(b"-0"), None);
        assert_eq!(parse_i64_bytes(b""), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(range(0, -1, 3), Some((0, 2)));
        assert_eq!(range(-100, 100, 3), Some((0, 2)));
        assert_eq!(range(2, 1, 3), None);
        assert_eq!(range(5, 10, 3), None);
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(3, 3), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64_bytes(b"1.5"), Some(1.5));
        assert_eq!(parse_f64_bytes(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_bytes(b"nan"), None);
        assert_eq!(parse_f64_bytes(b" 1"), None);
    }
}
