//! The Redis wire protocol: request parsing and reply encoding.
//!
//! Shared by the data server, the proxy and the client. Knows nothing about
//! data types or commands.

pub mod frame;
pub mod inline;
pub mod parser;
pub mod peek;
pub mod reply;

pub use parser::{ProtocolError, RequestParser};
pub use reply::{encode, Reply, OK};

/// Parses `-?[0-9]+` as an i64 (at most 20 characters), refusing overflow.
/// The one decimal parser of the protocol layer: request headers, reply
/// integers, and (with Redis's stricter rules on top) command arguments.
pub fn parse_decimal(b: &[u8]) -> Option<i64> {
    if b.len() > 20 {
        return None;
    }
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg { v.checked_mul(10)?.checked_sub(d)? } else { v.checked_mul(10)?.checked_add(d)? };
    }
    Some(v)
}
