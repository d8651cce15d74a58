//! Encoder for Redis's listpack format (the blob Redis 7 stores a small
//! hash in, RDB type 16, and each quicklist node in, RDB type 18).
//!
//! Layout, as `listpack.c` defines it: a 6-byte header (total bytes, u32
//! LE; element count, u16 LE, 65535 = "too many to count"), the entries,
//! and a `0xFF` terminator. Each entry is an encoding byte (or bytes), its
//! data, and a back-length (the size of encoding + data, 7 bits per byte,
//! most significant first, every byte but the first flagged with bit 7).
//! Strings that are canonical decimal integers are stored in the smallest
//! integer encoding that holds them, exactly as Redis's `lpAppend` does:
//! that is what makes Redis's files small, and a file written here is byte
//! for byte what Redis would write for the same elements.

/// Bytes of the listpack header.
pub const HEADER: usize = 6;
/// The terminator byte.
const END: u8 = 0xFF;
/// Header element count meaning "unknown" (65535 or more elements).
const COUNT_UNKNOWN: usize = u16::MAX as usize;

/// `s` as an i64 if it is the canonical decimal form of one (no sign but
/// `-`, no leading zero, no `-0`, at most 20 bytes, no overflow): the rule
/// of Redis's `lpStringToInt64` and `string2ll`. O(len).
pub fn string_to_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] if !neg => return Some(0),
        [b'1'..=b'9', ..] if digits.len() <= 19 => {}
        _ => return None,
    }
    // 19 digits are below 10^19 < 2^64: no overflow in u64.
    let mut v = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(d - b'0');
    }
    if neg {
        // -2^63 is the one magnitude with no positive counterpart.
        (v <= 1 << 63).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Size of the encoding byte(s) plus data of an integer entry.
fn int_size(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32_768..=32_767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    }
}

/// Size of the encoding byte(s) plus data of a string entry of `len` bytes.
fn str_size(len: usize) -> usize {
    if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    }
}

/// Bytes taken by the back-length of an entry whose encoding plus data is
/// `l` bytes (the thresholds of `lpEncodeBacklen`).
pub fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16_383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// Bytes `item` takes in a listpack, back-length included. O(len).
pub fn entry_size(item: &[u8]) -> usize {
    match string_to_i64(item) {
        Some(v) => int_entry_size(v),
        None => str_size(item.len()) + backlen_size(str_size(item.len())),
    }
}

/// Bytes the integer `v` takes in a listpack, back-length included. O(1).
pub fn int_entry_size(v: i64) -> usize {
    int_size(v) + backlen_size(int_size(v))
}

/// Builds one listpack at a time in a reusable buffer.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
    count: usize,
}

impl Encoder {
    /// Starts a new, empty listpack (keeps the buffer's capacity). O(1).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; HEADER]);
        self.count = 0;
    }

    /// Number of elements appended since [`clear`](Self::clear). O(1).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends `item` (integer-encoded when canonical); returns the bytes it
    /// took. O(len). Call [`clear`](Self::clear) first.
    pub fn push(&mut self, item: &[u8]) -> usize {
        match string_to_i64(item) {
            Some(v) => self.push_int(v),
            None => self.push_str(item),
        }
    }

    /// Appends the integer `v` in the smallest integer encoding that holds
    /// it; returns the bytes it took. O(1).
    pub fn push_int(&mut self, v: i64) -> usize {
        let before = self.start_entry();
        let b = &mut self.buf;
        match int_size(v) {
            1 => b.push(v as u8),
            2 => {
                let u = (v as u16) & 0x1fff;
                b.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
            }
            3 => {
                b.push(0xF1);
                b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            4 => {
                b.push(0xF2);
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            5 => {
                b.push(0xF3);
                b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                b.push(0xF4);
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.end_entry(before, int_size(v))
    }

    /// Appends `item` string-encoded (even when it looks like an integer).
    fn push_str(&mut self, item: &[u8]) -> usize {
        let before = self.start_entry();
        let b = &mut self.buf;
        let n = item.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.extend_from_slice(&[0xE0 | (n >> 8) as u8, n as u8]);
        } else {
            // Lengths past u32 cannot be stored: `finish` refuses
            // such a pack (its total overflows too).
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(item);
        self.end_entry(before, str_size(n))
    }

    /// Where the next entry starts (opening the listpack if needed).
    fn start_entry(&mut self) -> usize {
        if self.buf.len() < HEADER {
            self.clear();
        }
        self.buf.len()
    }

    /// Appends the back-length of an entry of `l` bytes that started at
    /// `before`; returns the entry's whole size.
    fn end_entry(&mut self, before: usize, l: usize) -> usize {
        let n = backlen_size(l);
        for i in (0..n).rev() {
            let byte = ((l >> (7 * i)) & 0x7f) as u8;
            self.buf.push(if i + 1 == n { byte } else { byte | 0x80 });
        }
        self.count += 1;
        self.buf.len() - before
    }

    /// Ends the listpack (terminator, header) and returns it, or `None` if
    /// it is larger than a listpack can be (4 GiB). O(1).
    pub fn finish(&mut self) -> Option<&[u8]> {
        if self.buf.len() < HEADER {
            self.clear();
        }
        self.buf.push(END);
        let total = u32::try_from(self.buf.len()).ok()?;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(COUNT_UNKNOWN) as u16;
        self.buf[4..HEADER].copy_from_slice(&count.to_le_bytes());
        Some(&self.buf)
    }

    /// Capacity held by the buffer (so an owner can drop a huge one). O(1).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_encoders::{canonical_int, listpack, XorShift};
    use super::*;

    #[test]
    fn integer_parsing_is_canonical_only() {
        for (s, v) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("18446744073709551616", None),
            ("", None),
            ("-", None),
            ("-0", None),
            ("00", None),
            ("01", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("1a", None),
            ("1.0", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(string_to_i64(s.as_bytes()), v, "{s:?}");
            assert_eq!(canonical_int(s.as_bytes()), v, "reference disagrees on {s:?}");
        }
        let mut rng = XorShift(99);
        for _ in 0..20_000 {
            let n = (rng.next_u64() % 22) as usize;
            let s: Vec<u8> = (0..n)
                .map(|i| {
                    if i == 0 && rng.next_u64().is_multiple_of(3) {
                        b'-'
                    } else {
                        b"0123456789x"[(rng.next_u64() % 11) as usize]
                    }
                })
                .collect();
            assert_eq!(string_to_i64(&s), canonical_int(&s), "{:?}", String::from_utf8_lossy(&s));
        }
    }

    /// Items at every encoding boundary, strings and integers alike.
    fn boundary_items() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = Vec::new();
        for n in [
            0i64,
            1,
            127,
            128,
            -1,
            -4096,
            -4097,
            4095,
            4096,
            32_767,
            32_768,
            -32_768,
            -32_769,
            8_388_607,
            8_388_608,
            -8_388_608,
            -8_388_609,
            2_147_483_647,
            2_147_483_648,
            -2_147_483_648,
            -2_147_483_649,
            i64::MAX,
            i64::MIN,
        ] {
            v.push(n.to_string().into_bytes());
        }
        for s in ["", "a", "007", "-0", "+5", "fld:0001"] {
            v.push(s.as_bytes().to_vec());
        }
        // String lengths around the 6/12/32-bit encodings and the 1..4-byte
        // back-lengths.
        for len in [63, 64, 125, 126, 127, 128, 4093, 4094, 4095, 4096, 16_377, 16_378, 16_383, 70_000] {
            v.push((0..len).map(|i| b'a' + (i % 26) as u8).collect());
        }
        v
    }

    #[test]
    fn matches_the_reference_encoder_byte_for_byte() {
        let items = boundary_items();
        let mut e = Encoder::default();
        for it in &items {
            e.clear();
            let took = e.push(it);
            assert_eq!(took, entry_size(it), "{:?}", String::from_utf8_lossy(&it[..it.len().min(20)]));
            assert_eq!(e.finish().unwrap(), &listpack(&[it])[..]);
        }
        let refs: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
        e.clear();
        for it in &refs {
            e.push(it);
        }
        assert_eq!(e.count(), refs.len());
        assert_eq!(e.finish().unwrap(), &listpack(&refs)[..]);
        e.clear();
        assert_eq!(e.finish().unwrap(), &listpack(&[])[..]);
    }

    #[test]
    fn more_than_65534_elements_have_an_unknown_count() {
        let mut e = Encoder::default();
        e.clear();
        for _ in 0..70_000 {
            e.push(b"x");
        }
        let lp = e.finish().unwrap();
        assert_eq!(&lp[4..6], &[0xff, 0xff]);
        assert_eq!(lp.len(), HEADER + 70_000 * 3 + 1);
    }

    #[test]
    fn redis_example_layout() {
        // Redis 7.0 `HSET h a 1 bb 300` stored as: strings "a", "bb", a
        // 7-bit 1 and a 13-bit 300.
        let mut e = Encoder::default();
        e.clear();
        for it in [&b"a"[..], b"1", b"bb", b"300"] {
            e.push(it);
        }
        let expect = [19, 0, 0, 0, 4, 0, 0x81, b'a', 2, 1, 1, 0x82, b'b', b'b', 3, 0xC1, 0x2C, 2, 0xFF];
        assert_eq!(e.finish().unwrap(), &expect[..]);
    }
}
