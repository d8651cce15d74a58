//! Tests of the whole codec: writer/reader round trips, every supported
//! on-disk encoding, corruption handling, and files written by real Redis.

use bytes::Bytes;

use super::test_encoders::{listpack, ziplist, zipmap, XorShift};
use super::*;

pub(super) fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub(super) fn read_all(data: &[u8], now_ms: u64) -> Result<(Vec<RdbEntry>, RdbStats), RdbError> {
    let mut v = Vec::new();
    let stats = read_rdb(data, now_ms, |e| {
        v.push(e);
        Ok(())
    })?;
    Ok((v, stats))
}

/// Minimal hand-rolled RDB builder for encodings the writer never emits.
pub(super) struct Raw {
    pub(super) buf: Vec<u8>,
    version: u32,
}

impl Raw {
    pub(super) fn new(version: u32) -> Self {
        Raw { buf: format!("REDIS{version:04}").into_bytes(), version }
    }
    pub(super) fn bytes(&mut self, d: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(d);
        self
    }
    pub(super) fn len(&mut self, n: u64) -> &mut Self {
        if n < 64 {
            self.bytes(&[n as u8])
        } else if n < 16384 {
            self.bytes(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.bytes(&[0x80]).bytes(&(n as u32).to_be_bytes())
        } else {
            self.bytes(&[0x81]).bytes(&n.to_be_bytes())
        }
    }
    pub(super) fn string(&mut self, s: &[u8]) -> &mut Self {
        self.len(s.len() as u64).bytes(s)
    }
    pub(super) fn finish(&mut self) -> Vec<u8> {
        let mut out = self.buf.clone();
        out.push(0xFF);
        if self.version >= 5 {
            let sum = crc64(0, &out);
            out.extend_from_slice(&sum.to_le_bytes());
        }
        out
    }
}

pub(super) fn sample_entries() -> Vec<RdbEntry> {
    let long_text = "the quick brown fox jumps over the lazy dog ".repeat(50);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let noise = rng.bytes(3000);
    let noise_big = rng.bytes(2_500_000);
    let big_list: Elements = (0..1000).map(|i| format!("element-{i}-{}", "x".repeat(i % 300))).collect();
    let big_hash = Elements::from_pairs((0..1000).map(|i| (format!("field{i}"), format!("{}", i * 37))));
    let strings = [
        ("s:empty", Bytes::new()),
        ("s:int", b("12345")),
        ("s:neg", b("-7")),
        ("s:bigint", b("9223372036854775807")),
        ("s:notint", b("007")),
        ("s:minus0", b("-0")),
        ("s:text", b("hello world")),
        ("s:long", Bytes::from(long_text)),
        ("s:noise", Bytes::from(noise)),
        // Larger than the writer's buffer and the reader's read chunk.
        ("s:noisebig", Bytes::from(noise_big)),
        ("s:textbig", Bytes::from("0123456789abcdef".repeat(100_000))),
    ];
    let mut v = Vec::new();
    for (i, (k, s)) in strings.into_iter().enumerate() {
        v.push(RdbEntry {
            db: 0,
            key: b(k),
            value: RdbValue::Str(s),
            expire_at_ms: (i % 2 == 1).then_some(4_000_000_000_000 + i as u64),
        });
    }
    v.push(RdbEntry {
        db: 0,
        key: b("l:small"),
        value: RdbValue::List(["a", "1", "", "-100000", "zz"].into_iter().collect()),
        expire_at_ms: None,
    });
    v.push(RdbEntry { db: 0, key: b("l:big"), value: RdbValue::List(big_list), expire_at_ms: Some(4_100_000_000_000) });
    v.push(RdbEntry {
        db: 3,
        key: b("h:small"),
        value: RdbValue::Hash(Elements::from_pairs([("f", "v"), ("n", "42")])),
        expire_at_ms: Some(4_200_000_000_000),
    });
    v.push(RdbEntry { db: 3, key: b("h:big"), value: RdbValue::Hash(big_hash), expire_at_ms: None });
    // Sets and sorted sets, in the order they read back: an intset's
    // integers and a packed sorted set's (score, member) pairs ascending.
    let zbig = (0..300).map(|i| (format!("member-{i}"), if i == 7 { f64::NEG_INFINITY } else { 0.1 * i as f64 }));
    let sets = [
        ("set:ints", RdbValue::Set(["-70000", "-1", "0", "5", "9223372036854775807"].into_iter().collect())),
        ("set:strs", RdbValue::Set(["b", "a", "", "12", "007"].into_iter().collect())),
        ("set:big", RdbValue::Set((0..600).map(|i| (i * 3).to_string()).collect())),
        ("z:small", RdbValue::ZSet(ScoredElements::from_pairs([("a", f64::NEG_INFINITY), ("x", -2.5), ("b", 3.0)]))),
        ("z:big", RdbValue::ZSet(ScoredElements::from_pairs(zbig))),
    ];
    for (i, (k, value)) in sets.into_iter().enumerate() {
        v.push(RdbEntry { db: 3, key: b(k), value, expire_at_ms: (i % 2 == 0).then_some(4_300_000_000_000) });
    }
    v.push(RdbEntry {
        db: 3,
        key: Bytes::from_static(b"\x00binary\xffkey"),
        value: RdbValue::Str(b("v")),
        expire_at_ms: None,
    });
    v
}

/// The sample entries that serialize small (for per-byte tests).
fn small_entries() -> Vec<RdbEntry> {
    let mut v = sample_entries();
    v.retain(|e| !e.key.ends_with(b"big"));
    v
}

fn write_entries(entries: &[RdbEntry], opts: RdbWriterOptions) -> Vec<u8> {
    let mut w = RdbWriter::with_options(Vec::new(), opts).unwrap();
    let mut cur = None;
    for e in entries {
        if cur != Some(e.db) {
            let n = entries.iter().filter(|x| x.db == e.db).count() as u64;
            w.select_db(e.db, n, 0).unwrap();
            cur = Some(e.db);
        }
        w.write_entry(&e.key, &e.value, e.expire_at_ms).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn round_trip_every_type_with_and_without_expiry() {
    let entries = sample_entries();
    for compression in [true, false] {
        let opts = RdbWriterOptions { compression, ..RdbWriterOptions::default() };
        let file = write_entries(&entries, opts);
        let (got, stats) = read_all(&file, 1_700_000_000_000).unwrap();
        assert_eq!(got, entries);
        assert_eq!(stats.keys_loaded, entries.len() as u64);
        assert_eq!(stats.rdb_version, 10);
        assert_eq!(stats.expired_skipped, 0);
    }
}

#[test]
fn compression_shrinks_compressible_values() {
    let entries = sample_entries();
    let on = write_entries(&entries, RdbWriterOptions::default());
    let off = write_entries(&entries, RdbWriterOptions { compression: false, ..RdbWriterOptions::default() });
    assert!(on.len() < off.len() * 3 / 4, "{} vs {}", on.len(), off.len());
}

#[test]
fn expired_keys_are_skipped_and_counted() {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 3, 2).unwrap();
    w.write_entry(b"past", &RdbValue::Str(b("x")), Some(999)).unwrap();
    w.write_entry(b"now", &RdbValue::Str(b("y")), Some(1000)).unwrap();
    w.write_entry(b"forever", &RdbValue::Str(b("z")), None).unwrap();
    let file = w.finish().unwrap();
    let (got, stats) = read_all(&file, 1000).unwrap();
    let keys: Vec<_> = got.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, vec![b("now"), b("forever")]);
    assert_eq!(stats.expired_skipped, 1);
    assert_eq!(stats.keys_loaded, 2);
}

#[test]
fn empty_aggregates_are_not_written() {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 2, 0).unwrap();
    w.write_entry(b"l", &RdbValue::List(Elements::new()), None).unwrap();
    w.write_entry(b"h", &RdbValue::Hash(Elements::new()), None).unwrap();
    let (got, _) = read_all(&w.finish().unwrap(), 0).unwrap();
    assert!(got.is_empty());
}

#[test]
fn every_truncation_is_corrupt_at_the_cut() {
    let file = write_entries(&small_entries(), RdbWriterOptions::default());
    for cut in 0..file.len() {
        match read_all(&file[..cut], 0) {
            Err(RdbError::Corrupt { offset, reason }) => {
                assert_eq!(offset, cut as u64, "cut {cut}: {reason}");
                assert!(reason.contains("end of file"), "{reason}");
            }
            other => panic!("cut {cut}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let file = write_entries(&small_entries(), RdbWriterOptions::default());
    for pos in 0..file.len() {
        for bit in [0x01u8, 0x80] {
            let mut f = file.clone();
            f[pos] ^= bit;
            let err = read_all(&f, 0).expect_err("flip must be detected");
            if let Some(off) = err.offset() {
                assert!(off <= file.len() as u64);
            }
        }
    }
    // A flip inside a value's bytes is caught by the checksum, whose offset
    // is reported.
    let mut f = file.clone();
    let pos = f.windows(11).position(|w| w == b"hello world").unwrap();
    f[pos] ^= 0x20;
    match read_all(&f, 0) {
        Err(e @ RdbError::Corrupt { .. }) => {
            assert_eq!(e.offset(), Some(file.len() as u64 - 8));
            let msg = e.to_string();
            assert!(msg.contains("checksum") && msg.contains(&(file.len() - 8).to_string()));
        }
        other => panic!("expected checksum error, got {other:?}"),
    }
}

#[test]
fn zero_checksum_is_not_verified() {
    let mut file = write_entries(&sample_entries()[..3], RdbWriterOptions::default());
    let n = file.len();
    file[n - 8..].fill(0);
    assert_eq!(read_all(&file, 0).unwrap().0.len(), 3);
}

#[test]
fn header_errors() {
    let e = read_all(b"REDIX0010\xff", 0).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { offset: 0, .. }), "{e}");
    let e = read_all(b"REDIS00a0\xff", 0).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { offset: 5, .. }), "{e}");
    for v in ["0000", "0012"] {
        let data = format!("REDIS{v}\u{7f}");
        let e = read_all(data.as_bytes(), 0).unwrap_err();
        assert!(matches!(e, RdbError::Unsupported { offset: 5, .. }), "{e}");
        assert!(e.to_string().contains("offset 5"));
    }
    let e = read_all(b"RED", 0).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { offset: 3, .. }), "{e}");
}

#[test]
fn nested_encodings_are_decoded() {
    let mut r = Raw::new(9);
    r.bytes(&[0xFE]).len(2);
    // 9: zipmap hash.
    r.bytes(&[9]).string(b"zm").string(&zipmap(&[(b"a", b"1"), (b"bb", b"two")], 2));
    // 10: ziplist list.
    r.bytes(&[10]).string(b"zl").string(&ziplist(&[b"x", b"-5", b"70000", b"yy"]));
    // 13: ziplist hash.
    r.bytes(&[13]).string(b"zh").string(&ziplist(&[b"f1", b"v1", b"f2", b"12"]));
    // 14: quicklist of ziplists (an empty node is skipped).
    r.bytes(&[14]).string(b"ql").len(3);
    r.string(&ziplist(&[b"a", b"b"])).string(&ziplist(&[])).string(&ziplist(&[b"3"]));
    // 16: listpack hash.
    r.bytes(&[0xFC]).bytes(&5_000_000_000_000i64.to_le_bytes());
    r.bytes(&[16]).string(b"lh").string(&listpack(&[b"k", b"v", b"n", b"-4097"]));
    // 18: quicklist 2 with a packed and a plain node.
    r.bytes(&[0xF8]).len(12345).bytes(&[0xF9, 7]);
    r.bytes(&[18]).string(b"q2").len(2);
    r.len(2).string(&listpack(&[b"p1", b"2"]));
    r.len(1).string(&[b'P'; 100]);
    // Empty list (quicklist whose only node is empty) is skipped.
    r.bytes(&[14]).string(b"emptyql").len(1).string(&ziplist(&[]));
    let (got, stats) = read_all(&r.finish(), 0).unwrap();
    let list = |v: &[&str]| RdbValue::List(v.iter().collect());
    let hash = |v: &[(&str, &str)]| RdbValue::Hash(Elements::from_pairs(v.iter().copied()));
    let plain = String::from_utf8(vec![b'P'; 100]).unwrap();
    let expect = vec![
        ("zm", hash(&[("a", "1"), ("bb", "two")]), None),
        ("zl", list(&["x", "-5", "70000", "yy"]), None),
        ("zh", hash(&[("f1", "v1"), ("f2", "12")]), None),
        ("ql", list(&["a", "b", "3"]), None),
        ("lh", hash(&[("k", "v"), ("n", "-4097")]), Some(5_000_000_000_000)),
        ("q2", list(&["p1", "2", &plain]), None),
    ];
    assert_eq!(got.len(), expect.len());
    for (e, (k, v, exp)) in got.iter().zip(expect) {
        assert_eq!(e.db, 2);
        assert_eq!(e.key, b(k));
        assert_eq!(e.value, v, "key {k}");
        assert_eq!(e.expire_at_ms, exp);
    }
    assert_eq!(stats.empty_keys_skipped, 1);
}

#[test]
fn old_versions_without_checksum() {
    let mut r = Raw::new(3);
    r.bytes(&[0xFD]).bytes(&2_000_000_000i32.to_le_bytes());
    r.bytes(&[0]).string(b"k").string(b"v");
    // Old list encoding with integer-encoded and LZF elements.
    let text = b"abcabcabcabcabcabcabcabcabcabcabcabc";
    let packed = lzf::compress(text, usize::MAX).unwrap();
    r.bytes(&[1]).string(b"l").len(3);
    r.bytes(&[0xC0, 0xF6]).bytes(&[0xC2]).bytes(&(-70000i32).to_le_bytes());
    r.bytes(&[0xC3]).len(packed.len() as u64).len(text.len() as u64).bytes(&packed);
    let file = r.finish();
    let (got, stats) = read_all(&file, 0).unwrap();
    assert_eq!(stats.rdb_version, 3);
    assert_eq!(got[0].expire_at_ms, Some(2_000_000_000_000));
    assert_eq!(got[1].value, RdbValue::List([&b"-10"[..], b"-70000", text].into_iter().collect()));
}

#[test]
fn unsupported_types_and_opcodes_name_type_and_offset() {
    let mut r = Raw::new(10);
    r.bytes(&[0]).string(b"k").string(b"v");
    let off = r.buf.len() as u64;
    r.bytes(&[7]).string(b"mymodule").len(1).string(b"m");
    let e = read_all(&r.finish(), 0).unwrap_err();
    match &e {
        RdbError::Unsupported { offset, reason } => {
            assert_eq!(*offset, off);
            assert!(reason.contains("module") && reason.contains("mymodule"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(&format!("offset {off}")));
    for t in [6u8, 7, 22, 23, 24, 25] {
        let mut r = Raw::new(10);
        r.bytes(&[t]).string(b"x").string(b"whatever");
        let e = read_all(&r.finish(), 0).unwrap_err();
        assert!(matches!(e, RdbError::Unsupported { offset: 9, .. }), "type {t}: {e}");
    }
    let mut r = Raw::new(10);
    r.bytes(&[0xF7]).len(1).len(2).len(2);
    let e = read_all(&r.finish(), 0).unwrap_err();
    assert!(matches!(e, RdbError::Unsupported { offset: 9, .. }), "{e}");
    // Unknown type bytes are corruption.
    let mut r = Raw::new(10);
    r.bytes(&[0x42]).string(b"x");
    let e = read_all(&r.finish(), 0).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { offset: 9, .. }), "{e}");
}

#[test]
fn functions_and_hints_are_skipped() {
    let mut r = Raw::new(11);
    r.bytes(&[0xFA]).string(b"redis-ver").string(b"7.2.4");
    r.bytes(&[0xF5]).string(b"#!lua name=lib\nredis.register_function('f', function() end)");
    r.bytes(&[0xFE]).len(1).bytes(&[0xFB]).len(1).len(0);
    r.bytes(&[0xF4]).len(100).len(1).len(0);
    r.bytes(&[0]).string(b"k").string(b"v");
    let (got, stats) = read_all(&r.finish(), 0).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].db, 1);
    assert_eq!(stats.functions_skipped, 1);
    assert_eq!(stats.rdb_version, 11);
}

#[test]
fn huge_lengths_fail_without_allocating() {
    // Key length 2^40: must fail at end of input after a bounded read.
    let mut r = Raw::new(10);
    r.bytes(&[0]).len(1 << 40).bytes(b"short");
    let e = read_all(&r.buf, 0).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { offset: 24, .. }), "{e}");
    assert!(e.to_string().contains("1099511627776 bytes starting at offset 19"), "{e}");
    // List of 2^60 elements.
    let mut r = Raw::new(10);
    r.bytes(&[1]).string(b"l").len(1 << 60).string(b"a");
    assert!(matches!(read_all(&r.buf, 0), Err(RdbError::Corrupt { .. })));
    // Hash whose pair count overflows when doubled.
    let mut r = Raw::new(10);
    r.bytes(&[4]).string(b"h").len(u64::MAX);
    assert!(matches!(read_all(&r.buf, 0), Err(RdbError::Corrupt { .. })));
    // LZF string claiming to expand to 2^50 bytes.
    let mut r = Raw::new(10);
    r.bytes(&[0]).string(b"k").bytes(&[0xC3]).len(2).len(1 << 50).bytes(&[0, b'a']);
    let e = read_all(&r.finish(), 0).unwrap_err();
    assert!(matches!(e, RdbError::Corrupt { offset: 12, .. }), "{e}");
    // Quicklist with 2^62 nodes, and a 4 GiB listpack claim inside a blob.
    let mut r = Raw::new(10);
    r.bytes(&[18]).string(b"q").len(1 << 62).len(2).string(&[0xff; 3]);
    assert!(matches!(read_all(&r.finish(), 0), Err(RdbError::Corrupt { .. })));
}

#[test]
fn callback_errors_stop_the_load() {
    let file = write_entries(&sample_entries(), RdbWriterOptions::default());
    let mut seen = 0;
    let e = read_rdb(&file[..], 0, |_| {
        seen += 1;
        if seen == 2 {
            Err(RdbError::Aborted("enough".into()))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(matches!(e, RdbError::Aborted(_)));
    assert_eq!(seen, 2);
}

#[test]
fn random_mutations_never_panic() {
    let file = write_entries(&small_entries(), RdbWriterOptions::default());
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut next = move || rng.next_u64();
    for _ in 0..3000 {
        let mut f = file.clone();
        for _ in 0..(next() % 4 + 1) {
            let pos = (next() as usize) % f.len();
            f[pos] = next() as u8;
        }
        let cut = f.len() - (next() as usize % 16).min(f.len());
        let _ = read_all(&f[..cut], 0);
    }
}

#[test]
fn borrowed_reading_hands_over_what_owned_reading_does() {
    // The 2.5 MB string makes the reader free its grown buffer before the
    // next key.
    let entries = sample_entries();
    let file = write_entries(&entries, RdbWriterOptions::default());
    let mut borrowed = Vec::new();
    let stats = read_rdb_ref(&file[..], 0, |e| {
        borrowed.push(e.to_owned());
        Ok(())
    })
    .unwrap();
    assert_eq!(borrowed, entries);
    assert_eq!(stats.keys_loaded, entries.len() as u64);
}
