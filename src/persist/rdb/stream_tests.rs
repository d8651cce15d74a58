//! Tests of streams: a dump written by the real redis-server 7.0.15, nodes
//! byte-identical to Redis's, writer/reader round trips, types 15 and 21
//! laid out by hand, and corrupt values refused.
//!
//! `testdata/redis7-streams.rdb.bin` was written by redis-server 7.0.15
//! (`--save ''`) after:
//!
//! ```text
//! XADD s:basic 1-1 name alice age 30       XADD s:basic 1-2 name bob age 41
//! XADD s:basic 1-3 city paris              XADD s:basic 2-0 name carol age -7 note hello
//! XADD s:basic 5-3 name dave age 12345678901
//! XADD s:basic 6-0 name eve age 0          XDEL s:basic 1-2
//! XGROUP CREATE s:basic g1 0               XGROUP CREATE s:basic g2 $
//! XREADGROUP GROUP g1 alice COUNT 2 STREAMS s:basic >
//! XREADGROUP GROUP g1 bob COUNT 1 STREAMS s:basic >
//! XGROUP CREATECONSUMER s:basic g1 idle    XACK s:basic g1 1-1
//! XADD s:empty 1-1 a b                     XDEL s:empty 1-1
//! XADD s:trimmed MAXLEN 0 5-5 x y          PEXPIREAT s:trimmed 4102444800000
//! XADD s:setid 10-1 f v
//! XSETID s:setid 99-5 ENTRIESADDED 50 MAXDELETEDID 9-9
//! XGROUP CREATE s:setid gx 10-0 ENTRIESREAD 42
//! XADD s:many <1000+i>-0 field v<i> num <i*1000>    (i = 1..250; every
//!      17th: other <i> extra x<i> instead)
//! XADD s:big <i>-0 data <"D" x 500i> i <i>          (i = 1..12)
//! XADD s:frag <i>-1 k <i>                           (i = 1..30)
//! XDEL s:frag 5-1 6-1 7-1 20-1
//! XGROUP CREATE s:frag gmid 10-1
//! XGROUP CREATE s:frag gstart 0 ENTRIESREAD 0
//! XREADGROUP GROUP gstart c1 COUNT 3 STREAMS s:frag >
//! XREADGROUP GROUP gstart c2 COUNT 2 STREAMS s:frag >
//! XCLAIM s:frag gstart c2 0 1-1
//! XREADGROUP GROUP gstart c1 COUNT 1 STREAMS s:frag 0
//! SET plain:str hi
//! SAVE
//! ```

use bytes::Bytes;

use super::input::Input;
use super::test_encoders::{listpack, XorShift};
use super::tests::{read_all, Raw};
use super::*;

const REDIS_STREAMS: &[u8] = include_bytes!("testdata/redis7-streams.rdb.bin");

fn find<'a>(v: &'a [RdbEntry], key: &str) -> &'a RdbEntry {
    v.iter().find(|e| e.key == key.as_bytes()).unwrap_or_else(|| panic!("key {key} missing"))
}

fn stream<'a>(v: &'a [RdbEntry], key: &str) -> &'a RdbStream {
    match &find(v, key).value {
        RdbValue::Stream(s) => s,
        other => panic!("{key} is not a stream: {other:?}"),
    }
}

/// The entries as (id, ["f=v", ...]) for readable comparisons.
fn entries(s: &RdbStream) -> Vec<(RdbStreamId, Vec<String>)> {
    s.entries
        .iter()
        .map(|(id, p)| {
            let fv = p.map(|(f, v)| format!("{}={}", String::from_utf8_lossy(f), String::from_utf8_lossy(v)));
            (id, fv.collect())
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().map(|(f, v)| format!("{f}={v}")).collect()
}

#[test]
fn redis_dump_loads() {
    let (v, stats) = read_all(REDIS_STREAMS, 0).unwrap();
    assert_eq!(stats.keys_loaded, 8);
    assert_eq!(stats.empty_keys_skipped, 0);

    let s = stream(&v, "s:basic");
    assert_eq!(
        entries(s),
        vec![
            ((1, 1), owned(&[("name", "alice"), ("age", "30")])),
            ((1, 3), owned(&[("city", "paris")])),
            ((2, 0), owned(&[("name", "carol"), ("age", "-7"), ("note", "hello")])),
            ((5, 3), owned(&[("name", "dave"), ("age", "12345678901")])),
            ((6, 0), owned(&[("name", "eve"), ("age", "0")])),
        ]
    );
    assert_eq!(
        s.meta,
        RdbStreamMeta { last_id: (6, 0), first_id: (1, 1), max_deleted_entry_id: (1, 2), entries_added: 6 }
    );
    assert_eq!(s.groups.len(), 2);
    let g1 = &s.groups[0];
    assert_eq!((&g1.name[..], g1.last_id, g1.entries_read), (&b"g1"[..], (2, 0), None));
    let ids: Vec<_> = g1.pending.iter().map(|p| (p.id, p.delivery_count)).collect();
    assert_eq!(ids, [((1, 3), 1), ((2, 0), 1)]);
    assert!(g1.pending.iter().all(|p| p.delivery_time > 1_600_000_000_000));
    let cons: Vec<_> = g1.consumers.iter().map(|c| (&c.name[..], c.pending.clone())).collect();
    assert_eq!(cons, [(&b"alice"[..], vec![(1, 3)]), (b"bob", vec![(2, 0)]), (b"idle", vec![])]);
    let g2 = &s.groups[1];
    assert_eq!((&g2.name[..], g2.last_id, g2.pending.len(), g2.consumers.len()), (&b"g2"[..], (6, 0), 0, 0));

    let e = stream(&v, "s:empty");
    assert!(e.is_empty());
    assert_eq!(
        e.meta,
        RdbStreamMeta { last_id: (1, 1), first_id: (0, 0), max_deleted_entry_id: (1, 1), entries_added: 1 }
    );
    let t = find(&v, "s:trimmed");
    assert_eq!(t.expire_at_ms, Some(4_102_444_800_000));
    assert!(matches!(&t.value, RdbValue::Stream(s) if s.is_empty() && s.meta.last_id == (5, 5)));

    let s = stream(&v, "s:setid");
    assert_eq!(
        s.meta,
        RdbStreamMeta { last_id: (99, 5), first_id: (10, 1), max_deleted_entry_id: (9, 9), entries_added: 50 }
    );
    assert_eq!((s.groups[0].last_id, s.groups[0].entries_read), ((10, 0), Some(42)));

    let s = stream(&v, "s:many");
    assert_eq!(s.len(), 250);
    for (i, (id, fv)) in entries(s).into_iter().enumerate() {
        let i = i as u64 + 1;
        assert_eq!(id, (1000 + i, 0));
        let want = if i.is_multiple_of(17) {
            vec![format!("other={i}"), format!("extra=x{i}")]
        } else {
            vec![format!("field=v{i}"), format!("num={}", i * 1000)]
        };
        assert_eq!(fv, want);
    }
    let s = stream(&v, "s:big");
    assert_eq!(s.len(), 12);
    assert_eq!(s.entries.get(11).unwrap().1.next().unwrap().1.len(), 6000);

    let s = stream(&v, "s:frag");
    let ids: Vec<u64> = s.entries.iter().map(|(id, _)| id.0).collect();
    let want: Vec<u64> = (1..=30).filter(|i| ![5, 6, 7, 20].contains(i)).collect();
    assert_eq!(ids, want);
    assert_eq!(s.meta.max_deleted_entry_id, (20, 1));
    let gstart = s.groups.iter().find(|g| &g.name[..] == b"gstart").unwrap();
    assert_eq!(gstart.pending.len(), 5);
    let c2 = gstart.consumers.iter().find(|c| &c.name[..] == b"c2").unwrap();
    assert!(c2.pending.contains(&(1, 1)), "XCLAIM moved 1-1 to c2");
    assert_eq!(gstart.pending.iter().find(|p| p.id == (1, 1)).unwrap().delivery_count, 2);
}

/// The nodes of stream `key` in `file` as stored: (16-byte key, listpack
/// decompressed).
fn raw_nodes(file: &[u8], key: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pat = vec![op::TYPE_STREAM_LISTPACKS_2, key.len() as u8];
    pat.extend_from_slice(key);
    let pos = file.windows(pat.len()).position(|w| w == pat).expect("key");
    let mut inp = Input::new(&file[pos + pat.len()..]);
    let n = inp.read_len("nodes").unwrap();
    (0..n).map(|_| (inp.read_string("key").unwrap(), inp.read_string("node").unwrap())).collect()
}

fn write_one(key: &[u8], value: &RdbValue) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 1, 0).unwrap();
    w.write_entry(key, value, None).unwrap();
    w.finish().unwrap()
}

/// A stream built by XADD alone is stored as Redis stores it: the same
/// node cuts (100 entries, 4096 bytes) and the same listpacks, byte for
/// byte.
#[test]
fn nodes_are_byte_identical_to_redis() {
    let (v, _) = read_all(REDIS_STREAMS, 0).unwrap();
    for (key, nodes) in [("s:many", 3), ("s:big", 10), ("s:setid", 1)] {
        let theirs = raw_nodes(REDIS_STREAMS, key.as_bytes());
        assert_eq!(theirs.len(), nodes, "{key}");
        let ours = raw_nodes(&write_one(key.as_bytes(), &find(&v, key).value), key.as_bytes());
        assert_eq!(ours, theirs, "{key}");
    }
}

#[test]
fn redis_dump_survives_rewriting() {
    let (v, _) = read_all(REDIS_STREAMS, 0).unwrap();
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    w.select_db(0, 0, 0).unwrap();
    for e in &v {
        w.write_entry(&e.key, &e.value, e.expire_at_ms).unwrap();
    }
    let (again, _) = read_all(&w.finish().unwrap(), 0).unwrap();
    assert_eq!(again, v);
    // The rewritten s:basic has no tombstone: 5 live entries in one node.
    let nodes = raw_nodes(&write_one(b"s:basic", &find(&v, "s:basic").value), b"s:basic");
    assert_eq!(nodes.len(), 1);
    assert_eq!(&nodes[0].1[6..8], &[5, 1], "master count 5");
}

fn id_of(rng: &mut XorShift) -> u64 {
    match rng.next_u64() % 4 {
        0 => rng.next_u64() % 3,
        1 => rng.next_u64() % 1000,
        2 => u64::MAX - rng.next_u64() % 3,
        _ => rng.next_u64(),
    }
}

/// A random stream: entries with the same, other and no fields, integer
/// and binary fields and values, long values, ids jumping anywhere
/// (sequence deltas negative, ids near the top), and groups.
fn random_stream(rng: &mut XorShift, n: usize) -> RdbStream {
    let mut s = RdbStream::new();
    let mut ids: Vec<RdbStreamId> = (0..n).map(|_| (id_of(rng), id_of(rng))).collect();
    ids.sort_unstable();
    ids.dedup();
    let texts: Vec<Vec<u8>> = vec![
        b"f".to_vec(),
        b"0".to_vec(),
        b"-5".to_vec(),
        b"9223372036854775807".to_vec(),
        b"007".to_vec(),
        b"".to_vec(),
        b"\x00\xff\r\n".to_vec(),
        vec![b'x'; 70],
        vec![b'y'; 5000],
    ];
    for id in &ids {
        let nf = (rng.next_u64() % 4) as usize;
        let same = !rng.next_u64().is_multiple_of(3);
        let pairs: Vec<(&[u8], &[u8])> = (0..nf)
            .map(|j| {
                let f: &[u8] = if same { [b"a", b"b", b"c", b"d"][j] } else { &texts[(rng.next_u64() % 7) as usize] };
                (f, &texts[(rng.next_u64() % texts.len() as u64) as usize][..])
            })
            .collect();
        s.entries.push(*id, pairs);
    }
    let last = s.entries.last_id().unwrap_or((0, 0));
    s.meta = RdbStreamMeta {
        last_id: last,
        first_id: s.entries.first_id().unwrap_or((0, 0)),
        max_deleted_entry_id: (rng.next_u64() % 5, 1),
        entries_added: n as u64 + rng.next_u64() % 10,
    };
    for g in 0..(rng.next_u64() % 4) {
        let mut pending = Vec::new();
        for id in &ids {
            if rng.next_u64().is_multiple_of(3) {
                let (delivery_time, delivery_count) = (rng.next_u64() >> 1, rng.next_u64() % 1000);
                pending.push(RdbPending { id: *id, delivery_time, delivery_count });
            }
        }
        pending.push(RdbPending { id: (u64::MAX, u64::MAX), delivery_time: 0, delivery_count: 0 });
        pending.sort_by_key(|p| p.id);
        pending.dedup_by_key(|p| p.id);
        let mut consumers: Vec<RdbConsumer> = (0..3)
            .map(|c| RdbConsumer {
                name: Bytes::from(format!("consumer-{c}")),
                seen_time: rng.next_u64() >> 1,
                pending: vec![],
            })
            .collect();
        for p in &pending {
            consumers[(rng.next_u64() % 3) as usize].pending.push(p.id);
        }
        s.groups.push(RdbStreamGroup {
            name: Bytes::from(format!("group-{g}")),
            last_id: (rng.next_u64(), 0),
            entries_read: if g == 1 { None } else { Some(rng.next_u64() >> 1) },
            pending,
            consumers,
        });
    }
    s
}

#[test]
fn random_streams_round_trip() {
    let mut rng = XorShift(0x5eed_0013);
    for round in 0..60 {
        let n = [0, 1, 2, 99, 100, 101, 250][round % 7];
        let s = random_stream(&mut rng, n);
        let file = write_one(b"s", &RdbValue::Stream(Box::new(s.clone())));
        let (v, _) = read_all(&file, 0).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].value, RdbValue::Stream(Box::new(s)), "round {round}");
    }
}

#[test]
fn writer_refuses_entries_out_of_order() {
    let mut w = RdbWriter::new(Vec::new()).unwrap();
    let entries = || [((2u64, 0u64), [(&b"f"[..], &b"v"[..])]), ((1, 0), [(b"f", b"v")])].into_iter();
    let e = w.write_stream_parts(b"s", entries, &RdbStreamMeta::default(), &[], None).unwrap_err();
    assert!(e.to_string().contains("ascend"), "{e}");
}

#[test]
fn nodes_are_cut_at_100_entries_or_4096_bytes() {
    let mut s = RdbStream::new();
    for i in 0..250u64 {
        s.entries.push((i, 0), [(&b"f"[..], &b"v"[..])]);
    }
    let nodes = raw_nodes(&write_one(b"s", &RdbValue::Stream(Box::new(s))), b"s");
    let counts: Vec<u8> = nodes.iter().map(|(_, lp)| lp[6]).collect();
    assert_eq!(counts, [100, 100, 50]);
    assert_eq!(nodes[1].0, [0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut s = RdbStream::new();
    let big = vec![b'z'; 3000];
    for i in 0..5u64 {
        s.entries.push((7, i), [(&b"f"[..], &big[..])]);
    }
    let nodes = raw_nodes(&write_one(b"s", &RdbValue::Stream(Box::new(s))), b"s");
    assert_eq!(nodes.len(), 5, "each 3000-byte entry fills a node");
}

// ---- Streams laid out by hand: other types, and corruption. ----

/// A hand-made node: master id and listpack elements.
type HandNode = (RdbStreamId, Vec<Vec<u8>>);

/// One entry of a hand-made node: id, pairs, deleted.
type HandEntry<'a> = (RdbStreamId, &'a [(&'a str, &'a str)], bool);

/// The listpack elements of a node whose master is its first entry.
fn node_items(entries: &[HandEntry<'_>]) -> Vec<Vec<u8>> {
    let s = |x: &dyn ToString| x.to_string().into_bytes();
    let (master, mfields, _) = entries[0];
    let live = entries.iter().filter(|e| !e.2).count();
    let mut v = vec![s(&live), s(&(entries.len() - live)), s(&mfields.len())];
    v.extend(mfields.iter().map(|(f, _)| f.as_bytes().to_vec()));
    v.push(s(&0));
    for (id, pairs, deleted) in entries {
        let same = pairs.len() == mfields.len() && pairs.iter().zip(mfields).all(|(a, b)| a.0 == b.0);
        v.push(s(&(i64::from(*deleted) | if same { 2 } else { 0 })));
        v.push(s(&(id.0.wrapping_sub(master.0) as i64)));
        v.push(s(&(id.1.wrapping_sub(master.1) as i64)));
        if !same {
            v.push(s(&pairs.len()));
        }
        for (f, val) in pairs.iter() {
            if !same {
                v.push(f.as_bytes().to_vec());
            }
            v.push(val.as_bytes().to_vec());
        }
        v.push(s(&(if same { pairs.len() + 3 } else { 2 * pairs.len() + 4 })));
    }
    v
}

fn raw_id(id: RdbStreamId) -> Vec<u8> {
    [id.0.to_be_bytes(), id.1.to_be_bytes()].concat()
}

/// A file holding stream `key` of type `t`: `nodes` (master id, listpack
/// elements), then the rest from `s` (its length, ids, groups; for type
/// 21 each consumer's active time is its seen time plus one).
fn hand_file(t: u8, nodes: &[HandNode], s: &RdbStream) -> Vec<u8> {
    let mut r = Raw::new(if t == 21 { 11 } else { 10 });
    r.bytes(&[t]).string(b"s").len(nodes.len() as u64);
    for (master, items) in nodes {
        let refs: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
        r.string(&raw_id(*master)).string(&listpack(&refs));
    }
    let m = &s.meta;
    r.len(s.len() as u64).len(m.last_id.0).len(m.last_id.1);
    if t != 15 {
        r.len(m.first_id.0).len(m.first_id.1).len(m.max_deleted_entry_id.0).len(m.max_deleted_entry_id.1);
        r.len(m.entries_added);
    }
    r.len(s.groups.len() as u64);
    for g in &s.groups {
        r.string(&g.name).len(g.last_id.0).len(g.last_id.1);
        if t != 15 {
            r.len(g.entries_read.unwrap_or(u64::MAX));
        }
        r.len(g.pending.len() as u64);
        for p in &g.pending {
            r.bytes(&raw_id(p.id)).bytes(&(p.delivery_time as i64).to_le_bytes()).len(p.delivery_count);
        }
        r.len(g.consumers.len() as u64);
        for c in &g.consumers {
            r.string(&c.name).bytes(&(c.seen_time as i64).to_le_bytes());
            if t == 21 {
                r.bytes(&(c.seen_time as i64 + 1).to_le_bytes());
            }
            r.len(c.pending.len() as u64);
            for id in &c.pending {
                r.bytes(&raw_id(*id));
            }
        }
    }
    r.finish()
}

fn read_one(file: &[u8]) -> Result<RdbStream, RdbError> {
    let (v, _) = read_all(file, 0)?;
    match v.into_iter().next().map(|e| e.value) {
        Some(RdbValue::Stream(s)) => Ok(*s),
        other => panic!("{other:?}"),
    }
}

/// Entries 1-1 .. 1-4 with 1-2 deleted, 5-0 (a negative seq delta) with
/// other fields, in two nodes; its model (live entries) and one group.
fn sample() -> (Vec<HandNode>, RdbStream) {
    let ab: &[(&str, &str)] = &[("a", "1"), ("b", "x")];
    let n1 = node_items(&[((1, 1), ab, false), ((1, 2), ab, true), ((1, 3), &[("a", "2"), ("b", "-7")], false)]);
    let n2 = node_items(&[((1, 4), &[("c", "")], false), ((5, 0), ab, false)]);
    let mut s = RdbStream::new();
    let a2: &[(&str, &str)] = &[("a", "2"), ("b", "-7")];
    let c: &[(&str, &str)] = &[("c", "")];
    for (id, p) in [((1, 1), ab), ((1, 3), a2), ((1, 4), c), ((5, 0), ab)] {
        s.entries.push(id, p.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes())));
    }
    s.meta = RdbStreamMeta { last_id: (5, 0), first_id: (1, 1), max_deleted_entry_id: (1, 2), entries_added: 5 };
    let pending = [(1, 1), (1, 3), (5, 0)]
        .map(|id| RdbPending { id, delivery_time: 1_700_000_000_000, delivery_count: 2 })
        .to_vec();
    let consumer = |name: &str, pending: Vec<RdbStreamId>| RdbConsumer {
        name: Bytes::copy_from_slice(name.as_bytes()),
        seen_time: 1_700_000_000_123,
        pending,
    };
    s.groups.push(RdbStreamGroup {
        name: Bytes::from_static(b"g"),
        last_id: (5, 0),
        entries_read: Some(5),
        pending,
        consumers: vec![consumer("x", vec![(1, 3)]), consumer("y", vec![(1, 1), (5, 0)]), consumer("z", vec![])],
    });
    (vec![((1, 1), n1), ((1, 4), n2)], s)
}

#[test]
fn all_three_stream_types_load() {
    let (nodes, s) = sample();
    assert_eq!(read_one(&hand_file(19, &nodes, &s)).unwrap(), s);
    // 7.2: the consumers' active times are read and dropped.
    assert_eq!(read_one(&hand_file(21, &nodes, &s)).unwrap(), s);
    // 5.0-6.2: no first id, largest deleted id, entries added or entries
    // read in the file; derived as Redis 7 derives them.
    let got = read_one(&hand_file(15, &nodes, &s)).unwrap();
    assert_eq!(got.entries, s.entries);
    assert_eq!(
        got.meta,
        RdbStreamMeta { last_id: (5, 0), first_id: (1, 1), max_deleted_entry_id: (0, 0), entries_added: 4 }
    );
    assert_eq!(got.groups[0].entries_read, Some(4), "at the last id: every entry");
    let mut s2 = s.clone();
    for (last, want) in [((0, 0), Some(0)), ((1, 1), Some(1)), ((1, 3), None), ((9, 9), None)] {
        s2.groups[0].last_id = last;
        assert_eq!(read_one(&hand_file(15, &nodes, &s2)).unwrap().groups[0].entries_read, want, "{last:?}");
    }
    // An empty 6.2 stream: first id is the largest id, as in Redis.
    let mut empty = RdbStream::new();
    empty.meta.last_id = (3, 3);
    empty.groups.push(RdbStreamGroup {
        name: Bytes::from_static(b"g"),
        last_id: (3, 3),
        entries_read: None,
        pending: vec![],
        consumers: vec![],
    });
    let got = read_one(&hand_file(15, &[], &empty)).unwrap();
    assert_eq!((got.meta.first_id, got.meta.entries_added), (MAX_STREAM_ID, 0));
    assert_eq!(got.groups[0].entries_read, Some(0));
}

#[test]
fn the_writer_output_matches_the_hand_layout() {
    let (_, s) = sample();
    let ours = write_one(b"s", &RdbValue::Stream(Box::new(s.clone())));
    // One node (no tombstone), master fields a, b.
    let nodes = raw_nodes(&ours, b"s");
    let mut live: Vec<HandEntry<'_>> = Vec::new();
    let ab: &[(&str, &str)] = &[("a", "1"), ("b", "x")];
    live.extend([((1, 1), ab, false), ((1, 3), &[("a", "2"), ("b", "-7")][..], false)]);
    live.extend([((1, 4), &[("c", "")][..], false), ((5, 0), ab, false)]);
    let items = node_items(&live);
    let refs: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
    assert_eq!(nodes, vec![(raw_id((1, 1)), listpack(&refs))]);
}

/// Every way `sample` can be made corrupt is refused with `Corrupt`.
#[test]
fn corrupt_streams_are_refused() {
    let (nodes, s) = sample();
    let corrupt = |file: Vec<u8>, what: &str, needle: &str| match read_one(&file) {
        Err(RdbError::Corrupt { reason, .. }) => assert!(reason.contains(needle), "{what}: {reason}"),
        other => panic!("{what}: {other:?}"),
    };
    let with_node = |k: usize, f: &dyn Fn(&mut Vec<Vec<u8>>)| {
        let mut n = nodes.clone();
        f(&mut n[k].1);
        hand_file(19, &n, &s)
    };
    let split = |v: &mut Vec<Vec<u8>>| {
        v[0] = b"1".to_vec();
        v[1] = b"2".to_vec();
    };
    corrupt(with_node(0, &split), "live and deleted counts", "master entry counts");
    corrupt(with_node(0, &|v| v[0] = b"3".to_vec()), "live count", "listpack ends");
    corrupt(with_node(0, &|v| v[1] = b"0".to_vec()), "deleted count", "after the last entry");
    corrupt(with_node(0, &|v| v[5] = b"1".to_vec()), "master terminator", "terminator");
    corrupt(with_node(0, &|v| v[6] = b"4".to_vec()), "unknown flag", "unknown flags");
    corrupt(with_node(0, &|v| v[11] = b"6".to_vec()), "lp-count", "element count");
    corrupt(with_node(0, &|v| v.push(b"extra".to_vec())), "trailing data", "after the last entry");
    corrupt(with_node(0, &|v| v.truncate(3)), "cut short", "listpack ends");
    corrupt(with_node(0, &|v| v.clear()), "empty listpack", "listpack ends");
    corrupt(with_node(0, &|v| v[0] = b"x".to_vec()), "count not an integer", "not an integer");
    corrupt(with_node(0, &|v| v[0] = b"-1".to_vec()), "negative count", "negative");
    corrupt(with_node(1, &|v| v[7] = b"-1".to_vec()), "below master", "below the node's master id");
    // The deleted 1-2 made 1-1 (seq delta 0): out of order.
    corrupt(with_node(0, &|v| v[14] = b"0".to_vec()), "out of order", "does not follow");
    // Node two's first entry made 1-3 (under master 1-0): out of order
    // across nodes.
    let mut n = nodes.clone();
    n[1].0 = (1, 0);
    n[1].1[7] = b"3".to_vec();
    corrupt(hand_file(19, &n, &s), "nodes out of order", "does not follow");

    let mut bad = s.clone();
    bad.entries.push((6, 0), [(&b"a"[..], &b"b"[..])]);
    corrupt(hand_file(19, &nodes, &bad), "length", "stream length");
    let mut bad = s.clone();
    bad.meta.last_id = (4, 9);
    corrupt(hand_file(19, &nodes, &bad), "last id", "last id");
    let mut bad = s.clone();
    bad.groups[0].consumers[2].pending.push((9, 9));
    corrupt(hand_file(19, &nodes, &bad), "not pending", "not pending in the group");
    let mut bad = s.clone();
    bad.groups[0].consumers[2].pending.push((1, 3));
    corrupt(hand_file(19, &nodes, &bad), "two owners", "two owners");
    let mut bad = s.clone();
    bad.groups[0].consumers[0].pending.clear();
    corrupt(hand_file(19, &nodes, &bad), "no owner", "no consumer");
    let mut bad = s.clone();
    let first = bad.groups[0].pending[0];
    bad.groups[0].pending.push(first);
    corrupt(hand_file(19, &nodes, &bad), "pending twice", "twice");
    let mut bad = s.clone();
    bad.groups[0].consumers[2].name = Bytes::from_static(b"x");
    corrupt(hand_file(19, &nodes, &bad), "consumer name", "two consumers named");
    let mut bad = s.clone();
    let mut g = bad.groups[0].clone();
    g.pending.clear();
    g.consumers.clear();
    bad.groups.push(g);
    corrupt(hand_file(19, &nodes, &bad), "group name", "two consumer groups named");

    // A node key that is not 16 bytes.
    let mut r = Raw::new(10);
    r.bytes(&[19]).string(b"s").len(1).string(&[0; 15]);
    corrupt(r.finish(), "short key", "16-byte");
}

/// Every truncation of a stream file fails and no byte flip panics (the
/// files by hand, and Redis's dump).
#[test]
fn truncated_or_mangled_streams_never_panic() {
    let (nodes, s) = sample();
    let hand = [hand_file(19, &nodes, &s), hand_file(21, &nodes, &s), hand_file(15, &nodes, &s)];
    // Redis's dump is larger: every 5th byte (cuts) and 7th (flips).
    let files = hand.iter().map(|f| (&f[..], 1)).chain([(REDIS_STREAMS, 5)]);
    for (file, step) in files {
        for cut in (9..file.len() - 9).step_by(step) {
            assert!(read_all(&file[..cut], 0).is_err(), "cut {cut}");
        }
        // Flips after the checksum is fixed up, so they reach the decoder.
        for i in (9..file.len() - 9).step_by(step + step / 2) {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = file[..file.len() - 8].to_vec();
                b[i] ^= x;
                let sum = crc64(0, &b);
                b.extend_from_slice(&sum.to_le_bytes());
                let _ = read_all(&b, 0);
            }
        }
    }
}
