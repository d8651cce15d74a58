//! SORT and SORT_RO against the real server: every option over lists,
//! sets and sorted sets, with the replies, error texts and edge cases of
//! Redis 7.0's `sort.c`.

mod common;

use common::{arr, bulk, bulks, err, info_field, int, nil, text, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

fn empty() -> Resp {
    Resp::Array(Some(vec![]))
}

/// `RPUSH key items...`.
fn rpush(c: &mut Raw, key: &str, items: &[&str]) {
    let mut args = vec!["RPUSH", key];
    args.extend_from_slice(items);
    assert_eq!(c.call(&args), int(items.len() as i64));
}

/// Runs `args` and gives back the reply.
fn call(c: &mut Raw, args: &[&str]) -> Resp {
    c.call(args)
}

#[test]
fn numeric_alpha_and_direction_over_lists() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    rpush(&mut c, "l", &["3", "10", "-1.5", "2", "1e1", "0x10"]);
    // Equal scores (10 and 1e1) are ordered by their bytes.
    assert_eq!(c.call(&["SORT", "l"]), bulks(&["-1.5", "2", "3", "10", "1e1", "0x10"]));
    assert_eq!(c.call(&["SORT", "l", "DESC"]), bulks(&["0x10", "1e1", "10", "3", "2", "-1.5"]));
    assert_eq!(c.call(&["sort", "l", "desc", "asc"]), bulks(&["-1.5", "2", "3", "10", "1e1", "0x10"]));
    assert_eq!(c.call(&["SORT", "l", "ALPHA"]), bulks(&["-1.5", "0x10", "10", "1e1", "2", "3"]));
    assert_eq!(c.call(&["SORT", "l", "ALPHA", "DESC"]), bulks(&["3", "2", "1e1", "10", "0x10", "-1.5"]));
    assert_eq!(c.call(&["SORT_RO", "l", "ALPHA"]), bulks(&["-1.5", "0x10", "10", "1e1", "2", "3"]));
    // The sorted key itself is not changed.
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), bulks(&["3", "10", "-1.5", "2", "1e1", "0x10"]));
    // A missing key sorts as an empty list.
    assert_eq!(c.call(&["SORT", "nokey"]), empty());
    assert_eq!(c.call(&["SORT", "nokey", "LIMIT", "0", "10", "GET", "#"]), empty());
    // Redis's regression test for floats.
    c.call(&["DEL", "f"]);
    rpush(&mut c, "f", &["1.1", "5.10", "3.10", "7.44", "2.1", "5.75", "6.12", "0.25", "1.15"]);
    assert_eq!(c.call(&["SORT", "f"]), bulks(&["0.25", "1.1", "1.15", "2.1", "3.10", "5.10", "5.75", "6.12", "7.44"]));
}

#[test]
fn scores_are_read_as_strtod_does() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    // An empty string reads as 0; inf, leading spaces, a sign, hex are accepted.
    rpush(&mut c, "l", &["", " 5", "+4", "-inf", "inf", "1.", ".5", "0x1p3"]);
    assert_eq!(c.call(&["SORT", "l"]), bulks(&["-inf", "", ".5", "1.", "+4", " 5", "0x1p3", "inf"]));
    for bad in ["abc", "nan", "1e400", "1e-400", "1 ", "1e", "-", " ", "0x"] {
        c.call(&["DEL", "b"]);
        rpush(&mut c, "b", &["1", bad]);
        assert_eq!(c.call(&["SORT", "b"]), err(NOT_DOUBLE), "{bad:?}");
        assert_eq!(c.call(&["SORT", "b", "STORE", "dst"]), err(NOT_DOUBLE), "{bad:?}");
        assert_eq!(c.call(&["EXISTS", "dst"]), int(0), "an error stores nothing");
        // ALPHA and BY nosort read no score.
        assert_eq!(c.call(&["SORT", "b", "BY", "nosort"]), bulks(&["1", bad]));
        let Resp::Array(Some(v)) = c.call(&["SORT", "b", "ALPHA"]) else { panic!("array") };
        assert_eq!(v.len(), 2);
    }
}

#[test]
fn by_patterns_with_keys_and_hash_fields() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c", "d"]);
    for (e, w) in [("a", "3"), ("b", "1"), ("c", "2")] {
        c.call(&["SET", &format!("w_{e}"), w]);
        c.call(&["HSET", &format!("h_{e}"), "f", &format!("{}", 10 - w.parse::<i32>().unwrap())]);
        c.call(&["SET", &format!("s_{e}x"), &format!("z{w}")]);
    }
    // d has no weight: it scores 0.
    assert_eq!(c.call(&["SORT", "l", "BY", "w_*"]), bulks(&["d", "b", "c", "a"]));
    assert_eq!(c.call(&["SORT", "l", "BY", "w_*", "DESC"]), bulks(&["a", "c", "b", "d"]));
    assert_eq!(c.call(&["SORT", "l", "BY", "h_*->f"]), bulks(&["d", "a", "c", "b"]));
    // Text after the `*` is kept; under ALPHA a missing BY value sorts first.
    assert_eq!(c.call(&["SORT", "l", "BY", "s_*x", "ALPHA"]), bulks(&["d", "b", "c", "a"]));
    assert_eq!(c.call(&["SORT", "l", "BY", "s_*x", "ALPHA", "DESC"]), bulks(&["a", "c", "b", "d"]));
    // Non-numeric BY values are an error unless ALPHA.
    assert_eq!(c.call(&["SORT", "l", "BY", "s_*x"]), err(NOT_DOUBLE));
    // A BY key of another type counts as missing.
    c.call(&["RPUSH", "w_d", "x"]);
    assert_eq!(c.call(&["SORT", "l", "BY", "w_*"]), bulks(&["d", "b", "c", "a"]));
    // A field on a string key, or a string pattern on a hash, is missing too.
    assert_eq!(c.call(&["SORT", "l", "BY", "w_*->f"]), bulks(&["a", "b", "c", "d"]));
    assert_eq!(c.call(&["SORT", "l", "BY", "h_*"]), bulks(&["a", "b", "c", "d"]));
    // A pattern ending in `->` is a plain key name.
    c.call(&["SET", "x:a->", "100"]);
    c.call(&["SET", "x:b->", "50"]);
    assert_eq!(c.call(&["SORT", "l", "BY", "x:*->", "LIMIT", "2", "2"]), bulks(&["b", "a"]));
    // The sort vector stays total: equal BY scores fall back to the elements.
    c.call(&["DEL", "m"]);
    rpush(&mut c, "m", &["zz", "b", "aa", "a"]);
    assert_eq!(c.call(&["SORT", "m", "BY", "none_*"]), bulks(&["a", "aa", "b", "zz"]));
    assert_eq!(c.call(&["SORT", "m", "BY", "none_*", "DESC"]), bulks(&["zz", "b", "aa", "a"]));
}

#[test]
fn by_without_star_keeps_the_list_order() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["LPUSH", "t", "2", "1", "4", "3", "5"]);
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort"]), bulks(&["5", "3", "4", "1", "2"]));
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "DESC"]), bulks(&["2", "1", "4", "3", "5"]));
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "LIMIT", "1", "2"]), bulks(&["3", "4"]));
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "LIMIT", "1", "2", "DESC"]), bulks(&["1", "4"]));
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "LIMIT", "3", "-1", "DESC"]), bulks(&["3", "5"]));
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "LIMIT", "5", "1"]), empty());
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "STORE", "u"]), int(5));
    assert_eq!(c.call(&["LRANGE", "u", "0", "-1"]), bulks(&["5", "3", "4", "1", "2"]));
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "LIMIT", "0", "3", "STORE", "u"]), int(3));
    assert_eq!(c.call(&["LRANGE", "u", "0", "-1"]), bulks(&["5", "3", "4"]));
    // As in Redis, a BY without `*` is not undone by a later BY with one.
    c.call(&["SET", "w_5", "100"]);
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "BY", "w_*"]), bulks(&["5", "3", "4", "1", "2"]));
    // ... while a later constant BY turns sorting off.
    assert_eq!(c.call(&["SORT", "t", "BY", "w_*", "BY", "k"]), bulks(&["5", "3", "4", "1", "2"]));
    // Elements are not read as scores without sorting.
    c.call(&["RPUSH", "t", "notanumber"]);
    assert_eq!(c.call(&["SORT", "t", "BY", "nosort", "LIMIT", "5", "1"]), bulks(&["notanumber"]));
}

#[test]
fn limit_windows() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    rpush(&mut c, "l", &["5", "4", "3", "2", "1"]);
    let cases: &[(&str, &str, &[&str])] = &[
        ("0", "2", &["1", "2"]),
        ("1", "3", &["2", "3", "4"]),
        ("3", "10", &["4", "5"]),
        ("-10", "2", &["1", "2"]),
        ("2", "-1", &["3", "4", "5"]),
        ("2", "-5", &["3", "4", "5"]),
        ("0", "0", &[]),
        ("5", "1", &[]),
        ("100", "100", &[]),
        ("4", "9223372036854775807", &["5"]),
        ("-9223372036854775808", "1", &["1"]),
    ];
    for &(start, count, want) in cases {
        assert_eq!(c.call(&["SORT", "l", "LIMIT", start, count]), bulks(want), "LIMIT {start} {count}");
        assert_eq!(c.call(&["SORT_RO", "l", "LIMIT", start, count, "BY", "x_*"]), bulks(want), "BY {start} {count}");
    }
    assert_eq!(c.call(&["SORT", "l", "LIMIT", "1", "2", "DESC"]), bulks(&["4", "3"]));
    assert_eq!(c.call(&["SORT", "l", "LIMIT", "a", "2"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["SORT", "l", "LIMIT", "1", "2.5"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["SORT", "l", "LIMIT", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SORT", "l", "LIMIT"]), err("ERR syntax error"));
}

#[test]
fn get_patterns() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    rpush(&mut c, "l", &["2", "1", "3"]);
    c.call(&["SET", "o_1", "one"]);
    c.call(&["SET", "o_3", "three"]);
    c.call(&["HSET", "h_1", "name", "uno"]);
    c.call(&["HSET", "h_2", "name", "dos"]);
    assert_eq!(c.call(&["SORT", "l", "GET", "#"]), bulks(&["1", "2", "3"]));
    assert_eq!(
        c.call(&["SORT", "l", "GET", "o_*", "GET", "#", "GET", "h_*->name"]),
        arr(vec![bulk("one"), bulk("1"), bulk("uno"), nil(), bulk("2"), bulk("dos"), bulk("three"), bulk("3"), nil()])
    );
    // A pattern without `*` (other than `#`) names no key: always nil.
    c.call(&["SET", "const", "x"]);
    assert_eq!(c.call(&["SORT", "l", "GET", "const"]), arr(vec![nil(), nil(), nil()]));
    assert_eq!(c.call(&["SORT", "l", "GET", "##"]), arr(vec![nil(), nil(), nil()]));
    assert_eq!(c.call(&["SORT", "l", "LIMIT", "1", "1", "GET", "h_*->name", "DESC"]), arr(vec![bulk("dos")]));
    // A GET of a key of another type, or of a missing field, is nil.
    c.call(&["RPUSH", "o_2", "x"]);
    assert_eq!(c.call(&["SORT", "l", "GET", "o_*"]), arr(vec![bulk("one"), nil(), bulk("three")]));
    assert_eq!(c.call(&["SORT", "l", "GET", "h_*->nofield"]), arr(vec![nil(), nil(), nil()]));
    // GET with BY and STORE: missing values are stored as empty strings.
    c.call(&["SET", "w_1", "3"]);
    c.call(&["SET", "w_2", "2"]);
    c.call(&["SET", "w_3", "1"]);
    assert_eq!(c.call(&["SORT", "l", "BY", "w_*", "GET", "#", "GET", "o_*", "STORE", "dst"]), int(6));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&["3", "three", "2", "", "1", "one"]));
}

#[test]
fn store_writes_a_list() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    rpush(&mut c, "l", &["b", "c", "a"]);
    // STORE replaces a value of any type and drops its TTL.
    c.call(&["SET", "dst", "string"]);
    c.call(&["EXPIRE", "dst", "100"]);
    assert_eq!(c.call(&["SORT", "l", "ALPHA", "STORE", "dst"]), int(3));
    assert_eq!(c.call(&["TYPE", "dst"]), Resp::Simple("list".into()));
    assert_eq!(c.call(&["TTL", "dst"]), int(-1));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&["a", "b", "c"]));
    // The last STORE wins; the sorted key may be the destination.
    assert_eq!(c.call(&["SORT", "l", "ALPHA", "DESC", "STORE", "x", "STORE", "l"]), int(3));
    assert_eq!(c.call(&["EXISTS", "x"]), int(0));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), bulks(&["c", "b", "a"]));
    // An empty result deletes the destination and creates nothing.
    assert_eq!(c.call(&["SORT", "nokey", "STORE", "dst"]), int(0));
    assert_eq!(c.call(&["EXISTS", "dst"]), int(0));
    assert_eq!(c.call(&["SORT", "l", "ALPHA", "LIMIT", "10", "10", "STORE", "zap"]), int(0));
    assert_eq!(c.call(&["EXISTS", "zap"]), int(0));
    // Large results are stored whole.
    let many: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let mut args = vec!["RPUSH", "big"];
    args.extend(many.iter().rev().map(String::as_str));
    c.call(&args);
    assert_eq!(c.call(&["SORT", "big", "STORE", "bigsorted"]), int(1000));
    assert_eq!(c.call(&["LINDEX", "bigsorted", "999"]), bulk("999"));
    assert_eq!(c.call(&["LLEN", "bigsorted"]), int(1000));
    // SORT_RO has no STORE.
    assert_eq!(c.call(&["SORT_RO", "l", "STORE", "dst"]), err("ERR syntax error"));
    assert_eq!(c.call(&["EXISTS", "dst"]), int(0));
}

#[test]
fn store_wakes_blocked_poppers() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut waiter = s.raw();
    rpush(&mut c, "l", &["2", "1"]);
    waiter.cmd(&[b"BLPOP", b"dst", b"5"]);
    common::wait_for(5, "BLPOP blocks", || {
        info_field(&text(c.call(&["INFO", "clients"])), "blocked_clients").as_deref() == Some("1")
    });
    assert_eq!(c.call(&["SORT", "l", "STORE", "dst"]), int(2));
    assert_eq!(waiter.read(), bulks(&["dst", "1"]));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&["2"]));
}

#[test]
fn errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SET", "str", "x"]);
    c.call(&["HSET", "h", "f", "v"]);
    rpush(&mut c, "l", &["1"]);
    assert_eq!(c.call(&["SORT", "str"]), err(WRONGTYPE));
    assert_eq!(c.call(&["SORT_RO", "h"]), err(WRONGTYPE));
    // Option errors come before the type check.
    assert_eq!(c.call(&["SORT", "str", "FOO"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SORT", "l", "BY"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SORT", "l", "GET"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SORT", "l", "STORE"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SORT", "l", "ASC", "x"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SORT", "str", "LIMIT", "x", "1"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["SORT"]), err("ERR wrong number of arguments for 'sort' command"));
    assert_eq!(c.call(&["SORT_RO"]), err("ERR wrong number of arguments for 'sort_ro' command"));
}

#[test]
fn table_rows_and_keys() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let info = call(&mut c, &["COMMAND", "INFO", "sort", "sort_ro"]);
    let Resp::Array(Some(rows)) = info else { panic!("{info:?}") };
    let flags = |row: &Resp| match row {
        Resp::Array(Some(f)) => match &f[2] {
            Resp::Array(Some(v)) | Resp::Set(v) => v.iter().map(|x| text(x.clone())).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(flags(&rows[0]), ["write", "denyoom", "movablekeys"]);
    assert_eq!(flags(&rows[1]), ["readonly", "movablekeys"]);
    let Resp::Array(Some(row)) = &rows[0] else { panic!() };
    assert_eq!(row[1..2].to_vec(), [int(-2)]);
    // ACL categories as Redis's: the three container types, not @keyspace.
    let cats = |row: &Resp| match row {
        Resp::Array(Some(f)) => match &f[6] {
            Resp::Array(Some(v)) | Resp::Set(v) => v.iter().map(|x| text(x.clone())).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(cats(&rows[0]), ["@write", "@set", "@sortedset", "@list", "@slow", "@dangerous"]);
    assert_eq!(cats(&rows[1]), ["@read", "@set", "@sortedset", "@list", "@slow", "@dangerous"]);
    assert_eq!(row[3..6].to_vec(), [int(1), int(1), int(1)]);
    // COMMAND GETKEYS finds the sorted key and the last STORE destination.
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "sort", "abc", "store", "def"]), bulks(&["abc", "def"]));
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "sort_ro", "abc"]), bulks(&["abc"]));
    assert_eq!(
        c.call(&["COMMAND", "GETKEYS", "sort", "abc", "store", "invalid", "store", "stillbad", "store", "def"]),
        bulks(&["abc", "def"])
    );
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "sort", "abc", "get", "store", "limit", "0", "1"]), bulks(&["abc"]));
}

#[test]
fn lookups_count_keyspace_hits() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    rpush(&mut c, "l", &["1", "2"]);
    c.call(&["SET", "w_1", "5"]);
    c.call(&["CONFIG", "RESETSTAT"]);
    c.call(&["SORT", "l", "BY", "w_*", "GET", "w_*"]);
    let stats = text(c.call(&["INFO", "stats"]));
    // The list, w_1 twice (BY and GET); w_2 missed twice.
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("3"));
    assert_eq!(info_field(&stats, "keyspace_misses").as_deref(), Some("2"));
}

#[test]
fn store_touches_watched_keys_even_when_empty() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["LPUSH", "foo", "bar"]);
    assert_eq!(c.call(&["WATCH", "foo"]), Resp::Simple("OK".into()));
    assert_eq!(c.call(&["SORT", "emptylist", "STORE", "foo"]), int(0));
    assert_eq!(c.call(&["EXISTS", "foo"]), int(0));
    c.call(&["MULTI"]);
    c.call(&["PING"]);
    assert_eq!(c.call(&["EXEC"]), Resp::Array(None));
}

#[test]
fn sorted_sets() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for (score, m) in [("1", "a"), ("5", "b"), ("2", "c"), ("10", "d"), ("3", "e")] {
        assert_eq!(c.call(&["ZADD", "z", score, m]), int(1));
    }
    assert_eq!(c.call(&["SORT", "z", "ALPHA", "DESC"]), bulks(&["e", "d", "c", "b", "a"]));
    assert_eq!(c.call(&["SORT", "z"]), err(NOT_DOUBLE));
    // BY nosort keeps the score order, LIMIT applies to it.
    assert_eq!(c.call(&["SORT", "z", "BY", "nosort"]), bulks(&["a", "c", "e", "b", "d"]));
    assert_eq!(c.call(&["SORT", "z", "BY", "nosort", "DESC"]), bulks(&["d", "b", "e", "c", "a"]));
    let cases: &[(&str, &str, &str, &[&str])] = &[
        ("0", "1", "ASC", &["a"]),
        ("0", "1", "DESC", &["d"]),
        ("0", "2", "ASC", &["a", "c"]),
        ("0", "2", "DESC", &["d", "b"]),
        ("1", "2", "ASC", &["c", "e"]),
        ("1", "2", "DESC", &["b", "e"]),
        ("3", "-1", "DESC", &["c", "a"]),
        ("5", "10", "ASC", &[]),
        ("0", "0", "DESC", &[]),
        ("-10", "100", "ASC", &["a", "c", "e", "b", "d"]),
    ];
    for &(start, count, dir, want) in cases {
        assert_eq!(
            c.call(&["SORT", "z", "BY", "nosort", "LIMIT", start, count, dir]),
            bulks(want),
            "{start} {count} {dir}"
        );
    }
    assert_eq!(c.call(&["SORT", "z", "BY", "nosort", "DESC", "STORE", "dst"]), int(5));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&["d", "b", "e", "c", "a"]));
    // BY and GET over the members.
    for (m, w) in [("a", "5"), ("b", "4"), ("c", "3"), ("d", "2"), ("e", "1")] {
        c.call(&["SET", &format!("w_{m}"), w]);
    }
    assert_eq!(
        c.call(&["SORT", "z", "BY", "w_*", "GET", "#", "GET", "w_*"]),
        bulks(&["e", "1", "d", "2", "c", "3", "b", "4", "a", "5"])
    );
    // Numeric members, and a large (skip-list) sorted set.
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..300 {
        args.push((300 - i).to_string());
        args.push(i.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.call(&args), int(300));
    let Resp::Array(Some(v)) = c.call(&["SORT", "big"]) else { panic!("array") };
    assert_eq!(v.len(), 300);
    assert_eq!((v[0].clone(), v[299].clone()), (bulk("0"), bulk("299")));
    assert_eq!(c.call(&["SORT", "big", "BY", "nosort", "LIMIT", "0", "3"]), bulks(&["299", "298", "297"]));
    assert_eq!(c.call(&["SORT", "big", "BY", "nosort", "LIMIT", "1", "2", "DESC"]), bulks(&["1", "2"]));
    assert_eq!(c.call(&["SORT", "big", "LIMIT", "10", "2", "DESC"]), bulks(&["289", "288"]));
}

#[test]
fn sets() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SADD", "ints", "3", "1", "20", "2"]);
    assert_eq!(c.call(&["SORT", "ints"]), bulks(&["1", "2", "3", "20"]));
    assert_eq!(c.call(&["SORT", "ints", "DESC", "LIMIT", "0", "2"]), bulks(&["20", "3"]));
    assert_eq!(c.call(&["SORT", "ints", "ALPHA"]), bulks(&["1", "2", "20", "3"]));
    let words = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "z", "aa",
        "aaa", "azz",
    ];
    let mut sorted = words.to_vec();
    sorted.sort();
    let mut args = vec!["SADD", "s"];
    args.extend_from_slice(&words);
    c.call(&args);
    // A constant BY without STORE keeps the set's own order (some permutation) ...
    let Resp::Array(Some(v)) = c.call(&["SORT", "s", "BY", "_"]) else { panic!("array") };
    let mut got: Vec<String> = v.into_iter().map(text).collect();
    got.sort();
    assert_eq!(got, sorted);
    // ... but with STORE the result is sorted by bytes, as Redis does.
    assert_eq!(c.call(&["SORT", "s", "BY", "_", "STORE", "dst"]), int(24));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&sorted));
    assert_eq!(c.call(&["SORT", "s", "BY", "_", "DESC", "LIMIT", "0", "2", "STORE", "dst"]), int(2));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&["z", "v"]));
    // Equal BY scores fall back to the members' bytes.
    for w in words {
        c.call(&["SET", &format!("score:{w}"), "100"]);
    }
    assert_eq!(c.call(&["SORT", "s", "BY", "score:*"]), bulks(&sorted));
    assert_eq!(c.call(&["SORT", "s"]), err(NOT_DOUBLE));
    // BY with values, GET with an integer-valued string, STORE.
    c.call(&["DEL", "myset"]);
    c.call(&["SADD", "myset", "1", "2"]);
    c.call(&["MSET", "S1", "asdf", "S2", "123", "D1", "2", "D2", "1"]);
    assert_eq!(c.call(&["SORT", "myset", "BY", "D*", "GET", "S*", "STORE", "mylist"]), int(2));
    assert_eq!(c.call(&["LRANGE", "mylist", "0", "-1"]), bulks(&["123", "asdf"]));
    c.call(&["MSET", "score:1", "10", "score:2", "x"]);
    assert_eq!(c.call(&["SORT", "myset", "BY", "score:*"]), err(NOT_DOUBLE));
}

#[test]
fn by_and_get_need_read_access_to_every_key() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    admin.call(&["SET", "v1", "1"]);
    admin.call(&["LPUSH", "mylist", "1"]);
    let by_denied = err("ERR BY option of SORT denied due to insufficient ACL permissions.");
    let get_denied = err("ERR GET option of SORT denied due to insufficient ACL permissions.");
    for (rules, allowed) in [
        (&["~mylist"][..], false),
        (&["~mylist", "~v*"], false),
        (&["~mylist", "%W~*"], false),
        (&["~mylist", "%R~*"], true),
        (&["allkeys"], true),
    ] {
        admin.call(&["ACL", "DELUSER", "u"]);
        let mut args = vec!["ACL", "SETUSER", "u", "on", "nopass", "+sort"];
        args.extend_from_slice(rules);
        assert_eq!(admin.call(&args), Resp::Simple("OK".into()));
        let mut c = s.raw();
        assert_eq!(c.call(&["AUTH", "u", "x"]), Resp::Simple("OK".into()));
        let (by, get) = if allowed { (bulks(&["1"]), bulks(&["1"])) } else { (by_denied.clone(), get_denied.clone()) };
        assert_eq!(c.call(&["SORT", "mylist", "BY", "v*"]), by, "{rules:?}");
        assert_eq!(c.call(&["SORT", "mylist", "GET", "v*"]), get, "{rules:?}");
        // A constant BY reads no other key: allowed.
        assert_eq!(c.call(&["SORT", "mylist", "BY", "nosort"]), bulks(&["1"]), "{rules:?}");
    }
}
