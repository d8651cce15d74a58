//! Decoders for the compact blob encodings Redis nests inside RDB strings:
//! listpack, ziplist and zipmap.
//!
//! Every decoder works on an untrusted byte slice, checks every bound, and
//! reports problems as a human-readable reason naming the position inside
//! the blob (the caller adds the file offset of the blob). Elements are
//! appended to an [`Elements`] (one buffer for all of them, no allocation
//! per element); integer entries become their decimal text, as Redis does
//! when it reads them.

use super::listpack::{backlen_size, string_to_i64};
use super::Elements;

/// Value of a listpack/ziplist header element count meaning "unknown".
const COUNT_UNKNOWN: u16 = u16::MAX;

fn slice<'a>(buf: &'a [u8], start: usize, len: usize, what: &str) -> Result<&'a [u8], String> {
    start
        .checked_add(len)
        .and_then(|end| buf.get(start..end))
        .ok_or_else(|| format!("{what} at position {start} overruns the {}-byte blob", buf.len()))
}

fn byte_at(buf: &[u8], pos: usize, what: &str) -> Result<u8, String> {
    buf.get(pos).copied().ok_or_else(|| format!("{what} at position {pos} overruns the {}-byte blob", buf.len()))
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

fn le_u16(b: &[u8]) -> u16 {
    let mut a = [0u8; 2];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u16::from_le_bytes(a)
}

/// Sign-extends the low `bits` bits of `v` (1..=64 bits, two's complement).
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Little-endian unsigned integer from up to 8 bytes.
fn le_uint(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Decodes a back-length field stored in forward order: the first byte
/// holds the most significant 7 bits, the following bytes have bit 7 set.
fn lp_decode_backlen(b: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate() {
        let continuation = x & 0x80 != 0;
        if continuation != (i != 0) {
            return None;
        }
        v = (v << 7) | u64::from(x & 0x7f);
    }
    Some(v)
}

/// Reserves room for a blob's elements: the declared count, but never
/// more than the blob could hold (each element takes at least 2 bytes), so
/// a lying header cannot make us allocate; and the blob's size in bytes.
fn reserve_for(out: &mut Elements, declared: u16, blob_len: usize) {
    let n = if declared == COUNT_UNKNOWN { 0 } else { usize::from(declared).min(blob_len / 2) };
    out.reserve(n, blob_len);
}

/// Decodes every element of a listpack, appending them to `out`. O(blob
/// size).
///
/// Validates the header's total size against the blob, each entry's
/// encoding, data bounds and back-length, the terminating `0xFF` as the last
/// byte, and the header element count (unless it is the "unknown" 65535).
/// On error `out` holds an unspecified part of the elements.
pub fn listpack_entries(lp: &[u8], out: &mut Elements) -> Result<(), String> {
    let mut it = ListpackIter::new(lp)?;
    reserve_for(out, it.declared, lp.len());
    while let Some(item) = it.next_item()? {
        item.push_to(out);
    }
    Ok(())
}

/// One listpack element as stored: an integer or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpItem<'a> {
    /// An integer-encoded element.
    Int(i64),
    /// A string-encoded element.
    Str(&'a [u8]),
}

impl LpItem<'_> {
    /// Appends the element to `out` (an integer as its decimal text).
    pub fn push_to(self, out: &mut Elements) {
        match self {
            LpItem::Int(v) => out.push_int(v),
            LpItem::Str(s) => out.push(s),
        }
    }

    /// The element as an integer, as Redis's `lpGetIntegerIfValid` reads
    /// it: an integer entry, or a string that is a canonical integer.
    pub fn as_int(self) -> Option<i64> {
        match self {
            LpItem::Int(v) => Some(v),
            LpItem::Str(s) => string_to_i64(s),
        }
    }
}

/// Walks the elements of an untrusted listpack one at a time, validating
/// as [`listpack_entries`] does: the header when created, each entry when
/// reached, the terminator and the element count at the end.
pub struct ListpackIter<'a> {
    lp: &'a [u8],
    pos: usize,
    count: u64,
    declared: u16,
    done: bool,
}

impl<'a> ListpackIter<'a> {
    /// Checks the header of `lp`. O(1).
    pub fn new(lp: &'a [u8]) -> Result<Self, String> {
        if lp.len() < 7 {
            return Err(format!("listpack of {} bytes is shorter than its header", lp.len()));
        }
        let total = le_u32(&lp[0..4]) as usize;
        if total != lp.len() {
            return Err(format!("listpack header says {total} bytes but blob has {}", lp.len()));
        }
        Ok(ListpackIter { lp, pos: 6, count: 0, declared: le_u16(&lp[4..6]), done: false })
    }

    /// The next element, or `None` once the terminator is reached (after
    /// checking it is the last byte and the header count matches). O(size
    /// of the element).
    pub fn next_item(&mut self) -> Result<Option<LpItem<'a>>, String> {
        if self.done {
            return Ok(None);
        }
        let lp = self.lp;
        let start = self.pos;
        if byte_at(lp, start, "listpack entry")? == 0xFF {
            if start + 1 != lp.len() {
                return Err(format!("listpack terminator at position {start} is not the last byte"));
            }
            if self.declared != COUNT_UNKNOWN && self.count != u64::from(self.declared) {
                return Err(format!("listpack header says {} elements but has {}", self.declared, self.count));
            }
            self.done = true;
            return Ok(None);
        }
        let (item, enc_len) = lp_item(lp, start)?;
        let bl_size = backlen_size(enc_len);
        let bl = slice(lp, start + enc_len, bl_size, "listpack back-length")?;
        if lp_decode_backlen(bl) != Some(enc_len as u64) {
            return Err(format!("listpack entry at position {start} has a wrong back-length"));
        }
        self.count += 1;
        self.pos = start + enc_len + bl_size;
        Ok(Some(item))
    }

    /// Position of the next element in the blob (for error messages).
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Decodes one listpack entry at `pos`; returns it and the size of its
/// encoding plus data (without the back-length).
fn lp_item(lp: &[u8], pos: usize) -> Result<(LpItem<'_>, usize), String> {
    let b = byte_at(lp, pos, "listpack entry")?;
    let int = |n: usize, bits: u32| -> Result<(LpItem<'_>, usize), String> {
        let d = slice(lp, pos + 1, n, "listpack integer")?;
        Ok((LpItem::Int(sign_extend(le_uint(d), bits)), 1 + n))
    };
    match b {
        0x00..=0x7F => Ok((LpItem::Int(i64::from(b)), 1)),
        0xC0..=0xDF => {
            let lo = byte_at(lp, pos + 1, "listpack 13-bit integer")?;
            Ok((LpItem::Int(sign_extend((u64::from(b & 0x1f) << 8) | u64::from(lo), 13)), 2))
        }
        0xF1 => int(2, 16),
        0xF2 => int(3, 24),
        0xF3 => int(4, 32),
        0xF4 => int(8, 64),
        0x80..=0xBF | 0xE0..=0xF0 => {
            let (hdr, len) = match b {
                0x80..=0xBF => (1, usize::from(b & 0x3f)),
                0xE0..=0xEF => (
                    2,
                    (usize::from(b & 0x0f) << 8) | usize::from(byte_at(lp, pos + 1, "listpack 12-bit string length")?),
                ),
                _ => (5, le_u32(slice(lp, pos + 1, 4, "listpack 32-bit string length")?) as usize),
            };
            Ok((LpItem::Str(slice(lp, pos + hdr, len, "listpack string")?), hdr + len))
        }
        _ => Err(format!("listpack entry at position {pos} has invalid encoding byte {b:#04x}")),
    }
}

/// Decodes every element of a ziplist (the pre-7.0 compact encoding),
/// appending them to `out`. O(blob size).
///
/// Validates the header size, each entry's prev-length against the previous
/// entry, its encoding and bounds, the tail offset, the `0xFF` terminator as
/// the last byte, and the element count (unless it is the "unknown" 65535).
/// On error `out` holds an unspecified part of the elements.
pub fn ziplist_entries(zl: &[u8], out: &mut Elements) -> Result<(), String> {
    if zl.len() < 11 {
        return Err(format!("ziplist of {} bytes is shorter than its header", zl.len()));
    }
    let total = le_u32(&zl[0..4]) as usize;
    if total != zl.len() {
        return Err(format!("ziplist header says {total} bytes but blob has {}", zl.len()));
    }
    let tail = le_u32(&zl[4..8]) as usize;
    let declared = le_u16(&zl[8..10]);
    reserve_for(out, declared, zl.len());
    let mut pos = 10usize;
    let mut prev_size = 0usize;
    let mut last_start: Option<usize> = None;
    let mut count: u64 = 0;
    loop {
        let first = byte_at(zl, pos, "ziplist entry")?;
        if first == 0xFF {
            if pos + 1 != zl.len() {
                return Err(format!("ziplist terminator at position {pos} is not the last byte"));
            }
            break;
        }
        let start = pos;
        let (prevlen, plen_size) = if first < 254 {
            (usize::from(first), 1)
        } else if first == 254 {
            let d = slice(zl, pos + 1, 4, "ziplist prev-length")?;
            (le_u32(d) as usize, 5)
        } else {
            return Err(format!("ziplist entry at position {pos} has prev-length byte 0xff"));
        };
        if prevlen != prev_size {
            return Err(format!("ziplist entry at position {start} has prev-length {prevlen}, expected {prev_size}"));
        }
        let body = zl_entry(zl, start + plen_size, out)?;
        count += 1;
        prev_size = plen_size + body;
        last_start = Some(start);
        pos = start + prev_size;
    }
    if let Some(last) = last_start {
        if last != tail {
            return Err(format!("ziplist tail offset {tail} does not point at the last entry {last}"));
        }
    }
    if declared != COUNT_UNKNOWN && count != u64::from(declared) {
        return Err(format!("ziplist header says {declared} elements but has {count}"));
    }
    Ok(())
}

/// Decodes one ziplist entry's encoding+data at `pos` into `out`; returns
/// the number of bytes used.
fn zl_entry(zl: &[u8], pos: usize, out: &mut Elements) -> Result<usize, String> {
    let e = byte_at(zl, pos, "ziplist encoding")?;
    if e >> 6 != 3 {
        let (hdr, len) = match e >> 6 {
            0 => (1, usize::from(e & 0x3f)),
            1 => (2, (usize::from(e & 0x3f) << 8) | usize::from(byte_at(zl, pos + 1, "ziplist 14-bit length")?)),
            _ => {
                let d = slice(zl, pos + 1, 4, "ziplist 32-bit length")?;
                (5, u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
            }
        };
        out.push(slice(zl, pos + hdr, len, "ziplist string")?);
        return Ok(hdr + len);
    }
    let (n, bits) = match e {
        0xC0 => (2, 16),
        0xD0 => (4, 32),
        0xE0 => (8, 64),
        0xF0 => (3, 24),
        0xFE => (1, 8),
        0xF1..=0xFD => {
            out.push_int(i64::from(e & 0x0f) - 1);
            return Ok(1);
        }
        _ => return Err(format!("ziplist entry at position {pos} has invalid encoding byte {e:#04x}")),
    };
    let d = slice(zl, pos + 1, n, "ziplist integer")?;
    out.push_int(sign_extend(le_uint(d), bits));
    Ok(1 + n)
}

/// Reads a zipmap length field at `pos`: returns (length, bytes used).
fn zm_len(zm: &[u8], pos: usize, what: &str) -> Result<(usize, usize), String> {
    match byte_at(zm, pos, what)? {
        b @ 0..=253 => Ok((usize::from(b), 1)),
        254 => Ok((le_u32(slice(zm, pos + 1, 4, what)?) as usize, 5)),
        _ => Err(format!("zipmap {what} at position {pos} is the end marker")),
    }
}

/// Decodes a zipmap (the pre-2.6 small hash encoding), appending its
/// fields and values alternately to `out`. O(blob size).
///
/// Validates bounds, the `0xFF` terminator as the last byte, and the count
/// byte when it is below 254 (254 and above mean "count unknown").
pub fn zipmap_pairs(zm: &[u8], out: &mut Elements) -> Result<(), String> {
    let declared = byte_at(zm, 0, "zipmap header")?;
    let mut pos = 1usize;
    let mut count = 0usize;
    loop {
        if byte_at(zm, pos, "zipmap entry")? == 0xFF {
            if pos + 1 != zm.len() {
                return Err(format!("zipmap terminator at position {pos} is not the last byte"));
            }
            break;
        }
        let (klen, ks) = zm_len(zm, pos, "key length")?;
        let key = slice(zm, pos + ks, klen, "zipmap key")?;
        pos += ks + klen;
        let (vlen, vs) = zm_len(zm, pos, "value length")?;
        let free = usize::from(byte_at(zm, pos + vs, "zipmap free byte")?);
        let val = slice(zm, pos + vs + 1, vlen, "zipmap value")?;
        pos += vs + 1 + vlen;
        slice(zm, pos, free, "zipmap free space")?;
        pos += free;
        out.push(key);
        out.push(val);
        count += 1;
    }
    if declared < 254 && count != usize::from(declared) {
        return Err(format!("zipmap header says {declared} pairs but has {count}"));
    }
    Ok(())
}

/// Checks a hash's flat `[field, value, field, value, ...]` sequence has
/// an even number of elements. O(1).
pub fn check_pairs(flat: &Elements) -> Result<(), String> {
    if !flat.len().is_multiple_of(2) {
        return Err(format!("hash encoding has an odd number of elements ({})", flat.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_encoders::{listpack, ziplist, zipmap};
    use super::*;

    fn sample_items() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = Vec::new();
        for n in [
            0i64,
            1,
            12,
            13,
            127,
            128,
            -1,
            -128,
            -129,
            4095,
            4096,
            -4096,
            -4097,
            32767,
            32768,
            -32768,
            -32769,
            8_388_607,
            8_388_608,
            -8_388_608,
            -8_388_609,
            i32::MAX as i64,
            i32::MAX as i64 + 1,
            i32::MIN as i64,
            i32::MIN as i64 - 1,
            i64::MAX,
            i64::MIN,
        ] {
            v.push(n.to_string().into_bytes());
        }
        for s in ["", "a", "007", "-0", "+5", "hello world"] {
            v.push(s.as_bytes().to_vec());
        }
        for len in [63, 64, 127, 128, 253, 254, 4095, 4096, 16383, 16384, 70_000] {
            v.push((0..len).map(|i| b'a' + (i % 26) as u8).collect());
        }
        v
    }

    fn check_items(out: &Elements, items: &[Vec<u8>]) {
        assert_eq!(out.len(), items.len());
        for (a, b) in out.iter().zip(items) {
            assert_eq!(a, b.as_slice());
        }
    }

    #[test]
    fn listpack_roundtrip() {
        let items = sample_items();
        let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
        let mut out = Elements::new();
        listpack_entries(&listpack(&refs), &mut out).unwrap();
        check_items(&out, &items);
        let mut out = Elements::new();
        listpack_entries(&listpack(&[]), &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn ziplist_roundtrip() {
        let items = sample_items();
        let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
        let mut out = Elements::new();
        ziplist_entries(&ziplist(&refs), &mut out).unwrap();
        check_items(&out, &items);
        let mut out = Elements::new();
        ziplist_entries(&ziplist(&[]), &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn decoders_append_after_existing_elements() {
        let items: Vec<&[u8]> = vec![b"fld:0001", b"12", b"-70000", b""];
        for kind in 0..2 {
            let mut out: Elements = ["before"].into_iter().collect();
            if kind == 0 {
                listpack_entries(&listpack(&items), &mut out).unwrap();
            } else {
                ziplist_entries(&ziplist(&items), &mut out).unwrap();
            }
            let want: Elements = ["before", "fld:0001", "12", "-70000", ""].into_iter().collect();
            assert_eq!(out, want, "kind {kind}");
        }
    }

    #[test]
    fn zipmap_roundtrip() {
        let big = vec![b'z'; 300];
        let pairs: Vec<(&[u8], &[u8])> = vec![(b"f1", b"v1"), (b"", b""), (&big, b"x"), (b"k", &big)];
        for free in [0, 3] {
            let zm = zipmap(&pairs, free);
            let mut out = Elements::new();
            zipmap_pairs(&zm, &mut out).unwrap();
            assert_eq!(out, Elements::from_pairs(pairs.iter().copied()));
        }
    }

    #[test]
    fn corrupt_blobs_are_rejected_without_panic() {
        let items: Vec<&[u8]> = vec![b"abc", b"12345", b"-7", b"hello world, long-ish"];
        let blobs = [listpack(&items), ziplist(&items), zipmap(&[(b"a", b"b"), (b"cc", b"dd")], 1)];
        for (kind, blob) in blobs.iter().enumerate() {
            // Every truncation and every single-byte corruption either decodes
            // or errors, never panics; truncations always error.
            for cut in 0..blob.len() {
                let r = decode(kind, &blob[..cut]);
                assert!(r.is_err(), "kind {kind} cut {cut}");
            }
            for i in 0..blob.len() {
                for x in [0x00u8, 0x01, 0x7f, 0x80, 0xc0, 0xf5, 0xfe, 0xff] {
                    let mut b = blob.clone();
                    b[i] ^= x;
                    let _ = decode(kind, &b);
                }
            }
        }
        // Wrong header count.
        let mut lp = listpack(&items);
        lp[4] = 3;
        assert!(decode(0, &lp).is_err());
        let mut zl = ziplist(&items);
        zl[8] = 5;
        assert!(decode(1, &zl).is_err());
        // Unknown count (65535) is accepted.
        lp[4] = 0xff;
        lp[5] = 0xff;
        assert!(decode(0, &lp).is_ok());
        // Huge string length inside a blob does not allocate or panic.
        let evil = [11, 0, 0, 0, 1, 0, 0xF0, 0xff, 0xff, 0xff, 0x7f, 0xff];
        let mut v = evil.to_vec();
        v[0] = v.len() as u8;
        assert!(decode(0, &v).is_err());
        // A header claiming 65534 elements in a tiny blob reserves little.
        let mut out = Elements::new();
        let mut lying = listpack(&[b"a"]);
        lying[4..6].copy_from_slice(&65534u16.to_le_bytes());
        assert!(listpack_entries(&lying, &mut out).is_err());
    }

    fn decode(kind: usize, b: &[u8]) -> Result<(), String> {
        let mut out = Elements::new();
        match kind {
            0 => listpack_entries(b, &mut out),
            1 => ziplist_entries(b, &mut out),
            _ => zipmap_pairs(b, &mut out),
        }
    }

    #[test]
    fn pairs() {
        assert!(check_pairs(&["a", "1"].into_iter().collect()).is_ok());
        assert!(check_pairs(&["a"].into_iter().collect()).is_err());
    }
}
