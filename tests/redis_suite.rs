//! Regressions found by running Redis 7.0's own test suite (`runtest
//! --host … --port …`) against this server: encoding parameters and
//! `OBJECT ENCODING`, strings modified in place, DEBUG DIGEST / PROTOCOL /
//! SET-ACTIVE-EXPIRE / QUICKLIST-PACKED-THRESHOLD, MEMORY USAGE, blocked
//! clients and keys that change type, WATCH and keys that expire.

mod common;
use std::io::BufRead;
use std::time::Duration;

use common::{blocked_clients, bulk, err, int, ok, status, wait_for, Raw, Resp, Server};

/// A RESP2 flat key/value array as pairs of strings.
fn pairs(r: Resp) -> Vec<(String, String)> {
    let Resp::Array(Some(items)) = r else { panic!("not an array: {r:?}") };
    let v: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Resp::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()
}

fn encoding(r: &mut Raw, key: &str) -> String {
    match r.call(&["OBJECT", "ENCODING", key]) {
        Resp::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!("OBJECT ENCODING {key}: {other:?}"),
    }
}

/// A field of an INFO section.
fn info_field(r: &mut Raw, section: &str, name: &str) -> String {
    let Resp::Bulk(Some(b)) = r.call(&["INFO", section]) else { panic!("INFO {section}") };
    let text = String::from_utf8(b).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

#[test]
fn encoding_parameters_have_aliases_and_drive_object_encoding() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // Redis 7.0's defaults, under the name asked for.
    assert_eq!(
        pairs(r.call(&["CONFIG", "GET", "hash-max-ziplist-entries"])),
        [("hash-max-ziplist-entries".to_string(), "512".to_string())]
    );
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hash-max-listpack-value"]))[0].1, "64");
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "list-max-ziplist-size"]))[0].1, "-2");
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "list-compress-depth"]))[0].1, "0");
    // A glob lists names and aliases alike.
    let mut names: Vec<String> = pairs(r.call(&["CONFIG", "GET", "hash-max-*"])).into_iter().map(|p| p.0).collect();
    names.sort();
    assert_eq!(
        names,
        ["hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries", "hash-max-ziplist-value"]
    );
    // Setting through the alias changes the parameter.
    assert_eq!(r.call(&["CONFIG", "SET", "hash-max-ziplist-entries", "2"]), ok());
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hash-max-listpack-entries"]))[0].1, "2");
    assert_eq!(r.call(&["HSET", "h", "a", "1", "b", "2"]), int(2));
    assert_eq!(encoding(&mut r, "h"), "listpack");
    assert_eq!(r.call(&["HSET", "h", "c", "3"]), int(1));
    assert_eq!(encoding(&mut r, "h"), "hashtable");
    assert_eq!(r.call(&["CONFIG", "SET", "hash-max-listpack-entries", "512", "hash-max-listpack-value", "1kb"]), ok());
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hash-max-listpack-value"]))[0].1, "1024");
    assert_eq!(r.call(&["HSET", "long", "f", &"x".repeat(1024)]), int(1));
    assert_eq!(encoding(&mut r, "long"), "listpack");
    assert_eq!(r.call(&["HSET", "long", "f", &"x".repeat(1025)]), int(0));
    assert_eq!(encoding(&mut r, "long"), "hashtable");
    // A failed CONFIG SET leaves the thresholds as they were.
    assert_eq!(
        r.call(&["CONFIG", "SET", "hash-max-listpack-value", "10", "list-compress-depth", "-1"]),
        err("ERR CONFIG SET failed (possibly related to argument 'list-compress-depth') - argument must be between 0 and 2147483647 inclusive")
    );
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hash-max-listpack-value"]))[0].1, "1024");
    assert_eq!(r.call(&["HSET", "mid", "f", &"x".repeat(20)]), int(1));
    assert_eq!(encoding(&mut r, "mid"), "listpack");
    assert_eq!(
        r.call(&["CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"]),
        err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - duplicate parameter")
    );
    // Lists are always quicklists in Redis 7.0.
    assert_eq!(r.call(&["RPUSH", "l", "a"]), int(1));
    assert_eq!(encoding(&mut r, "l"), "quicklist");
    // Parameters for types this server lacks are still settable.
    assert_eq!(r.call(&["CONFIG", "SET", "zset-max-ziplist-entries", "16", "set-max-intset-entries", "8"]), ok());
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "zset-max-listpack-entries"]))[0].1, "16");
}

#[test]
fn strings_modified_in_place_report_raw() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "1234"]), ok());
    assert_eq!(encoding(&mut r, "k"), "int");
    // Nothing to write: the value and its encoding stay.
    assert_eq!(r.call(&["SETRANGE", "k", "0", ""]), int(4));
    assert_eq!(encoding(&mut r, "k"), "int");
    assert_eq!(r.call(&["SETRANGE", "k", "0", "2"]), int(4));
    assert_eq!(encoding(&mut r, "k"), "raw");
    assert_eq!(r.call(&["GET", "k"]), bulk("2234"));
    // APPEND to an existing key modifies it in place, keeping its TTL.
    assert_eq!(r.call(&["SET", "a", "x", "EX", "100"]), ok());
    assert_eq!(encoding(&mut r, "a"), "embstr");
    assert_eq!(r.call(&["APPEND", "a", "y"]), int(2));
    assert_eq!(encoding(&mut r, "a"), "raw");
    assert!(matches!(r.call(&["TTL", "a"]), Resp::Int(t) if t > 90));
    // APPEND creating the key stores it as SET would; SETRANGE creates a raw string.
    assert_eq!(r.call(&["APPEND", "n", "12"]), int(2));
    assert_eq!(encoding(&mut r, "n"), "int");
    assert_eq!(r.call(&["SETRANGE", "m", "1", "x"]), int(2));
    assert_eq!(encoding(&mut r, "m"), "raw");
    // A new value is encoded afresh.
    assert_eq!(r.call(&["SET", "k", "5"]), ok());
    assert_eq!(encoding(&mut r, "k"), "int");
    assert_eq!(r.call(&["SETRANGE", "k", "0", "6"]), int(1));
    assert_eq!(r.call(&["INCR", "k"]), int(7));
    assert_eq!(encoding(&mut r, "k"), "int");
}

#[test]
fn debug_digest_is_stable_and_order_aware() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let zero = status(&"0".repeat(40));
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), zero);
    assert_eq!(r.call(&["RPUSH", "l", "a", "b"]), int(2));
    assert_eq!(r.call(&["RPUSH", "l2", "b", "a"]), int(2));
    assert_eq!(r.call(&["HSET", "h", "f1", "v1", "f2", "v2"]), int(2));
    assert_eq!(r.call(&["HSET", "h2", "f2", "v2", "f1", "v1"]), int(2));
    assert_eq!(r.call(&["SET", "s", "v", "EX", "1000"]), ok());
    let Resp::Array(Some(d)) = r.call(&["DEBUG", "DIGEST-VALUE", "l", "l2", "h", "h2", "nokey"]) else { panic!() };
    assert_ne!(d[0], d[1], "list order matters");
    assert_eq!(d[2], d[3], "hash field order does not");
    assert_eq!(d[4], zero);
    let Resp::Simple(before) = r.call(&["DEBUG", "DIGEST"]) else { panic!() };
    assert_eq!(before.len(), 40);
    assert!(before.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(r.call(&["DEBUG", "RELOAD"]), ok());
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), status(&before), "same dataset after a reload");
    // The same keys in another database give another digest; a change changes it.
    assert_eq!(r.call(&["LSET", "l", "0", "z"]), ok());
    assert_ne!(r.call(&["DEBUG", "DIGEST"]), status(&before));
    assert_eq!(r.call(&["LSET", "l", "0", "a"]), ok());
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), status(&before));
    assert_eq!(r.call(&["PERSIST", "s"]), int(1));
    assert_ne!(r.call(&["DEBUG", "DIGEST"]), status(&before), "a TTL is part of the digest");
    // Inside MULTI the digest is computed under EXEC's locks.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), status("QUEUED"));
    assert!(matches!(r.call(&["EXEC"]), Resp::Array(Some(v)) if matches!(&v[0], Resp::Simple(d) if d.len() == 40)));
    assert_eq!(r.call(&["FLUSHALL"]), ok());
    assert_eq!(r.call(&["DEBUG", "DIGEST"]), zero);
}

#[test]
fn debug_protocol_types() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["DEBUG", "PROTOCOL", "attrib"]), bulk("Some real reply following the attribute"));
    assert_eq!(r.call(&["DEBUG", "PROTOCOL", "true"]), int(1));
    assert_eq!(r.call(&["DEBUG", "PROTOCOL", "push"]), err("ERR RESP2 is not supported by this command"));
    assert!(
        matches!(r.call(&["DEBUG", "PROTOCOL", "nope"]), Resp::Error(e) if e.starts_with("ERR Wrong protocol type name"))
    );
    assert!(matches!(r.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(r.call(&["DEBUG", "PROTOCOL", "true"]), Resp::Bool(true));
    assert_eq!(r.call(&["DEBUG", "PROTOCOL", "verbatim"]), Resp::Verbatim(b"This is a verbatim\nstring".to_vec()));
    // Types the test harness does not parse: read the lines themselves.
    let lines = |r: &mut Raw, n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                let mut l = String::new();
                r.r.read_line(&mut l).unwrap();
                l.trim_end().to_string()
            })
            .collect()
    };
    r.cmd(&[b"DEBUG", b"PROTOCOL", b"bignum"]);
    assert_eq!(lines(&mut r, 1), ["(1234567999999999999999999999999999999"]);
    r.cmd(&[b"DEBUG", b"PROTOCOL", b"attrib"]);
    assert_eq!(
        lines(&mut r, 9),
        ["|1", "$14", "key-popularity", "*2", "$7", "key:123", ":90", "$39", "Some real reply following the attribute"]
    );
    assert_eq!(r.call(&["PING"]), status("PONG"));
}

#[test]
fn debug_set_active_expire_and_packed_threshold() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), ok());
    // PX 100, not 1: a SET whose expiry time has already passed when it
    // checks (a millisecond gone on a loaded machine) deletes the key at
    // once, as Redis does, and DBSIZE below would be short of it.
    for i in 0..20 {
        assert_eq!(r.call(&["SET", &format!("k{i}"), "v", "PX", "100"]), ok());
    }
    std::thread::sleep(Duration::from_millis(400));
    // Not reclaimed in the background: DBSIZE still counts them…
    assert_eq!(r.call(&["DBSIZE"]), int(20));
    // …but they are gone for readers (lazy expiry still works).
    assert_eq!(r.call(&["EXISTS", "k0"]), int(0));
    assert_eq!(r.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), ok());
    wait_for(10, "the active cycle to reclaim the keys", || r.call(&["DBSIZE"]) == int(0));
    assert_eq!(r.call(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"]), ok());
    assert_eq!(r.call(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]), ok());
    assert_eq!(
        r.call(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"]),
        err("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
    );
    assert_eq!(
        r.call(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "x"]),
        err("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
    );
}

#[test]
fn memory_usage() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MEMORY", "USAGE", "nokey"]), Resp::Bulk(None));
    assert_eq!(r.call(&["SET", "k", &"x".repeat(1000)]), ok());
    assert!(matches!(r.call(&["MEMORY", "USAGE", "k"]), Resp::Int(n) if n > 1000 && n < 2000));
    assert!(matches!(r.call(&["MEMORY", "USAGE", "k", "SAMPLES", "0"]), Resp::Int(_)));
    assert_eq!(r.call(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"]), err("ERR syntax error"));
    assert_eq!(r.call(&["MEMORY", "USAGE", "k", "FOO"]), err("ERR syntax error"));
    assert_eq!(r.call(&["MEMORY", "USAGE"]), err("ERR wrong number of arguments for 'memory|usage' command"));
    assert_eq!(r.call(&["MEMORY", "NOPE"]), err("ERR unknown subcommand 'NOPE'. Try MEMORY HELP."));
}

#[test]
fn blocked_pop_keeps_waiting_when_the_key_becomes_another_type() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut b = s.raw();
    b.cmd(&[b"BLPOP", b"list", b"0"]);
    wait_for(10, "the client to block", || blocked_clients(&mut r) == 1);
    // The list appears and is replaced by a string before the retry.
    assert_eq!(r.call(&["MULTI"]), ok());
    for cmd in [&["LPUSH", "list", "a"][..], &["DEL", "list"], &["SET", "list", "foo"]] {
        assert_eq!(r.call(cmd), status("QUEUED"));
    }
    assert!(matches!(r.call(&["EXEC"]), Resp::Array(Some(_))));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked_clients(&mut r), 1, "still blocked, no WRONGTYPE");
    assert_eq!(r.call(&["DEL", "list"]), int(1));
    assert_eq!(r.call(&["LPUSH", "list", "b"]), int(1));
    assert_eq!(b.read(), Resp::Array(Some(vec![bulk("list"), bulk("b")])));
    // A command that starts on a key of another type still fails at once.
    assert_eq!(r.call(&["SET", "str", "x"]), ok());
    assert_eq!(
        b.call(&["BLPOP", "str", "0"]),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn exec_fails_when_a_watched_key_expired_after_watch() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), ok());
    assert_eq!(r.call(&["SET", "key", "1", "PX", "100"]), ok());
    assert_eq!(r.call(&["WATCH", "key"]), ok());
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["INCR", "key"]), status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None), "the key expired since WATCH");
    // A key already expired when watched does not exist for the transaction.
    assert_eq!(r.call(&["SET", "x", "foo", "PX", "1"]), ok());
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(r.call(&["WATCH", "x"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["PING"]), status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Resp::Array(Some(vec![status("PONG")])));
    // SWAPDB bringing a stale key under a watched name is no change either.
    assert_eq!(r.call(&["SELECT", "1"]), ok());
    assert_eq!(r.call(&["SET", "y", "foo", "PX", "1"]), ok());
    assert_eq!(r.call(&["SELECT", "0"]), ok());
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(r.call(&["WATCH", "y"]), ok());
    assert_eq!(r.call(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["PING"]), status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Resp::Array(Some(vec![status("PONG")])));
}

/// `name:value` of INFO `section`, for a field that may be missing.
fn info_line(r: &mut Raw, section: &str, prefix: &str) -> Option<String> {
    let Resp::Bulk(Some(b)) = r.call(&["INFO", section]) else { panic!("INFO {section}") };
    let text = String::from_utf8(b).unwrap();
    text.lines().find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_string()))
}

#[test]
fn errors_inside_exec_are_counted_and_latency_settings() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    assert_eq!(r.call(&["SET", "s", "x"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["LPUSH", "s", "a"]), status("QUEUED"));
    assert_eq!(r.call(&["INCR", "s"]), status("QUEUED"));
    let Resp::Array(Some(replies)) = r.call(&["EXEC"]) else { panic!() };
    assert!(matches!(&replies[0], Resp::Error(e) if e.starts_with("WRONGTYPE")));
    assert_eq!(info_line(&mut r, "errorstats", "errorstat_WRONGTYPE:").as_deref(), Some("count=1"));
    assert_eq!(info_line(&mut r, "errorstats", "errorstat_ERR:").as_deref(), Some("count=1"));
    assert_eq!(info_field(&mut r, "stats", "total_error_replies"), "2");
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    assert_eq!(info_line(&mut r, "errorstats", "errorstat_WRONGTYPE:"), None);
    // INFO all lists the per-command sections.
    let Resp::Bulk(Some(all)) = r.call(&["INFO", "all"]) else { panic!() };
    let all = String::from_utf8(all).unwrap();
    for header in ["# Commandstats", "# Errorstats", "# Latencystats"] {
        assert!(all.contains(header), "{header} missing from INFO all");
    }
    let Resp::Bulk(Some(default)) = r.call(&["INFO"]) else { panic!() };
    assert!(!String::from_utf8(default).unwrap().contains("# Commandstats"));
    // The latency-tracking settings.
    assert_eq!(
        pairs(r.call(&["CONFIG", "GET", "latency-tracking*"])).into_iter().collect::<std::collections::HashMap<_, _>>(),
        [("latency-tracking", "yes"), ("latency-tracking-info-percentiles", "50 99 99.9")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    );
    assert_eq!(r.call(&["CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 100.0"]), ok());
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "latency-tracking-info-percentiles"]))[0].1, "0 50 100");
    assert_eq!(
        r.call(&["CONFIG", "SET", "latency-tracking-info-percentiles", "10.0 50.0 a"]),
        err("ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles parameters")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "latency-tracking-info-percentiles", "101"]),
        err("ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
    );
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "latency-tracking-info-percentiles"]))[0].1, "0 50 100");
    assert_eq!(r.call(&["CONFIG", "SET", "latency-tracking", "no"]), ok());
}

#[test]
fn commandstats_count_calls_rejections_and_failures() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    assert_eq!(r.call(&["SET", "k"]), err("ERR wrong number of arguments for 'set' command"));
    assert_eq!(r.call(&["SET", "k1", "v"]), ok());
    assert_eq!(r.call(&["SET", "k2", "v"]), ok());
    let set = info_line(&mut r, "commandstats", "cmdstat_set:").unwrap();
    assert!(set.starts_with("calls=2,") && set.ends_with(",rejected_calls=1,failed_calls=0"), "{set}");
    assert!(matches!(r.call(&["LPUSH", "k1", "a"]), Resp::Error(_)));
    let lpush = info_line(&mut r, "commandstats", "cmdstat_lpush:").unwrap();
    assert!(lpush.ends_with(",rejected_calls=0,failed_calls=1"), "{lpush}");
    assert!(matches!(r.call(&["NOSUCH"]), Resp::Error(_)));
    assert_eq!(info_line(&mut r, "errorstats", "errorstat_ERR:").as_deref(), Some("count=2"));
    assert_eq!(info_line(&mut r, "errorstats", "errorstat_WRONGTYPE:").as_deref(), Some("count=1"));
    assert!(matches!(r.call(&["CLIENT", "ID"]), Resp::Int(_)));
    assert!(info_line(&mut r, "commandstats", "cmdstat_client|id:").is_some());
    let lat = info_line(&mut r, "latencystats", "latency_percentiles_usec_client|id:").unwrap();
    assert!(lat.starts_with("p50=") && lat.contains(",p99=") && lat.contains(",p99.9="), "{lat}");
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.05"]), ok());
    let debug = info_line(&mut r, "latencystats", "latency_percentiles_usec_debug:").unwrap();
    let p50: f64 = debug.trim_start_matches("p50=").split(',').next().unwrap().parse().unwrap();
    assert!(p50 >= 50000.0, "{debug}");
}

#[test]
fn oom_inside_multi_fails_the_transaction() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut admin = s.raw();
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "a", "1"]), status("QUEUED"));
    assert_eq!(admin.call(&["CONFIG", "SET", "maxmemory", "1"]), ok());
    assert_eq!(r.call(&["SET", "b", "1"]), err("OOM command not allowed when used memory > 'maxmemory'."));
    assert_eq!(r.call(&["GET", "a"]), status("QUEUED"), "reads are still queued");
    assert_eq!(admin.call(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    assert_eq!(r.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    // Memory runs out between MULTI and EXEC: EXEC itself is refused.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "x", "1"]), status("QUEUED"));
    assert_eq!(admin.call(&["CONFIG", "SET", "maxmemory", "1"]), ok());
    assert_eq!(
        r.call(&["EXEC"]),
        err("EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.")
    );
    // Only reads queued: EXEC runs.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "x"]), status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Bulk(None)])));
    assert_eq!(admin.call(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    assert_eq!(r.call(&["EXISTS", "a", "b", "x"]), int(0));
}

#[test]
fn a_watched_key_reclaimed_by_active_expiry_fails_exec() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "x", "foo", "PX", "50"]), ok());
    assert_eq!(r.call(&["WATCH", "x"]), ok());
    wait_for(10, "the active cycle to reclaim x", || r.call(&["DBSIZE"]) == int(0));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["PING"]), status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None));
}
