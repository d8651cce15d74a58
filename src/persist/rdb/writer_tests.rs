//! Tests of the RDB writer: layout details, and the listpack encodings of
//! hashes (type 16) and lists (type 18) — node cuts, plain nodes, limits.

use super::super::reader::raw_value;
use super::super::{read_rdb, Elements};
use super::*;

/// A file holding `value` under key "k", written by `w`.
fn file_with(mut w: RdbWriter<Vec<u8>>, value: &RdbValue) -> Vec<u8> {
    w.select_db(0, 1, 0).unwrap();
    w.write_entry(b"k", value, None).unwrap();
    w.finish().unwrap()
}

/// The value read back from `file` (which must hold one key).
fn read_back(file: &[u8]) -> RdbValue {
    let mut got = Vec::new();
    read_rdb(file, 0, |e| {
        got.push(e.value);
        Ok(())
    })
    .unwrap();
    assert_eq!(got.len(), 1);
    got.remove(0)
}

/// The RDB type byte the file stores key "k" with.
fn type_of(file: &[u8]) -> u8 {
    let pos = file.windows(2).rposition(|w| w == [1, b'k']).unwrap();
    file[pos - 1]
}

#[test]
fn hashes_within_the_listpack_limits_are_listpacks() {
    let small = RdbValue::Hash(Elements::from_pairs([("f", "v"), ("n", "42"), ("neg", "-70000")]));
    let long_value = RdbValue::Hash(Elements::from_pairs([("f", "v".repeat(65))]));
    let edge_value = RdbValue::Hash(Elements::from_pairs([("f", "v".repeat(64))]));
    let many = RdbValue::Hash(Elements::from_pairs((0..513).map(|i| (format!("f{i}"), i.to_string()))));
    let edge_many = RdbValue::Hash(Elements::from_pairs((0..512).map(|i| (format!("f{i}"), i.to_string()))));
    for (v, t) in [(&small, 16), (&long_value, 4), (&edge_value, 16), (&many, 4), (&edge_many, 16)] {
        for compression in [true, false] {
            let opts = RdbWriterOptions { compression, ..RdbWriterOptions::default() };
            let file = file_with(RdbWriter::with_options(Vec::new(), opts).unwrap(), v);
            assert_eq!(type_of(&file), t);
            assert_eq!(&read_back(&file), v);
        }
    }
    // Uncompressed, the blob is the listpack itself, integers encoded.
    let opts = RdbWriterOptions { compression: false, ..RdbWriterOptions::default() };
    let file = file_with(RdbWriter::with_options(Vec::new(), opts).unwrap(), &small);
    let (_, blobs) = raw_value(&file, b"k").unwrap();
    let expect = super::super::test_encoders::listpack(&[b"f", b"v", b"n", b"42", b"neg", b"-70000"]);
    assert_eq!(blobs, vec![(0, expect)]);
}

#[test]
fn borrowed_writes_skip_empty_values_and_honour_packed() {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 1, 0).unwrap();
    let start = w.buf.len();
    w.write_list(b"l", std::iter::empty(), None).unwrap();
    w.write_hash(b"h", std::iter::empty(), true, None).unwrap();
    assert_eq!(w.buf.len(), start, "empty aggregates write nothing");
    let pairs = [(&b"a"[..], &b"1"[..])];
    w.write_hash(b"k", pairs.iter().copied(), false, Some(5)).unwrap();
    let file = w.finish().unwrap();
    assert_eq!(type_of(&file), 4);
    assert_eq!(read_back(&file), RdbValue::Hash(Elements::from_pairs(pairs)));
}

#[test]
fn lists_are_cut_into_listpack_nodes_of_8_kib() {
    let items: Elements = (0..5000).map(|i| format!("elem:{i:04}")).chain(["7".into(), "".into()]).collect();
    let list = RdbValue::List(items);
    let file = file_with(RdbWriter::new(Vec::new()).unwrap(), &list);
    assert_eq!(type_of(&file), 18);
    assert_eq!(read_back(&file), list);
    let (_, nodes) = raw_value(&file, b"k").unwrap();
    assert!(nodes.len() > 5, "{}", nodes.len());
    let mut total = 0;
    for (i, (container, lp)) in nodes.iter().enumerate() {
        assert_eq!(*container, op::QL_PACKED);
        assert!(lp.len() <= NODE_BYTES, "node {i}: {} bytes", lp.len());
        // Every node but the last is full: the next 9-byte element
        // did not fit by Redis's estimate.
        if i + 1 < nodes.len() {
            assert!(lp.len() + 9 + NODE_ESTIMATE_OVERHEAD > NODE_BYTES, "node {i}: {}", lp.len());
        }
        total += usize::from(u16::from_le_bytes([lp[4], lp[5]]));
    }
    assert_eq!(total, 5002);
}

#[test]
fn big_elements_get_nodes_of_their_own() {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.plain_min = 100;
    let big = "x".repeat(150);
    let mid = "m".repeat(9000);
    let list = RdbValue::List(["a", &big, "b", "c", &mid, "d"].into_iter().collect());
    let file = file_with(w, &list);
    assert_eq!(read_back(&file), list);
    let (_, nodes) = raw_value(&file, b"k").unwrap();
    let containers: Vec<u64> = nodes.iter().map(|n| n.0).collect();
    assert_eq!(containers, vec![2, 1, 2, 1, 2]);
    assert_eq!(nodes[1].1, big.as_bytes());
    // Without the lowered threshold, a 9000-byte element is packed in a
    // node of its own.
    let file = file_with(RdbWriter::new(Vec::new()).unwrap(), &list);
    assert_eq!(read_back(&file), list);
    let (_, nodes) = raw_value(&file, b"k").unwrap();
    let counts: Vec<u16> = nodes.iter().map(|(_, lp)| u16::from_le_bytes([lp[4], lp[5]])).collect();
    assert_eq!(counts, vec![4, 1, 1]);
}

#[test]
fn int_encoding_is_canonical_only() {
    assert_eq!(int_encodable(b"0"), Some(0));
    assert_eq!(int_encodable(b"-128"), Some(-128));
    assert_eq!(int_encodable(b"2147483647"), Some(i32::MAX));
    assert_eq!(int_encodable(b"-2147483648"), Some(i32::MIN));
    for s in [&b""[..], b"2147483648", b"-0", b"+1", b"01", b" 1", b"1 ", b"1.0", b"abc"] {
        assert_eq!(int_encodable(s), None, "{s:?}");
    }
}

#[test]
fn header_and_empty_file_layout() {
    let opts = RdbWriterOptions { compression: true, ctime_secs: Some(1_700_000_000), used_mem: 123_456 };
    let out = RdbWriter::with_options(Vec::new(), opts).unwrap().finish().unwrap();
    assert!(out.starts_with(b"REDIS0010\xfa\x09redis-ver\x057.0.0"));
    let body = &out[..out.len() - 8];
    assert_eq!(body.last(), Some(&0xFF));
    let sum = u64::from_le_bytes(out[out.len() - 8..].try_into().unwrap());
    assert_eq!(sum, crc64(0, body));
}

#[test]
fn length_forms() {
    let mut w = RdbWriter::with_options(Vec::new(), RdbWriterOptions::default()).unwrap();
    let start = w.buf.len();
    for n in [0u64, 63, 64, 16383, 16384, u32::MAX as u64, u32::MAX as u64 + 1] {
        w.len(n).unwrap();
    }
    let b = &w.buf[start..];
    let expect: Vec<u8> = [
        &[0x00][..],
        &[0x3f],
        &[0x40, 0x40],
        &[0x7f, 0xff],
        &[0x80, 0x00, 0x00, 0x40, 0x00],
        &[0x80, 0xff, 0xff, 0xff, 0xff],
        &[0x81, 0, 0, 0, 1, 0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(b, &expect[..]);
}
