//! CRC-64 as used by Redis for RDB checksums.
//!
//! Redis uses the "Jones" polynomial `0xad93d23594c935a9` with reflected
//! input and output, no final xor, and starts RDB checksums from 0. This is a
//! from-scratch slicing-by-8 implementation of that function.

/// The Jones polynomial in normal (MSB-first) notation.
const POLY: u64 = 0xad93_d235_94c9_35a9;

/// Bit-reverses a 64-bit word (const-friendly).
const fn reflect64(mut v: u64) -> u64 {
    let mut r = 0u64;
    let mut i = 0;
    while i < 64 {
        r = (r << 1) | (v & 1);
        v >>= 1;
        i += 1;
    }
    r
}

/// Builds the eight lookup tables for slicing-by-8 of the reflected CRC.
const fn build_tables() -> [[u64; 256]; 8] {
    let rpoly = reflect64(POLY);
    let mut t = [[0u64; 256]; 8];
    let mut n = 0;
    while n < 256 {
        let mut crc = n as u64;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ rpoly } else { crc >> 1 };
            k += 1;
        }
        t[0][n] = crc;
        n += 1;
    }
    let mut n = 0;
    while n < 256 {
        let mut crc = t[0][n];
        let mut s = 1;
        while s < 8 {
            crc = t[0][(crc & 0xff) as usize] ^ (crc >> 8);
            t[s][n] = crc;
            s += 1;
        }
        n += 1;
    }
    t
}

static TABLES: [[u64; 256]; 8] = build_tables();

/// Continues a Redis CRC-64 over `data`, starting from `crc`.
///
/// `crc64(0, data)` equals Redis's `crc64(0, data, len)`; feeding a buffer in
/// pieces gives the same result as feeding it whole.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = crc ^ u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        crc = TABLES[7][(w & 0xff) as usize]
            ^ TABLES[6][((w >> 8) & 0xff) as usize]
            ^ TABLES[5][((w >> 16) & 0xff) as usize]
            ^ TABLES[4][((w >> 24) & 0xff) as usize]
            ^ TABLES[3][((w >> 32) & 0xff) as usize]
            ^ TABLES[2][((w >> 40) & 0xff) as usize]
            ^ TABLES[1][((w >> 48) & 0xff) as usize]
            ^ TABLES[0][(w >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLES[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain bit-at-a-time reference implementation.
    fn slow(mut crc: u64, data: &[u8]) -> u64 {
        let rpoly = reflect64(POLY);
        for &b in data {
            crc ^= u64::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ rpoly } else { crc >> 1 };
            }
        }
        crc
    }

    #[test]
    fn redis_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(slow(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn redis_long_check_value() {
        // Second vector of Redis's crc64 self test (C `sizeof`, so the
        // trailing NUL is included).
        let li = concat!(
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed ",
            "do eiusmod tempor incididunt ut labore et dolore magna ",
            "aliqua. Ut enim ad minim veniam, quis nostrud exercitation ",
            "ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis ",
            "aute irure dolor in reprehenderit in voluptate velit esse ",
            "cillum dolore eu fugiat nulla pariatur. Excepteur sint ",
            "occaecat cupidatat non proident, sunt in culpa qui officia ",
            "deserunt mollit anim id est laborum.\0"
        );
        assert_eq!(crc64(0, li.as_bytes()), 0xc779_4709_e696_83b3);
    }

    #[test]
    fn incremental_matches_whole_and_slow() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        let whole = crc64(0, &data);
        assert_eq!(whole, slow(0, &data));
        for split in [0, 1, 3, 7, 8, 9, 500, 999, 1000] {
            let (a, b) = data.split_at(split);
            assert_eq!(crc64(crc64(0, a), b), whole);
        }
    }
}
