//! Hash commands against the real server: replies, error texts and edge
//! cases as Redis 7 gives them, RESP3 shapes, HSCAN completeness and
//! HRANDFIELD count semantics.

mod common;
use std::collections::{HashMap, HashSet};

use common::{bulk, bulks as arr, err, int, nil, ok, strings, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Splits an HSCAN reply into its next cursor and items.
fn scan_parts(r: Resp) -> (u64, Vec<String>) {
    match r {
        Resp::Array(Some(mut parts)) if parts.len() == 2 => {
            let items = strings(parts.pop().unwrap());
            let cursor = match parts.pop().unwrap() {
                Resp::Bulk(Some(b)) => String::from_utf8(b).unwrap().parse().unwrap(),
                other => panic!("bad cursor {other:?}"),
            };
            (cursor, items)
        }
        other => panic!("bad scan reply {other:?}"),
    }
}

/// HSET with `n` fields `f0..` valued `v0..` in one command.
fn fill(c: &mut Raw, key: &str, n: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..n {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    assert_eq!(c.call_owned(&args), int(n as i64));
}

#[test]
fn hset_hget_and_readers() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HSET", "h", "a", "1", "b", "2"]), int(2));
    assert_eq!(c.call(&["HSET", "h", "a", "10", "c", "3"]), int(1));
    assert_eq!(c.call(&["HSET", "h", "d", "4", "d", "5"]), int(1));
    assert_eq!(c.call(&["HGET", "h", "a"]), bulk("10"));
    assert_eq!(c.call(&["HGET", "h", "d"]), bulk("5"));
    assert_eq!(c.call(&["HGET", "h", "zz"]), nil());
    assert_eq!(c.call(&["HGET", "nokey", "a"]), nil());
    assert_eq!(c.call(&["TYPE", "h"]), Resp::Simple("hash".into()));
    assert_eq!(c.call(&["HLEN", "h"]), int(4));
    assert_eq!(c.call(&["HLEN", "nokey"]), int(0));
    assert_eq!(c.call(&["HKEYS", "h"]), arr(&["a", "b", "c", "d"]));
    assert_eq!(c.call(&["HVALS", "h"]), arr(&["10", "2", "3", "5"]));
    assert_eq!(c.call(&["HKEYS", "nokey"]), arr(&[]));
    assert_eq!(c.call(&["HVALS", "nokey"]), arr(&[]));
    assert_eq!(c.call(&["HGETALL", "h"]), arr(&["a", "10", "b", "2", "c", "3", "d", "5"]));
    assert_eq!(c.call(&["HGETALL", "nokey"]), arr(&[]));
    assert_eq!(c.call(&["HMGET", "h", "a", "zz", "c"]), Resp::Array(Some(vec![bulk("10"), nil(), bulk("3")])));
    assert_eq!(c.call(&["HMGET", "nokey", "a", "b"]), Resp::Array(Some(vec![nil(), nil()])));
    assert_eq!(c.call(&["HEXISTS", "h", "a"]), int(1));
    assert_eq!(c.call(&["HEXISTS", "h", "zz"]), int(0));
    assert_eq!(c.call(&["HEXISTS", "nokey", "a"]), int(0));
    assert_eq!(c.call(&["HSET", "h", "long", "hello world"]), int(1));
    assert_eq!(c.call(&["HSTRLEN", "h", "long"]), int(11));
    assert_eq!(c.call(&["HSTRLEN", "h", "zz"]), int(0));
    assert_eq!(c.call(&["HSTRLEN", "nokey", "zz"]), int(0));
    assert_eq!(c.call(&["HSET", "h", "", ""]), int(1));
    assert_eq!(c.call(&["HGET", "h", ""]), bulk(""));
}

#[test]
fn hmset_and_hsetnx() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HMSET", "h", "a", "1", "b", "2"]), ok());
    assert_eq!(c.call(&["HMSET", "h", "a", "3"]), ok());
    assert_eq!(c.call(&["HGETALL", "h"]), arr(&["a", "3", "b", "2"]));
    assert_eq!(c.call(&["HSETNX", "h", "a", "9"]), int(0));
    assert_eq!(c.call(&["HGET", "h", "a"]), bulk("3"));
    assert_eq!(c.call(&["HSETNX", "h", "c", "9"]), int(1));
    assert_eq!(c.call(&["HGET", "h", "c"]), bulk("9"));
    assert_eq!(c.call(&["HSETNX", "new", "f", "v"]), int(1));
    assert_eq!(c.call(&["HGETALL", "new"]), arr(&["f", "v"]));
}

#[test]
fn arity_and_syntax_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let arity = |n: &str| err(&format!("ERR wrong number of arguments for '{n}' command"));
    assert_eq!(c.call(&["HSET", "h", "a"]), arity("hset"));
    assert_eq!(c.call(&["HSET", "h", "a", "1", "b"]), arity("hset"));
    assert_eq!(c.call(&["hset", "h", "a", "1", "b"]), arity("hset"));
    assert_eq!(c.call(&["HMSET", "h", "a", "1", "b"]), arity("hmset"));
    assert_eq!(c.call(&["EXISTS", "h"]), int(0), "a refused HSET must not create the key");
    assert_eq!(c.call(&["HSETNX", "h", "a"]), arity("hsetnx"));
    assert_eq!(c.call(&["HGET", "h"]), arity("hget"));
    assert_eq!(c.call(&["HMGET", "h"]), arity("hmget"));
    assert_eq!(c.call(&["HDEL", "h"]), arity("hdel"));
    assert_eq!(c.call(&["HLEN"]), arity("hlen"));
    assert_eq!(c.call(&["HGETALL", "h", "x"]), arity("hgetall"));
    assert_eq!(c.call(&["HKEYS"]), arity("hkeys"));
    assert_eq!(c.call(&["HVALS"]), arity("hvals"));
    assert_eq!(c.call(&["HEXISTS", "h"]), arity("hexists"));
    assert_eq!(c.call(&["HSTRLEN", "h"]), arity("hstrlen"));
    assert_eq!(c.call(&["HINCRBY", "h", "f"]), arity("hincrby"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "f"]), arity("hincrbyfloat"));
    assert_eq!(c.call(&["HRANDFIELD"]), arity("hrandfield"));
    assert_eq!(c.call(&["HSCAN", "h"]), arity("hscan"));
}

#[test]
fn wrong_type_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["SET", "str", "x"]), ok());
    let mut keys = vec!["str"];
    // Lists come from another command family; check them when it is present.
    if c.call(&["RPUSH", "list", "x"]) == int(1) {
        keys.push("list");
    }
    for k in keys {
        for cmd in [
            vec!["HSET", k, "f", "v"],
            vec!["HMSET", k, "f", "v"],
            vec!["HSETNX", k, "f", "v"],
            vec!["HGET", k, "f"],
            vec!["HMGET", k, "f"],
            vec!["HGETALL", k],
            vec!["HKEYS", k],
            vec!["HVALS", k],
            vec!["HDEL", k, "f"],
            vec!["HEXISTS", k, "f"],
            vec!["HLEN", k],
            vec!["HSTRLEN", k, "f"],
            vec!["HINCRBY", k, "f", "1"],
            vec!["HINCRBYFLOAT", k, "f", "1"],
            vec!["HRANDFIELD", k],
            vec!["HRANDFIELD", k, "2"],
            vec!["HSCAN", k, "0"],
        ] {
            assert_eq!(c.call(&cmd), err(WRONGTYPE), "{cmd:?}");
        }
    }
    assert_eq!(c.call(&["GET", "str"]), bulk("x"));
    assert_eq!(c.call(&["HSET", "h", "f", "v"]), int(1));
    assert_eq!(c.call(&["GET", "h"]), err(WRONGTYPE));
}

#[test]
fn hdel_variadic_and_key_removal() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HDEL", "nokey", "a"]), int(0));
    assert_eq!(c.call(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"]), int(4));
    assert_eq!(c.call(&["HDEL", "h", "b", "zz", "b"]), int(1));
    assert_eq!(c.call(&["HKEYS", "h"]), arr(&["a", "c", "d"]), "small hashes keep insertion order");
    assert_eq!(c.call(&["HDEL", "h", "a", "c"]), int(2));
    assert_eq!(c.call(&["EXISTS", "h"]), int(1));
    assert_eq!(c.call(&["HDEL", "h", "d", "zz"]), int(1));
    assert_eq!(c.call(&["EXISTS", "h"]), int(0), "deleting the last field deletes the key");
    assert_eq!(c.call(&["TYPE", "h"]), Resp::Simple("none".into()));
    // Large hashes: deletions stay correct past the listpack size.
    fill(&mut c, "big", 300);
    let mut del = vec!["HDEL".to_string(), "big".to_string()];
    del.extend((0..300).step_by(2).map(|i| format!("f{i}")));
    assert_eq!(c.call_owned(&del), int(150));
    assert_eq!(c.call(&["HLEN", "big"]), int(150));
    let keys: HashSet<String> = strings(c.call(&["HKEYS", "big"])).into_iter().collect();
    let want: HashSet<String> = (1..300).step_by(2).map(|i| format!("f{i}")).collect();
    assert_eq!(keys, want);
    assert_eq!(c.call(&["HGET", "big", "f1"]), bulk("v1"));
    assert_eq!(c.call(&["HGET", "big", "f0"]), nil());
}

#[test]
fn hincrby_counters_and_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HINCRBY", "h", "n", "5"]), int(5));
    assert_eq!(c.call(&["HINCRBY", "h", "n", "-7"]), int(-2));
    assert_eq!(c.call(&["HGET", "h", "n"]), bulk("-2"));
    assert_eq!(c.call(&["HINCRBY", "h", "m", "0"]), int(0));
    assert_eq!(c.call(&["HSET", "h", "s", "abc", "f", "1.5", "sp", " 1"]), int(3));
    for f in ["s", "f", "sp"] {
        assert_eq!(c.call(&["HINCRBY", "h", f, "1"]), err("ERR hash value is not an integer"), "{f}");
    }
    for bad in ["x", "1.0", "", "99999999999999999999"] {
        assert_eq!(c.call(&["HINCRBY", "h", "n", bad]), err("ERR value is not an integer or out of range"), "{bad}");
    }
    assert_eq!(c.call(&["HINCRBY", "nokey", "n", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["EXISTS", "nokey"]), int(0));
    assert_eq!(c.call(&["HSET", "h", "big", "9223372036854775806"]), int(1));
    assert_eq!(c.call(&["HINCRBY", "h", "big", "1"]), int(i64::MAX));
    assert_eq!(c.call(&["HINCRBY", "h", "big", "1"]), err("ERR increment or decrement would overflow"));
    assert_eq!(c.call(&["HSET", "h", "small", "-9223372036854775808"]), int(1));
    assert_eq!(c.call(&["HINCRBY", "h", "small", "-1"]), err("ERR increment or decrement would overflow"));
    assert_eq!(c.call(&["HGET", "h", "big"]), bulk("9223372036854775807"));
}

#[test]
fn hincrbyfloat_formats_like_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "f", "10.5"]), bulk("10.5"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "f", "0.1"]), bulk("10.6"));
    assert_eq!(c.call(&["HGET", "h", "f"]), bulk("10.6"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "g", "1.5"]), bulk("1.5"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "g", "1.5"]), bulk("3"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "e", "5.0e3"]), bulk("5000"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "e", "-5000"]), bulk("0"));
    assert_eq!(c.call(&["HSET", "h", "i", "1"]), int(1));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "i", "0.1"]), bulk("1.1"));
    assert_eq!(c.call(&["HSET", "h", "s", "abc"]), int(1));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "s", "1"]), err("ERR hash value is not a float"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "f", "abc"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["HSET", "h", "huge", "1e308"]), int(1));
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "huge", "1e308"]), err("ERR increment would produce NaN or Infinity"));
    assert_eq!(c.call(&["HGET", "h", "huge"]), bulk("1e308"));
    assert_eq!(c.call(&["HINCRBYFLOAT", "nokey", "f", "+inf"]), err("ERR value is NaN or Infinity"));
    assert_eq!(c.call(&["EXISTS", "nokey"]), int(0));
}

#[test]
fn resp3_hgetall_is_a_map_and_hrandfield_nests_pairs() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(c.call(&["HSET", "h", "a", "1", "b", "2"]), int(2));
    assert_eq!(c.call(&["HGETALL", "h"]), Resp::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))]));
    assert_eq!(c.call(&["HGETALL", "nokey"]), Resp::Map(vec![]));
    assert_eq!(c.call(&["HGET", "nokey", "a"]), Resp::Null);
    assert_eq!(c.call(&["HRANDFIELD", "nokey"]), Resp::Null);
    let pairs = |r: Resp| match r {
        Resp::Array(Some(items)) => items,
        other => panic!("{other:?}"),
    };
    let all = pairs(c.call(&["HRANDFIELD", "h", "5", "WITHVALUES"]));
    assert_eq!(all, vec![arr(&["a", "1"]), arr(&["b", "2"])]);
    let rep = pairs(c.call(&["HRANDFIELD", "h", "-6", "WITHVALUES"]));
    assert_eq!(rep.len(), 6);
    for p in rep {
        assert!(p == arr(&["a", "1"]) || p == arr(&["b", "2"]), "{p:?}");
    }
    // HSCAN stays a flat array on RESP3.
    assert_eq!(c.call(&["HSCAN", "h", "0"]), Resp::Array(Some(vec![bulk("0"), arr(&["a", "1", "b", "2"])])));
}

#[test]
fn hscan_small_hash_options() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HSCAN", "nokey", "0"]), Resp::Array(Some(vec![bulk("0"), arr(&[])])));
    assert_eq!(c.call(&["HSET", "h", "foo", "1", "bar", "2", "foz", "3"]), int(3));
    assert_eq!(scan_parts(c.call(&["HSCAN", "h", "0"])), (0, strings(arr(&["foo", "1", "bar", "2", "foz", "3"]))));
    assert_eq!(scan_parts(c.call(&["HSCAN", "h", "0", "MATCH", "fo*"])).1, vec!["foo", "1", "foz", "3"]);
    assert_eq!(scan_parts(c.call(&["HSCAN", "h", "0", "MATCH", "fo*", "NOVALUES"])).1, vec!["foo", "foz"]);
    assert_eq!(
        scan_parts(c.call(&["HSCAN", "h", "0", "NOVALUES", "COUNT", "1"])),
        (0, strings(arr(&["foo", "bar", "foz"])))
    );
    assert_eq!(c.call(&["HSCAN", "h", "x"]), err("ERR invalid cursor"));
    assert_eq!(c.call(&["HSCAN", "h", "0", "COUNT", "0"]), err("ERR syntax error"));
    assert_eq!(c.call(&["HSCAN", "h", "0", "COUNT", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["HSCAN", "h", "0", "MATCH"]), err("ERR syntax error"));
    assert_eq!(c.call(&["HSCAN", "h", "0", "TYPE", "hash"]), err("ERR syntax error"));
    assert_eq!(c.call(&["HSCAN", "h", "0", "BOGUS", "1"]), err("ERR syntax error"));
}

/// Runs a complete HSCAN of `key`, calling `between` after each step;
/// returns the fields seen (and checks each value matches its field).
fn full_hscan(c: &mut Raw, key: &str, count: &str, mut between: impl FnMut(&mut Raw, usize)) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    for step in 0..100_000 {
        let (next, items) = scan_parts(c.call(&["HSCAN", key, &cursor.to_string(), "COUNT", count]));
        for pair in items.chunks(2) {
            assert_eq!(pair[1], format!("v{}", &pair[0][1..]));
            seen.insert(pair[0].clone());
        }
        if next == 0 {
            return seen;
        }
        cursor = next;
        between(c, step);
    }
    panic!("HSCAN did not terminate");
}

#[test]
fn hscan_large_hash_returns_every_field() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c, "h", 1000);
    let want: HashSet<String> = (0..1000).map(|i| format!("f{i}")).collect();
    for count in ["1", "10", "97", "5000"] {
        assert_eq!(full_hscan(&mut c, "h", count, |_, _| {}), want, "COUNT {count}");
    }
    // One call with the default COUNT returns a partial page and a cursor.
    let (next, items) = scan_parts(c.call(&["HSCAN", "h", "0"]));
    assert_ne!(next, 0);
    assert!(!items.is_empty() && items.len() < 2000);
    // MATCH filters fields on a large hash too.
    let mut matched = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items) = scan_parts(c.call(&["HSCAN", "h", &cursor.to_string(), "MATCH", "f99*", "NOVALUES"]));
        matched.extend(items);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let want_match: HashSet<String> =
        ["f99", "f990", "f991", "f992", "f993", "f994", "f995", "f996", "f997", "f998", "f999"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(matched, want_match);
}

#[test]
fn hscan_never_misses_fields_present_throughout() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c, "h", 1000);
    // Even fields are deleted (alternately from both ends of the insertion
    // order) and new ones added while the scan runs; odd fields exist the
    // whole time and must all be returned.
    let mut evens: Vec<usize> = Vec::new();
    for i in 0..250 {
        evens.push(2 * i);
        evens.push(998 - 2 * i);
    }
    let mut deletions = evens.into_iter();
    let seen = full_hscan(&mut c, "h", "20", |c, step| {
        for _ in 0..4 {
            if let Some(i) = deletions.next() {
                assert_eq!(c.call(&["HDEL", "h", &format!("f{i}")]), int(1));
            }
        }
        let f = format!("n{step}");
        let v = format!("v{step}");
        assert_eq!(c.call(&["HSET", "h", &f, &v]), int(1));
    });
    for i in (1..1000).step_by(2) {
        assert!(seen.contains(&format!("f{i}")), "f{i} missed");
    }
}

#[test]
fn hrandfield_count_semantics() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HRANDFIELD", "nokey"]), nil());
    assert_eq!(c.call(&["HRANDFIELD", "nokey", "5"]), arr(&[]));
    assert_eq!(c.call(&["HRANDFIELD", "nokey", "-5", "WITHVALUES"]), arr(&[]));
    fill(&mut c, "h", 10);
    let fields: HashSet<String> = (0..10).map(|i| format!("f{i}")).collect();
    for _ in 0..20 {
        let one = strings(Resp::Array(Some(vec![c.call(&["HRANDFIELD", "h"])])));
        assert!(fields.contains(&one[0]));
    }
    assert_eq!(c.call(&["HRANDFIELD", "h", "0"]), arr(&[]));
    assert_eq!(c.call(&["HRANDFIELD", "h", "0", "WITHVALUES"]), arr(&[]));
    // Positive: distinct fields, at most the hash's size.
    for n in [1usize, 3, 5, 9, 10, 11, 100] {
        let got = strings(c.call(&["HRANDFIELD", "h", &n.to_string()]));
        assert_eq!(got.len(), n.min(10), "count {n}");
        let set: HashSet<&String> = got.iter().collect();
        assert_eq!(set.len(), got.len(), "count {n} repeated a field");
        assert!(got.iter().all(|f| fields.contains(f)));
    }
    // Negative: exactly |count| fields, repeats allowed (and, over 200 picks
    // from 10, certain in practice).
    let got = strings(c.call(&["HRANDFIELD", "h", "-200"]));
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|f| fields.contains(f)));
    assert!(got.iter().collect::<HashSet<_>>().len() < 200);
    // WITHVALUES on RESP2: flat field, value pairs.
    for (n, want_len) in [("4", 8), ("-30", 60), ("50", 20)] {
        let got = strings(c.call(&["HRANDFIELD", "h", n, "WITHVALUES"]));
        assert_eq!(got.len(), want_len, "count {n}");
        let map: HashMap<&str, &str> = got.chunks(2).map(|p| (p[0].as_str(), p[1].as_str())).collect();
        for (f, v) in map {
            assert_eq!(&f[1..], &v[1..]);
        }
    }
    // Single-field hash: negative count repeats it.
    assert_eq!(c.call(&["HSET", "one", "x", "y"]), int(1));
    assert_eq!(c.call(&["HRANDFIELD", "one", "-3"]), arr(&["x", "x", "x"]));
    assert_eq!(c.call(&["HRANDFIELD", "one", "-2", "WITHVALUES"]), arr(&["x", "y", "x", "y"]));
    // Errors, checked before the key is looked up (as Redis).
    assert_eq!(c.call(&["HRANDFIELD", "h", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["HRANDFIELD", "h", "1", "WITHSCORES"]), err("ERR syntax error"));
    assert_eq!(c.call(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]), err("ERR syntax error"));
    assert_eq!(c.call(&["HRANDFIELD", "h", "-9223372036854770000", "WITHVALUES"]), err("ERR value is out of range"));
    assert_eq!(
        c.call(&["HRANDFIELD", "h", "-9223372036854775808", "WITHVALUES"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        c.call(&["HRANDFIELD", "h", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(c.call(&["HRANDFIELD", "nokey", "x"]), err("ERR value is not an integer or out of range"));
}

#[test]
fn ttl_survives_hash_writes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HSET", "h", "a", "1", "b", "2"]), int(2));
    assert_eq!(c.call(&["EXPIRE", "h", "1000"]), int(1));
    let ttl_ok = |c: &mut Raw| match c.call(&["TTL", "h"]) {
        Resp::Int(t) => assert!(t > 900 && t <= 1000, "ttl {t}"),
        other => panic!("{other:?}"),
    };
    assert_eq!(c.call(&["HSET", "h", "c", "3"]), int(1));
    ttl_ok(&mut c);
    assert_eq!(c.call(&["HMSET", "h", "a", "9"]), ok());
    ttl_ok(&mut c);
    assert_eq!(c.call(&["HSETNX", "h", "d", "4"]), int(1));
    ttl_ok(&mut c);
    assert_eq!(c.call(&["HINCRBY", "h", "n", "1"]), int(1));
    ttl_ok(&mut c);
    assert_eq!(c.call(&["HINCRBYFLOAT", "h", "x", "1.5"]), bulk("1.5"));
    ttl_ok(&mut c);
    assert_eq!(c.call(&["HDEL", "h", "a"]), int(1));
    ttl_ok(&mut c);
    // Deleting every field drops the key and with it the TTL.
    assert_eq!(c.call(&["HDEL", "h", "b", "c", "d", "n", "x"]), int(5));
    assert_eq!(c.call(&["TTL", "h"]), int(-2));
    assert_eq!(c.call(&["HSET", "h", "a", "1"]), int(1));
    assert_eq!(c.call(&["TTL", "h"]), int(-1));
}

#[test]
fn expired_hash_reads_as_missing() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["HSET", "h", "a", "1"]), int(1));
    assert_eq!(c.call(&["PEXPIRE", "h", "1"]), int(1));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.call(&["EXISTS", "h"]) != int(0) {
        assert!(std::time::Instant::now() < deadline, "key did not expire");
        std::thread::yield_now();
    }
    assert_eq!(c.call(&["HGET", "h", "a"]), nil());
    assert_eq!(c.call(&["HSET", "h", "b", "2"]), int(1));
    assert_eq!(c.call(&["HGETALL", "h"]), arr(&["b", "2"]));
    assert_eq!(c.call(&["TTL", "h"]), int(-1));
}

#[test]
fn redis_crate_client_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let n: i64 = redis::cmd("HSET").arg("h").arg("a").arg("1").arg("b").arg("2").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let all: HashMap<String, String> = redis::cmd("HGETALL").arg("h").query(&mut c).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["a"], "1");
    let mut c3 = s.conn3();
    let all3: HashMap<String, String> = redis::cmd("HGETALL").arg("h").query(&mut c3).unwrap();
    assert_eq!(all3, all);
}
