//! DUMP, RESTORE and MIGRATE against the real binary: round trips of every
//! type and encoding, RESTORE's options and errors, hostile payloads (the
//! server never crashes), MIGRATE between two of our servers (cache,
//! COPY, REPLACE, KEYS, AUTH, timeouts), AOF logging, and interchange with
//! a real `redis-server` when one is installed.

mod common;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{bulk, err, info_field, int, ok, status, text, wait_for, Raw, Resp, Server};

/// `DUMP key`'s payload (panics when the key is missing).
fn dump(c: &mut Raw, key: &str) -> Vec<u8> {
    match c.call(&["DUMP", key]) {
        Resp::Bulk(Some(p)) => p,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

fn restore(c: &mut Raw, key: &str, ttl: &str, payload: &[u8], opts: &[&str]) -> Resp {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(opts.iter().map(|o| o.as_bytes()));
    c.call_bytes(&args)
}

/// A type-independent picture of a key's value, for equality checks:
/// its type, then its contents in a canonical order (a stream in full,
/// groups, consumers and pending entries included).
fn content(c: &mut Raw, key: &str) -> String {
    let t = text(c.call(&["TYPE", key]));
    let body = match t.as_str() {
        "string" => format!("{:?}", c.call(&["GET", key])),
        "list" => format!("{:?}", c.call(&["LRANGE", key, "0", "-1"])),
        "hash" => sorted(c.call(&["HGETALL", key]).pairs()),
        "set" => sorted(common::items(c.call(&["SMEMBERS", key]))),
        "zset" => format!("{:?}", c.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        "stream" => format!("{:?}", c.call(&["XINFO", "STREAM", key, "FULL"])),
        _ => String::new(),
    };
    format!("{t}:{body}")
}

/// Items (or pairs) in a canonical order, binary safe.
fn sorted<T: std::fmt::Debug>(items: Vec<T>) -> String {
    let mut v: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    v.sort();
    v.join(",")
}

/// The pairs of a flat array reply.
trait Pairs {
    fn pairs(self) -> Vec<(Resp, Resp)>;
}

impl Pairs for Resp {
    fn pairs(self) -> Vec<(Resp, Resp)> {
        let v = common::items(self);
        v.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
    }
}

/// Builds one key of every type in every encoding this server uses.
/// Returns the keys.
fn populate(c: &mut Raw) -> Vec<&'static str> {
    let mut args: Vec<String>;
    assert_eq!(c.call(&["SET", "str", "hello"]), ok());
    assert_eq!(c.call(&["SET", "int", "-12345"]), ok());
    assert_eq!(c.call(&["SET", "bigint", "9223372036854775807"]), ok());
    c.call_owned(&["SET".into(), "long".into(), "abcdefghij".repeat(300)]);
    c.call(&["SET", "bin", "\u{0}\u{1}\r\n\u{ff}"]);
    // Lists: one listpack, several quicklist nodes, integers of every width.
    assert_eq!(c.call(&["RPUSH", "list", "a", "1", "-7", "300", "70000", "5000000000", "x"]), int(7));
    args = vec!["RPUSH".into(), "biglist".into()];
    args.extend((0..3000).map(|i| if i % 3 == 0 { i.to_string() } else { format!("item {i}") }));
    c.call_owned(&args);
    c.call_owned(&["RPUSH".into(), "hugeitems".into(), "x".repeat(20000), "y".into(), "z".repeat(9000)]);
    // Hashes: listpack and hashtable.
    c.call(&["HSET", "hash", "f1", "v1", "f2", "2", "f3", "-3"]);
    args = vec!["HSET".into(), "bighash".into()];
    for i in 0..600 {
        args.push(format!("field{i}"));
        args.push(format!("value {i}"));
    }
    c.call_owned(&args);
    c.call_owned(&["HSET".into(), "longhash".into(), "f".into(), "v".repeat(100)]);
    // Sets: intset, large intset, listpack/hashtable of strings.
    c.call(&["SADD", "intset", "1", "-2", "300", "70000", "5000000000"]);
    args = vec!["SADD".into(), "bigintset".into()];
    args.extend((0..1000).map(|i| (i * 7).to_string()));
    c.call_owned(&args);
    c.call(&["SADD", "strset", "a", "b", "c", "1"]);
    args = vec!["SADD".into(), "bigset".into()];
    args.extend((0..1000).map(|i| format!("m{i}")));
    c.call_owned(&args);
    // Sorted sets: listpack and skiplist, odd scores.
    c.call(&["ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c", "inf", "d", "0", "e"]);
    args = vec!["ZADD".into(), "bigzset".into()];
    for i in 0..500 {
        args.push(format!("{}", i as f64 / 3.0));
        args.push(format!("member {i}"));
    }
    c.call_owned(&args);
    // Streams: entries, a deleted entry, groups, consumers, pending entries.
    for i in 1..=20 {
        c.call_owned(&[
            "XADD".into(),
            "stream".into(),
            format!("{i}-1"),
            "f".into(),
            i.to_string(),
            "g".into(),
            "v".into(),
        ]);
    }
    c.call(&["XDEL", "stream", "5-1"]);
    c.call(&["XGROUP", "CREATE", "stream", "g1", "0"]);
    c.call(&["XGROUP", "CREATE", "stream", "g2", "$"]);
    c.call(&["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "stream", ">"]);
    c.call(&["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "stream", ">"]);
    c.call(&["XACK", "stream", "g1", "2-1"]);
    c.call(&["XGROUP", "CREATECONSUMER", "stream", "g2", "carol"]);
    c.call(&["XADD", "emptystream", "1-1", "a", "b"]);
    c.call(&["XDEL", "emptystream", "1-1"]);
    vec![
        "str",
        "int",
        "bigint",
        "long",
        "bin",
        "list",
        "biglist",
        "hugeitems",
        "hash",
        "bighash",
        "longhash",
        "intset",
        "bigintset",
        "strset",
        "bigset",
        "zset",
        "bigzset",
        "stream",
        "emptystream",
    ]
}

#[test]
fn every_type_and_encoding_round_trips() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for key in populate(&mut c) {
        let before = content(&mut c, key);
        let enc = common::encoding(&mut c, key);
        let p = dump(&mut c, key);
        assert_eq!(c.call(&["DEL", key]), int(1));
        assert_eq!(restore(&mut c, key, "0", &p, &[]), ok(), "{key}");
        assert_eq!(content(&mut c, key), before, "{key}");
        assert_eq!(common::encoding(&mut c, key), enc, "{key}");
        assert_eq!(c.call(&["PTTL", key]), int(-1));
        // The same value dumps the same again (sets aside: their order is free).
        if !key.ends_with("set") || key.contains("int") || key.contains('z') {
            assert_eq!(dump(&mut c, key), p, "{key}");
        }
        // Restored under another name, with RESTORE-ASKING.
        let other = format!("{key}-copy");
        let r = c.call_bytes(&[b"RESTORE-ASKING", other.as_bytes(), b"0", &p]);
        assert_eq!(r, ok());
        assert_eq!(content(&mut c, &other), before, "{key}");
    }
    assert_eq!(c.call(&["DUMP", "missing"]), Resp::Bulk(None));
}

#[test]
fn restore_ttl_absttl_replace_idletime_and_freq() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SET", "foo", "bar"]);
    let p = dump(&mut c, "foo");
    assert_eq!(restore(&mut c, "foo", "0", &p, &[]), err("BUSYKEY Target key name already exists."));
    c.call(&["DEL", "foo"]);
    // Relative TTL, and one that overflows 32 bits.
    assert_eq!(restore(&mut c, "foo", "5000", &p, &[]), ok());
    let pttl = common::num(&c.call(&["PTTL", "foo"]));
    assert!((1..=5000).contains(&pttl), "{pttl}");
    assert_eq!(restore(&mut c, "foo", "2569591501", &p, &["REPLACE"]), ok());
    assert!(common::num(&c.call(&["PTTL", "foo"])) > 2569591501 - 60_000);
    // Absolute TTL in the future, then in the past (REPLACE deletes the key).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert_eq!(restore(&mut c, "foo", &(now + 100_000).to_string(), &p, &["ABSTTL", "REPLACE"]), ok());
    let pttl = common::num(&c.call(&["PTTL", "foo"]));
    assert!((1..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(restore(&mut c, "foo", &(now - 3000).to_string(), &p, &["ABSTTL", "REPLACE"]), ok());
    assert_eq!(c.call(&["EXISTS", "foo"]), int(0));
    assert_eq!(c.call(&["DEBUG", "OBJECT", "foo"]), err("ERR no such key"));
    assert_eq!(restore(&mut c, "new", &(now - 3000).to_string(), &p, &["ABSTTL"]), ok());
    assert_eq!(c.call(&["EXISTS", "new"]), int(0));
    // REPLACE overwrites, and takes the new TTL (none).
    c.call(&["SET", "foo", "old", "EX", "100"]);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["replace"]), ok());
    assert_eq!(c.call(&["GET", "foo"]), bulk("bar"));
    assert_eq!(c.call(&["TTL", "foo"]), int(-1));
    // IDLETIME under an LRU policy, FREQ under an LFU one.
    c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["REPLACE", "IDLETIME", "1000"]), ok());
    let idle = common::num(&c.call(&["OBJECT", "IDLETIME", "foo"]));
    assert!((1000..1010).contains(&idle), "{idle}");
    c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["REPLACE", "FREQ", "100"]), ok());
    assert_eq!(c.call(&["OBJECT", "FREQ", "foo"]), int(100));
    c.call(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    // Option errors.
    let syntax = err("ERR syntax error");
    assert_eq!(restore(&mut c, "foo", "0", &p, &["REPLACE", "IDLETIME", "1", "FREQ", "1"]), syntax);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["REPLACE", "FREQ", "1", "IDLETIME", "1"]), syntax);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["REPLACE", "IDLETIME"]), syntax);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["bogus"]), syntax);
    assert_eq!(
        restore(&mut c, "foo", "0", &p, &["REPLACE", "IDLETIME", "-1"]),
        err("ERR Invalid IDLETIME value, must be >= 0")
    );
    assert_eq!(
        restore(&mut c, "foo", "0", &p, &["REPLACE", "FREQ", "256"]),
        err("ERR Invalid FREQ value, must be >= 0 and <= 255")
    );
    assert_eq!(restore(&mut c, "foo", "-1", &p, &["REPLACE"]), err("ERR Invalid TTL value, must be >= 0"));
    assert_eq!(restore(&mut c, "foo", "x", &p, &["REPLACE"]), err("ERR value is not an integer or out of range"));
}

/// `body` framed as a payload of RDB `version`, with a right checksum.
fn framed(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let sum = inmemory::persist::rdb::crc64(0, &p);
    p.extend_from_slice(&sum.to_le_bytes());
    p
}

#[test]
fn bad_payloads_are_refused_with_redis_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let version = err("ERR DUMP payload version or checksum are wrong");
    let bad = err("ERR Bad data format");
    c.call(&["SET", "foo", "bar"]);
    let p = dump(&mut c, "foo");
    assert_eq!(&p[p.len() - 10..p.len() - 8], &[10, 0]);
    let mut flipped = p.clone();
    flipped[1] ^= 1;
    assert_eq!(restore(&mut c, "k", "0", &flipped, &[]), version);
    assert_eq!(restore(&mut c, "k", "0", &p[..9], &[]), version);
    assert_eq!(restore(&mut c, "k", "0", b"", &[]), version);
    assert_eq!(restore(&mut c, "k", "0", &framed(b"\x00\x03bar", 11), &[]), version);
    // Older versions are accepted.
    assert_eq!(restore(&mut c, "k", "0", &framed(b"\x00\x03bar", 6), &[]), ok());
    assert_eq!(c.call(&["GET", "k"]), bulk("bar"));
    for body in [
        &b""[..],
        b"\x00",
        b"\x00\x05ab",
        b"\x01\x00",             // empty list
        b"\x02\x00",             // empty set
        b"\x07\x01\x02",         // module value
        b"\x42\x03bar",          // not a type
        b"\x0b\x04\x01\x02\x03", // broken intset
        b"\x02\x02\x01a\x01a",   // a set with a duplicate
        b"\x10\x03abc",          // broken listpack
    ] {
        assert_eq!(restore(&mut c, "x", "0", &framed(body, 10), &[]), bad, "{body:?}");
    }
    assert_eq!(c.call(&["EXISTS", "x"]), int(0));
    assert_eq!(c.call(&["PING"]), status("PONG"));
}

/// Random damage to a payload: flipped bits, bytes set, cut, inserted or
/// removed; the footer recomputed on most of them so the value decoder is
/// what sees the damage.
fn mutate(rng: &mut fastrand::Rng, p: &[u8]) -> Vec<u8> {
    let mut body = p[..p.len() - 10].to_vec();
    for _ in 0..rng.usize(1..4) {
        if body.is_empty() {
            break;
        }
        let i = rng.usize(..body.len());
        match rng.u8(..5) {
            0 => body[i] ^= 1 << rng.u8(..8),
            1 => body[i] = rng.u8(..),
            2 => body.truncate(i),
            3 => body.insert(i, rng.u8(..)),
            _ => {
                body.remove(i);
            }
        }
    }
    if rng.u8(..8) == 0 {
        let mut q = p.to_vec();
        let i = rng.usize(..q.len());
        q[i] ^= 0x40;
        return q;
    }
    framed(&body, 10)
}

#[test]
fn damaged_payloads_never_crash_the_server() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let keys = populate(&mut c);
    // Compressed and not: uncompressed payloads expose the nested
    // listpacks, intsets and stream nodes to the damage.
    let mut payloads: Vec<Vec<u8>> = keys.iter().map(|k| dump(&mut c, k)).collect();
    c.call(&["CONFIG", "SET", "rdbcompression", "no"]);
    payloads.extend(keys.iter().map(|k| dump(&mut c, k)));
    // DUMP_FUZZ_SEED and DUMP_FUZZ_ROUNDS run a longer or another campaign.
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let mut rng = fastrand::Rng::with_seed(env("DUMP_FUZZ_SEED", 0x5eed));
    let (mut restored, mut refused) = (0, 0);
    for round in 0..env("DUMP_FUZZ_ROUNDS", 8000) as usize {
        let p = &payloads[round % payloads.len()];
        let q = mutate(&mut rng, p);
        match restore(&mut c, "fuzz", "0", &q, &["REPLACE"]) {
            Resp::Simple(s) if s == "OK" => {
                restored += 1;
                // Whatever was accepted must be usable.
                content(&mut c, "fuzz");
                dump(&mut c, "fuzz");
                c.call(&["DEL", "fuzz"]);
            }
            Resp::Error(e) => {
                assert!(e == "ERR Bad data format" || e == "ERR DUMP payload version or checksum are wrong", "{e}");
                refused += 1;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    assert!(refused > 0 && restored > 0, "{restored} restored, {refused} refused");
    assert_eq!(c.call(&["PING"]), status("PONG"));
    assert_eq!(c.call(&["SET", "after", "1"]), ok());
}

#[test]
fn restore_notifies_dirties_and_breaks_watch() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SET", "foo", "bar"]);
    let p = dump(&mut c, "foo");
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sub = s.raw();
    sub.call(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let mut w = s.raw();
    w.call(&["WATCH", "foo"]);
    w.call(&["MULTI"]);
    w.call(&["GET", "foo"]);
    let dirty = common::dirty(&mut c);
    assert_eq!(restore(&mut c, "foo", "0", &p, &["REPLACE"]), ok());
    assert!(common::dirty(&mut c) > dirty);
    assert_eq!(w.call(&["EXEC"]), Resp::Array(None));
    let msg = common::items(sub.read());
    assert_eq!(msg[2], bulk("__keyevent@0__:restore"));
    assert_eq!(msg[3], bulk("foo"));
    // A TTL already past deletes the old key: `del`.
    assert_eq!(restore(&mut c, "foo", "1", &p, &["REPLACE", "ABSTTL"]), ok());
    let msg = common::items(sub.read());
    assert_eq!(msg[2], bulk("__keyevent@0__:del"));
    // MIGRATE: `del` for each key moved away.
    let other = Server::start(&[]);
    c.call(&["SET", "moved", "1"]);
    sub.read(); // its `set`
    let port = other.port.to_string();
    assert_eq!(c.call(&["MIGRATE", "127.0.0.1", &port, "moved", "0", "5000"]), ok());
    let msg = common::items(sub.read());
    assert_eq!((msg[2].clone(), msg[3].clone()), (bulk("__keyevent@0__:del"), bulk("moved")));
}

#[test]
fn restore_and_migrate_are_logged_in_the_aof() {
    let src = Server::start(&["--appendonly", "yes"]);
    let dst = Server::start(&[]);
    let mut c = src.raw();
    c.call(&["SET", "foo", "bar"]);
    let p = dump(&mut c, "foo");
    assert_eq!(restore(&mut c, "ttl", "100000", &p, &[]), ok());
    c.call(&["SET", "moved", "x"]);
    let port = dst.port.to_string();
    assert_eq!(c.call(&["MIGRATE", "127.0.0.1", &port, "moved", "0", "5000"]), ok());
    let dir = src.into_dir(true);
    let src = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = src.raw();
    assert_eq!(c.call(&["GET", "ttl"]), bulk("bar"));
    let pttl = common::num(&c.call(&["PTTL", "ttl"]));
    assert!((1..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.call(&["EXISTS", "moved"]), int(0));
}

fn migrated_sockets(c: &mut Raw) -> String {
    info_field(&text(c.call(&["INFO", "stats"])), "migrate_cached_sockets").unwrap_or_default()
}

#[test]
fn migrate_between_two_servers() {
    let src = Server::start(&[]);
    let dst = Server::start(&[]);
    let (mut a, mut b) = (src.raw(), dst.raw());
    let port = dst.port.to_string();
    let mig = |a: &mut Raw, rest: &[&str]| {
        let mut args = vec!["MIGRATE", "127.0.0.1", port.as_str()];
        args.extend(rest);
        a.call(&args)
    };
    assert_eq!(migrated_sockets(&mut a), "0");
    a.call(&["SET", "key", "Some Value"]);
    assert_eq!(mig(&mut a, &["key", "9", "5000"]), ok());
    assert_eq!(migrated_sockets(&mut a), "1");
    assert_eq!(a.call(&["EXISTS", "key"]), int(0));
    b.call(&["SELECT", "9"]);
    assert_eq!(b.call(&["GET", "key"]), bulk("Some Value"));
    assert_eq!(b.call(&["TTL", "key"]), int(-1));
    // COPY keeps the source; without REPLACE a busy target refuses.
    a.call(&["RPUSH", "list", "a", "b", "c"]);
    assert_eq!(mig(&mut a, &["list", "0", "5000", "COPY"]), ok());
    assert_eq!(a.call(&["LLEN", "list"]), int(3));
    assert_eq!(b.call(&["SELECT", "0"]), ok());
    assert_eq!(b.call(&["LLEN", "list"]), int(3));
    let busy = mig(&mut a, &["list", "0", "5000", "COPY"]);
    assert_eq!(busy, err("ERR Target instance replied with error: BUSYKEY Target key name already exists."));
    assert_eq!(mig(&mut a, &["list", "0", "5000", "REPLACE"]), ok());
    assert_eq!(a.call(&["EXISTS", "list"]), int(0));
    // A cached connection the target closed is reopened, and the keys sent again.
    let list = text(b.call(&["CLIENT", "LIST"]));
    let line = list.lines().find(|l| l.contains("cmd=restore")).expect("the MIGRATE connection");
    let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap().to_string();
    assert_eq!(b.call(&["CLIENT", "KILL", "ID", &id]), int(1));
    a.call(&["SET", "again", "1"]);
    assert_eq!(mig(&mut a, &["again", "0", "5000"]), ok());
    assert_eq!(b.call(&["GET", "again"]), bulk("1"));
    assert_eq!(migrated_sockets(&mut a), "1");
    // TTLs travel.
    a.call(&["SET", "ttl", "v", "EX", "100"]);
    assert_eq!(mig(&mut a, &["ttl", "0", "5000"]), ok());
    let ttl = common::num(&b.call(&["TTL", "ttl"]));
    assert!((90..=100).contains(&ttl), "{ttl}");
    // Large values (over 64 KiB of payload).
    let mut args = vec!["RPUSH".to_string(), "big".into()];
    args.extend((0..20_000).map(|i| format!("item {i}")));
    a.call_owned(&args);
    assert!(dump(&mut a, "big").len() > 64 * 1024);
    assert_eq!(mig(&mut a, &["big", "0", "10000"]), ok());
    assert_eq!(b.call(&["LLEN", "big"]), int(20_000));
    // Several keys; missing ones are skipped; none present is NOKEY.
    a.call(&["MSET", "k1", "v1", "k2", "v2", "k3", "v3"]);
    assert_eq!(mig(&mut a, &["", "0", "5000", "KEYS", "nokey-1", "nokey-2"]), status("NOKEY"));
    assert_eq!(mig(&mut a, &["missing", "0", "5000"]), status("NOKEY"));
    assert_eq!(mig(&mut a, &["", "0", "5000", "KEYS", "k1", "nokey", "k2", "k3"]), ok());
    assert_eq!(a.call(&["EXISTS", "k1", "k2", "k3"]), int(0));
    assert_eq!(b.call(&["MGET", "k1", "k2", "k3"]), common::bulks(&["v1", "v2", "v3"]));
    // Only the keys the target accepted are deleted.
    a.call(&["MSET", "a", "1", "c", "3", "d", "4", "e", "5"]);
    b.call(&["MSET", "c", "_", "d", "_"]);
    let r = mig(&mut a, &["", "0", "5000", "KEYS", "a", "c", "d", "e"]);
    assert!(matches!(&r, Resp::Error(e) if e.starts_with("ERR Target instance replied with error: BUSYKEY")), "{r:?}");
    assert_eq!(a.call(&["EXISTS", "a", "c", "d", "e"]), int(2));
    assert_eq!(a.call(&["EXISTS", "c", "d"]), int(2));
    assert_eq!(b.call(&["MGET", "a", "e"]), common::bulks(&["1", "5"]));
    // Argument errors.
    assert_eq!(
        mig(&mut a, &["c", "0", "5000", "KEYS", "c"]),
        err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
    );
    assert_eq!(mig(&mut a, &["c", "0", "5000", "AUTH"]), err("ERR syntax error"));
    assert_eq!(mig(&mut a, &["c", "0", "5000", "AUTH2", "u"]), err("ERR syntax error"));
    assert_eq!(mig(&mut a, &["c", "0", "5000", "BOGUS"]), err("ERR syntax error"));
    assert_eq!(mig(&mut a, &["c", "x", "5000"]), err("ERR value is not an integer or out of range"));
    // AUTH and AUTH2, right and wrong.
    b.call(&["CONFIG", "SET", "requirepass", "foobar"]);
    assert_eq!(mig(&mut a, &["c", "0", "5000", "REPLACE", "COPY", "AUTH", "foobar"]), ok());
    assert_eq!(mig(&mut a, &["c", "0", "5000", "REPLACE", "COPY", "AUTH2", "default", "foobar"]), ok());
    let r = mig(&mut a, &["c", "0", "5000", "REPLACE", "AUTH", "wrong"]);
    assert!(matches!(&r, Resp::Error(e) if e.contains("WRONGPASS")), "{r:?}");
    // (The cached connection stays authenticated; a new one is not.)
    let r = a.call(&["MIGRATE", "localhost", &port, "c", "0", "5000", "REPLACE"]);
    assert!(matches!(&r, Resp::Error(e) if e.contains("NOAUTH")), "{r:?}");
    assert_eq!(a.call(&["EXISTS", "c"]), int(1));
    // The cached connection goes after 10 s unused.
    wait_for(20, "cached MIGRATE connections to close", || migrated_sockets(&mut a) == "0");
}

#[test]
fn migrate_gives_ioerr_instead_of_hanging() {
    let src = Server::start(&[]);
    let mut a = src.raw();
    a.call(&["SET", "key", "v"]);
    // Nobody listens.
    let closed = common::free_port().to_string();
    let r = a.call(&["MIGRATE", "127.0.0.1", &closed, "key", "0", "1000"]);
    assert_eq!(r, err("IOERR error or timeout connecting to the client"));
    let r = a.call(&["MIGRATE", "no such host.invalid", "1", "key", "0", "500"]);
    assert_eq!(r, err("IOERR error or timeout connecting to the client"));
    // A target that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let r = a.call(&["MIGRATE", "127.0.0.1", &port, "key", "0", "300"]);
    assert_eq!(r, err("IOERR error or timeout reading to target instance"));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(a.call(&["GET", "key"]), bulk("v"));
    assert_eq!(migrated_sockets(&mut a), "0");
    drop(silent);
    assert_eq!(a.call(&["PING"]), status("PONG"));
}

#[test]
fn payloads_and_migrate_interchange_with_redis_server() {
    let Some(redis) = common::RealRedis::start(&[]) else { return };
    let ours = Server::start(&[]);
    let (mut o, mut r) = (ours.raw(), Raw::connect(redis.port));
    let keys = populate(&mut o);
    assert_eq!(populate(&mut r), keys);
    // Values built the same way encode the same way where Redis's encoding
    // is deterministic: not a hash table's order, not LZF (Redis's
    // compressor finds other matches than ours: both decode either), not
    // times (a stream's delivery and seen times).
    let deterministic = ["int", "bigint", "str", "long", "bin", "list", "biglist", "hugeitems", "hash", "intset"];
    let deterministic = [&deterministic[..], &["zset", "bigzset", "emptystream"]].concat();
    for c in [&mut o, &mut r] {
        assert_eq!(c.call(&["CONFIG", "SET", "rdbcompression", "no"]), ok());
    }
    let mut differ = Vec::new();
    for key in &deterministic {
        if dump(&mut o, key) != dump(&mut r, key) {
            differ.push(*key);
        }
    }
    assert!(differ.is_empty(), "payloads differ from redis-server's for {differ:?}");
    for c in [&mut o, &mut r] {
        assert_eq!(c.call(&["CONFIG", "SET", "rdbcompression", "yes"]), ok());
    }
    for key in &keys {
        let mine = dump(&mut o, key);
        let theirs = dump(&mut r, key);
        // (Each side's own value: a stream's times differ between them.)
        let expect = content(&mut o, key);
        let other = format!("{key}-from-ours");
        assert_eq!(restore(&mut r, &other, "0", &mine, &[]), ok(), "{key}");
        assert_eq!(content(&mut r, &other), expect, "{key} in redis-server");
        let expect = content(&mut r, key);
        let other = format!("{key}-from-redis");
        assert_eq!(restore(&mut o, &other, "0", &theirs, &[]), ok(), "{key}");
        assert_eq!(content(&mut o, &other), expect, "{key} from redis-server");
    }
    // MIGRATE both ways, and between two of ours.
    let rport = redis.port.to_string();
    let oport = ours.port.to_string();
    o.call(&["SET", "m1", "to redis"]);
    assert_eq!(o.call(&["MIGRATE", "127.0.0.1", &rport, "", "3", "5000", "KEYS", "m1", "biglist"]), ok());
    r.call(&["SELECT", "3"]);
    assert_eq!(r.call(&["GET", "m1"]), bulk("to redis"));
    assert_eq!(r.call(&["LLEN", "biglist"]), int(3000));
    assert_eq!(r.call(&["MIGRATE", "127.0.0.1", &oport, "", "0", "5000", "KEYS", "m1", "biglist"]), ok());
    assert_eq!(o.call(&["GET", "m1"]), bulk("to redis"));
    assert_eq!(o.call(&["LLEN", "biglist"]), int(3000));
    let third = Server::start(&[]);
    let tport = third.port.to_string();
    assert_eq!(o.call(&["MIGRATE", "127.0.0.1", &tport, "stream", "0", "5000"]), ok());
    let mut t = third.raw();
    assert_eq!(t.call(&["XLEN", "stream"]), int(19));
}

#[test]
fn migrate_names_its_keys_for_getkeys_and_acl() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let keys = c.call(&["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "COPY", "KEYS", "a", "b"]);
    assert_eq!(keys, common::bulks(&["a", "b"]));
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5"]), common::bulks(&["k"]));
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "RESTORE", "k", "0", "x"]), common::bulks(&["k"]));
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "DUMP", "k"]), common::bulks(&["k"]));
    c.call(&["ACL", "SETUSER", "u", "on", ">pw", "~mine*", "+@all"]);
    assert_eq!(c.call(&["AUTH", "u", "pw"]), ok());
    let r = c.call(&["MIGRATE", "127.0.0.1", "1", "", "0", "5", "KEYS", "mine1", "secret"]);
    assert!(matches!(&r, Resp::Error(e) if e.starts_with("NOPERM")), "{r:?}");
    let r = c.call(&["DUMP", "secret"]);
    assert!(matches!(&r, Resp::Error(e) if e.starts_with("NOPERM")), "{r:?}");
    assert_eq!(c.call(&["MIGRATE", "127.0.0.1", "1", "", "0", "5", "KEYS", "mine1"]), status("NOKEY"));
}
