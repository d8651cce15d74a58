//! The bit arithmetic behind the bitmap commands, on plain byte slices.
//!
//! Bit 0 is the most significant bit of byte 0, as in Redis: a string is
//! read left to right, byte after byte, each byte from its high bit down.
//! Whole strings are scanned a 64-bit word at a time (population counts,
//! the search for the first set or clear bit, BITOP), never bit by bit.

/// Number of set bits in `b`. O(len), a word at a time (with AVX2 when the
/// CPU has it, which counts 32 bytes per step).
pub fn popcount(b: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: both features were detected on this CPU just above.
        return unsafe { popcount_avx2(b) };
    }
    popcount_words(b)
}

/// [`popcount_words`] compiled for AVX2 (the loop is vectorised).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn popcount_avx2(b: &[u8]) -> u64 {
    popcount_words(b)
}

#[inline(always)]
fn popcount_words(b: &[u8]) -> u64 {
    let (words, rest) = b.as_chunks::<8>();
    let full: u64 = words.iter().map(|w| u64::from(u64::from_ne_bytes(*w).count_ones())).sum();
    full + rest.iter().map(|x| u64::from(x.count_ones())).sum::<u64>()
}

/// Number of set bits among bits `first..=last` of `b` (both within `b`).
/// O(last − first).
pub fn count_range(b: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut n = popcount(&b[fb..=lb]);
    // Take away the bits of the edge bytes outside the range.
    let head = (first & 7) as u32;
    if head != 0 {
        n -= u64::from((b[fb] >> (8 - head)).count_ones());
    }
    let tail = 7 - (last & 7) as u32;
    if tail != 0 {
        n -= u64::from((b[lb] & ((1u8 << tail) - 1)).count_ones());
    }
    n
}

/// Position of the first bit equal to `bit` among bits `first..=last` of
/// `b` (both within `b`), if any. O(distance to it), a word at a time.
pub fn find_in_range(b: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    // The bytes as if every bit outside the range were the opposite of
    // the one sought: the edges are masked, the middle is searched as is.
    let head_mask = 0xffu8 >> (first & 7);
    let tail_mask = 0xffu8 << (7 - (last & 7));
    let masked = |i: usize, x: u8| {
        let mut keep = 0xff;
        if i == fb {
            keep &= head_mask;
        }
        if i == lb {
            keep &= tail_mask;
        }
        if bit {
            x & keep
        } else {
            x | !keep
        }
    };
    let in_byte = |i: usize, x: u8| (i as u64) * 8 + u64::from(if bit { x.leading_zeros() } else { x.leading_ones() });
    let m = masked(fb, b[fb]);
    if m != skip_byte(bit) {
        return Some(in_byte(fb, m));
    }
    if lb == fb {
        return None;
    }
    if lb > fb + 1 {
        if let Some(p) = first_bit(&b[fb + 1..lb], bit) {
            return Some((fb as u64 + 1) * 8 + p);
        }
    }
    let m = masked(lb, b[lb]);
    (m != skip_byte(bit)).then(|| in_byte(lb, m))
}

/// The byte that holds no bit equal to `bit`.
fn skip_byte(bit: bool) -> u8 {
    if bit {
        0
    } else {
        0xff
    }
}

/// Position of the first bit equal to `bit` in `b`, if any. O(distance to
/// it): whole words that cannot hold it are skipped eight bytes at a time.
pub fn first_bit(b: &[u8], bit: bool) -> Option<u64> {
    let skip_word = if bit { 0 } else { u64::MAX };
    let (words, _) = b.as_chunks::<8>();
    let from = words.iter().position(|w| u64::from_ne_bytes(*w) != skip_word).unwrap_or(words.len()) * 8;
    let skip = skip_byte(bit);
    let i = from + b[from..].iter().position(|&x| x != skip)?;
    let x = b[i];
    Some(i as u64 * 8 + u64::from(if bit { x.leading_zeros() } else { x.leading_ones() }))
}

/// Value of bit `offset` of `b` (bits past the end read as 0). O(1).
pub fn get_bit(b: &[u8], offset: u64) -> u8 {
    b.get((offset >> 3) as usize).map_or(0, |x| (x >> (7 - (offset & 7))) & 1)
}

/// The nine bytes from `b[byte]` (zeros past the end) as one big-endian
/// number: wide enough for any 64-bit field starting in `b[byte]`.
fn window(b: &[u8], byte: usize) -> u128 {
    let mut w = 0u128;
    for i in 0..9 {
        w = (w << 8) | u128::from(b.get(byte + i).copied().unwrap_or(0));
    }
    w
}

/// Mask of the low `bits` bits (1 ≤ bits ≤ 64).
fn low_mask(bits: u32) -> u64 {
    u64::MAX >> (64 - bits)
}

/// The `bits`-bit unsigned field at bit `offset` of `b` (1 ≤ bits ≤ 64;
/// bits past the end read as 0). O(1).
pub fn get_field(b: &[u8], offset: u64, bits: u32) -> u64 {
    let shift = 72 - (offset & 7) as u32 - bits;
    (window(b, (offset >> 3) as usize) >> shift) as u64 & low_mask(bits)
}

/// The same field read as a two's complement signed integer. O(1).
pub fn get_signed_field(b: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_field(b, offset, bits);
    // Move the field's sign bit to bit 63, then shift back arithmetically.
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Writes the low `bits` bits of `value` as the field at bit `offset`
/// (1 ≤ bits ≤ 64; the field must lie within `b`). O(1).
pub fn set_field(b: &mut [u8], offset: u64, bits: u32, value: u64) {
    let byte = (offset >> 3) as usize;
    let shift = 72 - (offset & 7) as u32 - bits;
    let mask = u128::from(low_mask(bits)) << shift;
    let w = (window(b, byte) & !mask) | ((u128::from(value) << shift) & mask);
    let last = ((offset + u64::from(bits) - 1) >> 3) as usize;
    for (i, x) in b[byte..=last].iter_mut().enumerate() {
        *x = (w >> (64 - 8 * i)) as u8;
    }
}

/// A bitwise operation of BITOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// Bits set in every source.
    And,
    /// Bits set in any source.
    Or,
    /// Bits set in an odd number of sources.
    Xor,
    /// The complement of the one source.
    Not,
}

/// `op` over `sources`, each zero-padded to the longest: a result as long
/// as the longest source. NOT takes the first source only. O(total
/// length), a word at a time.
pub fn combine(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    let Some((first, rest)) = sources.split_first() else { return out };
    out[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => out.iter_mut().for_each(|x| *x = !*x),
        BitOp::And => {
            for s in rest {
                apply(&mut out, s, |a, b| a & b);
                // Past its end a source is zeros, and so is the result.
                out[s.len()..].fill(0);
            }
        }
        BitOp::Or => rest.iter().for_each(|s| apply(&mut out, s, |a, b| a | b)),
        BitOp::Xor => rest.iter().for_each(|s| apply(&mut out, s, |a, b| a ^ b)),
    }
    out
}

/// `out[i] = f(out[i], src[i])` for the length of `src`, eight bytes per step.
#[inline(always)]
fn apply(out: &mut [u8], src: &[u8], f: impl Fn(u64, u64) -> u64) {
    let out = &mut out[..src.len()];
    let (ow, otail) = out.as_chunks_mut::<8>();
    let (sw, stail) = src.as_chunks::<8>();
    for (o, s) in ow.iter_mut().zip(sw) {
        *o = f(u64::from_ne_bytes(*o), u64::from_ne_bytes(*s)).to_ne_bytes();
    }
    for (o, s) in otail.iter_mut().zip(stail) {
        *o = f(u64::from(*o), u64::from(*s)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bit_at(b: &[u8], i: u64) -> bool {
        get_bit(b, i) == 1
    }

    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly all-zero or all-one bytes, so the word skips run.
                match x % 5 {
                    0 => 0,
                    1 => 0xff,
                    _ => (x >> 8) as u8,
                }
            })
            .collect()
    }

    #[test]
    fn popcount_matches_bit_by_bit() {
        for len in [0, 1, 7, 8, 9, 31, 32, 33, 100, 1000] {
            let b = sample(len, len as u64);
            let slow = (0..len as u64 * 8).filter(|&i| bit_at(&b, i)).count() as u64;
            assert_eq!(popcount(&b), slow, "len {len}");
            assert_eq!(popcount_words(&b), slow);
        }
    }

    #[test]
    fn ranges_match_bit_by_bit() {
        let b = sample(40, 7);
        let n = b.len() as u64 * 8;
        for first in (0..n).step_by(3) {
            for last in (first..n).step_by(5) {
                let slow = (first..=last).filter(|&i| bit_at(&b, i)).count() as u64;
                assert_eq!(count_range(&b, first, last), slow, "{first}..={last}");
                for bit in [false, true] {
                    let slow = (first..=last).find(|&i| bit_at(&b, i) == bit);
                    assert_eq!(find_in_range(&b, bit, first, last), slow, "{bit} {first}..={last}");
                }
            }
        }
    }

    #[test]
    fn first_bit_skips_words() {
        let mut b = vec![0u8; 100];
        assert_eq!(first_bit(&b, true), None);
        assert_eq!(first_bit(&b, false), Some(0));
        b[77] = 0b0001_0000;
        assert_eq!(first_bit(&b, true), Some(77 * 8 + 3));
        let mut ones = vec![0xffu8; 100];
        assert_eq!(first_bit(&ones, false), None);
        ones[99] = 0xfe;
        assert_eq!(first_bit(&ones, false), Some(99 * 8 + 7));
    }

    #[test]
    fn fields_round_trip_at_every_alignment() {
        for bits in 1..=64u32 {
            for offset in [0u64, 1, 5, 7, 8, 13, 63, 64, 65] {
                let mut b = vec![0xa5u8; 20];
                let before = b.clone();
                let v = 0x8123_4567_89ab_cdefu64 & low_mask(bits);
                set_field(&mut b, offset, bits, v);
                assert_eq!(get_field(&b, offset, bits), v, "u{bits} at {offset}");
                // Bits outside the field are untouched.
                for i in 0..160u64 {
                    if i < offset || i >= offset + u64::from(bits) {
                        assert_eq!(bit_at(&b, i), bit_at(&before, i), "bit {i} for u{bits} at {offset}");
                    }
                }
            }
        }
        let mut b = [0u8; 2];
        set_field(&mut b, 7, 5, 23);
        assert_eq!(b, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_signed_field(&[0xff], 0, 8), -1);
        assert_eq!(get_signed_field(&[0x80], 0, 1), -1);
        assert_eq!(get_signed_field(&[0x40], 0, 2), 1);
        assert_eq!(get_field(&[0xff], 4, 8), 0xf0);
    }

    #[test]
    fn combine_pads_with_zeros() {
        let a: &[u8] = &[0xff; 20];
        let b: &[u8] = &[0x0f; 10];
        assert_eq!(combine(BitOp::And, &[a, b]), [&[0x0f; 10][..], &[0; 10]].concat());
        assert_eq!(combine(BitOp::Or, &[b, a]), vec![0xff; 20]);
        assert_eq!(combine(BitOp::Xor, &[a, b]), [&[0xf0; 10][..], &[0xff; 10]].concat());
        assert_eq!(combine(BitOp::Not, &[b]), vec![0xf0; 10]);
        assert_eq!(combine(BitOp::And, &[b, &[]]), vec![0; 10]);
        assert!(combine(BitOp::Or, &[&[], &[]]).is_empty());
    }
}
