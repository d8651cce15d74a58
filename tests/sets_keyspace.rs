//! Sets and sorted sets as keys like any other: TYPE, SCAN … TYPE, COPY
//! (a deep copy), RENAME, MOVE, OBJECT, MEMORY USAGE and used_memory,
//! expiry, eviction, WATCH, DEBUG DIGEST-VALUE, CLIENT UNBLOCK of a
//! blocked sorted-set pop.

mod common;
use std::time::{Duration, Instant};

use common::{
    bulk, bulks, err, info_field, int, nil_array, ok, sorted_strings, status, text, used_memory, wait_blocked, Raw,
    Resp, Server,
};

fn num(r: Resp) -> i64 {
    match r {
        Resp::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn type_scan_copy_rename_move_and_object() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["SADD", "s", "a", "b"]), int(2));
    assert_eq!(c.call(&["SADD", "i", "1", "2"]), int(2));
    assert_eq!(c.call(&["ZADD", "z", "1", "a", "2", "b"]), int(2));
    assert_eq!(c.call(&["SET", "str", "x"]), ok());
    assert_eq!(c.call(&["TYPE", "s"]), status("set"));
    assert_eq!(c.call(&["TYPE", "z"]), status("zset"));
    let scan = |c: &mut Raw, t: &str| match c.call(&["SCAN", "0", "COUNT", "100", "TYPE", t]) {
        Resp::Array(Some(parts)) => sorted_strings(parts[1].clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(scan(&mut c, "set"), ["i", "s"]);
    assert_eq!(scan(&mut c, "zset"), ["z"]);
    assert_eq!(c.call(&["OBJECT", "ENCODING", "i"]), bulk("intset"));
    assert_eq!(c.call(&["OBJECT", "ENCODING", "s"]), bulk("hashtable"));
    assert_eq!(c.call(&["OBJECT", "ENCODING", "z"]), bulk("listpack"));

    // COPY is deep: changing the copy leaves the original alone.
    assert_eq!(c.call(&["COPY", "s", "s2"]), int(1));
    assert_eq!(c.call(&["COPY", "z", "z2"]), int(1));
    assert_eq!(c.call(&["SADD", "s2", "c"]), int(1));
    assert_eq!(c.call(&["ZINCRBY", "z2", "10", "a"]), bulk("11"));
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s"])), ["a", "b"]);
    assert_eq!(c.call(&["ZSCORE", "z", "a"]), bulk("1"));
    assert_eq!(c.call(&["COPY", "s", "str"]), int(0));
    assert_eq!(c.call(&["COPY", "s", "str", "REPLACE"]), int(1));
    assert_eq!(c.call(&["TYPE", "str"]), status("set"));

    assert_eq!(c.call(&["RENAME", "z2", "renamed"]), ok());
    assert_eq!(c.call(&["ZRANGE", "renamed", "0", "-1"]), bulks(&["b", "a"]));
    assert_eq!(c.call(&["MOVE", "s2", "3"]), int(1));
    assert_eq!(c.call(&["EXISTS", "s2"]), int(0));
    assert_eq!(c.call(&["SELECT", "3"]), ok());
    assert_eq!(sorted_strings(c.call(&["SMEMBERS", "s2"])), ["a", "b", "c"]);
    assert_eq!(c.call(&["SADD", "s2", "d"]), int(1));
    assert_eq!(c.call(&["SELECT", "0"]), ok());
    assert_eq!(c.call(&["SISMEMBER", "s", "d"]), int(0));
}

#[test]
fn memory_usage_and_used_memory_follow_the_members() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SADD", "s", "seed"]);
    c.call(&["ZADD", "z", "0", "seed"]);
    let small_set = num(c.call(&["MEMORY", "USAGE", "s"]));
    let small_zset = num(c.call(&["MEMORY", "USAGE", "z"]));
    let before = used_memory(&mut c);
    for chunk in 0..20 {
        let mut sadd = vec!["SADD".to_string(), "s".into()];
        let mut zadd = vec!["ZADD".to_string(), "z".into()];
        for i in 0..500 {
            let m = format!("member:{chunk}:{i}:{}", "x".repeat(20));
            sadd.push(m.clone());
            zadd.push(i.to_string());
            zadd.push(m);
        }
        let a: Vec<&[u8]> = sadd.iter().map(|s| s.as_bytes()).collect();
        c.cmd(&a);
        assert_eq!(c.read(), int(500));
        let a: Vec<&[u8]> = zadd.iter().map(|s| s.as_bytes()).collect();
        c.cmd(&a);
        assert_eq!(c.read(), int(500));
    }
    assert_eq!(c.call(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    let big_set = num(c.call(&["MEMORY", "USAGE", "s"]));
    let big_zset = num(c.call(&["MEMORY", "USAGE", "z"]));
    // 10,000 members of ~35 bytes each: at least their bytes, at most a
    // few times them.
    for (small, big) in [(small_set, big_set), (small_zset, big_zset)] {
        assert!(big > small + 10_000 * 35, "MEMORY USAGE {small} -> {big}");
        assert!(big < 10_000 * 200, "MEMORY USAGE {big} for 10,000 members");
    }
    let grown = used_memory(&mut c);
    assert!(grown - before > 2 * 10_000 * 35, "used_memory grew by {} only", grown - before);
    assert_eq!(c.call(&["DEL", "s", "z"]), int(2));
    let after = used_memory(&mut c);
    assert!(after < grown - 2 * 10_000 * 35, "used_memory {grown} -> {after} after DEL");
}

#[test]
fn expiry_and_watch() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SADD", "s", "a"]);
    c.call(&["ZADD", "z", "1", "a"]);
    assert_eq!(c.call(&["PEXPIRE", "s", "30"]), int(1));
    assert_eq!(c.call(&["PEXPIRE", "z", "30"]), int(1));
    // SADD to an existing set keeps its TTL.
    assert_eq!(c.call(&["SADD", "s", "b"]), int(1));
    assert!(num(c.call(&["PTTL", "s"])) > 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.call(&["EXISTS", "s", "z"]) != int(0) {
        assert!(Instant::now() < deadline, "set and sorted set never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A SADD or ZADD by another client aborts a transaction watching the key.
    let mut other = s.raw();
    for (watched, write) in
        [("s", &["SADD", "s", "x"][..]), ("z", &["ZADD", "z", "1", "x"]), ("z", &["ZREM", "z", "x"])]
    {
        assert_eq!(c.call(&["WATCH", watched]), ok());
        assert_eq!(other.call(write), int(1));
        assert_eq!(c.call(&["MULTI"]), ok());
        assert_eq!(c.call(&["PING"]), status("QUEUED"));
        assert_eq!(c.call(&["EXEC"]), nil_array(), "{write:?}");
    }
    // A write that changes nothing leaves the transaction alone.
    assert_eq!(c.call(&["WATCH", "s"]), ok());
    assert_eq!(other.call(&["SADD", "s", "x"]), int(0));
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["PING"]), status("QUEUED"));
    assert_eq!(c.call(&["EXEC"]), Resp::Array(Some(vec![status("PONG")])));
}

#[test]
fn eviction_takes_set_and_sorted_set_keys() {
    let s = Server::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.raw();
    for i in 0..3000 {
        let k = format!("k{i}");
        let members: Vec<String> = (0..20).map(|j| format!("m{j}-{}", "y".repeat(30))).collect();
        let mut args = vec!["SADD".to_string(), format!("s{k}")];
        args.extend(members.iter().cloned());
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        c.cmd(&a);
        assert_eq!(c.read(), int(20));
        let mut args = vec!["ZADD".to_string(), format!("z{k}")];
        for (j, m) in members.iter().enumerate() {
            args.push(j.to_string());
            args.push(m.clone());
        }
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        c.cmd(&a);
        assert_eq!(c.read(), int(20));
    }
    let stats = text(c.call(&["INFO", "stats"]));
    let evicted: i64 = info_field(&stats, "evicted_keys").and_then(|v| v.parse().ok()).unwrap();
    assert!(evicted > 0, "nothing evicted");
    assert!(num(c.call(&["DBSIZE"])) < 6000);
    assert!(used_memory(&mut c) <= 5 * 1024 * 1024);
}

#[test]
fn digest_value_and_client_unblock() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SADD", "a", "1", "2", "x"]);
    c.call(&["SADD", "b", "x", "2", "1"]);
    c.call(&["ZADD", "za", "1", "m", "2", "n"]);
    c.call(&["ZADD", "zb", "2", "n", "1", "m"]);
    let digest = |c: &mut Raw, k: &str| match c.call(&["DEBUG", "DIGEST-VALUE", k]) {
        Resp::Array(Some(v)) => text(v[0].clone()),
        other => panic!("{other:?}"),
    };
    // Same content, any insertion order: same digest; a change shows.
    assert_eq!(digest(&mut c, "a"), digest(&mut c, "b"));
    assert_eq!(digest(&mut c, "za"), digest(&mut c, "zb"));
    c.call(&["ZINCRBY", "zb", "1", "m"]);
    assert_ne!(digest(&mut c, "za"), digest(&mut c, "zb"));

    let mut w = s.raw();
    let id = num(w.call(&["CLIENT", "ID"]));
    w.send_cmd(&["BZPOPMIN", "q", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.call(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]), int(1));
    assert_eq!(w.read(), err("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
    assert_eq!(c.call(&["CLIENT", "UNBLOCK", &id.to_string()]), int(0));
    assert_eq!(w.call(&["ZADD", "q", "1", "m"]), int(1));
}
