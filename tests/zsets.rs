//! Sorted set commands against the real server: replies, error texts and
//! edge cases as Redis 7.0 gives them, score formatting, RESP3 shapes,
//! encoding switches, ZSCAN completeness; a random model-based run
//! against an in-test model is in [`model`].

mod common;
#[path = "zsets/model.rs"]
mod model;
use std::collections::HashSet;

use common::{bulk, bulks as arr, dirty, encoding, err, int, nil, nil_array, ok, strings, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// ZADD `key` with members `m0..m{n-1}` scored `0..n-1`.
fn fill(c: &mut Raw, key: &str, n: usize) {
    let mut args = vec!["ZADD".to_string(), key.to_string()];
    for i in 0..n {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    assert_eq!(c.call_owned(&args), int(n as i64));
}

#[test]
fn zadd_flags_and_replies() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["ZADD", "z", "1", "a", "2", "b"]), int(2));
    assert_eq!(c.call(&["ZADD", "z", "3", "a", "4", "c"]), int(1));
    assert_eq!(c.call(&["ZADD", "z", "CH", "5", "a", "4", "c", "9", "d"]), int(2));
    assert_eq!(c.call(&["ZADD", "z", "NX", "0", "a", "1", "e"]), int(1));
    assert_eq!(c.call(&["ZSCORE", "z", "a"]), bulk("5"));
    assert_eq!(c.call(&["ZADD", "z", "XX", "CH", "6", "a", "7", "nosuch"]), int(1));
    assert_eq!(c.call(&["ZSCORE", "z", "nosuch"]), nil());
    assert_eq!(c.call(&["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]), int(1));
    assert_eq!(c.call(&["ZMSCORE", "z", "a", "b", "x"]), Resp::Array(Some(vec![bulk("6"), bulk("10"), nil()])));
    assert_eq!(c.call(&["ZADD", "z", "LT", "CH", "100", "a", "-1", "b"]), int(1));
    assert_eq!(c.call(&["ZSCORE", "z", "b"]), bulk("-1"));
    // GT/LT still add new members.
    assert_eq!(c.call(&["ZADD", "z", "GT", "1", "new"]), int(1));
    assert_eq!(c.call(&["ZADD", "z", "INCR", "2.5", "a"]), bulk("8.5"));
    assert_eq!(c.call(&["ZADD", "z", "NX", "INCR", "1", "a"]), nil());
    assert_eq!(c.call(&["ZADD", "z", "XX", "INCR", "1", "zz"]), nil());
    assert_eq!(c.call(&["ZADD", "z", "GT", "INCR", "-1", "a"]), nil());
    assert_eq!(c.call(&["ZADD", "nokey", "XX", "1", "a"]), int(0));
    assert_eq!(c.call(&["ZADD", "nokey", "XX", "INCR", "1", "a"]), nil());
    assert_eq!(c.call(&["EXISTS", "nokey"]), int(0));
    assert_eq!(c.call(&["ZCARD", "z"]), int(6));
    assert_eq!(c.call(&["ZCARD", "nokey"]), int(0));
    assert_eq!(c.call(&["ZINCRBY", "z", "1.5", "a"]), bulk("10"));
    assert_eq!(c.call(&["ZINCRBY", "fresh", "-3", "x"]), bulk("-3"));
    // Duplicates in one ZADD: the last score wins, counted once.
    assert_eq!(c.call(&["ZADD", "d", "1", "x", "2", "x", "3", "x"]), int(1));
    assert_eq!(c.call(&["ZSCORE", "d", "x"]), bulk("3"));
}

#[test]
fn zadd_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["ZADD", "z", "1"]), err("ERR wrong number of arguments for 'zadd' command"));
    assert_eq!(c.call(&["ZADD", "z", "1", "a", "2"]), err("ERR syntax error"));
    assert_eq!(
        c.call(&["ZADD", "z", "NX", "XX", "1", "a"]),
        err("ERR XX and NX options at the same time are not compatible")
    );
    for f in [["GT", "LT"], ["GT", "NX"], ["LT", "NX"]] {
        assert_eq!(
            c.call(&["ZADD", "z", f[0], f[1], "1", "a"]),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
    }
    assert_eq!(
        c.call(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        err("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(c.call(&["ZADD", "z", "x", "a"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["ZADD", "z", "nan", "a"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["ZADD", "z", "1", "a", "nan", "b"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["EXISTS", "z"]), int(0));
    assert_eq!(c.call(&["ZINCRBY", "z", "abc", "a"]), err("ERR value is not a valid float"));
    // Out of a double's range (strtod's ERANGE) is refused; inf spelled out is not.
    assert_eq!(c.call(&["ZADD", "z", "1e400", "a"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["ZADD", "z", "-1e-400", "a"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["ZUNION", "1", "z", "WEIGHTS", "1e400"]), err("ERR weight value is not a float"));
    assert_eq!(c.call(&["ZADD", "z", "inf", "a"]), int(1));
    assert_eq!(c.call(&["ZINCRBY", "z", "-inf", "a"]), err("ERR resulting score is not a number (NaN)"));
    assert_eq!(c.call(&["ZADD", "z", "INCR", "-inf", "a"]), err("ERR resulting score is not a number (NaN)"));
    assert_eq!(c.call(&["ZSCORE", "z", "a"]), bulk("inf"));
}

#[test]
fn wrong_type_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SET", "str", "x"]);
    c.call(&["ZADD", "z", "1", "a"]);
    let cmds: &[&[&str]] = &[
        &["ZADD", "str", "1", "a"],
        &["ZINCRBY", "str", "1", "a"],
        &["ZREM", "str", "a"],
        &["ZCARD", "str"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZRANK", "str", "a"],
        &["ZREVRANK", "str", "a"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZLEXCOUNT", "str", "-", "+"],
        &["ZRANGE", "str", "0", "-1"],
        &["ZRANGEBYSCORE", "str", "0", "1"],
        &["ZRANGEBYLEX", "str", "-", "+"],
        &["ZRANGESTORE", "d", "str", "0", "-1"],
        &["ZREMRANGEBYRANK", "str", "0", "1"],
        &["ZREMRANGEBYSCORE", "str", "0", "1"],
        &["ZREMRANGEBYLEX", "str", "-", "+"],
        &["ZPOPMIN", "str"],
        &["ZPOPMAX", "str", "2"],
        &["ZMPOP", "2", "nokey", "str", "MIN"],
        &["BZPOPMIN", "str", "0"],
        &["BZMPOP", "0", "1", "str", "MAX"],
        &["ZRANDMEMBER", "str"],
        &["ZRANDMEMBER", "str", "2"],
        &["ZUNION", "2", "z", "str"],
        &["ZINTERSTORE", "d", "2", "z", "str"],
        &["ZDIFF", "2", "str", "z"],
        &["ZINTERCARD", "2", "z", "str"],
        &["ZSCAN", "str", "0"],
    ];
    for cmd in cmds {
        assert_eq!(c.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    // ZMPOP uses the first existing key only.
    assert_eq!(
        c.call(&["ZMPOP", "2", "z", "str", "MIN"]),
        Resp::Array(Some(vec![bulk("z"), Resp::Array(Some(vec![arr(&["a", "1"])]))]))
    );
}

#[test]
fn score_formatting_matches_redis_7_0() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&[
        "ZADD",
        "f",
        "0.1",
        "a",
        "1e300",
        "b",
        "-0.0",
        "c",
        "1.5e-7",
        "d",
        "123456789012345678",
        "e",
        "-inf",
        "g",
    ]);
    c.call(&["ZADD", "f", "+inf", "h", "3", "i", "0.8436389620698258", "j"]);
    let want = [
        ("g", "-inf"),
        ("c", "0"),
        ("d", "1.4999999999999999e-07"),
        ("a", "0.10000000000000001"),
        ("j", "0.8436389620698258"),
        ("i", "3"),
        ("e", "1.2345678901234568e+17"),
        ("b", "1.0000000000000001e+300"),
        ("h", "inf"),
    ];
    let flat: Vec<&str> = want.iter().flat_map(|(m, s)| [*m, *s]).collect();
    assert_eq!(c.call(&["ZRANGE", "f", "0", "-1", "WITHSCORES"]), arr(&flat));
    assert_eq!(c.call(&["ZINCRBY", "f", "0.2", "a"]), bulk("0.30000000000000004"));
    // Scores survive a round trip through their printed form.
    assert_eq!(c.call(&["ZADD", "g", "0.10000000000000001", "x"]), int(1));
    assert_eq!(c.call(&["ZSCORE", "g", "x"]), bulk("0.10000000000000001"));
    // -0: a packed set stores it as 0, computed results keep the sign.
    assert_eq!(c.call(&["ZINCRBY", "n", "-0.0", "a"]), bulk("-0"));
    assert_eq!(c.call(&["ZSCORE", "n", "a"]), bulk("0"));
    assert_eq!(c.call(&["ZUNION", "1", "n", "WEIGHTS", "-1", "WITHSCORES"]), arr(&["a", "-0"]));
    // ZSCAN prints integral scores as integers (Redis's d2string).
    let scan = c.call(&["ZSCAN", "f", "0", "MATCH", "e"]);
    assert_eq!(scan, Resp::Array(Some(vec![bulk("0"), arr(&["e", "123456789012345680"])])));
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"]);
    assert_eq!(c.call(&["ZRANGE", "z", "0", "-1"]), arr(&["a", "b", "c", "d", "e"]));
    assert_eq!(c.call(&["ZRANGE", "z", "-2", "100"]), arr(&["d", "e"]));
    assert_eq!(c.call(&["ZRANGE", "z", "3", "1"]), arr(&[]));
    assert_eq!(c.call(&["ZRANGE", "z", "0", "1", "WITHSCORES"]), arr(&["a", "1", "b", "2"]));
    assert_eq!(c.call(&["ZRANGE", "z", "0", "1", "REV"]), arr(&["e", "d"]));
    assert_eq!(c.call(&["ZREVRANGE", "z", "0", "1", "WITHSCORES"]), arr(&["e", "5", "d", "4"]));
    assert_eq!(c.call(&["ZRANGE", "z", "(1", "3", "BYSCORE"]), arr(&["b", "c"]));
    assert_eq!(c.call(&["ZRANGE", "z", "3", "(1", "BYSCORE", "REV"]), arr(&["c", "b"]));
    assert_eq!(c.call(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"]), arr(&["b", "c"]));
    assert_eq!(c.call(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"]), arr(&["b", "c", "d", "e"]));
    assert_eq!(c.call(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"]), arr(&[]));
    assert_eq!(c.call(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "5", "2"]), arr(&[]));
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "2", "4", "WITHSCORES", "LIMIT", "0", "1"]), arr(&["b", "2"]));
    assert_eq!(c.call(&["ZREVRANGEBYSCORE", "z", "+inf", "(4"]), arr(&["e"]));
    assert_eq!(c.call(&["ZREVRANGEBYSCORE", "z", "4", "2", "LIMIT", "1", "5"]), arr(&["c", "b"]));
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "(3", "(3"]), arr(&[]));
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "5", "1"]), arr(&[]));
    // Range ends are read as strtod reads them: empty is 0, hex, overflow is inf.
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "", "(0x2"]), arr(&["a"]));
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "( 4", "1e400"]), arr(&["e"]));
    assert_eq!(c.call(&["ZCOUNT", "z", "(1", "+inf"]), int(4));
    assert_eq!(c.call(&["ZCOUNT", "z", "4", "2"]), int(0));
    assert_eq!(c.call(&["ZRANK", "z", "c"]), int(2));
    assert_eq!(c.call(&["ZREVRANK", "z", "c"]), int(2));
    assert_eq!(c.call(&["ZREVRANK", "z", "a"]), int(4));
    assert_eq!(c.call(&["ZRANK", "z", "x"]), nil());
    assert_eq!(c.call(&["ZRANK", "nokey", "x"]), nil());
    // Lex ranges (all scores equal).
    c.call(&["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"]);
    assert_eq!(c.call(&["ZRANGEBYLEX", "l", "-", "+"]), arr(&["a", "b", "c", "d", "e"]));
    assert_eq!(c.call(&["ZRANGEBYLEX", "l", "[b", "(d"]), arr(&["b", "c"]));
    assert_eq!(c.call(&["ZRANGEBYLEX", "l", "(b", "+", "LIMIT", "1", "2"]), arr(&["d", "e"]));
    assert_eq!(c.call(&["ZREVRANGEBYLEX", "l", "+", "[c"]), arr(&["e", "d", "c"]));
    assert_eq!(c.call(&["ZRANGE", "l", "[d", "-", "BYLEX", "REV", "LIMIT", "0", "1"]), arr(&["d"]));
    assert_eq!(c.call(&["ZRANGEBYLEX", "l", "+", "-"]), arr(&[]));
    assert_eq!(c.call(&["ZLEXCOUNT", "l", "[b", "[d"]), int(3));
    assert_eq!(c.call(&["ZLEXCOUNT", "l", "-", "+"]), int(5));
    assert_eq!(c.call(&["ZRANGE", "nokey", "0", "-1"]), arr(&[]));
}

#[test]
fn range_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "z", "1", "a"]);
    let float = err("ERR min or max is not a float");
    let lex = err("ERR min or max not valid string range item");
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "x", "1"]), float);
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "1", "nan"]), float);
    assert_eq!(c.call(&["ZCOUNT", "z", "(x", "1"]), float);
    assert_eq!(c.call(&["ZREMRANGEBYSCORE", "z", "1", "((2"]), float);
    assert_eq!(c.call(&["ZRANGEBYLEX", "z", "a", "+"]), lex);
    assert_eq!(c.call(&["ZLEXCOUNT", "z", "-", "++"]), lex);
    assert_eq!(c.call(&["ZREMRANGEBYLEX", "z", "", "+"]), lex);
    assert_eq!(c.call(&["ZRANGE", "z", "a", "1"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["ZREMRANGEBYRANK", "z", "0", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(
        c.call(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    );
    assert_eq!(
        c.call(&["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(c.call(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZRANGEBYSCORE", "z", "0", "1", "REV"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZRANGE", "z", "0", "1", "LIMIT", "0"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZRANGE", "z", "0"]), err("ERR wrong number of arguments for 'zrange' command"));
}

#[test]
fn zrangestore_and_removals() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c, "z", 10);
    assert_eq!(c.call(&["ZRANGESTORE", "d", "z", "2", "4"]), int(3));
    assert_eq!(c.call(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]), arr(&["m2", "2", "m3", "3", "m4", "4"]));
    assert_eq!(c.call(&["ZRANGESTORE", "d", "z", "5", "(1", "BYSCORE", "REV", "LIMIT", "0", "2"]), int(2));
    assert_eq!(c.call(&["ZRANGE", "d", "0", "-1"]), arr(&["m4", "m5"]));
    c.call(&["EXPIRE", "d", "100"]);
    assert_eq!(c.call(&["ZRANGESTORE", "d", "z", "[m1", "[m3", "BYLEX"]), int(3));
    assert_eq!(c.call(&["TTL", "d"]), int(-1));
    assert_eq!(c.call(&["ZRANGESTORE", "d", "z", "(m9", "+", "BYLEX"]), int(0));
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));
    c.call(&["SET", "d", "string"]);
    assert_eq!(c.call(&["ZRANGESTORE", "d", "z", "0", "0"]), int(1));
    assert_eq!(c.call(&["TTL", "d"]), int(-1));
    assert_eq!(c.call(&["ZRANGESTORE", "d", "nokey", "0", "-1"]), int(0));
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));

    assert_eq!(c.call(&["ZREMRANGEBYRANK", "z", "0", "1"]), int(2));
    assert_eq!(c.call(&["ZREMRANGEBYSCORE", "z", "(7", "+inf"]), int(2));
    assert_eq!(c.call(&["ZRANGE", "z", "0", "-1"]), arr(&["m2", "m3", "m4", "m5", "m6", "m7"]));
    assert_eq!(c.call(&["ZREMRANGEBYRANK", "z", "10", "20"]), int(0));
    assert_eq!(c.call(&["ZREMRANGEBYSCORE", "nokey", "0", "1"]), int(0));
    assert_eq!(c.call(&["ZREM", "z", "m2", "m3", "nosuch"]), int(2));
    assert_eq!(c.call(&["ZREMRANGEBYRANK", "z", "0", "-1"]), int(4));
    assert_eq!(c.call(&["EXISTS", "z"]), int(0));
    c.call(&["ZADD", "l", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(c.call(&["ZREMRANGEBYLEX", "l", "(a", "+"]), int(2));
    assert_eq!(c.call(&["ZREM", "l", "a"]), int(1));
    assert_eq!(c.call(&["EXISTS", "l"]), int(0));
}

#[test]
fn pops() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(c.call(&["ZPOPMIN", "z"]), arr(&["a", "1"]));
    assert_eq!(c.call(&["ZPOPMAX", "z", "2"]), arr(&["d", "4", "c", "3"]));
    assert_eq!(c.call(&["ZPOPMIN", "z", "0"]), arr(&[]));
    assert_eq!(c.call(&["ZPOPMIN", "z", "-1"]), err("ERR value is out of range, must be positive"));
    assert_eq!(c.call(&["ZPOPMIN", "z", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["ZPOPMIN", "z", "1", "2"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZPOPMIN", "z", "10"]), arr(&["b", "2"]));
    assert_eq!(c.call(&["EXISTS", "z"]), int(0));
    assert_eq!(c.call(&["ZPOPMIN", "z"]), arr(&[]));
    c.call(&["ZADD", "y", "1", "a", "2", "b", "3", "c"]);
    let keyed = |k: &str, pairs: &[(&str, &str)]| {
        Resp::Array(Some(vec![bulk(k), Resp::Array(Some(pairs.iter().map(|(m, s)| arr(&[m, s])).collect()))]))
    };
    assert_eq!(c.call(&["ZMPOP", "2", "nokey", "y", "MAX"]), keyed("y", &[("c", "3")]));
    assert_eq!(c.call(&["ZMPOP", "1", "y", "min", "COUNT", "5"]), keyed("y", &[("a", "1"), ("b", "2")]));
    assert_eq!(c.call(&["ZMPOP", "1", "y", "MIN"]), nil_array());
    assert_eq!(c.call(&["ZMPOP", "0", "y", "MIN"]), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.call(&["ZMPOP", "2", "y", "MIN"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZMPOP", "1", "y", "UP"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZMPOP", "1", "y", "MIN", "COUNT", "0"]), err("ERR count should be greater than 0"));
    assert_eq!(c.call(&["ZMPOP", "1", "y", "MIN", "COUNT", "1", "COUNT", "1"]), err("ERR syntax error"));
}

#[test]
fn zrandmember_count_semantics() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["ZRANDMEMBER", "nokey"]), nil());
    assert_eq!(c.call(&["ZRANDMEMBER", "nokey", "3"]), arr(&[]));
    for (key, n) in [("small", 5usize), ("large", 300)] {
        fill(&mut c, key, n);
        let all: HashSet<String> = (0..n).map(|i| format!("m{i}")).collect();
        let one = common::text(c.call(&["ZRANDMEMBER", key]));
        assert!(all.contains(&one));
        assert_eq!(c.call(&["ZRANDMEMBER", key, "0"]), arr(&[]));
        let got = strings(c.call(&["ZRANDMEMBER", key, "3"]));
        assert_eq!(got.len(), 3);
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 3);
        assert!(got.iter().all(|m| all.contains(m)));
        let got = strings(c.call(&["ZRANDMEMBER", key, &(n + 10).to_string()]));
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), all);
        let got = strings(c.call(&["ZRANDMEMBER", key, "-20"]));
        assert_eq!(got.len(), 20);
        assert!(got.iter().all(|m| all.contains(m)));
        let got = strings(c.call(&["ZRANDMEMBER", key, "4", "WITHSCORES"]));
        assert_eq!(got.len(), 8);
        for p in got.chunks(2) {
            assert_eq!(p[0], format!("m{}", p[1]));
        }
        let half = (n / 2).to_string();
        let got = strings(c.call(&["ZRANDMEMBER", key, &half]));
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), n / 2);
    }
    assert_eq!(c.call(&["ZRANDMEMBER", "small", "1", "x"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZRANDMEMBER", "small", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(
        c.call(&["ZRANDMEMBER", "small", "-9223372036854775807", "WITHSCORES"]),
        err("ERR value is out of range")
    );
}

#[test]
fn set_operations() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "a", "1", "x", "2", "y", "3", "z"]);
    c.call(&["ZADD", "b", "10", "y", "20", "z", "30", "w"]);
    assert_eq!(c.call(&["ZUNION", "2", "a", "b", "WITHSCORES"]), arr(&["x", "1", "y", "12", "z", "23", "w", "30"]));
    assert_eq!(
        c.call(&["ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "AGGREGATE", "MAX", "WITHSCORES"]),
        arr(&["x", "2", "y", "5", "z", "10", "w", "15"])
    );
    assert_eq!(c.call(&["ZINTER", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"]), arr(&["y", "2", "z", "3"]));
    assert_eq!(c.call(&["ZINTER", "3", "a", "b", "nokey"]), arr(&[]));
    assert_eq!(c.call(&["ZDIFF", "2", "a", "b", "WITHSCORES"]), arr(&["x", "1"]));
    assert_eq!(c.call(&["ZDIFF", "1", "b"]), arr(&["y", "z", "w"]));
    assert_eq!(c.call(&["ZINTERCARD", "2", "a", "b"]), int(2));
    assert_eq!(c.call(&["ZINTERCARD", "2", "a", "b", "LIMIT", "1"]), int(1));
    assert_eq!(c.call(&["ZINTERCARD", "2", "a", "b", "LIMIT", "0"]), int(2));
    assert_eq!(c.call(&["ZUNIONSTORE", "d", "2", "a", "b"]), int(4));
    assert_eq!(c.call(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]), arr(&["x", "1", "y", "12", "z", "23", "w", "30"]));
    assert_eq!(c.call(&["ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "-1"]), int(2));
    assert_eq!(c.call(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]), arr(&["z", "-17", "y", "-8"]));
    assert_eq!(c.call(&["ZDIFFSTORE", "d", "2", "a", "a"]), int(0));
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));
    // inf * 0 and inf + -inf become 0.
    c.call(&["ZADD", "i", "inf", "x"]);
    c.call(&["ZADD", "j", "-inf", "x"]);
    assert_eq!(c.call(&["ZUNION", "2", "i", "j", "WITHSCORES"]), arr(&["x", "0"]));
    assert_eq!(c.call(&["ZUNION", "1", "i", "WEIGHTS", "0", "WITHSCORES"]), arr(&["x", "0"]));
    // Errors.
    assert_eq!(c.call(&["ZUNION", "0", "a"]), err("ERR at least 1 input key is needed for 'zunion' command"));
    assert_eq!(
        c.call(&["ZUNIONSTORE", "d", "0", "a"]),
        err("ERR at least 1 input key is needed for 'zunionstore' command")
    );
    assert_eq!(c.call(&["ZINTERCARD", "0", "a"]), err("ERR at least 1 input key is needed for 'zintercard' command"));
    assert_eq!(c.call(&["ZUNION", "3", "a", "b"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZUNION", "x", "a"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["ZUNION", "2", "a", "b", "WEIGHTS", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"]), err("ERR weight value is not a float"));
    assert_eq!(c.call(&["ZUNION", "2", "a", "b", "AGGREGATE", "AVG"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["ZINTERCARD", "1", "a", "LIMIT", "-1"]), err("ERR LIMIT can't be negative"));
    assert_eq!(c.call(&["ZINTERCARD", "1", "a", "LIMIT", "x"]), err("ERR LIMIT can't be negative"));
    assert_eq!(c.call(&["ZINTERCARD", "1", "a", "WITHSCORES"]), err("ERR syntax error"));
}

#[test]
fn resp3_replies() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    c.call(&["ZADD", "z", "1", "a", "2.5", "b", "3", "c"]);
    let d = |s: &str| Resp::Double(s.into());
    let pair = |m: &str, s: &str| Resp::Array(Some(vec![bulk(m), d(s)]));
    assert_eq!(c.call(&["ZSCORE", "z", "b"]), d("2.5"));
    assert_eq!(c.call(&["ZSCORE", "z", "x"]), Resp::Null);
    assert_eq!(c.call(&["ZMSCORE", "z", "a", "x"]), Resp::Array(Some(vec![d("1"), Resp::Null])));
    assert_eq!(c.call(&["ZINCRBY", "z", "0", "a"]), d("1"));
    assert_eq!(c.call(&["ZADD", "z", "INCR", "0.1", "c"]), d("3.1000000000000001"));
    assert_eq!(c.call(&["ZADD", "z", "INCR", "-0.1", "c"]), d("3"));
    assert_eq!(
        c.call(&["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        Resp::Array(Some(vec![pair("a", "1"), pair("b", "2.5")]))
    );
    assert_eq!(c.call(&["ZRANGE", "z", "0", "1"]), arr(&["a", "b"]));
    assert_eq!(
        c.call(&["ZUNION", "1", "z", "WITHSCORES"]),
        Resp::Array(Some(vec![pair("a", "1"), pair("b", "2.5"), pair("c", "3")]))
    );
    assert_eq!(c.call(&["ZRANDMEMBER", "z", "-1", "WITHSCORES"]).to_owned_items_len(), 1);
    // ZPOPMIN without COUNT stays flat; with COUNT it nests.
    assert_eq!(c.call(&["ZPOPMIN", "z"]), Resp::Array(Some(vec![bulk("a"), d("1")])));
    assert_eq!(c.call(&["ZPOPMAX", "z", "1"]), Resp::Array(Some(vec![pair("c", "3")])));
    assert_eq!(
        c.call(&["ZMPOP", "1", "z", "MIN"]),
        Resp::Array(Some(vec![bulk("z"), Resp::Array(Some(vec![pair("b", "2.5")]))]))
    );
    c.call(&["ZADD", "z", "inf", "x"]);
    assert_eq!(c.call(&["BZPOPMIN", "z", "0"]), Resp::Array(Some(vec![bulk("z"), bulk("x"), d("inf")])));
    assert_eq!(c.call(&["ZMPOP", "1", "z", "MIN"]), Resp::Null);
}

/// Number of items of an array reply.
trait ItemsLen {
    fn to_owned_items_len(&self) -> usize;
}

impl ItemsLen for Resp {
    fn to_owned_items_len(&self) -> usize {
        match self {
            Resp::Array(Some(v)) => v.len(),
            other => panic!("not an array: {other:?}"),
        }
    }
}

#[test]
fn encoding_switches_at_redis_limits() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c, "z", 128);
    assert_eq!(encoding(&mut c, "z"), "listpack");
    assert_eq!(c.call(&["ZADD", "z", "5", "m5"]), int(0));
    assert_eq!(encoding(&mut c, "z"), "listpack");
    assert_eq!(c.call(&["ZADD", "z", "500", "extra"]), int(1));
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // Never converts back by removals.
    c.call(&["ZREMRANGEBYRANK", "z", "0", "-3"]);
    assert_eq!(c.call(&["ZCARD", "z"]), int(2));
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    assert_eq!(c.call(&["ZRANGE", "z", "0", "-1"]), arr(&["m127", "extra"]));
    // ZADD creating 129 members at once builds the skip list directly.
    fill(&mut c, "big", 129);
    assert_eq!(encoding(&mut c, "big"), "skiplist");
    let m64 = "x".repeat(64);
    let m65 = "y".repeat(65);
    c.call(&["ZADD", "v", "1", &m64]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.call(&["ZADD", "v", "2", &m65]);
    assert_eq!(encoding(&mut c, "v"), "skiplist");
    assert_eq!(c.call(&["ZRANGE", "v", "0", "-1"]), arr(&[&m64, &m65]));
    // Results are built in the encoding their size calls for.
    assert_eq!(c.call(&["ZRANGESTORE", "small", "big", "0", "9"]), int(10));
    assert_eq!(encoding(&mut c, "small"), "listpack");
    assert_eq!(c.call(&["ZUNIONSTORE", "u", "1", "z"]), int(2));
    assert_eq!(encoding(&mut c, "u"), "listpack");
    assert_eq!(c.call(&["ZUNIONSTORE", "u", "1", "big"]), int(129));
    assert_eq!(encoding(&mut c, "u"), "skiplist");
    // CONFIG SET changes the limits for later writes.
    assert_eq!(c.call(&["CONFIG", "SET", "zset-max-listpack-entries", "4"]), ok());
    fill(&mut c, "c", 4);
    assert_eq!(encoding(&mut c, "c"), "listpack");
    c.call(&["ZADD", "c", "9", "n"]);
    assert_eq!(encoding(&mut c, "c"), "skiplist");
    assert_eq!(c.call(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]), ok());
    c.call(&["ZADD", "e", "1", "a"]);
    assert_eq!(encoding(&mut c, "e"), "skiplist");
    assert_eq!(c.call(&["CONFIG", "SET", "zset-max-listpack-value", "3"]), ok());
    assert_eq!(c.call(&["CONFIG", "SET", "zset-max-listpack-entries", "128"]), ok());
    c.call(&["ZADD", "w", "1", "abc"]);
    assert_eq!(encoding(&mut c, "w"), "listpack");
    c.call(&["ZADD", "w", "1", "abcd"]);
    assert_eq!(encoding(&mut c, "w"), "skiplist");
}

#[test]
fn writes_that_change_nothing_are_not_counted() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "z", "1", "a"]);
    let before = dirty(&mut c);
    c.call(&["ZADD", "z", "NX", "5", "a"]);
    c.call(&["ZADD", "z", "1", "a"]);
    c.call(&["ZADD", "z", "XX", "1", "b"]);
    c.call(&["ZREM", "z", "nosuch"]);
    c.call(&["ZREMRANGEBYSCORE", "z", "5", "6"]);
    c.call(&["ZPOPMIN", "nokey"]);
    assert_eq!(dirty(&mut c), before);
    c.call(&["ZADD", "z", "2", "a"]);
    assert!(dirty(&mut c) > before);
}

#[test]
fn ttl_survives_zset_writes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "z", "1", "a", "2", "b"]);
    c.call(&["EXPIRE", "z", "100"]);
    c.call(&["ZADD", "z", "3", "c"]);
    c.call(&["ZINCRBY", "z", "1", "a"]);
    c.call(&["ZREM", "z", "b"]);
    c.call(&["ZPOPMIN", "z"]);
    assert!(matches!(c.call(&["TTL", "z"]), Resp::Int(t) if t > 0));
}

/// Runs a full ZSCAN, calling `between` after every call.
fn full_zscan(c: &mut Raw, key: &str, mut between: impl FnMut(&mut Raw)) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..100_000 {
        let r = c.call(&["ZSCAN", key, &cursor, "COUNT", "7"]);
        let Resp::Array(Some(mut parts)) = r else { panic!("bad reply") };
        let items = strings(parts.pop().unwrap());
        for p in items.chunks(2) {
            seen.insert(p[0].clone());
        }
        cursor = common::text(parts.pop().unwrap());
        between(c);
        if cursor == "0" {
            return seen;
        }
    }
    panic!("scan did not end");
}

#[test]
fn zscan_small_large_and_concurrent_changes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "s", "1", "a", "2", "b", "3", "ab"]);
    assert_eq!(c.call(&["ZSCAN", "s", "0"]), Resp::Array(Some(vec![bulk("0"), arr(&["a", "1", "b", "2", "ab", "3"])])));
    assert_eq!(
        c.call(&["ZSCAN", "s", "0", "MATCH", "a*"]),
        Resp::Array(Some(vec![bulk("0"), arr(&["a", "1", "ab", "3"])]))
    );
    assert_eq!(c.call(&["ZSCAN", "nokey", "0"]), Resp::Array(Some(vec![bulk("0"), arr(&[])])));
    assert_eq!(c.call(&["ZSCAN", "s", "x"]), err("ERR invalid cursor"));
    assert_eq!(c.call(&["ZSCAN", "s", "0", "COUNT", "0"]), err("ERR syntax error"));
    fill(&mut c, "l", 500);
    let all: HashSet<String> = (0..500).map(|i| format!("m{i}")).collect();
    assert_eq!(full_zscan(&mut c, "l", |_| {}), all);
    // Members present throughout are returned although others come and go
    // and scores change.
    let mut n = 0;
    let seen = full_zscan(&mut c, "l", |c| {
        n += 1;
        c.call(&["ZADD", "l", &n.to_string(), &format!("new{n}")]);
        c.call(&["ZREM", "l", &format!("m{}", 499 - n)]);
        c.call(&["ZINCRBY", "l", "1000", &format!("m{}", n % 100)]);
    });
    let kept: HashSet<String> = (0..500 - n - 1).map(|i| format!("m{i}")).collect();
    assert!(kept.is_subset(&seen));
}

#[test]
fn flags_in_command_info() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let flags = |c: &mut Raw, name: &str| -> Vec<String> {
        let Resp::Array(Some(mut info)) = c.call(&["COMMAND", "INFO", name]) else { panic!() };
        let Resp::Array(Some(row)) = info.remove(0) else { panic!("no row for {name}") };
        match &row[2] {
            Resp::Array(Some(f)) | Resp::Set(f) => f.iter().map(|x| common::text(x.clone())).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(flags(&mut c, "zadd"), vec!["write", "denyoom", "fast"]);
    assert_eq!(flags(&mut c, "zrange"), vec!["readonly"]);
    assert_eq!(flags(&mut c, "bzpopmin"), vec!["write", "noscript", "blocking", "fast"]);
    assert!(flags(&mut c, "zunionstore").contains(&"movablekeys".to_string()));
}
