//! The payload of FUNCTION DUMP / FUNCTION RESTORE (Redis 7.0's
//! `rdbSaveFunctions` inside a DUMP envelope): each library as opcode 0xF5
//! and its code as an RDB string, then the RDB version (2 bytes, little
//! endian) and a CRC-64 of everything before it.

use super::input::Input;
use super::{crc64, op, RdbError, RDB_MAX_READ_VERSION, RDB_WRITE_VERSION};

fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The FUNCTION DUMP payload of these libraries' code. O(total size).
pub fn encode_function_payload<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(op::FUNCTION2);
        put_len(&mut out, code.len() as u64);
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&(RDB_WRITE_VERSION as u16).to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code in a FUNCTION RESTORE payload, or `None` when its
/// version or checksum is wrong or its content malformed (Redis answers
/// "payload version or checksum are wrong" / "given type is not a
/// function"). Never panics. O(payload size).
pub fn decode_function_payload(payload: &[u8]) -> Option<Result<Vec<Vec<u8>>, RdbError>> {
    if payload.len() < 10 {
        return None;
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().ok()?);
    if u32::from(version) > RDB_MAX_READ_VERSION || (crc != 0 && crc != crc64(0, &payload[..payload.len() - 8])) {
        return None;
    }
    let mut inp = Input::new(body);
    let mut codes = Vec::new();
    while inp.offset < body.len() as u64 {
        let t = match inp.read_u8("function opcode") {
            Ok(t) => t,
            Err(e) => return Some(Err(e)),
        };
        if t != op::FUNCTION2 {
            return Some(Err(RdbError::Corrupt { offset: inp.offset, reason: "given type is not a function".into() }));
        }
        match inp.read_string("function library") {
            Ok(code) => codes.push(code),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(codes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let p = encode_function_payload([b"#!lua name=a\n".as_slice(), &[b'x'; 300]]);
        let codes = decode_function_payload(&p).unwrap().unwrap();
        assert_eq!(codes, vec![b"#!lua name=a\n".to_vec(), vec![b'x'; 300]]);
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert!(decode_function_payload(&bad).is_none());
        assert!(decode_function_payload(b"short").is_none());
    }
}
