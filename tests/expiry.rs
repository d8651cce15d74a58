//! Key expiry against the real binary: the EXPIRE family and its NX/XX/GT/LT
//! options, TTL queries, which writes clear or keep a TTL, lazy expiry on
//! access, the active expiry cycle, and INFO's `expired_keys`.

mod common;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{bulk, err, int, ok, wait_for, Raw, Resp, Server};

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn int_of(r: Resp) -> i64 {
    match r {
        Resp::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A numeric field of `INFO <section>`.
fn info_field(r: &mut Raw, section: &str, field: &str) -> i64 {
    let Resp::Bulk(Some(text)) = r.call(&["INFO", section]) else { panic!("INFO is a bulk string") };
    let text = String::from_utf8(text).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_else(|| panic!("{field}"));
    line.trim().parse().unwrap()
}

#[test]
fn expire_family_sets_ttls() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["EXPIRE", "k", "100"]), int(1));
    assert_eq!(r.call(&["TTL", "k"]), int(100));
    assert_eq!(r.call(&["PEXPIRE", "k", "50000"]), int(1));
    let p = int_of(r.call(&["PTTL", "k"]));
    assert!((49_000..=50_000).contains(&p), "{p}");
    assert_eq!(r.call(&["TTL", "k"]), int(50));
    let at = now_ms() / 1000 + 1000;
    assert_eq!(r.call(&["EXPIREAT", "k", &at.to_string()]), int(1));
    assert_eq!(r.call(&["EXPIRETIME", "k"]), int(at));
    assert_eq!(r.call(&["PEXPIRETIME", "k"]), int(at * 1000));
    let pat = now_ms() + 2_000_000;
    assert_eq!(r.call(&["PEXPIREAT", "k", &pat.to_string()]), int(1));
    assert_eq!(r.call(&["PEXPIRETIME", "k"]), int(pat));
    assert_eq!(r.call(&["EXPIRETIME", "k"]), int(pat / 1000));
    // Missing keys.
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        assert_eq!(r.call(&[cmd, "nokey", "100"]), int(0), "{cmd}");
    }
    assert_eq!(r.call(&["TTL", "nokey"]), int(-2));
    assert_eq!(r.call(&["PTTL", "nokey"]), int(-2));
    assert_eq!(r.call(&["EXPIRETIME", "nokey"]), int(-2));
    assert_eq!(r.call(&["PEXPIRETIME", "nokey"]), int(-2));
    assert_eq!(r.call(&["SET", "p", "v"]), ok());
    assert_eq!(r.call(&["TTL", "p"]), int(-1));
    assert_eq!(r.call(&["PTTL", "p"]), int(-1));
    assert_eq!(r.call(&["EXPIRETIME", "p"]), int(-1));
    assert_eq!(r.call(&["PEXPIRETIME", "p"]), int(-1));
    // PERSIST.
    assert_eq!(r.call(&["PERSIST", "k"]), int(1));
    assert_eq!(r.call(&["PERSIST", "k"]), int(0));
    assert_eq!(r.call(&["PERSIST", "nokey"]), int(0));
    assert_eq!(r.call(&["TTL", "k"]), int(-1));
    // A TTL of zero, negative or in the past deletes the key at once.
    assert_eq!(r.call(&["EXPIRE", "k", "0"]), int(1));
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["PEXPIRE", "k", "-5"]), int(1));
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["PEXPIREAT", "k", "-10"]), int(1));
    assert_eq!(r.call(&["GET", "k"]), Resp::Bulk(None));
}

#[test]
fn expire_errors_and_overflow() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "x", "1"]), ok());
    let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
    let cases: &[(&[&str], &str)] = &[
        (&["EXPIRE", "x", "9223372036854775807"], "ERR invalid expire time in 'expire' command"),
        (&["EXPIRE", "x", "9223372036854774"], "ERR invalid expire time in 'expire' command"),
        (&["PEXPIRE", "x", "9223372036854775807"], "ERR invalid expire time in 'pexpire' command"),
        (&["EXPIREAT", "x", "9223372036854775807"], "ERR invalid expire time in 'expireat' command"),
        (&["EXPIRE", "x", "100", "NX", "XX"], nx),
        (&["EXPIRE", "x", "100", "NX", "GT"], nx),
        (&["PEXPIRE", "x", "100", "NX", "LT"], nx),
        (&["EXPIRE", "x", "100", "GT", "LT"], "ERR GT and LT options at the same time are not compatible"),
        (&["EXPIRE", "x", "100", "FOO"], "ERR Unsupported option FOO"),
        (&["EXPIRE", "x", "abc"], "ERR value is not an integer or out of range"),
        (&["EXPIRE", "x", "1.5"], "ERR value is not an integer or out of range"),
        (&["EXPIRE", "x"], "ERR wrong number of arguments for 'expire' command"),
    ];
    for (cmd, e) in cases {
        assert_eq!(r.call(cmd), err(e), "{cmd:?}");
    }
    assert_eq!(r.call(&["TTL", "x"]), int(-1), "failed commands leave the key alone");
    // The largest absolute time in ms is accepted.
    assert_eq!(r.call(&["PEXPIREAT", "x", "9223372036854775807"]), int(1));
    assert_eq!(r.call(&["PEXPIRETIME", "x"]), int(9223372036854775807));
}

#[test]
fn expire_nx_xx_gt_lt() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "x", "1"]), ok());
    // No TTL yet: XX and GT refuse (no TTL is an infinite one), LT and NX accept.
    assert_eq!(r.call(&["EXPIRE", "x", "100", "XX"]), int(0));
    assert_eq!(r.call(&["EXPIRE", "x", "100", "GT"]), int(0));
    assert_eq!(r.call(&["TTL", "x"]), int(-1));
    assert_eq!(r.call(&["EXPIRE", "x", "100", "LT"]), int(1));
    assert_eq!(r.call(&["TTL", "x"]), int(100));
    assert_eq!(r.call(&["PERSIST", "x"]), int(1));
    assert_eq!(r.call(&["EXPIRE", "x", "100", "NX"]), int(1));
    // With a TTL of 100.
    assert_eq!(r.call(&["EXPIRE", "x", "200", "NX"]), int(0));
    assert_eq!(r.call(&["EXPIRE", "x", "50", "GT"]), int(0));
    assert_eq!(r.call(&["EXPIRE", "x", "50", "LT"]), int(1));
    assert_eq!(r.call(&["TTL", "x"]), int(50));
    assert_eq!(r.call(&["EXPIRE", "x", "60", "GT"]), int(1));
    assert_eq!(r.call(&["EXPIRE", "x", "70", "XX"]), int(1));
    assert_eq!(r.call(&["EXPIRE", "x", "30", "nx"]), int(0));
    assert_eq!(r.call(&["TTL", "x"]), int(70));
    assert_eq!(r.call(&["PEXPIRE", "x", "5000", "LT"]), int(1));
    // Milliseconds pass between the two commands on a loaded machine.
    assert!(matches!(r.call(&["PTTL", "x"]), Resp::Int(t) if (4900..=5000).contains(&t)));
    assert_eq!(r.call(&["EXPIREAT", "x", "1", "GT"]), int(0));
    assert_eq!(r.call(&["EXISTS", "x"]), int(1));
    assert_eq!(r.call(&["EXPIRE", "x", "100", "XX", "GT"]), int(1));
    assert_eq!(r.call(&["TTL", "x"]), int(100));
    // A negative TTL with LT deletes; with GT it is refused.
    assert_eq!(r.call(&["EXPIRE", "x", "-1", "GT"]), int(0));
    assert_eq!(r.call(&["EXPIRE", "x", "-1", "LT"]), int(1));
    assert_eq!(r.call(&["EXISTS", "x"]), int(0));
}

#[test]
fn which_writes_clear_or_keep_the_ttl() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let with_ttl = |r: &mut Raw, k: &str, v: &str| assert_eq!(r.call(&["SET", k, v, "EX", "100"]), ok());
    with_ttl(&mut r, "k", "v");
    assert_eq!(r.call(&["SET", "k", "v2"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(-1), "SET clears");
    with_ttl(&mut r, "k", "v");
    assert_eq!(r.call(&["SET", "k", "v2", "KEEPTTL"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(100), "SET KEEPTTL keeps");
    assert_eq!(r.call(&["GETSET", "k", "v3"]), bulk("v2"));
    assert_eq!(r.call(&["TTL", "k"]), int(-1), "GETSET clears");
    with_ttl(&mut r, "k", "1");
    assert_eq!(r.call(&["MSET", "k", "2"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(-1), "MSET clears");
    with_ttl(&mut r, "k", "1");
    assert_eq!(r.call(&["INCR", "k"]), int(2));
    assert_eq!(r.call(&["INCRBYFLOAT", "k", "0.5"]), bulk("2.5"));
    assert_eq!(r.call(&["APPEND", "k", "0"]), int(4));
    assert_eq!(r.call(&["SETRANGE", "k", "0", "3"]), int(4));
    assert_eq!(r.call(&["TTL", "k"]), int(100), "in-place edits keep");
    assert_eq!(r.call(&["RENAME", "k", "k2"]), ok());
    assert_eq!(r.call(&["TTL", "k2"]), int(100), "RENAME keeps");
    assert_eq!(r.call(&["GETEX", "k2", "PERSIST"]), bulk("3.50"));
    assert_eq!(r.call(&["TTL", "k2"]), int(-1), "GETEX PERSIST clears");
    assert_eq!(r.call(&["DEL", "k2"]), int(1));
    assert_eq!(r.call(&["SET", "k2", "new"]), ok());
    assert_eq!(r.call(&["TTL", "k2"]), int(-1), "a recreated key has no TTL");
    // A hash edited in place keeps its TTL too.
    assert_eq!(r.call(&["HSET", "h", "a", "1"]), int(1));
    assert_eq!(r.call(&["EXPIRE", "h", "100"]), int(1));
    assert_eq!(r.call(&["HSET", "h", "b", "2"]), int(1));
    assert_eq!(r.call(&["TTL", "h"]), int(100));
}

#[test]
fn lazy_expiry_on_access() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v", "PX", "50"]), ok());
    assert_eq!(r.call(&["SET", "keep", "v"]), ok());
    let start = Instant::now();
    wait_for(5, "the 50 ms key to vanish", || r.call(&["GET", "k"]) == Resp::Bulk(None));
    assert!(start.elapsed() >= Duration::from_millis(40), "expired too early: {:?}", start.elapsed());
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    assert_eq!(r.call(&["TTL", "k"]), int(-2));
    assert_eq!(r.call(&["GET", "keep"]), bulk("v"));
    // An absolute time already passed: gone at once, for every kind of access.
    for access in [&["GET", "k"][..], &["EXISTS", "k"], &["TTL", "k"], &["TYPE", "k"], &["STRLEN", "k"]] {
        assert_eq!(r.call(&["SET", "k", "v"]), ok());
        assert_eq!(r.call(&["PEXPIREAT", "k", &(now_ms() - 1).to_string()]), int(1));
        let gone = match access[0] {
            "GET" => Resp::Bulk(None),
            "TTL" => int(-2),
            "TYPE" => Resp::Simple("none".into()),
            _ => int(0),
        };
        assert_eq!(r.call(access), gone, "{access:?}");
    }
    // A write to an expired key starts from nothing.
    assert_eq!(r.call(&["SET", "n", "10", "PX", "30"]), ok());
    wait_for(5, "n to expire", || r.call(&["PTTL", "n"]) == int(-2));
    assert_eq!(r.call(&["INCR", "n"]), int(1));
    assert_eq!(r.call(&["TTL", "n"]), int(-1));
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET").arg(format!("tmp:{i}")).arg("v").arg("PX").arg(100).ignore();
    }
    for i in 0..20 {
        p.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let mut r = s.raw();
    // DBSIZE counts keys not reclaimed yet, and does not expire anything itself.
    wait_for(10, "active expiry to reclaim 1000 keys", || r.call(&["DBSIZE"]) == int(20));
    assert!(info_field(&mut r, "stats", "expired_keys") >= 1000);
    let Resp::Bulk(Some(ks)) = r.call(&["INFO", "keyspace"]) else { panic!() };
    assert!(String::from_utf8(ks).unwrap().contains("db0:keys=20,expires=0"));
    assert_eq!(r.call(&["EXISTS", "keep:0", "keep:19"]), int(2));
}

#[test]
fn info_counts_expired_keys() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    assert_eq!(info_field(&mut r, "stats", "expired_keys"), 0);
    for i in 0..5 {
        assert_eq!(r.call(&["SET", &format!("e{i}"), "v", "PX", "20"]), ok());
    }
    // Whichever of lazy or active expiry reclaims a key, it is counted once.
    wait_for(5, "five keys to expire", || r.call(&["EXISTS", "e0", "e1", "e2", "e3", "e4"]) == int(0));
    assert_eq!(info_field(&mut r, "stats", "expired_keys"), 5);
    // Deleting by EXPIRE in the past is a deletion, not an expiry.
    assert_eq!(r.call(&["SET", "d", "v"]), ok());
    assert_eq!(r.call(&["EXPIRE", "d", "-1"]), int(1));
    assert_eq!(info_field(&mut r, "stats", "expired_keys"), 5);
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    assert_eq!(info_field(&mut r, "stats", "expired_keys"), 0);
}

#[test]
fn ttl_rounds_to_nearest_second() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v", "PX", "1600"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(2), "1.6 s rounds up, as Redis's (ms+500)/1000");
    assert_eq!(r.call(&["PEXPIRE", "k", "1400"]), int(1));
    assert_eq!(r.call(&["TTL", "k"]), int(1));
}
