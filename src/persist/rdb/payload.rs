//! DUMP payloads (Redis's `createDumpPayload` / `verifyDumpPayload`): one
//! value in its RDB encoding, framed for DUMP, RESTORE and MIGRATE.
//!
//! ```text
//! TYPE VALUE | RDB version (2 bytes, LE) | CRC-64 of all before (8 bytes, LE)
//! ```
//!
//! The value is written by [`RdbWriter`] and read by the RDB reader, so a
//! payload encodes a value exactly as a dump file does (and as Redis 7.0
//! does: its payloads restore here and ours there).

use std::cell::RefCell;

use super::{crc64, read_value_ref, RdbError, RdbValueRef, RdbWriter, RDB_WRITE_VERSION};

/// Version and checksum bytes after the value.
const FOOTER: usize = 10;

/// Why a payload was refused, with the error Redis answers RESTORE with.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Too short for the footer, written by a newer RDB version than
    /// [`RDB_WRITE_VERSION`], or the checksum does not match.
    #[error("ERR DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The footer is right but the value does not decode (or is an empty
    /// collection, or a type this server does not hold).
    #[error("ERR Bad data format")]
    BadFormat(RdbError),
}

thread_local! {
    /// Each thread's payload writer, reused from value to value (see
    /// [`RdbWriter::take_value`]).
    static WRITER: RefCell<RdbWriter<Vec<u8>>> = RefCell::new(RdbWriter::value_only(Vec::new(), true));
}

/// Builds a payload: `write` writes one value through a
/// [`RdbWriter::value_only`] writer (its `key` and expiry arguments are
/// ignored), then the footer is added. Strings are LZF-compressed when
/// `compression` says so (Redis's `rdbcompression`). Equal values give
/// equal payloads. O(size of the value).
pub fn encode_payload(
    compression: bool,
    write: impl FnOnce(&mut RdbWriter<Vec<u8>>) -> Result<(), RdbError>,
) -> Result<Vec<u8>, RdbError> {
    let mut out = WRITER.with(|w| -> Result<Vec<u8>, RdbError> {
        // A fresh writer if this thread's is in use (never, in practice).
        let Ok(mut w) = w.try_borrow_mut() else {
            let mut fresh = RdbWriter::value_only(Vec::new(), compression);
            write(&mut fresh)?;
            return fresh.into_value();
        };
        w.take_value(compression)?;
        let r = write(&mut w);
        // Taken even after an error: the next value starts clean.
        let out = w.take_value(compression)?;
        r.map(|()| out)
    })?;
    out.extend_from_slice(&(RDB_WRITE_VERSION as u16).to_le_bytes());
    let sum = crc64(0, &out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// Checks a payload's footer as Redis's `verifyDumpPayload` does (at least
/// 10 bytes, version at most [`RDB_WRITE_VERSION`], matching CRC-64) and
/// returns the RDB version and the value bytes before the footer. O(len).
pub fn verify_payload(payload: &[u8]) -> Result<(u16, &[u8]), PayloadError> {
    let Some(body_len) = payload.len().checked_sub(FOOTER) else { return Err(PayloadError::VersionOrChecksum) };
    let (body, footer) = payload.split_at(body_len);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > RDB_WRITE_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let sum = crc64(0, &payload[..body_len + 2]);
    if sum.to_le_bytes() != footer[2..] {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok((version, body))
}

/// Verifies a payload ([`verify_payload`]) and decodes its value, handing
/// it to `f` borrowed. Hostile input is an error, never a panic: the value
/// is checked as thoroughly as a key of a dump file (Redis's
/// `sanitize-dump-payload yes`). An empty collection is
/// [`PayloadError::BadFormat`], as Redis refuses it. O(len).
pub fn decode_payload<T>(payload: &[u8], f: impl FnOnce(RdbValueRef<'_>) -> T) -> Result<T, PayloadError> {
    let (_, body) = verify_payload(payload)?;
    match read_value_ref(body, f) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(PayloadError::BadFormat(RdbError::Corrupt { offset: 0, reason: "empty collection".into() })),
        Err(e) => Err(PayloadError::BadFormat(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::{Elements, RdbValue};

    fn dump(v: &RdbValue) -> Vec<u8> {
        match encode_payload(true, |w| w.write_entry(b"", v, None)) {
            Ok(p) => p,
            Err(e) => panic!("encode: {e}"),
        }
    }

    #[test]
    fn string_payload_matches_redis() {
        // Redis 7.0: DUMP of SET foo bar.
        let p = dump(&RdbValue::Str(bytes::Bytes::from_static(b"bar")));
        assert_eq!(p, b"\x00\x03bar\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17".to_vec());
    }

    #[test]
    fn round_trip_and_refusals() {
        let mut l = Elements::new();
        for i in 0..100 {
            l.push(format!("item {i}").as_bytes());
        }
        let v = RdbValue::List(l);
        let p = dump(&v);
        let back = decode_payload(&p, |r| r.to_owned());
        assert!(matches!(back, Ok(ref b) if *b == v));
        // A flipped bit anywhere fails the checksum.
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i] ^= 0x10;
            assert!(matches!(decode_payload(&q, |_| ()), Err(PayloadError::VersionOrChecksum)), "byte {i}");
        }
        // Every truncation is refused.
        for n in 0..p.len() {
            assert!(decode_payload(&p[..n], |_| ()).is_err());
        }
    }

    #[test]
    fn garbage_with_a_valid_footer_is_bad_format() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let n = rng.usize(0..64);
            let mut body: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            if let Some(b) = body.first_mut() {
                *b %= 22;
            }
            body.extend_from_slice(&10u16.to_le_bytes());
            let sum = crc64(0, &body);
            body.extend_from_slice(&sum.to_le_bytes());
            let _ = decode_payload(&body, |r| r.to_owned());
        }
    }
}
