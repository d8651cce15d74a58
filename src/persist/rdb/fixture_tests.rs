//! Tests against dumps written by a real redis-server 7.0.15, stored in
//! `tests/fixtures/rdb/` (see the README there for how they were made;
//! the set dump, once an example of an unsupported type, now loads).

use bytes::Bytes;

use super::tests::{b, read_all};
use super::*;

const MIXED: &[u8] = include_bytes!("../../../tests/fixtures/rdb/redis7-mixed.rdb.bin");
const LARGE: &[u8] = include_bytes!("../../../tests/fixtures/rdb/redis7-large.rdb.bin");
const SET: &[u8] = include_bytes!("../../../tests/fixtures/rdb/redis7-set.rdb.bin");

#[test]
fn set_dump_loads() {
    let (v, _) = read_all(SET, 0).unwrap();
    assert_eq!(find(&v, 0, "a").value, RdbValue::Str(b("b")));
    match &find(&v, 0, "myset").value {
        RdbValue::Set(m) => {
            let mut m: Vec<&[u8]> = m.iter().collect();
            m.sort();
            assert_eq!(m, [&b"x"[..], b"y", b"z"]);
        }
        other => panic!("{other:?}"),
    }
}

fn find<'a>(v: &'a [RdbEntry], db: usize, key: &str) -> &'a RdbEntry {
    v.iter().find(|e| e.db == db && e.key == key.as_bytes()).unwrap_or_else(|| panic!("key {key} in db {db} missing"))
}

#[test]
fn mixed_dump() {
    let (v, stats) = read_all(MIXED, 0).unwrap();
    assert_eq!(stats.rdb_version, 10);
    assert_eq!(stats.keys_loaded, 9);
    assert_eq!(v.len(), 9);
    check_mixed(&v);
}

#[test]
fn mixed_dump_expiry_filter() {
    // Just after str:ttl's expiry but before db3:key's.
    let (v, stats) = read_all(MIXED, 4_102_444_800_001).unwrap();
    assert_eq!(stats.expired_skipped, 1);
    assert!(v.iter().all(|e| e.key != "str:ttl".as_bytes()));
    assert_eq!(find(&v, 3, "db3:key").expire_at_ms, Some(4_102_444_800_123));
}

#[test]
fn real_dumps_survive_rewriting() {
    for dump in [MIXED, LARGE] {
        let (v, _) = read_all(dump, 0).unwrap();
        let mut w = RdbWriter::new(Vec::new()).unwrap();
        let mut cur = None;
        for e in &v {
            if cur != Some(e.db) {
                w.select_db(e.db, 0, 0).unwrap();
                cur = Some(e.db);
            }
            w.write_entry(&e.key, &e.value, e.expire_at_ms).unwrap();
        }
        let (again, _) = read_all(&w.finish().unwrap(), 0).unwrap();
        assert_eq!(again, v);
    }
}

fn check_mixed(v: &[RdbEntry]) {
    assert_eq!(find(v, 0, "str:plain").value, RdbValue::Str(b("hello world")));
    assert_eq!(find(v, 0, "str:int").value, RdbValue::Str(b("12345")));
    assert_eq!(find(v, 0, "str:negint").value, RdbValue::Str(b("-2147483648")));
    assert_eq!(find(v, 0, "str:bigint").value, RdbValue::Str(b("9223372036854775807")));
    assert_eq!(find(v, 0, "str:lzf").value, RdbValue::Str(Bytes::from("abcdefghij".repeat(100))));
    let ttl = find(v, 0, "str:ttl");
    assert_eq!(ttl.value, RdbValue::Str(b("expiring")));
    assert_eq!(ttl.expire_at_ms, Some(4_102_444_800_000));
    assert_eq!(find(v, 0, "list:small").value, RdbValue::List(["a", "b", "1", "-300", "70000"].into_iter().collect()));
    assert_eq!(find(v, 0, "hash:small").value, RdbValue::Hash(Elements::from_pairs([("name", "redis"), ("ver", "7")])));
    assert_eq!(find(v, 3, "db3:key").value, RdbValue::Str(b("in db three")));
    assert_eq!(find(v, 3, "db3:key").expire_at_ms, Some(4_102_444_800_123));
}

#[test]
fn large_dump() {
    let (v, _) = read_all(LARGE, 0).unwrap();
    check_large(&v);
}

fn check_large(v: &[RdbEntry]) {
    match &find(v, 0, "list:large").value {
        RdbValue::List(l) => {
            assert_eq!(l.len(), 1000);
            for (i, e) in l.iter().enumerate() {
                assert_eq!(e, format!("item-{i}").as_bytes());
            }
        }
        other => panic!("{other:?}"),
    }
    match &find(v, 0, "list:plainnode").value {
        RdbValue::List(l) => {
            assert_eq!(l.len(), 3);
            assert_eq!(l.get(1), Some("P".repeat(10_000).as_bytes()));
        }
        other => panic!("{other:?}"),
    }
    match &find(v, 1, "hash:large").value {
        RdbValue::Hash(h) => {
            assert_eq!(h.len(), 400);
            let mut h: Vec<_> = h.pairs().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            h.sort();
            let mut want: Vec<_> =
                (0..200).map(|i| (format!("f{i}").into_bytes(), format!("{i}").into_bytes())).collect();
            want.sort();
            assert_eq!(h, want);
        }
        other => panic!("{other:?}"),
    }
}

/// Our listpacks and quicklist nodes are byte for byte Redis's: each
/// small hash and RPUSH-built list of the fixtures, read and written again,
/// stores the same blobs (compared decompressed: the LZF streams of two
/// compressors may differ).
#[test]
fn rewritten_listpacks_are_byte_identical_to_redis() {
    for (dump, key, t, nodes) in
        [(MIXED, "hash:small", 16, 1), (MIXED, "list:small", 18, 1), (LARGE, "list:large", 18, 2)]
    {
        let (v, _) = read_all(dump, 0).unwrap();
        let e = find(&v, 0, key);
        let mut w = RdbWriter::new(Vec::new()).unwrap();
        w.select_db(0, 1, 0).unwrap();
        w.write_entry(&e.key, &e.value, None).unwrap();
        let ours = w.finish().unwrap();
        let theirs = super::reader::raw_value(dump, key.as_bytes()).unwrap();
        assert_eq!(theirs.0, t, "{key}");
        assert_eq!(theirs.1.len(), nodes, "{key}");
        assert_eq!(super::reader::raw_value(&ours, key.as_bytes()).unwrap(), theirs, "{key}");
    }
}
