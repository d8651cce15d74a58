//! Stream commands against the real server: XADD XRANGE XREVRANGE XLEN
//! XDEL XTRIM XSETID replies and Redis 7.0's error texts here; consumer
//! groups in [`groups`], XINFO and the RESP2/RESP3 reply shapes in
//! [`info`], the keyspace (TYPE, SCAN, COPY, RENAME, MOVE, expiry, MEMORY
//! USAGE, WATCH) in [`keyspace`], a random run against a `BTreeMap` model
//! in [`model`], a producer/consumers workload with crashes in
//! [`workload`], and the append-only file rebuilding streams in [`aof`].
//! Blocking reads are in `streams_blocking.rs`.

#[path = "streams/aof.rs"]
mod aof;
mod common;
#[path = "streams/groups.rs"]
mod groups;
#[path = "streams/info.rs"]
mod info;
#[path = "streams/keyspace.rs"]
mod keyspace;
#[path = "streams/model.rs"]
mod model;
#[path = "streams/workload.rs"]
mod workload;

use common::{arr, bulk, bulks, err, int, nil, nil_array, ok, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const ERR_ID_SMALL: &str = "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
/// The largest id, `u64::MAX-u64::MAX`.
const MAX_ID: &str = "18446744073709551615-18446744073709551615";

/// One entry as replied: `[id, [field, value, …]]`.
fn entry(id: &str, fields: &[&str]) -> Resp {
    arr(vec![bulk(id), bulks(fields)])
}

/// Entries all with the one field pair `f v`.
fn fv_entries(ids: &[&str]) -> Resp {
    arr(ids.iter().map(|id| entry(id, &["f", "v"])).collect())
}

/// XREAD/XREADGROUP's RESP2 reply for one stream: `[[key, entries]]`.
fn read_reply(key: &str, entries: Resp) -> Resp {
    arr(vec![arr(vec![bulk(key), entries])])
}

/// XADD `key id fields…` and its reply.
fn xadd(c: &mut Raw, key: &str, id: &str, fields: &[&str]) -> Resp {
    let mut a = vec!["XADD", key, id];
    a.extend_from_slice(fields);
    c.call(&a)
}

/// XADD `key id f v` for each id, checking each reply is the id.
fn add_ids(c: &mut Raw, key: &str, ids: &[&str]) {
    for id in ids {
        assert_eq!(xadd(c, key, id, &["f", "v"]), bulk(id));
    }
}

/// XADD `key n-0 f v{n}` for n in `range`.
fn add_range(c: &mut Raw, key: &str, range: std::ops::RangeInclusive<u64>) {
    for n in range {
        let (id, v) = (format!("{n}-0"), format!("v{n}"));
        assert_eq!(xadd(c, key, &id, &["f", &v]), bulk(&id));
    }
}

/// The ids of an entries reply (XRANGE, XCLAIM …).
fn ids_of(r: &Resp) -> Vec<String> {
    let Resp::Array(Some(items)) = r else { panic!("not an entries array: {r:?}") };
    items
        .iter()
        .map(|e| match e {
            Resp::Array(Some(pair)) => common::text(pair[0].clone()),
            Resp::Bulk(Some(b)) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("not an entry: {other:?}"),
        })
        .collect()
}

/// A RESP2 flat `name, value, …` array or a RESP3 map, as pairs.
fn fields(r: &Resp) -> Vec<(String, Resp)> {
    match r {
        Resp::Map(m) => m.iter().map(|(k, v)| (common::text(k.clone()), v.clone())).collect(),
        Resp::Array(Some(items)) => {
            assert!(items.len() % 2 == 0, "odd field list: {r:?}");
            items.chunks(2).map(|p| (common::text(p[0].clone()), p[1].clone())).collect()
        }
        other => panic!("not a field list: {other:?}"),
    }
}

/// One named field of a field list (see [`fields`]).
fn field(r: &Resp, name: &str) -> Resp {
    fields(r).into_iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no field {name} in {r:?}")).1
}

/// The field names of a field list, in order.
fn names(r: &Resp) -> Vec<String> {
    fields(r).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn xadd_explicit_and_partial_ids() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(xadd(&mut c, "s", "1-1", &["a", "1"]), bulk("1-1"));
    assert_eq!(xadd(&mut c, "s", "1-1", &["a", "1"]), err(ERR_ID_SMALL));
    assert_eq!(xadd(&mut c, "s", "0-5", &["a", "1"]), err(ERR_ID_SMALL));
    assert_eq!(xadd(&mut c, "s", "1-*", &["b", "2"]), bulk("1-2"));
    assert_eq!(xadd(&mut c, "s", "2-*", &["b", "2"]), bulk("2-0"));
    assert_eq!(xadd(&mut c, "s", "1-*", &["b", "2"]), err(ERR_ID_SMALL));
    // A bare number is `n-0`.
    assert_eq!(xadd(&mut c, "s", "2", &["a", "1"]), err(ERR_ID_SMALL));
    assert_eq!(xadd(&mut c, "s", "3", &["a", "1"]), bulk("3-0"));
    assert_eq!(xadd(&mut c, "s", "5-3", &["a", "1"]), bulk("5-3"));
    assert_eq!(xadd(&mut c, "s", "5-*", &["a", "1"]), bulk("5-4"));
    // 0-0 is refused even on a new key, 0-* there gives 0-1.
    let zero = err("ERR The ID specified in XADD must be greater than 0-0");
    assert_eq!(xadd(&mut c, "new", "0-0", &["a", "1"]), zero);
    assert_eq!(xadd(&mut c, "s", "0-0", &["a", "1"]), zero);
    assert_eq!(c.call(&["EXISTS", "new"]), int(0));
    assert_eq!(xadd(&mut c, "new", "0-*", &["a", "1"]), bulk("0-1"));
    // `*` after an id from the future continues its sequence.
    assert_eq!(xadd(&mut c, "fut", "99999999999999-5", &["a", "1"]), bulk("99999999999999-5"));
    assert_eq!(xadd(&mut c, "fut", "*", &["a", "1"]), bulk("99999999999999-6"));
    // The largest id, then nothing more can be added.
    assert_eq!(xadd(&mut c, "s", "18446744073709551615-*", &["a", "1"]), bulk("18446744073709551615-0"));
    assert_eq!(xadd(&mut c, "s", MAX_ID, &["a", "1"]), bulk(MAX_ID));
    let exhausted = err("ERR The stream has exhausted the last possible ID, unable to add more items");
    assert_eq!(xadd(&mut c, "s", "*", &["a", "1"]), exhausted);
    assert_eq!(xadd(&mut c, "s", "18446744073709551615-*", &["a", "1"]), exhausted);
    assert_eq!(c.call(&["XLEN", "s"]), int(8));
}

#[test]
fn xadd_auto_ids_grow_and_fields_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut last = (0u64, 0u64);
    for i in 0..200 {
        let id = common::text(xadd(&mut c, "s", "*", &["n", &i.to_string()]));
        let (ms, seq) = id.split_once('-').expect("ms-seq");
        let now = (ms.parse().unwrap(), seq.parse().unwrap());
        assert!(now > last, "{now:?} after {last:?}");
        last = now;
    }
    assert_eq!(c.call(&["XLEN", "s"]), int(200));
    // Binary-safe fields and values, repeated field names, an empty value.
    let bin = b"\x00\xff\r\n".as_slice();
    c.cmd(&[b"XADD", b"b", b"1-0", bin, bin, b"dup", b"1", b"dup", b"2", b"empty", b""]);
    assert_eq!(c.read(), bulk("1-0"));
    c.cmd(&[b"XRANGE", b"b", b"-", b"+"]);
    let want_fields = vec![
        Resp::Bulk(Some(bin.to_vec())),
        Resp::Bulk(Some(bin.to_vec())),
        bulk("dup"),
        bulk("1"),
        bulk("dup"),
        bulk("2"),
        bulk("empty"),
        bulk(""),
    ];
    assert_eq!(c.read(), arr(vec![arr(vec![bulk("1-0"), arr(want_fields)])]));
    // Entries with other fields than the node's first one (no master-field compression).
    assert_eq!(xadd(&mut c, "b", "2-0", &["other", "x", "more", "y"]), bulk("2-0"));
    assert_eq!(xadd(&mut c, "b", "3-0", &["dup", "3"]), bulk("3-0"));
    assert_eq!(
        c.call(&["XRANGE", "b", "2", "+"]),
        arr(vec![entry("2-0", &["other", "x", "more", "y"]), entry("3-0", &["dup", "3"])])
    );
}

#[test]
fn xadd_errors_and_nomkstream() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for bad in ["abc", "1-", "-1", "1--1", "1-2-3", "18446744073709551616", "*-1", "1-**", "1-abc"] {
        assert_eq!(xadd(&mut c, "s", bad, &["a", "1"]), err(ERR_INVALID_ID), "{bad}");
    }
    let arity = err("ERR wrong number of arguments for 'xadd' command");
    assert_eq!(c.call(&["XADD", "s", "*", "a"]), arity);
    assert_eq!(c.call(&["XADD", "s", "*", "a", "1", "b"]), arity);
    assert_eq!(c.call(&["XADD", "s", "*"]), arity);
    assert_eq!(c.call(&["XADD", "s", "MAXLEN", "-1", "*", "a", "1"]), err("ERR The MAXLEN argument must be >= 0."));
    assert_eq!(
        c.call(&["XADD", "s", "MAXLEN", "abc", "*", "a", "1"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.call(&["XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "1"]),
        err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    );
    assert_eq!(
        c.call(&["XADD", "s", "MAXLEN", "1", "LIMIT", "10", "*", "a", "1"]),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        c.call(&["XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a", "1"]),
        err("ERR The LIMIT argument must be >= 0.")
    );
    assert_eq!(c.call(&["XADD", "s", "MINID", "bad", "*", "a", "1"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["EXISTS", "s"]), int(0));
    // NOMKSTREAM: nil and nothing created on a missing key, a normal add otherwise.
    assert_eq!(c.call(&["XADD", "s", "NOMKSTREAM", "*", "a", "1"]), nil());
    assert_eq!(c.call(&["EXISTS", "s"]), int(0));
    assert_eq!(c.call(&["XADD", "s", "1-0", "a", "1"]), bulk("1-0"));
    assert_eq!(c.call(&["XADD", "s", "NOMKSTREAM", "MAXLEN", "1", "2-0", "a", "2"]), bulk("2-0"));
    assert_eq!(c.call(&["XRANGE", "s", "-", "+"]), arr(vec![entry("2-0", &["a", "2"])]));
}

#[test]
fn every_command_refuses_another_type() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SET", "str", "x"]);
    let cmds: &[&[&str]] = &[
        &["XADD", "str", "*", "a", "1"],
        &["XADD", "str", "NOMKSTREAM", "*", "a", "1"],
        &["XRANGE", "str", "-", "+"],
        &["XREVRANGE", "str", "+", "-"],
        &["XLEN", "str"],
        &["XDEL", "str", "1-0"],
        &["XTRIM", "str", "MAXLEN", "0"],
        &["XSETID", "str", "1-0"],
        &["XREAD", "STREAMS", "str", "0"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"],
        &["XGROUP", "CREATE", "str", "g", "0"],
        &["XGROUP", "CREATE", "str", "g", "0", "MKSTREAM"],
        &["XACK", "str", "g", "1-0"],
        &["XPENDING", "str", "g"],
        &["XCLAIM", "str", "g", "c", "0", "1-0"],
        &["XAUTOCLAIM", "str", "g", "c", "0", "0"],
        &["XINFO", "STREAM", "str"],
        &["XINFO", "GROUPS", "str"],
        &["XINFO", "CONSUMERS", "str", "g"],
    ];
    for cmd in cmds {
        assert_eq!(c.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    // And the other way round.
    add_ids(&mut c, "s", &["1-0"]);
    for cmd in [&["GET", "s"][..], &["LPUSH", "s", "x"], &["HGET", "s", "f"], &["SADD", "s", "m"], &["ZCARD", "s"]] {
        assert_eq!(c.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    assert_eq!(c.call(&["GET", "str"]), bulk("x"));
}

#[test]
fn xrange_and_xrevrange_bounds_and_count() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s", &["1-1", "2-1", "2-2", "3-1"]);
    assert_eq!(c.call(&["XRANGE", "s", "-", "+"]), fv_entries(&["1-1", "2-1", "2-2", "3-1"]));
    assert_eq!(c.call(&["XREVRANGE", "s", "+", "-"]), fv_entries(&["3-1", "2-2", "2-1", "1-1"]));
    // Incomplete ids: a start means seq 0, an end seq max.
    assert_eq!(c.call(&["XRANGE", "s", "2", "2"]), fv_entries(&["2-1", "2-2"]));
    assert_eq!(c.call(&["XREVRANGE", "s", "2", "2"]), fv_entries(&["2-2", "2-1"]));
    assert_eq!(c.call(&["XRANGE", "s", "2-2", "+"]), fv_entries(&["2-2", "3-1"]));
    // Exclusive bounds.
    assert_eq!(c.call(&["XRANGE", "s", "(1-1", "+"]), fv_entries(&["2-1", "2-2", "3-1"]));
    assert_eq!(c.call(&["XRANGE", "s", "-", "(2-2"]), fv_entries(&["1-1", "2-1"]));
    assert_eq!(c.call(&["XRANGE", "s", "(2-1", "(3-1"]), fv_entries(&["2-2"]));
    assert_eq!(c.call(&["XRANGE", "s", "(2-1", "(2-2"]), fv_entries(&[]));
    assert_eq!(c.call(&["XREVRANGE", "s", "(3-1", "(1-1"]), fv_entries(&["2-2", "2-1"]));
    // `(2` as an end is `(2-max`: every entry of ms 2 stays in.
    assert_eq!(c.call(&["XRANGE", "s", "(1", "(2"]), fv_entries(&["1-1", "2-1", "2-2"]));
    assert_eq!(c.call(&["XRANGE", "s", "(0-0", "+"]), fv_entries(&["1-1", "2-1", "2-2", "3-1"]));
    assert_eq!(c.call(&["XRANGE", "s", "-", "(0-0"]), err("ERR invalid end ID for the interval"));
    assert_eq!(c.call(&["XRANGE", "s", &format!("({MAX_ID}"), "+"]), err("ERR invalid start ID for the interval"));
    assert_eq!(c.call(&["XRANGE", "s", "(", "+"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XRANGE", "s", "(-", "+"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XRANGE", "s", "x", "+"]), err(ERR_INVALID_ID));
    // COUNT.
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "COUNT", "2"]), fv_entries(&["1-1", "2-1"]));
    assert_eq!(c.call(&["XREVRANGE", "s", "+", "-", "COUNT", "3"]), fv_entries(&["3-1", "2-2", "2-1"]));
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "count", "100"]), fv_entries(&["1-1", "2-1", "2-2", "3-1"]));
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "COUNT", "0"]), nil_array());
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "COUNT", "-1"]), nil_array());
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "COUNT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "FOO", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XRANGE", "s", "-", "+", "COUNT", "x"]), err("ERR value is not an integer or out of range"));
    // Empty results.
    assert_eq!(c.call(&["XRANGE", "s", "5", "1"]), fv_entries(&[]));
    assert_eq!(c.call(&["XREVRANGE", "s", "-", "+"]), fv_entries(&[]));
    assert_eq!(c.call(&["XRANGE", "nokey", "-", "+"]), fv_entries(&[]));
    assert_eq!(c.call(&["XRANGE", "nokey", "-", "+", "COUNT", "0"]), fv_entries(&[]));
    assert_eq!(c.call(&["XRANGE", "s", "-"]), err("ERR wrong number of arguments for 'xrange' command"));
}

#[test]
fn xrange_walks_across_many_nodes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["CONFIG", "SET", "stream-node-max-entries", "4"]), ok());
    add_range(&mut c, "s", 1..=50);
    // Deleting whole nodes and entries inside them.
    let del: Vec<String> = (5..=8).chain([1, 20, 33, 50]).map(|n| format!("{n}-0")).collect();
    let mut a = vec!["XDEL", "s"];
    a.extend(del.iter().map(String::as_str));
    assert_eq!(c.call(&a), int(8));
    let live: Vec<String> =
        (1..=50).filter(|n| !(5..=8).contains(n) && ![1, 20, 33, 50].contains(n)).map(|n| format!("{n}-0")).collect();
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "-", "+"])), live);
    let mut rev = live.clone();
    rev.reverse();
    assert_eq!(ids_of(&c.call(&["XREVRANGE", "s", "+", "-"])), rev);
    // Paging with exclusive starts visits each entry once.
    let mut paged = Vec::new();
    let mut from = "-".to_string();
    loop {
        let page = ids_of(&c.call(&["XRANGE", "s", &from, "+", "COUNT", "3"]));
        let Some(last) = page.last() else { break };
        from = format!("({last}");
        paged.extend(page);
    }
    assert_eq!(paged, live);
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "4", "10"])), ["4-0", "9-0", "10-0"]);
    assert_eq!(ids_of(&c.call(&["XREVRANGE", "s", "(22-0", "(18-0", "COUNT", "2"])), ["21-0", "19-0"]);
    // `(22` as an end is `(22-max`, so 22-0 is in.
    assert_eq!(ids_of(&c.call(&["XREVRANGE", "s", "(22", "(18", "COUNT", "2"])), ["22-0", "21-0"]);
}

#[test]
fn xlen_and_xdel() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XLEN", "nokey"]), int(0));
    add_ids(&mut c, "s", &["1-0", "2-0", "3-0"]);
    assert_eq!(c.call(&["XLEN", "s"]), int(3));
    assert_eq!(c.call(&["XDEL", "s", "2-0", "9-0", "2-0"]), int(1));
    assert_eq!(c.call(&["XDEL", "s", "2-0"]), int(0));
    assert_eq!(c.call(&["XDEL", "s", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XDEL", "s", "1-0", "bad"]), err(ERR_INVALID_ID));
    // An invalid id anywhere deletes nothing.
    assert_eq!(c.call(&["XLEN", "s"]), int(2));
    assert_eq!(c.call(&["XDEL", "nokey", "1-0"]), int(0));
    assert_eq!(c.call(&["XDEL", "s"]), err("ERR wrong number of arguments for 'xdel' command"));
    // A stream whose entries all went stays, empty, with its last id.
    assert_eq!(c.call(&["XDEL", "s", "1-0", "3-0"]), int(2));
    assert_eq!(c.call(&["EXISTS", "s"]), int(1));
    assert_eq!(c.call(&["TYPE", "s"]), Resp::Simple("stream".into()));
    assert_eq!(c.call(&["XLEN", "s"]), int(0));
    assert_eq!(c.call(&["XRANGE", "s", "-", "+"]), fv_entries(&[]));
    let info = c.call(&["XINFO", "STREAM", "s"]);
    assert_eq!(field(&info, "last-generated-id"), bulk("3-0"));
    assert_eq!(field(&info, "max-deleted-entry-id"), bulk("3-0"));
    assert_eq!(field(&info, "entries-added"), int(3));
    assert_eq!(field(&info, "first-entry"), nil());
    assert_eq!(xadd(&mut c, "s", "3-0", &["f", "v"]), err(ERR_ID_SMALL));
    let id = common::text(xadd(&mut c, "s", "*", &["f", "v"]));
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "-", "+"])), [id]);
}

#[test]
fn xtrim_exact_and_approximate_at_node_boundaries() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["CONFIG", "SET", "stream-node-max-entries", "10"]), ok());
    add_range(&mut c, "s", 1..=35);
    // Nodes: 1-10, 11-20, 21-30, 31-35. `~` removes whole nodes only.
    assert_eq!(field(&c.call(&["XINFO", "STREAM", "s"]), "radix-tree-keys"), int(4));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "30"]), int(0));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "25"]), int(10));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "24"]), int(0));
    assert_eq!(c.call(&["XLEN", "s"]), int(25));
    // `=` (and no modifier) cuts inside a node.
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "=", "23"]), int(2));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "22"]), int(1));
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "-", "+", "COUNT", "1"])), ["14-0"]);
    // MINID: entries below the id go; `~` only when their whole node does.
    assert_eq!(c.call(&["XTRIM", "s", "MINID", "~", "18"]), int(0));
    assert_eq!(c.call(&["XTRIM", "s", "MINID", "~", "21"]), int(7));
    assert_eq!(c.call(&["XTRIM", "s", "MINID", "=", "21"]), int(0));
    assert_eq!(c.call(&["XTRIM", "s", "MINID", "23-0"]), int(2));
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "-", "+", "COUNT", "1"])), ["23-0"]);
    assert_eq!(field(&c.call(&["XINFO", "STREAM", "s"]), "recorded-first-entry-id"), bulk("23-0"));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "0"]), int(13));
    assert_eq!(c.call(&["XLEN", "s"]), int(0));
    assert_eq!(c.call(&["EXISTS", "s"]), int(1));
    assert_eq!(c.call(&["XTRIM", "nokey", "MAXLEN", "0"]), int(0));
    assert_eq!(c.call(&["EXISTS", "nokey"]), int(0));
}

#[test]
fn xtrim_limit_counts_whole_nodes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["CONFIG", "SET", "stream-node-max-entries", "10"]), ok());
    add_range(&mut c, "s", 1..=35);
    // LIMIT bounds the entries removed; a node that would pass it stays.
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "15"]), int(10));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "9"]), int(0));
    // A node's live entries count, not its deleted ones.
    assert_eq!(c.call(&["XDEL", "s", "12-0", "13-0"]), int(2));
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "8"]), int(8));
    assert_eq!(c.call(&["XLEN", "s"]), int(15));
    assert_eq!(c.call(&["XTRIM", "s", "MINID", "~", "100", "LIMIT", "25"]), int(15));
    // Without LIMIT, `~` stops after 100 × stream-node-max-entries entries.
    assert_eq!(c.call(&["CONFIG", "SET", "stream-node-max-entries", "1"]), ok());
    add_range(&mut c, "t", 1..=250);
    assert_eq!(c.call(&["XTRIM", "t", "MAXLEN", "~", "0"]), int(100));
    assert_eq!(c.call(&["XLEN", "t"]), int(150));
    assert_eq!(c.call(&["XADD", "t", "MAXLEN", "~", "0", "251-0", "f", "v"]), bulk("251-0"));
    assert_eq!(c.call(&["XLEN", "t"]), int(51));
    assert_eq!(c.call(&["XADD", "t", "MINID", "~", "300", "LIMIT", "20", "252-0", "f", "v"]), bulk("252-0"));
    assert_eq!(c.call(&["XLEN", "t"]), int(32));
    // Errors.
    assert_eq!(
        c.call(&["XTRIM", "t", "MAXLEN", "1", "LIMIT", "5"]),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        c.call(&["XTRIM", "t", "MAXLEN", "=", "1", "LIMIT", "5"]),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        c.call(&["XTRIM", "t", "LIMIT", "5"]),
        err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(c.call(&["XTRIM", "t", "MAXLEN", "1", "extra"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XTRIM", "t", "FOO", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XTRIM", "t", "MAXLEN"]), err("ERR wrong number of arguments for 'xtrim' command"));
    assert_eq!(c.call(&["XTRIM", "t", "MINID", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XTRIM", "t", "MAXLEN", "-1"]), err("ERR The MAXLEN argument must be >= 0."));
    assert_eq!(c.call(&["XLEN", "t"]), int(32));
}

#[test]
fn xadd_trims_as_it_adds() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_range(&mut c, "s", 1..=5);
    assert_eq!(c.call(&["XADD", "s", "MAXLEN", "3", "6-0", "f", "v6"]), bulk("6-0"));
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "-", "+"])), ["4-0", "5-0", "6-0"]);
    assert_eq!(c.call(&["XADD", "s", "MINID", "=", "6", "7-0", "f", "v7"]), bulk("7-0"));
    assert_eq!(ids_of(&c.call(&["XRANGE", "s", "-", "+"])), ["6-0", "7-0"]);
    // The new entry itself may go: MAXLEN 0 leaves an empty stream.
    assert_eq!(c.call(&["XADD", "s", "MAXLEN", "0", "8-0", "f", "v8"]), bulk("8-0"));
    assert_eq!(c.call(&["XLEN", "s"]), int(0));
    assert_eq!(c.call(&["EXISTS", "s"]), int(1));
    assert_eq!(c.call(&["XADD", "e", "MAXLEN", "0", "5-0", "a", "1"]), bulk("5-0"));
    assert_eq!(c.call(&["EXISTS", "e"]), int(1));
    assert_eq!(c.call(&["XADD", "e", "5-0", "a", "1"]), err(ERR_ID_SMALL));
    // With the default node size (100) `~` keeps a partly trimmable node.
    add_range(&mut c, "big", 1..=150);
    assert_eq!(c.call(&["XADD", "big", "MAXLEN", "~", "10", "151-0", "f", "v"]), bulk("151-0"));
    assert_eq!(c.call(&["XLEN", "big"]), int(51));
}

#[test]
fn xsetid_moves_the_last_id() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XSETID", "nokey", "1-0"]), err("ERR no such key"));
    add_ids(&mut c, "s", &["1-0", "2-0", "3-0"]);
    assert_eq!(
        c.call(&["XSETID", "s", "2-0"]),
        err("ERR The ID specified in XSETID is smaller than the target stream top item")
    );
    assert_eq!(c.call(&["XSETID", "s", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XSETID", "s", "5-5", "ENTRIESADDED", "-1"]), err("ERR entries_added must be positive"));
    assert_eq!(
        c.call(&["XSETID", "s", "5-5", "ENTRIESADDED", "2"]),
        err("ERR The entries_added specified in XSETID is smaller than the target stream length")
    );
    assert_eq!(
        c.call(&["XSETID", "s", "5-5", "MAXDELETEDID", "6-0"]),
        err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    );
    assert_eq!(c.call(&["XSETID", "s", "5-5", "FOO", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XSETID", "s", "5-5", "ENTRIESADDED"]), err("ERR syntax error"));
    // Setting it to the top entry's id is allowed; above it too.
    assert_eq!(c.call(&["XSETID", "s", "3-0"]), ok());
    assert_eq!(c.call(&["XSETID", "s", "10-0", "ENTRIESADDED", "42", "MAXDELETEDID", "9-0"]), ok());
    let info = c.call(&["XINFO", "STREAM", "s"]);
    assert_eq!(field(&info, "last-generated-id"), bulk("10-0"));
    assert_eq!(field(&info, "entries-added"), int(42));
    assert_eq!(field(&info, "max-deleted-entry-id"), bulk("9-0"));
    assert_eq!(field(&info, "length"), int(3));
    assert_eq!(xadd(&mut c, "s", "10-0", &["f", "v"]), err(ERR_ID_SMALL));
    assert_eq!(xadd(&mut c, "s", "10-*", &["f", "v"]), bulk("10-1"));
    // On an empty stream any id goes, even below the old one.
    assert_eq!(c.call(&["XADD", "e", "MAXLEN", "0", "50-0", "f", "v"]), bulk("50-0"));
    assert_eq!(c.call(&["XSETID", "e", "7-0"]), ok());
    assert_eq!(xadd(&mut c, "e", "8-0", &["f", "v"]), bulk("8-0"));
}
