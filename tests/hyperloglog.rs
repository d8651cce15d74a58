//! HyperLogLog commands against the real binary: replies and errors as
//! Redis 7.0 gives them, the keyspace side (TTL, WATCH, dirty count,
//! notifications, `hll-sparse-max-bytes`), corrupted sketches, and — when
//! `redis-server` is installed — byte-for-byte agreement with it.

mod common;

use common::{bulk, err, int, ok, Raw, Resp, Server};

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

fn get_bytes(r: &mut Raw, key: &str) -> Vec<u8> {
    match r.call(&["GET", key]) {
        Resp::Bulk(Some(b)) => b,
        other => panic!("GET {key}: {other:?}"),
    }
}

fn pfadd_all(r: &mut Raw, key: &str, eles: &[String]) -> Resp {
    let mut args = vec!["PFADD".to_string(), key.to_string()];
    args.extend(eles.iter().cloned());
    r.call_owned(&args)
}

fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn add_count_merge_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["PFADD", "hll"]), int(1));
    assert_eq!(r.call(&["PFADD", "hll"]), int(0));
    assert_eq!(r.call(&["EXISTS", "hll"]), int(1));
    assert_eq!(r.call(&["PFCOUNT", "hll"]), int(0));
    assert_eq!(r.call(&["PFADD", "hll", "a", "b", "c"]), int(1));
    assert_eq!(r.call(&["PFADD", "hll", "a", "b", "c"]), int(0));
    assert_eq!(r.call(&["PFCOUNT", "hll"]), int(3));
    assert_eq!(r.call(&["GETRANGE", "hll", "15", "15"]), bulk("\0"));
    assert_eq!(r.call(&["PFADD", "hll", "1", "2", "3"]), int(1));
    assert_eq!(r.call(&["GETRANGE", "hll", "15", "15"]), Resp::Bulk(Some(vec![0x80])));
    assert_eq!(r.call(&["PFCOUNT", "hll", "nokey"]), int(6));
    assert_eq!(r.call(&["PFCOUNT", "nokey"]), int(0));
    assert_eq!(r.call(&["OBJECT", "ENCODING", "hll"]), bulk("raw"));

    r.call(&["PFADD", "h1", "a", "b", "c"]);
    r.call(&["PFADD", "h2", "b", "c", "d"]);
    r.call(&["PFADD", "h3", "c", "d", "e"]);
    assert_eq!(r.call(&["PFMERGE", "m", "h1", "h2", "h3"]), ok());
    assert_eq!(r.call(&["PFCOUNT", "m"]), int(5));
    assert_eq!(r.call(&["PFMERGE", "empty"]), ok());
    assert_eq!(r.call(&["PFCOUNT", "empty"]), int(0));

    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "m"]), Resp::Simple("sparse".into()));
    assert_eq!(r.call(&["PFDEBUG", "DECODE", "empty"]), bulk("Z:16384"));
    assert_eq!(r.call(&["PFDEBUG", "TODENSE", "m"]), int(1));
    assert_eq!(r.call(&["PFDEBUG", "TODENSE", "m"]), int(0));
    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "m"]), Resp::Simple("dense".into()));
    assert_eq!(r.call(&["STRLEN", "m"]), int(12304));
    assert_eq!(r.call(&["PFCOUNT", "m"]), int(5));
    assert_eq!(r.call(&["PFDEBUG", "DECODE", "m"]), err("ERR HLL encoding is not sparse"));
    match r.call(&["PFDEBUG", "GETREG", "h1"]) {
        Resp::Array(Some(regs)) => {
            assert_eq!(regs.len(), 16384);
            assert_eq!(regs.iter().filter(|v| **v != int(0)).count(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "h1"]), Resp::Simple("dense".into()));
    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "nokey"]), err("ERR The specified key does not exist"));
    assert_eq!(r.call(&["PFDEBUG", "NOPE", "m"]), err("ERR Unknown PFDEBUG subcommand 'NOPE'"));
    assert_eq!(r.call(&["PFDEBUG", "ENCODING"]), err("ERR wrong number of arguments for 'pfdebug' command"));
    assert_eq!(r.call(&["PFSELFTEST"]), ok());
}

#[test]
fn type_errors_and_corruption() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.call(&["SET", "str", "bar"]);
    r.call(&["RPUSH", "list", "x"]);
    for args in [&["PFADD", "str", "1"][..], &["PFCOUNT", "str"], &["PFMERGE", "x", "str"], &["PFMERGE", "str", "x"]] {
        assert_eq!(r.call(args), err(NOT_HLL), "{args:?}");
    }
    assert_eq!(r.call(&["PFCOUNT", "x", "str"]), err(NOT_HLL));
    assert_eq!(r.call(&["PFADD", "list", "1"]), err(WRONGTYPE));
    assert_eq!(r.call(&["PFCOUNT", "list"]), err(WRONGTYPE));
    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "list"]), err(WRONGTYPE));

    r.call(&["PFADD", "hll", "a", "b", "c"]);
    r.call(&["APPEND", "hll", "hello"]);
    assert_eq!(r.call(&["PFCOUNT", "hll"]), err(CORRUPT));
    assert_eq!(r.call(&["PFCOUNT", "hll", "other"]), err(CORRUPT));
    assert_eq!(r.call(&["PFMERGE", "d", "hll"]), err(CORRUPT));
    assert_eq!(r.call(&["EXISTS", "d"]), int(0));
    assert_eq!(r.call(&["PFDEBUG", "TODENSE", "hll"]), err(CORRUPT));
    r.call(&["DEL", "hll"]);
    r.call(&["PFADD", "hll", "a", "b", "c"]);
    r.call(&["SETRANGE", "hll", "0", "0123"]);
    assert_eq!(r.call(&["PFCOUNT", "hll"]), err(NOT_HLL));
    r.call(&["DEL", "hll"]);
    r.call(&["PFADD", "hll", "a", "b", "c"]);
    r.call(&["SETRANGE", "hll", "4", "\0"]);
    assert_eq!(r.call(&["PFCOUNT", "hll"]), err(NOT_HLL));
}

#[test]
fn keyspace_side_ttl_watch_dirty_config() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.call(&["PFADD", "h", "a"]);
    r.call(&["EXPIRE", "h", "1000"]);
    r.call(&["PFADD", "h", "b"]);
    r.call(&["PFMERGE", "h", "h"]);
    assert!(matches!(r.call(&["TTL", "h"]), Resp::Int(n) if n > 900));

    // A PFCOUNT that refreshes the cache modifies the key: dirty, WATCH.
    let before = common::dirty(&mut r);
    assert_eq!(r.call(&["WATCH", "h"]), ok());
    assert_eq!(other.call(&["PFCOUNT", "h"]), int(2));
    assert_eq!(common::dirty(&mut r), before + 1);
    assert_eq!(other.call(&["PFCOUNT", "h"]), int(2));
    assert_eq!(common::dirty(&mut r), before + 1);
    r.call(&["MULTI"]);
    r.call(&["PING"]);
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None));
    // A PFADD that changes nothing is no write.
    r.call(&["WATCH", "h"]);
    assert_eq!(other.call(&["PFADD", "h", "a"]), int(0));
    r.call(&["MULTI"]);
    r.call(&["PING"]);
    assert_eq!(r.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Simple("PONG".into())])));

    assert_eq!(r.call(&["CONFIG", "GET", "hll-sparse-max-bytes"]), common::bulks(&["hll-sparse-max-bytes", "3000"]));
    assert_eq!(r.call(&["CONFIG", "SET", "hll-sparse-max-bytes", "100"]), ok());
    pfadd_all(&mut r, "small", &names("e", 0..40));
    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "small"]), Resp::Simple("dense".into()));
    assert_eq!(r.call(&["CONFIG", "SET", "hll-sparse-max-bytes", "3000"]), ok());
    pfadd_all(&mut r, "small2", &names("e", 0..40));
    assert_eq!(r.call(&["PFDEBUG", "ENCODING", "small2"]), Resp::Simple("sparse".into()));
}

#[test]
fn pfadd_and_pfmerge_raise_pfadd_events() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]), ok());
    let mut sub = s.raw();
    assert!(matches!(sub.call(&["SUBSCRIBE", "__keyevent@0__:pfadd"]), Resp::Array(_)));
    r.call(&["PFADD", "a", "x"]);
    r.call(&["PFADD", "a", "x"]);
    r.call(&["PFMERGE", "b", "a"]);
    for key in ["a", "b"] {
        assert_eq!(sub.read(), common::bulks(&["message", "__keyevent@0__:pfadd", key]));
    }
}

/// The AOF logs PFCOUNT's cache update (as Redis propagates it) and the
/// PFDEBUG conversions: a restart gives back the same bytes.
#[test]
fn aof_replays_to_the_same_bytes() {
    const AOF: &[&str] = &["--appendonly", "yes"];
    let srv = Server::start(AOF);
    let mut r = srv.raw();
    pfadd_all(&mut r, "a", &names("x", 0..100));
    assert!(matches!(r.call(&["PFCOUNT", "a"]), Resp::Int(95..=105)));
    assert_eq!(r.call(&["GETRANGE", "a", "15", "15"]), bulk("\0"));
    pfadd_all(&mut r, "b", &names("y", 0..50));
    assert_eq!(r.call(&["PFDEBUG", "TODENSE", "b"]), int(1));
    assert_eq!(r.call(&["PFMERGE", "c", "a", "b"]), ok());
    let before: Vec<Vec<u8>> = ["a", "b", "c"].iter().map(|k| get_bytes(&mut r, k)).collect();
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut r = srv.raw();
    let after: Vec<Vec<u8>> = ["a", "b", "c"].iter().map(|k| get_bytes(&mut r, k)).collect();
    assert_eq!(before, after);
}

#[test]
fn acl_category() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut cat = common::strings(r.call(&["ACL", "CAT", "hyperloglog"]));
    cat.sort();
    assert_eq!(cat, ["pfadd", "pfcount", "pfdebug", "pfmerge", "pfselftest"]);
}

/// Random byte changes of valid sketches (sparse and dense) never take the
/// server down: each command answers an error or a number.
#[test]
fn corrupted_sketches_never_crash() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut rng = fastrand::Rng::with_seed(42);
    for round in 0..300 {
        r.call(&["DEL", "hll"]);
        let n = if round % 3 == 0 { 3000 } else { rng.usize(1..400) };
        pfadd_all(&mut r, "hll", &names(&format!("r{round}-"), 0..n));
        let mut bytes = get_bytes(&mut r, "hll");
        for _ in 0..rng.usize(1..6) {
            let p = rng.usize(..bytes.len());
            bytes[p] = rng.u8(..);
        }
        if rng.u8(..4) == 0 {
            bytes.truncate(rng.usize(..=bytes.len()));
        }
        assert_eq!(r.call_bytes(&[b"SET", b"hll", &bytes]), ok());
        for args in
            [&["PFCOUNT", "hll"][..], &["PFCOUNT", "hll", "x"], &["PFADD", "hll", "a", "b"], &["PFMERGE", "m", "hll"]]
        {
            match r.call(args) {
                Resp::Int(_) => {}
                Resp::Simple(s) if s == "OK" => {}
                Resp::Error(e) if e == CORRUPT || e == NOT_HLL => {}
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }
    assert_eq!(r.call(&["PING"]), Resp::Simple("PONG".into()));
}

/// Our server and redis-server, sent the same commands.
struct Pair {
    ours: Raw,
    theirs: Raw,
}

impl Pair {
    /// Sends `args` to both; their replies must be equal.
    fn both<S: AsRef<str>>(&mut self, args: &[S]) -> Resp {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let (a, b) = (self.ours.call_owned(&args), self.theirs.call_owned(&args));
        assert_eq!(a, b, "{args:?}");
        a
    }

    /// SETs `bytes` at `key` in both.
    fn set_both(&mut self, key: &str, bytes: &[u8]) {
        for r in [&mut self.ours, &mut self.theirs] {
            assert_eq!(r.call_bytes(&[b"SET", key.as_bytes(), bytes]), ok());
        }
    }
}

/// The same commands into both servers give the same replies and the same
/// bytes; Redis-made sketches count the same here; corrupted sketches get
/// the same answers.
#[test]
fn byte_identical_with_redis_server() {
    let s = Server::start(&[]);
    let Some(redis) = common::RealRedis::start(&[]) else { return };
    let mut p = Pair { ours: s.raw(), theirs: redis.raw() };
    let mut rng = fastrand::Rng::with_seed(3);
    for step in 0..120 {
        let key = format!("k{}", step % 7);
        let n = rng.usize(0..if step % 10 == 0 { 900 } else { 40 });
        let mut args = vec!["PFADD".to_string(), key.clone()];
        args.extend((0..n).map(|_| format!("{}", rng.u32(..20000))));
        p.both(&args);
        match step % 11 {
            3 => drop(p.both(&["PFCOUNT", &key])),
            5 => drop(p.both(&["PFMERGE", &format!("m{}", step % 3), &key, "k1", "k2"])),
            7 => drop(p.both(&["PFCOUNT", "k0", "k3", &key])),
            9 => drop(p.both(&["PFDEBUG", "TODENSE", "k4"])),
            10 => drop(p.both(&["CONFIG", "SET", "hll-sparse-max-bytes", &rng.usize(50..4000).to_string()])),
            _ => {}
        }
    }
    p.both(&["CONFIG", "SET", "hll-sparse-max-bytes", "3000"]);
    let keys: Vec<String> = (0..7).map(|i| format!("k{i}")).chain((0..3).map(|i| format!("m{i}"))).collect();
    for k in &keys {
        p.both(&["PFDEBUG", "ENCODING", k]);
        assert_eq!(get_bytes(&mut p.ours, k), get_bytes(&mut p.theirs, k), "{k}");
    }

    // Redis-made sketches (sparse, dense, 100k elements) count the same.
    pfadd_all(&mut p.theirs, "huge", &names("u", 0..100_000));
    for k in keys.iter().map(String::as_str).chain(["huge"]) {
        let made = get_bytes(&mut p.theirs, k);
        assert_eq!(p.ours.call_bytes(&[b"SET", k.as_bytes(), &made]), ok());
        p.both(&["PFCOUNT", k]);
    }
    p.both(&["PFCOUNT", "huge", "k1", "m2"]);

    // Corrupted sketches: the same verdict from both servers.
    for round in 0..300 {
        let mut bytes = get_bytes(&mut p.theirs, &keys[round % keys.len()]);
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
        p.set_both("bad", &bytes);
        p.both(&["PFCOUNT", "bad"]);
        p.both(&["PFCOUNT", "bad", "k1"]);
        p.both(&["PFADD", "bad", "x", "y", "z"]);
        assert_eq!(get_bytes(&mut p.ours, "bad"), get_bytes(&mut p.theirs, "bad"));
    }
}
