//! Tests of sets and sorted sets: every encoding Redis reads or writes
//! (types 2, 3, 5, 11, 12, 17, 20), the choice of encoding when writing,
//! a dump written by the real redis-server 7.0.15 and byte-identical
//! blobs, and corrupt values.
//!
//! `testdata/redis7-sets.rdb.bin` was written by redis-server 7.0.15
//! (`--save ''`) after:
//!
//! ```text
//! SADD set:int16 1 2 3 -5 32767
//! SADD set:int32 1 70000 -70000
//! SADD set:int64 1 9223372036854775807 -9223372036854775808
//! SADD set:str a b c 1 ""
//! ZADD zset:small 1 a 2.5 b -inf c inf d 0.1 e -0 f 1e20 g 3 h
//!      4611686018427387904 i 4611686018427387905 j
//! ZADD zset:big <i>.5 m<i>   (i = 0..199)
//! ZADD zset:big inf top -inf bottom
//! SAVE
//! ```

use super::reader::raw_value;
use super::test_encoders::{listpack, ziplist, XorShift};
use super::tests::{read_all, Raw};
use super::*;

const REDIS_SETS: &[u8] = include_bytes!("testdata/redis7-sets.rdb.bin");

fn find<'a>(v: &'a [RdbEntry], key: &str) -> &'a RdbValue {
    &v.iter().find(|e| e.key == key.as_bytes()).unwrap_or_else(|| panic!("key {key} missing")).value
}

fn members(v: &RdbValue) -> Vec<String> {
    match v {
        RdbValue::Set(m) => m.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect(),
        other => panic!("not a set: {other:?}"),
    }
}

fn pairs(v: &RdbValue) -> Vec<(String, u64)> {
    match v {
        RdbValue::ZSet(z) => z.iter().map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s.to_bits())).collect(),
        other => panic!("not a sorted set: {other:?}"),
    }
}

fn zset(p: &[(&str, f64)]) -> Vec<(String, u64)> {
    p.iter().map(|(m, s)| (m.to_string(), s.to_bits())).collect()
}

/// The type byte `file` stores `key` with (searched as type, length, name).
fn stored_type(file: &[u8], key: &str) -> u8 {
    let mut pat = vec![key.len() as u8];
    pat.extend_from_slice(key.as_bytes());
    let pos = file.windows(pat.len()).position(|w| w == pat).unwrap_or_else(|| panic!("{key} not in file"));
    file[pos - 1]
}

const TWO_62: f64 = 4_611_686_018_427_387_904.0;

#[test]
fn redis_dump_loads() {
    let (v, stats) = read_all(REDIS_SETS, 0).unwrap();
    assert_eq!(stats.keys_loaded, 6);
    for (key, t) in
        [("set:int16", 11), ("set:int32", 11), ("set:int64", 11), ("set:str", 2), ("zset:small", 17), ("zset:big", 5)]
    {
        assert_eq!(stored_type(REDIS_SETS, key), t, "{key}");
    }
    assert_eq!(members(find(&v, "set:int16")), ["-5", "1", "2", "3", "32767"]);
    assert_eq!(members(find(&v, "set:int32")), ["-70000", "1", "70000"]);
    assert_eq!(members(find(&v, "set:int64")), ["-9223372036854775808", "1", "9223372036854775807"]);
    let mut strs = members(find(&v, "set:str"));
    strs.sort();
    assert_eq!(strs, ["", "1", "a", "b", "c"]);
    let small = [
        ("c", f64::NEG_INFINITY),
        ("f", 0.0), // ZADD -0: Redis stores the integer 0
        ("e", 0.1),
        ("a", 1.0),
        ("b", 2.5),
        ("h", 3.0),
        ("i", TWO_62),
        ("j", TWO_62),
        ("g", 1e20),
        ("d", f64::INFINITY),
    ];
    assert_eq!(pairs(find(&v, "zset:small")), zset(&small));
    let mut big = pairs(find(&v, "zset:big"));
    big.sort();
    let mut want: Vec<(String, u64)> = (0..200).map(|i| (format!("m{i}"), (i as f64 + 0.5).to_bits())).collect();
    want.push(("top".into(), f64::INFINITY.to_bits()));
    want.push(("bottom".into(), f64::NEG_INFINITY.to_bits()));
    want.sort();
    assert_eq!(big, want);
}

/// Our intsets and sorted-set listpacks are byte for byte Redis's
/// (compared decompressed), and each value written again reads back the
/// same and is stored with the type Redis used.
#[test]
fn rewritten_values_match_redis() {
    let (v, _) = read_all(REDIS_SETS, 0).unwrap();
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, v.len() as u64, 0).unwrap();
    for e in &v {
        w.write_entry(&e.key, &e.value, e.expire_at_ms).unwrap();
    }
    let ours = w.finish().unwrap();
    for key in ["set:int16", "set:int32", "set:int64", "set:str", "zset:small", "zset:big"] {
        assert_eq!(stored_type(&ours, key), stored_type(REDIS_SETS, key), "{key}");
    }
    for key in ["set:int16", "set:int32", "set:int64", "zset:small"] {
        let theirs = raw_value(REDIS_SETS, key.as_bytes()).unwrap();
        assert_eq!(raw_value(&ours, key.as_bytes()).unwrap(), theirs, "{key}");
    }
    let (again, _) = read_all(&ours, 0).unwrap();
    for e in &v {
        let mine = find(&again, std::str::from_utf8(&e.key).unwrap());
        match (&e.value, mine) {
            // Written sorted by score: compare as sets of pairs.
            (RdbValue::ZSet(_), RdbValue::ZSet(_)) => {
                let (mut a, mut b) = (pairs(&e.value), pairs(mine));
                a.sort();
                b.sort();
                assert_eq!(a, b);
            }
            (RdbValue::Set(_), RdbValue::Set(_)) => {
                let (mut a, mut b) = (members(&e.value), members(mine));
                a.sort();
                b.sort();
                assert_eq!(a, b);
            }
            (a, b) => assert_eq!(a, b),
        }
    }
}

#[test]
fn every_encoding_is_decoded() {
    let mut intset = vec![4, 0, 0, 0, 2, 0, 0, 0];
    intset.extend((-70000i32).to_le_bytes());
    intset.extend(70000i32.to_le_bytes());
    let mut r = Raw::new(11);
    r.bytes(&[2]).string(b"s2").len(3).string(b"a").bytes(&[0xC0, 5]).string(b"");
    r.bytes(&[11]).string(b"s11").string(&intset);
    r.bytes(&[20]).string(b"s20").string(&listpack(&[b"x", b"12", b"-3"]));
    r.bytes(&[3]).string(b"z3").len(5);
    r.string(b"a").bytes(&[3]).bytes(b"1.5").string(b"b").bytes(&[254]).string(b"c").bytes(&[255]);
    r.string(b"d").bytes(&[19]).bytes(b"0.10000000000000001").string(b"e").bytes(&[5]).bytes(b"1e+20");
    r.bytes(&[5]).string(b"z5").len(2).string(b"m").bytes(&(-0.0f64).to_le_bytes());
    r.string(b"n").bytes(&1e300f64.to_le_bytes());
    r.bytes(&[12]).string(b"z12");
    r.string(&ziplist(&[b"a", b"1", b"b", b"2.5", b"c", b"-inf", b"d", b"-9007199254740993"]));
    r.bytes(&[17]).string(b"z17").string(&listpack(&[b"a", b"-1", b"b", b"inf", b"c", b"1e+19"]));
    // Empty values of every type are skipped.
    r.bytes(&[2]).string(b"e2").len(0);
    r.bytes(&[20]).string(b"e20").string(&listpack(&[]));
    r.bytes(&[3]).string(b"e3").len(0);
    r.bytes(&[5]).string(b"e5").len(0);
    r.bytes(&[12]).string(b"e12").string(&ziplist(&[]));
    r.bytes(&[17]).string(b"e17").string(&listpack(&[]));
    let (v, stats) = read_all(&r.finish(), 0).unwrap();
    assert_eq!(stats.empty_keys_skipped, 6);
    assert_eq!(v.len(), 7);
    assert_eq!(members(find(&v, "s2")), ["a", "5", ""]);
    assert_eq!(members(find(&v, "s11")), ["-70000", "70000"]);
    assert_eq!(members(find(&v, "s20")), ["x", "12", "-3"]);
    let z3 = [("a", 1.5), ("b", f64::INFINITY), ("c", f64::NEG_INFINITY), ("d", 0.1), ("e", 1e20)];
    assert_eq!(pairs(find(&v, "z3")), zset(&z3));
    assert_eq!(pairs(find(&v, "z5")), zset(&[("m", -0.0), ("n", 1e300)]));
    let z12 = [("a", 1.0), ("b", 2.5), ("c", f64::NEG_INFINITY), ("d", -9_007_199_254_740_992.0)];
    assert_eq!(pairs(find(&v, "z12")), zset(&z12));
    assert_eq!(pairs(find(&v, "z17")), zset(&[("a", -1.0), ("b", f64::INFINITY), ("c", 1e19)]));
}

/// Appends a value to a hand-built file.
type Build = Box<dyn Fn(&mut Raw)>;

/// Corrupt values: each is `Corrupt` at an offset inside the file.
#[test]
fn corrupt_values_are_rejected() {
    let lp_dup = listpack(&[b"a", b"1", b"a", b"2"]);
    let cases: Vec<(&str, Build)> = vec![
        (
            "intset size 3",
            Box::new(|r| {
                r.bytes(&[11]).string(b"k").string(&[3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]);
            }),
        ),
        (
            "intset length",
            Box::new(|r| {
                r.bytes(&[11]).string(b"k").string(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]);
            }),
        ),
        (
            "intset empty",
            Box::new(|r| {
                r.bytes(&[11]).string(b"k").string(&[2, 0, 0, 0, 0, 0, 0, 0]);
            }),
        ),
        (
            "intset order",
            Box::new(|r| {
                r.bytes(&[11]).string(b"k").string(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]);
            }),
        ),
        (
            "set dup",
            Box::new(|r| {
                r.bytes(&[2]).string(b"k").len(2).string(b"5").bytes(&[0xC0, 5]);
            }),
        ),
        (
            "set listpack dup",
            Box::new(|r| {
                r.bytes(&[20]).string(b"k").string(&listpack(&[b"x", b"y", b"x"]));
            }),
        ),
        (
            "zset dup",
            Box::new(|r| {
                r.bytes(&[5]).string(b"k").len(2).string(b"m").bytes(&[0; 8]).string(b"m").bytes(&[0; 8]);
            }),
        ),
        (
            "zset NaN",
            Box::new(|r| {
                r.bytes(&[5]).string(b"k").len(1).string(b"m").bytes(&f64::NAN.to_le_bytes());
            }),
        ),
        (
            "zset 3 NaN",
            Box::new(|r| {
                r.bytes(&[3]).string(b"k").len(1).string(b"m").bytes(&[253]);
            }),
        ),
        (
            "zset 3 nan text",
            Box::new(|r| {
                r.bytes(&[3]).string(b"k").len(1).string(b"m").bytes(&[3]).bytes(b"nan");
            }),
        ),
        (
            "zset 3 bad text",
            Box::new(|r| {
                r.bytes(&[3]).string(b"k").len(1).string(b"m").bytes(&[2]).bytes(b"1x");
            }),
        ),
        (
            "zset 3 dup",
            Box::new(|r| {
                r.bytes(&[3]).string(b"k").len(2).string(b"m").bytes(&[254]).string(b"m").bytes(&[255]);
            }),
        ),
        (
            "ziplist odd",
            Box::new(|r| {
                r.bytes(&[12]).string(b"k").string(&ziplist(&[b"a", b"1", b"b"]));
            }),
        ),
        (
            "ziplist dup",
            Box::new(|r| {
                r.bytes(&[12]).string(b"k").string(&ziplist(&[b"a", b"1", b"a", b"2"]));
            }),
        ),
        (
            "listpack odd",
            Box::new(|r| {
                r.bytes(&[17]).string(b"k").string(&listpack(&[b"a"]));
            }),
        ),
        (
            "listpack dup",
            Box::new(move |r| {
                r.bytes(&[17]).string(b"k").string(&lp_dup);
            }),
        ),
        (
            "listpack nan",
            Box::new(|r| {
                r.bytes(&[17]).string(b"k").string(&listpack(&[b"a", b"nan"]));
            }),
        ),
        (
            "listpack text",
            Box::new(|r| {
                r.bytes(&[17]).string(b"k").string(&listpack(&[b"a", b"one"]));
            }),
        ),
        (
            "huge count",
            Box::new(|r| {
                r.bytes(&[5]).string(b"k").len(1 << 60).string(b"m");
            }),
        ),
    ];
    for (what, build) in cases {
        let mut r = Raw::new(10);
        r.bytes(&[0]).string(b"before").string(b"v");
        build(&mut r);
        let file = r.finish();
        match read_all(&file, 0) {
            Err(e @ RdbError::Corrupt { .. }) => {
                let off = e.offset().unwrap_or(u64::MAX);
                assert!(off >= 22 && off <= file.len() as u64, "{what}: offset {off} ({e})");
            }
            other => panic!("{what}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn redis_dump_mutations_never_panic() {
    for cut in 0..REDIS_SETS.len() {
        assert!(matches!(read_all(&REDIS_SETS[..cut], 0), Err(RdbError::Corrupt { .. })), "cut {cut}");
    }
    // With the checksum zeroed (not verified), mutations reach the decoders.
    let mut file = REDIS_SETS.to_vec();
    let n = file.len();
    file[n - 8..].fill(0);
    let mut rng = XorShift(0x51ab_1e5e_7a11_0e55);
    for _ in 0..5000 {
        let mut f = file.clone();
        for _ in 0..(rng.next_u64() % 3 + 1) {
            let pos = (rng.next_u64() as usize) % (n - 8);
            f[pos] = rng.next_u64() as u8;
        }
        let _ = read_all(&f, 0);
    }
}

/// A file holding `value` under key "k" (written by `write_entry`).
fn file_of(value: &RdbValue) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 1, 0).unwrap();
    w.write_entry(b"k", value, None).unwrap();
    w.finish().unwrap()
}

fn read_one(file: &[u8]) -> RdbValue {
    let (mut v, _) = read_all(file, 0).unwrap();
    assert_eq!(v.len(), 1);
    v.remove(0).value
}

#[test]
fn owned_values_pick_redis_encodings() {
    let ints = |n: i64| RdbValue::Set((0..n).map(|i| (i * 1000 - 7).to_string()).collect());
    let strs = RdbValue::Set(["a", "1"].into_iter().collect());
    let not_canonical = RdbValue::Set(["1", "007"].into_iter().collect());
    let z = |n: usize, len: usize| {
        RdbValue::ZSet(ScoredElements::from_pairs((0..n).map(|i| (format!("{i:0len$}"), i as f64 / 4.0))))
    };
    for (v, t) in [
        (ints(512), 11),
        (ints(513), 2),
        (strs, 2),
        (not_canonical, 2),
        (z(128, 64), 17),
        (z(129, 3), 5),
        (z(3, 65), 5),
    ] {
        let file = file_of(&v);
        assert_eq!(stored_type(&file, "k"), t, "{v:?}");
        let back = read_one(&file);
        match (&v, &back) {
            (RdbValue::Set(_), _) => {
                let (mut a, mut b) = (members(&v), members(&back));
                a.sort();
                b.sort();
                assert_eq!(a, b);
            }
            _ => assert_eq!(back, v),
        }
    }
}

#[test]
fn packed_sorted_sets_are_written_in_score_order() {
    let z = RdbValue::ZSet(ScoredElements::from_pairs([("b", 2.0), ("a", 2.0), ("c", -1.5), ("d", f64::INFINITY)]));
    let back = read_one(&file_of(&z));
    assert_eq!(pairs(&back), zset(&[("c", -1.5), ("a", 2.0), ("b", 2.0), ("d", f64::INFINITY)]));
    // Uncompressed, the blob is the listpack Redis builds.
    let opts = RdbWriterOptions { compression: false, ..RdbWriterOptions::default() };
    let mut w = RdbWriter::with_options(Vec::new(), opts).unwrap();
    w.select_db(0, 1, 0).unwrap();
    w.write_entry(b"k", &z, None).unwrap();
    let file = w.finish().unwrap();
    let (_, blob) = raw_value(&file, b"k").unwrap();
    assert_eq!(blob, vec![(0, listpack(&[b"c", b"-1.5", b"a", b"2", b"b", b"2", b"d", b"inf"]))]);
}

#[test]
fn scores_round_trip_exactly() {
    let mut rng = XorShift(0xfeed_beef_1234_5678);
    let mut raw: Vec<f64> = (0..5000)
        .map(|i| match i % 4 {
            0 => f64::from_bits(rng.next_u64()),
            1 => (rng.next_u64() % 1000) as f64 / 7.0,
            2 => (rng.next_u64() as i64 >> (rng.next_u64() % 64)) as f64,
            _ => 1.0 / (rng.next_u64() % 97 + 1) as f64,
        })
        .filter(|s| !s.is_nan())
        .collect();
    raw.extend([f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN, 5e-324, TWO_62, -TWO_62, 2.0 * TWO_62, 0.0]);
    for chunk in raw.chunks(100) {
        let z = ScoredElements::from_pairs(chunk.iter().enumerate().map(|(i, s)| (i.to_string(), *s)));
        for packed in [true, false] {
            let mut sorted: Vec<(&[u8], f64)> = z.iter().collect();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
            let mut w = RdbWriter::new(Vec::new()).unwrap();
            w.select_db(0, 1, 0).unwrap();
            w.write_zset(b"k", sorted.len(), sorted.iter().copied(), packed, None).unwrap();
            let file = w.finish().unwrap();
            assert_eq!(stored_type(&file, "k"), if packed { 17 } else { 5 });
            let want: Vec<(String, u64)> =
                sorted.iter().map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s.to_bits())).collect();
            assert_eq!(pairs(&read_one(&file)), want);
        }
    }
    // -0 survives the binary form; a listpack stores it as the integer 0,
    // as Redis does.
    for (packed, bits) in [(false, (-0.0f64).to_bits()), (true, 0)] {
        let mut w = RdbWriter::new(Vec::new()).unwrap();
        w.write_zset(b"k", 1, [(&b"m"[..], -0.0)], packed, None).unwrap();
        assert_eq!(pairs(&read_one(&w.finish().unwrap())), [("m".to_string(), bits)]);
    }
}

#[test]
fn borrowed_set_and_zset_writes() {
    let opts = || RdbWriterOptions { ctime_secs: Some(1), ..RdbWriterOptions::default() };
    let nothing = RdbWriter::with_options(Vec::new(), opts()).unwrap().finish().unwrap();
    let mut w = RdbWriter::with_options(Vec::new(), opts()).unwrap();
    w.write_set(b"e", 0, std::iter::empty::<&[u8]>(), true, None).unwrap();
    w.write_zset(b"e", 0, std::iter::empty(), true, None).unwrap();
    assert_eq!(w.finish().unwrap(), nothing, "empty values write nothing");
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 4, 0).unwrap();
    // Claimed an intset, but a member is not an integer: written as type 2.
    w.write_set(b"mixed", 4, ["3", "1", "x", "2"], true, Some(4_000_000_000_000)).unwrap();
    // Unsorted integers are sorted into the intset.
    w.write_set(b"ints", 3, ["30", "-1", "7"], true, None).unwrap();
    let file = w.finish().unwrap();
    assert_eq!(stored_type(&file, "mixed"), 2);
    assert_eq!(stored_type(&file, "ints"), 11);
    let (v, _) = read_all(&file, 0).unwrap();
    assert_eq!(members(find(&v, "mixed")), ["3", "1", "x", "2"]);
    assert_eq!(v[0].expire_at_ms, Some(4_000_000_000_000));
    assert_eq!(members(find(&v, "ints")), ["-1", "7", "30"]);
    // A lying count, unsorted or NaN packed pairs, and duplicate integers
    // are errors.
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    assert!(w.write_set(b"k", 3, ["a", "b"], false, None).is_err());
    assert!(w.write_set(b"k", 1, ["1", "2"], true, None).is_err());
    assert!(w.write_set(b"k", 2, ["1", "1"], true, None).is_err());
    assert!(w.write_zset(b"k", 3, [(&b"a"[..], 1.0)], false, None).is_err());
    assert!(w.write_zset(b"k", 2, [(&b"a"[..], 2.0), (&b"b"[..], 1.0)], true, None).is_err());
    assert!(w.write_zset(b"k", 2, [(&b"b"[..], 1.0), (&b"a"[..], 1.0)], true, None).is_err());
    assert!(w.write_zset(b"k", 1, [(&b"a"[..], f64::NAN)], true, None).is_err());
}
