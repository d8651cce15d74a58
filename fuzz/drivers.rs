//! What the fuzz targets (`fuzz_targets/`, cargo-fuzz on nightly) and the
//! stable bounded loop (`tests/fuzz_payloads.rs`) run on each input: the
//! library's own entry points, as RESTORE and the PF* commands call them.
//! Each driver panics only on a broken promise (a panic inside the library,
//! or an error that is not Redis's).

use inmemory::db::hll::{self, Corrupt, Encoding, HDR, REGISTERS};
use inmemory::persist::snapshot::value_from_payload;

/// The replies RESTORE may give to a bad payload, as Redis words them.
pub const RESTORE_ERRORS: [&str; 2] = ["ERR DUMP payload version or checksum are wrong", "ERR Bad data format"];

/// RESTORE's decoding of `payload`: a value, or one of [`RESTORE_ERRORS`].
/// A value decoded is measured and dumped again, as MEMORY USAGE and DUMP
/// would. Returns whether a value was decoded.
pub fn restore_payload(payload: &[u8]) -> bool {
    match value_from_payload(payload) {
        Ok(v) => {
            let _ = v.heap_size();
            let _ = inmemory::cmd::dump::payload_of(&v, false);
            true
        }
        Err(e) => {
            let text = e.to_string();
            assert!(RESTORE_ERRORS.contains(&text.as_str()), "RESTORE answered {text:?}");
            false
        }
    }
}

/// The elements [`hll_string`] adds, one per register region.
const ELEMENTS: [&[u8]; 4] = [b"a", b"fuzz", b"0123456789", b"\xff\x00"];

/// Everything the PF* commands do with a stored string `s`: the header
/// check (PFADD/PFCOUNT's WRONGTYPE), counting (PFCOUNT, one key and
/// several), merging (PFMERGE), adding (PFADD, sparse and dense),
/// converting (PFDEBUG TODENSE / GETREG) and decoding (PFDEBUG DECODE). A
/// malformed sketch must give [`Corrupt`] (`INVALIDOBJ`), never a panic.
/// Returns the encoding if the header was valid.
pub fn hll_string(s: &[u8]) -> Option<Encoding> {
    let enc = hll::validate(s).ok()?;
    let _ = hll::cached_count(s);
    // Counting and merging may disagree on a malformed body, as Redis's
    // hllSparseRegHisto and hllMerge do (VAL runs past the last register
    // stop the merge walk, not the count).
    let _ = hll::count(s);
    let mut max = [0u8; REGISTERS];
    if hll::merge_into(&mut max, s).is_ok() {
        let _ = hll::count_raw(&max);
        let mut dest = s.to_vec();
        let _ = hll::store_union(&mut dest, &max, enc == Encoding::Dense);
    }
    if enc == Encoding::Sparse {
        let _ = hll::sparse::decode(&s[HDR..]);
    }
    let mut dense = s.to_vec();
    if hll::to_dense(&mut dense).is_ok() {
        assert_eq!(hll::validate(&dense), Ok(Encoding::Dense), "to_dense made no dense HLL");
        let regs = &dense[HDR..];
        let _: u32 = (0..REGISTERS).map(|i| u32::from(hll::dense_get(regs, i))).sum();
    }
    let mut added = s.to_vec();
    for e in ELEMENTS {
        match hll::add(&mut added, e) {
            Ok(_) => {}
            Err(Corrupt) => break,
        }
    }
    Some(enc)
}

/// `body` framed as a DUMP payload with RDB version 10 and a right CRC-64,
/// so the value decoder sees it.
pub fn with_footer(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&10u16.to_le_bytes());
    let sum = inmemory::persist::rdb::crc64(0, &p);
    p.extend_from_slice(&sum.to_le_bytes());
    p
}

/// `body` behind a valid sparse HLL header (cache marked stale).
pub fn behind_sparse_header(body: &[u8]) -> Vec<u8> {
    let mut s = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
    s.extend_from_slice(body);
    s
}
