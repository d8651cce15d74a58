//! String commands against the real binary: GET/SET and every option,
//! counters, ranges, MGET/MSET, LCS, and the exact replies and error texts
//! Redis 7 gives (checked against redis-server 7.0).

mod common;
use common::{arr, bulk, encode_cmd, err, int, nil, ok, used_memory, Resp, Server};
use redis::Commands;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn get_set_roundtrip_binary_and_overwrite() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    let bin: Vec<u8> = vec![0, 1, b'\r', b'\n', 255, b'$', b'*'];
    let _: () = c.set("bin", &bin[..]).unwrap();
    assert_eq!(c.get::<_, Vec<u8>>("bin").unwrap(), bin);
    assert_eq!(c.get::<_, Option<String>>("missing").unwrap(), None);
    let _: () = c.set("k", "").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "");
    let mut r = s.raw();
    assert_eq!(r.call(&["GET", "missing"]), nil());
    assert_eq!(r.call(&["SET", "k", "x"]), ok());
    assert_eq!(r.call(&["get", "k"]), bulk("x"));
}

#[test]
fn set_nx_xx_get() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v1", "NX"]), ok());
    assert_eq!(r.call(&["SET", "k", "v2", "NX"]), nil());
    assert_eq!(r.call(&["GET", "k"]), bulk("v1"));
    assert_eq!(r.call(&["SET", "k", "v2", "XX"]), ok());
    assert_eq!(r.call(&["SET", "nokey", "v", "XX"]), nil());
    assert_eq!(r.call(&["EXISTS", "nokey"]), int(0));
    assert_eq!(r.call(&["SET", "k", "v3", "GET"]), bulk("v2"));
    assert_eq!(r.call(&["SET", "new", "v", "GET"]), nil());
    assert_eq!(r.call(&["GET", "new"]), bulk("v"));
    // NX GET on an existing key: not set, old value returned.
    assert_eq!(r.call(&["SET", "k", "v4", "NX", "GET"]), bulk("v3"));
    assert_eq!(r.call(&["GET", "k"]), bulk("v3"));
    assert_eq!(r.call(&["SET", "k", "v4", "XX", "GET"]), bulk("v3"));
    assert_eq!(r.call(&["SET", "nokey", "v", "XX", "GET"]), nil());
    assert_eq!(r.call(&["EXISTS", "nokey"]), int(0));
    // Repeating an option is allowed, as in Redis.
    assert_eq!(r.call(&["SET", "k", "v", "nx", "nx"]), nil());
    assert_eq!(r.call(&["SET", "k", "v5", "xx", "XX", "get", "GET"]), bulk("v4"));
}

#[test]
fn set_expiry_options() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v", "EX", "100"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(100));
    assert_eq!(r.call(&["SET", "k", "v", "PX", "100000"]), ok());
    let Resp::Int(pttl) = r.call(&["PTTL", "k"]) else { panic!() };
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let at = (now.as_secs() + 1000).to_string();
    assert_eq!(r.call(&["SET", "k", "v", "EXAT", &at]), ok());
    assert_eq!(r.call(&["EXPIRETIME", "k"]), Resp::Int(at.parse().unwrap()));
    let pat = (now.as_millis() as u64 + 500_000).to_string();
    assert_eq!(r.call(&["SET", "k", "v", "PXAT", &pat]), ok());
    assert_eq!(r.call(&["PEXPIRETIME", "k"]), Resp::Int(pat.parse().unwrap()));
    // KEEPTTL keeps it, a plain SET clears it.
    assert_eq!(r.call(&["SET", "k", "v2", "KEEPTTL"]), ok());
    assert_eq!(r.call(&["PEXPIRETIME", "k"]), Resp::Int(pat.parse().unwrap()));
    assert_eq!(r.call(&["GET", "k"]), bulk("v2"));
    assert_eq!(r.call(&["SET", "k", "v3"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(-1));
    // The last expiry of the same kind wins.
    assert_eq!(r.call(&["SET", "k", "v", "EX", "100", "EX", "200"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(200));
    // An absolute time in the past: the key is gone.
    assert_eq!(r.call(&["SET", "k", "v", "EXAT", "1"]), ok());
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["SET", "k", "v2", "PXAT", "1", "GET"]), bulk("v"));
    assert_eq!(r.call(&["GET", "k"]), nil());
    // The largest seconds that do not overflow milliseconds are accepted.
    assert_eq!(r.call(&["SET", "k", "v", "EXAT", "9223372036854775"]), ok());
}

#[test]
fn set_invalid_combinations() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "orig"]), ok());
    let cases: &[(&[&str], &str)] = &[
        (&["NX", "XX"], SYNTAX),
        (&["XX", "NX"], SYNTAX),
        (&["EX", "10", "PX", "10"], SYNTAX),
        (&["PX", "10", "EXAT", "10"], SYNTAX),
        (&["EX", "10", "KEEPTTL"], SYNTAX),
        (&["KEEPTTL", "PX", "10"], SYNTAX),
        (&["EX"], SYNTAX),
        (&["FOO"], SYNTAX),
        (&["PERSIST"], SYNTAX),
        // Syntax is checked before the expire value.
        (&["EX", "0", "FOO"], SYNTAX),
        (&["EX", "abc", "FOO"], SYNTAX),
        (&["EX", "0"], "ERR invalid expire time in 'set' command"),
        (&["EX", "-1"], "ERR invalid expire time in 'set' command"),
        (&["PX", "0"], "ERR invalid expire time in 'set' command"),
        (&["EXAT", "0"], "ERR invalid expire time in 'set' command"),
        (&["PXAT", "-5"], "ERR invalid expire time in 'set' command"),
        (&["EX", "9223372036854775807"], "ERR invalid expire time in 'set' command"),
        (&["PX", "9223372036854775807"], "ERR invalid expire time in 'set' command"),
        (&["EXAT", "9223372036854776"], "ERR invalid expire time in 'set' command"),
        (&["EX", "abc"], NOT_INT),
        (&["EX", "1.5"], NOT_INT),
    ];
    for (opts, e) in cases {
        let mut cmd = vec!["SET", "k", "new"];
        cmd.extend_from_slice(opts);
        assert_eq!(r.call(&cmd), err(e), "SET k new {opts:?}");
    }
    assert_eq!(r.call(&["GET", "k"]), bulk("orig"));
    assert_eq!(r.call(&["TTL", "k"]), int(-1));
    assert_eq!(r.call(&["SET", "k"]), err("ERR wrong number of arguments for 'set' command"));
}

#[test]
fn setnx_setex_psetex_getset() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SETNX", "k", "a"]), int(1));
    assert_eq!(r.call(&["SETNX", "k", "b"]), int(0));
    assert_eq!(r.call(&["GET", "k"]), bulk("a"));
    assert_eq!(r.call(&["SETEX", "k", "100", "b"]), ok());
    assert_eq!(r.call(&["TTL", "k"]), int(100));
    assert_eq!(r.call(&["GET", "k"]), bulk("b"));
    assert_eq!(r.call(&["PSETEX", "k", "100000", "c"]), ok());
    let Resp::Int(t) = r.call(&["PTTL", "k"]) else { panic!() };
    assert!((99_000..=100_000).contains(&t));
    for (cmd, n) in [("SETEX", "0"), ("SETEX", "-5"), ("PSETEX", "0"), ("SETEX", "9223372036854775807")] {
        let want = format!("ERR invalid expire time in '{}' command", cmd.to_lowercase());
        assert_eq!(r.call(&[cmd, "k", n, "v"]), err(&want));
    }
    assert_eq!(r.call(&["SETEX", "k", "abc", "v"]), err(NOT_INT));
    assert_eq!(r.call(&["GETSET", "k", "d"]), bulk("c"));
    assert_eq!(r.call(&["TTL", "k"]), int(-1), "GETSET clears the TTL");
    assert_eq!(r.call(&["GETSET", "new", "x"]), nil());
    assert_eq!(r.call(&["GET", "new"]), bulk("x"));
}

#[test]
fn getdel_and_getex_options() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["GETDEL", "nokey"]), nil());
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["GETDEL", "k"]), bulk("v"));
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));

    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    assert_eq!(r.call(&["GETEX", "k"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "k"]), int(-1));
    assert_eq!(r.call(&["GETEX", "k", "EX", "100"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "k"]), int(100));
    assert_eq!(r.call(&["GETEX", "k", "PX", "200000"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "k"]), int(200));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let at = (now.as_secs() + 300).to_string();
    assert_eq!(r.call(&["GETEX", "k", "EXAT", &at]), bulk("v"));
    assert_eq!(r.call(&["EXPIRETIME", "k"]), Resp::Int(at.parse().unwrap()));
    let pat = (now.as_millis() as u64 + 400_000).to_string();
    assert_eq!(r.call(&["GETEX", "k", "PXAT", &pat]), bulk("v"));
    assert_eq!(r.call(&["PEXPIRETIME", "k"]), Resp::Int(pat.parse().unwrap()));
    assert_eq!(r.call(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "k"]), int(-1));
    assert_eq!(r.call(&["GETEX", "k", "EX", "100", "EX", "200"]), bulk("v"));
    assert_eq!(r.call(&["TTL", "k"]), int(200));
    assert_eq!(r.call(&["GETEX", "k", "PERSIST", "PERSIST"]), bulk("v"));
    // A time in the past deletes the key, after returning it.
    assert_eq!(r.call(&["GETEX", "k", "EXAT", "1"]), bulk("v"));
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    assert_eq!(r.call(&["GETEX", "nokey", "EX", "10"]), nil());
    assert_eq!(r.call(&["GETEX", "nokey", "PERSIST"]), nil());

    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    let cases: &[(&[&str], &str)] = &[
        (&["EX", "10", "PERSIST"], SYNTAX),
        (&["PERSIST", "EX", "10"], SYNTAX),
        (&["EX", "10", "PX", "10"], SYNTAX),
        (&["KEEPTTL"], SYNTAX),
        (&["NX"], SYNTAX),
        (&["GET"], SYNTAX),
        (&["PX"], SYNTAX),
        (&["FOO"], SYNTAX),
        (&["EX", "0", "FOO"], SYNTAX),
        (&["EX", "0"], "ERR invalid expire time in 'getex' command"),
        (&["PXAT", "0"], "ERR invalid expire time in 'getex' command"),
        (&["EX", "abc"], NOT_INT),
    ];
    for (opts, e) in cases {
        let mut cmd = vec!["GETEX", "k"];
        cmd.extend_from_slice(opts);
        assert_eq!(r.call(&cmd), err(e), "GETEX k {opts:?}");
    }
    assert_eq!(r.call(&["GETEX", "nokey", "EX", "0"]), err("ERR invalid expire time in 'getex' command"));
    assert_eq!(r.call(&["TTL", "k"]), int(-1));
}

#[test]
fn mget_mset_msetnx() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("MSET").arg("a").arg("1").arg("b").arg("2").query(&mut c).unwrap();
    let v: Vec<Option<String>> = c.mget(&["a", "nokey", "b"]).unwrap();
    assert_eq!(v, vec![Some("1".into()), None, Some("2".into())]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MSET", "a", "1", "b"]), err("ERR wrong number of arguments for 'mset' command"));
    assert_eq!(r.call(&["MSETNX", "a", "x", "c", "3"]), int(0));
    assert_eq!(r.call(&["EXISTS", "c"]), int(0), "MSETNX sets nothing when one key exists");
    assert_eq!(r.call(&["MSETNX", "c", "3", "d", "4"]), int(1));
    assert_eq!(r.call(&["MSETNX", "e", "1", "e", "2"]), int(1));
    assert_eq!(r.call(&["GET", "e"]), bulk("2"));
    assert_eq!(r.call(&["MSETNX", "x", "1", "y"]), err("ERR wrong number of arguments for 'msetnx' command"));
    assert_eq!(r.call(&["MGET"]), err("ERR wrong number of arguments for 'mget' command"));
    // MSET clears TTLs; MGET answers nil for other types.
    assert_eq!(r.call(&["SETEX", "a", "100", "1"]), ok());
    assert_eq!(r.call(&["MSET", "a", "2"]), ok());
    assert_eq!(r.call(&["TTL", "a"]), int(-1));
    assert_eq!(r.call(&["HSET", "h", "f", "v"]), int(1));
    assert_eq!(r.call(&["MGET", "a", "h"]), arr(vec![bulk("2"), nil()]));
}

#[test]
fn append_strlen() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["APPEND", "k", "abc"]), int(3));
    assert_eq!(r.call(&["APPEND", "k", "def"]), int(6));
    assert_eq!(r.call(&["GET", "k"]), bulk("abcdef"));
    assert_eq!(r.call(&["STRLEN", "k"]), int(6));
    assert_eq!(r.call(&["STRLEN", "nokey"]), int(0));
    assert_eq!(r.call(&["APPEND", "empty", ""]), int(0));
    assert_eq!(r.call(&["EXISTS", "empty"]), int(1), "APPEND creates the key even when empty");
    assert_eq!(r.call(&["SETEX", "t", "100", "x"]), ok());
    assert_eq!(r.call(&["APPEND", "t", "y"]), int(2));
    assert_eq!(r.call(&["TTL", "t"]), int(100), "APPEND keeps the TTL");
    assert_eq!(r.call(&["SET", "n", "10"]), ok());
    assert_eq!(r.call(&["APPEND", "n", "1"]), int(3));
    assert_eq!(r.call(&["INCR", "n"]), int(102));
}

#[test]
fn getrange_and_substr() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "s", "Hello World"]), ok());
    let cases: &[(&str, &str, &str)] = &[
        ("0", "-1", "Hello World"),
        ("0", "4", "Hello"),
        ("-3", "-1", "rld"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("0", "100", "Hello World"),
        ("-100", "-50", "H"),
        ("-100", "2", "Hel"),
        ("100", "200", ""),
        ("6", "-1", "World"),
        ("-5", "100", "World"),
    ];
    for (a, b, want) in cases {
        assert_eq!(r.call(&["GETRANGE", "s", a, b]), bulk(want), "GETRANGE {a} {b}");
    }
    assert_eq!(r.call(&["SUBSTR", "s", "0", "3"]), bulk("Hell"));
    assert_eq!(r.call(&["GETRANGE", "nokey", "0", "-1"]), bulk(""));
    assert_eq!(r.call(&["GETRANGE", "s", "0", "abc"]), err(NOT_INT));
}

#[test]
fn setrange_padding_and_limits() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "s", "Hello World"]), ok());
    assert_eq!(r.call(&["SETRANGE", "s", "6", "Redis"]), int(11));
    assert_eq!(r.call(&["GET", "s"]), bulk("Hello Redis"));
    assert_eq!(r.call(&["SETRANGE", "p", "5", "x"]), int(6));
    assert_eq!(r.call(&["GET", "p"]), Resp::Bulk(Some(b"\0\0\0\0\0x".to_vec())));
    assert_eq!(r.call(&["SETRANGE", "s", "13", "!"]), int(14));
    assert_eq!(r.call(&["GET", "s"]), Resp::Bulk(Some(b"Hello Redis\0\0!".to_vec())));
    // An empty value changes nothing and creates nothing.
    assert_eq!(r.call(&["SETRANGE", "e", "0", ""]), int(0));
    assert_eq!(r.call(&["EXISTS", "e"]), int(0));
    assert_eq!(r.call(&["SETRANGE", "s", "100", ""]), int(14));
    assert_eq!(r.call(&["SETRANGE", "s", "-1", "x"]), err("ERR offset is out of range"));
    assert_eq!(r.call(&["SETRANGE", "s", "abc", "x"]), err(NOT_INT));
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(r.call(&["SETRANGE", "s", "536870912", "x"]), err(too_big));
    assert_eq!(r.call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]), ok());
    assert_eq!(r.call(&["SETRANGE", "big", "1048575", "y"]), int(1048576));
    assert_eq!(r.call(&["SETRANGE", "big", "1048576", "y"]), err(too_big));
    assert_eq!(r.call(&["APPEND", "big", "z"]), err(too_big));
    assert_eq!(r.call(&["STRLEN", "big"]), int(1048576));
    assert_eq!(r.call(&["SETEX", "t", "100", "abc"]), ok());
    assert_eq!(r.call(&["SETRANGE", "t", "1", "X"]), int(3));
    assert_eq!(r.call(&["TTL", "t"]), int(100), "SETRANGE keeps the TTL");
}

#[test]
fn incr_decr_family() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.incr::<_, _, i64>("n", 1).unwrap(), 1);
    assert_eq!(c.incr::<_, _, i64>("n", 10).unwrap(), 11);
    assert_eq!(c.decr::<_, _, i64>("n", 20).unwrap(), -9);
    let mut r = s.raw();
    assert_eq!(r.call(&["INCR", "fresh"]), int(1));
    assert_eq!(r.call(&["DECR", "fresh2"]), int(-1));
    assert_eq!(r.call(&["DECRBY", "n", "-9"]), int(0));
    assert_eq!(r.call(&["SET", "n", "9223372036854775807"]), ok());
    assert_eq!(r.call(&["INCR", "n"]), err("ERR increment or decrement would overflow"));
    assert_eq!(r.call(&["SET", "n", "-9223372036854775808"]), ok());
    assert_eq!(r.call(&["DECR", "n"]), err("ERR increment or decrement would overflow"));
    assert_eq!(r.call(&["SET", "n", "0"]), ok());
    assert_eq!(r.call(&["DECRBY", "n", "-9223372036854775808"]), err("ERR decrement would overflow"));
    assert_eq!(r.call(&["INCRBY", "n", "abc"]), err(NOT_INT));
    assert_eq!(r.call(&["INCRBY", "n", "9223372036854775808"]), err(NOT_INT));
    for bad in ["abc", " 1", "1 ", "0x10", "01", "+1", "1.0", ""] {
        assert_eq!(r.call(&["SET", "s", bad]), ok());
        assert_eq!(r.call(&["INCR", "s"]), err(NOT_INT), "INCR on {bad:?}");
    }
    assert_eq!(r.call(&["SETEX", "t", "100", "5"]), ok());
    assert_eq!(r.call(&["INCRBY", "t", "5"]), int(10));
    assert_eq!(r.call(&["TTL", "t"]), int(100), "INCR keeps the TTL");
    assert_eq!(r.call(&["GET", "t"]), bulk("10"));
}

/// INCR changes the counter in place: a refused INCR (wrong type, not a
/// number, overflow) is not a modification, so a WATCH on the key still
/// holds; a done one is, and leaves the `int` encoding even on a string
/// APPEND made `raw`.
#[test]
fn a_refused_incr_is_not_a_modification() {
    let s = Server::start(&[]);
    let (mut r, mut other) = (s.raw(), s.raw());
    assert_eq!(r.call(&["SET", "w", "abc"]), ok());
    assert_eq!(r.call(&["SET", "max", "9223372036854775807"]), ok());
    assert_eq!(r.call(&["WATCH", "w", "max", "h"]), ok());
    assert_eq!(other.call(&["INCR", "w"]), err(NOT_INT));
    assert_eq!(other.call(&["INCR", "max"]), err("ERR increment or decrement would overflow"));
    assert_eq!(other.call(&["HSET", "h", "f", "v"]), int(1));
    assert_eq!(r.call(&["UNWATCH"]), ok());
    assert_eq!(r.call(&["WATCH", "w", "max", "h"]), ok());
    assert_eq!(other.call(&["INCR", "h"]), err(WRONGTYPE));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "w"]), common::status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk("abc")]), "refused INCRs left the WATCH intact");
    assert_eq!(r.call(&["SET", "n", "1"]), ok());
    assert_eq!(r.call(&["WATCH", "n"]), ok());
    assert_eq!(other.call(&["INCR", "n"]), int(2));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "n"]), common::status("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), common::nil_array(), "a done INCR is a modification");
    assert_eq!(r.call(&["APPEND", "n", "0"]), int(2));
    assert_eq!(r.call(&["OBJECT", "ENCODING", "n"]), bulk("raw"));
    assert_eq!(r.call(&["INCR", "n"]), int(21));
    assert_eq!(r.call(&["OBJECT", "ENCODING", "n"]), bulk("int"));
}

#[test]
fn incrbyfloat_formats_like_redis_long_double() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // (initial value, increment, Redis 7's answer on x86-64)
    let cases: &[(&str, &str, &str)] = &[
        ("10.50", "0.1", "10.6"),
        ("3.0", "0", "3"),
        ("5.0e3", "2.0e2", "5200"),
        ("0.1", "0.2", "0.3"),
        ("1.1", "2.2", "3.3"),
        ("1e-20", "0", "0"),
        ("1e20", "1", "100000000000000000000"),
        ("5", "-5", "0"),
        ("-0.0", "0", "0"),
        ("12345678.9", "0", "12345678.8999999999996362"),
        ("123456789012.345", "0.001", "123456789012.34600000083446503"),
        ("0x10", "1", "17"),
        ("1", "-2.5", "-1.5"),
    ];
    for (init, by, want) in cases {
        assert_eq!(r.call(&["SET", "f", init]), ok());
        assert_eq!(r.call(&["INCRBYFLOAT", "f", by]), bulk(want), "{init} + {by}");
        assert_eq!(r.call(&["GET", "f"]), bulk(want));
    }
    assert_eq!(r.call(&["INCRBYFLOAT", "nokey", "1.5"]), bulk("1.5"));
    // Outside double range but inside long double's: still fine.
    assert_eq!(r.call(&["SET", "f", "1e308"]), ok());
    let Resp::Bulk(Some(v)) = r.call(&["INCRBYFLOAT", "f", "1e308"]) else { panic!() };
    assert!(v.starts_with(b"19999999999999999999337175931"), "{}", String::from_utf8_lossy(&v));
    assert_eq!(v.len(), 309);
    let nan_inf = "ERR increment would produce NaN or Infinity";
    assert_eq!(r.call(&["INCRBYFLOAT", "f", "inf"]), err(nan_inf));
    assert_eq!(r.call(&["SET", "f", "inf"]), ok());
    assert_eq!(r.call(&["INCRBYFLOAT", "f", "1"]), err(nan_inf));
    assert_eq!(r.call(&["SET", "f", "1"]), ok());
    for bad in ["abc", "nan", " 1", "1 ", "1e", "1e5000", "1e-5000", ""] {
        assert_eq!(r.call(&["INCRBYFLOAT", "f", bad]), err(NOT_FLOAT), "increment {bad:?}");
    }
    assert_eq!(r.call(&["SET", "f", "abc"]), ok());
    assert_eq!(r.call(&["INCRBYFLOAT", "f", "1"]), err(NOT_FLOAT));
    assert_eq!(r.call(&["SETEX", "t", "100", "1"]), ok());
    assert_eq!(r.call(&["INCRBYFLOAT", "t", "0.5"]), bulk("1.5"));
    assert_eq!(r.call(&["TTL", "t"]), int(100), "INCRBYFLOAT keeps the TTL");
}

#[test]
fn lcs_matches_redis_output() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]), ok());
    assert_eq!(r.call(&["LCS", "key1", "key2"]), bulk("mytext"));
    assert_eq!(r.call(&["LCS", "key1", "key2", "LEN"]), int(6));
    let range = |a: i64, b: i64| arr(vec![int(a), int(b)]);
    let idx = |m: Vec<Resp>, len: i64| arr(vec![bulk("matches"), arr(m), bulk("len"), int(len)]);
    assert_eq!(
        r.call(&["LCS", "key1", "key2", "IDX"]),
        idx(vec![arr(vec![range(4, 7), range(5, 8)]), arr(vec![range(2, 3), range(0, 1)])], 6)
    );
    assert_eq!(
        r.call(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"]),
        idx(vec![arr(vec![range(4, 7), range(5, 8)])], 6)
    );
    assert_eq!(
        r.call(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
        idx(vec![arr(vec![range(4, 7), range(5, 8), int(4)])], 6)
    );
    assert_eq!(
        r.call(&["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]),
        idx(vec![arr(vec![range(4, 7), range(5, 8), int(4)]), arr(vec![range(2, 3), range(0, 1), int(2)])], 6)
    );
    assert_eq!(r.call(&["MSET", "x1", "ABCBDAB", "x2", "BDCABA"]), ok());
    assert_eq!(r.call(&["LCS", "x1", "x2"]), bulk("BDAB"));
    assert_eq!(
        r.call(&["LCS", "x1", "x2", "IDX", "WITHMATCHLEN"]),
        idx(vec![arr(vec![range(5, 6), range(3, 4), int(2)]), arr(vec![range(3, 4), range(0, 1), int(2)])], 4)
    );
    assert_eq!(r.call(&["MSET", "l1", "xdddxeeexfffxgggx", "l2", "dddeeefffggg"]), ok());
    assert_eq!(
        r.call(&["LCS", "l1", "l2", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "3"]),
        idx(
            vec![
                arr(vec![range(13, 15), range(9, 11), int(3)]),
                arr(vec![range(9, 11), range(6, 8), int(3)]),
                arr(vec![range(5, 7), range(3, 5), int(3)]),
                arr(vec![range(1, 3), range(0, 2), int(3)]),
            ],
            12
        )
    );
    assert_eq!(r.call(&["LCS", "no1", "no2"]), bulk(""));
    assert_eq!(r.call(&["LCS", "no1", "no2", "IDX"]), idx(vec![], 0));
    assert_eq!(r.call(&["LCS", "key1", "key2", "MINMATCHLEN", "-1", "LEN"]), int(6));
    assert_eq!(
        r.call(&["LCS", "key1", "key2", "LEN", "IDX"]),
        err("ERR If you want both the length and indexes, please just use IDX.")
    );
    assert_eq!(r.call(&["LCS", "key1", "key2", "FOO"]), err(SYNTAX));
    assert_eq!(r.call(&["LCS", "key1", "key2", "MINMATCHLEN"]), err(SYNTAX));
    assert_eq!(r.call(&["LCS", "key1", "key2", "MINMATCHLEN", "abc"]), err(NOT_INT));
    // RESP3: IDX is a map.
    let mut r3 = s.raw();
    assert!(matches!(r3.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(
        r3.call(&["LCS", "no1", "no2", "IDX"]),
        Resp::Map(vec![(bulk("matches"), arr(vec![])), (bulk("len"), int(0))])
    );
}

#[test]
fn lcs_refuses_tables_larger_than_proto_max_bulk_len() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]), ok());
    let a = "x".repeat(600);
    assert_eq!(r.call(&["MSET", "a", &a, "b", &a]), ok());
    let e = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
    assert_eq!(r.call(&["LCS", "a", "b", "LEN"]), err(e));
    assert_eq!(r.call(&["SET", "b", "xx"]), ok());
    assert_eq!(r.call(&["LCS", "a", "b", "LEN"]), int(2));
}

#[test]
fn wrongtype_errors_on_a_hash() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["HSET", "h", "f", "v"]), int(1));
    for cmd in [
        &["GET", "h"][..],
        &["GETEX", "h"],
        &["GETDEL", "h"],
        &["GETRANGE", "h", "0", "1"],
        &["SETRANGE", "h", "0", "x"],
        &["APPEND", "h", "x"],
        &["STRLEN", "h"],
        &["INCR", "h"],
        &["DECRBY", "h", "2"],
        &["INCRBYFLOAT", "h", "abc"],
        &["GETSET", "h", "x"],
        &["SET", "h", "x", "GET"],
    ] {
        assert_eq!(r.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    // The argument is checked first for INCRBY/SETRANGE/GETRANGE, as in Redis.
    assert_eq!(r.call(&["INCRBY", "h", "abc"]), err(NOT_INT));
    assert_eq!(r.call(&["SETRANGE", "h", "-1", "x"]), err("ERR offset is out of range"));
    let lcs_err = "ERR The specified keys must contain string values";
    assert_eq!(r.call(&["LCS", "h", "x"]), err(lcs_err));
    assert_eq!(r.call(&["LCS", "x", "h", "FOO"]), err(lcs_err));
    // Commands that replace the value ignore the old type.
    assert_eq!(r.call(&["SET", "h", "now a string"]), ok());
    assert_eq!(r.call(&["TYPE", "h"]), Resp::Simple("string".into()));
}

#[test]
fn wrongtype_errors_on_a_list() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["LPUSH", "l", "a"]), int(1));
    assert_eq!(r.call(&["GET", "l"]), err(WRONGTYPE));
    assert_eq!(r.call(&["INCR", "l"]), err(WRONGTYPE));
    assert_eq!(r.call(&["APPEND", "l", "x"]), err(WRONGTYPE));
    assert_eq!(r.call(&["MGET", "l"]), arr(vec![nil()]));
    assert_eq!(r.call(&["SETNX", "l", "x"]), int(0));
    assert_eq!(r.call(&["TYPE", "l"]), Resp::Simple("list".into()));
}

#[test]
fn resp3_null_for_missing_string() {
    let s = Server::start(&[]);
    let mut c = s.conn3();
    let v: redis::Value = redis::cmd("GET").arg("nokey").query(&mut c).unwrap();
    assert_eq!(v, redis::Value::Nil);
    let mut r = s.raw();
    assert!(matches!(r.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(r.call(&["GET", "nokey"]), Resp::Null);
    assert_eq!(r.call(&["SET", "k", "v", "NX", "GET"]), Resp::Null);
    assert_eq!(r.call(&["MGET", "k", "nokey"]), arr(vec![bulk("v"), Resp::Null]));
}

/// Big values (at least 32 KiB, received into buffers of their own and kept
/// as the value without a copy): whole, in pieces, pipelined with other
/// requests behind them; then changed in place, copied, dumped, reloaded.
#[test]
fn big_values_in_pieces_and_pipelines_are_stored_exactly() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let value = |n: usize, seed: usize| -> Vec<u8> { (0..n).map(|i| ((i * 7 + seed) % 251) as u8).collect() };

    // In pieces, with the next request in the same write as its end.
    let v = value(70_000, 1);
    let mut req = encode_cmd(&[b"SET", b"big", &v]);
    let tail = req.split_off(1000);
    r.send(&req);
    r.send(&tail[..30_000]);
    r.send(&tail[30_000..]);
    r.send(&encode_cmd(&[b"STRLEN", b"big"]));
    assert_eq!(r.read(), ok());
    assert_eq!(r.read(), int(70_000));
    assert_eq!(r.call(&["GET", "big"]), Resp::Bulk(Some(v.clone())));

    // 100 pipelined SETs in one write (the read buffer holds several whole),
    // with every form that stores its argument, and GETs behind them.
    let before = used_memory(&mut r);
    let mut batch = Vec::new();
    let values: Vec<Vec<u8>> = (0..100).map(|i| value(40_000 + i * 13, i)).collect();
    for (i, v) in values.iter().enumerate() {
        let k = format!("k{i}");
        let cmd: Vec<&[u8]> = match i % 5 {
            0 => vec![b"SET", k.as_bytes(), v],
            1 => vec![b"SETEX", k.as_bytes(), b"1000", v],
            2 => vec![b"GETSET", k.as_bytes(), v],
            3 => vec![b"MSET", k.as_bytes(), v, b"small", b"x"],
            _ => vec![b"SETNX", k.as_bytes(), v],
        };
        batch.extend_from_slice(&encode_cmd(&cmd));
    }
    for i in 0..100 {
        batch.extend_from_slice(&encode_cmd(&[b"GET", format!("k{i}").as_bytes()]));
    }
    r.send(&batch);
    for i in 0..100 {
        let reply = r.read();
        assert!(matches!(reply, Resp::Simple(_) | Resp::Int(1) | Resp::Bulk(None)), "{i}: {reply:?}");
    }
    for (i, v) in values.iter().enumerate() {
        assert_eq!(r.read(), Resp::Bulk(Some(v.clone())), "k{i}");
    }
    // Nothing kept beyond the values themselves (no network buffer pinned).
    let total: usize = values.iter().map(Vec::len).sum();
    let grown = used_memory(&mut r) - before;
    assert!(grown < (total as f64 * 1.1) as i64, "used_memory grew {grown} for {total} bytes of values");

    // Changed in place: each change leaves the original intact elsewhere.
    assert_eq!(r.call(&["COPY", "big", "copy"]), int(1));
    assert_eq!(r.call(&["APPEND", "big", "!"]), int(70_001));
    assert_eq!(r.call(&["SETRANGE", "copy", "0", "AB"]), int(70_000));
    assert_eq!(r.call(&["SETBIT", "k0", "0", "1"]), int(((values[0][0] >> 7) & 1) as i64));
    let mut expect = v.clone();
    expect.push(b'!');
    assert_eq!(r.call(&["GET", "big"]), Resp::Bulk(Some(expect)));
    let mut expect = v.clone();
    expect[..2].copy_from_slice(b"AB");
    assert_eq!(r.call(&["GET", "copy"]), Resp::Bulk(Some(expect)));
    let mut expect = values[0].clone();
    expect[0] |= 0x80;
    assert_eq!(r.call(&["GET", "k0"]), Resp::Bulk(Some(expect.clone())));
    assert_eq!(r.call(&["PFADD", "k1", "x"]), err("WRONGTYPE Key is not a valid HyperLogLog string value."));
    assert_eq!(r.call(&["OBJECT", "ENCODING", "k2"]), bulk("raw"));

    // A snapshot reload gives the same bytes back.
    assert_eq!(r.call(&["DEBUG", "RELOAD"]), ok());
    assert_eq!(r.call(&["GET", "k0"]), Resp::Bulk(Some(expect)));
    for (i, v) in values.iter().enumerate().skip(1) {
        assert_eq!(r.call(&["GET", &format!("k{i}")]), Resp::Bulk(Some(v.clone())), "k{i} after reload");
    }
}
