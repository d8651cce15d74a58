//! Generic key commands against the real binary: DEL/EXISTS/TYPE/KEYS,
//! SCAN (complete iteration, filters, concurrent changes), RANDOMKEY,
//! RENAME, COPY, MOVE, SWAPDB, FLUSH*, DBSIZE, OBJECT and the original
//! project's aliases.

mod common;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{arr, bulk, err, int, ok, sorted_strings, status, Raw, Resp, Server};

/// Fills the current database with `n` keys `prefix<i>` via pipelined MSETs.
fn fill(s: &Server, prefix: &str, n: usize) {
    let mut c = s.conn();
    let mut p = redis::pipe();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("MSET");
        for i in chunk {
            cmd.arg(format!("{prefix}{i}")).arg(i);
        }
        p.add_command(cmd).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
}

/// Runs SCAN to completion with `opts` and returns every key seen (with repeats).
fn scan_all(c: &mut redis::Connection, opts: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN").arg(&cursor).arg(opts).query(c).unwrap();
        out.extend(keys);
        if next == "0" {
            return out;
        }
        cursor = next;
    }
    panic!("SCAN did not finish");
}

#[test]
fn del_unlink_exists_type() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MSET", "a", "1", "b", "2", "c", "3"]), ok());
    assert_eq!(r.call(&["EXISTS", "a", "a", "a", "nokey", "b"]), int(4), "duplicates count");
    assert_eq!(r.call(&["DEL", "a", "a", "b", "nokey"]), int(2));
    assert_eq!(r.call(&["UNLINK", "c", "c"]), int(1));
    assert_eq!(r.call(&["DEL", "nokey"]), int(0));
    assert_eq!(r.call(&["EXISTS", "a", "b", "c"]), int(0));
    assert_eq!(r.call(&["DEL"]), err("ERR wrong number of arguments for 'del' command"));
    assert_eq!(r.call(&["SET", "s", "v"]), ok());
    assert_eq!(r.call(&["HSET", "h", "f", "v"]), int(1));
    assert_eq!(r.call(&["TYPE", "s"]), status("string"));
    assert_eq!(r.call(&["TYPE", "h"]), status("hash"));
    assert_eq!(r.call(&["TYPE", "nokey"]), status("none"));
    assert_eq!(r.call(&["RPUSH", "l", "x"]), int(1));
    assert_eq!(r.call(&["TYPE", "l"]), status("list"));
    assert_eq!(r.call(&["DEL", "s", "h", "l"]), int(3));
}

#[test]
fn keys_glob_patterns() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "a?b", "a[b", "ab", "ac", "ad", "user:42:name"];
    for k in names {
        assert_eq!(r.call(&["SET", k, "1"]), ok());
    }
    let cases: &[(&str, &[&str])] = &[
        ("h?llo", &["hallo", "hello", "hxllo"]),
        ("h*llo", &["hallo", "heeeello", "hello", "hllo", "hxllo"]),
        ("h[ae]llo", &["hallo", "hello"]),
        ("h[^e]llo", &["hallo", "hxllo"]),
        ("h[a-b]llo", &["hallo"]),
        ("a[b-c]", &["ab", "ac"]),
        ("a\\*b", &["a*b"]),
        ("a\\?b", &["a?b"]),
        ("a\\[b", &["a[b"]),
        ("a?b", &["a*b", "a?b", "a[b"]),
        ("user:*:name", &["user:42:name"]),
        ("nomatch*", &[]),
    ];
    for (pat, want) in cases {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(sorted_strings(r.call(&["KEYS", pat])), want, "KEYS {pat}");
    }
    let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(sorted_strings(r.call(&["KEYS", "*"])), all);
    // Expired keys are not listed.
    assert_eq!(r.call(&["PEXPIREAT", "hello", "1"]), int(1));
    assert!(!sorted_strings(r.call(&["KEYS", "*"])).contains(&"hello".to_string()));
}

#[test]
fn scan_returns_every_key_of_2000() {
    let s = Server::start(&[]);
    fill(&s, "key:", 2000);
    let mut r = s.raw();
    for i in 0..50 {
        assert_eq!(r.call(&["HSET", &format!("hash:{i}"), "f", "v"]), int(1));
    }
    let mut c = s.conn();
    let want: HashSet<String> = (0..2000).map(|i| format!("key:{i}")).collect();
    for count in ["10", "100", "1000"] {
        let seen = scan_all(&mut c, &["COUNT", count]);
        let set: HashSet<String> = seen.iter().cloned().collect();
        assert_eq!(set.len(), 2050, "COUNT {count}");
        assert!(want.is_subset(&set));
    }
    let seen: HashSet<String> = scan_all(&mut c, &["MATCH", "key:1*"]).into_iter().collect();
    let want_1: HashSet<String> = want.iter().filter(|k| k.starts_with("key:1")).cloned().collect();
    assert_eq!(seen, want_1);
    let seen: HashSet<String> = scan_all(&mut c, &["TYPE", "hash", "COUNT", "200"]).into_iter().collect();
    assert_eq!(seen, (0..50).map(|i| format!("hash:{i}")).collect());
    let seen: HashSet<String> = scan_all(&mut c, &["MATCH", "hash:4*", "TYPE", "HASH"]).into_iter().collect();
    assert_eq!(
        seen,
        [
            "hash:4", "hash:40", "hash:41", "hash:42", "hash:43", "hash:44", "hash:45", "hash:46", "hash:47",
            "hash:48", "hash:49"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    assert!(scan_all(&mut c, &["TYPE", "list"]).is_empty());
    assert!(scan_all(&mut c, &["TYPE", "nosuchtype"]).is_empty());
}

#[test]
fn scan_arguments_and_cursor_parsing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["SCAN", "0"]), arr(vec![bulk("0"), arr(vec![bulk("k")])]));
    // strtoul rules: empty is 0, a sign is allowed, spaces and overflow are not.
    assert_eq!(r.call(&["SCAN", ""]), arr(vec![bulk("0"), arr(vec![bulk("k")])]));
    assert_eq!(r.call(&["SCAN", "+0"]), arr(vec![bulk("0"), arr(vec![bulk("k")])]));
    assert!(matches!(r.call(&["SCAN", "-1"]), Resp::Array(Some(_))));
    for bad in ["abc", " 1", "1 ", "18446744073709551616", "-", "1.5"] {
        assert_eq!(r.call(&["SCAN", bad]), err("ERR invalid cursor"), "cursor {bad:?}");
    }
    assert!(matches!(r.call(&["SCAN", "18446744073709551615"]), Resp::Array(Some(v)) if v.len() == 2));
    for opts in [&["COUNT", "0"][..], &["COUNT", "-1"], &["MATCH"], &["FOO", "bar"], &["COUNT"]] {
        let mut cmd = vec!["SCAN", "0"];
        cmd.extend_from_slice(opts);
        assert_eq!(r.call(&cmd), err("ERR syntax error"), "{opts:?}");
    }
    assert_eq!(r.call(&["SCAN", "0", "COUNT", "abc"]), err("ERR value is not an integer or out of range"));
}

#[test]
fn scan_never_misses_a_key_present_throughout_concurrent_changes() {
    let s = Server::start(&[]);
    fill(&s, "stable:", 2000);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = s.conn();
    let stop2 = stop.clone();
    let churn = std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop2.load(Ordering::Relaxed) && i < 200_000 {
            let mut p = redis::pipe();
            for j in 0..50 {
                p.cmd("SET").arg(format!("churn:{}", i + j)).arg(1).ignore();
                if i + j >= 300 {
                    p.cmd("DEL").arg(format!("churn:{}", i + j - 300)).ignore();
                }
            }
            let _: () = p.query(&mut writer).unwrap();
            i += 50;
        }
        i
    });
    let mut c = s.conn();
    let want: HashSet<String> = (0..2000).map(|i| format!("stable:{i}")).collect();
    for count in ["7", "50", "300"] {
        let seen: HashSet<String> = scan_all(&mut c, &["COUNT", count]).into_iter().collect();
        let missing: Vec<&String> = want.difference(&seen).collect();
        assert!(missing.is_empty(), "COUNT {count}: missed {} keys, e.g. {:?}", missing.len(), missing.first());
    }
    stop.store(true, Ordering::Relaxed);
    let written = churn.join().unwrap();
    assert!(written > 0);
}

#[test]
fn randomkey() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["RANDOMKEY"]), Resp::Bulk(None));
    assert_eq!(r.call(&["MSET", "a", "1", "b", "2", "c", "3"]), ok());
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let Resp::Bulk(Some(k)) = r.call(&["RANDOMKEY"]) else { panic!() };
        seen.insert(String::from_utf8(k).unwrap());
    }
    assert!(seen.is_subset(&["a", "b", "c"].iter().map(|s| s.to_string()).collect()));
    assert_eq!(seen.len(), 3, "200 draws should see all three keys");
    // Only a key about to expire: once it has, none is returned.
    assert_eq!(r.call(&["FLUSHDB"]), ok());
    assert_eq!(r.call(&["SET", "gone", "1", "PX", "1"]), ok());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while r.call(&["RANDOMKEY"]) != Resp::Bulk(None) {
        assert!(std::time::Instant::now() < deadline, "RANDOMKEY kept returning an expired key");
    }
}

#[test]
fn rename_and_renamenx() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["RENAME", "nokey", "x"]), err("ERR no such key"));
    assert_eq!(r.call(&["RENAMENX", "nokey", "x"]), err("ERR no such key"));
    assert_eq!(r.call(&["SET", "a", "1", "EX", "100"]), ok());
    assert_eq!(r.call(&["RENAME", "a", "b"]), ok());
    assert_eq!(r.call(&["EXISTS", "a"]), int(0));
    assert_eq!(r.call(&["GET", "b"]), bulk("1"));
    assert_eq!(r.call(&["TTL", "b"]), int(100), "RENAME keeps the TTL");
    assert_eq!(r.call(&["RENAME", "b", "b"]), ok());
    assert_eq!(r.call(&["RENAMENX", "b", "b"]), int(0));
    assert_eq!(r.call(&["SET", "c", "2"]), ok());
    assert_eq!(r.call(&["RENAMENX", "b", "c"]), int(0));
    assert_eq!(r.call(&["GET", "c"]), bulk("2"));
    assert_eq!(r.call(&["RENAMENX", "b", "d"]), int(1));
    assert_eq!(r.call(&["TTL", "d"]), int(100));
    // RENAME over an existing key replaces it, TTL and type included.
    assert_eq!(r.call(&["SET", "e", "x", "EX", "50"]), ok());
    assert_eq!(r.call(&["HSET", "h", "f", "v"]), int(1));
    assert_eq!(r.call(&["RENAME", "h", "e"]), ok());
    assert_eq!(r.call(&["TYPE", "e"]), status("hash"));
    assert_eq!(r.call(&["TTL", "e"]), int(-1));
}

#[test]
fn copy_between_keys_and_databases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "src", "v", "EX", "100"]), ok());
    assert_eq!(r.call(&["COPY", "src", "dst"]), int(1));
    assert_eq!(r.call(&["GET", "dst"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "dst"]), int(100), "COPY copies the TTL");
    assert_eq!(r.call(&["SET", "dst", "other"]), ok());
    assert_eq!(r.call(&["COPY", "src", "dst"]), int(0));
    assert_eq!(r.call(&["GET", "dst"]), bulk("other"));
    assert_eq!(r.call(&["COPY", "src", "dst", "REPLACE"]), int(1));
    assert_eq!(r.call(&["GET", "dst"]), bulk("v"));
    assert_eq!(r.call(&["COPY", "nokey", "x"]), int(0));
    assert_eq!(r.call(&["COPY", "src", "src"]), err("ERR source and destination objects are the same"));
    assert_eq!(r.call(&["COPY", "src", "src", "DB", "0"]), err("ERR source and destination objects are the same"));
    assert_eq!(r.call(&["COPY", "src", "src", "DB", "1"]), int(1));
    assert_eq!(r.call(&["COPY", "src", "src", "DB", "1"]), int(0));
    assert_eq!(r.call(&["COPY", "src", "x", "DB", "16"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["COPY", "src", "x", "DB", "-1"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["COPY", "src", "x", "DB", "abc"]), err("ERR value is not an integer or out of range"));
    assert_eq!(r.call(&["COPY", "src", "x", "DB"]), err("ERR syntax error"));
    assert_eq!(r.call(&["COPY", "src", "x", "FOO"]), err("ERR syntax error"));
    // The copy is independent of the source.
    assert_eq!(r.call(&["HSET", "h", "a", "1"]), int(1));
    assert_eq!(r.call(&["COPY", "h", "h2"]), int(1));
    assert_eq!(r.call(&["HSET", "h", "b", "2"]), int(1));
    assert_eq!(r.call(&["HLEN", "h2"]), int(1));
    assert_eq!(r.call(&["SELECT", "1"]), ok());
    assert_eq!(r.call(&["GET", "src"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "src"]), int(100));
}

#[test]
fn move_between_databases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v", "EX", "100"]), ok());
    assert_eq!(r.call(&["MOVE", "k", "0"]), err("ERR source and destination objects are the same"));
    assert_eq!(r.call(&["MOVE", "k", "16"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["MOVE", "k", "abc"]), err("ERR value is not an integer or out of range"));
    assert_eq!(r.call(&["MOVE", "nokey", "1"]), int(0));
    assert_eq!(r.call(&["MOVE", "k", "1"]), int(1));
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    assert_eq!(r.call(&["SET", "k", "here"]), ok());
    assert_eq!(r.call(&["MOVE", "k", "1"]), int(0), "the destination has it already");
    assert_eq!(r.call(&["GET", "k"]), bulk("here"));
    assert_eq!(r.call(&["SELECT", "1"]), ok());
    assert_eq!(r.call(&["GET", "k"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "k"]), int(100));
}

#[test]
fn swapdb_flushdb_flushall_dbsize() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    assert_eq!(r.call(&["MSET", "a", "1", "b", "2"]), ok());
    assert_eq!(r.call(&["SELECT", "1"]), ok());
    assert_eq!(r.call(&["SET", "c", "3"]), ok());
    assert_eq!(r.call(&["DBSIZE"]), int(1));
    assert_eq!(other.call(&["DBSIZE"]), int(2));
    assert_eq!(r.call(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(r.call(&["DBSIZE"]), int(2), "db 1 now holds what db 0 had");
    assert_eq!(other.call(&["DBSIZE"]), int(1), "another client's db 0 swapped too");
    assert_eq!(other.call(&["GET", "c"]), bulk("3"));
    assert_eq!(r.call(&["SWAPDB", "0", "0"]), ok());
    assert_eq!(r.call(&["SWAPDB", "0", "16"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["SWAPDB", "-1", "0"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["SWAPDB", "abc", "0"]), err("ERR invalid first DB index"));
    assert_eq!(r.call(&["SWAPDB", "0", "abc"]), err("ERR invalid second DB index"));
    assert_eq!(r.call(&["FLUSHDB", "ASYNC"]), ok());
    assert_eq!(r.call(&["DBSIZE"]), int(0));
    assert_eq!(other.call(&["DBSIZE"]), int(1), "FLUSHDB only empties the selected db");
    assert_eq!(r.call(&["FLUSHDB", "SYNC"]), ok());
    assert_eq!(r.call(&["FLUSHDB", "FOO"]), err("ERR syntax error"));
    assert_eq!(r.call(&["FLUSHDB", "ASYNC", "SYNC"]), err("ERR syntax error"));
    assert_eq!(r.call(&["SET", "x", "1"]), ok());
    assert_eq!(r.call(&["FLUSHALL", "ASYNC"]), ok());
    assert_eq!(r.call(&["DBSIZE"]), int(0));
    assert_eq!(other.call(&["DBSIZE"]), int(0));
    assert_eq!(r.call(&["FLUSHALL", "FOO"]), err("ERR syntax error"));
    assert_eq!(r.call(&["FLUSHALL"]), ok());
}

#[test]
fn original_project_aliases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MSET", "a", "1", "b", "2"]), ok());
    assert_eq!(r.call(&["SIZE"]), int(2));
    assert_eq!(r.call(&["REMOVE", "a", "nokey"]), int(1));
    assert_eq!(r.call(&["size"]), int(1));
    // TTL key seconds sets a TTL (1), or answers 0 for a missing key.
    assert_eq!(r.call(&["TTL", "b", "100"]), int(1));
    assert_eq!(r.call(&["TTL", "b"]), int(100));
    assert_eq!(r.call(&["TTL", "nokey", "100"]), int(0));
    assert_eq!(r.call(&["TTL", "nokey"]), int(-2));
    assert_eq!(r.call(&["SET", "p", "v"]), ok());
    assert_eq!(r.call(&["TTL", "p"]), int(-1));
    assert_eq!(r.call(&["TTL", "p", "abc"]), err("ERR value is not an integer or out of range"));
    assert_eq!(r.call(&["TTL", "p", "1", "2"]), err("ERR wrong number of arguments for 'ttl' command"));
    assert_eq!(r.call(&["RPUSH", "l", "x", "y", "z"]), int(3));
    assert_eq!(r.call(&["LGET", "l", "1"]), bulk("y"));
    assert_eq!(r.call(&["LGET", "l", "-1"]), bulk("z"));
    assert_eq!(r.call(&["LGET", "l", "5"]), Resp::Bulk(None));
}

#[test]
fn ttl_alias_signals_watchers() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["WATCH", "k"]), ok());
    assert_eq!(other.call(&["TTL", "k", "100"]), int(1));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "k"]), status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None));
}

#[test]
fn object_subcommands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (v, enc) in [
        ("12345", "int"),
        ("-1", "int"),
        ("1234567890123456789", "int"),
        ("12345678901234567890", "embstr"),
        ("01", "embstr"),
        ("hello", "embstr"),
        (&"a".repeat(44)[..], "embstr"),
        (&"a".repeat(45)[..], "raw"),
    ] {
        assert_eq!(r.call(&["SET", "k", v]), ok());
        assert_eq!(r.call(&["OBJECT", "ENCODING", "k"]), bulk(enc), "{v}");
    }
    assert_eq!(r.call(&["OBJECT", "ENCODING", "nokey"]), Resp::Bulk(None));
    assert_eq!(r.call(&["SET", "k", "hello"]), ok());
    assert_eq!(r.call(&["OBJECT", "REFCOUNT", "k"]), int(1));
    assert_eq!(r.call(&["SET", "k", "1"]), ok());
    assert_eq!(r.call(&["OBJECT", "REFCOUNT", "k"]), int(2147483647), "shared integer");
    assert_eq!(r.call(&["OBJECT", "IDLETIME", "k"]), int(0));
    assert_eq!(
        r.call(&["OBJECT", "FREQ", "k"]),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(r.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]), ok());
    assert!(matches!(r.call(&["OBJECT", "FREQ", "k"]), Resp::Int(_)));
    assert_eq!(
        r.call(&["OBJECT", "IDLETIME", "k"]),
        err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(r.call(&["OBJECT", "FOO", "k"]), err("ERR unknown subcommand 'FOO'. Try OBJECT HELP."));
    assert_eq!(
        r.call(&["OBJECT", "ENCODING", "k", "x"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(r.call(&["OBJECT", "HELP", "x"]), err("ERR wrong number of arguments for 'object|help' command"));
    let Resp::Array(Some(help)) = r.call(&["OBJECT", "HELP"]) else { panic!() };
    assert_eq!(help[0], status("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    assert_eq!(help.last(), Some(&status("    Prints this help.")));
}

#[test]
fn object_encoding_raw_after_in_place_edits() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "10"]), ok());
    assert_eq!(r.call(&["APPEND", "k", "1"]), int(3));
    assert_eq!(r.call(&["OBJECT", "ENCODING", "k"]), bulk("raw"));
    assert_eq!(r.call(&["SET", "k", "10"]), ok());
    assert_eq!(r.call(&["SETRANGE", "k", "0", "2"]), int(2));
    assert_eq!(r.call(&["OBJECT", "ENCODING", "k"]), bulk("raw"));
}

#[test]
fn keyspace_hits_and_misses_as_redis_counts_them() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let stats = |r: &mut Raw| {
        let Resp::Bulk(Some(b)) = r.call(&["INFO", "stats"]) else { panic!() };
        let text = String::from_utf8(b).unwrap();
        let get = |f: &str| text.lines().find_map(|l| l.strip_prefix(f)).unwrap().trim().parse::<i64>().unwrap();
        (get("keyspace_hits:"), get("keyspace_misses:"))
    };
    // (command, hits, misses) as Redis 7 counts them for an existing key `a`.
    let cases: &[(&[&str], i64, i64)] = &[
        (&["GET", "a"], 1, 0),
        (&["GET", "nokey"], 0, 1),
        (&["TYPE", "a"], 1, 0),
        (&["TYPE", "nokey"], 0, 1),
        (&["TTL", "a"], 1, 0),
        (&["PTTL", "nokey"], 0, 1),
        (&["EXPIRETIME", "a"], 1, 0),
        (&["EXISTS", "a", "nokey"], 1, 1),
        (&["OBJECT", "ENCODING", "a"], 1, 0),
        (&["TOUCH", "a"], 1, 0),
        (&["COPY", "a", "b", "REPLACE"], 1, 0),
        (&["MGET", "a", "nokey"], 1, 1),
        (&["SET", "a", "1", "GET"], 1, 0),
        (&["INCR", "a"], 0, 0),
        (&["EXPIRE", "a", "100"], 0, 0),
        (&["DEL", "b"], 0, 0),
        (&["DBSIZE"], 0, 0),
        (&["KEYS", "*"], 0, 0),
    ];
    for (cmd, hits, misses) in cases {
        assert_eq!(r.call(&["SET", "a", "1"]), ok());
        assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
        r.call(cmd);
        assert_eq!(stats(&mut r), (*hits, *misses), "{cmd:?}");
    }
}
