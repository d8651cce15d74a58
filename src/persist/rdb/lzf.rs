//! LZF compression as used inside RDB files (`RDB_ENC_LZF` strings).
//!
//! The stream is a sequence of items, each starting with a control byte:
//!
//! * `000LLLLL` — a literal run of `L + 1` bytes (1..=32) copied verbatim.
//! * `LLLOOOOO oooooooo` — a back reference of `L + 2` bytes (L in 1..=6)
//!   starting `(O << 8 | o) + 1` bytes before the current output position.
//! * `111OOOOO llllllll oooooooo` — the same with length `7 + l + 2`.
//!
//! Back references may overlap the bytes they produce (run-length style).
//! Both directions here are written from that description; the decoder
//! checks every bound and never trusts a length taken from the input.

/// Longest literal run one control byte can describe.
const MAX_LIT: usize = 32;
/// Farthest distance a back reference can reach.
const MAX_DIST: usize = 8192;
/// Longest match one back reference can describe (`7 + 255 + 2`).
const MAX_MATCH: usize = 264;
/// Largest output a single input byte can produce (a 3-byte back
/// reference of 264 bytes): used to reject impossible declared sizes.
pub const MAX_EXPANSION: usize = 88;
/// log2 of the compressor's hash table size.
const HASH_LOG: u32 = 14;
/// Number of entries in the compressor hash table.
pub const HASH_SIZE: usize = 1 << HASH_LOG;

#[inline]
fn hash3(a: u8, b: u8, c: u8) -> usize {
    let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

fn emit_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for chunk in lit.chunks(MAX_LIT) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// Emits a back reference; `dist` in 1..=8192, `len` in 3..=264.
fn emit_match(out: &mut Vec<u8>, dist: usize, len: usize) {
    let off = dist - 1;
    let l = len - 2;
    let hi = (off >> 8) as u8;
    if l < 7 {
        out.push(((l as u8) << 5) | hi);
    } else {
        out.push((7 << 5) | hi);
        out.push((l - 7) as u8);
    }
    out.push((off & 0xff) as u8);
}

/// Compresses `input` into `out` (which is cleared first) using `table` as
/// scratch hash table (any contents; it needs no clearing between calls).
///
/// Returns `false` — leaving `out` in an unspecified state — as soon as the
/// output would exceed `max_out` bytes, so callers can fall back to storing
/// the data uncompressed without wasting work.
pub fn compress_with(input: &[u8], out: &mut Vec<u8>, max_out: usize, table: &mut [usize]) -> bool {
    out.clear();
    if table.len() < HASH_SIZE {
        return false;
    }
    let n = input.len();
    let mut lit_start = 0usize;
    let mut i = 0usize;
    while i + 2 < n {
        let h = hash3(input[i], input[i + 1], input[i + 2]);
        let cand = table[h];
        table[h] = i;
        let is_match = cand < i
            && i - cand <= MAX_DIST
            && input[cand] == input[i]
            && input[cand + 1] == input[i + 1]
            && input[cand + 2] == input[i + 2];
        if !is_match {
            i += 1;
            continue;
        }
        let max_len = MAX_MATCH.min(n - i);
        let mut len = 3;
        while len < max_len && input[cand + len] == input[i + len] {
            len += 1;
        }
        emit_literals(out, &input[lit_start..i]);
        emit_match(out, i - cand, len);
        if out.len() > max_out {
            return false;
        }
        // Index the positions covered by the match so later data can refer
        // to them as well.
        let end = i + len;
        let mut j = i + 1;
        while j < end && j + 2 < n {
            table[hash3(input[j], input[j + 1], input[j + 2])] = j;
            j += 1;
        }
        i = end;
        lit_start = i;
    }
    emit_literals(out, &input[lit_start..]);
    out.len() <= max_out
}

/// Compresses `input`, returning `None` when the result would be longer than
/// `max_out` bytes. Allocates a fresh hash table: prefer [`compress_with`]
/// in loops. (Test helper.)
#[cfg(test)]
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut table = vec![0usize; HASH_SIZE];
    let mut out = Vec::with_capacity(input.len().min(max_out).saturating_add(16));
    if compress_with(input, &mut out, max_out, &mut table) {
        Some(out)
    } else {
        None
    }
}

/// Decompresses an LZF stream that must expand to exactly `expected_len`
/// bytes. Never panics, never allocates more than `expected_len` bytes
/// (growing only as output is produced), and rejects an `expected_len` larger than the input could possibly
/// produce before allocating anything. The error names what went wrong and
/// the position in the compressed input.
#[cfg(test)]
pub fn decompress(input: &[u8], expected_len: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    decompress_into(input, expected_len, &mut out)?;
    Ok(out)
}

/// [`decompress`], appending the output to `out` (back references reach
/// only into this call's output). On error `out` may hold part of the
/// output after its original contents. O(expected_len).
pub fn decompress_into(input: &[u8], expected_len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    if expected_len > input.len().saturating_mul(MAX_EXPANSION) {
        return Err(format!("LZF: declared length {expected_len} is impossible for {} compressed bytes", input.len()));
    }
    // Start modestly: a bogus (but not impossible) length costs at most a
    // few times the compressed size before the stream proves it wrong.
    let room = expected_len.min(input.len().saturating_mul(8).max(4096));
    if out.is_empty() {
        out.reserve_exact(room);
    } else {
        out.reserve(room);
    }
    let base = out.len();
    let mut ip = 0usize;
    while let Some(&ctrl) = input.get(ip) {
        let item = ip;
        ip += 1;
        let produced = out.len() - base;
        if ctrl < 32 {
            let run = usize::from(ctrl) + 1;
            let lit =
                input.get(ip..ip + run).ok_or_else(|| format!("LZF: literal run at {item} overruns the input"))?;
            if produced + run > expected_len {
                return Err(format!("LZF: output exceeds {expected_len} bytes at {item}"));
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = usize::from(ctrl >> 5);
            if len == 7 {
                let extra = input.get(ip).ok_or_else(|| format!("LZF: back reference at {item} is truncated"))?;
                len += usize::from(*extra);
                ip += 1;
            }
            let low = input.get(ip).ok_or_else(|| format!("LZF: back reference at {item} is truncated"))?;
            ip += 1;
            let dist = ((usize::from(ctrl & 0x1f) << 8) | usize::from(*low)) + 1;
            let len = len + 2;
            if dist > produced {
                return Err(format!("LZF: back reference at {item} points before the start"));
            }
            if produced + len > expected_len {
                return Err(format!("LZF: output exceeds {expected_len} bytes at {item}"));
            }
            let start = out.len() - dist;
            if dist >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: each byte may be one produced just now.
                for k in 0..len {
                    let b = out.get(start + k).copied().unwrap_or(0);
                    out.push(b);
                }
            }
        }
    }
    if out.len() - base != expected_len {
        return Err(format!("LZF: stream expands to {} bytes, expected {expected_len}", out.len() - base));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) -> usize {
        let c = compress(data, usize::MAX).expect("unbounded compress succeeds");
        let d = decompress(&c, data.len()).expect("decompress");
        assert_eq!(d, data);
        c.len()
    }

    #[test]
    fn decompress_into_appends_and_never_reaches_into_earlier_bytes() {
        let c = compress(b"abcabcabcabcabcabc", usize::MAX).unwrap();
        let mut out = b"prefix".to_vec();
        decompress_into(&c, 18, &mut out).unwrap();
        assert_eq!(out, b"prefixabcabcabcabcabcabc");
        // A back reference before this call's output is corrupt, even
        // though the buffer has bytes there.
        let mut out = b"xyz".to_vec();
        assert!(decompress_into(&[0x20, 0x00], 3, &mut out).is_err());
    }

    #[test]
    fn roundtrip_various() {
        assert_eq!(roundtrip(b""), 0);
        roundtrip(b"a");
        roundtrip(b"abc");
        roundtrip(b"abcabcabcabcabcabcabcabcabcabcabcabc");
        let zeros = vec![0u8; 100_000];
        let c = roundtrip(&zeros);
        assert!(c < 1200, "zeros compress well: {c}");
        let text: Vec<u8> =
            (0..50_000).flat_map(|i| format!("key:{} value-{} ", i % 977, i % 13).into_bytes()).collect();
        let c = roundtrip(&text);
        assert!(c < text.len() / 2);
        // Pseudo-random (incompressible) data still round-trips.
        let noise = super::super::test_encoders::XorShift(0x1234_5678_9abc_def0).bytes(70_000);
        roundtrip(&noise);
    }

    #[test]
    fn max_out_is_respected() {
        let mut x = 7u32;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        assert!(compress(&[b'x'; 100], 10).is_some());
    }

    #[test]
    fn reused_table_with_stale_entries_is_correct() {
        let mut table = vec![0usize; HASH_SIZE];
        let mut out = Vec::new();
        let a = b"hello hello hello hello hello world".repeat(40);
        let b = b"completely different data, different data, different".repeat(3);
        for data in [&a[..], &b[..], &a[..40], &b[..]] {
            assert!(compress_with(data, &mut out, usize::MAX, &mut table));
            assert_eq!(decompress(&out, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn decoder_rejects_bad_input() {
        // Back reference before any output.
        assert!(decompress(&[0x20, 0x00], 3).is_err());
        // Literal run longer than the input.
        assert!(decompress(&[0x05, b'a'], 6).is_err());
        // Wrong declared length (too short and too long).
        assert!(decompress(&[0x01, b'a', b'b'], 1).is_err());
        assert!(decompress(&[0x01, b'a', b'b'], 3).is_err());
        // Truncated long back reference.
        assert!(decompress(&[0x00, b'a', 0xe0], 300).is_err());
        assert!(decompress(&[0x00, b'a', 0xe0, 0x05], 300).is_err());
        // Impossible expansion is refused before allocating.
        assert!(decompress(&[0x00, b'a'], usize::MAX).is_err());
        // Overlapping run: "a" then copy 8 from distance 1.
        assert_eq!(decompress(&[0x00, b'a', 0xc0, 0x00], 9).unwrap(), b"aaaaaaaaa");
    }

    #[test]
    fn decoder_never_panics_on_garbage() {
        let mut x = 99u32;
        for round in 0..3000 {
            let len = round % 40;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = decompress(&data, (round * 7) % 500);
        }
    }
}
