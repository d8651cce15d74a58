//! Redis's intset blob (RDB type 11, `intset.c`): a u32 element size in
//! bytes (2, 4 or 8), a u32 count, then the integers, sorted ascending and
//! unique, each little-endian in that size. All fields little-endian.
//!
//! Also [`DupCheck`], the duplicate-member check of sets and sorted sets
//! read from a file.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::Elements;

/// Bytes of the intset header (encoding, length).
const HEADER: usize = 8;

/// Decodes an intset blob, appending its integers (as decimal text, as
/// Redis reads them) to `out` in ascending order. O(blob size).
///
/// Validates what Redis's deep integrity check does: a known element size,
/// a blob size matching the count exactly, a non-empty set, and strictly
/// ascending (so unique) integers. On error `out` holds an unspecified
/// part of the members.
pub fn decode(blob: &[u8], out: &mut Elements) -> Result<(), String> {
    if blob.len() < HEADER {
        return Err(format!("intset of {} bytes is shorter than its header", blob.len()));
    }
    let word = |at: usize| u32::from_le_bytes([blob[at], blob[at + 1], blob[at + 2], blob[at + 3]]);
    let size = word(0);
    if !matches!(size, 2 | 4 | 8) {
        return Err(format!("intset element size {size} is not 2, 4 or 8"));
    }
    let size = size as usize;
    let count = word(4) as usize;
    let body = &blob[HEADER..];
    if count.checked_mul(size) != Some(body.len()) {
        return Err(format!("intset header says {count} elements of {size} bytes but has {} bytes", body.len()));
    }
    if count == 0 {
        return Err("intset is empty".into());
    }
    out.reserve(count, count * 4);
    let mut prev: Option<i64> = None;
    for (i, c) in body.chunks_exact(size).enumerate() {
        let v = match *c {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => return Err("intset element of a wrong size".into()),
        };
        if prev.is_some_and(|p| p >= v) {
            return Err(format!("intset element {i} ({v}) is not greater than the one before"));
        }
        prev = Some(v);
        out.push_int(v);
    }
    Ok(())
}

/// Writes the intset blob of `sorted` (ascending, unique, non-empty) into
/// `buf` (cleared first), in the smallest element size that holds every
/// value. Returns `None` when there are more than `u32::MAX` integers.
/// O(n).
pub fn encode(sorted: &[i64], buf: &mut Vec<u8>) -> Option<()> {
    let count = u32::try_from(sorted.len()).ok()?;
    let (lo, hi) = (sorted.first().copied().unwrap_or(0), sorted.last().copied().unwrap_or(0));
    let fits = |min: i64, max: i64| lo >= min && hi <= max;
    let size: u32 = if fits(i16::MIN.into(), i16::MAX.into()) {
        2
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        4
    } else {
        8
    };
    buf.clear();
    buf.reserve(HEADER + sorted.len() * size as usize);
    buf.extend_from_slice(&size.to_le_bytes());
    buf.extend_from_slice(&count.to_le_bytes());
    for &v in sorted {
        // In range by the choice of `size`.
        buf.extend_from_slice(&v.to_le_bytes()[..size as usize]);
    }
    Some(())
}

/// Finds duplicate members with a table of indexes reused from value to
/// value (no allocation per value once grown), hashed with a per-reader
/// random key so a crafted file cannot make the check quadratic.
#[derive(Default)]
pub struct DupCheck {
    table: Vec<usize>,
    hasher: RandomState,
}

/// Empty slot of the [`DupCheck`] table.
const EMPTY: usize = usize::MAX;

impl DupCheck {
    /// Index of the first element of `items` equal to an earlier one, if
    /// any. O(total bytes) expected.
    pub fn first_dup(&mut self, items: &Elements) -> Option<usize> {
        let n = items.len();
        if n < 2 {
            return None;
        }
        let cap = n.saturating_mul(2).next_power_of_two();
        self.table.clear();
        self.table.resize(cap, EMPTY);
        let mask = cap - 1;
        for (i, it) in items.iter().enumerate() {
            let mut h = self.hasher.hash_one(it) as usize & mask;
            loop {
                match self.table[h] {
                    EMPTY => {
                        self.table[h] = i;
                        break;
                    }
                    j if items.get(j) == Some(it) => return Some(i),
                    _ => h = (h + 1) & mask,
                }
            }
        }
        None
    }

    /// Frees the table if it grew past `keep` bytes. O(1).
    pub fn shrink(&mut self, keep: usize) {
        if self.table.capacity() * std::mem::size_of::<usize>() > keep {
            self.table = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &[i64], size: u32) {
        let mut blob = Vec::new();
        encode(v, &mut blob).unwrap();
        assert_eq!(blob[..4], size.to_le_bytes(), "{v:?}");
        assert_eq!(blob.len(), 8 + v.len() * size as usize);
        let mut out = Elements::new();
        decode(&blob, &mut out).unwrap();
        let want: Elements = v.iter().map(|x| x.to_string()).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn encodings_by_range() {
        round_trip(&[-32768, 0, 32767], 2);
        round_trip(&[-32769, 5], 4);
        round_trip(&[1, 32768], 4);
        round_trip(&[i32::MIN.into(), i32::MAX.into()], 4);
        round_trip(&[i64::from(i32::MIN) - 1], 8);
        round_trip(&[i64::MIN, -1, 0, i64::MAX], 8);
    }

    #[test]
    fn redis_layout() {
        // Redis 7.0: SADD s 1 2 3 stores 02000000 03000000 0100 0200 0300.
        let mut blob = Vec::new();
        encode(&[1, 2, 3], &mut blob).unwrap();
        assert_eq!(blob, [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
    }

    #[test]
    fn bad_blobs_are_errors() {
        let good = [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0];
        assert!(decode(&good, &mut Elements::new()).is_ok());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], &mut Elements::new()).is_err(), "cut {cut}");
        }
        let cases: [&[u8]; 6] = [
            &[3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0],          // element size 3
            &[2, 0, 0, 0, 0, 0, 0, 0],                   // empty
            &[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0],       // descending
            &[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0],       // duplicate
            &[2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0],       // count too large
            &[8, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 0], // count overflowing
        ];
        for c in cases {
            assert!(decode(c, &mut Elements::new()).is_err(), "{c:?}");
        }
    }

    #[test]
    fn duplicates_are_found() {
        let mut d = DupCheck::default();
        assert_eq!(d.first_dup(&Elements::new()), None);
        assert_eq!(d.first_dup(&["a"].into_iter().collect()), None);
        assert_eq!(d.first_dup(&["a", "b", "", "c"].into_iter().collect()), None);
        assert_eq!(d.first_dup(&["a", "b", "", "b"].into_iter().collect()), Some(3));
        assert_eq!(d.first_dup(&["", ""].into_iter().collect()), Some(1));
        let many: Elements = (0..10_000).map(|i| i.to_string()).collect();
        assert_eq!(d.first_dup(&many), None);
        let mut dup = many.clone();
        dup.push(b"9999");
        assert_eq!(d.first_dup(&dup), Some(10_000));
        d.shrink(0);
        assert!(d.table.capacity() == 0);
    }
}
