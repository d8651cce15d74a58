//! Set commands against the real server: replies, error texts and edge
//! cases as Redis 7.0 gives them, the intset → hashtable switch, RESP3
//! shapes, random members, the algebra and its STORE forms, SSCAN
//! completeness and writes that change nothing. Random commands against a
//! `BTreeSet` model and the memory small sets cost: [`model`].

mod common;
#[path = "sets/model.rs"]
mod model;
use std::collections::{BTreeSet, HashMap, HashSet};

use common::{arr, bulk, dirty, encoding, err, int, nil, ok, sorted_strings, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// `items` as sorted owned strings.
fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The raw (unsorted) strings of an array or set reply.
use common::strings as raw_members;

/// SADD of `members` in one command; returns how many were new.
fn sadd(c: &mut Raw, key: &str, members: impl IntoIterator<Item = String>) -> i64 {
    let mut args = vec!["SADD".to_string(), key.to_string()];
    args.extend(members);
    match c.call_owned(&args) {
        Resp::Int(n) => n,
        other => panic!("{other:?}"),
    }
}

#[test]
fn sadd_and_membership_queries() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for (key, m) in [("ints", ["17", "16", "18"]), ("strs", ["foo", "bar", "bla"])] {
        assert_eq!(c.call(&["SADD", key, m[0]]), int(1));
        assert_eq!(c.call(&["SADD", key, m[1]]), int(1));
        assert_eq!(c.call(&["SADD", key, m[1]]), int(0));
        assert_eq!(c.call(&["SCARD", key]), int(2));
        assert_eq!(c.call(&["SISMEMBER", key, m[0]]), int(1));
        assert_eq!(c.call(&["SISMEMBER", key, m[2]]), int(0));
        assert_eq!(c.call(&["SMISMEMBER", key, m[0], m[2], m[1]]), common::ints(&[1, 0, 1]));
        assert_eq!(sorted_strings(c.call(&["SMEMBERS", key])), sorted(&[m[0], m[1]]));
        assert_eq!(c.call(&["TYPE", key]), common::status("set"));
    }
    assert_eq!(encoding(&mut c, "ints"), "intset");
    assert_eq!(encoding(&mut c, "strs"), "hashtable");
    assert_eq!(c.call(&["SADD", "v", "a", "b", "c"]), int(3));
    assert_eq!(c.call(&["SADD", "v", "A", "a", "b", "c", "B"]), int(2));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "v"])), sorted(&["A", "B", "a", "b", "c"]));
    // Missing keys are empty sets.
    assert_eq!(c.call(&["SCARD", "nokey"]), int(0));
    assert_eq!(c.call(&["SISMEMBER", "nokey", "a"]), int(0));
    assert_eq!(c.call(&["SMISMEMBER", "nokey", "a", "b"]), common::ints(&[0, 0]));
    assert_eq!(c.call(&["SMEMBERS", "nokey"]), arr(vec![]));
    // Binary-safe members, including the empty one.
    assert_eq!(c.call(&["SADD", "bin", "", "a\r\nb"]), int(2));
    assert_eq!(c.call(&["SISMEMBER", "bin", ""]), int(1));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "bin"])), sorted(&["", "a\r\nb"]));
}

#[test]
fn srem_and_key_removal() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for m in [["foo", "bar", "ciao"], ["3", "4", "5"]] {
        c.call(&["DEL", "s"]);
        assert_eq!(c.call(&["SADD", "s", m[0], m[1], m[2]]), int(3));
        assert_eq!(c.call(&["SREM", "s", "qux"]), int(0));
        assert_eq!(c.call(&["SREM", "s", m[1], m[1]]), int(1));
        assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s"])), sorted(&[m[0], m[2]]));
    }
    assert_eq!(c.call(&["SREM", "nokey", "a"]), int(0));
    c.call(&["DEL", "s"]);
    assert_eq!(c.call(&["SADD", "s", "1", "2", "3"]), int(3));
    assert_eq!(c.call(&["SREM", "s", "1", "2", "3", "4", "5"]), int(3));
    assert_eq!(c.call(&["EXISTS", "s"]), int(0));
}

#[test]
fn arity_syntax_and_wrong_type_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for cmd in [
        &["SADD", "s"][..],
        &["SREM", "s"],
        &["SCARD"],
        &["SISMEMBER", "s"],
        &["SMISMEMBER", "s"],
        &["SMEMBERS"],
        &["SRANDMEMBER"],
        &["SPOP"],
        &["SMOVE", "a", "b"],
        &["SINTER"],
        &["SINTERCARD", "1"],
        &["SINTERSTORE", "d"],
        &["SUNION"],
        &["SUNIONSTORE", "d"],
        &["SDIFF"],
        &["SDIFFSTORE", "d"],
        &["SSCAN", "s"],
    ] {
        let want = format!("ERR wrong number of arguments for '{}' command", cmd[0].to_lowercase());
        assert_eq!(c.call(cmd), err(&want), "{cmd:?}");
    }
    c.call(&["SET", "str", "x"]);
    c.call(&["SADD", "s", "a"]);
    for cmd in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SCARD", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "3"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SINTER", "s", "str"],
        &["SINTER", "nokey", "str"],
        &["SINTERCARD", "2", "nokey", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNION", "s", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFF", "str", "s"],
        &["SDIFF", "nokey", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(c.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    // A failed STORE leaves the destination alone.
    assert_eq!(c.call(&["SMEMBERS", "s"]), arr(vec![bulk("a")]));
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));
    assert_eq!(c.call(&["SRANDMEMBER", "s", "1", "2"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SPOP", "s", "1", "2"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SRANDMEMBER", "s", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(
        c.call(&["SRANDMEMBER", "s", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(c.call(&["SPOP", "s", "-1"]), err("ERR value is out of range, must be positive"));
    assert_eq!(c.call(&["SPOP", "s", "x"]), err("ERR value is not an integer or out of range"));
    // The count is checked before the key's type, as in Redis.
    assert_eq!(c.call(&["SPOP", "str", "-1"]), err("ERR value is out of range, must be positive"));
}

#[test]
fn intset_converts_at_the_limit_and_on_non_integers() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(sadd(&mut c, "s", (0..512).map(|i| i.to_string())), 512);
    assert_eq!(encoding(&mut c, "s"), "intset");
    assert_eq!(c.call(&["SADD", "s", "511"]), int(0));
    assert_eq!(encoding(&mut c, "s"), "intset");
    assert_eq!(c.call(&["SADD", "s", "512"]), int(1));
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    assert_eq!(c.call(&["SREM", "s", "512", "511"]), int(2));
    assert_eq!(encoding(&mut c, "s"), "hashtable", "Redis never converts back");
    assert_eq!(c.call(&["SCARD", "s"]), int(511));

    // One command crossing the limit.
    assert_eq!(sadd(&mut c, "t", (0..513).map(|i| (i * 1000).to_string())), 513);
    assert_eq!(encoding(&mut c, "t"), "hashtable");

    assert_eq!(c.call(&["SADD", "n", "1", "2", "3"]), int(3));
    assert_eq!(encoding(&mut c, "n"), "intset");
    assert_eq!(c.call(&["SADD", "n", "a"]), int(1));
    assert_eq!(encoding(&mut c, "n"), "hashtable");
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "n"])), sorted(&["1", "2", "3", "a"]));
    // Not integers by Redis's rules.
    for m in ["01", "+1", "-0", " 1", "1.0", "9223372036854775808", "213244124402402314402033402"] {
        c.call(&["DEL", "x"]);
        assert_eq!(c.call(&["SADD", "x", m]), int(1));
        assert_eq!(encoding(&mut c, "x"), "hashtable", "{m}");
        assert_eq!(c.call(&["SISMEMBER", "x", m]), int(1));
    }
    c.call(&["DEL", "x"]);
    assert_eq!(c.call(&["SADD", "x", "-9223372036854775808", "9223372036854775807", "0"]), int(3));
    assert_eq!(encoding(&mut c, "x"), "intset");
    assert_eq!(
        sorted_strings(c.call(&["SMEMBERS", "x"])),
        sorted(&["-9223372036854775808", "9223372036854775807", "0"])
    );

    // The limit is a setting.
    assert_eq!(c.call(&["CONFIG", "SET", "set-max-intset-entries", "3"]), ok());
    assert_eq!(c.call(&["SADD", "c", "1", "2", "3"]), int(3));
    assert_eq!(encoding(&mut c, "c"), "intset");
    assert_eq!(c.call(&["SADD", "c", "4"]), int(1));
    assert_eq!(encoding(&mut c, "c"), "hashtable");
    assert_eq!(c.call(&["CONFIG", "SET", "set-max-intset-entries", "0"]), ok());
    assert_eq!(c.call(&["SADD", "z", "1"]), int(1));
    assert_eq!(encoding(&mut c, "z"), "hashtable");
}

#[test]
fn resp3_replies_are_sets_where_redis_gives_sets() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(c.call(&["SADD", "a", "1", "2"]), int(2));
    assert_eq!(c.call(&["SADD", "b", "2", "3"]), int(2));
    assert_eq!(c.call(&["SMEMBERS", "a"]), Resp::Set(vec![bulk("1"), bulk("2")]));
    assert_eq!(c.call(&["SMEMBERS", "nokey"]), Resp::Set(vec![]));
    assert_eq!(c.call(&["SINTER", "a", "b"]), Resp::Set(vec![bulk("2")]));
    assert!(matches!(c.call(&["SUNION", "a", "b"]), Resp::Set(v) if v.len() == 3));
    assert_eq!(c.call(&["SDIFF", "a", "b"]), Resp::Set(vec![bulk("1")]));
    assert!(matches!(c.call(&["SRANDMEMBER", "a", "2"]), Resp::Array(Some(v)) if v.len() == 2));
    assert_eq!(c.call(&["SRANDMEMBER", "nokey"]), Resp::Null);
    assert_eq!(c.call(&["SPOP", "nokey"]), Resp::Null);
    assert_eq!(c.call(&["SPOP", "nokey", "3"]), Resp::Set(vec![]));
    assert!(matches!(c.call(&["SPOP", "a", "1"]), Resp::Set(v) if v.len() == 1));
    // SSCAN stays a flat array.
    assert_eq!(c.call(&["SSCAN", "b", "0"]), arr(vec![bulk("0"), arr(vec![bulk("2"), bulk("3")])]));
    // RESP2: the same replies as arrays.
    assert!(matches!(c.call(&["HELLO", "2"]), Resp::Array(_)));
    assert_eq!(c.call(&["SMEMBERS", "b"]), arr(vec![bulk("2"), bulk("3")]));
    assert_eq!(c.call(&["SPOP", "nokey", "3"]), arr(vec![]));
}

#[test]
fn srandmember_count_semantics() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let ints: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let strs: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let big: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    for (key, all) in [("ints", &ints), ("strs", &strs), ("big", &big)] {
        sadd(&mut c, key, all.iter().cloned());
        let all_set: HashSet<String> = all.iter().cloned().collect();
        assert_eq!(c.call(&["SRANDMEMBER", key, "0"]), arr(vec![]));
        let one = common::text(c.call(&["SRANDMEMBER", key]));
        assert!(all_set.contains(&one));
        // Negative: repeats allowed, exactly |count| members.
        let rep = raw_members(c.call(&["SRANDMEMBER", key, "-3000"]));
        assert_eq!(rep.len(), 3000);
        assert!(rep.iter().all(|m| all_set.contains(m)));
        assert!(rep.iter().collect::<HashSet<_>>().len() < 3000);
        // At least the size: the whole set.
        for n in [all.len(), all.len() + 50] {
            let got = sorted_strings(c.call(&["SRANDMEMBER", key, &n.to_string()]));
            assert_eq!(got, sorted_strings(c.call(&["SMEMBERS", key])));
        }
        // Fewer: distinct members of the set (both strategies).
        for n in [all.len() - 1, all.len() * 2 / 3, 5, 1] {
            let got = raw_members(c.call(&["SRANDMEMBER", key, &n.to_string()]));
            assert_eq!(got.len(), n);
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), n, "distinct");
            assert!(got.iter().all(|m| all_set.contains(m)));
        }
        // Every member shows up eventually (for 1,000 members, 2,000 draws
        // of 5 missed one 4.5% of the time; 20,000 miss one with odds of
        // 1e-40, and the loop ends as soon as all were seen).
        let mut seen = HashSet::new();
        for _ in 0..20_000 {
            seen.extend(raw_members(c.call(&["SRANDMEMBER", key, "5"])));
            if seen.len() == all.len() {
                break;
            }
        }
        assert_eq!(seen, all_set, "{key}");
        assert_eq!(c.call(&["SCARD", key]), int(all.len() as i64), "a read never removes");
    }
    assert_eq!(c.call(&["SRANDMEMBER", "nokey"]), nil());
    assert_eq!(c.call(&["SRANDMEMBER", "nokey", "5"]), arr(vec![]));
    assert_eq!(c.call(&["SRANDMEMBER", "nokey", "-5"]), arr(vec![]));
}

#[test]
fn srandmember_is_roughly_uniform() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for (key, members) in [("i", "0 1 2 3 4 5 6 7 8 9"), ("h", "1 5 10 50 125 MARY PATRICIA LINDA BARBARA ELIZABETH")] {
        let ms: Vec<String> = members.split(' ').map(String::from).collect();
        sadd(&mut c, key, ms.iter().cloned());
        let chi_square = |draws: &[String]| {
            let mut counts: HashMap<&str, f64> = HashMap::new();
            for d in draws {
                *counts.entry(d).or_default() += 1.0;
            }
            let expected = draws.len() as f64 / ms.len() as f64;
            ms.iter()
                .map(|m| (counts.get(m.as_str()).copied().unwrap_or(0.0) - expected).powi(2) / expected)
                .sum::<f64>()
        };
        // df = 9: 40 has a probability of 1e-5 (Redis's own threshold).
        let draws = raw_members(c.call(&["SRANDMEMBER", key, "-1000"]));
        assert!(chi_square(&draws) < 40.0, "{key} negative");
        for size in [8, 2] {
            let mut draws = Vec::new();
            for _ in 0..1000 / size {
                draws.extend(raw_members(c.call(&["SRANDMEMBER", key, &size.to_string()])));
            }
            assert!(chi_square(&draws) < 40.0, "{key} count {size}");
        }
    }
}

#[test]
fn spop_with_and_without_count() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for contents in [&["a", "b", "c"][..], &["1", "2", "3"]] {
        c.call(&["DEL", "s"]);
        let mut args = vec!["SADD", "s"];
        args.extend(contents);
        c.call(&args);
        let mut popped: Vec<String> = (0..3).map(|_| common::text(c.call(&["SPOP", "s"]))).collect();
        popped.sort();
        assert_eq!(popped, contents);
        assert_eq!(c.call(&["EXISTS", "s"]), int(0));
        assert_eq!(c.call(&["SPOP", "s"]), nil());
    }
    let ints: Vec<String> = (1..=26).map(|i| i.to_string()).collect();
    let strs: Vec<String> = (b'a'..=b'z').map(|b| (b as char).to_string()).collect();
    let big: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    for all in [&ints, &strs, &big] {
        sadd(&mut c, "s", all.iter().cloned());
        let mut got = Vec::new();
        let mut left = all.len();
        for n in [11, 9, 0, 4, 1, 0, 300, 1, 0, 1000] {
            let part = raw_members(c.call(&["SPOP", "s", &n.to_string()]));
            assert_eq!(part.len(), n.min(left));
            left -= part.len();
            got.extend(part);
            assert_eq!(c.call(&["SCARD", "s"]), int(left as i64));
        }
        got.sort();
        let mut want = all.clone();
        want.sort();
        assert_eq!(got, want, "every member popped exactly once");
        assert_eq!(c.call(&["EXISTS", "s"]), int(0));
    }
    assert_eq!(c.call(&["SPOP", "nokey", "100"]), arr(vec![]));
    // Popping the whole set at once, and keeping a TTL otherwise.
    sadd(&mut c, "s", ints.iter().cloned());
    assert_eq!(c.call(&["EXPIRE", "s", "1000"]), int(1));
    assert_eq!(raw_members(c.call(&["SPOP", "s", "2"])).len(), 2);
    assert!(matches!(c.call(&["TTL", "s"]), Resp::Int(t) if t > 900));
    assert_eq!(raw_members(c.call(&["SPOP", "s", "30"])).len(), 24);
    assert_eq!(c.call(&["EXISTS", "s"]), int(0));
}

#[test]
fn smove_between_sets() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let setup = |c: &mut Raw| {
        c.call(&["DEL", "s1", "s2", "s3"]);
        c.call(&["SADD", "s1", "1", "a", "b"]);
        c.call(&["SADD", "s2", "2", "3", "4"]);
    };
    setup(&mut c);
    assert_eq!(c.call(&["SMOVE", "s1", "s2", "a"]), int(1));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s1"])), sorted(&["1", "b"]));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s2"])), sorted(&["2", "3", "4", "a"]));
    assert_eq!(encoding(&mut c, "s2"), "hashtable");
    setup(&mut c);
    assert_eq!(c.call(&["SMOVE", "s1", "s2", "1"]), int(1));
    assert_eq!(encoding(&mut c, "s2"), "intset");
    setup(&mut c);
    assert_eq!(c.call(&["SMOVE", "s2", "s1", "2"]), int(1));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s1"])), sorted(&["1", "2", "a", "b"]));
    setup(&mut c);
    assert_eq!(c.call(&["SMOVE", "s1", "s2", "foo"]), int(0));
    assert_eq!(c.call(&["SMOVE", "s1", "s1", "foo"]), int(0));
    assert_eq!(c.call(&["SMOVE", "s1", "s1", "a"]), int(1));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s1"])), sorted(&["1", "a", "b"]));
    assert_eq!(c.call(&["SMOVE", "noset", "s2", "foo"]), int(0));
    // A missing source answers 0 even when the destination has another type.
    c.call(&["SET", "str", "x"]);
    assert_eq!(c.call(&["SMOVE", "noset", "str", "foo"]), int(0));
    assert_eq!(c.call(&["SMOVE", "s1", "s3", "a"]), int(1));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s3"])), sorted(&["a"]));
    assert_eq!(c.call(&["SMOVE", "s2", "s3", "2"]), int(1));
    // The last member: the source goes away.
    c.call(&["DEL", "one"]);
    c.call(&["SADD", "one", "x"]);
    assert_eq!(c.call(&["SMOVE", "one", "s3", "x"]), int(1));
    assert_eq!(c.call(&["EXISTS", "one"]), int(0));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s3"])), sorted(&["2", "a", "x"]));
}

#[test]
fn writes_that_change_nothing_are_not_writes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut other = s.raw();
    c.call(&["SADD", "src", "a", "b"]);
    c.call(&["SADD", "dst", "a"]);
    let before = dirty(&mut c);
    c.call(&["SADD", "dst", "a"]);
    c.call(&["SREM", "dst", "zz"]);
    c.call(&["SREM", "nokey", "zz"]);
    c.call(&["SMOVE", "src", "dst", "zz"]);
    c.call(&["SPOP", "nokey"]);
    c.call(&["SPOP", "dst", "0"]);
    assert_eq!(dirty(&mut c), before);
    // WATCHed destination untouched when the moved member is already there.
    assert_eq!(c.call(&["WATCH", "dst"]), ok());
    assert_eq!(other.call(&["SMOVE", "src", "dst", "a"]), int(1));
    assert_eq!(other.call(&["SADD", "dst", "a"]), int(0));
    assert_eq!(other.call(&["SREM", "dst", "nope"]), int(0));
    assert_eq!(c.call(&["MULTI"]), ok());
    c.call(&["SADD", "dst", "c"]);
    assert_eq!(c.call(&["EXEC"]), arr(vec![int(1)]));
    assert_eq!(c.call(&["SCARD", "dst"]), int(2));
    // A real change does abort it.
    assert_eq!(c.call(&["WATCH", "dst"]), ok());
    assert_eq!(other.call(&["SREM", "dst", "c"]), int(1));
    c.call(&["MULTI"]);
    c.call(&["SADD", "dst", "d"]);
    assert_eq!(c.call(&["EXEC"]), Resp::Array(None));
}

/// Creates the sets of Redis's algebra tests, in the intset or table form.
fn algebra_fixture(c: &mut Raw, large: &str) {
    c.call(&["DEL", "set1", "set2", "set3", "set4", "set5"]);
    sadd(c, "set1", (0..200).map(|i| i.to_string()));
    sadd(c, "set2", (195..395).map(|i| i.to_string()));
    sadd(c, "set3", ["199", "195", "1000", "2000"].map(String::from));
    sadd(c, "set4", (5..200).map(|i| i.to_string()));
    sadd(c, "set5", ["0".to_string()]);
    for k in ["set1", "set2", "set3", "set4", "set5"] {
        c.call(&["SADD", k, large]);
    }
}

#[test]
fn inter_union_diff_in_both_encodings() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for (large, enc) in [("200", "intset"), ("foo", "hashtable")] {
        algebra_fixture(&mut c, large);
        assert_eq!(encoding(&mut c, "set1"), enc);
        let range = |a: i32, b: i32| (a..b).map(|i| i.to_string()).collect::<Vec<_>>();
        let with = |mut v: Vec<String>, extra: &[&str]| {
            v.extend(extra.iter().map(|s| s.to_string()));
            v.sort();
            v
        };
        assert_eq!(sorted_strings(c.call(&["SINTER", "set1", "set2"])), with(range(195, 200), &[large]));
        assert_eq!(c.call(&["SINTERCARD", "2", "set1", "set2"]), int(6));
        for (limit, want) in [("0", 6), ("1", 1), ("3", 3), ("10", 6)] {
            assert_eq!(c.call(&["SINTERCARD", "2", "set1", "set2", "LIMIT", limit]), int(want));
        }
        assert_eq!(c.call(&["SINTERSTORE", "setres", "set1", "set2"]), int(6));
        assert_eq!(sorted_strings(c.call(&["SMEMBERS", "setres"])), with(range(195, 200), &[large]));
        assert_eq!(encoding(&mut c, "setres"), enc);
        assert_eq!(
            sorted_strings(c.call(&["SUNION", "set1", "set2"])),
            with(range(0, 395), if large == "foo" { &["foo"] } else { &[] })
        );
        assert_eq!(c.call(&["SUNIONSTORE", "setres", "set1", "set2"]), int(if large == "foo" { 396 } else { 395 }));
        assert_eq!(sorted_strings(c.call(&["SINTER", "set1", "set2", "set3"])), with(vec![], &["195", "199", large]));
        assert_eq!(c.call(&["SINTERCARD", "3", "set1", "set2", "set3"]), int(3));
        assert_eq!(c.call(&["SINTERSTORE", "setres", "set1", "set2", "set3"]), int(3));
        assert_eq!(
            sorted_strings(c.call(&["SUNION", "set1", "set2", "set3", "set4", "nokey"])).len(),
            if large == "foo" { 398 } else { 397 }
        );
        assert_eq!(sorted_strings(c.call(&["SDIFF", "set1", "set4"])), with(range(0, 5), &[]));
        assert_eq!(sorted_strings(c.call(&["SDIFF", "set1", "set4", "set5"])), with(range(1, 5), &[]));
        assert_eq!(c.call(&["SDIFFSTORE", "setres", "set1", "set4", "set5"]), int(4));
        assert_eq!(sorted_strings(c.call(&["SMEMBERS", "setres"])), with(range(1, 5), &[]));
        // The same set several times.
        assert_eq!(
            sorted_strings(c.call(&["SINTER", "set1", "set1", "set1"])),
            sorted_strings(c.call(&["SMEMBERS", "set1"]))
        );
        assert_eq!(
            sorted_strings(c.call(&["SUNION", "set1", "set1", "set1"])),
            sorted_strings(c.call(&["SMEMBERS", "set1"]))
        );
        assert_eq!(c.call(&["SDIFF", "set1", "set1", "set1"]), arr(vec![]));
        assert_eq!(c.call(&["SDIFF", "set1", "set4", "set1"]), arr(vec![]));
        // The sources are left as they were.
        assert_eq!(c.call(&["SCARD", "set1"]), int(201));
    }
    // Missing keys are empty sets.
    assert_eq!(c.call(&["SINTER", "set1", "nokey"]), arr(vec![]));
    assert_eq!(c.call(&["SINTERCARD", "1", "nokey", "LIMIT", "10"]), int(0));
    assert_eq!(c.call(&["SDIFF", "nokey", "set1"]), arr(vec![]));
    assert_eq!(sorted_strings(c.call(&["SDIFF", "set5", "nokey"])), sorted(&["0", "foo"]));
    c.call(&["DEL", "e"]);
    c.call(&["SADD", "e", "x"]);
    c.call(&["SREM", "e", "x"]);
    assert_eq!(c.call(&["SDIFF", "e", "set1"]), arr(vec![]));
    // Intersections of integers stored in different encodings.
    c.call(&["SADD", "ia", "1", "2", "3"]);
    c.call(&["SADD", "ib", "1", "2", "3", "x"]);
    c.call(&["SREM", "ib", "x"]);
    assert_eq!(sorted_strings(c.call(&["SINTER", "ia", "ib"])), sorted(&["1", "2", "3"]));
}

#[test]
fn store_forms_overwrite_clear_ttl_and_delete_on_empty() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SADD", "a", "1", "2", "x"]);
    c.call(&["SADD", "b", "2", "3", "x"]);
    for cmd in ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"] {
        c.call(&["SET", "dst", "old string"]);
        assert_eq!(c.call(&["EXPIRE", "dst", "1000"]), int(1));
        let n = match c.call(&[cmd, "dst", "a", "b"]) {
            Resp::Int(n) => n,
            other => panic!("{cmd}: {other:?}"),
        };
        assert!(n > 0);
        assert_eq!(c.call(&["TYPE", "dst"]), common::status("set"));
        assert_eq!(c.call(&["TTL", "dst"]), int(-1), "{cmd} clears the TTL");
        assert_eq!(c.call(&["SCARD", "dst"]), int(n));
        // An empty result deletes the destination, whatever it held.
        assert_eq!(c.call(&[cmd, "dst", "nokey1", "nokey2"]), int(0), "{cmd}");
        assert_eq!(c.call(&["EXISTS", "dst"]), int(0), "{cmd}");
    }
    // The destination may be a source.
    assert_eq!(c.call(&["SUNIONSTORE", "a", "a", "b"]), int(4));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "a"])), sorted(&["1", "2", "3", "x"]));
    assert_eq!(c.call(&["SDIFFSTORE", "a", "a", "b"]), int(1));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "a"])), sorted(&["1"]));
    assert_eq!(c.call(&["SINTERSTORE", "a", "a", "b"]), int(0));
    assert_eq!(c.call(&["EXISTS", "a"]), int(0));
    // A result of integers only is an intset again.
    c.call(&["SADD", "m", "1", "2", "z"]);
    c.call(&["SADD", "n", "z"]);
    assert_eq!(c.call(&["SDIFFSTORE", "r", "m", "n"]), int(2));
    assert_eq!(encoding(&mut c, "r"), "intset");
    // Storing nothing into a missing key is not a write.
    let before = dirty(&mut c);
    assert_eq!(c.call(&["SINTERSTORE", "none", "nokey", "m"]), int(0));
    assert_eq!(dirty(&mut c), before);
}

#[test]
fn sintercard_argument_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let numkeys = "ERR numkeys should be greater than 0";
    let nkeys = "ERR Number of keys can't be greater than number of args";
    assert_eq!(c.call(&["SINTERCARD", "0", "s"]), err(numkeys));
    assert_eq!(c.call(&["SINTERCARD", "a", "s"]), err(numkeys));
    assert_eq!(c.call(&["SINTERCARD", "-1", "s"]), err(numkeys));
    assert_eq!(c.call(&["SINTERCARD", "2", "s"]), err(nkeys));
    assert_eq!(c.call(&["SINTERCARD", "3", "s", "t"]), err(nkeys));
    for extra in [&["t"][..], &["bar_arg"], &["LIMIT"], &["LIMIT", "1", "LIMIT"]] {
        let mut args = vec!["SINTERCARD", "1", "s"];
        args.extend(extra);
        assert_eq!(c.call(&args), err("ERR syntax error"), "{extra:?}");
    }
    assert_eq!(c.call(&["SINTERCARD", "1", "s", "LIMIT", "-1"]), err("ERR LIMIT can't be negative"));
    assert_eq!(c.call(&["SINTERCARD", "1", "s", "LIMIT", "a"]), err("ERR LIMIT can't be negative"));
    assert_eq!(c.call(&["SINTERCARD", "1", "s", "limit", "1", "LIMIT", "2"]), int(0));
}

/// Splits an SSCAN reply into its next cursor and members.
fn scan_parts(r: Resp) -> (u64, Vec<String>) {
    match r {
        Resp::Array(Some(mut parts)) if parts.len() == 2 => {
            let items = raw_members(parts.pop().unwrap());
            (common::text(parts.pop().unwrap()).parse().unwrap(), items)
        }
        other => panic!("bad scan reply {other:?}"),
    }
}

#[test]
fn sscan_small_sets_whole_and_large_sets_completely() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["SSCAN", "nokey", "0"]), arr(vec![bulk("0"), arr(vec![])]));
    c.call(&["SADD", "small", "foo", "bar", "foz"]);
    c.call(&["SADD", "ints", "3", "1", "2"]);
    let (cur, items) = scan_parts(c.call(&["SSCAN", "small", "0", "COUNT", "1"]));
    assert_eq!(
        (cur, sorted_strings(arr(items.iter().map(|s| bulk(s)).collect()))),
        (0, sorted(&["bar", "foo", "foz"]))
    );
    assert_eq!(scan_parts(c.call(&["SSCAN", "small", "0", "MATCH", "fo*"])).1.len(), 2);
    assert_eq!(
        scan_parts(c.call(&["SSCAN", "ints", "0", "COUNT", "1"])),
        (0, vec!["1".into(), "2".into(), "3".into()])
    );
    assert_eq!(c.call(&["SSCAN", "small", "x"]), err("ERR invalid cursor"));
    assert_eq!(c.call(&["SSCAN", "small", "0", "COUNT", "0"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SSCAN", "small", "0", "MATCH"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SSCAN", "small", "0", "NOVALUES"]), err("ERR syntax error"));

    // A table: many calls, every member exactly once, also while members
    // that are not part of the check come and go.
    let n = 2000;
    sadd(&mut c, "big", (0..n).map(|i| format!("m{i}")));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    for (count, churn) in [("10", false), ("1", false), ("37", true)] {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut cursor = 0u64;
        let mut calls = 0;
        loop {
            let (next, items) = scan_parts(c.call(&["SSCAN", "big", &cursor.to_string(), "COUNT", count]));
            calls += 1;
            for m in items {
                *seen.entry(m).or_default() += 1;
            }
            if churn {
                c.call(&["SADD", "big", &format!("tmp{calls}")]);
                c.call(&["SREM", "big", &format!("tmp{}", calls / 2)]);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(calls > 1);
        for i in 0..n {
            let k = format!("m{i}");
            let times = seen.get(&k).copied().unwrap_or(0);
            assert!(times >= 1, "{k} missed (count {count})");
            if !churn {
                assert_eq!(times, 1, "{k} (count {count})");
            }
        }
    }
    let (_, got) = scan_parts(c.call(&["SSCAN", "big", "0", "COUNT", "5000", "MATCH", "m1?"]));
    assert_eq!(
        sorted_strings(arr(got.iter().map(|s| bulk(s)).collect())),
        (10..20).map(|i| format!("m{i}")).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>()
    );
}
