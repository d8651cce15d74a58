//! HyperLogLog values in Redis's exact byte layout (`hyperloglog.c`), so a
//! sketch built here is byte-identical to Redis's for the same additions and
//! a sketch made by Redis (RDB, `SET` of its bytes) counts the same here.
//!
//! An HLL is a plain string value:
//!
//! ```text
//! +------+---+-----+----------+--------------------------------+
//! | HYLL | E | N/U | Cardin.  | registers (sparse or dense)    |
//! +------+---+-----+----------+--------------------------------+
//!   4 B   1 B  3 B    8 B
//! ```
//!
//! `E` is 0 (dense) or 1 (sparse); the cardinality is cached little-endian,
//! its top bit set when the cache is stale. Dense: 16384 registers of 6 bits
//! packed from the least significant bit of each byte (12288 bytes). Sparse:
//! run-length opcodes (see [`sparse`]), promoted to dense when a register
//! needs a value above 32 or the string would outgrow `hll-sparse-max-bytes`.
//!
//! Elements are hashed with MurmurHash64A (seed `0xadc83b19`); the low 14
//! bits pick the register, the run of zero bits above them (plus one) is the
//! value. Cardinality is Ertl's estimator ("New cardinality estimation
//! algorithms for HyperLogLog sketches", as Redis 7 uses it).
//!
//! Every function here takes untrusted bytes: a malformed sparse sketch is
//! reported as [`Corrupt`], never read past its end.

pub mod selftest;
pub mod sparse;

use std::sync::atomic::{AtomicUsize, Ordering};

/// Register-index bits (Redis's `HLL_P`).
pub const P: u32 = 14;
/// Hash bits left for the zero run (`HLL_Q`).
pub const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register.
const BITS: usize = 6;
/// Largest dense register value.
pub const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Header size: magic, encoding, 3 unused bytes, 8-byte cached cardinality.
pub const HDR: usize = 16;
/// Exact size of a dense HLL string.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
/// The hash seed Redis uses.
const SEED: u64 = 0xadc8_3b19;
/// 0.5 / ln 2.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The two encodings of a valid HLL string (the header's fifth byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 6-bit registers, 12288 bytes.
    Dense,
    /// Run-length opcodes.
    Sparse,
}

impl Encoding {
    /// The name `PFDEBUG ENCODING` answers.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// The string is not an HLL at all (Redis answers `WRONGTYPE Key is not a
/// valid HyperLogLog string value.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotHll;

/// The header is right but the sparse body is malformed (Redis answers
/// `INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

static SPARSE_MAX_BYTES: AtomicUsize = AtomicUsize::new(3000);

/// Publishes `hll-sparse-max-bytes`: sparse sketches that would grow past
/// it are converted to dense from now on.
pub fn set_sparse_max_bytes(n: u64) {
    SPARSE_MAX_BYTES.store(usize::try_from(n).unwrap_or(usize::MAX), Ordering::Relaxed);
}

/// The current `hll-sparse-max-bytes`.
pub fn sparse_max_bytes() -> usize {
    SPARSE_MAX_BYTES.load(Ordering::Relaxed)
}

/// Checks the header as Redis's `isHLLObjectOrReply`: at least 16 bytes,
/// the `HYLL` magic, a known encoding, and the exact length if dense. The
/// sparse body is checked lazily, by the operations that walk it. O(1).
pub fn validate(s: &[u8]) -> Result<Encoding, NotHll> {
    if s.len() < HDR || &s[..4] != b"HYLL" {
        return Err(NotHll);
    }
    match s[4] {
        0 if s.len() == DENSE_SIZE => Ok(Encoding::Dense),
        1 => Ok(Encoding::Sparse),
        _ => Err(NotHll),
    }
}

/// A new, empty HLL as Redis creates it: sparse, one XZERO opcode covering
/// every register, cached cardinality 0 (valid). 18 bytes.
pub fn new_sparse() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(b"HYLL");
    s.push(1);
    s.extend_from_slice(&[0; 11]);
    sparse::push_zeros(&mut s, REGISTERS);
    s
}

/// The cached cardinality, if the cache is valid. O(1); `s` is a validated HLL.
pub fn cached_count(s: &[u8]) -> Option<u64> {
    let card: [u8; 8] = s.get(8..HDR)?.try_into().ok()?;
    (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
}

/// Stores `card` as the cached cardinality (as Redis, its top bit is the
/// stale flag). O(1).
pub fn set_cached_count(s: &mut [u8], card: u64) {
    if let Some(c) = s.get_mut(8..HDR) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// Marks the cached cardinality stale. O(1).
pub fn invalidate_cache(s: &mut [u8]) {
    if let Some(b) = s.get_mut(HDR - 1) {
        *b |= 0x80;
    }
}

/// MurmurHash64A as Redis computes it (little-endian words whatever the
/// platform). O(len).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    // Redis passes the length as an int: only its low 32 bits, sign-extended.
    let len = key.len() as i32 as i64 as u64;
    let mut h = seed ^ len.wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the value it proposes for it (the
/// length of the `0…01` run above the index bits, 1..=51). O(len).
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Register `i` of dense registers `regs` (12288 bytes). O(1).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, fb) = (bit / 8, bit & 7);
    let b0 = regs.get(byte).copied().unwrap_or(0) as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u16) as u8
}

/// Sets register `i` of dense registers `regs` to `v` (at most 63). O(1).
pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (byte, fb) = (bit / 8, bit & 7);
    let (v, max) = (v as u16, REGISTER_MAX as u16);
    if let Some(b) = regs.get_mut(byte) {
        *b = (*b & !((max << fb) as u8)) | (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = (*b & !((max >> (8 - fb)) as u8)) | (v >> (8 - fb)) as u8;
    }
}

/// Raises register `i` to `v` if it is lower; true if it changed. O(1).
pub fn dense_raise(regs: &mut [u8], i: usize, v: u8) -> bool {
    if v > dense_get(regs, i) {
        dense_set(regs, i, v);
        true
    } else {
        false
    }
}

/// Adds an element to dense registers; true if a register changed. O(len).
pub fn dense_add(regs: &mut [u8], ele: &[u8]) -> bool {
    let (i, v) = pattern(ele);
    dense_raise(regs, i, v)
}

/// Adds an element to a validated HLL string (either encoding, promoting a
/// sparse one to dense when needed); true if a register changed, so the
/// estimate may have. The cached cardinality is left to the caller (Redis
/// marks it stale once per command). O(len) dense; O(size) sparse.
pub fn add(s: &mut Vec<u8>, ele: &[u8]) -> Result<bool, Corrupt> {
    let (i, v) = pattern(ele);
    raise(s, i, v)
}

/// Raises register `i` to `v` in a validated HLL string of either encoding
/// (Redis's `hllDenseSet` / `hllSparseSet`). O(1) dense; O(size) sparse.
pub fn raise(s: &mut Vec<u8>, i: usize, v: u8) -> Result<bool, Corrupt> {
    match s.get(4) {
        Some(0) if s.len() == DENSE_SIZE => Ok(dense_raise(&mut s[HDR..], i, v)),
        Some(1) => sparse::raise(s, i, v, sparse_max_bytes()),
        _ => Err(Corrupt),
    }
}

/// Converts a validated HLL string to dense in place (a dense one is left
/// as it is); the header, cached cardinality included, is kept. O(size).
pub fn to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if s.get(4) == Some(&1) {
        *s = sparse::to_dense(s)?;
    }
    Ok(())
}

/// Writes union registers `max` (from [`merge_into`]) into HLL string
/// `dest`, PFMERGE's destination, converted to dense first when `dense`
/// (some source was dense), register by register in order as Redis does,
/// then marks its cache stale. `dest` must have merged cleanly. O(registers
/// × size) sparse; O(registers) dense.
pub fn store_union(dest: &mut Vec<u8>, max: &[u8; REGISTERS], dense: bool) -> Result<(), Corrupt> {
    if dense {
        to_dense(dest)?;
    }
    for (i, &v) in max.iter().enumerate() {
        if v != 0 {
            raise(dest, i, v)?;
        }
    }
    invalidate_cache(dest);
    Ok(())
}

/// The register histogram of a validated HLL string (count of registers
/// per value). O(registers) dense; O(size) sparse.
fn histogram(s: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    match validate(s).map_err(|_| Corrupt)? {
        Encoding::Dense => {
            // Four 6-bit registers per three bytes.
            for c in s[HDR..].chunks_exact(3) {
                let w = c[0] as u32 | (c[1] as u32) << 8 | (c[2] as u32) << 16;
                for k in 0..4 {
                    h[((w >> (6 * k)) & 63) as usize] += 1;
                }
            }
        }
        Encoding::Sparse => sparse::histogram(&s[HDR..], &mut h)?,
    }
    Ok(h)
}

/// The estimated cardinality of a validated HLL string (not using its
/// cache); [`Corrupt`] for a malformed sparse body. O(registers).
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(s)?))
}

/// The estimated cardinality of plain one-byte-per-register registers (a
/// union built by [`merge_into`]). O(registers).
pub fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut h = [0u32; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    estimate(&h)
}

/// Raises each of `max`'s registers to the validated HLL string's (the
/// union of the two). [`Corrupt`] for a malformed sparse body, after
/// merging what was readable, as Redis. O(registers).
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    match validate(s).map_err(|_| Corrupt)? {
        Encoding::Dense => {
            let regs = &s[HDR..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(regs, i));
            }
            Ok(())
        }
        Encoding::Sparse => sparse::merge_into(max, &s[HDR..]),
    }
}

/// Ertl's improved estimator from the register histogram, computed in the
/// same order as Redis so the result is identical to the unit.
fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    let e = (ALPHA_INF * m * m / z).round();
    // As C's llroundl: out of range (an infinite estimate from registers
    // all above 51) gives the minimum long long.
    if e.is_finite() && e.abs() < i64::MAX as f64 {
        e as i64 as u64
    } else {
        i64::MIN as u64
    }
}

/// Bound on the series below; they converge in well under a hundred steps.
const SERIES_STEPS: usize = 10_000;

/// Ertl's sigma: x + Σ x^(2^k)·2^(k-1).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    for _ in 0..SERIES_STEPS {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            break;
        }
    }
    z
}

/// Ertl's tau: (1 - x - Σ (1 - x^(2^-k))²·2^-k) / 3.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    for _ in 0..SERIES_STEPS {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            break;
        }
    }
    z / 3.0
}

#[cfg(test)]
mod tests;
